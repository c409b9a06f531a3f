"""Record validation without any store: what ``EntityRecord.validate()`` and ``RelationRecord.validate()`` refuse.

Why on its own: loaders validate every record before the first batch is written, so these checks
must catch everything a backend would refuse (NUL characters, names too long to index, properties
that are not JSON) without a database. The stores' own tests check that they use the same rules.
"""

from __future__ import annotations

import pytest

from core.errors import InvalidGraphDataError
from kg.stores.base import (
    MAX_NAME_LENGTH,
    EntityRecord,
    RelationRecord,
    batched,
    canonical_properties_json,
    check_positive_int,
    merge_id_list,
    require_record,
    require_record_iterable,
    type_filter,
)


def entity(**overrides) -> EntityRecord:
    fields = {"id": "a:1", "type": "Artist", "name": "Muse", "aliases": ("MUSE",), "properties": {"country": "UK"}}
    return EntityRecord(**{**fields, **overrides})


def relation(**overrides) -> RelationRecord:
    fields = {"head": "a:1", "type": "SIMILAR_TO", "tail": "a:2", "source": "lastfm", "properties": {"weight": 3}}
    return RelationRecord(**{**fields, **overrides})


def test_valid_records_are_returned_unchanged():
    record = entity(name="x" * MAX_NAME_LENGTH, aliases=["y" * MAX_NAME_LENGTH], properties={"tags": ["a"], "n": None})
    assert record.validate() is record
    edge = relation(confidence=1, properties={})
    assert edge.validate() is edge


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (entity(id="a:\x001"), r"Entity 'a:\\x001': id contains a NUL character"),
        (entity(name="Mu\x00se"), "name contains a NUL character"),
        (entity(aliases=("MU\x00SE",)), "alias contains a NUL character"),
        (entity(properties={"note": "a\x00b"}), "a property value contains a NUL character"),
        (entity(properties={"nested": {"k\x00": 1}}), "a property value contains a NUL character"),
        (
            entity(name="x" * (MAX_NAME_LENGTH + 1)),
            f"name is {MAX_NAME_LENGTH + 1} characters long; at most {MAX_NAME_LENGTH}",
        ),
        (entity(aliases=("ok", "y" * (MAX_NAME_LENGTH + 1))), f"alias is .* at most {MAX_NAME_LENGTH}"),
        (entity(properties={"tags": {"a", "b"}}), "Entity 'a:1': properties must be JSON data"),
        (entity(properties={"when": object()}), "properties must be JSON data"),
        (entity(properties={"score": float("nan")}), "properties must be JSON data"),
        (entity(properties={"score": float("inf")}), "properties must be JSON data"),
        (entity(properties={1: "a", "b": 2}), "properties must be JSON data"),
        (entity(properties=[("k", "v")]), "properties must be a mapping"),
        (entity(aliases="Muse"), "aliases must be a list or tuple of strings, got 'Muse'"),
        (entity(aliases=b"Muse"), "aliases must be a list or tuple"),
        (entity(aliases={"Muse"}), "aliases must be a list or tuple"),
        (entity(aliases=("Muse", 3)), "aliases must be strings"),
        (entity(type="artist"), "must be a capitalised word"),
    ],
    ids=[
        "nul-id",
        "nul-name",
        "nul-alias",
        "nul-property",
        "nul-nested-key",
        "long-name",
        "long-alias",
        "set-property",
        "object-property",
        "nan-property",
        "inf-property",
        "mixed-keys",
        "list-properties",
        "string-aliases",
        "bytes-aliases",
        "set-aliases",
        "non-string-alias",
        "lower-case-type",
    ],
)
def test_bad_entities_are_refused_with_what_to_fix(record, message):
    with pytest.raises(InvalidGraphDataError, match=message):
        record.validate()


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (relation(head="a:\x001"), "head contains a NUL character"),
        (relation(tail="a:\x002"), "tail contains a NUL character"),
        (relation(source="last\x00fm"), "source contains a NUL character"),
        (relation(properties={"note": "\x00"}), "a property value contains a NUL character"),
        (
            relation(properties={"when": object()}),
            r"Relation \('a:1', 'SIMILAR_TO', 'a:2'\): properties must be JSON data",
        ),
        (relation(properties={"weight": float("nan")}), "properties must be JSON data"),
        (relation(confidence=float("nan")), "confidence must be a number between 0 and 1"),
        (relation(type="similar"), "upper snake case"),
    ],
    ids=[
        "nul-head",
        "nul-tail",
        "nul-source",
        "nul-property",
        "object-property",
        "nan-property",
        "nan-confidence",
        "lower-type",
    ],
)
def test_bad_relations_are_refused_with_what_to_fix(record, message):
    with pytest.raises(InvalidGraphDataError, match=message):
        record.validate()


def test_canonical_properties_json_is_sorted_and_compact():
    # The Neo4j store keeps this exact string and compares it to decide "changed": its format is stable.
    assert (
        canonical_properties_json({"b": 1, "a": [1, "é"], "c": None}, owner="x") == '{"a":[1,"\\u00e9"],"b":1,"c":null}'
    )
    with pytest.raises(InvalidGraphDataError, match=r"\] Entity 'a:1': properties must be JSON data"):
        canonical_properties_json({"x": float("nan")}, owner="Entity 'a:1'")


def test_require_record_checks_the_class_then_validates():
    record = entity()
    assert require_record(record, EntityRecord, "upsert_entities") is record
    with pytest.raises(InvalidGraphDataError, match="upsert_entities expects EntityRecord items, got dict"):
        require_record({"id": "a:1", "type": "Artist", "name": "x"}, EntityRecord, "upsert_entities")
    with pytest.raises(InvalidGraphDataError, match="upsert_relations expects RelationRecord items, got EntityRecord"):
        require_record(record, RelationRecord, "upsert_relations")
    with pytest.raises(InvalidGraphDataError, match="NUL character"):
        require_record(entity(name="\x00"), EntityRecord, "upsert_entities")


def test_a_single_record_or_string_is_refused_where_an_iterable_is_expected():
    require_record_iterable([entity()], EntityRecord, "upsert_entities")
    with pytest.raises(
        InvalidGraphDataError, match="upsert_entities expects an iterable of EntityRecord, not one EntityRecord"
    ):
        require_record_iterable(entity(), EntityRecord, "upsert_entities")
    with pytest.raises(InvalidGraphDataError, match="not one str"):
        require_record_iterable("a:1", RelationRecord, "upsert_relations")


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "10", None])
def test_limits_must_be_positive_integers(value):
    with pytest.raises(InvalidGraphDataError, match=f"limit must be a positive integer, got {value!r}"):
        check_positive_int("limit", value)


def test_batched_refuses_a_batch_size_below_one():
    assert list(batched(range(5), 2)) == [[0, 1], [2, 3], [4]]
    with pytest.raises(InvalidGraphDataError, match="batch_size must be a positive integer"):
        list(batched(range(5), 0))


def test_type_filter_takes_a_list_and_means_any_type_when_empty():
    assert type_filter(None, "types") is None
    assert type_filter([], "types") is None
    assert type_filter(("Artist", "Tag"), "types") == ["Artist", "Tag"]
    with pytest.raises(InvalidGraphDataError, match=r"relation_types must be a list of types.*write \['HAS_TAG'\]"):
        type_filter("HAS_TAG", "relation_types")


def test_merge_id_list_dedupes_and_refuses_what_cannot_be_merged():
    assert merge_id_list(keep_id="a:1", merge_ids=(i for i in ["a:3", "a:2", "a:3"])) == ["a:3", "a:2"]
    with pytest.raises(InvalidGraphDataError, match="merge_ids must be a list of entity ids, not str 'a:2'"):
        merge_id_list(keep_id="a:1", merge_ids="a:2")
    with pytest.raises(InvalidGraphDataError, match=r"list of entity ids \(strings\)"):
        merge_id_list(keep_id="a:1", merge_ids=["a:2", 3])
    with pytest.raises(InvalidGraphDataError, match="merge_ids is empty"):
        merge_id_list(keep_id="a:1", merge_ids=[])
    with pytest.raises(InvalidGraphDataError, match="Cannot merge entity 'a:1' into itself"):
        merge_id_list(keep_id="a:1", merge_ids=["a:2", "a:1"])
