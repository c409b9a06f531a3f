"""Evaluate models × re-rankings: accuracy beside curriculum fit (EMS), mood fit (ERS), popularity and diversity.

Why a run of its own (and not a flag on ``experiment_run``): each model is fitted *once* per split and
seed, then every re-ranking setting is applied to the same candidate lists, so the settings differ only
in the re-ranking — and the fit, the expensive part, is not repeated per setting.

Rules (recorded in each result's ``details``):

* Candidates are the evaluator's (every item outside the user's known history, see
  :mod:`.evaluator`); the re-ranker receives each user's top :func:`~recommender.reranking.pool_size`
  candidates by model score and returns the top K (the largest K asked for; smaller Ks are prefixes).
  ``none`` gives exactly the evaluator's lists, so its accuracy equals :func:`.evaluator.evaluate_topk`.
* Everything a re-ranker or a learner-side metric knows about a user comes from the split's
  **training** part: item popularity (training users per item), the learner's mood profile, the
  learner's default unit. Test items never leak into a re-ranking.
* **Units** for EMS and the ``unit`` re-ranker: either one fixed unit (concept ids) for every learner,
  or (default) each learner's own unit — the concepts the curriculum associates with their most frequent
  curriculum-linked tags (:mod:`.concepts`). Learners with an empty unit are left out of EMS (the
  number kept is ``details["n_users_with_unit"]``).
* Metric names (each at every K): ``arp``, ``long_tail``, ``ild``, ``ems`` (+ ``ems_coverage``,
  ``ems_on_topic``), ``ers`` (+ ``mood_share``); formulas in :mod:`.learning_metrics`. Each is the mean
  over the users for whom it is defined (NaN → ``null`` in JSON when it is defined for nobody).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from core.errors import ConfigurationError
from recommender.base import Recommender
from recommender.data import InteractionDataset
from recommender.evaluation import learning_metrics as LM
from recommender.evaluation.concepts import DEFAULT_UNIT_TOP_TAGS, ConceptLinks, concept_links_from_side_info
from recommender.evaluation.evaluator import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_KS,
    EvaluationResult,
    _check_batch_size,
    _check_ks,
    _mask,
    _model_name,
    _score_batch,
    list_metrics,
    ranking_metrics,
    top_k_items,
)
from recommender.evaluation.metrics import NO_ITEM
from recommender.evaluation.moods import MoodLexicon, item_mood_distributions, load_mood_lexicon, user_mood_profiles
from recommender.evaluation.splits import TopKSplit, cold_start_split, export_split, protocol_t_split, sparsity_splits
from recommender.reranking import RerankContext, RerankSpec, parse_rerank, pool_size, rerank

#: Metrics this module adds, each at every K.
BEYOND_ACCURACY_METRICS = ("arp", "long_tail", "ild", "ems", "ems_coverage", "ems_on_topic", "ers", "mood_share")
#: Protocols whose splits produce ranked lists (Protocol C only labels pairs).
RERANK_PROTOCOLS = ("T", "sparsity", "coldstart")


@dataclass(frozen=True, eq=False)
class ItemSignals:
    """Item facts aligned with a dataset's item index: tag features, moods and curriculum links.

    ``fixed_unit`` (concept column indices) is the unit of every learner, or ``None`` for each learner's
    default unit.
    """

    features: sp.csr_matrix  # L2-normalised tag counts
    moods: np.ndarray
    concepts: ConceptLinks
    lexicon: MoodLexicon
    fixed_unit: np.ndarray | None = None
    unit_top_tags: int = DEFAULT_UNIT_TOP_TAGS

    @property
    def unit_rule(self) -> str:
        if self.fixed_unit is not None:
            return "fixed: " + ", ".join(self.concepts.concept_ids[int(c)] for c in self.fixed_unit)
        return f"per learner: concepts associated (ASSOCIATED_TAG) with their {self.unit_top_tags} most frequent curriculum-linked tags (training items)"


def item_signals(
    dataset: InteractionDataset, *, units: Sequence[str] | None = None, lexicon: MoodLexicon | None = None
) -> ItemSignals:
    """:class:`ItemSignals` from the dataset's side information (tags and graph triples).

    ``units``: concept ids of one fixed unit; unknown ids raise :class:`ConfigurationError`.
    """
    side = dataset.side_info
    if side is None:
        raise ConfigurationError(
            "beyond-accuracy metrics need the dataset's side information (tags and graph); build it with a graph store "
            "(InteractionDataset.from_catalog(store=...))."
        )
    lexicon = lexicon or load_mood_lexicon()
    concepts = concept_links_from_side_info(side)
    fixed = concepts.unit_indices(units) if units else None
    return ItemSignals(
        features=LM.normalised_features(side.item_tags),
        moods=item_mood_distributions(side.item_tags, side.tag_names, lexicon),
        concepts=concepts,
        lexicon=lexicon,
        fixed_unit=fixed,
    )


@dataclass
class _Accumulator:
    per_user: dict[str, list[np.ndarray]] = field(default_factory=dict)
    lists: list[np.ndarray] = field(default_factory=list)
    beyond: dict[str, list[np.ndarray]] = field(default_factory=dict)


def evaluate_reranked(
    model: Recommender,
    split: TopKSplit,
    *,
    settings: Sequence[str | RerankSpec],
    signals: ItemSignals,
    ks: Sequence[int] = DEFAULT_KS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    part: str = "test",
    minimum_pool: int | None = None,
    progress: bool = False,
) -> list[EvaluationResult]:
    """One :class:`EvaluationResult` per re-ranking setting, named ``"<model> + <setting>"`` (see the module docstring)."""
    if not isinstance(split, TopKSplit):
        raise TypeError(
            f"re-ranked evaluation needs a ranking split (Protocol T, sparsity or cold start), got {type(split).__name__}."
        )
    if part not in ("test", "validation"):
        raise ValueError(f"part must be 'test' or 'validation', got {part!r}.")
    specs = [parse_rerank(s) for s in settings]
    if not specs:
        raise ConfigurationError("give at least one re-ranking setting (e.g. none popularity:0.5).")
    labels = [str(s) for s in specs]
    if len(set(labels)) != len(labels):
        raise ConfigurationError(f"re-ranking settings repeat: {labels}; give each once.")
    if signals.moods.shape[0] != split.n_items or signals.concepts.item_concepts.shape[0] != split.n_items:
        raise ConfigurationError("the item signals do not match the split's items; build them from the same dataset.")
    ks = _check_ks(ks)
    batch_size = _check_batch_size(batch_size)
    k_max = ks[-1]
    pool = min(pool_size(k_max) if minimum_pool is None else pool_size(k_max, minimum=minimum_pool), split.n_items)

    relevant = (split.test if part == "test" else split.validation).tocsr()
    excluded = split.not_rankable(part)
    n_relevant_all = np.diff(relevant.indptr)
    users = np.flatnonzero(n_relevant_all > 0).astype(np.int64)
    if users.size == 0:
        raise ValueError(f"split {split.label!r} has no users with {part} items; nothing to evaluate.")

    train = split.train_binary()
    item_popularity = np.diff(train.tocsc().indptr)
    n_train_users = int(np.sum(np.diff(train.indptr) > 0))
    head = LM.short_head(item_popularity)
    profiles = user_mood_profiles(train[users], signals.moods)
    if signals.fixed_unit is not None:
        units = [signals.fixed_unit] * users.size
    else:
        units = signals.concepts.default_units(train[users], top_tags=signals.unit_top_tags)
    concepts_dense = signals.concepts.dense_item_concepts
    unit_mask = np.zeros((users.size, signals.concepts.n_concepts), dtype=bool)
    for position, unit in enumerate(units):
        unit_mask[position, np.asarray(unit, dtype=np.int64)] = True

    acc = {label: _Accumulator() for label in labels}
    started = time.perf_counter()
    seconds = dict.fromkeys(labels, 0.0)
    for start in tqdm(
        range(0, users.size, batch_size),
        desc=f"rerank {_model_name(model)} on {split.label}",
        disable=not progress,
        unit="batch",
    ):
        batch = users[start : start + batch_size]
        scores = _score_batch(model, batch, split.n_items)
        _mask(scores, excluded[batch])
        candidates = top_k_items(scores, pool)
        candidate_scores = np.where(
            candidates == NO_ITEM, -np.inf, np.take_along_axis(scores, np.maximum(candidates, 0), axis=1)
        )
        for spec, label in zip(specs, labels):
            tick = time.perf_counter()
            if spec.is_identity:
                top = candidates[:, :k_max]
            else:
                top = np.full((len(batch), k_max), NO_ITEM, dtype=np.int64)
                for row in range(len(batch)):
                    u = start + row
                    context = RerankContext(
                        item_popularity=item_popularity,
                        item_features=signals.features,
                        item_moods=signals.moods,
                        mood_profile=profiles[u],
                        item_concepts=concepts_dense,
                        unit=units[u],
                    )
                    chosen = rerank(spec, candidates[row], candidate_scores[row], k_max, context)
                    top[row, : len(chosen)] = chosen
            seconds[label] += time.perf_counter() - tick
            a = acc[label]
            for name, values in ranking_metrics(top, relevant[batch], n_relevant_all[batch], ks).items():
                a.per_user.setdefault(name, []).append(values)
            a.lists.append(top)
            rows = slice(start, start + len(batch))
            beyond = LM.batch_metrics(
                top,
                ks,
                item_popularity=item_popularity,
                head=head,
                unit_features=signals.features,
                item_moods=signals.moods,
                profiles=profiles[rows],
                item_concepts=concepts_dense,
                units=unit_mask[rows],
            )
            for name, values in beyond.items():
                a.beyond.setdefault(name, []).append(values)

    results = []
    n_with_unit = int(sum(1 for unit in units if len(unit)))
    n_with_profile = int(np.sum(profiles.sum(axis=1) > 0))
    for _spec, label in zip(specs, labels):
        a = acc[label]
        all_lists = np.vstack(a.lists)
        per_user = {name: np.concatenate(values) for name, values in a.per_user.items()}
        metrics = {name: float(values.mean()) for name, values in per_user.items()}
        metrics.update(
            list_metrics(
                all_lists, ks, n_items=split.n_items, item_popularity=item_popularity, n_train_users=n_train_users
            )
        )
        defined: dict[str, int] = {}
        for name, chunks in a.beyond.items():
            values = np.concatenate(chunks)
            known = ~np.isnan(values)
            metrics[name] = float(values[known].mean()) if known.any() else float("nan")
            defined[name] = int(known.sum())
            per_user[name] = values
        per_user["user"] = users
        per_user["top_items"] = all_lists
        details: dict[str, Any] = {
            "part": part,
            "ks": list(ks),
            "n_users_evaluated": int(users.size),
            "n_items": split.n_items,
            "n_relevant_pairs": int(n_relevant_all.sum()),
            "candidates": "all items not in the user's known history; the re-ranker sees the top pool_size by model score",
            "tie_break": "lower item index first (model order); re-ranker ties keep the model order",
            "rerank": label,
            "pool_size": pool,
            "units": signals.unit_rule,
            "n_users_with_unit": n_with_unit,
            "n_users_with_mood_profile": n_with_profile,
            "users_defined": defined,
            "short_head_items": int(head.sum()),
            "mood_lexicon": signals.lexicon.path,
            "rerank_seconds": round(seconds[label], 3),
        }
        if split.cold_items.size:
            details["n_cold_items"] = int(split.cold_items.size)
        results.append(
            EvaluationResult(
                model=f"{_model_name(model)} + {label}",
                split=split.label,
                protocol=split.protocol,
                seed=split.seed,
                metrics=metrics,
                details=details,
                per_user=per_user,
            )
        )
    for result in results:
        result.details["evaluate_seconds_all_settings"] = round(time.perf_counter() - started, 2)
    return results


# --- the run (the evaluate command with --rerank) ----------------------------------------------------


@dataclass(frozen=True)
class RerankedRun:
    report_dir: Path
    results: list[EvaluationResult]


def _splits_for(protocol: str, dataset: InteractionDataset, seed: int) -> list[TopKSplit]:
    if protocol == "T":
        return [protocol_t_split(dataset, seed=seed)]
    if protocol == "sparsity":
        return sparsity_splits(protocol_t_split(dataset, seed=seed))
    if protocol == "coldstart":
        return [cold_start_split(dataset, seed=seed)]
    raise ConfigurationError(
        f"re-ranking needs ranked lists: use protocol {', '.join(RERANK_PROTOCOLS)} (got {protocol!r}; Protocol C only scores labelled pairs)."
    )


def reranked_experiment_run(
    *,
    dataset: InteractionDataset,
    protocol: str,
    models: Sequence[str],
    settings: Sequence[str] = ("none",),
    seeds: Sequence[int] = (0,),
    ks: Sequence[int] = DEFAULT_KS,
    model_params: dict[str, dict[str, Any]] | None = None,
    units: Sequence[str] | None = None,
    minimum_pool: int | None = None,
    reports_dir: Path | str = "reports",
    plots: bool = True,
    progress: bool = True,
    export_splits: bool = False,
) -> RerankedRun:
    """Fit each model once per split and seed, evaluate every re-ranking setting, write one report.

    Everything is checked before any training: protocol, model names, settings, unit concept ids.
    """
    from recommender.evaluation.report import write_report
    from recommender.registry import build_recommender, resolve_recommender_name

    if protocol not in RERANK_PROTOCOLS:
        _splits_for(protocol, dataset, 0)  # raises the explanatory error
    if not models:
        raise ConfigurationError("Name at least one model (e.g. --models item_knn ease leitmotif).")
    if not seeds:
        raise ConfigurationError("Name at least one seed.")
    if dataset.n_interactions == 0:
        raise ConfigurationError("The dataset has no interactions; load data first (python manage.py load_lastfm).")
    specs = [parse_rerank(s) for s in settings]
    labels = [str(s) for s in specs]
    if not specs or len(set(labels)) != len(labels):
        raise ConfigurationError(
            f"give each re-ranking setting once (got {labels}), e.g. none popularity:0.5 diversity:0.3."
        )
    names = [resolve_recommender_name(m) for m in models]
    params = {resolve_recommender_name(k): v for k, v in (model_params or {}).items()}
    signals = item_signals(dataset, units=units)
    ks = _check_ks(ks)
    results: list[EvaluationResult] = []
    used_splits: dict[str, TopKSplit] = {}
    jobs = [(seed, name) for seed in seeds for name in names]
    for seed, name in tqdm(jobs, desc=f"protocol {protocol} (re-ranked)", unit="model", disable=not progress):
        for split in _splits_for(protocol, dataset, seed):
            model = build_recommender(name, dataset=dataset, params=params.get(name))
            started = time.perf_counter()
            model.fit(split.train_binary(), seed=seed, context=split.training_context(side_info=dataset.side_info))
            fit_seconds = round(time.perf_counter() - started, 2)
            for result in evaluate_reranked(
                model, split, settings=specs, signals=signals, ks=ks, minimum_pool=minimum_pool, progress=False
            ):
                result.details["fit_seconds"] = fit_seconds
                results.append(result)
            used_splits.setdefault(f"{split.label}_seed{seed}", split)
    config = {
        "protocol": protocol,
        "models": names,
        "rerank": [str(s) for s in specs],
        "seeds": list(seeds),
        "ks": list(ks),
        "model_params": params,
        "units": list(units) if units else "per learner (top curriculum-linked tags)",
        "pool_size": pool_size(ks[-1]) if minimum_pool is None else pool_size(ks[-1], minimum=minimum_pool),
        "mood_lexicon": signals.lexicon.path,
        "dataset": {"users": dataset.n_users, "items": dataset.n_items, "interactions": dataset.n_interactions},
        "graph": {
            "concepts": signals.concepts.n_concepts,
            "concept_tag_links": int(signals.concepts.tag_concepts.nnz),
            "items_covering_a_concept": int(np.sum(np.diff(signals.concepts.item_concepts.indptr) > 0)),
        },
    }
    report_dir = Path(write_report(results, config=config, reports_dir=reports_dir, plots=plots))
    if export_splits:
        for label, split in used_splits.items():
            export_split(split, report_dir / "splits" / f"{label.replace('@', '_')}.tsv")
    return RerankedRun(report_dir=report_dir, results=results)
