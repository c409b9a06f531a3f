"""The reference a performance is compared with: the score's notes in seconds and bars, and its rendering.

Why the practice app renders its own reference instead of reading the catalogue's FLAC: the notes and
the audio must come from the very same music21 excerpt (repeats taken, cut after the bar that reaches
``seconds``, the parts' General MIDI programs), so that a note's time in the score is its time in the
rendering. :func:`audio.render.render_midi` does the synthesis; the rendering, its note list and its
transcription (what Basic Pitch hears in the *reference*, used to know which notes it can hear at all)
are cached by content under ``LEITMOTIF_CACHE_DIR/practice/``.

Timing follows the score's metronome marks (crotchet = 120 where it has none, as the renderer does).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from audio import render as audio_render
from audio.cache import atomic_write_bytes
from catalog.models import Work
from core.errors import AudioRenderError
from practice.transcription import HeardNote, transcribe

#: Bump when the reference changes what it produces: every cached reference is then built again.
REFERENCE_VERSION = 1
PRACTICE_SUBDIR = "practice"
#: Longest excerpt a learner practises at once (a minute of music keeps feedback fast and focused).
MAX_REFERENCE_SECONDS = 90.0


@dataclass(frozen=True)
class ScoreNote:
    """One note of the score (a chord gives one per pitch); times in seconds from the excerpt's start."""

    onset: float
    offset: float
    pitch: int
    #: Bar number as printed in the score (repeats play the same numbers again).
    bar: int
    part: int
    #: Spelled name with octave, e.g. ``F#4``.
    name: str
    #: The note carries a sharp or flat (from the key signature or written): its errors are accidentals.
    altered: bool


@dataclass(frozen=True)
class Bar:
    number: int
    start: float
    end: float


@dataclass
class Reference:
    work_id: int
    title: str
    seconds: float
    key: str
    notes: list[ScoreNote]
    bars: list[Bar]
    audio_path: Path
    sample_rate: int
    #: What the transcription model hears in the reference rendering (see the module doc).
    heard: list[HeardNote]

    def bar_at(self, seconds: float) -> int:
        """The printed number of the bar sounding at ``seconds`` of the reference."""
        number = self.bars[0].number if self.bars else 1
        for bar in self.bars:
            if bar.start <= seconds + 1e-6:
                number = bar.number
            else:
                break
        return number


def _tempo_map(score: Any) -> list[tuple[float, float, float]]:
    """(start quarter, end quarter, seconds per quarter) segments from the metronome marks."""
    segments = []
    for start, end, mark in score.metronomeMarkBoundaries():
        bpm = mark.getQuarterBPM() or audio_render.DEFAULT_QUARTER_BPM
        segments.append((float(start), float(end), 60.0 / float(bpm)))
    return segments or [(0.0, float(score.highestTime), 60.0 / audio_render.DEFAULT_QUARTER_BPM)]


def _seconds_at(segments: list[tuple[float, float, float]], quarter: float) -> float:
    elapsed = 0.0
    for start, end, per_quarter in segments:
        if quarter <= end or (start, end, per_quarter) == segments[-1]:
            return elapsed + (quarter - start) * per_quarter
        elapsed += (end - start) * per_quarter
    return elapsed


def score_excerpt(score: Any, *, seconds: float) -> Any:
    """The performed excerpt that is both rendered and read for notes (see the module doc)."""
    from audio.works.analysis import part_facts

    performed, _ = audio_render.as_performed(score)
    part = audio_render.excerpt(performed, seconds)
    audio_render.strip_repeats(part)
    audio_render.apply_programs(part, [part_facts(p).program for p in part.parts])
    return part


def score_notes(score: Any, *, seconds: float) -> tuple[list[ScoreNote], list[Bar]]:
    """Notes (ties merged) and bars of an excerpt, in seconds, cut at ``seconds``."""
    from music21 import stream

    segments = _tempo_map(score)
    notes: list[ScoreNote] = []
    for part_index, part in enumerate(score.parts):
        for element in part.recurse().notes:
            tie = getattr(element, "tie", None)
            if tie is not None and tie.type in ("stop", "continue"):
                continue
            start_q = float(element.getOffsetInHierarchy(score))
            end_q = start_q + float(element.duration.quarterLength)
            onset = _seconds_at(segments, start_q)
            if onset >= seconds - 0.05:
                continue
            measure = element.getContextByClass(stream.Measure)
            number = int(measure.number) if measure is not None and measure.number is not None else 1
            for pitch in getattr(element, "pitches", ()):
                notes.append(
                    ScoreNote(
                        onset=round(onset, 4),
                        offset=round(min(_seconds_at(segments, end_q), seconds), 4),
                        pitch=int(pitch.midi),
                        bar=number,
                        part=part_index,
                        name=pitch.nameWithOctave.replace("-", "b"),
                        altered=bool(pitch.accidental is not None and pitch.accidental.alter != 0),
                    )
                )
    bars: list[Bar] = []
    reference_part = score.parts[0] if score.parts else score
    for measure in reference_part.getElementsByClass(stream.Measure):
        start = _seconds_at(segments, float(measure.offset))
        if start >= seconds:
            break
        end = _seconds_at(segments, float(measure.offset) + float(measure.duration.quarterLength))
        number = int(measure.number) if measure.number is not None else len(bars) + 1
        bars.append(Bar(number=number, start=round(start, 4), end=round(min(end, seconds), 4)))
    notes.sort(key=lambda n: (n.onset, n.pitch))
    return notes, bars


def render_excerpt(score: Any, *, seconds: float, out_path: Path, sample_rate: int) -> audio_render.RenderedAudio:
    """Render an excerpt built by :func:`score_excerpt` (or a modified copy of one) with FluidSynth."""
    renderer = audio_render.fluidsynth_renderer()
    return audio_render.render_midi(
        audio_render.midi_bytes(score), renderer=renderer, out_path=out_path, seconds=seconds, sample_rate=sample_rate
    )


def work_score(work: Work) -> Any:
    """The parsed music21 score of a catalogue work."""
    from audio.works.corpus import WorkRef, parse_score

    if not work.corpus_path:
        raise AudioRenderError(f"the work {work.title!r} has no score to practise from (no music21 corpus path).")
    return parse_score(WorkRef(corpus_path=work.corpus_path, number=work.corpus_number, stratum=""))


def reference_seconds(work: Work, seconds: float | None = None) -> float:
    wanted = float(seconds if seconds is not None else (work.duration_seconds or 30.0))
    return max(5.0, min(wanted, MAX_REFERENCE_SECONDS))


def _cache_key(work: Work, seconds: float, sample_rate: int) -> str:
    renderer = audio_render.fluidsynth_renderer()
    payload = {
        "version": REFERENCE_VERSION,
        "render": audio_render.RENDER_VERSION,
        "corpus_path": work.corpus_path,
        "number": work.corpus_number,
        "seconds": round(seconds, 3),
        "sample_rate": sample_rate,
        "renderer": renderer.identity,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def practice_cache_dir() -> Path:
    return Path(settings.LEITMOTIF_CACHE_DIR) / PRACTICE_SUBDIR


def load_reference(work: Work, *, seconds: float | None = None) -> Reference:
    """The work's practice reference, built (render + transcription) on first use and cached afterwards."""
    import soundfile as sf

    sample_rate = int(settings.AUDIO_SAMPLE_RATE)
    length = reference_seconds(work, seconds)
    key = _cache_key(work, length, sample_rate)
    folder = practice_cache_dir()
    audio_path = folder / f"{work.slug}-{key}.flac"
    sidecar = folder / f"{work.slug}-{key}.json"
    record: dict[str, Any] | None = None
    if audio_path.is_file() and sidecar.is_file():
        try:
            record = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
    if record is None:
        excerpt = score_excerpt(work_score(work), seconds=length)
        notes, bars = score_notes(excerpt, seconds=length)
        if not notes:
            raise AudioRenderError(f"the first {length:g} s of {work.title!r} hold no notes to practise.")
        render_excerpt(excerpt, seconds=length, out_path=audio_path, sample_rate=sample_rate)
        samples, rate = sf.read(audio_path, dtype="float32")
        heard = transcribe(samples, sample_rate=rate)
        record = {
            "notes": [asdict(n) for n in notes],
            "bars": [asdict(b) for b in bars],
            "heard": [n.to_list() for n in heard],
        }
        atomic_write_bytes(sidecar, json.dumps(record).encode("utf-8"))
    return Reference(
        work_id=work.pk,
        title=work.title,
        seconds=length,
        key=work.key,
        notes=[ScoreNote(**n) for n in record["notes"]],
        bars=[Bar(**b) for b in record["bars"]],
        audio_path=audio_path,
        sample_rate=sample_rate,
        heard=[HeardNote(float(a), float(b), int(c), float(d)) for a, b, c, d in record["heard"]],
    )


def reference_samples(reference: Reference) -> np.ndarray:
    import soundfile as sf

    samples, _ = sf.read(reference.audio_path, dtype="float32")
    return np.asarray(samples, dtype=np.float32)
