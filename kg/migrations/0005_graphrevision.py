"""Add ``kg_graph_revision``: the one-row change stamp the ``sql`` store moves on every graph write."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("kg", "0004_entity_search_text"),
    ]

    operations = [
        migrations.CreateModel(
            name="GraphRevision",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("revision", models.BigIntegerField(default=0)),
                ("token", models.CharField(default="", max_length=32)),
            ],
            options={
                "db_table": "kg_graph_revision",
            },
        ),
    ]
