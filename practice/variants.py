"""Performances with known mistakes, made by changing a score excerpt and rendering it.

Why: the analysis must be checked (tests), calibrated (:mod:`practice.calibration`) and timed
(``benchmarks/practice_speed.py``) on recordings whose every mistake is known, bar by bar. A changed
copy of the reference excerpt (one pitch moved, some bars faster, some bars louder) rendered by the same
FluidSynth pipeline is such a recording.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from practice.reference import render_excerpt


def _measures(score: Any, number: int, part: int | None = None) -> list[Any]:
    from music21 import stream

    parts = [score.parts[part]] if part is not None else list(score.parts)
    return [m for p in parts for m in p.getElementsByClass(stream.Measure) if m.number == number]


def with_wrong_pitch(score: Any, *, bar: int, semitones: int = -1, part: int = 0) -> tuple[Any, str, str]:
    """A copy with the first note of ``bar`` in ``part`` moved by ``semitones``; (score, written, played)."""
    changed = copy.deepcopy(score)
    for measure in _measures(changed, bar, part):
        for element in measure.recurse().notes:
            if element.isNote and (element.tie is None or element.tie.type == "start"):
                written = element.pitch.nameWithOctave.replace("-", "b")
                element.pitch = element.pitch.transpose(semitones)
                return changed, written, element.pitch.nameWithOctave.replace("-", "b")
    raise ValueError(f"bar {bar} of part {part} has no note to change")


def _bpm_at(score: Any, quarter: float) -> float:
    from audio.render import DEFAULT_QUARTER_BPM

    for start, end, mark in score.metronomeMarkBoundaries():
        if start <= quarter < end:
            return float(mark.getQuarterBPM() or DEFAULT_QUARTER_BPM)
    return DEFAULT_QUARTER_BPM


def with_tempo(score: Any, *, first_bar: int, last_bar: int, factor: float) -> Any:
    """A copy played ``factor`` times faster from ``first_bar`` to ``last_bar`` (then back to the written tempo)."""
    from music21 import tempo

    changed = copy.deepcopy(score)
    start_measure = _measures(changed, first_bar, 0)[0]
    after = _measures(changed, last_bar + 1, 0)
    base = _bpm_at(changed, float(start_measure.offset))
    for mark in list(start_measure.getElementsByClass(tempo.MetronomeMark)):
        start_measure.remove(mark)
    start_measure.insert(0, tempo.MetronomeMark(number=base * factor))
    if after:
        after[0].insert(0, tempo.MetronomeMark(number=base))
    return changed


def with_level(score: Any, *, first_bar: int, last_bar: int, velocity: int) -> Any:
    """A copy whose notes from ``first_bar`` to ``last_bar`` all sound at MIDI ``velocity``."""
    changed = copy.deepcopy(score)
    for number in range(first_bar, last_bar + 1):
        for measure in _measures(changed, number):
            for element in measure.recurse().notes:
                element.volume.velocity = velocity
    return changed


def render_variant(score: Any, *, seconds: float, out_path: Path, sample_rate: int) -> np.ndarray:
    """Render a (changed) excerpt and return its samples."""
    import soundfile as sf

    render_excerpt(score, seconds=seconds, out_path=out_path, sample_rate=sample_rate)
    samples, _ = sf.read(out_path, dtype="float32")
    return np.asarray(samples, dtype=np.float32)
