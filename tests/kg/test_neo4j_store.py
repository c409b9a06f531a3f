"""What only the Neo4j store has to get right: schema, labels, and how it fails when Neo4j is not there.

The shared behaviour lives in ``test_store_contract.py``; these tests look at the graph through a
second, raw driver to check what the store really wrote, and at the error a user sees when the
server is down, the password is wrong or the database does not exist.
"""

from __future__ import annotations

import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import ConstraintError

from core.errors import (
    ConfigurationError,
    InvalidGraphDataError,
    StoreUnavailableError,
    UnknownEntityError,
)
from kg.stores import EntityRecord, RelationRecord
from kg.stores.neo4j import Neo4jGraphStore

needs_neo4j = pytest.mark.neo4j


@pytest.fixture
def raw_driver(neo4j_server):
    """A plain driver to inspect the database behind the store's back."""
    driver = GraphDatabase.driver(neo4j_server["uri"], auth=(neo4j_server["user"], neo4j_server["password"]))
    yield driver
    driver.close()


def run(driver, cypher: str, **params) -> list[dict]:
    records, _, _ = driver.execute_query(cypher, params, database_="neo4j")
    return [record.data() for record in records]


def store_for(neo4j_server, **overrides) -> Neo4jGraphStore:
    options = {"uri": neo4j_server["uri"], "user": neo4j_server["user"], "password": neo4j_server["password"]}
    options.update(overrides)
    return Neo4jGraphStore(**options)


# --- schema, labels and stored shape -------------------------------------------------------


@needs_neo4j
def test_first_use_creates_the_unique_id_constraint_and_search_index(neo4j_store, neo4j_server, raw_driver):
    for row in run(
        raw_driver,
        "SHOW CONSTRAINTS YIELD name, labelsOrTypes, properties WHERE labelsOrTypes = ['Entity'] AND properties = ['id'] RETURN name",
    ):
        run(raw_driver, "DROP CONSTRAINT $name", name=row["name"])
    run(raw_driver, "DROP INDEX entity_name_lower IF EXISTS")
    run(raw_driver, "DROP INDEX entity_search_text IF EXISTS")

    store = store_for(neo4j_server)
    try:
        store.ping()
    finally:
        store.close()

    constraints = run(raw_driver, "SHOW CONSTRAINTS YIELD type, labelsOrTypes, properties RETURN *")
    assert {"type": "UNIQUENESS", "labelsOrTypes": ["Entity"], "properties": ["id"]} in constraints
    indexes = run(raw_driver, "SHOW INDEXES YIELD labelsOrTypes, properties RETURN *")
    assert {"labelsOrTypes": ["Entity"], "properties": ["name_lower"]} in indexes
    text_indexes = run(raw_driver, "SHOW TEXT INDEXES YIELD labelsOrTypes, properties RETURN *")
    assert {"labelsOrTypes": ["Entity"], "properties": ["search_text"]} in text_indexes
    run(raw_driver, "CREATE (:Entity {id: 'dup'})")
    with pytest.raises(ConstraintError):
        run(raw_driver, "CREATE (:Entity {id: 'dup'})")


@needs_neo4j
def test_type_label_follows_type_changes(neo4j_store, raw_driver):
    neo4j_store.upsert_entities([EntityRecord(id="x:1", type="Artist", name="Nico")])
    assert set(run(raw_driver, "MATCH (n {id: 'x:1'}) RETURN labels(n) AS labels")[0]["labels"]) == {"Entity", "Artist"}

    neo4j_store.upsert_entities([EntityRecord(id="x:1", type="Person", name="Nico")])
    assert set(run(raw_driver, "MATCH (n {id: 'x:1'}) RETURN labels(n) AS labels")[0]["labels"]) == {"Entity", "Person"}
    assert run(raw_driver, "MATCH (n:Artist) RETURN count(n) AS c")[0]["c"] == 0


@needs_neo4j
def test_an_entity_typed_entity_keeps_the_base_label_when_retyped(neo4j_store, raw_driver):
    neo4j_store.upsert_entities([EntityRecord(id="x:1", type="Entity", name="Thing")])
    neo4j_store.upsert_entities([EntityRecord(id="x:1", type="Concept", name="Thing")])
    assert set(run(raw_driver, "MATCH (n {id: 'x:1'}) RETURN labels(n) AS labels")[0]["labels"]) == {
        "Entity",
        "Concept",
    }
    assert neo4j_store.get_entity("x:1").type == "Concept"


@needs_neo4j
def test_stored_shape_uses_real_relationship_types_and_json_properties(neo4j_store, raw_driver):
    neo4j_store.upsert_entities(
        [
            EntityRecord(
                id="a:1", type="Artist", name="Björk", aliases=("Bjork",), properties={"era": {"start": 1993}}
            ),
            EntityRecord(id="t:1", type="Tag", name="Art Pop"),
        ]
    )
    neo4j_store.upsert_relations(
        [RelationRecord(head="a:1", type="HAS_TAG", tail="t:1", source="lastfm", confidence=0.7)]
    )

    node = run(raw_driver, "MATCH (n:Entity {id: 'a:1'}) RETURN n {.*} AS n")[0]["n"]
    assert node["search_text"] == "\x1f\x02bjork\x1f"  # name and alias fold to one key
    assert "search_keys" not in node
    assert node["name_lower"] == "björk"
    assert node["properties_json"] == '{"era":{"start":1993}}'
    edge = run(
        raw_driver, "MATCH (:Entity {id: 'a:1'})-[r]->(:Entity {id: 't:1'}) RETURN type(r) AS type, r.source AS source"
    )
    assert edge == [{"type": "HAS_TAG", "source": "lastfm"}]
    # The driver's DateTime comes back as an aware Python datetime.
    assert neo4j_store.get_relation("a:1", "HAS_TAG", "t:1").created_at.tzinfo is not None


# --- batches --------------------------------------------------------------------------------


@needs_neo4j
def test_relation_batch_with_a_missing_entity_rolls_back_only_that_batch(neo4j_store):
    neo4j_store.upsert_entities([EntityRecord(id=f"t:{i}", type="Tag", name=f"tag {i}") for i in range(4)])
    good_batch = [
        RelationRecord(head="t:0", type="BROADER", tail="t:1"),
        RelationRecord(head="t:1", type="BROADER", tail="t:2"),
    ]
    bad_batch = [
        RelationRecord(head="t:2", type="BROADER", tail="t:3"),
        RelationRecord(head="t:3", type="BROADER", tail="t:ghost"),
    ]

    with pytest.raises(UnknownEntityError) as info:
        neo4j_store.upsert_relations(good_batch + bad_batch, batch_size=2)

    assert "t:ghost" in str(info.value)
    assert neo4j_store.get_relation("t:0", "BROADER", "t:1") is not None  # earlier batch committed
    assert neo4j_store.get_relation("t:2", "BROADER", "t:3") is None  # same batch as the bad one
    assert neo4j_store.stats().relations == 2


@needs_neo4j
def test_missing_entity_error_names_at_most_ten_ids(neo4j_store):
    neo4j_store.upsert_entities([EntityRecord(id="t:0", type="Tag", name="root")])
    relations = [RelationRecord(head="t:0", type="BROADER", tail=f"m:{i:02d}") for i in range(12)]
    with pytest.raises(UnknownEntityError) as info:
        neo4j_store.upsert_relations(relations)
    message = str(info.value)
    assert "m:00" in message and "m:09" in message and "m:11" not in message
    assert "and 2 more" in message


@needs_neo4j
def test_lookups_by_a_malformed_type_find_nothing_and_touch_nothing(neo4j_store):
    neo4j_store.upsert_entities(
        [EntityRecord(id="a", type="Tag", name="a"), EntityRecord(id="b", type="Tag", name="b")]
    )
    neo4j_store.upsert_relations([RelationRecord(head="a", type="HAS_TAG", tail="b")])
    assert neo4j_store.get_relation("a", "has tag", "b") is None
    assert neo4j_store.delete_relation("a", "HAS_TAG`]->() DETACH DELETE n //", "b") is False
    assert neo4j_store.stats().relations == 1


@needs_neo4j
@pytest.mark.parametrize(
    "bad",
    [
        EntityRecord(id="a:1", type="Artist", name="x" * 501),
        EntityRecord(id="a:1", type="Artist", name="ok", aliases="not-a-list"),  # type: ignore[arg-type]
        EntityRecord(id="a:1", type="Artist", name="nul\x00byte"),
        EntityRecord(id="a:1", type="Artist", name="ok", properties={"score": float("nan")}),
        EntityRecord(id="a:1", type="Artist", name="ok", properties={"when": object()}),
    ],
    ids=["long-name", "aliases-string", "nul", "nan-property", "non-json-property"],
)
def test_entities_the_sql_store_would_refuse_are_refused_here_too(neo4j_store, bad):
    with pytest.raises(InvalidGraphDataError):
        neo4j_store.upsert_entities([EntityRecord(id="a:ok", type="Artist", name="fine"), bad])
    assert neo4j_store.stats().entities == 0


@needs_neo4j
def test_streams_page_correctly_when_ids_sort_differently_in_utf16(neo4j_store):
    # U+FFFF sorts before U+1F600 by code point (the index, Python, the sql store) but after it in
    # UTF-16 (Cypher's runtime comparison); pages must neither skip nor repeat across that boundary.
    ids = ["Z", "a", "ab", "é", "\ue000", "\uffff", "\U0001f600", "\U0001f600x"]
    neo4j_store.upsert_entities([EntityRecord(id=i, type="Tag", name=f"tag {n}") for n, i in enumerate(ids)])
    relations = [RelationRecord(head=h, type=t, tail=tl) for h in ids for tl in ids[:4] for t in ("A", "B") if h != tl]
    neo4j_store.upsert_relations(relations)

    expected = sorted(r.key for r in relations)
    for batch_size in (1, 3, 1000):
        assert list(neo4j_store.iter_triples(batch_size=batch_size)) == expected
        assert [e.id for e in neo4j_store.iter_entities(batch_size=batch_size)] == sorted(ids)


# --- failures that must read as one clear line --------------------------------------------


def test_unreachable_server_raises_store_unavailable_with_what_to_do():
    store = Neo4jGraphStore(uri="bolt://127.0.0.1:1", user="neo4j", password="irrelevant", connection_timeout=1.0)
    with pytest.raises(StoreUnavailableError) as info:
        store.upsert_entities([EntityRecord(id="a:1", type="Artist", name="x")])
    message = str(info.value)
    assert "bolt://127.0.0.1:1" in message
    assert "scripts/neo4j_local.py start" in message and "NEO4J_URI" in message
    assert "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


@needs_neo4j
def test_wrong_password_raises_store_unavailable(neo4j_server):
    # One attempt only: Neo4j locks a user out for a few seconds after repeated failures.
    store = store_for(neo4j_server, password="definitely-wrong-password")
    with pytest.raises(StoreUnavailableError) as info:
        store.ping()
    message = str(info.value)
    assert neo4j_server["uri"] in message and "NEO4J_PASSWORD" in message
    assert "definitely-wrong-password" not in message
    store.close()


@needs_neo4j
def test_missing_database_raises_store_unavailable(neo4j_server):
    store = store_for(neo4j_server, database="nosuchdatabase")
    with pytest.raises(StoreUnavailableError, match="NEO4J_DATABASE"):
        store.stats()
    store.close()


@needs_neo4j
def test_closed_store_says_so(neo4j_server):
    store = store_for(neo4j_server)
    store.close()
    with pytest.raises(StoreUnavailableError, match="closed"):
        store.ping()


@pytest.mark.parametrize("uri", ["", "http://127.0.0.1:7474", "127.0.0.1:7687"])
def test_non_bolt_uri_is_a_configuration_error(uri):
    with pytest.raises(ConfigurationError, match="NEO4J_URI"):
        Neo4jGraphStore(uri=uri, user="neo4j", password="x")


def test_from_settings_reads_neo4j_settings_and_rejects_unknown_overrides(settings):
    settings.NEO4J_URI = "bolt://db.example:7687"
    settings.NEO4J_USER = "curator"
    settings.NEO4J_DATABASE = "music"
    store = Neo4jGraphStore.from_settings()
    assert (store.uri, store.user, store.database) == ("bolt://db.example:7687", "curator", "music")
    assert Neo4jGraphStore.from_settings(database="other").database == "other"
    with pytest.raises(ConfigurationError, match="paswsord"):
        Neo4jGraphStore.from_settings(paswsord="x")


# --- merge ----------------------------------------------------------------------------------


@needs_neo4j
def test_merging_several_duplicates_folds_edges_between_them_and_keeps_the_strongest(neo4j_store):
    neo4j_store.upsert_entities(
        [
            EntityRecord(id="a:keep", type="Artist", name="The Beatles", aliases=("Beatles",)),
            EntityRecord(
                id="a:dup1", type="Artist", name="beatles", aliases=("Fab Four",), properties={"formed": 1960}
            ),
            EntityRecord(
                id="a:dup2",
                type="Artist",
                name="The Beatles (band)",
                aliases=("fab four",),
                properties={"formed": 1957},
            ),
            EntityRecord(id="t:rock", type="Tag", name="rock"),
        ]
    )
    neo4j_store.upsert_relations(
        [
            RelationRecord(
                head="a:dup1", type="HAS_TAG", tail="t:rock", source="lastfm", confidence=0.3, properties={"count": 3}
            ),
            RelationRecord(head="a:dup2", type="HAS_TAG", tail="t:rock", source="curator", confidence=0.9),
            RelationRecord(head="a:dup1", type="SAME_AS", tail="a:dup2"),  # between duplicates: dropped
            RelationRecord(head="a:dup2", type="SAME_AS", tail="a:dup2"),  # self-loop of a duplicate: dropped
        ]
    )

    kept = neo4j_store.merge_entities(keep_id="a:keep", merge_ids=["a:dup1", "a:dup2", "a:dup1"])

    assert kept.name == "The Beatles"
    # "beatles" equals an existing alias and "fab four" an earlier one, ignoring case.
    assert kept.aliases == ("Beatles", "Fab Four", "The Beatles (band)")
    assert dict(kept.properties) == {"formed": 1960}  # first merged entity fills the key
    edge = neo4j_store.get_relation("a:keep", "HAS_TAG", "t:rock")
    assert (edge.source, edge.confidence) == ("curator", pytest.approx(0.9))
    assert dict(edge.properties) == {"count": 3}
    stats = neo4j_store.stats()
    assert (stats.entities, stats.relations) == (2, 1)


@needs_neo4j
def test_merge_ids_must_be_a_list(neo4j_store):
    neo4j_store.upsert_entities(
        [EntityRecord(id="a:1", type="Artist", name="x"), EntityRecord(id="a:2", type="Artist", name="y")]
    )
    with pytest.raises(InvalidGraphDataError, match="list of entity ids"):
        neo4j_store.merge_entities(keep_id="a:1", merge_ids="a:2")
    assert neo4j_store.stats().entities == 2


@needs_neo4j
def test_search_is_answered_from_the_text_index(neo4j_store, raw_driver):
    from kg.stores.base import SearchPatterns
    from kg.stores.neo4j import SEARCH_ENTITIES

    neo4j_store.ping()
    patterns = SearchPatterns.for_query("bach")
    params = {
        "exact": patterns.exact,
        "prefix": patterns.prefix,
        "word_start": patterns.word_start,
        "substring": patterns.substring,
        "types": None,
        "limit": 20,
    }
    _, summary, _ = raw_driver.execute_query("EXPLAIN " + SEARCH_ENTITIES, params, database_="neo4j")
    plan = summary.plan["args"]["string-representation"]
    assert "NodeIndexContainsScan" in plan and "TEXT INDEX n:Entity(search_text)" in plan


@needs_neo4j
def test_first_use_gives_older_nodes_their_search_text(neo4j_server, raw_driver):
    run(raw_driver, "MATCH (n:Entity) DETACH DELETE n")
    run(
        raw_driver,
        "CREATE (:Entity:Artist {id: 'old:1', type: 'Artist', name: 'Johann Sebastian Bach', aliases: ['JSB'], "
        "name_lower: 'johann sebastian bach', search_keys: ['johann sebastian bach', 'jsb'], properties_json: '{}', "
        "created_at: datetime(), updated_at: datetime()})",
    )
    store = store_for(neo4j_server)
    try:
        assert [e.id for e in store.search_entities("bach")] == ["old:1"]
        assert [e.id for e in store.search_entities("jsb")] == ["old:1"]
    finally:
        store.clear()
        store.close()
    assert run(raw_driver, "MATCH (n:Entity) WHERE n.search_keys IS NOT NULL RETURN count(n) AS c") == [{"c": 0}]
