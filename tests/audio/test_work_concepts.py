"""Concepts a work exercises, measured on its score (audio/works/concepts.py), and their links in the graph.

The detectors are checked on small hand-made music21 streams whose answer is known (an arpeggio passage
is detected, a scale run is not an arpeggio, a 6/8 tune is in compound metre...); the load is checked
on real Bach chorales (links written with their provenance, idempotent, never to a missing concept).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from music21 import key, meter, note, stream

from audio import render as audio_render
from audio import works
from audio.works import concepts as wc
from kg.schema import EXERCISES_CONCEPT, concept_entity_id
from kg.services import graph_upsert
from kg.stores.base import EntityRecord


def part(pitches: list[str | None], *, durations: list[float] | None = None, ts: str = "4/4", sig: int | None = None):
    """One part from pitch names (``None`` is a rest), split into bars of ``ts``."""
    p = stream.Part()
    if sig is not None:
        p.append(key.KeySignature(sig))
    p.append(meter.TimeSignature(ts))
    for i, name in enumerate(pitches):
        ql = durations[i % len(durations)] if durations else 1.0
        p.append(note.Rest(quarterLength=ql) if name is None else note.Note(name, quarterLength=ql))
    return p.makeMeasures()


def score_of(*parts) -> stream.Score:
    s = stream.Score()
    for p in parts:
        s.insert(0, p)
    return s


def detect(score, *, mode: str | None = "major", tonic: str = "C", form: str | None = None, source: str = "score"):
    return wc.detect_concepts(score, key_tonic=tonic, key_mode=mode, key_source=source, form=form, era=None)


def concepts_of(found: wc.ScoreConcepts) -> set[str]:
    return {e.concept for e in found.evidence}


ALBERTI = ["C4", "G4", "E4", "G4"] * 4 + ["D4", "G4", "F4", "G4"] * 2 + ["C4", "G4", "E4", "G4"] * 2
SCALE = ["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5", "B4", "A4", "G4", "F4", "E4", "D4", "C4", "D4"] * 2


# --- single detectors -----------------------------------------------------------------------------


def test_triads_in_any_inversion_and_quality():
    assert wc.is_triad([0, 4, 7]) and wc.is_triad([4, 7, 0]) and wc.is_triad([9, 0, 4])  # C major, A minor
    assert wc.is_triad([11, 2, 5]) and wc.is_triad([0, 4, 8])  # diminished, augmented
    assert not wc.is_triad([0, 2, 4]) and not wc.is_triad([0, 7]) and not wc.is_triad([0, 5, 10])  # quartal


def test_an_alberti_bass_is_an_arpeggio_passage():
    found = detect(score_of(part(ALBERTI, durations=[0.5])))
    [evidence] = [e for e in found.evidence if e.concept == "arpeggios"]
    assert evidence.detector == "arpeggio-figures.v1" and evidence.measure["share"] >= wc.ARPEGGIO_SHARE
    assert "arpeggio figures:" in evidence.how and "% of notes" in evidence.how
    assert 0.6 <= evidence.confidence <= 1.0


def test_a_scale_run_is_not_an_arpeggio_but_exercises_the_scale_of_its_mode():
    major = detect(score_of(part(SCALE, durations=[0.5])))
    assert "arpeggios" not in concepts_of(major) and "major-scale" in concepts_of(major)
    [evidence] = [e for e in major.evidence if e.concept == "major-scale"]
    assert evidence.measure["longest"] >= wc.RUN_LENGTH and evidence.measure["mode"] == "major"
    minor = detect(score_of(part(SCALE, durations=[0.5])), mode="minor", tonic="A")
    assert "minor-scales" in concepts_of(minor) and "major-scale" not in concepts_of(minor)


def test_leaps_that_outline_no_triad_are_not_arpeggios():
    fourths = ["C4", "F4", "B-4", "E-5", "B-4", "F4"] * 4  # quartal leaps
    assert "arpeggios" not in concepts_of(detect(score_of(part(fourths, durations=[0.5]))))


def test_a_rest_breaks_a_figure():
    broken = ["C4", "E4", None, "G4", "C5", None] * 6
    figures, _ = wc.arpeggio_figures(wc.score_lines(score_of(part(broken, durations=[0.5]))))
    assert figures == 0


def test_six_eight_is_compound_metre_and_three_four_is_not():
    tune = ["D4", "F#4", "A4", "D5", "A4", "F#4"] * 4
    six_eight = detect(score_of(part(tune, durations=[0.5], ts="6/8")))
    [evidence] = [e for e in six_eight.evidence if e.concept == "compound-metre"]
    assert evidence.detector == "time-signature.v1" and evidence.measure["signatures"] == ["6/8"]
    assert "compound-metre" not in concepts_of(detect(score_of(part(tune, durations=[0.5], ts="3/4"))))


def test_triplets_are_compound_metre_in_a_simple_time_signature():
    p = stream.Part()
    p.append(meter.TimeSignature("2/4"))
    for _ in range(12):
        for name in ("C4", "D4", "E4"):
            n = note.Note(name)
            n.duration = note.Note(quarterLength=1 / 3).duration
            p.append(n)
    found = detect(score_of(p.makeMeasures()))
    [evidence] = [e for e in found.evidence if e.concept == "compound-metre"]
    assert evidence.detector == "triplets.v1" and evidence.measure["share"] > 0.9


def test_five_four_is_an_odd_metre():
    found = detect(score_of(part(SCALE, ts="5/4")))
    assert "odd-metres" in concepts_of(found)
    assert "odd-metres" not in concepts_of(detect(score_of(part(SCALE, ts="4/4"))))


def test_off_beat_notes_held_over_the_beat_are_syncopation():
    # eighth - quarter - eighth: the quarter starts off the beat and is held across it
    syncopated = detect(score_of(part(["C4", "D4", "E4", "F4"] * 8, durations=[0.5, 1.0, 0.5, 2.0])))
    assert "syncopation" in concepts_of(syncopated)
    straight = detect(score_of(part(["C4", "D4", "E4", "F4"] * 8, durations=[0.5, 0.5, 1.0, 2.0])))
    assert "syncopation" not in concepts_of(straight)


def test_dotted_rhythms():
    dotted = detect(score_of(part(["C4", "D4", "E4", "G4"] * 6, durations=[1.5, 0.5])))
    [evidence] = [e for e in dotted.evidence if e.concept == "dotted-notes-and-ties"]
    assert evidence.measure["share"] == pytest.approx(0.5)
    assert "dotted-notes-and-ties" not in concepts_of(detect(score_of(part(SCALE))))


def test_chromatic_runs():
    run = ["C4", "C#4", "D4", "D#4", "E4", "F4", "E4", "E-4", "D4", "C#4", "C4", "G4"] * 2
    found = detect(score_of(part(run, durations=[0.5])))
    [evidence] = [e for e in found.evidence if e.concept == "chromatic-scale"]
    assert evidence.measure["runs"] >= wc.MIN_CHROMATIC_RUNS and evidence.measure["longest"] >= 5
    assert "chromatic-scale" not in concepts_of(detect(score_of(part(SCALE))))


def test_key_signatures_with_three_or_more_accidentals():
    assert "key-signatures" in concepts_of(detect(score_of(part(SCALE, sig=4)), tonic="E"))
    assert "key-signatures" in concepts_of(detect(score_of(part(SCALE, sig=-3)), tonic="E-"))
    assert "key-signatures" not in concepts_of(detect(score_of(part(SCALE, sig=1)), tonic="G"))


def test_a_stated_church_mode_links_modes_but_an_inferred_one_does_not():
    tune = ["D4", "F4", "A4", "G4"] * 5
    assert "modes" in concepts_of(detect(score_of(part(tune)), mode="dorian", tonic="D", source="score"))
    assert "modes" not in concepts_of(detect(score_of(part(tune)), mode="dorian", tonic="D", source="krumhansl"))


def _in_key(scale: list[str], bars: int) -> list[str]:
    """A scale up, then the tonic triad down: 12 quarter notes, 3 bars of 4/4; repeated for ``bars`` bars."""
    unit = [*scale, scale[4], scale[2], scale[0], scale[0]]
    return unit * (bars // 3)


def test_a_long_move_to_a_key_with_another_signature_is_a_modulation():
    home = _in_key(["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5"], 18)
    away = _in_key(["E-4", "F4", "G4", "A-4", "B-4", "C5", "D5", "E-5"], 18)
    found = detect(score_of(part(home + away + home)))
    [evidence] = [e for e in found.evidence if e.concept == "modulation"]
    assert evidence.measure["key"] == "E♭ major" and evidence.measure["bars"][0] > 1
    assert "modulation" not in concepts_of(detect(score_of(part(home * 3))))
    medieval = wc.detect_concepts(
        score_of(part(home + away + home)),
        key_tonic="C",
        key_mode="major",
        key_source="score",
        form=None,
        era="medieval",
    )
    assert "modulation" not in concepts_of(medieval)  # no common-practice keys to modulate between


def test_imitation_in_a_contrapuntal_form_is_counterpoint():
    subject = ["C4", "D4", "E4", "F4", "D4", "E4", "C4", "G4"]
    leader = part(subject * 3 + ["C4"] * 4)
    follower = part(["C3"] * 0 + [None, None] + subject * 3 + ["C4", "C4"])  # the same shape, two beats later
    canon = detect(score_of(leader, follower), form="canon")
    [evidence] = [e for e in canon.evidence if e.concept == "counterpoint"]
    assert evidence.measure["imitations"] >= wc.MIN_IMITATIONS and evidence.measure["parts"] == 2
    assert "counterpoint" not in concepts_of(detect(score_of(leader, follower), form="string-quartet"))
    assert "counterpoint" not in concepts_of(detect(score_of(leader), form="canon"))  # one voice cannot imitate


def test_few_notes_say_nothing_about_shares():
    found = detect(score_of(part(["C4", "E4", "G4", "C5", "G4", "E4"], durations=[0.5])))
    assert "arpeggios" not in concepts_of(found) and found.notes == 6


def test_results_round_trip_through_json():
    found = detect(score_of(part(ALBERTI, durations=[0.5], ts="6/8")))
    assert wc.ScoreConcepts.from_json(found.to_json()) == found
    assert found.notes_per_beat == pytest.approx(2.0)


# --- the load -----------------------------------------------------------------------------------------

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not Path(audio_render.DEFAULT_SOUNDFONT).is_file(),
    reason="FluidSynth or FluidR3_GM missing: run scripts/install_system_deps.sh",
)


def _concept(slug: str) -> EntityRecord:
    return EntityRecord(id=concept_entity_id(slug), type="Concept", name=slug.replace("-", " ").capitalize())


@needs_fluidsynth
def test_load_links_chorales_to_the_concepts_they_exercise_idempotently(sql_store):
    graph_upsert(store=sql_store, entities=[_concept("voice-leading")])
    first = works.works_load(store=sql_store, limit=2, composers=["bach"], seconds=4.0, progress=False)
    assert first.concept_links == {"voice-leading": 2}
    for slug in (w.removeprefix("leitmotif:work:") for w in _work_ids(sql_store)):
        relation = sql_store.get_relation(
            f"leitmotif:work:{slug}", EXERCISES_CONCEPT, concept_entity_id("voice-leading")
        )
        assert relation is not None and relation.source.startswith("music21:bach/")
        assert relation.properties["detector"] == "form-fact.v1" and "four-part chorale" in relation.properties["how"]
        assert sql_store.get_entity(f"leitmotif:work:{slug}").properties["notes_per_beat"] > 0
    # concepts the graph lacks are counted, never created
    assert first.concepts_missing >= 0 and sql_store.get_entities([concept_entity_id("major-scale")]) == {}
    second = works.works_load(store=sql_store, limit=2, composers=["bach"], seconds=4.0, progress=False)
    assert second.written == 0 and second.concept_links == first.concept_links


def _work_ids(store) -> list[str]:
    return [n.entity.id for n in store.neighbours(concept_entity_id("voice-leading"), direction="in")]


@needs_fluidsynth
def test_better_detectors_re_read_scores_without_re_rendering(sql_store, monkeypatch):
    graph_upsert(store=sql_store, entities=[_concept("voice-leading")])
    works.works_load(store=sql_store, limit=1, composers=["bach"], seconds=4.0, progress=False)
    monkeypatch.setattr(wc, "CONCEPTS_VERSION", wc.CONCEPTS_VERSION + 1)
    again = works.works_load(store=sql_store, limit=1, composers=["bach"], seconds=4.0, progress=False)
    assert (again.analysed, again.rendered, again.written) == (0, 0, 0)
