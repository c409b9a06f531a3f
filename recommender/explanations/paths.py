"""Enumerate short paths (≤ 3 edges) from what a listener engaged with to a recommended item.

The search meets in the middle instead of running a BFS from every source:

* the *source side* (:class:`SourceSide`) marks every node next to a source once per listener and
  is shared by all targets of :func:`~recommender.explanations.explain_many`;
* per target, the target's own neighbours are intersected with it: a neighbour that is a source gives
  a 1-edge path, one next to a source a 2-edge path, and one whose neighbours touch the source side a
  3-edge path.

Edges are walked in either direction (``Muse -HAS_TAG-> alternative`` is walked backwards from the
tag to Muse), but every step is a stored edge and the path records which way it was walked, so a
sentence can always say it the right way round.

Rules that keep explanations honest and cheap:

* everything is vectorised over flat numpy arrays: the source side is one sorted array of
  ``(mid, source, edge)`` triples, a target's 2-edge paths are one gather from it, and its 3-edge paths
  one expansion of the target's neighbours intersected with the mids, so the cost per target is a few
  dozen array operations whatever the listener's history;
* no node appears twice, and no *intermediate* node is a source or the target (a path through another
  thing the listener engaged with is better told from that thing);
* hub control: a node with more than ``max_expand_degree`` edges is never expanded in the middle of
  a 3-edge path (a tag on 2,000 artists explains nothing), and at most ``per_node_limit`` sources or
  neighbours are followed through any one intermediate node; the enumeration stops at
  ``max_candidates`` paths. Shorter paths are enumerated first, so a cap only ever drops longer ones;
* a reason is about music and readable: no intermediate is a non-music node (a film, a game, an award)
  or a node known only by a placeholder name (``Film kgcn:3847``); :attr:`.quality.NodeQuality.passable`
  decides, and the search leaves such nodes out of the mids and of the expanded neighbours. (They used
  to be allowed, penalised by the scorers; onboarding learners then read "… appears in a film …").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from core.errors import ConfigurationError
from recommender.explanations.snapshot import GraphSnapshot

MAX_HOPS_LIMIT = 3
DEFAULT_MAX_EXPAND_DEGREE = 5000
DEFAULT_PER_NODE_LIMIT = 20
DEFAULT_MAX_CANDIDATES = 2000


@dataclass(frozen=True)
class GraphPath:
    """Node indices ``nodes[0] (a source) … nodes[-1] (the target)``; ``edges[i]`` joins nodes i and i+1."""

    nodes: tuple[int, ...]
    edges: tuple[int, ...]

    @property
    def hops(self) -> int:
        return len(self.edges)

    @property
    def intermediates(self) -> tuple[int, ...]:
        return self.nodes[1:-1]

    def forward(self, snapshot: GraphSnapshot, step: int) -> bool:
        """True when edge ``step`` is walked head → tail (the node before it is the stored head)."""
        return int(snapshot.heads[self.edges[step]]) == self.nodes[step]


class SourceSide:
    """Everything the search needs to know about one set of sources, computed once per listener.

    Every non-source node ``a`` next to a source (a "mid") owns the run
    ``owners[start[a] : start[a] + count[a]]`` / ``edges[...]`` of ``(source, edge)`` pairs joining it
    to the sources, sorted by (source, edge) and cut at ``per_node_limit`` pairs. These are flat arrays
    (no per-mid Python objects) so each target's 2- and 3-edge paths are a few vectorised gathers.
    """

    def __init__(
        self, snapshot: GraphSnapshot, sources: Iterable[int], *, per_node_limit: int = DEFAULT_PER_NODE_LIMIT
    ):
        n = snapshot.n_nodes
        self.snapshot = snapshot
        self.sources = np.unique(np.fromiter(sources, dtype=np.int64))
        self.source_mask = np.zeros(n, dtype=bool)
        self.source_mask[self.sources] = True
        self.mid_mask = np.zeros(n, dtype=bool)
        self.start = np.zeros(n, dtype=np.int64)
        self.count = np.zeros(n, dtype=np.int64)
        self.owners = np.empty(0, dtype=np.int64)
        self.edges = np.empty(0, dtype=np.int64)
        self.mids = np.empty(0, dtype=np.int64)
        self._bound_cache: tuple[int, float] | None = None
        if not len(self.sources):
            return
        owners, positions = adjacency_positions(snapshot, self.sources)
        if not len(positions):
            return
        mids = snapshot.adj_nodes[positions].astype(np.int64)
        edges = snapshot.adj_edges[positions].astype(np.int64)
        keep = ~self.source_mask[mids] & _passable(snapshot)[mids]
        mids, owners, edges = mids[keep], owners[keep], edges[keep]
        if not len(mids):
            return
        order = np.lexsort((edges, owners, mids))
        mids, owners, edges = mids[order], owners[order], edges[order]
        unique, first, counts = np.unique(mids, return_index=True, return_counts=True)
        rank = np.arange(len(mids), dtype=np.int64) - np.repeat(first, counts)
        capped = rank < per_node_limit
        mids, owners, edges = mids[capped], owners[capped], edges[capped]
        counts = np.minimum(counts, per_node_limit)
        self.mids = unique
        self.mid_mask[unique] = True
        self.start[unique] = np.cumsum(counts) - counts
        self.count[unique] = counts
        self.owners, self.edges = owners, edges

    @property
    def by_mid(self) -> dict[int, list[tuple[int, int]]]:
        """``mid -> [(source, edge), ...]`` (a readable view of the flat arrays, for debugging and tests)."""
        return {
            int(m): list(
                zip(
                    self.owners[self.start[m] : self.start[m] + self.count[m]].tolist(),
                    self.edges[self.start[m] : self.start[m] + self.count[m]].tolist(),
                )
            )
            for m in self.mids.tolist()
        }

    def pairs_of(self, mids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(row, source, edge)`` for every (source, edge) pair of each of ``mids`` (row = index into ``mids``)."""
        counts = self.count[mids]
        total = int(counts.sum())
        if total == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        first = np.cumsum(counts) - counts
        positions = np.repeat(self.start[mids] - first, counts) + np.arange(total, dtype=np.int64)
        rows = np.repeat(np.arange(len(mids), dtype=np.int64), counts)
        return rows, self.owners[positions], self.edges[positions]

    def max_mid_factor(self, factors: np.ndarray) -> float:
        """Largest ``factors[a]`` over the mids (cached for the last factors array seen)."""
        if self._bound_cache is not None and self._bound_cache[0] == id(factors):
            return self._bound_cache[1]
        value = float(factors[self.mids].max()) if len(self.mids) else 0.0
        self._bound_cache = (id(factors), value)
        return value


@dataclass(frozen=True)
class PathArrays:
    """Paths of one length as arrays: ``nodes`` (P × (hops+1)), ``edges`` (P × hops); row i is one path."""

    nodes: np.ndarray
    edges: np.ndarray

    @property
    def hops(self) -> int:
        return int(self.edges.shape[1])

    def __len__(self) -> int:
        return int(self.nodes.shape[0])

    def head(self, count: int) -> PathArrays:
        return PathArrays(self.nodes[:count], self.edges[:count])

    def paths(self) -> list[GraphPath]:
        return [GraphPath(tuple(n), tuple(e)) for n, e in zip(self.nodes.tolist(), self.edges.tolist())]


class TargetSide:
    """One target's neighbourhood split for the search: direct source hits and possible intermediates."""

    def __init__(self, snapshot: GraphSnapshot, side: SourceSide, target: int):
        t_nodes, t_edges, _ = snapshot.neighbours(target)
        t_nodes = t_nodes.astype(np.int64)
        t_edges = t_edges.astype(np.int64)
        not_target = t_nodes != target
        direct = side.source_mask[t_nodes] & not_target
        self.target = target
        self.direct_nodes, self.direct_edges = t_nodes[direct], t_edges[direct]
        inner = not_target & ~side.source_mask[t_nodes]
        # Sorted by (neighbour, edge) already: the adjacency is.
        self.inner_nodes, self.inner_edges = t_nodes[inner], t_edges[inner]


def enumerate_short(side: SourceSide, target_side: TargetSide) -> list[PathArrays]:
    """1- and 2-edge paths to the target, in the order :func:`find_paths` always enumerated them."""
    target = target_side.target
    out = []
    d = target_side.direct_nodes
    out.append(
        PathArrays(
            np.stack([d, np.full(len(d), target, dtype=np.int64)], axis=1), target_side.direct_edges.reshape(-1, 1)
        )
    )
    hit = side.mid_mask[target_side.inner_nodes]
    mids, e_at = target_side.inner_nodes[hit], target_side.inner_edges[hit]
    rows, sources, e_sa = side.pairs_of(mids)
    keep = sources != target
    rows, sources, e_sa = rows[keep], sources[keep], e_sa[keep]
    a, e_at = mids[rows], e_at[rows]
    order = np.lexsort((e_at, e_sa, sources, a))  # by mid, then (source, edge), then the mid's edge to the target
    a, sources, e_sa, e_at = a[order], sources[order], e_sa[order], e_at[order]
    out.append(
        PathArrays(
            np.stack([sources, a, np.full(len(a), target, dtype=np.int64)], axis=1), np.stack([e_sa, e_at], axis=1)
        )
    )
    return out


def expandable_neighbours(snapshot: GraphSnapshot, target_side: TargetSide, max_expand_degree: int) -> np.ndarray:
    """Distinct neighbours ``b`` of the target that a 3-edge path may pass through (degree within the cap)."""
    b = np.unique(target_side.inner_nodes)
    return b[(snapshot.degree[b] <= max_expand_degree) & _passable(snapshot)[b]]


def _passable(snapshot: GraphSnapshot) -> np.ndarray:
    """Nodes a path may pass through (music and named; see :class:`.quality.NodeQuality`)."""
    from recommender.explanations.quality import node_quality

    return node_quality(snapshot).passable


def enumerate_three(
    snapshot: GraphSnapshot,
    side: SourceSide,
    target_side: TargetSide,
    *,
    max_expand_degree: int,
    per_node_limit: int,
) -> PathArrays:
    """3-edge paths ``source - a - b - target``: every expandable ``b`` is expanded at once towards the mids.

    At most ``per_node_limit`` mids are followed through any one ``b`` (in adjacency order).
    """
    target = target_side.target
    expandable = expandable_neighbours(snapshot, target_side, max_expand_degree)
    owners, positions = adjacency_positions(snapshot, expandable)
    nodes = snapshot.adj_nodes[positions].astype(np.int64)
    hit = side.mid_mask[nodes] & (nodes != target) & (nodes != owners)
    b, a, e_ab = owners[hit], nodes[hit], snapshot.adj_edges[positions[hit]].astype(np.int64)
    if len(b):
        _, first, counts = np.unique(b, return_index=True, return_counts=True)
        rank = np.arange(len(b), dtype=np.int64) - np.repeat(first, counts)
        followed = rank < per_node_limit
        b, a, e_ab = b[followed], a[followed], e_ab[followed]
    rows, sources, e_sa = side.pairs_of(a)
    keep = sources != target
    rows, sources, e_sa = rows[keep], sources[keep], e_sa[keep]
    b, a, e_ab = b[rows], a[rows], e_ab[rows]
    # every edge joining b to the target
    inner_b, inner_e = target_side.inner_nodes, target_side.inner_edges
    lo = np.searchsorted(inner_b, b, side="left")
    hi = np.searchsorted(inner_b, b, side="right")
    counts = hi - lo
    total = int(counts.sum())
    first = np.cumsum(counts) - counts
    positions = np.repeat(lo - first, counts) + np.arange(total, dtype=np.int64)
    rep = np.repeat(np.arange(len(b), dtype=np.int64), counts)
    sources, a, b, e_sa, e_ab = sources[rep], a[rep], b[rep], e_sa[rep], e_ab[rep]
    e_bt = inner_e[positions]
    order = np.lexsort((e_bt, e_sa, sources, e_ab, a, b))
    sources, a, b, e_sa, e_ab, e_bt = (x[order] for x in (sources, a, b, e_sa, e_ab, e_bt))
    return PathArrays(
        np.stack([sources, a, b, np.full(len(b), target, dtype=np.int64)], axis=1),
        np.stack([e_sa, e_ab, e_bt], axis=1),
    )


def check_max_hops(max_hops: object) -> int:
    if isinstance(max_hops, bool) or not isinstance(max_hops, int) or not 1 <= max_hops <= MAX_HOPS_LIMIT:
        raise ConfigurationError(
            f"max_hops must be an integer from 1 to {MAX_HOPS_LIMIT}, got {max_hops!r} "
            "(longer paths make explanations nobody can follow)."
        )
    return max_hops


def find_paths(
    snapshot: GraphSnapshot,
    side: SourceSide,
    target: int,
    *,
    max_hops: int = MAX_HOPS_LIMIT,
    max_expand_degree: int = DEFAULT_MAX_EXPAND_DEGREE,
    per_node_limit: int = DEFAULT_PER_NODE_LIMIT,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
) -> list[GraphPath]:
    """Every simple path of 1..``max_hops`` edges from a source to ``target`` within the caps (see module doc).

    Shorter paths come first; ``max_candidates`` cuts the list in that order. (``explain_many`` uses the
    array form directly and may skip 3-edge paths a scorer's bound rules out.)
    """
    check_max_hops(max_hops)
    target_side = TargetSide(snapshot, side, target)
    groups = enumerate_short(side, target_side)[:max_hops]
    if max_hops == 3 and sum(len(g) for g in groups) < max_candidates:
        groups.append(
            enumerate_three(
                snapshot, side, target_side, max_expand_degree=max_expand_degree, per_node_limit=per_node_limit
            )
        )
    found: list[GraphPath] = []
    for group in groups:
        found.extend(group.head(max_candidates - len(found)).paths())
    return found


def adjacency_positions(snapshot: GraphSnapshot, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(owner node, position in adj_*)`` of every adjacency entry of ``nodes``, without a Python loop."""
    nodes = np.asarray(nodes, dtype=np.int64)
    starts = snapshot.indptr[nodes]
    lengths = snapshot.indptr[nodes + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    # Position k of the concatenation lies in the run of owner i at starts[i] + (k - first[i]).
    first = np.cumsum(lengths) - lengths
    positions = np.repeat(starts - first, lengths) + np.arange(total, dtype=np.int64)
    return np.repeat(nodes, lengths), positions
