"""Generated performances: every applied change is recorded exactly, renders are seeded, splits are by work.

Real music21 scores (a small one built here and a Bach chorale from the corpus) and the real FluidSynth.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from audio import render as audio_render
from core.errors import ConfigurationError
from practice.synthesis import (
    FEEDBACK_DIMENSIONS,
    NoteEvent,
    Perturbation,
    apply_perturbations,
    available_soundfonts,
    notes_midi,
    reference_notes,
    render_performance,
    split_works,
)

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not Path(audio_render.DEFAULT_SOUNDFONT).is_file(),
    reason="FluidSynth or FluidR3_GM missing: run scripts/install_system_deps.sh",
)


def small_score(bpm: int = 120):
    """Two bars of 4/4 crotchets in C major, forte, at ``bpm``."""
    from music21 import dynamics, meter, note, stream, tempo

    part = stream.Part()
    pitches = ["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5"]
    for bar in range(2):
        measure = stream.Measure(number=bar + 1)
        if bar == 0:
            measure.insert(0, meter.TimeSignature("4/4"))
            measure.insert(0, tempo.MetronomeMark(number=bpm))
            measure.insert(0, dynamics.Dynamic("f"))
        for name in pitches[bar * 4 : bar * 4 + 4]:
            measure.append(note.Note(name, quarterLength=1.0))
        part.append(measure)
    score = stream.Score()
    score.insert(0, part)
    return score


def test_reference_notes_follow_tempo_bars_and_dynamics():
    notes = reference_notes(small_score(bpm=60), seconds=None)
    assert [n.pitch for n in notes] == [60, 62, 64, 65, 67, 69, 71, 72]
    assert [n.onset for n in notes] == [float(i) for i in range(8)]  # crotchet = 60: one second each
    assert [n.bar for n in notes] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert notes[0].velocity > notes[1].velocity  # downbeat accent
    assert notes[1].velocity > 72  # forte is louder than the default mf
    assert [n.index for n in notes] == list(range(8))
    assert len(reference_notes(small_score(bpm=60), seconds=3)) == 3


def test_a_wrong_note_changes_exactly_that_notes_pitch():
    notes = reference_notes(small_score(), seconds=None)
    performed, applied = apply_perturbations(notes, [Perturbation("wrong_note", 0.25)], np.random.default_rng(3))
    assert len(applied) == 2 and {c["kind"] for c in applied} == {"wrong_note"}
    by_index = {n.index: n for n in performed}
    changed = {c["index"] for c in applied}
    for reference in notes:
        played = by_index[reference.index]
        if reference.index in changed:
            change = next(c for c in applied if c["index"] == reference.index)
            assert change["before"] == reference.pitch and change["after"] == played.pitch != reference.pitch
            assert 1 <= abs(played.pitch - reference.pitch) <= 2
            assert change["bar"] == reference.bar
        else:
            assert played == reference
        assert (played.onset, played.offset, played.velocity) == (reference.onset, reference.offset, reference.velocity)


def test_missed_notes_are_absent_and_extra_notes_are_new():
    notes = reference_notes(small_score(), seconds=None)
    performed, applied = apply_perturbations(
        notes, [Perturbation("missed_note", 0.25), Perturbation("extra_note", 0.125)], np.random.default_rng(0)
    )
    missed = {c["index"] for c in applied if c["kind"] == "missed_note"}
    extra = [c for c in applied if c["kind"] == "extra_note"]
    assert len(missed) == 2 and len(extra) == 1
    indices = {n.index for n in performed}
    assert not missed & indices
    assert extra[0]["index"] == len(notes) and extra[0]["index"] in indices and extra[0]["before"] is None
    assert len(performed) == len(notes) - 2 + 1


def test_timing_tempo_dynamics_articulation_are_recorded_per_note():
    notes = reference_notes(small_score(), seconds=None)
    rng = np.random.default_rng(1)
    performed, applied = apply_perturbations(
        notes,
        [
            Perturbation("flat_dynamics", 1.0),
            Perturbation("articulation", 0.5),
            Perturbation("tempo_drift", 0.2),
            Perturbation("timing_jitter", 20),
        ],
        rng,
    )
    assert len({n.velocity for n in performed}) == 1  # fully flattened
    kinds = [c["kind"] for c in applied]
    assert kinds.count("articulation") == len(notes) and kinds.count("timing_jitter") == len(notes)
    assert kinds.count("tempo_drift") == len(notes)
    for n, ref in zip(sorted(performed, key=lambda x: x.index), notes):
        assert n.offset - n.onset < ref.offset - ref.onset


def test_bad_perturbations_are_refused_with_the_fix():
    with pytest.raises(ConfigurationError, match="unknown perturbation kind 'sour'"):
        Perturbation("sour", 0.1)
    with pytest.raises(ConfigurationError, match="fraction"):
        Perturbation("wrong_note", 1.5)
    with pytest.raises(ConfigurationError, match=">= 0"):
        Perturbation("timing_jitter", -3)
    with pytest.raises(ConfigurationError, match="0-127"):
        notes_midi([NoteEvent(60, 0, 1, 80, 0, 0)], program=200)


def test_split_is_by_work_disjoint_and_seeded():
    ids = [f"work-{i}" for i in range(40)]
    split = split_works(ids, seed=7)
    assert split == split_works(list(reversed(ids)), seed=7)
    assert split != split_works(ids, seed=8)
    parts = [set(split[name]) for name in ("train", "validation", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set().union(*parts) == set(ids)


@needs_fluidsynth
def test_render_is_deterministic_for_a_seed_and_labels_follow_the_changes():
    score = small_score()
    changes = [Perturbation("wrong_note", 0.25), Perturbation("timing_jitter", 50)]
    first = render_performance(score, changes, seed=5, seconds=4, noise_db=25, room=True)
    again = render_performance(score, changes, seed=5, seconds=4, noise_db=25, room=True)
    other = render_performance(score, changes, seed=6, seconds=4, noise_db=25, room=True)
    assert first.audio.dtype == np.float32 and first.audio.ndim == 1 and first.sample_rate == 16000
    assert 3.0 * 16000 <= len(first.audio) <= 4 * 16000
    np.testing.assert_array_equal(first.audio, again.audio)
    assert first.applied == again.applied and first.performed_notes == again.performed_notes
    assert not np.array_equal(first.audio[: len(other.audio)], other.audio[: len(first.audio)])
    assert first.labels["pitch"] == 2 and first.labels["rhythm"] == 2 and first.labels["tempo"] == 0
    assert set(FEEDBACK_DIMENSIONS) | {"valence", "arousal"} == set(first.labels)
    clean = render_performance(score, [], seed=5, seconds=4, program=0)
    assert all(clean.labels[name] == 0 for name in FEEDBACK_DIMENSIONS) and clean.applied == []
    assert clean.performed_notes == clean.reference_notes


@needs_fluidsynth
def test_instruments_and_soundfonts_change_the_sound():
    score = small_score()
    piano = render_performance(score, [], seed=0, seconds=3, program=0)
    violin = render_performance(score, [], seed=0, seconds=3, program=40)
    assert piano.render["program"] == 0 and violin.render["program"] == 40
    assert not np.allclose(piano.audio[:20000], violin.audio[:20000], atol=1e-3)
    fonts = available_soundfonts()
    if len(fonts) > 1:
        other = render_performance(score, [], seed=0, seconds=3, program=0, soundfont=fonts[1])
        assert not np.allclose(piano.audio[:20000], other.audio[:20000], atol=1e-3)


@needs_fluidsynth
def test_a_corpus_chorale_renders_with_bars_and_labels():
    from audio.works.corpus import WorkRef, parse_score

    score = parse_score(WorkRef("bach/bwv244.40.mxl", None, "bach"))
    performance = render_performance(score, [Perturbation("missed_note", 0.1)], seed=0, seconds=6)
    assert performance.reference_notes and max(n.bar for n in performance.reference_notes) >= 1
    assert len(performance.performed_notes) == len(performance.reference_notes) - round(
        0.1 * len(performance.reference_notes)
    )
    assert performance.render["mode"] == "minor"
