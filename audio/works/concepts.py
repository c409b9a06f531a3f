"""Which curriculum concepts a work exercises, measured on its score with music21 (never guessed from a title).

Each detector reads the notation and returns a :class:`ConceptEvidence` — the concept id of
``curriculum/data/curriculum.json``, the measured quantity and a sentence saying how it was found
("arpeggio figures: 34% of notes") — or nothing. The load writes them as ``Work -EXERCISES_CONCEPT->
Concept`` with that sentence as the relation's ``how`` and the numbers as its properties
(:func:`audio.works.graph_records.work_graph_records`).

The score is read as **lines**: one per part, or one per voice of a part that has voices (a piano's
hands). Grace notes are ignored; a tied continuation is part of the note it continues; a rest or a chord
ends a *segment* (melodic figures never run across one). "Notes" below are the onsets of single notes.

Detectors and their thresholds (chosen on the loaded corpus, hand-checked; see the README):

* ``arpeggios`` — an **arpeggio figure** is 3 consecutive notes of a segment, each step a leap of 3 to 12
  semitones, whose 3 pitch classes form a major, minor, diminished or augmented triad (any inversion,
  any direction, so an Alberti bass C–G–E counts). Linked when the notes inside such figures are at least
  :data:`ARPEGGIO_SHARE` of all notes and there are at least :data:`MIN_FIGURES` figures.
* ``major-scale`` / ``minor-scales`` / ``modes`` — a **scale run** is at least :data:`RUN_LENGTH`
  consecutive notes moving by 1 or 2 semitones in one direction. Linked (by the work's key mode) when the
  notes inside runs are at least :data:`RUN_SHARE` of all notes. A key the score itself states as a
  church mode (``K:Ador``, ``*G:mix``) also links ``modes``.
* ``chromatic-scale`` — a **chromatic run**: at least :data:`CHROMATIC_RUN_LENGTH` consecutive notes moving
  by a semitone in one direction; at least :data:`MIN_CHROMATIC_RUNS` of them.
* ``key-signatures`` — a key signature of at least :data:`MIN_SIGNATURE_ACCIDENTALS` sharps or flats.
* ``dotted-notes-and-ties`` — dotted or tied notes at least :data:`DOTTED_SHARE` of the notes.
* ``compound-metre`` — a compound time signature (6/8, 9/8, 12/8: music21's classification), or
  triplets at least :data:`TRIPLET_SHARE` of the notes.
* ``odd-metres`` — a time signature of 5, 7, 11 or 13 beats.
* ``syncopation`` — a note that starts off the beat and is held across the next beat (or tied over it),
  at least :data:`SYNCOPATION_SHARE` of the notes.
* ``ornamentation`` — at least :data:`MIN_ORNAMENTS` written ornaments (trills, mordents, turns,
  grace notes).
* ``modulation`` — Krumhansl-Schmuckler keys of 8-bar windows (hop 4 bars): two consecutive windows,
  after the first, in one key whose signature differs from the home key's, each with correlation at
  least :data:`MODULATION_MIN_R` (so at least 12 bars away). The home key is the work's key fact unless
  the windows mostly agree on another signature. Conservative on purpose: a move to the relative key
  (same signature) is not counted, because the key finder confuses relative keys; works of the
  medieval and Renaissance eras are not looked at (modal, not tonal, music).
* ``counterpoint`` — **imitation**: the same melodic shape (4 diatonic steps and 5 durations) entering in
  another part 1 to 16 quarter notes later, at least :data:`MIN_IMITATIONS` times, in a work of a
  contrapuntal form (:data:`CONTRAPUNTAL_FORMS`: mass, motet, madrigal, chanson, canon, caccia, fugue).
* ``voice-leading`` — a chorale (the form fact) in four parts: the model of four-part writing.
* ``binary-and-ternary-form`` — a dance form (minuet, reel, jig, hornpipe, waltz…) whose score has at
  least two repeated sections (repeat barlines).

Why one module and its own cache: detectors change more often than what the load reads from a score,
so they carry their own :data:`CONCEPTS_VERSION` and cache (``works/concepts/``), and improving one
re-reads the scores without re-analysing or re-rendering anything.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from audio.cache import atomic_write_bytes

#: Bump when a detector or threshold changes: every score is read for concepts again (nothing re-rendered).
CONCEPTS_VERSION = 2
#: The ``source`` of an EXERCISES_CONCEPT link starts with this (then the corpus path), and its ``how``
#: names the detector.
DETECTOR_PREFIX = "music21-detector:"

ARPEGGIO_SHARE = 0.15
MIN_FIGURES = 5
RUN_LENGTH = 5
RUN_SHARE = 0.20
CHROMATIC_RUN_LENGTH = 5
MIN_CHROMATIC_RUNS = 2
MIN_SIGNATURE_ACCIDENTALS = 3
DOTTED_SHARE = 0.12
TRIPLET_SHARE = 0.10
SYNCOPATION_SHARE = 0.06
MIN_ORNAMENTS = 3
MODULATION_WINDOW_BARS = 8
MODULATION_HOP_BARS = 4
MODULATION_MIN_R = 0.8
MIN_IMITATIONS = 4
MIN_NOTES = 16  # fewer notes than this say nothing about a share

TRIAD_SHAPES = frozenset({(0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 8)})
ODD_NUMERATORS = frozenset({5, 7, 11, 13})
DANCE_FORMS = frozenset(
    {
        "minuet",
        "reel",
        "jig",
        "slip-jig",
        "hornpipe",
        "waltz",
        "polka",
        "strathspey",
        "gavotte",
        "schottische",
        "march",
        "clog",
        "highland-fling",
        "slide",
        "quickstep",
        "mazurka",
        "polonaise",
    }
)
MODES = frozenset({"dorian", "phrygian", "lydian", "mixolydian", "locrian"})
#: Forms whose writing is contrapuntal by definition; imitation is looked for only in these (quartets and
#: songs repeat accompaniment figures across parts, which the imitation count cannot tell from imitation).
CONTRAPUNTAL_FORMS = frozenset({"mass", "motet", "madrigal", "chanson", "canon", "caccia", "fugue"})
#: Eras before common-practice tonality: key-finding windows say nothing about modulation there.
MODAL_ERAS = frozenset({"medieval", "renaissance"})

# Krumhansl-Kessler key profiles (C major, C minor), as in music21's ``key.krumhansl``.
_MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
_MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
_PC_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")


@dataclass(frozen=True)
class ConceptEvidence:
    """One concept a work exercises: the detector, what it measured, and a sentence for people."""

    concept: str
    detector: str
    how: str
    measure: dict[str, Any] = field(default_factory=dict)
    #: 0–1: how far above its threshold the measure is (1.0 for facts the score states).
    confidence: float = 1.0


@dataclass(frozen=True)
class ScoreConcepts:
    """What the concept detectors found in one score, and a difficulty signal (JSON-cached)."""

    evidence: tuple[ConceptEvidence, ...]
    notes: int
    #: Onsets per quarter note in the busiest line: a rough difficulty signal (busier = harder).
    notes_per_beat: float

    def to_json(self) -> dict:
        return {
            "evidence": [asdict(e) for e in self.evidence],
            "notes": self.notes,
            "notes_per_beat": self.notes_per_beat,
        }

    @classmethod
    def from_json(cls, data: dict) -> ScoreConcepts:
        return cls(
            evidence=tuple(ConceptEvidence(**e) for e in data["evidence"]),
            notes=int(data["notes"]),
            notes_per_beat=float(data["notes_per_beat"]),
        )


# --- reading the score as lines ----------------------------------------------------------------------


@dataclass
class LineNote:
    midi: int
    diatonic: int
    offset: float  # from the start of the score, in quarter notes
    quarter_length: float  # including tied continuations
    beat_position: float | None  # in beats from the start of the bar; None without a time signature
    beat_length: float | None  # quarter notes per beat
    dotted: bool
    tied_on: bool  # tied into the next note
    triplet: bool


@dataclass
class Line:
    part: int
    segments: list[list[LineNote]]

    @property
    def notes(self) -> list[LineNote]:
        return [n for segment in self.segments for n in segment]


def score_lines(score) -> list[Line]:
    """The score's lines (see the module doc), each cut into segments at rests and chords."""
    from music21 import chord, meter, note, stream

    lines: list[Line] = []
    parts = list(score.parts) or [score]
    for part_index, part in enumerate(parts):
        by_voice: dict[int, list[list[LineNote]]] = defaultdict(lambda: [[]])
        last: dict[int, LineNote] = {}
        signature = None
        measures = list(part.getElementsByClass(stream.Measure))
        containers = measures or [part.flatten()]
        for measure in containers:
            found = measure.getElementsByClass(meter.TimeSignature).first() if measures else None
            if found is not None:
                signature = found
            elif signature is None and measures:
                signature = measure.getContextByClass(meter.TimeSignature)
            beat_length = float(signature.beatDuration.quarterLength) if signature is not None else None
            padding = float(getattr(measure, "paddingLeft", 0.0) or 0.0) if measures else 0.0
            base = float(measure.getOffsetBySite(part)) if measures else 0.0
            voices = list(measure.voices) if measures else []
            sources = [(i, v, float(v.offset)) for i, v in enumerate(voices)] or [(0, measure, 0.0)]
            for voice_index, source, voice_offset in sources:
                segments = by_voice[voice_index]
                for element in source.notesAndRests:
                    if element.duration.isGrace:
                        continue
                    if isinstance(element, note.Note):
                        tie = element.tie.type if element.tie is not None else None
                        if tie in ("stop", "continue") and voice_index in last:
                            previous = last[voice_index]
                            previous.quarter_length += float(element.quarterLength)
                            previous.tied_on = tie == "continue"
                            continue
                        in_bar = voice_offset + float(element.offset)
                        position = (in_bar + padding) / beat_length if beat_length else None
                        item = LineNote(
                            midi=int(element.pitch.midi),
                            diatonic=int(element.pitch.diatonicNoteNum),
                            offset=base + in_bar,
                            quarter_length=float(element.quarterLength),
                            beat_position=position,
                            beat_length=beat_length,
                            dotted=element.duration.dots > 0,
                            tied_on=tie == "start",
                            triplet=any(
                                t.numberNotesActual == 3 and t.numberNotesNormal == 2 for t in element.duration.tuplets
                            ),
                        )
                        segments[-1].append(item)
                        last[voice_index] = item
                    elif isinstance(element, (note.Rest, chord.Chord)):
                        last.pop(voice_index, None)
                        if segments[-1]:
                            segments.append([])
        for voice_index in sorted(by_voice):
            segments = [s for s in by_voice[voice_index] if s]
            if segments:
                lines.append(Line(part=part_index, segments=segments))
    return lines


# --- detectors on lines -----------------------------------------------------------------------------


def is_triad(pitch_classes: Iterable[int]) -> bool:
    """Three distinct pitch classes forming a major, minor, diminished or augmented triad."""
    pcs = set(pitch_classes)
    if len(pcs) != 3:
        return False
    for root in pcs:
        shape = tuple(sorted((pc - root) % 12 for pc in pcs))
        if shape in TRIAD_SHAPES:
            return True
    return False


def arpeggio_figures(lines: Sequence[Line]) -> tuple[int, int]:
    """(figures, notes inside figures): 3-note windows of leaps (3–12 semitones) outlining a triad."""
    figures = 0
    covered: set[int] = set()
    for line in lines:
        for segment in line.segments:
            for i in range(len(segment) - 2):
                a, b, c = segment[i : i + 3]
                steps = (abs(b.midi - a.midi), abs(c.midi - b.midi))
                if all(3 <= s <= 12 for s in steps) and is_triad(n.midi % 12 for n in (a, b, c)):
                    figures += 1
                    covered.update(id(n) for n in (a, b, c))
    return figures, len(covered)


def _runs(lines: Sequence[Line], *, allowed: frozenset[int], min_length: int) -> list[int]:
    """Lengths (in notes) of maximal runs moving by an ``allowed`` step in one direction."""
    lengths: list[int] = []
    for line in lines:
        for segment in line.segments:
            length, direction = 1, 0
            for a, b in zip(segment, segment[1:], strict=False):
                step = b.midi - a.midi
                sign = (step > 0) - (step < 0)
                if abs(step) in allowed and (length == 1 or sign == direction):
                    length, direction = length + 1, sign
                    continue
                if length >= min_length:
                    lengths.append(length)
                length, direction = (2, sign) if abs(step) in allowed else (1, 0)
            if length >= min_length:
                lengths.append(length)
    return lengths


def scale_runs(lines: Sequence[Line]) -> list[int]:
    return _runs(lines, allowed=frozenset({1, 2}), min_length=RUN_LENGTH)


def chromatic_runs(lines: Sequence[Line]) -> list[int]:
    return _runs(lines, allowed=frozenset({1}), min_length=CHROMATIC_RUN_LENGTH)


def syncopated_notes(lines: Sequence[Line]) -> int:
    """Notes starting off the beat and held across the next beat, or tied on from an off-beat start."""
    count = 0
    for line in lines:
        for n in line.notes:
            if n.beat_position is None or not n.beat_length:
                continue
            fraction = n.beat_position - math.floor(n.beat_position + 1e-6)
            if fraction < 1e-6 or fraction > 1 - 1e-6:
                continue
            end = n.beat_position + n.quarter_length / n.beat_length
            if end > math.floor(n.beat_position) + 1 + 1e-6 or n.tied_on:
                count += 1
    return count


def imitations(lines: Sequence[Line], *, shape: int = 5, max_delay: float = 16.0) -> int:
    """Entries of a 5-note melodic shape (diatonic steps and durations) in another part 1–16 quarters later."""
    entries: dict[tuple, list[tuple[int, float]]] = defaultdict(list)
    for line in lines:
        for segment in line.segments:
            for i in range(len(segment) - shape + 1):
                window = segment[i : i + shape]
                steps = tuple(b.diatonic - a.diatonic for a, b in zip(window, window[1:], strict=False))
                if sum(1 for s in steps if s) < 2:
                    continue  # repeated notes are not a shape
                durations = tuple(round(n.quarter_length, 3) for n in window)
                entries[(steps, durations)].append((line.part, window[0].offset))
    found = 0
    for occurrences in entries.values():
        if len({part for part, _ in occurrences}) < 2:
            continue
        occurrences.sort(key=lambda o: o[1])
        for (part_a, at_a), (part_b, at_b) in zip(occurrences, occurrences[1:], strict=False):
            if part_a != part_b and 1.0 <= at_b - at_a <= max_delay:
                found += 1
    return found


def krumhansl_key(histogram: Sequence[float]) -> tuple[int, str, float]:
    """(tonic pitch class, mode, correlation) of a duration-weighted pitch-class histogram."""
    best = (0, "major", -2.0)
    for mode, profile in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE)):
        for tonic in range(12):
            rotated = [profile[(pc - tonic) % 12] for pc in range(12)]
            r = _correlation(histogram, rotated)
            if r > best[2]:
                best = (tonic, mode, r)
    return best


def _correlation(xs: Sequence[float], ys: Sequence[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    vx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    vy = math.sqrt(sum((y - my) ** 2 for y in ys))
    return cov / (vx * vy) if vx and vy else 0.0


def signature_of(tonic_pc: int, mode: str) -> int:
    """Sharps (positive) or flats (negative) of a major or minor key's signature, flats preferred for 6."""
    major_pc = tonic_pc if mode == "major" else (tonic_pc + 3) % 12
    fifths = (major_pc * 7) % 12
    return fifths - 12 if fifths > 5 else fifths


def key_name(tonic_pc: int, mode: str) -> str:
    name = _PC_NAMES[tonic_pc]
    name = name[0] + name[1:].replace("-", "♭").replace("#", "♯")
    return f"{name if mode == 'major' else name.lower()} {mode}"


def window_keys(lines: Sequence[Line], *, bar_length: float) -> list[tuple[float, int, str, float]]:
    """``(start, tonic pitch class, mode, correlation)`` of every 8-bar window, hop 4 bars."""
    window, hop = MODULATION_WINDOW_BARS * bar_length, MODULATION_HOP_BARS * bar_length
    notes = [n for line in lines for n in line.notes]
    if not notes:
        return []
    end = max(n.offset + n.quarter_length for n in notes)
    keys: list[tuple[float, int, str, float]] = []
    start = 0.0
    while start + window <= end + 1e-6:
        histogram = [0.0] * 12
        for n in notes:
            overlap = min(n.offset + n.quarter_length, start + window) - max(n.offset, start)
            if overlap > 0:
                histogram[n.midi % 12] += overlap
        keys.append((start, *krumhansl_key(histogram)))
        start += hop
    return keys


def modulation(
    lines: Sequence[Line], *, home: tuple[int, str], bar_length: float | None
) -> tuple[str, float, float, float] | None:
    """(key, correlation, first bar, last bar) of the first region away from the home key; None if none.

    The home key is ``home`` (the work's key fact) unless the windows' most frequent confident key
    signature is another one: then the fact is probably wrong (a transposed edition, a key finder's
    slip) and the windows' own majority is home, so a wrong key fact cannot make a modulation up.
    A region starting in the first window does not count either (it says the home key is off).
    """
    if not bar_length:
        return None
    keys = window_keys(lines, bar_length=bar_length)
    confident = [signature_of(tonic, mode) for _, tonic, mode, r in keys if r >= MODULATION_MIN_R]
    if not confident:
        return None
    counts = Counter(confident)
    home_signature = signature_of(*home)
    if counts[home_signature] < max(counts.values()):
        home_signature = counts.most_common(1)[0][0]
    for previous, current in zip(keys, keys[1:], strict=False):
        start, tonic, mode, r = current
        if (
            previous[0] > 0
            and previous[1:3] == (tonic, mode)
            and min(r, previous[3]) >= MODULATION_MIN_R
            and signature_of(tonic, mode) != home_signature
        ):
            last = (start + MODULATION_WINDOW_BARS * bar_length) / bar_length
            return key_name(tonic, mode), round(min(r, previous[3]), 3), previous[0] / bar_length + 1, last
    return None


# --- the detectors on a whole score ------------------------------------------------------------------


_MODE_TONIC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _pc_of(name: str) -> int:
    pc = _MODE_TONIC[name[0].upper()]
    for ch in name[1:]:
        pc += 1 if ch == "#" else -1 if ch == "-" else 0
    return pc % 12


def _share(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


def _above(value: float, threshold: float) -> float:
    """Confidence of a share above its threshold: 0.6 at the threshold, 1.0 at twice it."""
    return round(min(1.0, 0.6 + 0.4 * (value - threshold) / threshold), 3) if threshold else 1.0


def detect_concepts(
    score,
    *,
    key_tonic: str | None,
    key_mode: str | None,
    key_source: str,
    form: str | None,
    era: str | None = None,
) -> ScoreConcepts:
    """Run every detector of the module doc on a parsed score and the facts already read from it."""
    from music21 import bar, expressions, key, meter

    lines = score_lines(score)
    notes = [n for line in lines for n in line.notes]
    total = len(notes)
    evidence: list[ConceptEvidence] = []

    def add(concept: str, detector: str, how: str, confidence: float = 1.0, **measure: Any) -> None:
        evidence.append(ConceptEvidence(concept, detector, how, measure, confidence))

    enough = total >= MIN_NOTES
    if enough:
        figures, covered = arpeggio_figures(lines)
        share = _share(covered, total)
        if share >= ARPEGGIO_SHARE and figures >= MIN_FIGURES:
            add(
                "arpeggios",
                "arpeggio-figures.v1",
                f"arpeggio figures: {share:.0%} of notes ({figures} figures)",
                _above(share, ARPEGGIO_SHARE),
                share=share,
                figures=figures,
            )
        runs = scale_runs(lines)
        share = _share(sum(runs), total)
        if share >= RUN_SHARE and key_mode:
            concept = {"major": "major-scale", "minor": "minor-scales"}.get(
                key_mode, "modes" if key_mode in MODES else ""
            )
            if concept:
                add(
                    concept,
                    "scale-runs.v1",
                    f"scale runs of {RUN_LENGTH}+ stepwise notes: {share:.0%} of notes ({len(runs)} runs, longest {max(runs)}), in a {key_mode} key",
                    _above(share, RUN_SHARE),
                    share=share,
                    runs=len(runs),
                    longest=max(runs),
                    mode=key_mode,
                )
        chromatic = chromatic_runs(lines)
        if len(chromatic) >= MIN_CHROMATIC_RUNS:
            add(
                "chromatic-scale",
                "chromatic-runs.v1",
                f"{len(chromatic)} chromatic runs of {CHROMATIC_RUN_LENGTH}+ notes by semitones (longest {max(chromatic)})",
                min(1.0, 0.6 + 0.1 * (len(chromatic) - MIN_CHROMATIC_RUNS)),
                runs=len(chromatic),
                longest=max(chromatic),
            )
        dotted = sum(1 for n in notes if n.dotted or n.tied_on)
        share = _share(dotted, total)
        if share >= DOTTED_SHARE:
            add(
                "dotted-notes-and-ties",
                "dotted-notes.v1",
                f"dotted or tied notes: {share:.0%} of notes",
                _above(share, DOTTED_SHARE),
                share=share,
                notes=dotted,
            )
        syncopated = syncopated_notes(lines)
        share = _share(syncopated, total)
        if share >= SYNCOPATION_SHARE:
            add(
                "syncopation",
                "syncopation.v1",
                f"notes held or tied across the beat from an off-beat start: {share:.0%} of notes",
                _above(share, SYNCOPATION_SHARE),
                share=share,
                notes=syncopated,
            )
        triplets = sum(1 for n in notes if n.triplet)
        share = _share(triplets, total)
        if share >= TRIPLET_SHARE:
            add(
                "compound-metre",
                "triplets.v1",
                f"triplets: {share:.0%} of notes",
                _above(share, TRIPLET_SHARE),
                share=share,
                notes=triplets,
            )

    signatures = list(score.recurse().getElementsByClass(meter.TimeSignature))
    compound = sorted({ts.ratioString for ts in signatures if "Compound" in _classification(ts)})
    if compound and not any(e.concept == "compound-metre" for e in evidence):
        add(
            "compound-metre", "time-signature.v1", f"compound time signature {', '.join(compound)}", signatures=compound
        )
    odd = sorted({ts.ratioString for ts in signatures if ts.numerator in ODD_NUMERATORS})
    if odd:
        add("odd-metres", "time-signature.v1", f"time signature {', '.join(odd)}", signatures=odd)

    key_signature = score.recurse().getElementsByClass(key.KeySignature).first()
    if key_signature is not None and abs(key_signature.sharps) >= MIN_SIGNATURE_ACCIDENTALS:
        count = abs(key_signature.sharps)
        kind = "sharps" if key_signature.sharps > 0 else "flats"
        add("key-signatures", "key-signature.v1", f"key signature of {count} {kind}", accidentals=key_signature.sharps)
    if key_mode in MODES and key_source == "score" and not any(e.concept == "modes" for e in evidence):
        add("modes", "stated-mode.v1", f"the score states a {key_mode} key ({key_tonic} {key_mode})", mode=key_mode)

    ornaments = sum(
        1
        for n in score.recurse().notes
        for e in n.expressions
        if isinstance(e, (expressions.Ornament, expressions.Trill))
    ) + sum(1 for n in score.recurse().notes if n.duration.isGrace)
    if ornaments >= MIN_ORNAMENTS:
        add(
            "ornamentation",
            "ornaments.v1",
            f"{ornaments} written ornaments (trills, mordents, turns, grace notes)",
            min(1.0, 0.6 + 0.04 * (ornaments - MIN_ORNAMENTS)),
            ornaments=ornaments,
        )

    bar_length = float(signatures[0].barDuration.quarterLength) if signatures else None
    if enough and key_tonic and key_mode in ("major", "minor") and era not in MODAL_ERAS:
        found = modulation(lines, home=(_pc_of(key_tonic), key_mode), bar_length=bar_length)
        if found:
            name, r, first, last = found
            add(
                "modulation",
                "windowed-krumhansl.v1",
                f"Krumhansl-Schmuckler keys of 8-bar windows: bars {first:.0f}–{last:.0f} in {name} (r={r:.2f}), away from the home key",
                round(min(1.0, r), 3),
                key=name,
                correlation=r,
                bars=[round(first), round(last)],
            )

    parts = {line.part for line in lines}
    if len(parts) >= 2 and form in CONTRAPUNTAL_FORMS:
        entries = imitations(lines)
        if entries >= MIN_IMITATIONS:
            add(
                "counterpoint",
                "imitation.v1",
                f"imitation: {entries} entries of a 5-note shape repeated in another part 1–16 quarter notes later",
                min(1.0, 0.6 + 0.02 * (entries - MIN_IMITATIONS)),
                imitations=entries,
                parts=len(parts),
            )
    if form == "chorale" and len(score.parts) == 4:
        add("voice-leading", "form-fact.v1", "a four-part chorale: the model of four-part writing", parts=4)
    if form in DANCE_FORMS:
        repeats = sum(1 for b in score.recurse().getElementsByClass(bar.Repeat) if b.direction == "end")
        if repeats >= 2:
            add(
                "binary-and-ternary-form",
                "repeated-sections.v1",
                f"a {form.replace('-', ' ')} built of repeated sections ({repeats} end-repeat barlines)",
                0.8,
                repeats=repeats,
            )

    busiest = 0.0
    for line in lines:
        line_notes = line.notes
        if len(line_notes) >= 2:
            span = line_notes[-1].offset + line_notes[-1].quarter_length - line_notes[0].offset
            busiest = max(busiest, len(line_notes) / span if span > 0 else 0.0)
    return ScoreConcepts(evidence=tuple(evidence), notes=total, notes_per_beat=round(busiest, 3))


def _classification(ts) -> str:
    try:
        return str(ts.classification)
    except Exception:
        return ""


# --- the cache -------------------------------------------------------------------------------------


def concepts_cache_path(cache_dir: Path, analysis_key: str) -> Path:
    return cache_dir / "concepts" / f"v{CONCEPTS_VERSION}-{analysis_key}.json"


def load_cached_concepts(path: Path) -> ScoreConcepts | None:
    if not path.is_file():
        return None
    try:
        return ScoreConcepts.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_cached_concepts(path: Path, found: ScoreConcepts) -> None:
    atomic_write_bytes(
        path, (json.dumps(found.to_json(), sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode()
    )


def concept_counts(found: Iterable[ScoreConcepts]) -> dict[str, int]:
    return dict(Counter(e.concept for f in found for e in f.evidence).most_common())
