"""Fit, evaluate and apply the HFN.

Loss (the paper's): the sum over feedback dimensions of the cross-entropy of the ordinal classes, plus
``emotion_weight`` x the MSE of performed valence/arousal, plus ``l2`` x the squared norm of the weights;
AdamW (``learning_rate``, ``weight_decay``). Early stopping: the epoch with the lowest validation loss
(cross-entropy + MSE, works never seen in training) is kept; training stops after ``patience`` epochs
without improvement. Everything is seeded (split, initialisation, batch order); torch runs on one thread.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from practice.hfn.config import LEARNER_STATES, HFNConfig
from practice.hfn.dataset import PracticeDataset, mel_magnitude
from practice.hfn.model import HFN, build_model
from practice.synthesis import FEEDBACK_DIMENSIONS, LEVELS


@dataclass
class TrainedHFN:
    config: HFNConfig
    model: HFN
    metrics: dict[str, Any] = field(default_factory=dict)


def _batch(dataset: PracticeDataset, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
    return (
        torch.from_numpy(dataset.magnitude[rows].astype(np.float32)),
        torch.from_numpy(dataset.factors[rows]),
        torch.from_numpy(dataset.intended[rows]),
        torch.from_numpy(dataset.labels[rows]),
        torch.from_numpy(dataset.emotion[rows]),
    )


def hfn_loss(
    logits: torch.Tensor,
    emotion: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor,
    *,
    emotion_weight: float,
    class_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Summed per-dimension cross-entropy + weighted valence/arousal MSE (no L2: see :func:`l2_penalty`).

    ``class_weights`` ``(D, 3)``: per dimension and level (see :func:`balanced_class_weights`).
    """
    if class_weights is None:
        technical = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)) * logits.shape[1]
    else:
        technical = sum(
            (F.cross_entropy(logits[:, d], labels[:, d], weight=class_weights[d]) for d in range(logits.shape[1])),
            torch.tensor(0.0),
        )
    return technical + emotion_weight * F.mse_loss(emotion, targets)


def balanced_class_weights(labels: np.ndarray) -> torch.Tensor:
    """``n / (3 * count)`` per dimension and level on the training takes, clipped to [0.5, 5].

    Why: most takes are "good" in most dimensions, and an unweighted cross-entropy learns to say "good".
    """
    counts = np.stack([np.bincount(labels[:, d], minlength=3) for d in range(labels.shape[1])]).astype(float)
    weights = len(labels) / (3.0 * np.maximum(counts, 1.0))
    return torch.from_numpy(np.clip(weights, 0.5, 5.0).astype(np.float32))


def l2_penalty(model: torch.nn.Module) -> torch.Tensor:
    return sum((p.pow(2).sum() for name, p in model.named_parameters() if name.endswith("weight")), torch.tensor(0.0))


def _mean_loss(
    model: HFN, dataset: PracticeDataset, rows: np.ndarray, config: HFNConfig, weights: torch.Tensor | None
) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(rows), 64):
            magnitude, factors, intended, labels, targets = _batch(dataset, rows[start : start + 64])
            logits, emotion = model(magnitude, factors, intended)
            loss = hfn_loss(
                logits, emotion, labels, targets, emotion_weight=config.emotion_weight, class_weights=weights
            )
            total += float(loss) * len(labels)
    return total / max(1, len(rows))


def train_hfn(
    config: HFNConfig, dataset: PracticeDataset, *, progress: Callable[[str], None] | None = None
) -> TrainedHFN:
    """Train on the dataset's train works, early-stop on its validation works, evaluate on its test works."""
    torch.set_num_threads(1)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    train, validation = dataset.indices("train"), dataset.indices("validation")
    if len(train) == 0:
        from core.errors import ConfigurationError

        raise ConfigurationError("the data set has no training takes; use more works (--works).")
    if len(validation) == 0:
        validation = train  # tiny sets: early stopping on the training takes (recorded in the metrics)
    model = build_model(config)
    weights = balanced_class_weights(dataset.labels[train]) if config.balance_classes else None
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    best_loss, best_state, best_epoch, waited = float("inf"), copy.deepcopy(model.state_dict()), 0, 0
    history = []
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = rng.permutation(train)
        running = 0.0
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size]
            if len(rows) < 2:
                continue  # batch norm needs two examples
            magnitude, factors, intended, labels, targets = _batch(dataset, rows)
            logits, emotion = model(magnitude, factors, intended)
            loss = hfn_loss(
                logits, emotion, labels, targets, emotion_weight=config.emotion_weight, class_weights=weights
            )
            if config.l2:
                loss = loss + config.l2 * l2_penalty(model)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            running += float(loss.detach()) * len(rows)
        validation_loss = _mean_loss(model, dataset, validation, config, weights)
        train_loss = running / max(1, len(order))
        history.append(
            {"epoch": epoch, "train_loss": round(train_loss, 5), "validation_loss": round(validation_loss, 5)}
        )
        if progress is not None:
            progress(f"epoch {epoch}: train {train_loss:.4f} validation {validation_loss:.4f}")
        if validation_loss < best_loss - 1e-6:
            best_loss, best_state, best_epoch, waited = validation_loss, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            waited += 1
            if waited >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    metrics: dict[str, Any] = {
        "history": history,
        "best_epoch": best_epoch,
        "best_validation_loss": round(best_loss, 5),
        "train_seconds": round(time.perf_counter() - started, 2),
        "takes": {name: int(len(dataset.indices(name))) for name in ("train", "validation", "test")},
        "works": {
            name: sorted(set(dataset.works[dataset.indices(name)].tolist())) for name in ("train", "validation", "test")
        },
        "early_stopping_on": "validation" if len(dataset.indices("validation")) else "train",
    }
    test = dataset.indices("test")
    if len(test):
        metrics["test"] = evaluate_levels(
            dataset.labels[test], predict_levels(model, dataset, test)[0]
        ) | emotion_metrics(dataset.emotion[test], predict_levels(model, dataset, test)[1])
    return TrainedHFN(config, model, metrics)


def predict_levels(model: HFN, dataset: PracticeDataset, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(levels ``(N, D)``, valence/arousal ``(N, 2)``) for the given takes."""
    model.eval()
    levels, emotions = [], []
    with torch.no_grad():
        for start in range(0, len(rows), 64):
            magnitude, factors, intended, _, _ = _batch(dataset, rows[start : start + 64])
            logits, emotion = model(magnitude, factors, intended)
            levels.append(logits.argmax(dim=-1).numpy())
            emotions.append(emotion.numpy())
    return np.concatenate(levels), np.concatenate(emotions)


def evaluate_levels(truth: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Accuracy and macro-F1 (over the three levels) per feedback dimension, and their means."""
    from sklearn.metrics import f1_score

    result: dict[str, Any] = {}
    for d, name in enumerate(FEEDBACK_DIMENSIONS):
        result[name] = {
            "accuracy": round(float(np.mean(truth[:, d] == predicted[:, d])), 4),
            "macro_f1": round(
                float(f1_score(truth[:, d], predicted[:, d], labels=[0, 1, 2], average="macro", zero_division=0)), 4
            ),
            "support": [int(np.sum(truth[:, d] == level)) for level in range(3)],
        }
    result["mean_accuracy"] = round(float(np.mean([result[n]["accuracy"] for n in FEEDBACK_DIMENSIONS])), 4)
    result["mean_macro_f1"] = round(float(np.mean([result[n]["macro_f1"] for n in FEEDBACK_DIMENSIONS])), 4)
    return result


def emotion_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """MSE and Pearson correlation of valence and arousal."""
    result = {}
    for k, name in enumerate(("valence", "arousal")):
        a, b = truth[:, k].astype(float), predicted[:, k].astype(float)
        pearson = float(np.corrcoef(a, b)[0, 1]) if len(a) > 1 and a.std() > 0 and b.std() > 0 else float("nan")
        result[name] = {"mse": round(float(np.mean((a - b) ** 2)), 4), "pearson": round(pearson, 4)}
    return {"affect": result}


def feedback_for_audio(
    model: HFN,
    config: HFNConfig,
    audio: np.ndarray,
    *,
    factors: Sequence[int] = (1, 0, 1, 0),
    intended: Sequence[float] = (0.0, 0.0),
) -> dict[str, Any]:
    """The HFN's feedback on a 16 kHz recording of any length: windows of ``clip_seconds``, averaged.

    ``factors``: (tempo bucket, mode, dynamics bucket, learner state) indices; the default says
    "moderate, unknown mode, medium, state unknown" for a recording without a score.
    """
    window = int(config.clip_seconds * config.sample_rate)
    starts = list(range(0, max(1, len(audio) - window // 2), window)) or [0]
    magnitudes = np.stack([mel_magnitude(audio[s : s + window], config, frames=config.frames) for s in starts])
    model.eval()
    with torch.no_grad():
        count = len(starts)
        logits, emotion = model(
            torch.from_numpy(magnitudes),
            torch.tensor([list(factors)] * count, dtype=torch.long),
            torch.tensor([list(intended)] * count, dtype=torch.float32),
        )
    probabilities = torch.softmax(logits, dim=-1).mean(dim=0).numpy()
    return {
        "windows": count,
        "dimensions": {
            name: {
                "level": LEVELS[int(probabilities[d].argmax())],
                "probabilities": [round(float(p), 3) for p in probabilities[d]],
            }
            for d, name in enumerate(FEEDBACK_DIMENSIONS)
        },
        "valence": round(float(emotion[:, 0].mean()), 3),
        "arousal": round(float(emotion[:, 1].mean()), 3),
    }


def factors_from(mapping: Mapping[str, Any]) -> list[int]:
    """Factor indices from ``{"state": "nervous", ...}`` with unknown values mapped to index 0/defaults."""
    state = str(mapping.get("state", "unknown"))
    return [1, 0, 1, LEARNER_STATES.index(state) if state in LEARNER_STATES else 0]
