"""Beyond-accuracy metrics of one recommendation list: curriculum fit, mood fit, popularity bias, diversity.

Why per-list functions: serving reports the scores of the very list it returns, and evaluation averages
the same functions over users, so the numbers on the page and in a report mean the same thing. Every
function ignores empty slots (:data:`~recommender.evaluation.metrics.NO_ITEM`) and returns ``None`` when
the metric is undefined for that list (said per function), never a made-up 0.

**Educational Match Score** of a list ``L`` for a unit ``U`` (a set of concepts), with "item ``i``
covers concept ``c``" as defined in :mod:`recommender.evaluation.concepts` (``C(i)`` = concepts ``i``
covers)::

    coverage(L, U) = |U ∩ ⋃_{i∈L} C(i)| / |U|                   share of the unit's concepts the list reaches
    on_topic(L, U) = |{i ∈ L : C(i) ∩ U ≠ ∅}| / |L|              share of the list's items that touch the unit
    EMS(L, U)      = ½ · coverage(L, U) + ½ · on_topic(L, U)     ∈ [0, 1]

Both halves matter: one on-topic item can cover every concept (coverage 1, on-topic 1/|L|), and a list
of ten items on the same single concept is fully on topic but covers little. Undefined (``None``) when
``U`` is empty; an empty list scores 0.

**Emotional Resonance Score** of ``L`` for a learner with mood profile ``p`` (see
:mod:`recommender.evaluation.moods`)::

    ERS(L, p) = mean_{i ∈ L, m_i ≠ 0} cos(p, m_i)                ∈ [0, 1] (mood vectors are non-negative)

Items without mood tags are *left out* of the mean (no evidence either way, rather than a penalty);
:func:`mood_share` reports how many items had mood information, so a list that resonates only because
it was judged on one item is visible. Undefined when ``p`` is zero (the learner's items carry no mood
tags and no mood was stated) or when no item of ``L`` has mood information.

**Popularity bias.** ``ARP(L) = mean_{i∈L} pop(i)`` (average recommendation popularity, as used by
Abdollahpouri, Burke & Mobasher, "Managing popularity bias in recommender systems with personalized
re-ranking", FLAIRS 2019), with ``pop(i)`` = training users who interacted with ``i``;
``long_tail(L)`` = share of ``L`` outside the *short head*, the most popular items that together hold
:data:`SHORT_HEAD_SHARE` of all training interactions (:func:`short_head`).

**Intra-list diversity** ``ILD(L) = mean_{i<j ∈ L'} (1 − cos(f_i, f_j))`` over the items ``L'`` of the
list that have a feature vector (tag counts); undefined when fewer than two do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommender.evaluation.metrics import NO_ITEM

#: Share of training interactions held by the short head (the most popular items).
SHORT_HEAD_SHARE = 0.2


def _items(items: Sequence[int] | np.ndarray) -> np.ndarray:
    items = np.asarray(items, dtype=np.int64).ravel()
    return items[items != NO_ITEM]


@dataclass(frozen=True)
class EducationalMatch:
    ems: float
    coverage: float
    on_topic: float


def educational_match(
    items: Sequence[int] | np.ndarray, item_concepts: sp.spmatrix | np.ndarray, unit: Sequence[int] | np.ndarray
) -> EducationalMatch | None:
    """EMS of one list (module docstring); ``unit`` holds concept column indices of ``item_concepts``
    (a sparse 0/1 matrix, or a dense boolean array)."""
    unit = np.unique(np.asarray(unit, dtype=np.int64))
    if unit.size == 0:
        return None
    items = _items(items)
    if items.size == 0:
        return EducationalMatch(0.0, 0.0, 0.0)
    if sp.issparse(item_concepts):
        covered = np.asarray(sp.csr_matrix(item_concepts)[items][:, unit].todense()) > 0
    else:
        covered = np.asarray(item_concepts)[np.ix_(items, unit)] > 0
    coverage = float(covered.any(axis=0).mean())
    on_topic = float(covered.any(axis=1).mean())
    return EducationalMatch(ems=0.5 * coverage + 0.5 * on_topic, coverage=coverage, on_topic=on_topic)


def _cosines(profile: np.ndarray, rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(profile)
    return np.divide(rows @ profile, norms, out=np.zeros(len(rows)), where=norms > 0)


def mood_cosines(profile: np.ndarray | None, item_moods: np.ndarray, items: Sequence[int] | np.ndarray) -> np.ndarray:
    """cos(p, m_i) for each of ``items`` (0 where the item has no mood information or ``p`` is zero)."""
    rows = np.asarray(item_moods, dtype=np.float64)[_items(items)]
    if profile is None or not np.any(profile):
        return np.zeros(len(rows))
    return np.clip(_cosines(np.asarray(profile, dtype=np.float64), rows), 0.0, 1.0)


def emotional_resonance(
    items: Sequence[int] | np.ndarray, item_moods: np.ndarray, profile: np.ndarray | None
) -> float | None:
    """ERS of one list (module docstring)."""
    if profile is None or not np.any(np.asarray(profile) > 0):
        return None
    items = _items(items)
    rows = np.asarray(item_moods, dtype=np.float64)[items]
    known = rows.sum(axis=1) > 0
    if not known.any():
        return None
    return float(np.clip(_cosines(np.asarray(profile, dtype=np.float64), rows[known]), 0.0, 1.0).mean())


def mood_share(items: Sequence[int] | np.ndarray, item_moods: np.ndarray) -> float | None:
    """Share of the list's items that have mood information (``None`` for an empty list)."""
    items = _items(items)
    if items.size == 0:
        return None
    return float((np.asarray(item_moods)[items].sum(axis=1) > 0).mean())


def average_popularity(items: Sequence[int] | np.ndarray, item_popularity: np.ndarray) -> float | None:
    """ARP of one list: mean training popularity of its items (``None`` for an empty list)."""
    items = _items(items)
    if items.size == 0:
        return None
    return float(np.asarray(item_popularity, dtype=np.float64)[items].mean())


def short_head(item_popularity: np.ndarray, *, share: float = SHORT_HEAD_SHARE) -> np.ndarray:
    """Boolean mask of the short head: the fewest most-popular items holding ``share`` of all interactions.

    Items are taken in decreasing popularity (ties: lower index first) until their interactions reach
    ``share`` of the total; with no interactions at all the head is empty.
    """
    if not 0 < share < 1:
        raise ValueError(f"share must lie strictly between 0 and 1, got {share!r}.")
    popularity = np.asarray(item_popularity, dtype=np.float64)
    head = np.zeros(len(popularity), dtype=bool)
    total = popularity.sum()
    if total <= 0:
        return head
    order = np.lexsort((np.arange(len(popularity)), -popularity))
    cumulative = np.cumsum(popularity[order])
    n_head = int(np.searchsorted(cumulative, share * total, side="left")) + 1
    head[order[:n_head]] = True
    return head


def long_tail_share(items: Sequence[int] | np.ndarray, head: np.ndarray) -> float | None:
    """Share of the list outside the short head (``None`` for an empty list)."""
    items = _items(items)
    if items.size == 0:
        return None
    return float((~np.asarray(head, dtype=bool)[items]).mean())


def normalised_features(features: sp.spmatrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (empty rows stay empty): cosines become dot products."""
    features = sp.csr_matrix(features, dtype=np.float64)
    norms = np.sqrt(np.asarray(features.multiply(features).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale) @ features)


def intra_list_diversity(items: Sequence[int] | np.ndarray, unit_features: sp.spmatrix) -> float | None:
    """ILD of one list over L2-normalised feature rows (:func:`normalised_features`)."""
    items = _items(items)
    rows = sp.csr_matrix(unit_features)[items]
    rows = rows[np.diff(rows.indptr) > 0]
    n = rows.shape[0]
    if n < 2:
        return None
    similarity = np.asarray((rows @ rows.T).todense())
    upper = similarity[np.triu_indices(n, k=1)]
    return float(np.mean(1.0 - np.clip(upper, 0.0, 1.0)))


def mean_defined(values: Sequence[float | None]) -> tuple[float, int]:
    """(mean of the values that are not ``None``, how many there were); NaN when none is defined."""
    defined = [v for v in values if v is not None]
    return (float(np.mean(defined)) if defined else float("nan")), len(defined)


def batch_metrics(
    top: np.ndarray,
    ks: Sequence[int],
    *,
    item_popularity: np.ndarray,
    head: np.ndarray,
    unit_features: sp.spmatrix,
    item_moods: np.ndarray,
    profiles: np.ndarray,
    item_concepts: np.ndarray,
    units: np.ndarray,
) -> dict[str, np.ndarray]:
    """Every metric of this module for many lists at once: ``name@K`` → one value per row (NaN = undefined).

    The same definitions as the per-list functions (tests check they agree), vectorised so a report over
    thousands of users does not spend its time in Python loops. ``top`` is (users × K_max) with
    :data:`NO_ITEM` for empty slots; ``profiles`` (users × moods); ``item_concepts`` a dense boolean
    (items × concepts) matrix; ``units`` a boolean (users × concepts) mask of each user's unit.
    """
    top = np.asarray(top, dtype=np.int64)
    n_users, k_max = top.shape
    valid = top != NO_ITEM
    safe = np.where(valid, top, 0)
    popularity = np.asarray(item_popularity, dtype=np.float64)[safe] * valid
    tail = (~np.asarray(head, dtype=bool))[safe] & valid
    moods = np.asarray(item_moods, dtype=np.float64)[safe]
    profiles = np.asarray(profiles, dtype=np.float64)
    has_mood = (moods.sum(axis=2) > 0) & valid
    norms = np.linalg.norm(moods, axis=2) * np.linalg.norm(profiles, axis=1)[:, None]
    cosine = np.clip(
        np.divide(np.einsum("ukm,um->uk", moods, profiles), norms, out=np.zeros_like(norms), where=norms > 0), 0.0, 1.0
    )
    has_profile = (profiles > 0).any(axis=1)
    units = np.asarray(units, dtype=bool)
    unit_size = units.sum(axis=1)
    covered = np.asarray(item_concepts, dtype=bool)[safe] & units[:, None, :] & valid[:, :, None]
    similarity, featured = _list_similarities(top, valid, unit_features)

    out: dict[str, np.ndarray] = {}
    nan = np.full(n_users, np.nan)
    for k in ks:
        n = valid[:, :k].sum(axis=1)
        some = n > 0
        out[f"arp@{k}"] = np.divide(popularity[:, :k].sum(axis=1), n, out=nan.copy(), where=some)
        out[f"long_tail@{k}"] = np.divide(tail[:, :k].sum(axis=1), n, out=nan.copy(), where=some)
        out[f"mood_share@{k}"] = np.divide(has_mood[:, :k].sum(axis=1), n, out=nan.copy(), where=some)
        n_mood = has_mood[:, :k].sum(axis=1)
        out[f"ers@{k}"] = np.divide(
            (cosine[:, :k] * has_mood[:, :k]).sum(axis=1), n_mood, out=nan.copy(), where=(n_mood > 0) & has_profile
        )
        with_unit = unit_size > 0
        coverage = np.divide(covered[:, :k].any(axis=1).sum(axis=1), unit_size, out=nan.copy(), where=with_unit)
        on_topic = np.where(
            with_unit, np.divide(covered[:, :k].any(axis=2).sum(axis=1), n, out=np.zeros(n_users), where=some), np.nan
        )
        out[f"ems_coverage@{k}"] = coverage
        out[f"ems_on_topic@{k}"] = on_topic
        out[f"ems@{k}"] = 0.5 * coverage + 0.5 * on_topic
        ild = nan.copy()
        for u in range(n_users):
            chosen = np.flatnonzero(featured[u, :k])
            if chosen.size >= 2:
                block = similarity[u][np.ix_(chosen, chosen)]
                ild[u] = float(np.mean(1.0 - np.clip(block[np.triu_indices(chosen.size, k=1)], 0.0, 1.0)))
        out[f"ild@{k}"] = ild
    return out


def _list_similarities(top: np.ndarray, valid: np.ndarray, unit_features: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """(users × K × K) cosines between each list's items and (users × K) "has a feature vector" flags."""
    features = sp.csr_matrix(unit_features)
    n_users, k_max = top.shape
    rows = features[np.where(valid, top, 0).ravel()]
    featured = (np.diff(rows.indptr) > 0).reshape(n_users, k_max) & valid
    similarity = np.zeros((n_users, k_max, k_max))
    for u in range(n_users):
        block = rows[u * k_max : (u + 1) * k_max]
        similarity[u] = (block @ block.T).toarray()
    return similarity, featured
