"""The rule baseline: a few alignment features against a clean reference render, and fitted thresholds.

It knows the score (through a clean render of it, piano, default SoundFont) and uses no learning
beyond two thresholds per dimension. Features (chroma and onsets with librosa, DTW with
``librosa.sequence.dtw``; performance against reference):

* ``chroma_cost`` – mean cosine cost along the chroma DTW path (wrong, missed, extra notes → pitch);
* ``onset_error_ms`` – median distance from each performed onset, mapped through the smooth (quadratic)
  fit of the DTW path, to the nearest reference onset (timing jitter → rhythm);
* ``tempo_change`` – relative change of the path's slope from start to end of the quadratic fit (tempo);
* ``dynamic_range_ratio`` – spread (dB) of the performance's frame loudness over the reference's (dynamics);
* ``gap_change`` – fraction of quiet frames (below -30 dB of peak) in the performance minus the reference
  (shorter notes leave gaps → articulation).

Thresholds: for each dimension, two cut points on one score (expression: the sum of the standardised
dynamics, tempo and articulation scores) chosen to maximise accuracy on the training takes only
(:func:`fit_rule_baseline`). The product's alignment module may later replace these features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from practice.synthesis import FEEDBACK_DIMENSIONS

BASELINE_FEATURES: tuple[str, ...] = (
    "chroma_cost",
    "onset_error_ms",
    "tempo_change",
    "dynamic_range_ratio",
    "gap_change",
)
HOP = 512


def _loudness_db(audio: np.ndarray) -> np.ndarray:
    import librosa

    rms = librosa.feature.rms(y=audio, frame_length=2048, hop_length=HOP)[0]
    return 20 * np.log10(rms / (rms.max() + 1e-9) + 1e-6)


def baseline_features(performance: np.ndarray, reference: np.ndarray, *, sample_rate: int) -> list[float]:
    """The :data:`BASELINE_FEATURES` of one performance against the clean reference render."""
    import librosa

    perf_chroma = librosa.feature.chroma_stft(y=performance, sr=sample_rate, hop_length=HOP)
    ref_chroma = librosa.feature.chroma_stft(y=reference, sr=sample_rate, hop_length=HOP)
    cost, path = librosa.sequence.dtw(X=perf_chroma, Y=ref_chroma, metric="cosine")
    path = path[::-1]
    chroma_cost = float(cost[-1, -1] / len(path))
    i, j = path[:, 0].astype(float), path[:, 1].astype(float)
    coefficients = np.polyfit(i, j, 2) if len(i) > 3 else np.array([0.0, 1.0, 0.0])
    span = max(i.max(), 1.0)
    slope_start = coefficients[1]
    slope_end = 2 * coefficients[0] * span + coefficients[1]
    tempo_change = float(abs(slope_end - slope_start) / max(abs(slope_start + slope_end) / 2, 1e-3))
    frame_seconds = HOP / sample_rate
    perf_onsets = librosa.onset.onset_detect(y=performance, sr=sample_rate, hop_length=HOP, units="frames")
    ref_onsets = librosa.onset.onset_detect(y=reference, sr=sample_rate, hop_length=HOP, units="frames")
    if len(perf_onsets) and len(ref_onsets):
        mapped = np.polyval(coefficients, perf_onsets.astype(float))
        distances = np.abs(mapped[:, None] - ref_onsets[None, :].astype(float)).min(axis=1)
        onset_error = float(np.median(distances) * frame_seconds * 1000)
    else:
        onset_error = 500.0
    perf_db, ref_db = _loudness_db(performance), _loudness_db(reference)
    active_perf, active_ref = perf_db[perf_db > -40], ref_db[ref_db > -40]
    spread_perf = float(np.std(active_perf)) if len(active_perf) > 1 else 0.0
    spread_ref = float(np.std(active_ref)) if len(active_ref) > 1 else 1e-3
    gap_change = float(np.mean(perf_db < -30) - np.mean(ref_db < -30))
    return [chroma_cost, onset_error, tempo_change, spread_perf / max(spread_ref, 1e-3), gap_change]


def _scores(features: np.ndarray, scale: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """One score per dimension ``(N, D)``: higher means more problems; plus the standardisation used."""
    pitch, onset, tempo, spread, gap = (features[:, k] for k in range(5))
    dynamics = -spread
    parts = np.stack([dynamics, tempo, gap], axis=1)
    if scale is None:
        scale = np.stack([parts.mean(axis=0), parts.std(axis=0) + 1e-6])
    z = (parts - scale[0]) / scale[1]
    return np.stack([pitch, onset, tempo, dynamics, gap, z.sum(axis=1)], axis=1), scale


def _best_cuts(score: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    grid = np.unique(np.quantile(score, np.linspace(0.02, 0.98, 49)))
    best, best_accuracy = (float(grid[0]), float(grid[-1])), -1.0
    for a_index, low in enumerate(grid):
        for high in grid[a_index:]:
            predicted = np.where(score < low, 0, np.where(score < high, 1, 2))
            accuracy = float(np.mean(predicted == labels))
            if accuracy > best_accuracy:
                best, best_accuracy = (float(low), float(high)), accuracy
    return best


@dataclass(frozen=True)
class RuleBaseline:
    cuts: tuple[tuple[float, float], ...]
    scale: np.ndarray

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Levels ``(N, D)`` (0 good, 1 some, 2 many problems)."""
        scores, _ = _scores(features, self.scale)
        return np.stack(
            [
                np.where(scores[:, d] < low, 0, np.where(scores[:, d] < high, 1, 2))
                for d, (low, high) in enumerate(self.cuts)
            ],
            axis=1,
        )


def fit_rule_baseline(features: np.ndarray, labels: np.ndarray) -> RuleBaseline:
    """Thresholds that maximise accuracy per dimension on the given (training) takes."""
    scores, scale = _scores(features, None)
    cuts = tuple(_best_cuts(scores[:, d], labels[:, d]) for d in range(len(FEEDBACK_DIMENSIONS)))
    return RuleBaseline(cuts, scale)
