"""The one contract every knowledge-graph backend honours.

Each test runs once per backend through the ``graph_store`` fixture (``[sql]`` and ``[neo4j]`` in the
test ids); the neo4j half talks to a real Neo4j 5.26 server.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from core.errors import InvalidGraphDataError, UnknownEntityError
from kg.stores import EntityRecord, RelationRecord


def artist(eid: str, name: str, *aliases: str, **props) -> EntityRecord:
    return EntityRecord(id=eid, type="Artist", name=name, aliases=tuple(aliases), properties=props)


def tag(eid: str, name: str) -> EntityRecord:
    return EntityRecord(id=eid, type="Tag", name=name)


def rel(head: str, type_: str, tail: str, *, source: str = "test", confidence: float = 1.0, **props) -> RelationRecord:
    return RelationRecord(head=head, type=type_, tail=tail, source=source, confidence=confidence, properties=props)


@pytest.fixture
def small_graph(graph_store):
    graph_store.upsert_entities(
        [
            artist("a:radiohead", "Radiohead", "On a Friday", country="UK"),
            artist("a:muse", "Muse"),
            artist("a:radio-dept", "Radio Dept."),
            tag("t:alt", "alternative"),
            tag("t:rock", "rock"),
            EntityRecord(id="p:uk", type="Place", name="United Kingdom", aliases=("UK", "Britain")),
        ]
    )
    graph_store.upsert_relations(
        [
            rel("a:radiohead", "HAS_TAG", "t:alt", count=10),
            rel("a:radiohead", "HAS_TAG", "t:rock", count=3),
            rel("a:muse", "HAS_TAG", "t:alt", count=7),
            rel("a:radiohead", "ORIGIN", "p:uk"),
            rel("a:muse", "ORIGIN", "p:uk", confidence=0.9),
        ]
    )
    return graph_store


# --- entities -----------------------------------------------------------------------------


def test_upsert_and_get_entity_round_trip(graph_store):
    result = graph_store.upsert_entities([artist("a:1", "Björk", "Bjork", genre="art pop", rank=3, tags=["a", "b"])])
    assert (result.created, result.updated, result.unchanged) == (1, 0, 0)
    got = graph_store.get_entity("a:1")
    assert got is not None
    assert (got.id, got.type, got.name, got.aliases) == ("a:1", "Artist", "Björk", ("Bjork",))
    assert dict(got.properties) == {"genre": "art pop", "rank": 3, "tags": ["a", "b"]}
    assert isinstance(got.created_at, datetime) and got.created_at.tzinfo is not None
    assert got.updated_at is not None


def test_get_missing_entity_returns_none(graph_store):
    assert graph_store.get_entity("nope") is None
    assert graph_store.get_entities(["nope"]) == {}


def test_upsert_entities_is_idempotent(graph_store):
    records = [artist(f"a:{i}", f"Artist {i}") for i in range(25)]
    first = graph_store.upsert_entities(records, batch_size=7)
    before = graph_store.get_entity("a:3")
    second = graph_store.upsert_entities(records, batch_size=7)
    after = graph_store.get_entity("a:3")
    assert first.created == 25
    assert (second.created, second.updated, second.unchanged) == (0, 0, 25)
    assert before.updated_at == after.updated_at
    assert graph_store.stats().entities == 25


def test_upsert_entity_replaces_content_and_keeps_created_at(graph_store):
    graph_store.upsert_entities([artist("a:1", "Old Name", "x")])
    original = graph_store.get_entity("a:1")
    result = graph_store.upsert_entities(
        [EntityRecord(id="a:1", type="Person", name="New Name", aliases=("y",), properties={"k": 1})]
    )
    assert (result.created, result.updated) == (0, 1)
    changed = graph_store.get_entity("a:1")
    assert (changed.type, changed.name, changed.aliases, dict(changed.properties)) == (
        "Person",
        "New Name",
        ("y",),
        {"k": 1},
    )
    assert changed.created_at == original.created_at
    assert changed.updated_at >= original.updated_at
    assert graph_store.search_entities("x") == []
    assert [e.id for e in graph_store.search_entities("y")] == ["a:1"]
    assert graph_store.stats().entities_by_type == {"Person": 1}


def test_duplicate_ids_in_one_batch_keep_the_last(graph_store):
    result = graph_store.upsert_entities([artist("a:1", "First"), artist("a:1", "Second")])
    assert result.created == 1
    assert graph_store.get_entity("a:1").name == "Second"


def test_get_entities_many(small_graph):
    found = small_graph.get_entities(["a:muse", "t:alt", "missing"])
    assert set(found) == {"a:muse", "t:alt"}
    assert found["t:alt"].type == "Tag"


@pytest.mark.parametrize(
    "bad",
    [
        EntityRecord(id="", type="Artist", name="x"),
        EntityRecord(id="   ", type="Artist", name="x"),
        EntityRecord(id="a:1", type="artist lower", name="x"),
        EntityRecord(id="a:1", type="", name="x"),
        EntityRecord(id="a:1", type="Artist", name=None),  # type: ignore[arg-type]
        EntityRecord(id="x" * 300, type="Artist", name="x"),
    ],
    ids=["empty-id", "blank-id", "bad-type", "empty-type", "none-name", "long-id"],
)
def test_invalid_entities_are_rejected_and_nothing_is_written(graph_store, bad):
    with pytest.raises(InvalidGraphDataError):
        graph_store.upsert_entities([artist("a:ok", "Fine"), bad])
    assert graph_store.get_entity("a:ok") is None
    assert graph_store.stats().entities == 0


# --- relations ----------------------------------------------------------------------------


def test_relations_round_trip_with_provenance(small_graph):
    r = small_graph.get_relation("a:muse", "ORIGIN", "p:uk")
    assert r is not None
    assert (r.head, r.type, r.tail, r.source) == ("a:muse", "ORIGIN", "p:uk", "test")
    assert r.confidence == pytest.approx(0.9)
    assert r.created_at is not None and r.updated_at is not None
    assert dict(small_graph.get_relation("a:radiohead", "HAS_TAG", "t:alt").properties) == {"count": 10}
    assert small_graph.get_relation("p:uk", "ORIGIN", "a:muse") is None


def test_upsert_relations_is_idempotent_and_updates_provenance(small_graph):
    again = small_graph.upsert_relations([rel("a:radiohead", "HAS_TAG", "t:alt", count=10)])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    before = small_graph.get_relation("a:muse", "ORIGIN", "p:uk")
    changed = small_graph.upsert_relations([rel("a:muse", "ORIGIN", "p:uk", source="curator", confidence=0.5)])
    assert (changed.created, changed.updated) == (0, 1)
    after = small_graph.get_relation("a:muse", "ORIGIN", "p:uk")
    assert (after.source, after.confidence) == ("curator", pytest.approx(0.5))
    assert after.created_at == before.created_at
    assert small_graph.stats().relations == 5


def test_relation_to_missing_entity_writes_nothing_from_the_batch(small_graph):
    with pytest.raises(UnknownEntityError) as info:
        small_graph.upsert_relations([rel("a:muse", "HAS_TAG", "t:rock"), rel("a:muse", "HAS_TAG", "t:missing")])
    assert "t:missing" in str(info.value)
    assert small_graph.get_relation("a:muse", "HAS_TAG", "t:rock") is None
    assert small_graph.stats().relations == 5


@pytest.mark.parametrize(
    "bad",
    [
        RelationRecord(head="a:muse", type="has tag", tail="t:rock"),
        RelationRecord(head="a:muse", type="HAS_TAG", tail="t:rock", confidence=1.5),
        RelationRecord(head="a:muse", type="HAS_TAG", tail="t:rock", confidence=float("nan")),
        RelationRecord(head="", type="HAS_TAG", tail="t:rock"),
        RelationRecord(head="a:muse", type="HAS_TAG`]->() DETACH DELETE n //", tail="t:rock"),
    ],
    ids=["bad-type", "confidence>1", "confidence-nan", "empty-head", "injection"],
)
def test_invalid_relations_are_rejected(small_graph, bad):
    with pytest.raises(InvalidGraphDataError):
        small_graph.upsert_relations([bad])
    assert small_graph.stats().relations == 5
    assert small_graph.stats().entities == 6


def test_delete_relation(small_graph):
    assert small_graph.delete_relation("a:muse", "HAS_TAG", "t:alt") is True
    assert small_graph.delete_relation("a:muse", "HAS_TAG", "t:alt") is False
    assert small_graph.get_relation("a:muse", "HAS_TAG", "t:alt") is None
    assert small_graph.stats().relations == 4


# --- search and neighbours ----------------------------------------------------------------


def test_search_is_case_insensitive_on_name_and_alias(small_graph):
    # Ordered by lower-cased name: "radio dept." sorts before "radiohead".
    assert [e.id for e in small_graph.search_entities("radio")] == ["a:radio-dept", "a:radiohead"]
    assert {e.id for e in small_graph.search_entities("RADIO")} == {"a:radiohead", "a:radio-dept"}
    assert [e.id for e in small_graph.search_entities("on a fri")] == ["a:radiohead"]
    assert [e.id for e in small_graph.search_entities("brit")] == ["p:uk"]
    assert [e.id for e in small_graph.search_entities("head")] == ["a:radiohead"]  # inside a word, too
    assert [e.id for e in small_graph.search_entities("kingdom")] == ["p:uk"]


def test_search_ranks_exact_then_prefix_then_word_start_then_substring(graph_store):
    graph_store.upsert_entities(
        [
            artist("a:offenbach", "Jacques Offenbach"),  # substring of a word
            artist("a:jsb", "Johann Sebastian Bach", "J. S. Bach"),  # word start
            artist("a:cpe", "Carl Philipp Emanuel Bach"),  # word start
            artist("a:bachman", "Bachman-Turner Overdrive"),  # prefix
            artist("a:bach", "Bach"),  # exact
            artist("a:sebastian", "Sebastian Bach"),  # word start
            tag("t:baroque", "baroque"),  # no match
        ]
    )
    ranked = ["a:bach", "a:bachman", "a:cpe", "a:jsb", "a:sebastian", "a:offenbach"]
    assert [e.id for e in graph_store.search_entities("bach")] == ranked
    assert [e.id for e in graph_store.search_entities("BACH", limit=3)] == ranked[:3]
    # A phrase matches across words; an alias counts like the name (here by its own exact match).
    assert [e.id for e in graph_store.search_entities("sebastian bach")] == ["a:sebastian", "a:jsb"]
    assert [e.id for e in graph_store.search_entities("j. s. bach")] == ["a:jsb"]
    assert [e.id for e in graph_store.search_entities("ach", types=["Artist"], limit=2)] == ranked[:2]


def test_search_ignores_accents_and_case_on_both_sides(graph_store):
    graph_store.upsert_entities(
        [
            artist("a:dvorak", "Antonín Dvořák"),
            artist("a:bjork", "Björk Guðmundsdóttir"),
            artist("a:sigur", "Sigur Rós"),
            artist("a:strauss", "Johann Strauß"),
        ]
    )
    assert [e.id for e in graph_store.search_entities("dvorak")] == ["a:dvorak"]
    assert [e.id for e in graph_store.search_entities("DVOŘÁK")] == ["a:dvorak"]
    assert [e.id for e in graph_store.search_entities("antonin")] == ["a:dvorak"]
    assert [e.id for e in graph_store.search_entities("bjork")] == ["a:bjork"]
    assert [e.id for e in graph_store.search_entities("ros")] == ["a:sigur"]
    assert [e.id for e in graph_store.search_entities("strauss")] == ["a:strauss"]
    assert graph_store.search_entities("rosé") == []


def test_search_follows_updates_and_merges(graph_store):
    graph_store.upsert_entities([artist("a:1", "Frédéric Chopin"), artist("a:2", "Fryderyk Szopen", "Chopin, F.")])
    # The alias "Chopin, F." starts with the query: a prefix match ranks before a:1's word start.
    assert [e.id for e in graph_store.search_entities("chopin")] == ["a:2", "a:1"]
    graph_store.upsert_entities([artist("a:2", "Fryderyk Szopen")])
    assert [e.id for e in graph_store.search_entities("chopin")] == ["a:1"]
    graph_store.merge_entities(keep_id="a:1", merge_ids=["a:2"])
    assert [e.id for e in graph_store.search_entities("szopen")] == ["a:1"]


def test_search_orders_exact_matches_first_and_filters_by_type(graph_store):
    graph_store.upsert_entities([artist("a:2", "Muse Tribute Band"), artist("a:1", "Muse"), tag("t:m", "muse")])
    assert [e.id for e in graph_store.search_entities("muse", types=["Artist"])] == ["a:1", "a:2"]
    assert [e.id for e in graph_store.search_entities("muse", types=["Tag"])] == ["t:m"]
    assert len(graph_store.search_entities("muse", limit=2)) == 2
    assert graph_store.search_entities("") == []
    assert graph_store.search_entities("   ") == []


def test_search_treats_query_text_literally(small_graph):
    assert small_graph.search_entities("%") == []
    assert small_graph.search_entities(".*") == []
    assert small_graph.search_entities("' OR 1=1 --") == []
    assert small_graph.search_entities("_") == []
    assert small_graph.search_entities("radio%") == []


def test_neighbours_with_direction_and_type(small_graph):
    out = small_graph.neighbours("a:radiohead", direction="out")
    assert [(n.relation.type, n.entity.id, n.direction) for n in out] == [
        ("HAS_TAG", "t:alt", "out"),
        ("HAS_TAG", "t:rock", "out"),
        ("ORIGIN", "p:uk", "out"),
    ]
    incoming = small_graph.neighbours("t:alt", direction="in")
    assert [(n.entity.id, n.direction) for n in incoming] == [("a:muse", "in"), ("a:radiohead", "in")]
    assert incoming[0].entity.name == "Muse"
    assert incoming[1].relation.head == "a:radiohead" and incoming[1].relation.tail == "t:alt"
    only_origin = small_graph.neighbours("a:radiohead", relation_types=["ORIGIN"])
    assert [n.entity.id for n in only_origin] == ["p:uk"]
    both = small_graph.neighbours("p:uk")
    assert {n.entity.id for n in both} == {"a:muse", "a:radiohead"}
    assert len(small_graph.neighbours("a:radiohead", limit=2)) == 2


def test_neighbours_of_unknown_entity_is_an_error(small_graph):
    with pytest.raises(UnknownEntityError):
        small_graph.neighbours("missing")


def test_neighbours_of_isolated_entity_is_empty(small_graph):
    assert small_graph.neighbours("a:radio-dept") == []


# --- delete and merge ---------------------------------------------------------------------


def test_delete_entity_removes_its_relations(small_graph):
    result = small_graph.delete_entity("a:radiohead")
    assert result.relations_removed == 3
    assert small_graph.get_entity("a:radiohead") is None
    stats = small_graph.stats()
    assert (stats.entities, stats.relations) == (5, 2)
    with pytest.raises(UnknownEntityError):
        small_graph.delete_entity("a:radiohead")


def test_merge_entities_repoints_relations_and_keeps_names(graph_store):
    graph_store.upsert_entities(
        [
            artist("a:1", "Radiohead", country="UK"),
            artist("a:2", "radiohead (band)", "RH", formed=1985, country="GB"),
            artist("a:3", "Muse"),
            tag("t:alt", "alternative"),
            tag("t:rock", "rock"),
        ]
    )
    graph_store.upsert_relations(
        [
            rel("a:1", "HAS_TAG", "t:alt", confidence=0.4),
            rel("a:2", "HAS_TAG", "t:alt", confidence=0.8),  # collides after merge: keep 0.8
            rel("a:2", "HAS_TAG", "t:rock"),
            rel("a:3", "SIMILAR_TO", "a:2"),  # incoming edge must be re-pointed
            rel("a:1", "SIMILAR_TO", "a:2"),  # would become a self-loop: dropped
        ]
    )
    kept = graph_store.merge_entities(keep_id="a:1", merge_ids=["a:2"])
    assert kept.id == "a:1" and kept.name == "Radiohead"
    assert set(kept.aliases) == {"radiohead (band)", "RH"}
    assert dict(kept.properties) == {"country": "UK", "formed": 1985}
    assert graph_store.get_entity("a:2") is None
    assert graph_store.get_relation("a:1", "HAS_TAG", "t:alt").confidence == pytest.approx(0.8)
    assert graph_store.get_relation("a:1", "HAS_TAG", "t:rock") is not None
    assert graph_store.get_relation("a:3", "SIMILAR_TO", "a:1") is not None
    assert graph_store.get_relation("a:1", "SIMILAR_TO", "a:1") is None
    assert graph_store.stats().relations == 3
    assert [e.id for e in graph_store.search_entities("RH")] == ["a:1"]


def test_merge_rejects_unknown_or_self(small_graph):
    with pytest.raises(UnknownEntityError):
        small_graph.merge_entities(keep_id="a:muse", merge_ids=["missing"])
    with pytest.raises(UnknownEntityError):
        small_graph.merge_entities(keep_id="missing", merge_ids=["a:muse"])
    with pytest.raises(InvalidGraphDataError):
        small_graph.merge_entities(keep_id="a:muse", merge_ids=["a:muse"])
    assert small_graph.stats().entities == 6 and small_graph.stats().relations == 5


# --- stats and streaming ------------------------------------------------------------------


def test_stats_by_type(small_graph):
    stats = small_graph.stats()
    assert (stats.entities, stats.relations) == (6, 5)
    assert stats.entities_by_type == {"Artist": 3, "Tag": 2, "Place": 1}
    assert stats.relations_by_type == {"HAS_TAG": 3, "ORIGIN": 2}


def test_iter_triples_streams_everything_in_stable_order(graph_store):
    graph_store.upsert_entities([tag(f"t:{i:03d}", f"tag {i}") for i in range(30)])
    relations = [rel(f"t:{i:03d}", "RELATED_TO", f"t:{(i * 7) % 30:03d}") for i in range(30) if i != (i * 7) % 30]
    relations += [rel(f"t:{i:03d}", "BROADER", "t:000") for i in range(1, 30)]
    graph_store.upsert_relations(relations, batch_size=9)
    triples = list(graph_store.iter_triples(batch_size=4))
    assert triples == sorted({r.key for r in relations})
    assert triples == list(graph_store.iter_triples(batch_size=1000))


def test_iter_entities_filters_by_type(small_graph):
    assert [e.id for e in small_graph.iter_entities(types=["Artist"], batch_size=2)] == [
        "a:muse",
        "a:radio-dept",
        "a:radiohead",
    ]
    assert len(list(small_graph.iter_entities())) == 6


def test_clear_empties_the_store(small_graph):
    small_graph.clear()
    stats = small_graph.stats()
    assert (stats.entities, stats.relations) == (0, 0)


def test_ping_answers(graph_store):
    graph_store.ping()


# --- change stamp -----------------------------------------------------------------------------


def test_change_stamp_moves_with_every_kind_of_write_and_only_then(graph_store):
    seen = [graph_store.change_stamp()]

    def moved() -> bool:
        stamp = graph_store.change_stamp()
        changed = stamp != seen[-1]
        seen.append(stamp)
        return changed

    assert isinstance(seen[0], str) and not moved()  # reading twice changes nothing
    graph_store.upsert_entities([artist("a:1", "One"), artist("a:2", "Two"), tag("t:1", "rock")], batch_size=2)
    assert moved()
    graph_store.upsert_entities([artist("a:1", "One"), artist("a:2", "Two")])  # a loader re-run
    assert not moved()
    graph_store.upsert_entities([artist("a:1", "Uno")])  # a rename keeps every count
    assert moved()
    graph_store.upsert_entities([artist("a:1", "Uno", "The One")])  # an alias
    assert moved()
    graph_store.upsert_entities([artist("a:1", "Uno", "The One", country="UK")])  # a property
    assert moved()
    graph_store.upsert_relations([rel("a:1", "HAS_TAG", "t:1"), rel("a:2", "HAS_TAG", "t:1")], batch_size=1)
    assert moved()
    graph_store.upsert_relations([rel("a:1", "HAS_TAG", "t:1")])
    assert not moved()
    graph_store.upsert_relations([rel("a:1", "HAS_TAG", "t:1", confidence=0.5)])  # provenance
    assert moved()
    graph_store.upsert_relations([rel("a:1", "HAS_TAG", "t:1", confidence=0.5, count=3)])  # a relation property
    assert moved()
    assert graph_store.delete_relation("a:2", "HAS_TAG", "t:1")
    assert moved()
    assert not graph_store.delete_relation("a:2", "HAS_TAG", "t:1")  # nothing to delete
    assert not moved()
    graph_store.upsert_entities([artist("a:3", "Uno (duplicate)")])
    graph_store.upsert_relations([rel("a:3", "HAS_TAG", "t:1")])
    assert moved()
    graph_store.merge_entities(keep_id="a:1", merge_ids=["a:3"])
    assert moved()
    graph_store.delete_entity("a:2")
    assert moved()

    # reads never move it
    graph_store.get_entity("a:1")
    graph_store.get_entities(["a:1", "t:1"])
    graph_store.get_relation("a:1", "HAS_TAG", "t:1")
    graph_store.search_entities("uno")
    graph_store.neighbours("a:1")
    graph_store.stats()
    list(graph_store.iter_triples())
    list(graph_store.iter_entities())
    graph_store.ping()
    assert not moved()

    graph_store.clear()
    assert moved()
    # Every move gave a stamp never seen before: a cache can never mistake a later graph for an earlier one.
    distinct = [stamp for i, stamp in enumerate(seen) if i == 0 or stamp != seen[i - 1]]
    assert len(distinct) == len(set(distinct)) == 13


def test_change_stamp_ignores_writes_that_fail(small_graph):
    before = small_graph.change_stamp()
    with pytest.raises(UnknownEntityError):
        small_graph.upsert_relations([rel("a:muse", "HAS_TAG", "t:rock"), rel("a:muse", "HAS_TAG", "t:missing")])
    with pytest.raises(InvalidGraphDataError):
        small_graph.upsert_entities([artist("a:new", "New"), EntityRecord(id="", type="Artist", name="x")])
    with pytest.raises(UnknownEntityError):
        small_graph.delete_entity("a:missing")
    with pytest.raises(UnknownEntityError):
        small_graph.merge_entities(keep_id="a:muse", merge_ids=["a:missing"])
    with pytest.raises(InvalidGraphDataError):
        small_graph.merge_entities(keep_id="a:muse", merge_ids=["a:muse"])
    assert small_graph.change_stamp() == before
    assert small_graph.get_relation("a:muse", "HAS_TAG", "t:rock") is None


def test_change_stamp_follows_the_batches_that_were_committed(small_graph):
    before = small_graph.change_stamp()
    with pytest.raises(UnknownEntityError):
        small_graph.upsert_relations(
            [rel("a:muse", "HAS_TAG", "t:rock"), rel("a:muse", "HAS_TAG", "t:missing")], batch_size=1
        )
    # the first batch was written (batches are independent), so the graph, and its stamp, changed
    assert small_graph.get_relation("a:muse", "HAS_TAG", "t:rock") is not None
    assert small_graph.change_stamp() != before
