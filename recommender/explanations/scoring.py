"""Path scorers: how strongly a path supports a recommendation, chosen by versioned name.

As in spaCy's and PyKEEN's registries, callers (settings, the serving layer, a benchmark) name a scorer
(``"explain.structural.v1"`` or the alias ``"structural"``) and :func:`build_scorer` returns a fresh
instance; old names stay resolvable when a scorer changes behaviour under a new version.

Scores are positive and only compared within one explanation (higher = better); they are not
probabilities.

* ``explain.structural.v2`` (default, alias ``descriptive``) — v1 below, plus what a node says about
  the music (:mod:`.quality`)::

      score = v1 score × Π_m quality(m)
      quality(m) = NON_DESCRIPTIVE_FACTOR (1e-4)  for a noise tag ("none", "seen live", "madonna", a tag on 1 artist)
                   CURATED_TAG_BONUS (1.5)       for a genre/instrument tag the course graph links to
                   1                             otherwise

  Why 1e-4: it makes every path through a noise tag rank below every path without one, whatever the
  lengths and degrees (a noise 2-hop path scores at most 0.5 × 0.59 × 1e-4 ≈ 3e-5; the weakest clean
  3-hop path, two anonymous 13k-degree hubs, 0.25 × (0.095 × 0.25)² ≈ 1.4e-4), while keeping such a path
  citable when nothing better exists (the caller decides what to do then: see ``Explanation.evidence["weak"]``).

* ``explain.structural.v1`` (alias ``structural``) — needs nothing trained::

      score = hop_decay ** (hops - 1) * Π_m specificity(m) * anonymous_penalty ** (#anonymous m)
      specificity(m) = 1 / (1 + ln degree(m))          for every intermediate node m

  A tag on 5 artists (specificity 0.38) says more than one on 2,000 (0.12); each extra hop halves the
  score; a path through a placeholder KGCN node ("Film kgcn:123") is worth a quarter of a named one,
  so a named route wins whenever one exists.

* ``explain.kge.v1`` — the structural score times the geometric mean of each edge's plausibility under
  a trained KGE artifact (:func:`kg.embeddings.artifacts.load_kge_artifact`)::

      TransE:  f(h, r, t) = -‖e_h + w_r - e_t‖_p        (p from the artifact's model, PyKEEN default 1)
      ComplEx: f(h, r, t) = Re(<e_h, w_r, conj(e_t)>)  (vectors stored as [real | imaginary])
      plausibility(edge) = sigmoid((f - mean f) / std f)   mean/std over every snapshot edge the artifact knows

  An edge the artifact never saw (a course loaded after training) gets the neutral 0.5, so it neither
  helps nor hides a path. Its structural part is ``explain.structural.v2`` (noise tags rank last).

Scorers score arrays of equal-length paths (:meth:`PathScorer.score_arrays`, what the search calls) and
may publish an upper bound (:meth:`PathScorer.bound_factors`) that lets the search skip enumerating
3-edge paths that provably cannot make the cited top ``max_paths``.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from core.errors import ConfigurationError
from recommender.explanations.paths import GraphPath
from recommender.explanations.snapshot import GraphSnapshot

DEFAULT_SCORER = "explain.structural.v2"


class PathScorer(ABC):
    """Scores a batch of paths of one snapshot; stateless apart from caches keyed by snapshot version."""

    registry_name: ClassVar[str]

    @abstractmethod
    def score(self, snapshot: GraphSnapshot, paths: Sequence[GraphPath]) -> np.ndarray:
        """Float64 array with one positive score per path (same order)."""

    def score_arrays(self, snapshot: GraphSnapshot, nodes: np.ndarray, edges: np.ndarray) -> np.ndarray:
        """Scores of paths given as arrays: ``nodes`` (P × (h+1)) and ``edges`` (P × h), one path per row.

        The search calls this (no per-path objects); the default builds :class:`GraphPath` objects and
        calls :meth:`score`, so a custom scorer only has to implement :meth:`score`.
        """
        paths = [GraphPath(tuple(n), tuple(e)) for n, e in zip(nodes.tolist(), edges.tolist())]
        return np.asarray(self.score(snapshot, paths), dtype=np.float64)

    def bound_factors(self, snapshot: GraphSnapshot) -> tuple[float, np.ndarray] | None:
        """``(decay, factors)`` with ``score(path) <= decay ** (hops - 1) * Π factors[m]`` over its intermediates m.

        ``None`` (the default) means "no such bound": the search then enumerates every path. With a
        bound, it skips 3-edge paths when ``max_paths`` shorter ones already score at least the best a
        3-edge path could — the cited paths are the same as with a full enumeration.
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.registry_name!r})"


# --- registry -----------------------------------------------------------------------------------

_FACTORIES: dict[str, Callable[..., PathScorer]] = {}
_ALIASES: dict[str, str] = {}


def register_scorer(name: str, *, alias: str) -> Callable[[type[PathScorer]], type[PathScorer]]:
    """Class decorator: make a scorer buildable as ``name`` (versioned) or ``alias`` (what people type)."""

    def decorate(cls: type[PathScorer]) -> type[PathScorer]:
        if name in _FACTORIES or alias in _ALIASES:
            raise ConfigurationError(f"Path scorer {name!r} (alias {alias!r}) is registered twice.")
        cls.registry_name = name
        _FACTORIES[name] = cls
        _ALIASES[alias] = name
        return cls

    return decorate


def available_scorers() -> dict[str, str]:
    """Alias -> versioned name of every registered scorer."""
    return dict(sorted(_ALIASES.items()))


def resolve_scorer_name(name: str) -> str:
    key = name.strip().lower() if isinstance(name, str) else ""
    key = _ALIASES.get(key, key)
    if key not in _FACTORIES:
        choices = ", ".join(f"{alias} ({versioned})" for alias, versioned in available_scorers().items())
        raise ConfigurationError(f"Unknown path scorer {name!r}; choose one of: {choices}.")
    return key


def build_scorer(name: str = DEFAULT_SCORER, **params: Any) -> PathScorer:
    """A new scorer ``name`` built with keyword ``params`` (unknown parameters are refused by name)."""
    factory = _FACTORIES[resolve_scorer_name(name)]
    try:
        return factory(**params)
    except TypeError as exc:
        raise ConfigurationError(f"Bad parameters for path scorer {name!r}: {exc}.") from exc


# --- structural ---------------------------------------------------------------------------------


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value <= 1:
        raise ConfigurationError(f"{name} must be a number in (0, 1], got {value!r}.")
    return float(value)


@register_scorer("explain.structural.v1", alias="structural")
class StructuralScorer(PathScorer):
    """Short paths through specific, named nodes first (formula in the module docstring)."""

    def __init__(self, *, hop_decay: float = 0.5, anonymous_penalty: float = 0.25):
        self.hop_decay = _fraction("hop_decay", hop_decay)
        self.anonymous_penalty = _fraction("anonymous_penalty", anonymous_penalty)
        self._lock = threading.Lock()
        self._cache: tuple[str, np.ndarray] | None = None

    def node_factors(self, snapshot: GraphSnapshot) -> np.ndarray:
        """Per-node factor applied when the node is an intermediate (specificity × anonymous penalty)."""
        with self._lock:
            if self._cache is not None and self._cache[0] == snapshot.version:
                return self._cache[1]
            degree = np.maximum(snapshot.degree, 1).astype(np.float64)
            factors = 1.0 / (1.0 + np.log(degree))
            factors = np.where(snapshot.anonymous, factors * self.anonymous_penalty, factors)
            self._cache = (snapshot.version, factors)
            return factors

    def score(self, snapshot: GraphSnapshot, paths: Sequence[GraphPath]) -> np.ndarray:
        factors = self.node_factors(snapshot)
        scores = np.empty(len(paths), dtype=np.float64)
        for i, path in enumerate(paths):
            value = self.hop_decay ** (path.hops - 1)
            for node in path.intermediates:
                value *= factors[node]
            scores[i] = value
        return scores

    def score_arrays(self, snapshot: GraphSnapshot, nodes: np.ndarray, edges: np.ndarray) -> np.ndarray:
        factors = self.node_factors(snapshot)
        hops = edges.shape[1]
        scores = np.full(nodes.shape[0], self.hop_decay ** (hops - 1), dtype=np.float64)
        for column in range(1, hops):  # same multiplication order as score(): identical floats
            scores = scores * factors[nodes[:, column]]
        return scores

    def bound_factors(self, snapshot: GraphSnapshot) -> tuple[float, np.ndarray] | None:
        return self.hop_decay, self.node_factors(snapshot)


@register_scorer("explain.structural.v2", alias="descriptive")
class DescriptiveScorer(StructuralScorer):
    """:class:`StructuralScorer` × node quality: noise tags rank last, genre/instrument tags first (module doc)."""

    NON_DESCRIPTIVE_FACTOR = 1e-4

    def __init__(self, *, hop_decay: float = 0.5, anonymous_penalty: float = 0.25, curated_bonus: float | None = None):
        super().__init__(hop_decay=hop_decay, anonymous_penalty=anonymous_penalty)
        from recommender.explanations.quality import CURATED_TAG_BONUS

        bonus = CURATED_TAG_BONUS if curated_bonus is None else curated_bonus
        if (
            isinstance(bonus, bool)
            or not isinstance(bonus, (int, float))
            or not math.isfinite(bonus)
            or not 1 <= bonus <= 4
        ):
            raise ConfigurationError(f"curated_bonus must be a number from 1 to 4, got {bonus!r}.")
        self.curated_bonus = float(bonus)

    def node_factors(self, snapshot: GraphSnapshot) -> np.ndarray:
        from recommender.explanations.quality import node_quality

        with self._lock:
            if self._cache is not None and self._cache[0] == snapshot.version:
                return self._cache[1]
        quality = node_quality(snapshot)
        degree = np.maximum(snapshot.degree, 1).astype(np.float64)
        factors = 1.0 / (1.0 + np.log(degree))
        factors = np.where(snapshot.anonymous, factors * self.anonymous_penalty, factors)
        factors = np.where(quality.curated, factors * self.curated_bonus, factors)
        factors = np.where(quality.descriptive, factors, factors * self.NON_DESCRIPTIVE_FACTOR)
        with self._lock:
            self._cache = (snapshot.version, factors)
        return factors


# --- KGE ----------------------------------------------------------------------------------------


class EmbeddingArtifact(Protocol):
    """What the KGE scorer reads from :class:`kg.embeddings.artifacts.KgeArtifact` (read-only)."""

    @property
    def config(self) -> Any: ...
    @property
    def entity_to_id(self) -> Any: ...
    @property
    def relation_to_id(self) -> Any: ...
    @property
    def entity_embeddings(self) -> np.ndarray: ...
    @property
    def relation_embeddings(self) -> np.ndarray: ...


@register_scorer("explain.kge.v1", alias="kge")
class KgeScorer(PathScorer):
    """Structural score × geometric mean of edge plausibilities under TransE or ComplEx embeddings."""

    SUPPORTED_MODELS = ("TransE", "ComplEx")

    def __init__(
        self,
        *,
        artifact: EmbeddingArtifact | None = None,
        artifact_path: str | Path | None = None,
        hop_decay: float = 0.5,
        anonymous_penalty: float = 0.25,
    ):
        if (artifact is None) == (artifact_path is None):
            raise ConfigurationError(
                "The kge path scorer needs exactly one of artifact (a loaded KgeArtifact) or artifact_path "
                "(a directory under artifacts/kge made by `python manage.py train_kge`)."
            )
        if artifact is None:
            from kg.embeddings.artifacts import load_kge_artifact

            artifact = load_kge_artifact(artifact_path)  # type: ignore[arg-type]
        model = artifact.config.spec.pykeen_model
        if model not in self.SUPPORTED_MODELS:
            raise ConfigurationError(
                f"The kge path scorer supports {', '.join(self.SUPPORTED_MODELS)} artifacts, not {model}."
            )
        self.artifact = artifact
        self.model = model
        self.norm = int(artifact.config.spec.model_kwargs.get("scoring_fct_norm", 1))
        self.structural = DescriptiveScorer(hop_decay=hop_decay, anonymous_penalty=anonymous_penalty)
        self._lock = threading.Lock()
        self._cache: tuple[str, np.ndarray] | None = None

    def raw_scores(self, heads: np.ndarray, rels: np.ndarray, tails: np.ndarray) -> np.ndarray:
        """KGE interaction score of artifact rows ``(heads, rels, tails)`` (formulas in the module docstring)."""
        h = self.artifact.entity_embeddings[heads].astype(np.float64)
        r = self.artifact.relation_embeddings[rels].astype(np.float64)
        t = self.artifact.entity_embeddings[tails].astype(np.float64)
        if self.model == "TransE":
            return -np.linalg.norm(h + r - t, ord=self.norm, axis=1)
        half = h.shape[1] // 2
        hr, hi, rr, ri, tr, ti = h[:, :half], h[:, half:], r[:, :half], r[:, half:], t[:, :half], t[:, half:]
        # Re(h * r * conj(t)) with h*r = (hr·rr − hi·ri) + i(hr·ri + hi·rr).
        return ((hr * rr - hi * ri) * tr + (hr * ri + hi * rr) * ti).sum(axis=1)

    def edge_plausibility(self, snapshot: GraphSnapshot) -> np.ndarray:
        """Plausibility in (0, 1) of every snapshot edge (0.5 where the artifact lacks an entity or relation)."""
        with self._lock:
            if self._cache is not None and self._cache[0] == snapshot.version:
                return self._cache[1]
            entity_rows = np.array([self.artifact.entity_to_id.get(i, -1) for i in snapshot.ids], dtype=np.int64)
            relation_rows = np.array(
                [self.artifact.relation_to_id.get(r, -1) for r in snapshot.relation_types], dtype=np.int64
            )
            h = entity_rows[snapshot.heads] if snapshot.n_edges else np.empty(0, dtype=np.int64)
            t = entity_rows[snapshot.tails] if snapshot.n_edges else np.empty(0, dtype=np.int64)
            r = relation_rows[snapshot.rels] if snapshot.n_edges else np.empty(0, dtype=np.int64)
            known = (h >= 0) & (t >= 0) & (r >= 0)
            plausibility = np.full(snapshot.n_edges, 0.5, dtype=np.float64)
            if known.any():
                raw = self.raw_scores(h[known], r[known], t[known])
                spread = raw.std()
                z = (raw - raw.mean()) / spread if spread > 0 else np.zeros_like(raw)
                # Clipped away from 0 so one absurd edge lowers a path's score without zeroing it (log 0).
                plausibility[known] = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-6, 1.0)
            self._cache = (snapshot.version, plausibility)
            return plausibility

    def score(self, snapshot: GraphSnapshot, paths: Sequence[GraphPath]) -> np.ndarray:
        base = self.structural.score(snapshot, paths)
        plausibility = self.edge_plausibility(snapshot)
        support = np.array(
            [float(np.exp(np.log(plausibility[list(path.edges)]).mean())) for path in paths], dtype=np.float64
        )
        return base * support

    def score_arrays(self, snapshot: GraphSnapshot, nodes: np.ndarray, edges: np.ndarray) -> np.ndarray:
        base = self.structural.score_arrays(snapshot, nodes, edges)
        plausibility = self.edge_plausibility(snapshot)
        return base * np.exp(np.log(plausibility[edges]).mean(axis=1))

    def bound_factors(self, snapshot: GraphSnapshot) -> tuple[float, np.ndarray] | None:
        # Plausibilities are at most 1, so the structural bound holds for this score too.
        return self.structural.bound_factors(snapshot)


def check_scorer(scorer: PathScorer | str | None) -> PathScorer:
    """``None`` → the default structural scorer; a name → :func:`build_scorer`; an instance as given."""
    if scorer is None:
        return _default_scorer()
    if isinstance(scorer, str):
        return build_scorer(scorer)
    if not isinstance(scorer, PathScorer):
        raise ConfigurationError(
            f"scorer must be a PathScorer or a registered name ({', '.join(available_scorers())}), got {type(scorer).__name__}."
        )
    return scorer


_DEFAULT: PathScorer | None = None


def _default_scorer() -> PathScorer:
    """One shared default instance, so its per-snapshot cache is reused across calls."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = build_scorer(DEFAULT_SCORER)
    return _DEFAULT
