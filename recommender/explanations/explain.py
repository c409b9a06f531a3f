"""Explanations of recommendations: graph paths when they exist, an honest fallback when they do not.

Faithfulness is the rule everything here follows: a graph explanation only cites edges of the
snapshot (each one a stored triple, with the direction it is stored in) and starts at an entity the
caller says the listener engaged with; when no path of at most ``max_hops`` edges exists, the result
says so (``basis == "no_path"``, no sentence), and the caller supplies what the recommendation was
really based on through :meth:`Explanation.fallback` — nothing is ever made up here.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from learning_platform.errors import ConfigurationError

from .paths import (
    DEFAULT_MAX_CANDIDATES,
    DEFAULT_MAX_EXPAND_DEGREE,
    DEFAULT_PER_NODE_LIMIT,
    GraphPath,
    SourceSide,
    check_max_hops,
    find_paths,
)
from .rendering import DEFAULT_ROLE, check_source_roles, edge_dicts, node_dict, path_sentence
from .scoring import PathScorer, check_scorer
from .snapshot import GraphSnapshot

GRAPH_BASIS = "graph"
#: ``explain`` found no path and was given no fallback: the caller must supply one.
NO_PATH_BASIS = "no_path"
FALLBACK_BASES = ("similar_listeners", "popularity", "your_interests")
MAX_PATHS_LIMIT = 10


@dataclass(frozen=True)
class ExplanationPath:
    """One cited path: ``nodes`` from a source to the target, ``edges`` as stored plus walk direction."""

    score: float
    nodes: list[dict[str, str]]
    edges: list[dict[str, str]]
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "sentence": self.sentence, "nodes": list(self.nodes), "edges": list(self.edges)}


@dataclass(frozen=True)
class Explanation:
    """Why ``target`` was recommended. ``basis`` is ``graph``, ``no_path`` or one of :data:`FALLBACK_BASES`."""

    target: str
    basis: str
    paths: list[ExplanationPath] = field(default_factory=list)
    sentence: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def has_paths(self) -> bool:
        return bool(self.paths)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "basis": self.basis,
            "sentence": self.sentence,
            "paths": [path.to_dict() for path in self.paths],
            "evidence": dict(self.evidence),
        }

    @classmethod
    def fallback(cls, target: str, basis: str, sentence: str | None = None, evidence: dict | None = None) -> "Explanation":
        """A non-graph explanation saying what the recommendation is really based on.

        ``sentence`` defaults to a plain statement of ``basis`` (:func:`fallback_sentence`); ``evidence``
        carries the numbers behind it (``{"listeners": 12}``) for the API to show.
        """
        if not isinstance(target, str) or not target.strip():
            raise ConfigurationError(f"An explanation needs the target entity id, got {target!r}.")
        if basis not in FALLBACK_BASES:
            raise ConfigurationError(f"Unknown explanation basis {basis!r}; a fallback is one of: {', '.join(FALLBACK_BASES)}.")
        if evidence is not None and not isinstance(evidence, Mapping):
            raise ConfigurationError(f"evidence must be a dict, got {type(evidence).__name__}.")
        evidence = dict(evidence or {})
        if sentence is None:
            sentence = fallback_sentence(basis, evidence)
        if not isinstance(sentence, str) or not sentence.strip():
            raise ConfigurationError("A fallback explanation needs a non-empty sentence (or leave it out for the default).")
        return cls(target=target, basis=basis, paths=[], sentence=sentence.strip(), evidence=evidence)


def fallback_sentence(basis: str, evidence: Mapping[str, Any] | None = None) -> str:
    """Default wording of a fallback; it only repeats numbers found in ``evidence``."""
    evidence = evidence or {}
    if basis == "similar_listeners":
        count = evidence.get("listeners")
        who = f"{count} listeners" if isinstance(count, int) and count > 0 else "Listeners"
        return f"{who} with tastes like yours also listen to this."
    if basis == "popularity":
        plays = evidence.get("plays")
        suffix = f" ({plays:,} plays)" if isinstance(plays, int) and plays > 0 else ""
        return f"This is popular with Leitmotif listeners{suffix}."
    if basis == "your_interests":
        names = evidence.get("interests")
        if isinstance(names, (list, tuple)) and names:
            return f"This matches interests you picked: {', '.join(map(str, names))}."
        return "This matches the interests you picked."
    raise ConfigurationError(f"Unknown explanation basis {basis!r}; a fallback is one of: {', '.join(FALLBACK_BASES)}.")


# --- entry points -------------------------------------------------------------------------------


def explain(
    snapshot: GraphSnapshot,
    *,
    sources: Sequence[str],
    target: str,
    max_hops: int = 3,
    max_paths: int = 3,
    scorer: PathScorer | str | None = None,
    source_roles: Mapping[str, str] | None = None,
    fallback: Explanation | None = None,
    max_expand_degree: int = DEFAULT_MAX_EXPAND_DEGREE,
    per_node_limit: int = DEFAULT_PER_NODE_LIMIT,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
) -> Explanation:
    """Explain one ``target`` from the entities the listener engaged with (``sources``).

    Sources missing from the graph are skipped (a listened artist may have no graph entity); an
    unknown ``target`` raises ``UnknownEntityError``. With no path, ``fallback`` is returned if given,
    otherwise an explanation with ``basis="no_path"`` and no paths. The last three arguments are
    the hub caps of :func:`~recommender.explanations.paths.find_paths`.
    """
    return explain_many(
        snapshot, sources=sources, targets=[target], max_hops=max_hops, max_paths=max_paths, scorer=scorer,
        source_roles=source_roles, fallbacks={target: fallback} if fallback is not None else None,
        max_expand_degree=max_expand_degree, per_node_limit=per_node_limit, max_candidates=max_candidates,
    )[target]


def explain_many(
    snapshot: GraphSnapshot,
    *,
    sources: Sequence[str],
    targets: Sequence[str],
    max_hops: int = 3,
    max_paths: int = 3,
    scorer: PathScorer | str | None = None,
    source_roles: Mapping[str, str] | None = None,
    fallbacks: Mapping[str, Explanation] | None = None,
    max_expand_degree: int = DEFAULT_MAX_EXPAND_DEGREE,
    per_node_limit: int = DEFAULT_PER_NODE_LIMIT,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
) -> dict[str, Explanation]:
    """:func:`explain` for several targets of one listener; the source side is computed once.

    Every argument is checked before any search, so a bad target never leaves half the work done.
    Returns ``target id -> Explanation`` in the order of ``targets`` (duplicates collapsed).
    """
    if not isinstance(snapshot, GraphSnapshot):
        raise ConfigurationError(f"snapshot must be a GraphSnapshot (see current_snapshot()), got {type(snapshot).__name__}.")
    source_ids = _id_list(sources, "sources")
    target_ids = list(dict.fromkeys(_id_list(targets, "targets")))
    check_max_hops(max_hops)
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or not 1 <= max_paths <= MAX_PATHS_LIMIT:
        raise ConfigurationError(f"max_paths must be an integer from 1 to {MAX_PATHS_LIMIT}, got {max_paths!r}.")
    for name, value in (("max_expand_degree", max_expand_degree), ("per_node_limit", per_node_limit), ("max_candidates", max_candidates)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be a positive integer, got {value!r}.")
    path_scorer = check_scorer(scorer)
    roles = check_source_roles(source_roles)
    fallbacks = dict(fallbacks or {})
    for target_id, chosen in fallbacks.items():
        if chosen is not None and not isinstance(chosen, Explanation):
            raise ConfigurationError(f"The fallback for {target_id!r} must be an Explanation (see Explanation.fallback), got {type(chosen).__name__}.")
    target_nodes = {target_id: snapshot.index_of(target_id) for target_id in target_ids}

    known_sources = [snapshot.node_index[s] for s in source_ids if s in snapshot.node_index]
    side = SourceSide(snapshot, known_sources, per_node_limit=per_node_limit)
    results: dict[str, Explanation] = {}
    for target_id, target_node in target_nodes.items():
        candidates = find_paths(
            snapshot, side, target_node, max_hops=max_hops, max_expand_degree=max_expand_degree,
            per_node_limit=per_node_limit, max_candidates=max_candidates,
        )
        if not candidates:
            chosen = fallbacks.get(target_id)
            results[target_id] = chosen if chosen is not None else Explanation(target=target_id, basis=NO_PATH_BASIS)
            continue
        scores = np.asarray(path_scorer.score(snapshot, candidates), dtype=np.float64)
        rendered = []
        for index in select_diverse(candidates, scores, max_paths):
            path = candidates[index]
            role = roles.get(snapshot.ids[path.nodes[0]], DEFAULT_ROLE)
            rendered.append(ExplanationPath(
                score=float(scores[index]),
                nodes=[node_dict(snapshot, node) for node in path.nodes],
                edges=edge_dicts(snapshot, path),
                sentence=path_sentence(snapshot, path, role=role),
            ))
        results[target_id] = Explanation(
            target=target_id, basis=GRAPH_BASIS, paths=rendered, sentence=rendered[0].sentence,
            evidence={"snapshot": snapshot.version, "scorer": path_scorer.registry_name, "candidates": len(candidates)},
        )
    return results


def select_diverse(paths: Sequence[GraphPath], scores: np.ndarray, max_paths: int) -> list[int]:
    """Indices of the best paths, at most ``max_paths``, no two sharing an intermediate node.

    Best-first, skipping a path whose intermediates were already cited: three routes through the same
    "dance" tag from three of the listener's artists say one thing three times, so one is kept and the
    explanation may hold fewer than ``max_paths`` paths. Direct (1-edge) paths have no intermediates
    and are all eligible. Ties break on fewer hops, then node and edge order, so the choice is
    deterministic for a given snapshot.
    """
    order = sorted(range(len(paths)), key=lambda i: (-scores[i], paths[i].hops, paths[i].nodes, paths[i].edges))
    chosen: list[int] = []
    used: set[int] = set()
    for i in order:
        mids = set(paths[i].intermediates)
        if mids & used:
            continue
        chosen.append(i)
        used |= mids
        if len(chosen) == max_paths:
            break
    return chosen


def _id_list(values: Iterable[str], name: str) -> list[str]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ConfigurationError(f"{name} must be a list of entity ids, not {type(values).__name__} {values!r:.60}.")
    items = list(values)
    bad = [v for v in items if not isinstance(v, str) or not v.strip()]
    if bad:
        raise ConfigurationError(f"{name} must be non-empty entity id strings; got {bad[0]!r}.")
    return items
