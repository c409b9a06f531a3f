"""Every encoder variant trained on the same works, split and target; one table of the paper's metrics.

Why one function for the command and the benchmark: the rows must share the examples (spectrograms
loaded once), the target space (one KGE artifact) and, per seed, the split of works — otherwise the
differences would measure the split, not the model.

Rows: the five variants of :mod:`audio.encoder.model`, plus ``fused_instrumentation`` (the fused
model whose only side input is the instrumentation), because the composer/era/form embeddings of
``fused`` and ``embedding_only`` are the very facts Hits@k asks for: their Hits measure recall of
their inputs, while audio-only rows and ``fused_instrumentation`` measure recognition. The
``true_target_vectors`` row ranks with the test works' real KGE vectors: the ceiling the target space
itself allows. The ``mean_training_target`` row predicts the mean training vector for every test
work (no audio, no side information): the floor a model must beat, and the Hits@k that the most
common composer/era/form alone earns.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from audio.encoder.config import AudioEncoderConfig
from audio.encoder.dataset import load_examples, mel_config_for, split_examples
from audio.encoder.metrics import HITS_AT, hits_metrics, regression_metrics
from audio.encoder.targets import load_target_space
from audio.encoder.training import train_audio_encoder

#: Row name → config changes on top of the base config.
ROWS: dict[str, dict[str, Any]] = {
    "autoencoder": {"variant": "autoencoder"},
    "cnn": {"variant": "cnn"},
    "cnn_lstm": {"variant": "cnn_lstm"},
    "embedding_only": {"variant": "embedding_only"},
    "fused": {"variant": "fused"},
    "fused_instrumentation": {"variant": "fused", "side_fields": ("instrumentation",)},
}
ORACLE_ROW = "true_target_vectors"
MEAN_ROW = "mean_training_target"
FIELDS = ("composer", "era", "form")


def compare_encoders(
    *, base: AudioEncoderConfig, seeds: Sequence[int], store, rows: Sequence[str] | None = None, progress: bool = True
) -> dict[str, Any]:
    from kg.schema import COMPOSED, HAS_FORM, IN_ERA

    started = time.perf_counter()
    rows = list(rows or ROWS)
    examples, skipped = load_examples(mel_config=mel_config_for(base), store=store, progress=progress)
    space = load_target_space(base, relations=(COMPOSED, IN_ERA, HAS_FORM), item_ids=[e.entity_id for e in examples])
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in [*rows, MEAN_ROW, ORACLE_ROW]}
    for seed in seeds:
        for name in rows:
            config = replace(base, seed=int(seed), **ROWS[name])
            trained = train_audio_encoder(config=config, examples=examples, target_space=space, progress=progress)
            metrics = trained.metrics
            runs[name].append(
                {
                    "seed": seed,
                    "test": metrics["test"],
                    "best_epoch": metrics["best_epoch"],
                    "epochs_run": metrics["epochs_run"],
                    "wall_seconds": metrics["wall_seconds"],
                    "cpu_seconds": metrics["cpu_seconds"],
                    "parameters": metrics["parameters"],
                    "split_test": trained.split["test"],
                    "uses_side_information": metrics["uses_side_information"],
                    "side_fields": metrics["side_fields"],
                    "works": metrics["works"],
                }
            )
            oracle = metrics["test_hits_of_true_target_vectors"]
        runs[ORACLE_ROW].append({"seed": seed, "test": {"hits": oracle}})
        runs[MEAN_ROW].append(
            {"seed": seed, "test": _mean_baseline(base, int(seed), examples, space, trained.reference)}
        )
        splits = {
            tuple(run["split_test"])
            for name, seed_runs in runs.items()
            if name not in (ORACLE_ROW, MEAN_ROW)
            for run in seed_runs
            if run["seed"] == seed
        }
        assert len(splits) == 1, "every variant must see the same split"
    summary = {name: _summarise(seed_runs) for name, seed_runs in runs.items()}
    return {
        "config": base.to_dict(),
        "seeds": list(seeds),
        "rows": rows,
        "target": space.source,
        "scoring": space.scoring,
        "works": {"with_audio": len(examples), "skipped": skipped},
        "summary": summary,
        "runs": runs,
        "hits_ranking": (
            f"true entity's rank among all {'/'.join(FIELDS)} entities linked to any loaded work, by the KGE score of "
            f"the relation ({space.scoring}: composer = score(person, COMPOSED, predicted), era = score(predicted, IN_ERA, era), "
            "form = score(predicted, HAS_FORM, form))"
        ),
        "msle_definition": "mean((log1p(y + s) - log1p(max(y_hat + s, 0)))^2) with s = -min(training target values) per run",
        "machine": {
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
            "torch_threads": 1,
        },
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def _mean_baseline(base: AudioEncoderConfig, seed: int, examples, space, reference) -> dict[str, Any]:
    """Metrics of predicting the mean training target for every test work (same split as the models)."""
    usable = [e for e in examples if space.has(e.entity_id)]
    split = split_examples(usable, seed=seed, validation_ratio=base.validation_ratio, test_ratio=base.test_ratio)
    train = np.stack([space.vector(e.entity_id) for e in split["train"]])
    truth = np.stack([space.vector(e.entity_id) for e in split["test"]])
    predicted = np.repeat(train.mean(axis=0, keepdims=True), len(truth), axis=0)
    return {
        **regression_metrics(truth, predicted, shift=float(-train.min())),
        "hits": hits_metrics(predicted, [e.truth for e in split["test"]], reference=reference),
    }


def _mean_std(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {"mean": float(array.mean()), "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0}


def _summarise(seed_runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    first = seed_runs[0]["test"]
    for key in ("mse", "rmse", "mae", "msle"):
        if key in first:
            summary[key] = _mean_std([run["test"][key] for run in seed_runs])
    for field in FIELDS:
        for k in HITS_AT:
            values = [run["test"]["hits"].get(field, {}).get(f"hits@{k}") for run in seed_runs]
            if all(v is not None for v in values):
                summary[f"{field}_hits@{k}"] = _mean_std(values)
    for key in ("wall_seconds", "cpu_seconds"):
        if key in seed_runs[0]:
            summary[key] = _mean_std([run[key] for run in seed_runs])
    if "uses_side_information" in seed_runs[0]:
        summary["side_fields"] = seed_runs[0]["side_fields"]
    return summary


def markdown_table(result: dict[str, Any]) -> str:
    def cell(row: dict[str, Any], key: str, digits: int) -> str:
        if key not in row:
            return "–"
        value = row[key]
        return (
            f"{value['mean']:.{digits}f} ± {value['std']:.{digits}f}"
            if len(result["seeds"]) > 1
            else f"{value['mean']:.{digits}f}"
        )

    header = (
        ["row", "side inputs", "MSE", "RMSE", "MAE", "MSLE"]
        + [f"{f} H@{k}" for f in FIELDS for k in HITS_AT]
        + ["train s"]
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in result["summary"].items():
        side = ", ".join(row.get("side_fields", [])) or ("–" if name in (ORACLE_ROW, MEAN_ROW) else "none")
        values = (
            [cell(row, k, 5) for k in ("mse",)] + [cell(row, k, 4) for k in ("rmse", "mae")] + [cell(row, "msle", 6)]
        )
        values += [cell(row, f"{f}_hits@{k}", 2) for f in FIELDS for k in HITS_AT] + [cell(row, "wall_seconds", 0)]
        lines.append("| " + " | ".join([name, side, *values]) + " |")
    return "\n".join(lines)
