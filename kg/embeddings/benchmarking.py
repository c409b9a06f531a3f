"""Shared runner of the KGE benchmark scripts (``benchmarks/kge_*.py``).

Why a module and not copy-paste in each script: both benchmarks must report exactly the same things
(config, seed, protocol, split sizes, wall time, the machine's core count, library versions) in the
same JSON shape, so results from different data sets and days can be compared side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pykeen.triples import CoreTriplesFactory

from kg.embeddings.config import KgeConfig
from kg.embeddings.training import KgeResult, kge_train_on_split
from kg.embeddings.triples import KgeSplit


def add_benchmark_arguments(
    parser: argparse.ArgumentParser, *, defaults: Mapping[str, Mapping[str, Any]], output: Path
) -> None:
    """The options every KGE benchmark script takes (models, epochs/dim overrides, seed, output, progress)."""
    parser.add_argument("--models", nargs="+", default=list(defaults), choices=list(defaults))
    parser.add_argument("--epochs", type=int, default=None, help="Override the per-model default epochs.")
    parser.add_argument("--dim", type=int, default=None, help="Override the per-model default dimension.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", type=Path, default=output)
    parser.add_argument("--no-progress", action="store_true")


def benchmark_configs(
    args: argparse.Namespace, *, defaults: Mapping[str, Mapping[str, Any]], **fixed: Any
) -> list[KgeConfig]:
    """One config per chosen model: its defaults, the command line's overrides, then ``fixed`` settings."""
    configs = []
    for model in args.models:
        settings = dict(defaults[model])
        if args.epochs is not None:
            settings["epochs"] = args.epochs
        if args.dim is not None:
            settings["embedding_dim"] = args.dim
        configs.append(KgeConfig(model=model, seed=args.seed, **fixed, **settings))
    return configs


def run_kge_benchmark(
    *,
    name: str,
    split: KgeSplit,
    configs: Sequence[KgeConfig],
    output: Path,
    extra_test_sets: Mapping[str, CoreTriplesFactory] | None = None,
    notes: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train every config on ``split``, print a table, write the report to ``output`` and return it."""
    started, cpu_started = time.perf_counter(), time.process_time()
    runs = []
    for config in configs:
        print(
            f"\n== {name}: {config.spec.pykeen_model} ({config.model}), dim {config.embedding_dim}, {config.epochs} epochs, seed {config.seed}",
            flush=True,
        )
        run_started = time.perf_counter()
        result = kge_train_on_split(split=split, config=config, progress=progress, extra_test_sets=extra_test_sets)
        runs.append(_run_report(result, wall_seconds=time.perf_counter() - run_started))
        _print_run(runs[-1])
    from pykeen.version import get_version

    report = {
        "benchmark": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "protocol": "link prediction, filtered against train+valid+test, both sides (head and tail), realistic ranks",
        "split": split.sizes(),
        "dropped": dict(split.dropped),
        "extra_test_sets": {key: factory.num_triples for key, factory in (extra_test_sets or {}).items()},
        "notes": dict(notes or {}),
        "runs": runs,
        "total_wall_seconds": round(time.perf_counter() - started, 1),
        # CPU seconds of this process (all threads): compare with wall × cores to see how contended the machine was.
        "total_cpu_seconds": round(time.process_time() - cpu_started, 1),
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": {"pykeen": get_version(), "torch": torch.__version__, "numpy": np.__version__},
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(output.suffix + ".partial")
    partial.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(output)
    print(
        f"\nTotal wall time {report['total_wall_seconds']:.0f} s on {os.cpu_count()} cores; wrote {output}", flush=True
    )
    return report


def _run_report(result: KgeResult, *, wall_seconds: float) -> dict[str, Any]:
    return {
        "model": result.config.model,
        "pykeen_model": result.config.spec.pykeen_model,
        "config": result.config.to_dict(),
        "seed": result.config.seed,
        "metrics": {key: metrics.to_dict() for key, metrics in result.evaluations.items()},
        "epochs_trained": result.epochs_trained,
        "epoch_losses": [round(loss, 6) for loss in result.epoch_losses],
        "training_and_evaluation_seconds": round(result.training_seconds, 1),
        "wall_seconds": round(wall_seconds, 1),
    }


def _print_run(run: Mapping[str, Any]) -> None:
    print(f"{'evaluation set':22s}{'triples':>9s}{'MRR':>9s}{'Hits@1':>9s}{'Hits@3':>9s}{'Hits@10':>9s}")
    for key, m in run["metrics"].items():
        print(
            f"{key:22s}{m['num_triples']:>9,}{m['mrr']:>9.4f}{m['hits_at_1']:>9.4f}{m['hits_at_3']:>9.4f}{m['hits_at_10']:>9.4f}"
        )
    print(f"wall time {run['wall_seconds']:.0f} s ({run['epochs_trained']} epochs)", flush=True)
