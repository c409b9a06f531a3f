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

* no node appears twice, and no *intermediate* node is a source or the target (a path through another
  thing the listener engaged with is better told from that thing);
* hub control: a node with more than ``max_expand_degree`` edges is never expanded in the middle of
  a 3-edge path (a tag on 2,000 artists explains nothing), and at most ``per_node_limit`` sources or
  neighbours are followed through any one intermediate node; the enumeration stops at
  ``max_candidates`` paths. Shorter paths are enumerated first, so a cap only ever drops longer ones;
* anonymous KGCN nodes (``Film kgcn:3847``) may be intermediates — the edge is real — but the scorers
  penalise them and the renderer calls them "a film" instead of printing the placeholder.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from learning_platform.errors import ConfigurationError

from .snapshot import GraphSnapshot

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

    ``by_mid[a]`` lists ``(source, edge)`` pairs for every non-source node ``a`` next to a source.
    """

    def __init__(self, snapshot: GraphSnapshot, sources: Iterable[int], *, per_node_limit: int = DEFAULT_PER_NODE_LIMIT):
        self.snapshot = snapshot
        self.sources = np.unique(np.fromiter(sources, dtype=np.int64))
        self.source_mask = np.zeros(snapshot.n_nodes, dtype=bool)
        self.source_mask[self.sources] = True
        self.mid_mask = np.zeros(snapshot.n_nodes, dtype=bool)
        self.by_mid: dict[int, list[tuple[int, int]]] = {}
        if not len(self.sources):
            return
        owners, positions = adjacency_positions(snapshot, self.sources)
        if not len(positions):
            return
        mids = snapshot.adj_nodes[positions].astype(np.int64)
        edges = snapshot.adj_edges[positions]
        keep = ~self.source_mask[mids]
        mids, owners, edges = mids[keep], owners[keep], edges[keep]
        order = np.lexsort((edges, owners, mids))
        mids, owners, edges = mids[order], owners[order], edges[order]
        self.mid_mask[mids] = True
        unique, first = np.unique(mids, return_index=True)
        bounds = np.append(first, len(mids))
        owners_list, edges_list = owners.tolist(), edges.tolist()
        for i, mid in enumerate(unique.tolist()):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            self.by_mid[mid] = list(zip(owners_list[lo:hi], edges_list[lo:hi]))[:per_node_limit]


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
    """Every simple path of 1..``max_hops`` edges from a source to ``target`` within the caps (see module doc)."""
    check_max_hops(max_hops)
    found: list[GraphPath] = []
    t_nodes, t_edges, _ = snapshot.neighbours(target)
    t_nodes = t_nodes.astype(np.int64)
    not_target = t_nodes != target

    # 1 edge: the target touches a source directly.
    for s, e in zip(t_nodes[side.source_mask[t_nodes] & not_target].tolist(), t_edges[side.source_mask[t_nodes] & not_target].tolist()):
        found.append(GraphPath((s, target), (e,)))
    if max_hops == 1 or len(found) >= max_candidates:
        return found[:max_candidates]

    # Neighbours of the target that may be intermediates, with every edge joining each to the target.
    inner = not_target & ~side.source_mask[t_nodes]
    by_neighbour: dict[int, list[int]] = {}
    for b, e in zip(t_nodes[inner].tolist(), t_edges[inner].tolist()):
        by_neighbour.setdefault(b, []).append(e)

    # 2 edges: source - a - target.
    for a, a_edges in by_neighbour.items():
        if not side.mid_mask[a]:
            continue
        for s, e_sa in side.by_mid[a]:
            if s == target:
                continue
            for e_at in a_edges:
                found.append(GraphPath((s, a, target), (e_sa, e_at)))
    if max_hops == 2 or len(found) >= max_candidates:
        return found[:max_candidates]

    # 3 edges: source - a - b - target, expanding every b (a neighbour of the target) at once towards
    # the source side; only the few hits are visited in Python.
    expandable = np.fromiter((b for b in by_neighbour if snapshot.degree[b] <= max_expand_degree), dtype=np.int64)
    owners, positions = adjacency_positions(snapshot, expandable)
    nodes = snapshot.adj_nodes[positions].astype(np.int64)
    hit = side.mid_mask[nodes] & (nodes != target) & (nodes != owners)
    followed: dict[int, int] = {}
    for b, a, e_ab in zip(owners[hit].tolist(), nodes[hit].tolist(), snapshot.adj_edges[positions[hit]].tolist()):
        if followed.get(b, 0) >= per_node_limit:
            continue
        followed[b] = followed.get(b, 0) + 1
        for s, e_sa in side.by_mid[a]:
            if s == target or s == b:
                continue
            for e_bt in by_neighbour[b]:
                found.append(GraphPath((s, a, b, target), (e_sa, e_ab, e_bt)))
                if len(found) >= max_candidates:
                    return found
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
