"""Confidence that means precision: an isotonic map from the model's probability to "how often right".

Why isotonic (not only the temperature): ingestion compares a fact's confidence with an auto-accept
threshold that a curator sets from a target precision ("accept what is right 9 times in 10"). A softmax
probability, even temperature-scaled, does not mean that: on encyclopedic text the BiLSTM is most sure
about exactly the pairs it gets wrong in a systematic way. Isotonic regression (Zadrozny & Elkan 2002)
fitted on held-out predictions gives the monotone map probability → observed precision, with no shape
assumed. Each block of the fit is shrunk towards 1/2 with a Laplace prior ((right + 1) / (n + 2)), so a
handful of lucky validation pairs cannot promise 100 %, and the result is kept monotone.

Fitted on the validation slice of TRAIN (never on dev or test); stored as breakpoints in the artifact
manifest and applied with linear interpolation (clipped at the ends), so no pickle is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import ModelArtifactError

_HINT = "run `python manage.py train_relations` for a new artifact"

#: Thresholds at which every artifact records its measured precision (manifest ``precision_at_confidence``).
REPORTED_THRESHOLDS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


@dataclass(frozen=True)
class IsotonicCalibrator:
    """Piecewise-linear, non-decreasing map through ``(x[i], y[i])``; no points means "unchanged"."""

    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    fitted_on: str = ""
    predictions: int = 0

    def __call__(self, probability: float) -> float:
        if not self.x:
            return float(probability)
        return float(np.interp(probability, self.x, self.y))

    def apply(self, probabilities: Sequence[float] | np.ndarray) -> np.ndarray:
        values = np.asarray(probabilities, dtype=np.float64)
        return values.copy() if not self.x else np.interp(values, self.x, self.y)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "isotonic",
            "fitted_on": self.fitted_on,
            "predictions": self.predictions,
            "x": list(self.x),
            "y": list(self.y),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> IsotonicCalibrator:
        if data is None:
            return cls()
        try:
            x = tuple(float(v) for v in data["x"])
            y = tuple(float(v) for v in data["y"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelArtifactError(f"the calibration in the manifest is malformed ({exc}); {_HINT}") from exc
        if len(x) != len(y) or any(b < a for a, b in zip(x, x[1:])) or any(b < a for a, b in zip(y, y[1:])):
            raise ModelArtifactError(f"the calibration in the manifest is not a non-decreasing map; {_HINT}")
        if any(not 0.0 <= v <= 1.0 for v in (*x, *y)):
            raise ModelArtifactError(f"the calibration in the manifest has values outside [0, 1]; {_HINT}")
        return cls(x, y, str(data.get("fitted_on", "")), int(data.get("predictions", 0)))


def fit_isotonic(probabilities: Sequence[float], correct: Sequence[bool], *, fitted_on: str) -> IsotonicCalibrator:
    """The calibrator of held-out ``(probability, was the prediction right)`` pairs; none → identity."""
    if len(probabilities) != len(correct):
        raise ValueError("probabilities and correct differ in length")
    if not probabilities:
        return IsotonicCalibrator(fitted_on=fitted_on)
    from sklearn.isotonic import IsotonicRegression

    p = np.asarray(probabilities, dtype=np.float64)
    c = np.asarray(correct, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    p, c = p[order], c[order]
    fitted = IsotonicRegression(increasing=True, y_min=0.0, y_max=1.0, out_of_bounds="clip").fit_transform(p, c)
    xs: list[float] = []
    ys: list[float] = []
    start = 0
    for end in range(1, len(p) + 1):
        if end == len(p) or fitted[end] != fitted[start]:
            block = c[start:end]
            value = (block.sum() + 1.0) / (len(block) + 2.0)
            value = max(value, ys[-1]) if ys else value
            xs.extend([float(p[start]), float(p[end - 1])])
            ys.extend([value, value])
            start = end
    # Equal x at a block edge would make interpolation ambiguous; keep the last y of a repeated x.
    points: dict[float, float] = {}
    for x, y in zip(xs, ys):
        points[x] = y
    keys = sorted(points)
    return IsotonicCalibrator(
        tuple(keys), tuple(float(points[k]) for k in keys), fitted_on=fitted_on, predictions=len(p)
    )


def precision_at_thresholds(
    confidences: Sequence[float],
    correct: Sequence[bool],
    *,
    thresholds: Sequence[float] = REPORTED_THRESHOLDS,
    gold_total: int | None = None,
) -> list[dict[str, Any]]:
    """For each threshold t: predictions with confidence > t (how ingestion auto-accepts), their share of
    all predictions, their precision (``None`` if none) and, given ``gold_total``, recall."""
    conf = np.asarray(confidences, dtype=np.float64)
    right = np.asarray(correct, dtype=bool)
    rows = []
    for threshold in thresholds:
        kept = conf > threshold
        accepted = int(kept.sum())
        hits = int(right[kept].sum())
        row: dict[str, Any] = {
            "threshold": float(threshold),
            "accepted": accepted,
            "share_accepted": round(accepted / len(conf), 4) if len(conf) else 0.0,
            "precision": round(hits / accepted, 4) if accepted else None,
        }
        if gold_total is not None:
            row["recall"] = round(hits / gold_total, 4) if gold_total else 0.0
        rows.append(row)
    return rows
