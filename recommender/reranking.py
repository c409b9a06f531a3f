"""Re-rankers: reorder a model's candidate list for popularity, diversity, mood or a curriculum unit.

Why pure functions over ``(items, scores)``: serving and offline evaluation must apply *the same*
re-ranking, so a re-ranker sees only a candidate list (item indices, best first, with the model's
scores) and a :class:`RerankContext` of item facts, and returns the new top ``k``. Re-rankers are
chosen by name with one strength knob (``"popularity:0.5"``) from a registry, like models.

**One rule for every re-ranker.** The model scores of the candidates are min–max scaled to ``ŝ ∈ [0, 1]``
(all equal → all 1), and items are picked greedily by::

    value(i | S) = (1 − λ) · ŝ(i) + λ · g(i | S)          λ = strength ∈ [0, 1], S = items picked so far

so ``λ = 0`` returns the model's own order (exactly; the function short-cuts to it) and ``λ = 1`` ranks by
the objective ``g ∈ [0, 1]`` alone, ties broken by the model's order. Only the candidates are
re-ordered: callers pass a pool deeper than ``k`` (:func:`pool_size`), so relevance still bounds what can
be shown. The objectives:

* ``none`` — no change.
* ``popularity`` — ``g(i) = 1 − log(1 + pop_i) / log(1 + max pop)``: a penalty on log-popularity
  (a linear "score − α·log-popularity" re-scoring, as in popularity-penalising re-rankers; not xQuAD).
* ``diversity`` — maximal marginal relevance (Carbonell & Goldstein, SIGIR 1998) over tag vectors:
  ``g(i | S) = 1 − max_{j∈S} cos(f_i, f_j)`` (1 for the first pick; an item without tags is treated as
  unlike everything, cos = 0).
* ``mood`` — ``g(i) = cos(p, m_i)``, the learner's mood profile (or stated mood) against the item's mood
  distribution; items without mood tags get 0. A learner without a profile keeps the model's order.
* ``unit`` — curriculum coverage, greedy like xQuAD's coverage of aspects (Santos et al., WWW 2010) but
  with concepts as aspects: ``g(i | S) = ½ · |C(i) ∩ U \\ C(S)| / |U| + ½ · [C(i) ∩ U ≠ ∅]`` — new
  concepts of the unit count, and being on topic at all counts; it mirrors the two halves of the
  Educational Match Score (:mod:`recommender.evaluation.learning_metrics`). An empty unit keeps the order.

Because λ scales the whole objective, "more strength" means "more of the objective": for the static
objectives (popularity, mood) the sum of ``g`` over the returned top ``k`` never decreases as λ grows
(the top-k of a weighted sum maximises that sum; tests check it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from core.errors import ConfigurationError

#: Candidates re-ranked per list: ``max(DEFAULT_POOL_SIZE, POOL_FACTOR · k)`` (see :func:`pool_size`).
DEFAULT_POOL_SIZE = 100
POOL_FACTOR = 5
NO_ITEM = -1
_SPEC = re.compile(r"^\s*(?P<name>[A-Za-z_]+)\s*(?::\s*(?P<strength>[^\s:]+)\s*)?$")


@dataclass(frozen=True)
class RerankContext:
    """Item facts (indexed like the candidates) and this learner's targets; re-rankers read what they need.

    ``item_features`` rows should be L2-normalised (``learning_metrics.normalised_features``) so dot
    products are cosines; ``unit`` holds column indices of ``item_concepts``.
    """

    item_popularity: np.ndarray | None = None
    item_features: sp.csr_matrix | None = None
    item_moods: np.ndarray | None = None
    mood_profile: np.ndarray | None = None
    item_concepts: sp.csr_matrix | np.ndarray | None = None  # 0/1 sparse or boolean dense (items × concepts)
    unit: np.ndarray | None = None


@dataclass(frozen=True)
class RerankSpec:
    """A re-ranker by name with its strength λ ∈ [0, 1] (``str`` gives ``"popularity:0.5"`` back)."""

    name: str
    strength: float

    def __str__(self) -> str:
        return "none" if self.name == "none" else f"{self.name}:{self.strength:g}"

    @property
    def is_identity(self) -> bool:
        return self.name == "none" or self.strength == 0


@dataclass(frozen=True)
class _Reranker:
    name: str
    description: str
    default_strength: float
    build: Callable[[np.ndarray, RerankContext], _Objective | None]


class _Objective:
    """``g`` for a candidate pool: :meth:`values` given the picks so far (static objectives ignore them)."""

    static = True

    def values(self, picked: list[int]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def update(self, position: int) -> None:
        """Called after the candidate at ``position`` is picked (dynamic objectives keep state)."""


class _Static(_Objective):
    def __init__(self, g: np.ndarray) -> None:
        self.g = g

    def values(self, picked: list[int]) -> np.ndarray:
        return self.g


_REGISTRY: dict[str, _Reranker] = {}


def register_reranker(name: str, *, description: str, default_strength: float = 0.5) -> Callable:
    """Register ``build(items, context) -> objective | None`` under ``name`` (``None`` = keep the order)."""

    def decorator(build: Callable) -> Callable:
        if name in _REGISTRY:
            raise ConfigurationError(f"a re-ranker named {name!r} is already registered.")
        _REGISTRY[name] = _Reranker(name=name, description=description, default_strength=default_strength, build=build)
        return build

    return decorator


def available_rerankers() -> dict[str, str]:
    """Name -> one-line description of every registered re-ranker."""
    return {name: r.description for name, r in _REGISTRY.items()}


def parse_rerank(text: str | RerankSpec | None) -> RerankSpec:
    """``"diversity:0.3"`` / ``"mood"`` (default strength) / ``"none"`` → :class:`RerankSpec`; bad input says what to write."""
    if isinstance(text, RerankSpec):
        return text
    if text is None or (isinstance(text, str) and not text.strip()):
        return RerankSpec("none", 0.0)
    choices = ", ".join(_REGISTRY)
    match = _SPEC.match(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigurationError(
            f"re-ranking {text!r} is not NAME or NAME:STRENGTH (e.g. popularity:0.5); names: {choices}."
        )
    name = match["name"].lower()
    if name not in _REGISTRY:
        raise ConfigurationError(f"unknown re-ranker {match['name']!r}; choose from: {choices}.")
    raw = match["strength"]
    if name == "none":
        if raw is not None:
            raise ConfigurationError("the 'none' re-ranker takes no strength; write just none.")
        return RerankSpec("none", 0.0)
    if raw is None:
        return RerankSpec(name, _REGISTRY[name].default_strength)
    try:
        strength = float(raw)
    except ValueError:
        strength = math.nan
    if not (0.0 <= strength <= 1.0):
        raise ConfigurationError(f"the strength of {name} must be a number from 0 to 1 (e.g. {name}:0.5), got {raw!r}.")
    return RerankSpec(name, strength)


def pool_size(k: int, *, minimum: int = DEFAULT_POOL_SIZE) -> int:
    """How many candidates to hand a re-ranker for a top ``k``: ``max(minimum, 5 · k)``."""
    return max(int(minimum), POOL_FACTOR * int(k))


def rerank(spec: str | RerankSpec, items: np.ndarray, scores: np.ndarray, k: int, context: RerankContext) -> np.ndarray:
    """The top ``k`` of the candidates ``items`` (with model ``scores``) after re-ranking by ``spec``.

    Candidates are ordered by score (highest first, ties keep the given order) before anything else,
    so the caller's order only breaks ties. Empty slots (:data:`NO_ITEM`) and ``-inf`` scores
    (excluded items) are dropped. Returns fewer than ``k`` items only when fewer candidates remain.
    """
    spec = parse_rerank(spec)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigurationError(f"k must be a positive whole number, got {k!r}.")
    items = np.asarray(items, dtype=np.int64).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if items.shape != scores.shape:
        raise ConfigurationError(
            f"items and scores must have the same length, got {items.shape[0]} and {scores.shape[0]}."
        )
    if np.isnan(scores).any():
        raise ConfigurationError("candidate scores contain NaN.")
    keep = (items != NO_ITEM) & np.isfinite(scores)
    items, scores = items[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")
    items, scores = items[order], scores[order]
    if spec.is_identity or len(items) <= 1:
        return items[:k]
    objective = _REGISTRY[spec.name].build(items, context)
    if objective is None:
        return items[:k]
    low, high = scores.min(), scores.max()
    relevance = (scores - low) / (high - low) if high > low else np.ones_like(scores)
    weight = spec.strength
    if objective.static:
        value = (1.0 - weight) * relevance + weight * objective.values([])
        return items[np.argsort(-value, kind="stable")[:k]]
    picked: list[int] = []
    available = np.ones(len(items), dtype=bool)
    for _ in range(min(k, len(items))):
        value = (1.0 - weight) * relevance + weight * objective.values(picked)
        value = np.where(available, value, -np.inf)
        best = int(np.argmax(value))  # first maximum: ties go to the better model score
        picked.append(best)
        available[best] = False
        objective.update(best)
    return items[picked]


def _require(value, what: str, name: str):
    if value is None:
        raise ConfigurationError(f"the {name} re-ranker needs {what}; the caller did not provide it.")
    return value


# --- the registered re-rankers -------------------------------------------------------------------------


@register_reranker("none", description="the model's own order", default_strength=0.0)
def _none(items: np.ndarray, context: RerankContext) -> None:
    return None


@register_reranker("popularity", description="penalise log-popularity: λ trades relevance for less popular items")
def _popularity(items: np.ndarray, context: RerankContext) -> _Objective:
    popularity = np.asarray(_require(context.item_popularity, "item popularity", "popularity"), dtype=np.float64)
    top = math.log1p(max(float(popularity.max(initial=0.0)), 0.0))
    if top <= 0:
        return _Static(np.ones(len(items)))
    return _Static(1.0 - np.log1p(np.maximum(popularity[items], 0.0)) / top)


class _Diversity(_Objective):
    static = False

    def __init__(self, similarity: np.ndarray) -> None:
        self.similarity = similarity
        self.closest = np.zeros(similarity.shape[0])

    def values(self, picked: list[int]) -> np.ndarray:
        return 1.0 - self.closest

    def update(self, position: int) -> None:
        self.closest = np.maximum(self.closest, self.similarity[position])


@register_reranker("diversity", description="maximal marginal relevance over tag vectors", default_strength=0.3)
def _diversity(items: np.ndarray, context: RerankContext) -> _Objective:
    features = sp.csr_matrix(_require(context.item_features, "item feature vectors (tags)", "diversity"))[items]
    similarity = np.clip(np.asarray((features @ features.T).todense(), dtype=np.float64), 0.0, 1.0)
    return _Diversity(similarity)


@register_reranker("mood", description="boost items whose moods match the learner's mood profile or stated mood")
def _mood(items: np.ndarray, context: RerankContext) -> _Objective | None:
    moods = _require(context.item_moods, "item mood distributions", "mood")
    profile = context.mood_profile
    if profile is None or not np.any(np.asarray(profile) > 0):
        return None
    rows = np.asarray(moods, dtype=np.float64)[items]
    profile = np.asarray(profile, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(profile)
    return _Static(np.clip(np.divide(rows @ profile, norms, out=np.zeros(len(items)), where=norms > 0), 0.0, 1.0))


class _UnitCoverage(_Objective):
    static = False

    def __init__(self, covered: np.ndarray) -> None:
        self.covered = covered  # (pool × |U|) bool
        self.on_topic = covered.any(axis=1).astype(np.float64)
        self.reached = np.zeros(covered.shape[1], dtype=bool)

    def values(self, picked: list[int]) -> np.ndarray:
        new = (self.covered & ~self.reached).sum(axis=1) / self.covered.shape[1]
        return 0.5 * new + 0.5 * self.on_topic

    def update(self, position: int) -> None:
        self.reached |= self.covered[position]


@register_reranker("unit", description="boost items that cover the concepts of a curriculum unit")
def _unit(items: np.ndarray, context: RerankContext) -> _Objective | None:
    concepts = _require(context.item_concepts, "item → concept links", "unit")
    unit = np.unique(np.asarray(context.unit if context.unit is not None else [], dtype=np.int64))
    if unit.size == 0:
        return None
    if sp.issparse(concepts):
        return _UnitCoverage(np.asarray(sp.csr_matrix(concepts)[items][:, unit].todense()) > 0)
    return _UnitCoverage(np.asarray(concepts)[np.ix_(items, unit)] > 0)
