"""Add ``Entity.search_text`` (substring search on name and aliases) and fill it for existing rows."""

from django.db import migrations, models

BATCH = 2000


def fill_search_text(apps, schema_editor):
    # The store's own folding: this column is derived data and must match what the store writes.
    from kg.stores.base import search_text

    entity = apps.get_model("kg", "Entity")
    rows = entity.objects.using(schema_editor.connection.alias)
    last = None
    while True:
        page = rows.order_by("pk").only("pk", "name", "aliases")
        if last is not None:
            page = page.filter(pk__gt=last)
        batch = list(page[:BATCH])
        if not batch:
            return
        for row in batch:
            row.search_text = search_text(row.name, row.aliases or [])
        rows.bulk_update(batch, ["search_text"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("kg", "0003_curationevent"),
    ]

    operations = [
        migrations.AddField(
            model_name="entity",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(fill_search_text, migrations.RunPython.noop, elidable=True),
    ]
