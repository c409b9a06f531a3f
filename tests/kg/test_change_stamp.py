"""The change stamp's backend-specific promises: one cheap read, moved in the write's own transaction.

What every backend shares (each kind of write moves it, reads and failed writes do not) is in the
contract suite (``tests/kg/test_store_contract.py``); here: a caller's rolled-back transaction on the
sql store, a Neo4j write transaction that fails after its write, how the stamp is stored, and whether a
store reports that the caller holds an open transaction.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from kg.stores import EntityRecord

needs_neo4j = pytest.mark.neo4j


def _artist(eid: str, name: str) -> EntityRecord:
    return EntityRecord(id=eid, type="Artist", name=name)


# --- sql -----------------------------------------------------------------------------------------


def test_sql_stamp_is_one_query(sql_store, django_assert_num_queries):
    sql_store.upsert_entities([_artist("a:1", "One")])
    with django_assert_num_queries(1):
        sql_store.change_stamp()


def test_sql_stamp_before_any_write_and_after_the_first(sql_store):
    from kg.models import GraphRevision

    assert not GraphRevision.objects.exists()
    assert sql_store.change_stamp() == "0:"
    sql_store.upsert_entities([_artist("a:1", "One")])
    row = GraphRevision.objects.get()
    assert sql_store.change_stamp() == f"1:{row.token}" and len(row.token) == 32
    sql_store.upsert_entities([_artist("a:2", "Two")])
    assert sql_store.change_stamp().startswith("2:")
    assert GraphRevision.objects.count() == 1  # one row, rewritten


def test_sql_stamp_rolls_back_with_the_callers_transaction(sql_store):
    sql_store.upsert_entities([_artist("a:1", "One")])
    before = sql_store.change_stamp()

    class Abort(Exception):
        pass

    inside = []
    with pytest.raises(Abort), transaction.atomic():
        sql_store.upsert_entities([_artist("a:1", "Uno")])
        inside.append(sql_store.change_stamp())
        raise Abort
    assert inside[0] != before  # the caller saw its own write

    assert sql_store.change_stamp() == before
    assert sql_store.get_entity("a:1").name == "One"
    # A later write gets a stamp of its own, never the one seen inside the rolled-back transaction.
    sql_store.upsert_entities([_artist("a:1", "Eins")])
    assert sql_store.change_stamp() not in {before, inside[0]}


def test_sql_store_knows_when_the_caller_holds_a_transaction(transactional_db):
    from kg.stores.sql import SqlGraphStore

    store = SqlGraphStore()
    assert not store.in_caller_transaction()
    with transaction.atomic():
        assert store.in_caller_transaction()


# --- neo4j ---------------------------------------------------------------------------------------


@needs_neo4j
def test_neo4j_stamp_rolls_back_with_a_write_transaction_that_fails(neo4j_store):
    from datetime import UTC, datetime

    from kg.stores.neo4j import _entity_row, _write_entities_and_bump

    neo4j_store.upsert_entities([_artist("a:1", "One")])
    before = neo4j_store.change_stamp()

    class Abort(Exception):
        pass

    def write_then_fail(tx):
        result = _write_entities_and_bump(tx, rows=[_entity_row(_artist("a:1", "Uno"))], now=datetime.now(UTC))
        assert result.updated == 1
        raise Abort

    with pytest.raises(Abort):
        neo4j_store._write(write_then_fail)
    assert neo4j_store.change_stamp() == before
    assert neo4j_store.get_entity("a:1").name == "One"


@needs_neo4j
def test_neo4j_stamp_is_one_read_of_a_node_no_graph_query_sees(neo4j_store, monkeypatch):
    neo4j_store.upsert_entities([_artist("a:1", "One")])
    neo4j_store.clear()
    assert neo4j_store.stats().entities == 0 and list(neo4j_store.iter_entities()) == []
    assert neo4j_store.search_entities("graph") == []

    reads = []
    original = neo4j_store._read_rows
    monkeypatch.setattr(
        neo4j_store, "_read_rows", lambda cypher, **params: reads.append(cypher) or original(cypher, **params)
    )
    stamp = neo4j_store.change_stamp()
    assert len(reads) == 1 and ":" in stamp and stamp != "0:"
    assert not neo4j_store.in_caller_transaction()
