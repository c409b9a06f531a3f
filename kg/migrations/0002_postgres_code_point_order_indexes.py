"""PostgreSQL only: indexes in code-point order (``COLLATE "C"``) for the store's streaming reads.

Why: the store orders ids by code point on every database so ``iter_triples``/``iter_entities`` give
the same order as Python's ``sorted`` and the Neo4j store (PostgreSQL's default collations would
order ``a-b`` and ``ab`` differently). Those queries say ``COLLATE "C"``, and only an index with the
same collation lets keyset pages start where the last one ended instead of re-sorting the table.
SQLite already compares text by code point (``BINARY``) and uses the ordinary indexes, so it gets
nothing here.
"""
from django.db import migrations

INDEXES = {
    "kg_relation_triple_c_idx": 'kg_relation (head_id COLLATE "C", type COLLATE "C", tail_id COLLATE "C")',
    "kg_entity_id_c_idx": 'kg_entity (id COLLATE "C")',
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("kg", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
