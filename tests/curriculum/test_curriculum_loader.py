"""The curriculum file and its loader: validation names file, line and entry; loads are idempotent and polite.

Small curricula are written to a temporary file by :func:`write_curriculum`; the real file
(``curriculum/data/curriculum.json``) is checked and loaded too.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from core.errors import DataFileError, LearningPathError
from curriculum.graph import curriculum_graph_read
from curriculum.loader import (
    DEFAULT_CURRICULUM_PATH,
    curriculum_load,
    find_cycle,
    read_curriculum,
)
from curriculum.vocabulary import CURRICULUM_PROPERTY, CURRICULUM_SOURCE, TITLE_MATCHING_SOURCE
from kg.stores import EntityRecord, RelationRecord

REFERENCES = {"omt": {"title": "Open Music Theory, Version 2", "publisher": "VIVA Open Publishing, 2021"}}


def concept(slug: str, level: str = "beginner", prerequisites=(), **extra) -> dict:
    entry = {
        "id": slug,
        "name": slug.replace("-", " ").capitalize(),
        "level": level,
        "description": f"What {slug} is.",
        "prerequisites": list(prerequisites),
        "sources": [{"ref": "omt", "section": "Fundamentals"}],
    }
    entry.update(extra)
    return entry


def small_curriculum() -> dict:
    """a -> b -> c (beginner, beginner, intermediate), plus an independent d."""
    return {
        "format": "leitmotif-curriculum",
        "version": 1,
        "references": copy.deepcopy(REFERENCES),
        "concepts": [
            concept("alpha"),
            concept(
                "beta", prerequisites=["alpha"], tags=["jazz"], instruments=["guitar"], title_phrases=["beta chords"]
            ),
            concept("gamma", "intermediate", ["beta"], quiz=[{"question": "2+2?", "choices": ["3", "4"], "answer": 1}]),
            concept("delta", part_of=["alpha"]),
        ],
    }


def write_curriculum(tmp_path: Path, data: dict, name: str = "curriculum.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


# --- the file ----------------------------------------------------------------------------------


def test_the_real_curriculum_file_is_valid_and_sourced():
    file = read_curriculum(DEFAULT_CURRICULUM_PATH)
    assert 40 <= len(file.concepts) <= 80
    slugs = {c.slug for c in file.concepts}
    # the course loader's 15 coarse concepts keep their ids
    from kg.schema import CONCEPTS

    assert set(CONCEPTS) <= slugs
    for expected in (
        "intervals",
        "seventh-chords",
        "twelve-bar-blues",
        "power-chords",
        "counterpoint",
        "modes",
        "cadences",
    ):
        assert expected in slugs
    for c in file.concepts:
        assert c.sources, c.slug
        assert all(s["ref"] in file.references for s in c.sources)
    for reference in file.references.values():
        assert reference["title"] and reference["publisher"]
    levels = {c.level for c in file.concepts}
    assert levels == {"beginner", "intermediate", "advanced"}


def test_a_valid_small_file_is_read(tmp_path):
    file = read_curriculum(write_curriculum(tmp_path, small_curriculum()))
    by_slug = file.by_slug()
    assert by_slug["gamma"].prerequisites == ("beta",) and by_slug["gamma"].quiz[0].answer == 1
    assert by_slug["beta"].line is not None and by_slug["beta"].entity_id == "leitmotif:concept:beta"


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d["concepts"][2]["prerequisites"].append("omega"), r"unknown prerequisite 'omega'"),
        (lambda d: d["concepts"][0]["prerequisites"].append("beta"), r"prerequisite cycle: alpha → beta → alpha"),
        (lambda d: d["concepts"].append(concept("beta")), r"duplicate id: 'beta' is already defined on line \d+"),
        (
            lambda d: d["concepts"][1].update(level="expert"),
            r"bad level 'expert': use one of beginner, intermediate, advanced",
        ),
        (
            lambda d: d["concepts"][0].update(level="advanced"),
            r"bad level: its prerequisite 'alpha' is advanced but 'beta' is beginner",
        ),
        (lambda d: d["concepts"][1].update(instruments=["kazooo"]), r"unknown instrument 'kazooo'"),
        (
            lambda d: d["concepts"][1].update(sources=[{"ref": "nowhere"}]),
            r"source ref 'nowhere' is not in the file's references",
        ),
        (lambda d: d["concepts"][1].update(sources=[]), r"sources must be a non-empty list"),
        (lambda d: d["concepts"][1].update(colour="red"), r"unknown field 'colour'"),
        (lambda d: d["concepts"][1].update(id="Not A Slug"), r"id must be lower-case words joined by hyphens"),
        (lambda d: d["concepts"][1].pop("description"), r"missing description"),
        (
            lambda d: d["concepts"][2].update(quiz=[{"question": "q", "choices": ["a", "b"], "answer": 2}]),
            r"answer must be the 0-based index",
        ),
        (lambda d: d["concepts"][3].update(part_of=["delta"]), r"part_of names the concept itself"),
        (lambda d: d["concepts"][1].update(title_phrases=["!!!"]), r"has no words"),
        (lambda d: d.update(concepts=[]), r"'concepts' must be a non-empty list"),
        (lambda d: d["references"]["omt"].pop("publisher"), r"needs a non-empty publisher"),
    ],
)
def test_bad_entries_are_refused_with_file_line_and_entry(tmp_path, mutate, expected):
    data = small_curriculum()
    mutate(data)
    path = write_curriculum(tmp_path, data)
    with pytest.raises(LearningPathError, match=expected) as caught:
        read_curriculum(path)
    assert caught.value.code == "E050"
    assert str(path) in caught.value.message


def test_an_entry_error_points_at_its_line(tmp_path):
    data = small_curriculum()
    data["concepts"][2]["level"] = "expert"
    path = write_curriculum(tmp_path, data)
    gamma_line = next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if '"id": "gamma"' in line)
    with pytest.raises(LearningPathError, match=rf"{path}:{gamma_line}: concept #3 \('gamma'\)"):
        read_curriculum(path)


def test_unreadable_files_are_data_file_errors(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        read_curriculum(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "concepts": [\n    {"id": "a",,}\n  ]\n}\n')
    with pytest.raises(DataFileError, match=r"broken.json:3: not valid JSON"):
        read_curriculum(broken)
    with pytest.raises(DataFileError, match="directory"):
        read_curriculum(tmp_path)


def test_find_cycle_reports_a_real_cycle_and_none_for_a_dag():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    cycle = find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]})
    assert cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}


# --- loading into the graph ----------------------------------------------------------------------


def _graph_vocabulary(store) -> None:
    """What the other loaders would have written: a Last.FM tag, an instrument, two courses."""
    store.upsert_entities(
        [
            EntityRecord(id="lastfm:tag:83", type="Tag", name="jazz"),
            EntityRecord(id="leitmotif:instrument:guitar", type="Instrument", name="Guitar"),
            EntityRecord(id="udemy:course:1", type="Course", name="Beta Chords for Everyone"),
            EntityRecord(id="udemy:course:2", type="Course", name="Something else entirely"),
        ]
    )


def test_load_writes_concepts_links_and_is_idempotent(sql_store, tmp_path):
    _graph_vocabulary(sql_store)
    path = write_curriculum(tmp_path, small_curriculum())
    report = curriculum_load(path, store=sql_store, progress=False)
    assert report.graph.entities.created == 4
    assert report.relations_by_type == {
        "ASSOCIATED_TAG": 1,
        "FOR_INSTRUMENT": 1,
        "PART_OF": 1,
        "PREREQUISITE_OF": 2,
        "TEACHES_CONCEPT": 1,
    }
    assert report.written == 4 + 6 and report.courses_matched == 1
    edge = sql_store.get_relation("leitmotif:concept:alpha", "PREREQUISITE_OF", "leitmotif:concept:beta")
    assert edge is not None and edge.source == CURRICULUM_SOURCE
    teaches = sql_store.get_relation("udemy:course:1", "TEACHES_CONCEPT", "leitmotif:concept:beta")
    assert teaches.source == TITLE_MATCHING_SOURCE and teaches.properties["matched"] == "beta chords"
    gamma = sql_store.get_entity("leitmotif:concept:gamma")
    assert gamma.properties[CURRICULUM_PROPERTY]["level"] == "intermediate"
    assert gamma.properties[CURRICULUM_PROPERTY]["sources"][0]["publisher"] == "VIVA Open Publishing, 2021"

    again = curriculum_load(path, store=sql_store, progress=False)
    assert again.written == 0 and again.graph.entities.unchanged == 4 and again.graph.relations.unchanged == 6


def test_missing_tags_and_instruments_are_reported_not_invented(sql_store, tmp_path):
    path = write_curriculum(tmp_path, small_curriculum())
    report = curriculum_load(path, store=sql_store, progress=False)
    assert report.missing_tags == {"beta": ["jazz"]} and report.missing_instruments == {"beta": ["guitar"]}
    assert sql_store.get_entity("lastfm:tag:83") is None and sql_store.get_entity("leitmotif:instrument:guitar") is None
    assert any("Course" in w for w in report.warnings)


def test_the_course_loaders_concepts_are_adopted_and_its_links_left_alone(sql_store, tmp_path):
    sql_store.upsert_entities(
        [
            EntityRecord(
                id="leitmotif:concept:alpha",
                type="Concept",
                name="Alpha (course loader)",
                aliases=("alphas",),
                properties={"slug": "alpha"},
            ),
            EntityRecord(id="udemy:course:7", type="Course", name="Beta chords masterclass"),
        ]
    )
    sql_store.upsert_relations(
        [
            RelationRecord(
                head="udemy:course:7",
                type="TEACHES_CONCEPT",
                tail="leitmotif:concept:alpha",
                source="udemy-courses/name-matching",
                confidence=0.7,
            ),
        ]
    )
    data = small_curriculum()
    data["concepts"][0]["title_phrases"] = [
        "masterclass"
    ]  # would link course 7 -> alpha, which the course loader already did
    path = write_curriculum(tmp_path, data)
    report = curriculum_load(path, store=sql_store, progress=False)
    alpha = sql_store.get_entity("leitmotif:concept:alpha")
    assert alpha.name == "Alpha (course loader)" and alpha.aliases == ("alphas",)
    assert alpha.properties["slug"] == "alpha" and alpha.properties[CURRICULUM_PROPERTY]["created"] is False
    assert report.adopted == 1 and report.kept_foreign == 1
    assert (
        sql_store.get_relation("udemy:course:7", "TEACHES_CONCEPT", "leitmotif:concept:alpha").source
        == "udemy-courses/name-matching"
    )
    # the course loader runs again and resets the concept's properties: only that entity is rewritten
    sql_store.upsert_entities(
        [
            EntityRecord(
                id="leitmotif:concept:alpha",
                type="Concept",
                name="Alpha (course loader)",
                aliases=("alphas",),
                properties={"slug": "alpha"},
            )
        ]
    )
    after = curriculum_load(path, store=sql_store, progress=False)
    assert after.graph.entities.updated == 1 and after.graph.relations.written == 0


def test_links_the_file_dropped_are_removed_but_a_curators_are_kept(sql_store, tmp_path):
    path = write_curriculum(tmp_path, small_curriculum())
    curriculum_load(path, store=sql_store, progress=False)
    sql_store.upsert_relations(
        [
            RelationRecord(
                head="leitmotif:concept:alpha", type="PREREQUISITE_OF", tail="leitmotif:concept:gamma", source="curator"
            ),
        ]
    )
    data = small_curriculum()
    data["concepts"][2]["prerequisites"] = []
    data["concepts"] = data["concepts"][:3]  # delta is no longer in the file
    report = curriculum_load(write_curriculum(tmp_path, data, "v2.json"), store=sql_store, progress=False)
    assert report.removed_relations == 2  # beta -> gamma and delta PART_OF alpha
    assert sql_store.get_relation("leitmotif:concept:beta", "PREREQUISITE_OF", "leitmotif:concept:gamma") is None
    assert (
        sql_store.get_relation("leitmotif:concept:alpha", "PREREQUISITE_OF", "leitmotif:concept:gamma").source
        == "curator"
    )
    assert (
        report.not_in_file == ["leitmotif:concept:delta"]
        and sql_store.get_entity("leitmotif:concept:delta") is not None
    )


def test_a_cycle_through_a_curators_edge_is_refused_before_writing(sql_store, tmp_path):
    path = write_curriculum(tmp_path, small_curriculum())
    curriculum_load(path, store=sql_store, progress=False)
    sql_store.upsert_relations(
        [
            RelationRecord(
                head="leitmotif:concept:gamma", type="PREREQUISITE_OF", tail="leitmotif:concept:alpha", source="curator"
            ),
        ]
    )
    data = small_curriculum()
    data["concepts"].append(concept("epsilon", prerequisites=["alpha"]))
    before = sql_store.stats()
    with pytest.raises(LearningPathError, match=r"form a cycle: .*source 'curator'"):
        curriculum_load(write_curriculum(tmp_path, data, "v2.json"), store=sql_store, progress=False)
    assert sql_store.stats() == before and sql_store.get_entity("leitmotif:concept:epsilon") is None


def test_the_real_curriculum_loads_into_the_graph(sql_store):
    report = curriculum_load(DEFAULT_CURRICULUM_PATH, store=sql_store, progress=False)
    graph = curriculum_graph_read(store=sql_store)
    assert len(graph.concepts) == report.concepts
    seventh = graph.concepts["leitmotif:concept:seventh-chords"]
    assert seventh.prerequisites == ("leitmotif:concept:triads",) and seventh.level == "intermediate"
    assert "leitmotif:concept:chords" in seventh.broader
    assert curriculum_load(DEFAULT_CURRICULUM_PATH, store=sql_store, progress=False).written == 0


# --- the command -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_command_loads_reports_and_turns_errors_into_one_line(tmp_path, capsys, settings):
    settings.KG_BACKEND = "sql"
    path = write_curriculum(tmp_path, small_curriculum())
    call_command("load_curriculum", str(path), "--no-progress")
    out = capsys.readouterr().out
    assert "4 concepts" in out and "Total: 7 created, 0 updated, 0 removed (7 written)" in out
    call_command("load_curriculum", str(path), "--no-progress")
    assert "(0 written)" in capsys.readouterr().out
    data = small_curriculum()
    data["concepts"][1]["prerequisites"] = ["nope"]
    with pytest.raises(CommandError, match=r"\[E050\] .*unknown prerequisite 'nope'") as caught:
        call_command("load_curriculum", str(write_curriculum(tmp_path, data, "bad.json")), "--no-progress")
    assert "\n" not in str(caught.value)
