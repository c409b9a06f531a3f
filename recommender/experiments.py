"""Run evaluation protocols over models and seeds and write one report (the ``evaluate`` command's logic).

Why here and not in the command: the same run is started from the command, from benchmarks and from
tests, so it lives in a plain service with keyword-only arguments. Every model sees only the training
part of a split plus validation for early stopping; test is touched only by the evaluator.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from core.errors import ConfigurationError
from recommender.data import InteractionDataset
from recommender.evaluation.evaluator import EvaluationResult, evaluate_ctr, evaluate_topk
from recommender.evaluation.report import write_report
from recommender.evaluation.splits import (
    CTRSplit,
    TopKSplit,
    cold_start_split,
    export_split,
    protocol_c_split,
    protocol_t_split,
    sparsity_splits,
)
from recommender.registry import build_recommender, resolve_recommender_name

PROTOCOLS = ("T", "C", "sparsity", "coldstart")


@dataclass(frozen=True)
class ExperimentRun:
    report_dir: Path
    results: list[EvaluationResult]


def _splits_for(protocol: str, dataset: InteractionDataset, seed: int) -> list:
    if protocol == "T":
        return [protocol_t_split(dataset, seed=seed)]
    if protocol == "C":
        return [protocol_c_split(dataset, seed=seed)]
    if protocol == "sparsity":
        return sparsity_splits(protocol_t_split(dataset, seed=seed))
    if protocol == "coldstart":
        return [cold_start_split(dataset, seed=seed)]
    raise ConfigurationError(f"Unknown protocol {protocol!r}; choose one of: {', '.join(PROTOCOLS)}.")


def experiment_run(
    *,
    dataset: InteractionDataset,
    protocol: str,
    models: Sequence[str],
    seeds: Sequence[int] = (0,),
    ks: Sequence[int] = (5, 10, 20),
    model_params: dict[str, dict[str, Any]] | None = None,
    reports_dir: Path | str = "reports",
    plots: bool = True,
    progress: bool = True,
    export_splits: bool = False,
    max_users: int | None = None,
) -> ExperimentRun:
    """Fit each model on each seed's split(s) of ``protocol``, evaluate on test, and write a report.

    ``max_users`` (top-K protocols only; default every user) evaluates a seeded sample of at most that
    many test users per split (see :func:`~recommender.evaluation.evaluator.evaluate_topk`).
    """
    if protocol not in PROTOCOLS:
        raise ConfigurationError(f"Unknown protocol {protocol!r}; choose one of: {', '.join(PROTOCOLS)}.")
    if max_users is not None and protocol == "C":
        raise ConfigurationError(
            "max_users samples top-K test users; Protocol C scores labelled pairs, leave it unset."
        )
    if not models:
        raise ConfigurationError("Name at least one model (e.g. --models most_popular ease leitmotif).")
    if not seeds:
        raise ConfigurationError("Name at least one seed.")
    if dataset.n_interactions == 0:
        raise ConfigurationError("The dataset has no interactions; load data first (python manage.py load_lastfm).")
    names = [resolve_recommender_name(m) for m in models]  # fail before any training on a typo
    params = {resolve_recommender_name(k): v for k, v in (model_params or {}).items()}
    results: list[EvaluationResult] = []
    timings: dict[str, list[float]] = {}
    jobs = [(seed, name) for seed in seeds for name in names]
    used_splits: dict[str, TopKSplit | CTRSplit] = {}
    for seed, name in tqdm(jobs, desc=f"protocol {protocol}", unit="model", disable=not progress):
        for split in _splits_for(protocol, dataset, seed):
            model = build_recommender(name, dataset=dataset, params=params.get(name))
            context = split.training_context(side_info=dataset.side_info)
            started = time.perf_counter()
            model.fit(split.train_binary(), seed=seed, context=context)
            fit_seconds = time.perf_counter() - started
            started = time.perf_counter()
            if protocol == "C":
                result = evaluate_ctr(model, split)
            else:
                result = evaluate_topk(model, split, ks=ks, max_users=max_users)
            result.details["fit_seconds"] = round(fit_seconds, 2)
            result.details["evaluate_seconds"] = round(time.perf_counter() - started, 2)
            timings.setdefault(name, []).append(fit_seconds)
            results.append(result)
            used_splits.setdefault(f"{result.split}_seed{seed}", split)
    config: dict[str, Any] = {
        "protocol": protocol,
        "models": names,
        "seeds": list(seeds),
        "ks": list(ks),
        "model_params": params,
        "dataset": {"users": dataset.n_users, "items": dataset.n_items, "interactions": dataset.n_interactions},
    }
    if max_users is not None:
        config["max_users"] = max_users
    report_dir = Path(write_report(results, config=config, reports_dir=reports_dir, plots=plots))
    if export_splits:
        # The exact splits scored here, as plain TSV + JSON sidecar, so any external library can be run on
        # them and reloaded with recommender.evaluation.splits.import_split. Rows carry the Last.FM user and
        # artist ids and the artist's graph entity id (from dataset.sources) beside the internal catalog pks.
        for label, split in used_splits.items():
            export_split(split, report_dir / "splits" / f"{label.replace('@', '_')}.tsv")
    return ExperimentRun(report_dir=report_dir, results=results)
