"""Write an evaluation run to ``reports/<run-id>/``: metrics.json, results.md and PNG plots.

Why a run directory named by time + config hash: two runs never overwrite each other, and runs with
the same configuration are recognisable by their suffix. The directory is assembled under a
temporary name and renamed into place, so a crash never leaves a half-written report behind.

Spread over seeds is the sample standard deviation (ddof = 1); with a single seed it is undefined
and written as ``null`` (JSON) / omitted (Markdown) rather than a misleading 0.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from recommender.evaluation.evaluator import EvaluationResult
from recommender.evaluation.splits import PROTOCOL_C, PROTOCOL_SPARSITY, PROTOCOL_T

DEFAULT_REPORTS_DIR = Path("reports")
#: Columns of the Markdown tables, in order; a metric a run did not compute is left out. ``arp`` …
#: ``ers`` come from re-ranked runs (:mod:`.beyond_accuracy`).
TABLE_METRICS = (
    "precision",
    "recall",
    "f1",
    "ndcg",
    "mrr",
    "map",
    "hit_rate",
    "coverage",
    "novelty",
    "arp",
    "long_tail",
    "ild",
    "ems",
    "ers",
)
_SPARSITY_LABEL = re.compile(rf"^{PROTOCOL_SPARSITY}@(?P<fraction>[0-9.]+)$")


def _canonical_json(config: Mapping[str, Any]) -> str:
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"config must be JSON-serialisable (plain dicts, lists, strings, finite numbers): {exc}"
        ) from exc


def make_run_id(config: Mapping[str, Any], *, now: datetime | None = None) -> str:
    """``20250101T120000Z-1a2b3c4d``: UTC time of the run + first 8 hex digits of the config's SHA-256."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    digest = hashlib.sha256(_canonical_json(config).encode("utf-8")).hexdigest()[:8]
    return f"{now:%Y%m%dT%H%M%SZ}-{digest}"


def summarise(results: Sequence[EvaluationResult]) -> dict[str, dict[str, dict[str, Any]]]:
    """``summary[split][model]`` = seeds, per-seed metrics, and mean/std of every metric over seeds."""
    grouped: dict[tuple[str, str], list[EvaluationResult]] = defaultdict(list)
    seen: set[tuple[str, str, int]] = set()
    for result in results:
        key = (result.split, result.model, result.seed)
        if key in seen:
            raise ValueError(
                f"two results for model {result.model!r} on split {result.split!r} with seed {result.seed}; each run must be unique."
            )
        seen.add(key)
        grouped[(result.split, result.model)].append(result)
    summary: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for (split, model), runs in grouped.items():
        runs = sorted(runs, key=lambda r: r.seed)
        names = sorted(set().union(*(r.metrics for r in runs)))
        missing = [n for n in names if any(n not in r.metrics for r in runs)]
        if missing:
            raise ValueError(f"model {model!r} on split {split!r}: metric {missing[0]!r} is missing for some seeds.")
        mean, std = {}, {}
        for name in names:
            values = np.asarray([r.metrics[name] for r in runs], dtype=np.float64)
            mean[name] = float(values.mean())
            std[name] = float(values.std(ddof=1)) if len(values) > 1 else None
        summary[split][model] = {
            "protocol": runs[0].protocol,
            "n_seeds": len(runs),
            "seeds": [r.seed for r in runs],
            "per_seed": {str(r.seed): dict(r.metrics) for r in runs},
            "mean": mean,
            "std": std,
        }
    return {split: dict(models) for split, models in summary.items()}


def write_report(
    results: Sequence[EvaluationResult],
    *,
    config: Mapping[str, Any],
    reports_dir: str | Path = DEFAULT_REPORTS_DIR,
    run_id: str | None = None,
    headline_k: int | None = None,
    plots: bool = True,
) -> Path:
    """Write ``metrics.json``, ``results.md`` and the plots for ``results``; returns the run directory.

    ``config`` is stored in full (and hashed into the run id); ``headline_k`` chooses the K of the
    sparsity curve and bar charts (default: 10 if evaluated, else the largest K). ``plots=False``
    skips the PNGs (they take a few seconds; the JSON and Markdown hold every number).
    """
    if not results:
        raise ValueError("no results to report.")
    canonical = _canonical_json(config)
    run_id = run_id or make_run_id(config)
    if not re.fullmatch(r"[A-Za-z0-9._-]+", run_id):
        raise ValueError(f"run_id {run_id!r} may only contain letters, digits, '.', '_' and '-'.")
    summary = summarise(results)
    ks = sorted({int(m.split("@")[1]) for r in results for m in r.metrics if m.startswith("recall@")})
    k = headline_k if headline_k is not None else (10 if 10 in ks else (ks[-1] if ks else None))
    if k is not None and ks and k not in ks:
        raise ValueError(f"headline_k={k} was not evaluated; choose one of {ks}.")

    reports_dir = Path(reports_dir)
    target = reports_dir / run_id
    if target.exists():
        raise FileExistsError(f"{target} already exists; reports are never overwritten, pass another run_id.")
    reports_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=reports_dir, prefix=f".{run_id}.", suffix=".tmp"))
    try:
        document = {
            "run_id": run_id,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": json.loads(canonical),
            "std": "sample standard deviation over seeds (ddof=1); null with one seed",
            "results": [r.to_dict() for r in results],
            "summary": summary,
        }
        (staging / "metrics.json").write_text(
            json.dumps(_json_safe(document), indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        (staging / "results.md").write_text(_markdown(run_id, summary, ks), encoding="utf-8")
        if plots:
            _plot_at_k(summary, ks, "recall", staging / "recall_at_k.png")
            _plot_at_k(summary, ks, "ndcg", staging / "ndcg_at_k.png")
            if k is not None:
                _plot_sparsity(summary, k, staging / "sparsity.png")
            _plot_bars(summary, k, staging)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _json_safe(value: Any) -> Any:
    """NaN/inf (e.g. novelty of empty lists) become ``null``: strict JSON readers reject bare NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


# --- Markdown ------------------------------------------------------------------------------


def _fmt(mean: float, std: float | None) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    return f"{mean:.4f}" if std is None else f"{mean:.4f} ± {std:.4f}"


def _markdown(run_id: str, summary: Mapping[str, Mapping[str, Any]], ks: Sequence[int]) -> str:
    lines = [
        f"# Evaluation run {run_id}",
        "",
        "Mean ± sample standard deviation over seeds (no ± with a single seed).",
        "",
    ]
    for split in sorted(summary, key=_split_order):
        models = summary[split]
        protocol = next(iter(models.values()))["protocol"]
        seeds = sorted({s for m in models.values() for s in m["seeds"]})
        lines += [f"## {split}", "", f"Seeds: {', '.join(map(str, seeds))}", ""]
        if protocol == PROTOCOL_C:
            names = sorted({n for m in models.values() for n in m["mean"]})
            lines += _table(models, names)
            continue
        for k in ks:
            names = [f"{m}@{k}" for m in TABLE_METRICS if any(f"{m}@{k}" in v["mean"] for v in models.values())]
            lines += [f"### K = {k}", ""] + _table(models, names)
    return "\n".join(lines) + "\n"


def _table(models: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    lines = ["| model | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for model in sorted(models):
        entry = models[model]
        cells = [_fmt(entry["mean"].get(n), entry["std"].get(n)) if n in entry["mean"] else "n/a" for n in names]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines + [""]


def _split_order(split: str) -> tuple[int, float, str]:
    match = _SPARSITY_LABEL.match(split)
    if match:
        return (1, float(match["fraction"]), split)
    return (0 if split == PROTOCOL_T else 2, 0.0, split)


# --- plots ---------------------------------------------------------------------------------


def _save(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def _main_topk_split(summary: Mapping[str, Any]) -> str | None:
    if PROTOCOL_T in summary:
        return PROTOCOL_T
    candidates = [s for s, models in summary.items() if next(iter(models.values()))["protocol"] != PROTOCOL_C]
    return sorted(candidates, key=_split_order)[0] if candidates else None


def _plot_at_k(summary: Mapping[str, Any], ks: Sequence[int], metric: str, path: Path) -> None:
    """``metric``@K against K, one line per model, error bars = std over seeds."""
    split = _main_topk_split(summary)
    if split is None or not ks:
        return
    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot()
    for model, entry in sorted(summary[split].items()):
        means = [entry["mean"].get(f"{metric}@{k}", np.nan) for k in ks]
        stds = [entry["std"].get(f"{metric}@{k}") or 0.0 for k in ks]
        axes.errorbar(ks, means, yerr=stds, marker="o", capsize=3, label=model)
    axes.set(xlabel="K", ylabel=f"{metric}@K", title=f"{metric}@K on {split}", xticks=list(ks))
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    _save(figure, path)


def _plot_sparsity(summary: Mapping[str, Any], k: int, path: Path) -> None:
    """Recall@K and NDCG@K against the share of training data kept, one line per model."""
    points: dict[str, list[tuple[float, float, float, float, float]]] = defaultdict(list)
    for split, models in summary.items():
        match = _SPARSITY_LABEL.match(split)
        if not match:
            continue
        for model, entry in models.items():
            points[model].append(
                (
                    float(match["fraction"]),
                    entry["mean"].get(f"recall@{k}", np.nan),
                    entry["std"].get(f"recall@{k}") or 0.0,
                    entry["mean"].get(f"ndcg@{k}", np.nan),
                    entry["std"].get(f"ndcg@{k}") or 0.0,
                )
            )
    if not points:
        return
    figure = Figure(figsize=(10, 4))
    recall_axes, ndcg_axes = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    for model, rows in sorted(points.items()):
        rows.sort()
        x = [100 * r[0] for r in rows]
        recall_axes.errorbar(x, [r[1] for r in rows], yerr=[r[2] for r in rows], marker="o", capsize=3, label=model)
        ndcg_axes.errorbar(x, [r[3] for r in rows], yerr=[r[4] for r in rows], marker="o", capsize=3, label=model)
    for axes, name in ((recall_axes, "recall"), (ndcg_axes, "ndcg")):
        axes.set(xlabel="training data kept (%)", ylabel=f"{name}@{k}", title=f"{name}@{k} vs. sparsity")
        axes.grid(alpha=0.3)
    recall_axes.legend(fontsize="small")
    _save(figure, path)


def _plot_bars(summary: Mapping[str, Any], k: int | None, directory: Path) -> None:
    """``bars_<split>.png``: headline metrics per model as grouped bars with std error bars."""
    for split, models in summary.items():
        if _SPARSITY_LABEL.match(split):
            continue
        protocol = next(iter(models.values()))["protocol"]
        if protocol == PROTOCOL_C:
            names = sorted({n for m in models.values() for n in m["mean"]})
        elif k is not None:
            names = [
                f"{m}@{k}"
                for m in ("precision", "recall", "ndcg", "map", "hit_rate")
                if any(f"{m}@{k}" in v["mean"] for v in models.values())
            ]
        else:
            continue
        model_names = sorted(models)
        width = 0.8 / max(len(names), 1)
        x = np.arange(len(model_names))
        figure = Figure(figsize=(max(6, 1.2 * len(model_names) + 2), 4))
        axes = figure.add_subplot()
        for j, name in enumerate(names):
            means = [models[m]["mean"].get(name, np.nan) for m in model_names]
            stds = [models[m]["std"].get(name) or 0.0 for m in model_names]
            axes.bar(x + (j - (len(names) - 1) / 2) * width, means, width, yerr=stds, capsize=2, label=name)
        axes.set_xticks(x, model_names, rotation=30, ha="right")
        axes.set(ylabel="score", title=f"{split}: headline metrics")
        axes.grid(axis="y", alpha=0.3)
        axes.legend(fontsize="small")
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", split)
        _save(figure, directory / f"bars_{safe}.png")
