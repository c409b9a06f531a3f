"""Behaviour only the embedded ``sql`` store has: its tables, constraints and transactions.

The shared behaviour of every backend lives in ``test_store_contract.py``; these tests look under
the hood (alias rows, timestamps, database constraints, nesting in a caller's transaction).
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from core.errors import (
    ConfigurationError,
    InvalidGraphDataError,
    StoreUnavailableError,
    UnknownEntityError,
)
from kg.models import Entity, EntityAlias, Relation
from kg.stores import EntityRecord, RelationRecord, get_store
from kg.stores.base import MAX_NAME_LENGTH
from kg.stores.sql import SqlGraphStore

pytestmark = pytest.mark.django_db


def artist(eid: str, name: str, *aliases: str, **props) -> EntityRecord:
    return EntityRecord(id=eid, type="Artist", name=name, aliases=tuple(aliases), properties=props)


def rel(head: str, type_: str, tail: str, **kwargs) -> RelationRecord:
    return RelationRecord(head=head, type=type_, tail=tail, **kwargs)


def alias_rows(entity_id: str) -> set[str]:
    return set(EntityAlias.objects.filter(entity_id=entity_id).values_list("alias_lower", flat=True))


# --- construction ------------------------------------------------------------------------


def test_registry_builds_the_sql_store_by_short_and_versioned_name():
    assert isinstance(get_store("sql"), SqlGraphStore)
    assert get_store("kg.store.sql.v1", using="default").using == "default"


def test_unknown_database_alias_or_setting_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="'graphs', which is not in settings.DATABASES"):
        SqlGraphStore(using="graphs")
    with pytest.raises(ConfigurationError, match="does not take uri"):
        SqlGraphStore.from_settings(uri="bolt://localhost")


# --- timestamps and derived columns -------------------------------------------------------


def test_timestamps_move_only_when_content_changes(sql_store):
    sql_store.upsert_entities([artist("a:1", "Muse"), artist("a:2", "Blur")])
    sql_store.upsert_relations([rel("a:1", "SIMILAR_TO", "a:2", confidence=1)])
    entity_before = Entity.objects.get(pk="a:1")
    relation_before = Relation.objects.get(head="a:1")

    # Same content (1 and 1.0 are the same confidence; a list and a tuple of aliases are the same list).
    assert sql_store.upsert_entities([artist("a:1", "Muse")]).unchanged == 1
    assert sql_store.upsert_relations([rel("a:1", "SIMILAR_TO", "a:2", confidence=1.0)]).unchanged == 1
    assert Entity.objects.get(pk="a:1").updated_at == entity_before.updated_at
    assert Relation.objects.get(head="a:1").updated_at == relation_before.updated_at

    sql_store.upsert_entities([artist("a:1", "Muse", country="UK")])
    sql_store.upsert_relations([rel("a:1", "SIMILAR_TO", "a:2", confidence=0.5)])
    entity_after = Entity.objects.get(pk="a:1")
    relation_after = Relation.objects.get(head="a:1")
    assert entity_after.updated_at > entity_before.updated_at
    assert entity_after.created_at == entity_before.created_at
    assert relation_after.updated_at > relation_before.updated_at
    assert relation_after.created_at == relation_before.created_at
    assert Entity.objects.get(pk="a:2").updated_at == Entity.objects.get(pk="a:2").created_at


def test_name_lower_is_unicode_aware(sql_store):
    # SQLite's lower() only folds ASCII, which is why the store lower-cases in Python.
    sql_store.upsert_entities([artist("a:1", "ÆTHER Ölgaard", "ÉLAN")])
    assert Entity.objects.get(pk="a:1").name_lower == "æther ölgaard"
    assert [e.id for e in sql_store.search_entities("æther ö")] == ["a:1"]
    assert [e.id for e in sql_store.search_entities("éla")] == ["a:1"]


def test_search_text_column_follows_every_change(sql_store):
    def stored(entity_id: str) -> str:
        return Entity.objects.get(pk=entity_id).search_text

    sql_store.upsert_entities([artist("a:1", "Dvořák", "Antonín"), artist("a:2", "Szopen", "  ")])
    assert stored("a:1") == "\x1f\x02dvorak\x1f\x02antonin\x1f"
    assert stored("a:2") == "\x1f\x02szopen\x1f"  # blank aliases are no keys
    sql_store.upsert_entities([artist("a:2", "Chopin")])
    assert stored("a:2") == "\x1f\x02chopin\x1f"
    sql_store.merge_entities(keep_id="a:1", merge_ids=["a:2"])
    assert stored("a:1") == "\x1f\x02dvorak\x1f\x02antonin\x1f\x02chopin\x1f"


def test_migration_fills_search_text_of_existing_rows(sql_store, monkeypatch):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("kg.migrations.0004_entity_search_text")
    sql_store.upsert_entities([artist(f"a:{i}", f"Jóhann {i}", "JJ") for i in range(5)])
    Entity.objects.update(search_text="")
    assert sql_store.search_entities("johann") == []

    class Editor:  # what RunPython hands over, as far as the function reads it
        connection = connection

    monkeypatch.setattr(migration, "BATCH", 2)  # several pages
    migration.fill_search_text(apps, Editor())
    assert [e.id for e in sql_store.search_entities("johann")] == [f"a:{i}" for i in range(5)]
    assert Entity.objects.get(pk="a:0").search_text == "\x1f\x02johann \x020\x1f\x02jj\x1f"


def test_search_scans_one_query_and_fetches_only_the_hits(sql_store, django_assert_max_num_queries):
    sql_store.upsert_entities([artist(f"a:{i}", f"Band {i}") for i in range(30)])
    with django_assert_max_num_queries(2):
        assert len(sql_store.search_entities("band", limit=5)) == 5


def test_alias_rows_follow_every_change(sql_store):
    sql_store.upsert_entities([artist("a:1", "Radiohead", "On a Friday", "ON A FRIDAY", "", "RH")])
    assert alias_rows("a:1") == {"on a friday", "rh"}
    assert sql_store.get_entity("a:1").aliases == ("On a Friday", "ON A FRIDAY", "", "RH")  # stored as given

    sql_store.upsert_entities([artist("a:1", "Radiohead", "Radiohead UK")])
    assert alias_rows("a:1") == {"radiohead uk"}
    assert sql_store.search_entities("rh") == []

    sql_store.upsert_entities([artist("a:2", "Radiohead (band)", "RH2")])
    sql_store.merge_entities(keep_id="a:1", merge_ids=["a:2"])
    assert alias_rows("a:1") == {"radiohead uk", "radiohead (band)", "rh2"}
    assert not EntityAlias.objects.filter(entity_id="a:2").exists()

    sql_store.delete_entity("a:1")
    assert not EntityAlias.objects.exists()


# --- database constraints -----------------------------------------------------------------


def _violates(**row) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Relation.objects.create(**row)


def test_database_rejects_rows_that_bypass_the_store(sql_store):
    sql_store.upsert_entities([artist("a:1", "Muse"), artist("a:2", "Blur")])
    sql_store.upsert_relations([rel("a:1", "SIMILAR_TO", "a:2")])
    _violates(head_id="a:1", type="SIMILAR_TO", tail_id="a:2")  # one relation per (head, type, tail)
    _violates(head_id="a:2", type="SIMILAR_TO", tail_id="a:1", confidence=1.5)
    _violates(head_id="a:2", type="SIMILAR_TO", tail_id="a:1", confidence=-0.1)
    _violates(head_id="a:2", type="", tail_id="a:1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Entity.objects.create(id="", type="Artist", name="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Entity.objects.create(id="a:3", type="", name="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        EntityAlias.objects.create(entity_id="a:1", alias_lower="")
    with pytest.raises(IntegrityError), transaction.atomic():
        EntityAlias.objects.bulk_create(
            [EntityAlias(entity_id="a:1", alias_lower="x"), EntityAlias(entity_id="a:1", alias_lower="x")]
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Relation.objects.create(head_id="a:1", type="SIMILAR_TO", tail_id="a:missing")
        connection.check_constraints()  # foreign keys are checked at commit; force the check here
    assert sql_store.stats().relations == 1


# --- transactions -------------------------------------------------------------------------


def test_store_nests_inside_a_callers_transaction(sql_store):
    with transaction.atomic():
        sql_store.upsert_entities([artist("a:1", "Muse")])
        with pytest.raises(UnknownEntityError):
            sql_store.upsert_relations([rel("a:1", "SIMILAR_TO", "a:missing")])
        # The failed batch rolled back only its own savepoint; the caller's transaction goes on.
        sql_store.upsert_entities([artist("a:2", "Blur")])
        sql_store.upsert_relations([rel("a:1", "SIMILAR_TO", "a:2")])
        assert sql_store.stats().relations == 1
    assert sql_store.stats().entities == 2

    with pytest.raises(RuntimeError), transaction.atomic():
        sql_store.delete_entity("a:1")
        raise RuntimeError("caller changes its mind")
    assert sql_store.get_relation("a:1", "SIMILAR_TO", "a:2") is not None


def test_a_failing_batch_leaves_earlier_batches_and_writes_nothing_itself(sql_store):
    with pytest.raises(InvalidGraphDataError, match="'a:bad'"):
        sql_store.upsert_entities(
            [
                artist("a:1", "One"),
                artist("a:2", "Two"),
                artist("a:3", "Three"),
                EntityRecord(id="a:bad", type="bad type", name="x"),
            ],
            batch_size=2,
        )
    assert sorted(Entity.objects.values_list("pk", flat=True)) == ["a:1", "a:2"]


def test_large_batches_are_split_below_the_bound_parameter_limit(sql_store):
    # SQLite binds at most 999 values per query; a 1,200-record batch must still be one atomic write.
    entities = [
        EntityRecord(id=f"t:{i:04d}", type="Tag", name=f"tag {i}", aliases=(f"alias {i}",)) for i in range(1200)
    ]
    assert sql_store.upsert_entities(entities, batch_size=1200).created == 1200
    relations = [rel(f"t:{i:04d}", "BROADER", f"t:{(i + 1) % 1200:04d}") for i in range(1200)]
    assert sql_store.upsert_relations(relations, batch_size=1200).created == 1200
    assert sql_store.upsert_relations(relations, batch_size=1200).unchanged == 1200
    with pytest.raises(UnknownEntityError, match=r"12 unknown entities \('x:00', .* and 2 more\)"):
        sql_store.upsert_relations(
            relations + [rel("t:0000", "BROADER", f"x:{i:02d}") for i in range(12)], batch_size=2000
        )
    assert Relation.objects.count() == 1200


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (artist("a:1", "x", tags={"a", "b"}), "properties must be JSON data"),
        (artist("a:1", "x", score=float("nan")), "properties must be JSON data"),
        (artist("a:1", "x", note="a\x00b"), "NUL character"),
        (artist("a:1", "Mu\x00se"), "NUL character"),
        (artist("a:1", "x" * (MAX_NAME_LENGTH + 1)), f"at most {MAX_NAME_LENGTH}"),
        (artist("a:1", "x", "y" * (MAX_NAME_LENGTH + 1)), f"at most {MAX_NAME_LENGTH}"),
        (EntityRecord(id="a:1", type="Artist", name="x", aliases="Muse"), "aliases must be a list or tuple"),  # type: ignore[arg-type]
        ({"id": "a:1", "type": "Artist", "name": "x"}, "expects EntityRecord items"),
    ],
    ids=[
        "set-property",
        "nan-property",
        "nul-property",
        "nul-name",
        "long-name",
        "long-alias",
        "string-aliases",
        "dict-item",
    ],
)
def test_unstorable_entities_are_rejected_with_a_clear_message(sql_store, record, message):
    with pytest.raises(InvalidGraphDataError, match=message):
        sql_store.upsert_entities([artist("a:ok", "Fine"), record])
    assert not Entity.objects.exists()


def test_unstorable_relations_are_rejected(sql_store):
    sql_store.upsert_entities([artist("a:1", "Muse"), artist("a:2", "Blur")])
    with pytest.raises(InvalidGraphDataError, match="properties must be JSON data"):
        sql_store.upsert_relations([rel("a:1", "SIMILAR_TO", "a:2", properties={"when": object()})])
    with pytest.raises(InvalidGraphDataError, match="expects an iterable of RelationRecord"):
        sql_store.upsert_relations(rel("a:1", "SIMILAR_TO", "a:2"))  # type: ignore[arg-type]
    assert not Relation.objects.exists()


def test_bad_read_arguments_are_explained(sql_store):
    sql_store.upsert_entities([artist("a:1", "Muse")])
    with pytest.raises(InvalidGraphDataError, match="direction must be one of out, in, both"):
        sql_store.neighbours("a:1", direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(InvalidGraphDataError, match=r"write \['HAS_TAG'\]"):
        sql_store.neighbours("a:1", relation_types="HAS_TAG")
    with pytest.raises(InvalidGraphDataError, match="limit must be a positive integer"):
        sql_store.search_entities("mu", limit=0)
    with pytest.raises(InvalidGraphDataError, match="batch_size must be a positive integer"):
        list(sql_store.iter_triples(batch_size=0))
    with pytest.raises(InvalidGraphDataError, match="merge_ids is empty"):
        sql_store.merge_entities(keep_id="a:1", merge_ids=[])


# --- merge details ------------------------------------------------------------------------


def test_merge_keeps_the_stronger_duplicate_edge_and_fills_its_properties(sql_store):
    sql_store.upsert_entities(
        [artist("a:1", "Muse"), artist("a:2", "MUSE", "Muse UK"), artist("a:3", "muse (band)"), artist("t:x", "x")]
    )
    sql_store.upsert_relations(
        [
            rel("a:1", "HAS_TAG", "t:x", source="lastfm", confidence=0.9, properties={"count": 3}),
            rel("a:2", "HAS_TAG", "t:x", source="wiki", confidence=0.2, properties={"count": 99, "lang": "en"}),
            rel("a:3", "HAS_TAG", "t:x", source="ner", confidence=0.95),
            rel("a:2", "SIMILAR_TO", "a:3"),  # both ends merged: becomes a self-loop and is dropped
        ]
    )
    created_at = Relation.objects.get(head="a:1", type="HAS_TAG").created_at
    kept = sql_store.merge_entities(keep_id="a:1", merge_ids=["a:2", "a:3", "a:2"])
    assert kept.aliases == ("Muse UK", "muse (band)")  # "MUSE" equals the kept name case-insensitively
    edge = sql_store.get_relation("a:1", "HAS_TAG", "t:x")
    assert (edge.source, edge.confidence, dict(edge.properties)) == (
        "ner",
        pytest.approx(0.95),
        {"count": 3, "lang": "en"},
    )
    assert edge.created_at == created_at
    assert sql_store.stats().relations == 1
    assert set(Entity.objects.values_list("pk", flat=True)) == {"a:1", "t:x"}


# --- order and availability ---------------------------------------------------------------


def test_ids_are_ordered_by_code_point_on_every_database(sql_store):
    # PostgreSQL's default collations would put "a" before "B" and ignore punctuation; Python and Neo4j do not.
    ids = ["a", "B", "a-c", "ab", "a_b", "é", "Z"]
    sql_store.upsert_entities([EntityRecord(id=i, type="Tag", name=i) for i in ids])
    sql_store.upsert_relations(
        [rel(i, "BROADER", "a") for i in ids if i != "a"] + [rel("a", "BROADER", "B"), rel("a", "ALSO", "Z")]
    )
    assert [e.id for e in sql_store.iter_entities(batch_size=2)] == sorted(ids)
    assert list(sql_store.iter_triples(batch_size=3)) == sorted(
        [(i, "BROADER", "a") for i in ids if i != "a"] + [("a", "BROADER", "B"), ("a", "ALSO", "Z")]
    )
    assert [n.entity.id for n in sql_store.neighbours("a", direction="in")] == sorted(i for i in ids if i != "a")
    assert [e.id for e in sql_store.search_entities("a")] == ["a", "a-c", "a_b", "ab"]
    assert [e.id for e in sql_store.search_entities("a_")] == ["a_b"]  # "_" is a LIKE wildcard; here it is literal


def test_missing_tables_make_the_store_unavailable_not_crash(sql_store):
    with pytest.raises(RuntimeError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE kg_entity RENAME TO kg_entity_hidden")
        with pytest.raises(StoreUnavailableError, match="run `python manage.py migrate`"):
            sql_store.ping()
        with pytest.raises(StoreUnavailableError):
            sql_store.stats()
        raise RuntimeError("roll the rename back")
    sql_store.ping()
