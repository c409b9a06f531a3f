"""The graph side of serving: the explanation snapshot, its sparse matrices and the personalised PageRank.

Why cached: the snapshot is kept by :func:`~recommender.explanations.current_snapshot`, which reads
the store's change stamp (one primary-key read) at most every :data:`SNAPSHOT_RECHECK_SECONDS` from
here, so a warm request asks the graph nothing; when the stamp moved it keeps serving the snapshot it
has while a background thread rebuilds it, so a graph edit reaches serving within that delay plus one
rebuild, and no request waits for the rebuild. The sparse matrices take longer to build than a whole
warm request, so they are built once per (snapshot, model). Courses are ranked by a personalised PageRank over these matrices
(:mod:`.course_ranking`); non-artist onboarding picks and request seeds reach artists by a short
random-walk spread (:mod:`.music_ranking`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from catalog.models import Artist, Tag, TagAssignment
from core.caches import ProcessCache
from core.errors import UnknownEntityError
from kg.schema.types import LEVEL_TYPE

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import GraphSnapshot
    from recommender.serving.model_holder import ServingModel

#: Seconds serving trusts the graph snapshot before reading the store's change stamp again (one cheap
#: query, kept out of warm requests), also the re-check period of serving's other table caches
#: (:mod:`.artist_rows`, :mod:`.course_table`). A graph edit reaches serving within this delay plus one
#: background rebuild.
SNAPSHOT_RECHECK_SECONDS = 10.0
#: Personalised PageRank: restart probability and power iterations (4 reach courses 3 edges away).
PPR_RESTART = 0.3
PPR_ITERATIONS = 4
#: Node types the course walk does not pass through: a level (Beginner, All levels …) links hundreds of
#: courses of every instrument, so mass through it says nothing about the topic; the ranking uses the
#: level as a soft preference instead (:mod:`.course_ranking`).
WALK_CUT_TYPES = frozenset({LEVEL_TYPE})


def graph_snapshot() -> GraphSnapshot:
    """The explanation snapshot, its change stamp checked at most every :data:`SNAPSHOT_RECHECK_SECONDS`.

    Never waits for a rebuild once a snapshot exists (see :func:`~recommender.explanations.current_snapshot`).
    """
    from recommender.explanations import current_snapshot

    return current_snapshot(check_interval=SNAPSHOT_RECHECK_SECONDS)


def graph_snapshot_forget() -> None:
    """Drop the snapshot: the next :func:`graph_snapshot` builds it before answering (tests, writers that need it now)."""
    from recommender.explanations import invalidate_snapshots

    invalidate_snapshots()


class GraphIndex:
    """Sparse matrices over one snapshot, plus the model's item ↔ node maps (built once per snapshot and model)."""

    def __init__(self, snapshot: GraphSnapshot, serving: ServingModel) -> None:
        n = snapshot.n_nodes
        self.n = n
        data = np.ones(len(snapshot.adj_nodes), dtype=np.float64)
        #: Symmetric adjacency (an edge counted once per direction; parallel edges add up).
        self.adjacency = sp.csr_matrix((data, snapshot.adj_nodes.astype(np.int64), snapshot.indptr), shape=(n, n))
        degree = np.asarray(self.adjacency.sum(axis=1)).ravel()
        self.inverse_degree = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
        # The personalised PageRank's walk: the same graph without the edges of WALK_CUT_TYPES nodes.
        kept = sp.diags((~np.isin(np.asarray(snapshot.types, dtype=object), list(WALK_CUT_TYPES))).astype(np.float64))
        self.walk_adjacency = (kept @ self.adjacency @ kept).tocsr()
        walk_degree = np.asarray(self.walk_adjacency.sum(axis=1)).ravel()
        self.walk_inverse_degree = np.divide(1.0, walk_degree, out=np.zeros_like(walk_degree), where=walk_degree > 0)
        entity_of = dict(
            Artist.objects.filter(pk__in=[int(x) for x in serving.item_ids]).values_list("pk", "entity_id")
        )
        item_nodes = np.asarray(
            [snapshot.node_index.get(entity_of.get(int(pk), ""), -1) for pk in serving.item_ids], dtype=np.int64
        )
        self.item_has_node = item_nodes >= 0
        self.item_nodes_safe = np.where(self.item_has_node, item_nodes, 0)
        self.item_of_node = {int(node): i for i, node in enumerate(item_nodes) if node >= 0}
        self._snapshot = snapshot
        self._item_pks = [int(x) for x in serving.item_ids]

    @cached_property
    def tag_shares(self) -> sp.csr_matrix:
        """(n nodes × n items): for a Tag node, the share of each artist's tag assignments that carry that tag.

        Why shares and not the graph's HAS_TAG edge: the edge is there whether one listener or five
        hundred gave the tag, so "classical" reached Pink Floyd (one listener's tag) as strongly as
        Chopin. The share says how much of what listeners call an artist the tag is: 0.002 for
        "classical" on Pink Floyd, 0.4 on Chopin. Built on first use from ``TagAssignment`` (one
        aggregate query), then kept with this index.
        """
        from django.db.models import Count

        item_of_pk = {pk: i for i, pk in enumerate(self._item_pks)}
        rows = (
            TagAssignment.objects.filter(artist_id__in=self._item_pks)
            .values_list("artist_id", "tag__entity_id")
            .annotate(n=Count("id"))
        )
        node_index = self._snapshot.node_index
        tag_nodes, items, counts = [], [], []
        for artist_pk, tag_entity, count in rows:
            node = node_index.get(tag_entity)
            if node is not None:
                tag_nodes.append(node)
                items.append(item_of_pk[int(artist_pk)])
                counts.append(float(count))
        n_items = len(self._item_pks)
        matrix = sp.csr_matrix(
            (
                np.asarray(counts, dtype=np.float64),
                (np.asarray(tag_nodes, dtype=np.int64), np.asarray(items, dtype=np.int64)),
            ),
            shape=(self.n, n_items),
        )
        totals = np.asarray(matrix.sum(axis=0)).ravel()
        return (matrix @ sp.diags(np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0))).tocsr()

    def artist_tag_profile(self, node: int) -> dict[int, float]:
        """For an artist node that is not a model item (outside the KGCN subset: Chopin, Mozart), its tags.

        Tag node -> share of the artist's own tag assignments, over the descriptive tags that reach
        model items (:attr:`tagged_nodes`; "seen live" and one listener's words are left out by the
        explanation rules, :func:`~recommender.explanations.quality.tag_name_is_non_descriptive`).
        Empty when the artist has no such tag: then it cannot steer the ranking through tags.
        """
        from django.db.models import Count

        from recommender.explanations.quality import tag_name_is_non_descriptive

        rows = (
            TagAssignment.objects.filter(artist__entity_id=self._snapshot.ids[node])
            .values_list("tag__entity_id", "tag__name")
            .annotate(n=Count("id"))
        )
        node_index, tagged = self._snapshot.node_index, self.tagged_nodes
        counts: dict[int, float] = {}
        for tag_entity, tag_name, count in rows:
            tag_node = node_index.get(tag_entity)
            if tag_node is not None and tagged[tag_node] and tag_name_is_non_descriptive(tag_name) is None:
                counts[tag_node] = counts.get(tag_node, 0.0) + float(count)
        total = sum(counts.values())
        # ordered by tag entity id, not node index: node order differs between graph backends, and the
        # caller's weighted sum must add the same floats in the same order on both (near-ties flip otherwise)
        ordered = sorted(counts, key=lambda tag_node: self._snapshot.ids[tag_node])
        return {tag_node: counts[tag_node] / total for tag_node in ordered} if total else {}

    @cached_property
    def tagged_nodes(self) -> np.ndarray:
        """Tag nodes with at least one assignment (their artists are reached through :attr:`tag_shares`)."""
        return np.diff(self.tag_shares.indptr) > 0

    def instrument_tags(self, node: int) -> list[int]:
        """The Last.FM tags an instrument node is linked to (``ABOUT_INSTRUMENT``: "piano" the tag for Piano)."""
        snapshot = self._snapshot
        relation = snapshot.relation_index.get("ABOUT_INSTRUMENT")
        if relation is None:
            return []
        on = snapshot.rels == relation
        heads, tails = snapshot.heads[on], snapshot.tails[on]
        ends = np.concatenate([tails[heads == node], heads[tails == node]]).astype(np.int64)
        return [int(t) for t in ends if snapshot.types[int(t)] == "Tag"]

    def step(self, vector: np.ndarray) -> np.ndarray:
        """One random-walk step: each node passes its mass equally to its neighbours."""
        return self.adjacency @ (vector * self.inverse_degree)

    def spread(self, nodes: Sequence[int], *, steps: int) -> np.ndarray:
        """Mass reaching each node in ``steps`` walk steps from ``nodes`` (summed over the steps)."""
        vector = np.zeros(self.n)
        vector[list(nodes)] = 1.0 / len(nodes)
        total = np.zeros(self.n)
        for _ in range(steps):
            vector = self.step(vector)
            total += vector
        return total

    def personalised_pagerank(self, nodes: Sequence[int], weights: np.ndarray) -> np.ndarray:
        """PageRank restarting at ``nodes`` (in proportion to ``weights``), :data:`PPR_ITERATIONS` power steps.

        The walk skips :data:`WALK_CUT_TYPES` nodes (hubs such as levels that connect every topic).
        """
        restart = np.zeros(self.n)
        np.add.at(restart, np.asarray(nodes, dtype=np.int64), weights / weights.sum())
        vector = restart.copy()
        for _ in range(PPR_ITERATIONS):
            walked = self.walk_adjacency @ (vector * self.walk_inverse_degree)
            vector = PPR_RESTART * restart + (1.0 - PPR_RESTART) * walked
        return vector

    def nodes_next_to(self, node: int) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        mask[self.adjacency.indices[self.adjacency.indptr[node] : self.adjacency.indptr[node + 1]]] = True
        return mask

    def items_next_to(self, node: int) -> np.ndarray:
        return self.nodes_next_to(node)[self.item_nodes_safe] & self.item_has_node


#: One model and one graph serve at a time: only the latest (snapshot, model) is kept.
_GRAPH_INDEX: ProcessCache[tuple[str, str, int], GraphIndex] = ProcessCache()


def graph_index(snapshot: GraphSnapshot, serving: ServingModel) -> GraphIndex:
    """The :class:`GraphIndex` of ``snapshot`` for the model ``serving``, built once per pair."""
    return _GRAPH_INDEX.get((snapshot.version, serving.name, id(serving)), lambda: GraphIndex(snapshot, serving))


def tag_node_of(snapshot: GraphSnapshot, tag: str) -> int:
    """Snapshot node of a tag given by entity id (``lastfm:tag:829``) or by name (``blues``, any case)."""
    value = tag.strip()
    node = snapshot.node_index.get(value)
    if node is not None and snapshot.types[node] == "Tag":
        return node
    entity_ids = list(Tag.objects.filter(name__iexact=value).order_by("pk").values_list("entity_id", flat=True))
    for entity_id in entity_ids:
        node = snapshot.node_index.get(entity_id)
        if node is not None:
            return node
    raise UnknownEntityError(
        f"No tag named {value!r} in the knowledge graph; use a Last.FM tag name such as 'blues' or 'jazz'."
    )
