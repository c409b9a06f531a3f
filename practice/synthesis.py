"""Generated practice performances: a work's score played with controlled, recorded mistakes.

Why generate: the practice-feedback models (HFN, HFI) need performances whose faults are known note
by note, and no recordings of learners with annotated mistakes exist in the data. A work's score
(music21) becomes a list of reference notes (:func:`reference_notes`); perturbations change that list
and every change is recorded (:attr:`GeneratedPerformance.applied`); the performed notes are written
as MIDI and rendered with FluidSynth (:func:`audio.render.render_midi`), with a General MIDI program
and a SoundFont that can vary; then room noise, microphone colouring and a synthetic reverb can be
added. Every random choice comes from one ``numpy`` generator seeded by ``seed``: the same score,
perturbations and seed give the same notes and the same samples.

Perturbation kinds and what ``amount`` means:

=================  ==========================================================================
``wrong_note``     fraction of reference notes whose pitch is moved by 1 or 2 semitones
``missed_note``    fraction of reference notes left out
``extra_note``     extra notes, as a fraction of the reference note count, inserted near others
``timing_jitter``  standard deviation of onset noise, in milliseconds (durations kept)
``tempo_drift``    relative tempo change reached at the end, linear in time (0.2: 20 % faster or
                   slower at the end; the direction is drawn from the seed)
``flat_dynamics``  0..1, how far every velocity is pulled to the mean (1: all notes equally loud)
``articulation``   0..1, how much shorter every note is held (0.6: 40 % of its written length);
                   an addition to the five kinds of the issue, so that the articulation feedback
                   dimension has a recorded cause too
=================  ==========================================================================

Counts (``wrong_note``, ``missed_note``, ``extra_note``) are ``round(amount * n)``, at least one when
``amount > 0``. A note changes at most once per kind; wrong and missed notes are drawn from disjoint
notes so every recorded change is still audible.

Note indices: a performed note keeps the ``index`` of the reference note it plays; extra notes get
indices from ``len(reference)`` upwards. ``applied`` holds one dict per changed note:
``{"kind", "index", "bar", "before", "after"}`` (``before`` is ``None`` for an extra note, ``after`` is
``None`` for a missed one; pitches for note changes, onsets in seconds for timing, velocities for
dynamics, durations for articulation).

Labels (:data:`FEEDBACK_DIMENSIONS`, each 0 good / 1 some problems / 2 many problems) are computed
from what was applied (:func:`feedback_labels`); ``valence`` and ``arousal`` (-1..1) describe the
character of what was performed, from the score's mode, tempo and dynamics and from the performed
tempo, loudness, dynamic range and wrong notes (:func:`emotion_of`).
"""

from __future__ import annotations

import bisect
import dataclasses
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigurationError

PERTURBATION_KINDS: tuple[str, ...] = (
    "wrong_note",
    "missed_note",
    "extra_note",
    "timing_jitter",
    "tempo_drift",
    "flat_dynamics",
    "articulation",
)
#: Feedback dimensions, in the order the models predict them.
FEEDBACK_DIMENSIONS: tuple[str, ...] = ("pitch", "rhythm", "tempo", "dynamics", "articulation", "expression")
LEVELS: tuple[str, ...] = ("good", "some problems", "many problems")
#: Upper bounds of "good" and "some problems" per measured quantity (see :func:`feedback_labels`).
THRESHOLDS: dict[str, tuple[float, float]] = {
    "pitch": (0.01, 0.08),  # fraction of notes wrong, missed or extra
    "rhythm": (12.0, 40.0),  # onset jitter, ms
    "tempo": (0.05, 0.15),  # relative tempo change
    "dynamics": (0.25, 0.65),  # flattening
    "articulation": (0.2, 0.5),  # shortening
    "expression": (0.3, 0.9),  # sum of normalised dynamics, tempo and articulation severities
}
#: General MIDI programs a learner might practise on: piano, guitar, violin, cello, flute, clarinet, ...
LEARNER_PROGRAMS: tuple[int, ...] = (0, 1, 4, 24, 40, 42, 56, 65, 71, 73)
#: SoundFonts tried, in order; the first is the default (also ``settings.FLUIDSYNTH_SOUNDFONT``).
KNOWN_SOUNDFONTS: tuple[str, ...] = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")
DEFAULT_VELOCITY = 72
TICKS_PER_QUARTER = 480
#: The MIDI file uses crotchet = 120 throughout, so one tick is 1/960 s and times are written directly.
TICKS_PER_SECOND = 960
MIN_NOTE_SECONDS = 0.04


@dataclass(frozen=True)
class NoteEvent:
    """One note (pitch as MIDI number, times in seconds from the start, bar index from 0)."""

    pitch: int
    onset: float
    offset: float
    velocity: int
    bar: int
    index: int


@dataclass(frozen=True)
class Perturbation:
    """One kind of mistake and how much of it (see the module doc for the unit of each kind)."""

    kind: str
    amount: float

    def __post_init__(self) -> None:
        if self.kind not in PERTURBATION_KINDS:
            raise ConfigurationError(
                f"unknown perturbation kind {self.kind!r}; choose from: {', '.join(PERTURBATION_KINDS)}."
            )
        amount = float(self.amount)
        if not np.isfinite(amount) or amount < 0:
            raise ConfigurationError(f"perturbation {self.kind!r} needs an amount >= 0, got {self.amount!r}.")
        if self.kind in ("wrong_note", "missed_note", "flat_dynamics", "articulation") and amount > 1:
            raise ConfigurationError(f"perturbation {self.kind!r} takes a fraction in [0, 1], got {self.amount!r}.")
        if self.kind == "tempo_drift" and amount >= 0.9:
            raise ConfigurationError(f"tempo_drift must be below 0.9 (a relative change), got {self.amount!r}.")
        object.__setattr__(self, "amount", amount)


@dataclass
class GeneratedPerformance:
    """Audio of one generated performance and everything known about how it differs from the score."""

    audio: np.ndarray
    sample_rate: int
    reference_notes: list[NoteEvent]
    performed_notes: list[NoteEvent]
    applied: list[dict]
    labels: dict[str, int | float]
    #: How it was rendered: program, SoundFont, noise, room, seed, bpm, mode (for reports and tests).
    render: dict[str, Any] = field(default_factory=dict)


# --- score -> reference notes ----------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreCharacter:
    """What the score says about the intended character: mean crotchet tempo, mode, dynamics level."""

    bpm: float
    mode: str  # "major" | "minor" | "unknown"
    dynamics: float  # mean velocity of the reference notes (markings), 0..127


def _tempo_segments(score) -> list[tuple[float, float, float, float]]:
    """(start ql, end ql, bpm, start seconds) per metronome span of ``score``."""
    from audio.render import DEFAULT_QUARTER_BPM

    segments = []
    elapsed = 0.0
    for start, end, mark in score.metronomeMarkBoundaries():
        bpm = float(mark.getQuarterBPM() or DEFAULT_QUARTER_BPM)
        segments.append((float(start), float(end), bpm, elapsed))
        elapsed += (end - start) * 60.0 / bpm
    return segments or [(0.0, float(score.highestTime), DEFAULT_QUARTER_BPM, 0.0)]


def _seconds_at(segments: list[tuple[float, float, float, float]], ql: float) -> float:
    for start, end, bpm, elapsed in segments:
        if ql < end or (start, end, bpm, elapsed) == segments[-1]:
            return elapsed + (ql - start) * 60.0 / bpm
    return 0.0  # pragma: no cover - segments is never empty


def _performed_excerpt(score, seconds: float | None):
    """The bars of ``score`` (repeats taken) that start within the first ``seconds``.

    Why not :func:`audio.render.excerpt`: music21's ``measures(start, end, indicesNotNumbers=True)``
    treats ``end`` as exclusive, so that helper keeps one bar too few (none at all for a one-bar cut; the
    catalogue renders and the practice references are built with it and stay so until they are re-rendered
    together); here the notes are also cut at ``seconds`` afterwards, so keeping whole bars is only a speed-up.
    """
    from audio.render import as_performed, quarter_length_at, strip_repeats

    if seconds is not None:
        # Expanding the repeats of a whole movement copies it several times (seconds of music21 work);
        # only the bars written within the first ``seconds`` can sound first, so expand only those.
        written_cut = quarter_length_at(score, seconds)
        parts = list(getattr(score, "parts", []))
        bars = list((parts[0] if parts else score).getElementsByClass("Measure"))
        keep = sum(1 for measure in bars if measure.offset < written_cut)
        if 0 < keep < len(bars):
            try:
                score = score.measures(0, keep, indicesNotNumbers=True)
            except Exception:  # odd layouts: expand the whole score instead
                pass
    performed, _ = as_performed(score)
    if seconds is not None:
        cut = quarter_length_at(performed, seconds)
        parts = list(getattr(performed, "parts", []))
        reference = parts[0] if parts else performed
        keep = sum(1 for measure in reference.getElementsByClass("Measure") if measure.offset < cut)
        if 0 < keep and cut < performed.highestTime:
            try:
                performed = performed.measures(0, keep, indicesNotNumbers=True)
            except Exception:  # odd layouts: the notes are cut by time anyway
                pass
    strip_repeats(performed)
    return performed


def _dynamics_velocity(marks: list[tuple[float, float]], ql: float) -> int:
    if not marks:
        return DEFAULT_VELOCITY
    position = bisect.bisect_right([offset for offset, _ in marks], ql + 1e-9) - 1
    if position < 0:
        return DEFAULT_VELOCITY
    return int(np.clip(round(30 + 90 * marks[position][1]), 30, 120))


def _notes_of(excerpt_score, seconds: float | None) -> list[NoteEvent]:
    from music21 import dynamics, stream

    segments = _tempo_segments(excerpt_score)
    parts = list(getattr(excerpt_score, "parts", [])) or [excerpt_score]
    bar_offsets = [float(m.offset) for m in parts[0].getElementsByClass(stream.Measure)] or [0.0]
    flat = excerpt_score.stripTies(inPlace=False).flatten()
    marks = sorted((float(d.offset), float(d.volumeScalar or 0.5)) for d in flat.getElementsByClass(dynamics.Dynamic))
    raw = []
    for element in flat.notes:
        length = float(element.quarterLength)
        if length <= 0:
            continue  # grace notes
        ql = float(element.offset)
        onset = _seconds_at(segments, ql)
        if seconds is not None and onset >= seconds:
            continue
        offset = min(_seconds_at(segments, ql + length), seconds if seconds is not None else float("inf"))
        bar = max(0, bisect.bisect_right(bar_offsets, ql + 1e-9) - 1)
        velocity = _dynamics_velocity(marks, ql)
        if abs(ql - bar_offsets[bar]) < 1e-6:
            velocity = min(127, velocity + 8)  # downbeat accent: the written metre, played
        for pitch in getattr(element, "pitches", ()):
            if 0 <= int(pitch.midi) <= 127:
                raw.append((onset, int(pitch.midi), offset, velocity, bar))
    raw.sort()
    notes: list[NoteEvent] = []
    for onset, pitch, offset, velocity, bar in raw:
        if offset - onset < MIN_NOTE_SECONDS:
            offset = onset + MIN_NOTE_SECONDS
        notes.append(NoteEvent(pitch, round(onset, 5), round(offset, 5), velocity, bar, len(notes)))
    return notes


def reference_notes(score, *, seconds: float | None = 30) -> list[NoteEvent]:
    """The notes of the first ``seconds`` of ``score`` as performed (repeats taken, tempo marks followed).

    Velocities follow the dynamics markings (mf where there are none) with an accent on each downbeat;
    tied notes are one note; chords give one note per pitch; grace notes are left out.
    """
    if seconds is not None and seconds <= 0:
        raise ConfigurationError(f"seconds must be positive or None, got {seconds!r}.")
    notes = _notes_of(_performed_excerpt(score, seconds), seconds)
    if not notes:
        raise ConfigurationError("the score has no playable notes in the requested excerpt.")
    return notes


def score_character(score, notes: Sequence[NoteEvent] | None = None) -> ScoreCharacter:
    """Intended character: mean tempo of the metronome marks, mode of the key signature/analysis, dynamics."""
    segments = _tempo_segments(score)
    total = sum(end - start for start, end, _, _ in segments) or 1.0
    bpm = sum((end - start) * bpm for start, end, bpm, _ in segments) / total
    mode = "unknown"
    try:
        from music21 import key

        found = next(iter(score.recurse().getElementsByClass(key.Key)), None)
        if found is None:
            found = score.analyze("key")
        mode = found.mode if found.mode in ("major", "minor") else "unknown"
    except Exception:  # analysis of odd scores (no pitches in a part) fails inside music21
        mode = "unknown"
    level = float(np.mean([n.velocity for n in notes])) if notes else float(DEFAULT_VELOCITY)
    return ScoreCharacter(bpm=float(bpm), mode=mode, dynamics=level)


# --- perturbations ---------------------------------------------------------------------------------


def _count(amount: float, n: int) -> int:
    return 0 if amount <= 0 or n == 0 else max(1, min(n, int(round(amount * n))))


def apply_perturbations(
    notes: Sequence[NoteEvent], perturbations: Sequence[Perturbation], rng: np.random.Generator
) -> tuple[list[NoteEvent], list[dict]]:
    """The performed notes and the list of applied changes (see the module doc).

    The order is fixed whatever order ``perturbations`` come in (note content, then dynamics and
    articulation, then time), so a combination is one well-defined performance.
    """
    by_kind: dict[str, float] = {}
    for perturbation in perturbations:
        by_kind[perturbation.kind] = by_kind.get(perturbation.kind, 0.0) + perturbation.amount
    performed: dict[int, NoteEvent] = {note.index: note for note in notes}
    applied: list[dict] = []
    n = len(notes)
    order = rng.permutation(n) if n else np.zeros(0, dtype=int)
    cursor = 0

    def take(k: int) -> list[int]:
        nonlocal cursor
        chosen = [int(i) for i in order[cursor : cursor + k]]
        cursor += len(chosen)
        return sorted(notes[i].index for i in chosen)

    for index in take(_count(by_kind.get("wrong_note", 0.0), n)):
        note = performed[index]
        step = int(rng.choice([-2, -1, 1, 2]))
        pitch = note.pitch + step if 0 <= note.pitch + step <= 127 else note.pitch - step
        performed[index] = dataclasses.replace(note, pitch=pitch)
        applied.append({"kind": "wrong_note", "index": index, "bar": note.bar, "before": note.pitch, "after": pitch})
    for index in take(_count(by_kind.get("missed_note", 0.0), n)):
        note = performed.pop(index)
        applied.append({"kind": "missed_note", "index": index, "bar": note.bar, "before": note.pitch, "after": None})
    extras = _count(by_kind.get("extra_note", 0.0), n)
    for k in range(extras):
        anchor = notes[int(rng.integers(n))]
        onset = anchor.onset + float(rng.uniform(0.05, 0.25))
        pitch = int(np.clip(anchor.pitch + int(rng.choice([-3, -2, -1, 1, 2, 3, 4, 5])), 0, 127))
        extra = NoteEvent(
            pitch, round(onset, 5), round(onset + float(rng.uniform(0.12, 0.3)), 5), anchor.velocity, anchor.bar, n + k
        )
        performed[extra.index] = extra
        applied.append({"kind": "extra_note", "index": extra.index, "bar": extra.bar, "before": None, "after": pitch})

    flat = min(1.0, by_kind.get("flat_dynamics", 0.0))
    if flat > 0 and performed:
        mean = float(np.mean([note.velocity for note in performed.values()]))
        for index, note in sorted(performed.items()):
            velocity = int(round(note.velocity + flat * (mean - note.velocity)))
            if velocity != note.velocity:
                performed[index] = dataclasses.replace(note, velocity=velocity)
                applied.append(
                    {
                        "kind": "flat_dynamics",
                        "index": index,
                        "bar": note.bar,
                        "before": note.velocity,
                        "after": velocity,
                    }
                )
    shorten = min(0.95, by_kind.get("articulation", 0.0))
    if shorten > 0:
        for index, note in sorted(performed.items()):
            length = max(MIN_NOTE_SECONDS, (note.offset - note.onset) * (1 - shorten))
            performed[index] = dataclasses.replace(note, offset=round(note.onset + length, 5))
            applied.append(
                {
                    "kind": "articulation",
                    "index": index,
                    "bar": note.bar,
                    "before": round(note.offset - note.onset, 5),
                    "after": round(length, 5),
                }
            )
    jitter_ms = by_kind.get("timing_jitter", 0.0)
    if jitter_ms > 0:
        for index, note in sorted(performed.items()):
            shift = float(rng.normal(0.0, jitter_ms / 1000.0))
            onset = max(0.0, note.onset + shift)
            moved = dataclasses.replace(note, onset=round(onset, 5), offset=round(note.offset + onset - note.onset, 5))
            performed[index] = moved
            applied.append(
                {"kind": "timing_jitter", "index": index, "bar": note.bar, "before": note.onset, "after": moved.onset}
            )
    drift = by_kind.get("tempo_drift", 0.0)
    if drift > 0 and performed:
        sign = 1.0 if rng.random() < 0.5 else -1.0
        end = max(note.offset for note in notes)
        rate = sign * drift / max(end, 1e-6)  # tempo factor r(t) = 1 + rate * t; performed time = ∫ dt / r

        def warp(t: float) -> float:
            return float(np.log1p(rate * t) / rate) if abs(rate) > 1e-12 else t

        for index, note in sorted(performed.items()):
            moved = dataclasses.replace(note, onset=round(warp(note.onset), 5), offset=round(warp(note.offset), 5))
            performed[index] = moved
            applied.append(
                {"kind": "tempo_drift", "index": index, "bar": note.bar, "before": note.onset, "after": moved.onset}
            )
    ordered = sorted(performed.values(), key=lambda note: (note.onset, note.pitch, note.index))
    return ordered, applied


# --- labels ----------------------------------------------------------------------------------------


def _level(value: float, bounds: tuple[float, float]) -> int:
    return 0 if value < bounds[0] else 1 if value < bounds[1] else 2


def severities(applied: Sequence[dict], perturbations: Sequence[Perturbation], n_reference: int) -> dict[str, float]:
    """The measured quantity behind each feedback dimension (units as in :data:`THRESHOLDS`)."""
    amounts: dict[str, float] = {}
    for perturbation in perturbations:
        amounts[perturbation.kind] = amounts.get(perturbation.kind, 0.0) + perturbation.amount
    note_changes = sum(1 for change in applied if change["kind"] in ("wrong_note", "missed_note", "extra_note"))
    dynamics = (
        min(1.0, amounts.get("flat_dynamics", 0.0)) if any(c["kind"] == "flat_dynamics" for c in applied) else 0.0
    )
    tempo = amounts.get("tempo_drift", 0.0)
    articulation = min(0.95, amounts.get("articulation", 0.0))
    expression = (
        dynamics / THRESHOLDS["dynamics"][1]
        + tempo / THRESHOLDS["tempo"][1]
        + articulation / THRESHOLDS["articulation"][1]
    ) / 2
    return {
        "pitch": note_changes / max(1, n_reference),
        "rhythm": amounts.get("timing_jitter", 0.0),
        "tempo": tempo,
        "dynamics": dynamics,
        "articulation": articulation,
        "expression": expression,
    }


def feedback_labels(applied: Sequence[dict], perturbations: Sequence[Perturbation], n_reference: int) -> dict[str, int]:
    """0 good / 1 some problems / 2 many problems per :data:`FEEDBACK_DIMENSIONS`, from what was applied.

    ``expression`` sums the dynamics, tempo and articulation severities, each relative to its "many
    problems" bound: a performance is inexpressive when it is flat, unsteady or clipped together.
    """
    measured = severities(applied, perturbations, n_reference)
    return {name: _level(measured[name], THRESHOLDS[name]) for name in FEEDBACK_DIMENSIONS}


def emotion_of(
    character: ScoreCharacter, reference: Sequence[NoteEvent], performed: Sequence[NoteEvent]
) -> dict[str, float]:
    """Valence and arousal (-1..1) of what was performed, from the score's character and the performance.

    A transparent rule, not a perception model: major and faster and consonant raise valence; faster,
    louder and wider dynamics raise arousal. The performed tempo is the written one scaled by how much
    shorter or longer the performance lasts; wrong notes lower valence.
    """
    ref_span = max(n.onset for n in reference) - min(n.onset for n in reference) if reference else 0.0
    perf_span = (max(n.onset for n in performed) - min(n.onset for n in performed)) if performed else 0.0
    bpm = character.bpm * (ref_span / perf_span if perf_span > 0.5 and ref_span > 0.5 else 1.0)
    tempo = float(np.clip((bpm - 100.0) / 60.0, -1, 1))
    velocities = np.array([n.velocity for n in performed] or [DEFAULT_VELOCITY], dtype=float)
    loud = float(np.clip((velocities.mean() - 72.0) / 30.0, -1, 1))
    spread = float(np.clip(velocities.std() / 10.0, 0, 1))
    ref_pitch = {(n.index, n.pitch) for n in reference}
    wrong = sum(1 for n in performed if (n.index, n.pitch) not in ref_pitch) / max(1, len(reference))
    mode = {"major": 1.0, "minor": -1.0}.get(character.mode, 0.0)
    valence = float(np.clip(0.55 * mode + 0.25 * tempo - 3.0 * wrong, -1, 1))
    arousal = float(np.clip(0.55 * tempo + 0.3 * loud + 0.3 * spread - 0.15, -1, 1))
    return {"valence": round(valence, 4), "arousal": round(arousal, 4)}


# --- MIDI ------------------------------------------------------------------------------------------


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def notes_midi(notes: Sequence[NoteEvent], *, program: int) -> bytes:
    """A one-track Standard MIDI File playing ``notes`` on channel 1 with General MIDI ``program``.

    Crotchet = 120 throughout, so seconds map to ticks directly. A note repeated before the previous
    one on the same pitch ended is cut at the repetition (MIDI cannot hold one pitch twice on a channel).
    All Sound Off one second after the last note ends the render (see :mod:`audio.render`).
    """
    if not 0 <= program <= 127:
        raise ConfigurationError(f"program must be a General MIDI program 0-127, got {program!r}.")
    events: list[tuple[int, int, bytes]] = []
    ordered = sorted(notes, key=lambda note: (note.onset, note.pitch))
    next_onset: dict[int, float] = {}
    for position in range(len(ordered) - 1, -1, -1):
        note = ordered[position]
        end = min(note.offset, next_onset.get(note.pitch, float("inf")))
        next_onset[note.pitch] = note.onset
        on = int(round(note.onset * TICKS_PER_SECOND))
        off = max(on + 1, int(round(end * TICKS_PER_SECOND)))
        velocity = int(np.clip(note.velocity, 1, 127))
        events.append((on, 1, bytes([0x90, note.pitch, velocity])))
        events.append((off, 0, bytes([0x80, note.pitch, 0])))
    end_tick = max((tick for tick, _, _ in events), default=0) + TICKS_PER_SECOND
    events.append((end_tick, 2, bytes([0xB0, 120, 0])))
    events.sort(key=lambda event: (event[0], event[1]))
    body = bytearray()
    body += b"\x00\xff\x51\x03" + (500000).to_bytes(3, "big")
    body += b"\x00" + bytes([0xC0, program])
    body += b"\x00" + bytes([0xB0, 7, 110])
    now = 0
    for tick, _, message in events:
        body += _varlen(tick - now) + message
        now = tick
    body += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER)
    return header + b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


# --- audio -----------------------------------------------------------------------------------------


def available_soundfonts() -> list[Path]:
    """SoundFonts present on this machine: the configured one first, then :data:`KNOWN_SOUNDFONTS`."""
    from django.conf import settings

    configured = getattr(settings, "FLUIDSYNTH_SOUNDFONT", KNOWN_SOUNDFONTS[0])
    found: list[Path] = []
    for candidate in (configured, *KNOWN_SOUNDFONTS):
        path = Path(candidate)
        if path.is_file() and path.resolve() not in {p.resolve() for p in found}:
            found.append(path)
    return found


_RENDERERS: dict[tuple[str, str], Any] = {}


def _renderer(find: Any) -> Any:
    """:func:`audio.render.fluidsynth_renderer`, checked once per process and settings.

    Why: it runs ``fluidsynth --version`` (a third of a short render's time), and a data set renders
    hundreds of takes.
    """
    from django.conf import settings

    key = (str(getattr(settings, "FLUIDSYNTH_BINARY", "")), str(getattr(settings, "FLUIDSYNTH_SOUNDFONT", "")))
    if key not in _RENDERERS:
        _RENDERERS[key] = find()
    return _RENDERERS[key]


def synthesise(
    notes: Sequence[NoteEvent], *, program: int, sample_rate: int, seconds: float, soundfont: Path | None
) -> np.ndarray:
    """Render ``notes`` with FluidSynth: mono float32, peak -1 dBFS, at most ``seconds`` long."""
    import soundfile as sf

    from audio.render import fluidsynth_renderer, render_midi

    renderer = _renderer(fluidsynth_renderer)
    if soundfont is not None:
        renderer = dataclasses.replace(renderer, soundfont=Path(soundfont))
    with tempfile.TemporaryDirectory(prefix="leitmotif-practice-") as work:
        out = Path(work) / "performance.flac"
        render_midi(
            notes_midi(notes, program=program),
            renderer=renderer,
            out_path=out,
            seconds=seconds,
            sample_rate=sample_rate,
        )
        audio, _ = sf.read(out, dtype="float32")
    return np.asarray(audio, dtype=np.float32)


def room_impulse_response(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A synthetic room: a direct path, a few early reflections and an exponentially decaying noise tail.

    RT60 is drawn between 0.2 and 0.8 s (a practice room to a small hall).
    """
    rt60 = float(rng.uniform(0.2, 0.8))
    length = int(rt60 * sample_rate)
    t = np.arange(length) / sample_rate
    tail = rng.normal(0, 1, length) * np.exp(-6.91 * t / rt60) * 0.25
    response = np.zeros(length)
    response[0] = 1.0
    for _ in range(4):
        response[int(rng.uniform(0.003, 0.03) * sample_rate)] += float(rng.uniform(0.2, 0.6))
    start = int(0.01 * sample_rate)
    response[start:] += tail[: length - start]
    return response / np.abs(response).sum() * 4.0


def microphone_and_room(
    audio: np.ndarray, rng: np.random.Generator, *, sample_rate: int, noise_db: float | None, room: bool
) -> tuple[np.ndarray, dict[str, Any]]:
    """Reverb (when ``room``), a microphone's colouring (band limits and a presence peak) and room noise.

    ``noise_db`` is the signal-to-noise ratio in dB of pinkish noise plus a little mains hum.
    """
    from scipy import signal

    record: dict[str, Any] = {}
    out = audio.astype(np.float64)
    if room:
        response = room_impulse_response(rng, sample_rate)
        out = signal.fftconvolve(out, response)[: len(out)]
        record["rt60"] = round(len(response) / sample_rate, 3)
        low = float(rng.uniform(60, 200))
        high = float(rng.uniform(3500, min(7500, sample_rate / 2 - 100)))
        sos = signal.butter(2, [low, high], btype="bandpass", fs=sample_rate, output="sos")
        out = signal.sosfilt(sos, out)
        centre = float(rng.uniform(1500, 3000))
        b, a = signal.iirpeak(centre, Q=1.5, fs=sample_rate)
        out = out + float(rng.uniform(0.1, 0.4)) * signal.lfilter(b, a, out)
        record["microphone"] = {"low_hz": round(low, 1), "high_hz": round(high, 1), "peak_hz": round(centre, 1)}
    if noise_db is not None:
        white = rng.normal(0, 1, len(out))
        pink = signal.lfilter(
            [0.049922035, -0.095993537, 0.050612699, -0.004408786], [1, -2.494956002, 2.017265875, -0.522189400], white
        )
        hum = 0.3 * np.sin(2 * np.pi * float(rng.choice([50.0, 60.0])) * np.arange(len(out)) / sample_rate)
        noise = pink / (np.std(pink) + 1e-12) + hum
        power = np.mean(out**2) + 1e-12
        noise *= np.sqrt(power / (10 ** (noise_db / 10)) / (np.mean(noise**2) + 1e-12))
        out = out + noise
        record["noise_db"] = float(noise_db)
    peak = float(np.abs(out).max()) if len(out) else 0.0
    if peak > 0:
        out = out * (10 ** (-1.0 / 20) / peak)
    return out.astype(np.float32), record


def render_performance(
    score,
    perturbations: Sequence[Perturbation],
    *,
    seed: int,
    sample_rate: int = 16000,
    seconds: float | None = 30,
    program: int | None = None,
    noise_db: float | None = None,
    room: bool = False,
    soundfont: Path | str | None = None,
) -> GeneratedPerformance:
    """One performance of ``score`` with ``perturbations`` applied and recorded (see the module doc).

    ``program``: General MIDI program (``None``: drawn from :data:`LEARNER_PROGRAMS` with the seed).
    ``soundfont``: a SoundFont file (``None``: the configured FluidR3_GM). ``noise_db``: SNR of room
    noise (``None``: none). ``room``: reverb and microphone colouring. Raises
    :class:`~core.errors.AudioRenderError` when FluidSynth is missing or renders silence.
    """
    reference, character = prepare_score(score, seconds=seconds)
    return perform(
        reference,
        character,
        perturbations,
        seed=seed,
        sample_rate=sample_rate,
        seconds=seconds,
        program=program,
        noise_db=noise_db,
        room=room,
        soundfont=soundfont,
    )


def prepare_score(score, *, seconds: float | None = 30) -> tuple[list[NoteEvent], ScoreCharacter]:
    """Reference notes and intended character of a score: the slow music21 part, done once per work."""
    excerpt_score = _performed_excerpt(score, seconds)
    reference = _notes_of(excerpt_score, seconds)
    if not reference:
        raise ConfigurationError("the score has no playable notes in the requested excerpt.")
    return reference, score_character(excerpt_score, reference)


def perform(
    reference: Sequence[NoteEvent],
    character: ScoreCharacter,
    perturbations: Sequence[Perturbation],
    *,
    seed: int,
    sample_rate: int = 16000,
    seconds: float | None = 30,
    program: int | None = None,
    noise_db: float | None = None,
    room: bool = False,
    soundfont: Path | str | None = None,
) -> GeneratedPerformance:
    """:func:`render_performance` from :func:`prepare_score`'s result (many takes of one work, parsed once)."""
    if sample_rate < 8000:
        raise ConfigurationError(f"sample_rate must be at least 8000 Hz, got {sample_rate!r}.")
    rng = np.random.default_rng(seed)
    chosen_program = int(rng.choice(LEARNER_PROGRAMS)) if program is None else int(program)
    reference = list(reference)
    performed, applied = apply_perturbations(reference, perturbations, rng)
    length = max(note.offset for note in performed) + 1.0 if performed else 1.0
    limit = min(seconds, length) if seconds is not None else length
    audio = synthesise(
        performed,
        program=chosen_program,
        sample_rate=sample_rate,
        seconds=limit,
        soundfont=Path(soundfont) if soundfont is not None else None,
    )
    audio, acoustics = microphone_and_room(audio, rng, sample_rate=sample_rate, noise_db=noise_db, room=room)
    labels: dict[str, int | float] = dict(feedback_labels(applied, perturbations, len(reference)))
    labels.update(emotion_of(character, reference, performed))
    render = {
        "seed": seed,
        "program": chosen_program,
        "soundfont": Path(soundfont).name if soundfont is not None else "default",
        "bpm": round(character.bpm, 2),
        "mode": character.mode,
        "dynamics": round(character.dynamics, 2),
        **acoustics,
    }
    return GeneratedPerformance(audio, sample_rate, list(reference), performed, applied, labels, render)


def split_works(
    work_ids: Sequence[str], *, seed: int, test_ratio: float = 0.25, validation_ratio: float = 0.15
) -> dict[str, list[str]]:
    """Disjoint train/validation/test lists of work ids, shuffled with ``seed`` (split by work, never by take)."""
    ids = sorted(set(work_ids))
    order = np.random.default_rng(seed).permutation(len(ids))
    shuffled = [ids[i] for i in order]
    n_test = max(1, int(round(test_ratio * len(ids)))) if len(ids) >= 3 else 0
    n_val = max(1, int(round(validation_ratio * len(ids)))) if len(ids) >= 3 else 0
    return {
        "test": sorted(shuffled[:n_test]),
        "validation": sorted(shuffled[n_test : n_test + n_val]),
        "train": sorted(shuffled[n_test + n_val :]),
    }
