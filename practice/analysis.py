"""A performance against its reference: alignment, note-level errors located in bars, and six dimensions.

How the ground truth is found (all on one CPU thread):

1. **Checks** a learner can act on, before anything costly: far too short or far too long for the
   excerpt, noise (no pitched content: high spectral flatness, no stable chroma).
2. **Alignment**: chroma (CQT) of the reference rendering and of the performance (leading and trailing
   silence trimmed), aligned with ``librosa.sequence.dtw`` (cosine cost). The mean cost along the path
   says whether this is the piece at all: above :data:`WRONG_PIECE_COST` (calibrated on generated
   performances, see the constant) it is another piece and nothing else is judged.
3. **Notes**: :func:`practice.transcription.transcribe` on both recordings. Notes the model does not hear
   in the clean reference rendering are not judged (their absence in the performance says nothing), and
   what it hears in the reference that the score does not hold (overtones) is not an extra note.
4. **Scoring** with ``mir_eval.transcription.match_notes``: the score's notes, moved to performance
   time through the alignment, against the notes heard (onset tolerance :data:`ONSET_TOLERANCE`, a
   quarter tone in pitch). Unmatched score notes with an unmatched heard note at the same moment are
   *wrong notes* ("F#4 played as F4"), the others *missed*; heard notes left over are *extra*.
5. **Timing** from the matched notes: a robust straight line (performance time against score time) is
   the learner's own steady pulse; a note's onset deviation is its distance from the local pulse (fit on
   its neighbours, without it), a bar's tempo is its length against the pulse (rushed below 1, dragged
   above), the drift is the trend of bar tempos from the first to the last bar.
6. **Dynamics** per bar: RMS level in dB relative to each recording's own mean, performance against
   reference; the spread of those levels is the dynamic contrast (expression).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.errors import AudioInputError
from practice.reference import Reference
from practice.transcription import HeardNote, transcribe

Progress = Callable[[float, str], None]

HOP = 1024
STEP_PENALTY = 0.2
#: A recording (trimmed) shorter than this share of the excerpt is taken as a part of it, not all of it.
PARTIAL_SHARE = 0.8
#: Mean cosine distance along the alignment path above which the recording is another piece. Calibrated on
#: generated performances (practice.variants: 5 works — 3 Essen tunes, a Bach chorale, a Ryan's reel —, each
#: with 3 bars 15 % faster and one wrong pitch): a performance against its own reference costs 0.001–0.042,
#: against the 4 other references 0.308–0.604. 0.2 leaves room for real microphones and timbres.
WRONG_PIECE_COST = 0.20
#: Median spectral flatness (loud frames) above which a recording is noise: the same 5 renderings measure
#: 0.00003–0.0007, white noise 0.56.
NOISE_FLATNESS = 0.20
MIN_SECONDS = 3.0
#: A recording shorter than this share of the excerpt cannot be judged as a performance of it.
MIN_SHARE = 0.4
#: ... and longer than this many times the excerpt (plus slack for count-in and pauses) is something else.
MAX_FACTOR = 2.5
MAX_SLACK_SECONDS = 15.0
ONSET_TOLERANCE = 0.15
#: Within this, a heard note at the moment of an unmatched score note is taken as a wrong note played for it.
WRONG_NOTE_WINDOW = 0.15
#: A note this far from the local pulse is early or late.
NOTE_DEVIATION_MS = 70.0
#: A bar this much shorter (longer) than the learner's pulse is rushed (dragged).
BAR_TEMPO_TOLERANCE = 0.07
#: Bars this much louder or softer than the score's dynamics ask for (relative to the whole) are flagged.
BAR_LEVEL_DB = 6.0

DIMENSIONS = ("pitch", "rhythm_timing", "tempo_stability", "dynamics", "articulation", "expression")


def _silent(progress: Progress | None) -> Progress:
    return progress or (lambda fraction, stage: None)


@dataclass
class NoteError:
    kind: str  # "wrong" | "missed" | "extra" | "early" | "late"
    bar: int
    time: float  # seconds in the performance
    expected: str | None = None
    played: str | None = None
    deviation_ms: float | None = None
    altered: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = {"kind": self.kind, "bar": self.bar, "time": round(self.time, 3)}
        if self.expected is not None:
            data["expected"] = self.expected
        if self.played is not None:
            data["played"] = self.played
        if self.deviation_ms is not None:
            data["deviation_ms"] = round(self.deviation_ms, 1)
        if self.kind == "wrong":
            data["accidental"] = self.altered
        return data


@dataclass
class BarReading:
    number: int
    ref_start: float
    start: float  # performance seconds
    end: float
    tempo_ratio: float | None  # performance bar length / (reference bar length x pulse); <1 rushed
    level_db: float | None  # performance level minus reference level, both relative to their means
    mean_deviation_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "bar": self.number,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "tempo_ratio": None if self.tempo_ratio is None else round(self.tempo_ratio, 3),
            "level_db": None if self.level_db is None else round(self.level_db, 2),
            "mean_deviation_ms": None if self.mean_deviation_ms is None else round(self.mean_deviation_ms, 1),
        }


@dataclass
class Analysis:
    duration: float
    alignment_cost: float
    pulse: float  # performance seconds per reference second (> 1: slower overall)
    drift: float  # relative tempo change from first to last bar (> 0: got slower)
    notes_judged: int
    matched: int
    errors: list[NoteError]
    bars: list[BarReading]
    dimensions: dict[str, float]
    #: Measured figures behind the dimensions, for the sentences and the API.
    figures: dict[str, Any] = field(default_factory=dict)


def _midi_name(pitch: int) -> str:
    import librosa

    return str(librosa.midi_to_note(pitch, unicode=False))


def check_recording(samples: np.ndarray, sample_rate: int, *, reference_seconds: float, name: str) -> None:
    """Refuse, with a kind message that says what to do, a recording that cannot be this excerpt played."""
    import librosa

    seconds = len(samples) / sample_rate
    shortest = max(MIN_SECONDS, MIN_SHARE * reference_seconds)
    if seconds < shortest:
        raise AudioInputError(
            f"the recording lasts {seconds:.1f} s, too short to hear the excerpt ({reference_seconds:.0f} s): "
            f"record at least {shortest:.0f} s, ideally the whole excerpt.",
            path=name,
        )
    longest = MAX_FACTOR * reference_seconds + MAX_SLACK_SECONDS
    if seconds > longest:
        raise AudioInputError(
            f"the recording lasts {seconds:.0f} s, far longer than the {reference_seconds:.0f} s excerpt: "
            f"stop recording after the excerpt (at most {longest:.0f} s), or trim the file.",
            path=name,
        )
    flatness = librosa.feature.spectral_flatness(y=samples, n_fft=2048, hop_length=HOP)[0]
    rms = librosa.feature.rms(y=samples, frame_length=2048, hop_length=HOP)[0]
    loud = flatness[rms > 0.1 * float(rms.max())] if rms.size else flatness
    if loud.size and float(np.median(loud)) > NOISE_FLATNESS:
        raise AudioInputError(
            "the recording sounds like noise, not like notes: check that the microphone picks up your instrument "
            "(closer to it, away from fans or traffic) and record again.",
            path=name,
        )


def _chroma(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    import librosa

    chroma = librosa.feature.chroma_cqt(y=samples, sr=sample_rate, hop_length=HOP, n_chroma=12)
    return np.asarray(chroma, dtype=np.float64) + 1e-6


def _trim(samples: np.ndarray) -> tuple[np.ndarray, int]:
    import librosa

    trimmed, (start, _) = librosa.effects.trim(samples, top_db=40)
    return trimmed, int(start)


@dataclass
class Alignment:
    cost: float
    ref_times: np.ndarray  # increasing
    perf_times: np.ndarray  # non-decreasing, same length

    def warp(self, seconds: np.ndarray | float) -> np.ndarray:
        return np.interp(seconds, self.ref_times, self.perf_times)


def align(reference_samples: np.ndarray, samples: np.ndarray, sample_rate: int) -> Alignment:
    """DTW over chroma: the mean path cost and a monotone map from reference to performance seconds."""
    import librosa

    ref_trimmed, ref_start = _trim(reference_samples)
    perf_trimmed, perf_start = _trim(samples)
    x = _chroma(ref_trimmed, sample_rate)
    y = _chroma(perf_trimmed, sample_rate)
    # An additive price on horizontal and vertical steps keeps the path diagonal unless the tempo really
    # changes: otherwise one wrong note (a changed chroma) bends the path around it.
    steps = np.array([0.0, STEP_PENALTY, STEP_PENALTY])
    if y.shape[1] < PARTIAL_SHARE * x.shape[1]:
        # A take of part of the excerpt: the whole recording is matched to the stretch of the score it plays
        # (subsequence DTW), and only that stretch is judged.
        cost_matrix, found = librosa.sequence.dtw(
            X=y, Y=x, metric="cosine", backtrack=True, subseq=True, weights_add=steps
        )
        path = found[::-1][:, ::-1]
        cost = float(cost_matrix[-1, path[-1, 0]]) / len(path)
    else:
        cost_matrix, found = librosa.sequence.dtw(X=x, Y=y, metric="cosine", backtrack=True, weights_add=steps)
        path = found[::-1]
        cost = float(cost_matrix[-1, -1]) / len(path)
    frame = HOP / sample_rate
    ref_frames = np.unique(path[:, 0])
    perf_mean = np.array([path[path[:, 0] == f, 1].mean() for f in ref_frames])
    ref_times = ref_frames * frame + ref_start / sample_rate
    perf_times = np.maximum.accumulate(perf_mean * frame + perf_start / sample_rate)
    return Alignment(cost=cost, ref_times=ref_times, perf_times=perf_times)


def _hz(pitches: list[int]) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(pitches, dtype=np.float64) - 69.0) / 12.0)


def _match(
    ref_onsets: np.ndarray, ref_pitches: list[int], heard: list[HeardNote], *, tolerance: float
) -> list[tuple[int, int]]:
    """mir_eval's bipartite note matching on onsets and pitch (offsets ignored)."""
    import mir_eval

    if not len(ref_onsets) or not heard:
        return []
    ref_intervals = np.stack([ref_onsets, ref_onsets + 0.1], axis=1)
    est_onsets = np.array([n.onset for n in heard])
    est_intervals = np.stack([est_onsets, est_onsets + 0.1], axis=1)
    return list(
        mir_eval.transcription.match_notes(
            ref_intervals,
            _hz(ref_pitches),
            est_intervals,
            _hz([n.pitch for n in heard]),
            onset_tolerance=tolerance,
            pitch_tolerance=50.0,
            offset_ratio=None,
        )
    )


def _robust_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Intercept and slope of y on x, refit once without points 0.25 s off (a slip must not bend the pulse)."""
    if len(x) < 2:
        return (float(y[0] - x[0]) if len(x) else 0.0), 1.0
    slope, intercept = np.polyfit(x, y, 1)
    keep = np.abs(y - (intercept + slope * x)) < 0.25
    if keep.sum() >= 2:
        slope, intercept = np.polyfit(x[keep], y[keep], 1)
    return float(intercept), float(slope)


def _local_deviation(x: np.ndarray, y: np.ndarray, index: int, window: float = 2.5) -> float | None:
    near = np.abs(x - x[index]) <= window
    near[index] = False
    near &= np.abs(x - x[index]) > 1e-6  # other voices of the same chord are not independent evidence
    if near.sum() < 3:
        return None
    intercept, slope = _robust_line(x[near], y[near])
    return float(y[index] - (intercept + slope * x[index]))


def _bar_levels(samples: np.ndarray, sample_rate: int, spans: list[tuple[float, float]]) -> np.ndarray:
    """RMS level in dB of each (start, end) span, minus the mean over spans."""
    levels = []
    for start, end in spans:
        a, b = int(max(start, 0) * sample_rate), int(max(end, start + 0.05) * sample_rate)
        chunk = samples[a:b]
        rms = float(np.sqrt(np.mean(np.square(chunk, dtype=np.float64)))) if chunk.size else 0.0
        levels.append(20.0 * np.log10(max(rms, 1e-6)))
    values = np.asarray(levels)
    return values - values.mean() if values.size else values


def analyse_performance(
    reference: Reference,
    reference_samples: np.ndarray,
    samples: np.ndarray,
    sample_rate: int,
    *,
    name: str = "recording",
    progress: Progress | None = None,
) -> Analysis:
    """Judge ``samples`` (mono, ``sample_rate``) against ``reference``; :class:`AudioInputError` for bad audio."""
    report = _silent(progress)
    check_recording(samples, sample_rate, reference_seconds=reference.seconds, name=name)
    report(0.15, "aligning with the score")
    alignment = align(reference_samples, samples, sample_rate)
    if alignment.cost > WRONG_PIECE_COST:
        raise AudioInputError(
            f"this does not sound like {reference.title!r}: the recording could not be followed along the score. "
            "Check that you picked the right piece and start from its first bar, then record again.",
            path=name,
        )
    report(0.35, "listening for notes")
    heard = transcribe(samples, sample_rate=sample_rate)
    report(0.8, "comparing with the score")
    notes = reference.notes
    # Which score notes can be heard at all: matched in the reference's own transcription.
    ref_pairs = _match(np.array([n.onset for n in notes]), [n.pitch for n in notes], reference.heard, tolerance=0.08)
    first_heard, last_heard = float(alignment.ref_times[0]) - 0.1, float(alignment.ref_times[-1]) + 0.1
    judged = sorted(i for i, j in ref_pairs if first_heard <= reference.heard[j].onset <= last_heard)
    heard_ref_onset = {i: reference.heard[j].onset for i, j in ref_pairs}
    phantom = [h for k, h in enumerate(reference.heard) if k not in {j for _, j in ref_pairs}]
    played_bars = [b for b in reference.bars if b.end > first_heard + 0.1 and b.start < last_heard - 0.1]
    expected_onsets = alignment.warp(np.array([heard_ref_onset[i] for i in judged])) if judged else np.zeros(0)
    pairs = _match(expected_onsets, [notes[i].pitch for i in judged], heard, tolerance=ONSET_TOLERANCE)
    if len(pairs) >= 4:
        # Second pass: the matched notes themselves are a finer map than the chroma alignment (which smooths
        # over a sudden change of tempo); notes left over are matched again through it.
        anchor_x = np.array([heard_ref_onset[judged[a]] for a, _ in sorted(pairs)])
        anchor_y = np.maximum.accumulate(np.array([heard[b].onset for _, b in sorted(pairs)]))
        refined = np.array(
            [
                np.interp(heard_ref_onset[i], anchor_x, anchor_y)
                if anchor_x[0] <= heard_ref_onset[i] <= anchor_x[-1]
                else expected_onsets[k]
                for k, i in enumerate(judged)
            ]
        )
        first = dict(pairs)
        rest = [k for k in range(len(judged)) if k not in first]
        taken = set(first.values())
        left = [h for h in range(len(heard)) if h not in taken]
        again = _match(
            refined[rest], [notes[judged[k]].pitch for k in rest], [heard[h] for h in left], tolerance=ONSET_TOLERANCE
        )
        pairs = list(first.items()) + [(rest[a], left[b]) for a, b in again]
        expected_onsets = refined
    matched_ref = {judged[a]: b for a, b in pairs}
    used_heard = {b for _, b in pairs}
    errors: list[NoteError] = []
    # Wrong and missed notes.
    free = [k for k in range(len(heard)) if k not in used_heard]
    for position, index in enumerate(judged):
        if index in matched_ref:
            continue
        note = notes[index]
        at = float(expected_onsets[position])
        candidates = [
            k
            for k in free
            if abs(heard[k].onset - at) <= WRONG_NOTE_WINDOW and 0 < abs(heard[k].pitch - note.pitch) <= 12
        ]
        if candidates:
            best = min(candidates, key=lambda k: (abs(heard[k].pitch - note.pitch) % 12 != 1, abs(heard[k].onset - at)))
            free.remove(best)
            errors.append(
                NoteError(
                    "wrong", note.bar, heard[best].onset, note.name, _midi_name(heard[best].pitch), altered=note.altered
                )
            )
        else:
            errors.append(NoteError("missed", note.bar, at, note.name))
    # Extra notes: heard, not in the score, not an overtone the reference shows too, not a re-attack.
    phantom_times = alignment.warp(np.array([p.onset for p in phantom])) if phantom else np.zeros(0)
    sounding = [(alignment.warp(n.onset), alignment.warp(max(n.offset, n.onset + 0.1)), n.pitch) for n in notes]
    perf_to_ref = _inverse(alignment)
    low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
    last_onset = float(alignment.warp(max(n.onset for n in notes)))
    for k in free:
        h = heard[k]
        if any(abs(t - h.onset) <= 0.12 and p.pitch == h.pitch for t, p in zip(phantom_times, phantom)):
            continue
        if any(s - 0.05 <= h.onset <= e and p == h.pitch for s, e, p in sounding):
            continue
        if h.offset - h.onset < 0.1 or h.amplitude < 0.3 or not low - 12 <= h.pitch <= high + 12:
            continue
        if h.onset > last_onset + 0.5:  # the rendering's or the recording's tail, not a note of the piece
            continue
        written = [
            n
            for (s_on, _, p), n in zip(sounding, notes)
            if abs(s_on - h.onset) <= WRONG_NOTE_WINDOW and 1 <= abs(p - h.pitch) <= 2
        ]
        if written and not any(
            abs(o.onset - h.onset) <= WRONG_NOTE_WINDOW and o.pitch == written[0].pitch for o in heard
        ):
            note = written[0]
            errors.append(NoteError("wrong", note.bar, h.onset, note.name, _midi_name(h.pitch), altered=note.altered))
            continue
        errors.append(
            NoteError("extra", reference.bar_at(float(perf_to_ref(h.onset))), h.onset, None, _midi_name(h.pitch))
        )
    # Timing from matched notes: reference (heard) onset -> performance onset.
    order = sorted(matched_ref)
    ref_x = np.array([heard_ref_onset[i] for i in order])
    perf_y = np.array([heard[matched_ref[i]].onset for i in order])
    intercept, pulse = _robust_line(ref_x, perf_y) if len(order) else (0.0, 1.0)
    deviations: dict[int, float] = {}
    for position, index in enumerate(order):
        deviation = _local_deviation(ref_x, perf_y, position)
        if deviation is None:
            continue
        deviations[index] = deviation * 1000.0
        if abs(deviations[index]) >= NOTE_DEVIATION_MS:
            errors.append(
                NoteError(
                    "late" if deviation > 0 else "early",
                    notes[index].bar,
                    float(perf_y[position]),
                    notes[index].name,
                    deviation_ms=deviations[index],
                )
            )
    # Bars: tempo against the pulse, level against the reference, mean deviation.
    if len(order) >= 2:
        note_map_x = np.concatenate([[0.0], ref_x])
        note_map_y = np.maximum.accumulate(np.concatenate([[float(alignment.warp(0.0))], perf_y]))
    else:
        note_map_x, note_map_y = alignment.ref_times, alignment.perf_times

    def to_perf(t: float) -> float:
        if note_map_x[0] <= t <= note_map_x[-1]:
            return float(np.interp(t, note_map_x, note_map_y))
        return float(alignment.warp(t))

    spans = [(to_perf(b.start), to_perf(b.end)) for b in played_bars]
    perf_levels = _bar_levels(samples, sample_rate, spans)
    ref_levels = _bar_levels(reference_samples, sample_rate, [(b.start, b.end) for b in played_bars])
    readings: list[BarReading] = []
    for position, bar in enumerate(played_bars):
        start, end = spans[position]
        ref_length = bar.end - bar.start
        in_bar = [x for x in order if notes[x].bar == bar.number and bar.start - 1e-3 <= notes[x].onset < bar.end]
        ratio = (end - start) / (ref_length * pulse) if ref_length > 0.4 and len(in_bar) >= 1 and pulse > 0 else None
        bar_devs = [deviations[x] for x in in_bar if x in deviations]
        readings.append(
            BarReading(
                number=bar.number,
                ref_start=bar.start,
                start=start,
                end=end,
                tempo_ratio=ratio,
                level_db=float(perf_levels[position] - ref_levels[position]) if len(perf_levels) else None,
                mean_deviation_ms=float(np.mean(bar_devs)) if bar_devs else None,
            )
        )
    measured = [r.tempo_ratio for r in readings if r.tempo_ratio is not None]
    if measured:
        # Against the learner's typical bar, not the straight line: a few rushed bars bend the line.
        typical = float(np.median(measured))
        for reading in readings:
            if reading.tempo_ratio is not None:
                reading.tempo_ratio = reading.tempo_ratio / typical
    ratios = np.array([r.tempo_ratio for r in readings if r.tempo_ratio is not None])
    drift = 0.0
    if len(ratios) >= 4:
        slope = np.polyfit(np.arange(len(ratios)), ratios, 1)[0]
        drift = float(slope * (len(ratios) - 1))
    # Articulation: heard length of matched notes against the reference's heard length of the same notes.
    ref_heard_by_index = {i: reference.heard[j] for i, j in ref_pairs}
    length_ratios = [
        (heard[matched_ref[i]].offset - heard[matched_ref[i]].onset)
        / max(ref_heard_by_index[i].offset - ref_heard_by_index[i].onset, 0.05)
        / max(pulse, 0.1)
        for i in order
    ]
    articulation_ratio = float(np.median(length_ratios)) if length_ratios else 1.0
    level_diffs = np.array([r.level_db for r in readings if r.level_db is not None])
    contrast_ratio = float(np.std(perf_levels) / max(np.std(ref_levels), 0.5)) if len(perf_levels) > 1 else 1.0
    counts = {kind: sum(1 for e in errors if e.kind == kind) for kind in ("wrong", "missed", "extra", "early", "late")}
    total = max(len(judged), 1)
    abs_devs = np.abs(np.array(list(deviations.values()))) if deviations else np.zeros(0)
    dimensions = {
        "pitch": _clip(1.0 - (counts["wrong"] + counts["missed"] + 0.5 * counts["extra"]) / total),
        "rhythm_timing": _clip(1.0 - float(np.mean(abs_devs)) / 150.0) if abs_devs.size else 1.0,
        "tempo_stability": _clip(1.0 - (float(np.std(ratios)) if ratios.size else 0.0) / 0.2 - abs(drift) / 0.5),
        "dynamics": _clip(1.0 - float(np.mean(np.abs(level_diffs))) / 12.0) if level_diffs.size else 1.0,
        "articulation": _clip(1.0 - abs(float(np.log2(max(articulation_ratio, 1e-3)))) / 1.5),
        "expression": _clip(min(contrast_ratio, 1.0 / max(contrast_ratio, 1e-3))),
    }
    figures = {
        "counts": counts,
        "notes_judged": len(judged),
        "notes_matched": len(order),
        "mean_abs_deviation_ms": round(float(np.mean(abs_devs)), 1) if abs_devs.size else 0.0,
        "pulse": round(pulse, 4),
        "drift": round(drift, 4),
        "articulation_ratio": round(articulation_ratio, 3),
        "dynamic_contrast_ratio": round(contrast_ratio, 3),
        "alignment_cost": round(alignment.cost, 4),
    }
    report(0.95, "writing feedback")
    return Analysis(
        duration=len(samples) / sample_rate,
        alignment_cost=alignment.cost,
        pulse=pulse,
        drift=drift,
        notes_judged=len(judged),
        matched=len(order),
        errors=sorted(errors, key=lambda e: (e.time, e.kind)),
        bars=readings,
        dimensions={k: round(v, 3) for k, v in dimensions.items()},
        figures=figures,
    )


def _clip(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def _inverse(alignment: Alignment) -> Callable[[float], float]:
    perf, ref = alignment.perf_times, alignment.ref_times

    def inverse(seconds: float) -> float:
        return float(np.interp(seconds, perf, ref))

    return inverse
