"""Explanations of recommendations: graph paths when they exist, an honest fallback when they do not.

Faithfulness is the rule everything here follows: a graph explanation only cites edges of the
snapshot (each one a stored triple, with the direction it is stored in) and starts at an entity the
caller says the listener engaged with; when no path of at most ``max_hops`` edges exists, the result
says so (``basis == "no_path"``, no sentence), and the caller supplies what the recommendation was
really based on through :meth:`Explanation.fallback` — nothing is ever made up here.

Noise tags ("seen live", "none", a tag on one artist, an artist's name; see :mod:`.quality`) are true
edges, so a path through one may still be cited, but the default scorer ranks it below every path
without one, and an explanation whose every cited path needs such a tag is marked
``evidence["weak"] = True``; beside at least one clean path, paths through noise are not cited at
all. A *weak* explanation gives way to the caller's fallback when one is given
(for music, the co-listening link the model itself used is a better reason than a shared "fuck yeah"
tag); with no fallback it is returned as is — a weak true reason beats none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.errors import ConfigurationError
from recommender.explanations.paths import (
    DEFAULT_MAX_CANDIDATES,
    DEFAULT_MAX_EXPAND_DEGREE,
    DEFAULT_PER_NODE_LIMIT,
    GraphPath,
    PathArrays,
    SourceSide,
    TargetSide,
    check_max_hops,
    enumerate_short,
    enumerate_three,
    expandable_neighbours,
)
from recommender.explanations.quality import node_quality
from recommender.explanations.rendering import DEFAULT_ROLE, check_source_roles, edge_dicts, node_dict, path_sentence
from recommender.explanations.scoring import PathScorer, check_scorer
from recommender.explanations.snapshot import GraphSnapshot

GRAPH_BASIS = "graph"
#: ``explain`` found no path and was given no fallback: the caller must supply one.
NO_PATH_BASIS = "no_path"
FALLBACK_BASES = ("similar_listeners", "popularity", "your_interests", "similar_content")
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
    def fallback(
        cls, target: str, basis: str, sentence: str | None = None, evidence: dict | None = None
    ) -> Explanation:
        """A non-graph explanation saying what the recommendation is really based on.

        ``sentence`` defaults to a plain statement of ``basis`` (:func:`fallback_sentence`); ``evidence``
        carries the numbers behind it (``{"listeners": 12}``) for the API to show.
        """
        if not isinstance(target, str) or not target.strip():
            raise ConfigurationError(f"An explanation needs the target entity id, got {target!r}.")
        if basis not in FALLBACK_BASES:
            raise ConfigurationError(
                f"Unknown explanation basis {basis!r}; a fallback is one of: {', '.join(FALLBACK_BASES)}."
            )
        if evidence is not None and not isinstance(evidence, Mapping):
            raise ConfigurationError(f"evidence must be a dict, got {type(evidence).__name__}.")
        evidence = dict(evidence or {})
        if sentence is None:
            sentence = fallback_sentence(basis, evidence)
        if not isinstance(sentence, str) or not sentence.strip():
            raise ConfigurationError(
                "A fallback explanation needs a non-empty sentence (or leave it out for the default)."
            )
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
    if basis == "similar_content":
        return "This is new to Leitmotif listeners and resembles artists you play."
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
        snapshot,
        sources=sources,
        targets=[target],
        max_hops=max_hops,
        max_paths=max_paths,
        scorer=scorer,
        source_roles=source_roles,
        fallbacks={target: fallback} if fallback is not None else None,
        max_expand_degree=max_expand_degree,
        per_node_limit=per_node_limit,
        max_candidates=max_candidates,
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
        raise ConfigurationError(
            f"snapshot must be a GraphSnapshot (see current_snapshot()), got {type(snapshot).__name__}."
        )
    source_ids = _id_list(sources, "sources")
    target_ids = list(dict.fromkeys(_id_list(targets, "targets")))
    check_max_hops(max_hops)
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or not 1 <= max_paths <= MAX_PATHS_LIMIT:
        raise ConfigurationError(f"max_paths must be an integer from 1 to {MAX_PATHS_LIMIT}, got {max_paths!r}.")
    for name, value in (
        ("max_expand_degree", max_expand_degree),
        ("per_node_limit", per_node_limit),
        ("max_candidates", max_candidates),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be a positive integer, got {value!r}.")
    path_scorer = check_scorer(scorer)
    roles = check_source_roles(source_roles)
    fallbacks = dict(fallbacks or {})
    for target_id, chosen in fallbacks.items():
        if chosen is not None and not isinstance(chosen, Explanation):
            raise ConfigurationError(
                f"The fallback for {target_id!r} must be an Explanation (see Explanation.fallback), got {type(chosen).__name__}."
            )
    target_nodes = {target_id: snapshot.index_of(target_id) for target_id in target_ids}

    known_sources = [snapshot.node_index[s] for s in source_ids if s in snapshot.node_index]
    side = SourceSide(snapshot, known_sources, per_node_limit=per_node_limit)
    descriptive = node_quality(snapshot).descriptive
    bound = path_scorer.bound_factors(snapshot)
    batch = _batched_short(
        snapshot,
        side,
        np.fromiter(target_nodes.values(), dtype=np.int64, count=len(target_nodes)),
        path_scorer,
        bound,
        max_hops=max_hops,
        max_paths=max_paths,
        max_expand_degree=max_expand_degree,
        max_candidates=max_candidates,
    )
    results: dict[str, Explanation] = {}
    for row_index, (target_id, target_node) in enumerate(target_nodes.items()):
        decided = batch.get(row_index)
        if decided is not None:
            groups, scores, count, picked = decided
        else:
            groups, scores, count = _candidates(
                snapshot,
                side,
                target_node,
                path_scorer,
                bound,
                max_hops=max_hops,
                max_paths=max_paths,
                max_expand_degree=max_expand_degree,
                per_node_limit=per_node_limit,
                max_candidates=max_candidates,
            )
            picked = _select_diverse_arrays(groups, scores, max_paths, snapshot.n_nodes) if count else []
        if not count:
            fallback = fallbacks.get(target_id)
            results[target_id] = (
                fallback if fallback is not None else Explanation(target=target_id, basis=NO_PATH_BASIS)
            )
            continue
        rendered = []
        clean: list[bool] = []
        for group_index, row in picked:
            group = groups[group_index]
            path = GraphPath(tuple(group.nodes[row].tolist()), tuple(group.edges[row].tolist()))
            clean.append(bool(descriptive[list(path.intermediates)].all()))
            role = roles.get(snapshot.ids[path.nodes[0]], DEFAULT_ROLE)
            rendered.append(
                ExplanationPath(
                    score=float(scores[group_index][row]),
                    nodes=[node_dict(snapshot, node) for node in path.nodes],
                    edges=edge_dicts(snapshot, path),
                    sentence=path_sentence(snapshot, path, role=role),
                )
            )
        weak = not any(clean)
        if not weak:
            # A noise tag is never cited beside a real reason: "RHCP has tag "electronic"" stands alone,
            # without "… Daft Punk has tag "1995" → RHCP has tag "1995"" under it.
            rendered = [path for path, ok in zip(rendered, clean, strict=True) if ok]
        if weak and fallbacks.get(target_id) is not None:
            results[target_id] = fallbacks[target_id]
            continue
        evidence = {"snapshot": snapshot.version, "scorer": path_scorer.registry_name, "candidates": count}
        if weak:
            evidence["weak"] = True
        results[target_id] = Explanation(
            target=target_id,
            basis=GRAPH_BASIS,
            paths=rendered,
            sentence=rendered[0].sentence,
            evidence=evidence,
        )
    return results


def _batched_short(
    snapshot: GraphSnapshot,
    side: SourceSide,
    targets: np.ndarray,
    scorer: PathScorer,
    bound: tuple[float, np.ndarray] | None,
    *,
    max_hops: int,
    max_paths: int,
    max_expand_degree: int,
    max_candidates: int,
) -> dict[int, tuple[list[PathArrays], list[np.ndarray], int, list[tuple[int, int]]]]:
    """The answer for every target that needs no 3-edge search, computed for all targets at once.

    Per target, the 1- and 2-edge candidates are exactly those of :func:`_candidates` (same order, same
    ``max_candidates`` cut) and the choice is :func:`_select_diverse_arrays`'s: with no 3-edge path
    involved, paths with distinct intermediates never conflict, so "best first, one path per
    intermediate" is a sort plus ``np.unique``. Targets whose 3-edge paths could still matter (fewer
    than ``max_paths`` short paths, or a 3-edge path that could outscore them, or no bound) are left
    out of the result and go through :func:`_candidates`. Why batch: per-target numpy calls cost more
    than the arithmetic; ten targets in one pass is ~10× fewer calls.

    Returns ``row in targets -> (groups, scores, candidate count, picked (group, row) pairs)``.
    """
    k = len(targets)
    if k == 0:
        return {}
    # adjacency of the targets, remembering which target row each entry belongs to
    starts = snapshot.indptr[targets]
    lengths = snapshot.indptr[targets + 1] - starts
    total = int(lengths.sum())
    first = np.cumsum(lengths) - lengths
    positions = np.repeat(starts - first, lengths) + np.arange(total, dtype=np.int64)
    t_row = np.repeat(np.arange(k, dtype=np.int64), lengths)
    t_node = targets[t_row]
    nbr = snapshot.adj_nodes[positions].astype(np.int64)
    edge = snapshot.adj_edges[positions].astype(np.int64)
    not_target = nbr != t_node
    direct = side.source_mask[nbr] & not_target
    d_row, d_src, d_edge = t_row[direct], nbr[direct], edge[direct]
    inner = not_target & ~side.source_mask[nbr]
    hit = inner & side.mid_mask[nbr]
    m_row, m_mid, m_edge = t_row[hit], nbr[hit], edge[hit]
    rows, srcs, e_sa = side.pairs_of(m_mid)
    keep = srcs != targets[m_row[rows]]
    rows, srcs, e_sa = rows[keep], srcs[keep], e_sa[keep]
    if max_hops < 2:
        rows, srcs, e_sa = rows[:0], srcs[:0], e_sa[:0]
    w_row, w_mid, w_src, w_sa, w_at = m_row[rows], m_mid[rows], srcs, e_sa, m_edge[rows]
    order = np.lexsort((w_at, w_sa, w_src, w_mid, w_row))
    w_row, w_mid, w_src, w_sa, w_at = (x[order] for x in (w_row, w_mid, w_src, w_sa, w_at))
    # max_candidates cut, per target, in enumeration order (1-edge paths first)
    n_direct = np.bincount(d_row, minlength=k)
    d_rank = np.arange(len(d_row)) - np.repeat(np.cumsum(n_direct) - n_direct, n_direct)
    n_two = np.bincount(w_row, minlength=k)
    w_rank = n_direct[w_row] + np.arange(len(w_row)) - np.repeat(np.cumsum(n_two) - n_two, n_two)
    d_keep, w_keep = d_rank < max_candidates, w_rank < max_candidates
    d_row, d_src, d_edge = d_row[d_keep], d_src[d_keep], d_edge[d_keep]
    w_row, w_mid, w_src, w_sa, w_at = (x[w_keep] for x in (w_row, w_mid, w_src, w_sa, w_at))
    count = np.bincount(d_row, minlength=k) + np.bincount(w_row, minlength=k)
    d_nodes = np.stack([d_src, targets[d_row]], axis=1)
    d_edges = d_edge.reshape(-1, 1)
    w_nodes = np.stack([w_src, w_mid, targets[w_row]], axis=1)
    w_edges = np.stack([w_sa, w_at], axis=1)
    d_score = np.asarray(scorer.score_arrays(snapshot, d_nodes, d_edges), dtype=np.float64)
    w_score = np.asarray(scorer.score_arrays(snapshot, w_nodes, w_edges), dtype=np.float64)

    # choose: best first per target, one 2-edge path per intermediate; all 1-edge paths eligible
    n_d = len(d_row)
    all_row = np.concatenate([d_row, w_row])
    all_score = np.concatenate([d_score, w_score])
    hops = np.concatenate([np.ones(n_d, dtype=np.int64), np.full(len(w_row), 2, dtype=np.int64)])
    c0 = np.concatenate([d_src, w_src])
    c1 = np.concatenate([targets[d_row], w_mid])
    c2 = np.concatenate([np.full(n_d, -1, dtype=np.int64), targets[w_row]])
    e0 = np.concatenate([d_edge, w_sa])
    e1 = np.concatenate([np.full(n_d, -1, dtype=np.int64), w_at])
    order = np.lexsort((e1, e0, c2, c1, c0, hops, -all_score, all_row))
    mid = np.where(hops == 1, -1, c1)
    key = all_row[order] * (snapshot.n_nodes + 1) + mid[order] + 1
    _, first_of_key = np.unique(key, return_index=True)
    is_direct = np.flatnonzero(hops[order] == 1)
    eligible = order[np.union1d(first_of_key, is_direct)]
    # (``order`` is sorted by target first, so ``eligible`` stays grouped by target, best first)
    per_target = np.bincount(all_row[eligible], minlength=k)
    rank = np.arange(len(eligible)) - np.repeat(np.cumsum(per_target) - per_target, per_target)
    picked_pos = eligible[rank < max_paths]
    picked_row = all_row[picked_pos]

    # which targets are decided without 3-edge paths
    n_picked = np.bincount(picked_row, minlength=k)
    decided = np.ones(k, dtype=bool)
    if max_hops == 3:
        worst = np.full(k, np.inf)
        np.minimum.at(worst, picked_row, all_score[picked_pos])
        could_three = (count < max_candidates) & bool(side.mid_mask.any())
        if bound is None:
            decided = ~could_three
        else:
            decay, factors = bound
            best_b = np.zeros(k)
            expandable = inner & (snapshot.degree[nbr] <= max_expand_degree)
            np.maximum.at(best_b, t_row[expandable], factors[nbr[expandable]])
            best_three = decay * decay * side.max_mid_factor(factors) * best_b
            decided = ~could_three | ((n_picked >= max_paths) & (worst >= best_three)) | (best_b == 0)
            # a target with no expandable neighbour has no 3-edge path at all
    out: dict[int, tuple[list[PathArrays], list[np.ndarray], int, list[tuple[int, int]]]] = {}
    for r in np.flatnonzero(decided).tolist():
        groups: list[PathArrays] = []
        scores: list[np.ndarray] = []
        d_sel = np.flatnonzero(d_row == r)
        w_sel = np.flatnonzero(w_row == r)
        if len(d_sel):
            groups.append(PathArrays(d_nodes[d_sel], d_edges[d_sel]))
            scores.append(d_score[d_sel])
        if len(w_sel):
            groups.append(PathArrays(w_nodes[w_sel], w_edges[w_sel]))
            scores.append(w_score[w_sel])
        picks = []
        for pos in picked_pos[picked_row == r].tolist():
            if pos < n_d:
                picks.append((0, int(np.searchsorted(d_sel, pos))))
            else:
                picks.append((1 if len(d_sel) else 0, int(np.searchsorted(w_sel, pos - n_d))))
        out[r] = (groups, scores, int(count[r]), picks)
    return out


def _candidates(
    snapshot: GraphSnapshot,
    side: SourceSide,
    target: int,
    scorer: PathScorer,
    bound: tuple[float, np.ndarray] | None,
    *,
    max_hops: int,
    max_paths: int,
    max_expand_degree: int,
    per_node_limit: int,
    max_candidates: int,
) -> tuple[list[PathArrays], list[np.ndarray], int]:
    """Candidate paths of one target by length, their scores, and how many there are (≤ ``max_candidates``).

    3-edge paths are enumerated only when they could change the answer: when ``scorer`` offers a
    bound and ``max_paths`` diverse shorter paths already score at least the best any 3-edge path
    could (``decay² × max factor over the mids × max factor over the target's expandable
    neighbours``), a 3-edge path would sort after all of them (ties go to fewer hops) and never be cited.
    """
    target_side = TargetSide(snapshot, side, target)
    groups: list[PathArrays] = []
    total = 0
    for group in enumerate_short(side, target_side)[:max_hops]:
        group = group.head(max_candidates - total)
        if len(group):
            groups.append(group)
            total += len(group)
    scores = [np.asarray(scorer.score_arrays(snapshot, g.nodes, g.edges), dtype=np.float64) for g in groups]
    if max_hops == 3 and total < max_candidates and side.mid_mask.any() and len(target_side.inner_nodes):
        needed = True
        if bound is not None and total >= max_paths:
            decay, factors = bound
            b = expandable_neighbours(snapshot, target_side, max_expand_degree)
            best_three = decay * decay * side.max_mid_factor(factors) * (float(factors[b].max()) if len(b) else 0.0)
            picked = _select_diverse_arrays(groups, scores, max_paths, snapshot.n_nodes)
            needed = len(picked) < max_paths or min(scores[g][r] for g, r in picked) < best_three
        if needed:
            three = enumerate_three(
                snapshot, side, target_side, max_expand_degree=max_expand_degree, per_node_limit=per_node_limit
            )
            three = three.head(max_candidates - total)
            if len(three):
                groups.append(three)
                scores.append(np.asarray(scorer.score_arrays(snapshot, three.nodes, three.edges), dtype=np.float64))
                total += len(three)
    return groups, scores, total


def _select_diverse_arrays(
    groups: Sequence[PathArrays], scores: Sequence[np.ndarray], max_paths: int, n_nodes: int
) -> list[tuple[int, int]]:
    """:func:`select_diverse` over path arrays: ``(group index, row)`` of the chosen paths, best first.

    Same order and rule as :func:`select_diverse`; only the first path of each set of intermediates can
    ever be chosen, so the others are dropped with one ``np.unique`` before the short greedy loop.
    """
    if not groups:
        return []
    width = max(g.hops for g in groups)
    nodes = np.full((sum(len(g) for g in groups), width + 1), -1, dtype=np.int64)
    edges = np.full((nodes.shape[0], width), -1, dtype=np.int64)
    hops = np.empty(nodes.shape[0], dtype=np.int64)
    which = np.empty(nodes.shape[0], dtype=np.int64)
    offset = 0
    for index, group in enumerate(groups):
        size = len(group)
        nodes[offset : offset + size, : group.hops + 1] = group.nodes
        edges[offset : offset + size, : group.hops] = group.edges
        hops[offset : offset + size] = group.hops
        which[offset : offset + size] = index
        offset += size
    score = np.concatenate(scores)
    keys = (
        [edges[:, c] for c in range(width - 1, -1, -1)] + [nodes[:, c] for c in range(width, -1, -1)] + [hops, -score]
    )
    order = np.lexsort(keys)
    # intermediates as one key: -1 (none), a, or n + a * n + b
    mid_key = np.where(
        hops == 1, -1, np.where(hops == 2, nodes[:, 1], n_nodes + nodes[:, 1] * n_nodes + nodes[:, min(2, width)])
    )
    ordered_keys = mid_key[order]
    _, first = np.unique(ordered_keys, return_index=True)
    direct = np.flatnonzero(ordered_keys == -1)
    keep = np.union1d(first, direct)
    chosen: list[tuple[int, int]] = []
    used: set[int] = set()
    starts = np.cumsum([0] + [len(g) for g in groups])
    for position in order[keep].tolist():
        h = int(hops[position])
        mids = set(nodes[position, 1:h].tolist())
        if mids & used:
            continue
        group_index = int(which[position])
        chosen.append((group_index, position - int(starts[group_index])))
        used |= mids
        if len(chosen) == max_paths:
            break
    return chosen


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
