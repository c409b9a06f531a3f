"""Which items cover which curriculum concepts, read from graph edges only.

Why graph edges and nothing else: the curriculum (concepts, their tags and prerequisites) is written
into the knowledge graph by its own module, and courses reach concepts through the course loader's
edges. Reading the edges — from a :class:`~recommender.explanations.GraphSnapshot` in serving, or the
dataset's side-information triples in evaluation — makes this module work on whatever concepts exist,
without importing the code that made them: only the graph's vocabulary (:mod:`kg.schema`).

**Definition (item covers concept).** Item ``i`` covers concept ``c`` when one of these short paths
links them (:data:`LINK_PATTERNS`):

* ``i -TEACHES_CONCEPT-> c`` (a course that teaches the concept);
* ``i -HAS_TAG-> t <-ASSOCIATED_TAG- c`` (an artist carrying a tag the curriculum associates with the concept);
* ``i -COVERS_TAG-> t <-ASSOCIATED_TAG- c`` (a course covering such a tag).

Coverage is binary: one path is enough, more paths do not make an item cover a concept "more".

A **concept** is an entity whose id starts with :data:`CONCEPT_PREFIX`, or the tail of a
``TEACHES_CONCEPT`` edge, or the head of an ``ASSOCIATED_TAG`` edge. A **tag** is the tail of a
``HAS_TAG``/``COVERS_TAG`` edge or of an ``ASSOCIATED_TAG`` edge.

**Default unit of a learner** (when no unit is given): the concepts associated with the learner's
:data:`DEFAULT_UNIT_TOP_TAGS` most frequent tags *among the tags the curriculum links to a concept*.
A tag's frequency for a learner is the number of the learner's items carrying it (each item once).
Tags without a concept (``seen live``, most genres) are skipped rather than counted, so a learner's
unit is empty only when none of their items reaches the curriculum at all. Ties go to the tag listed
first (entity id order), so units are deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from core.errors import ConfigurationError
from kg.schema import ASSOCIATED_TAG, CONCEPT_PREFIX, COVERS_TAG, HAS_TAG, TEACHES_CONCEPT

#: Relations from an item (artist or course) to a tag.
ITEM_TAG_RELATIONS = (HAS_TAG, COVERS_TAG)
#: The item → concept paths of the module docstring (``~`` = walked against the edge's direction).
LINK_PATTERNS = ((TEACHES_CONCEPT,), (HAS_TAG, f"~{ASSOCIATED_TAG}"), (COVERS_TAG, f"~{ASSOCIATED_TAG}"))
#: How many of a learner's curriculum-linked tags make their default unit.
DEFAULT_UNIT_TOP_TAGS = 5


@dataclass(frozen=True, eq=False)
class ConceptLinks:
    """Item → concept coverage and tag → concept associations over one graph, aligned with an item index.

    ``item_concepts[i, c]`` = 1 when item ``i`` covers ``concept_ids[c]``; ``item_tags[i, t]`` = 1 when
    item ``i`` has an ``HAS_TAG``/``COVERS_TAG`` edge to ``tag_ids[t]``; ``tag_concepts[t, c]`` = 1 when
    ``concept_ids[c] -ASSOCIATED_TAG-> tag_ids[t]``.
    """

    concept_ids: tuple[str, ...]
    tag_ids: tuple[str, ...]
    item_concepts: sp.csr_matrix
    item_tags: sp.csr_matrix
    tag_concepts: sp.csr_matrix

    @property
    def n_concepts(self) -> int:
        return len(self.concept_ids)

    @cached_property
    def concept_index(self) -> dict[str, int]:
        return {c: j for j, c in enumerate(self.concept_ids)}

    @cached_property
    def dense_item_concepts(self) -> np.ndarray:
        """``item_concepts`` as a boolean array (items × concepts are few enough): fast per-request slicing."""
        return self.item_concepts.toarray() > 0

    @cached_property
    def _linked_tags(self) -> np.ndarray:
        """Indices of the tags the curriculum links to at least one concept (ascending = id order)."""
        return np.flatnonzero(np.diff(self.tag_concepts.indptr) > 0)

    @cached_property
    def _item_linked_tags(self) -> np.ndarray:
        """(items × linked tags) 0/1 array: a request sums a few rows instead of slicing the sparse matrix."""
        return self.item_tags[:, self._linked_tags].toarray()

    @cached_property
    def _concepts_of_tag(self) -> list[np.ndarray]:
        m = self.tag_concepts
        return [m.indices[m.indptr[t] : m.indptr[t + 1]].astype(np.int64) for t in range(m.shape[0])]

    def unit_indices(self, concept_ids: Sequence[str]) -> np.ndarray:
        """Column indices of the concepts of a unit; unknown ids raise :class:`ConfigurationError` naming them."""
        index = self.concept_index
        wanted = list(dict.fromkeys(c.strip() for c in concept_ids if isinstance(c, str) and c.strip()))
        unknown = [c for c in wanted if c not in index]
        if unknown:
            known = ", ".join(self.concept_ids[:8]) + (" …" if self.n_concepts > 8 else "")
            raise ConfigurationError(
                f"{', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not a concept of the knowledge graph "
                f"(concept ids look like {CONCEPT_PREFIX}<slug>; known: {known or 'none'})."
            )
        if not wanted:
            raise ConfigurationError(f"a unit needs at least one concept id such as {CONCEPT_PREFIX}scales.")
        return np.asarray(sorted(index[c] for c in wanted), dtype=np.int64)

    def default_units(self, interactions: sp.spmatrix, *, top_tags: int = DEFAULT_UNIT_TOP_TAGS) -> list[np.ndarray]:
        """Per row of a user × item matrix, the default unit of the module docstring (sorted concept indices)."""
        binary = sp.csr_matrix(interactions, dtype=np.float64)
        binary.data[:] = 1.0
        weights = np.asarray(binary @ self._item_linked_tags)
        return [self._unit_from_linked_weights(row, top_tags=top_tags) for row in weights]

    def default_unit_for_items(self, items: Sequence[int], *, top_tags: int = DEFAULT_UNIT_TOP_TAGS) -> np.ndarray:
        """The default unit of a learner whose items are ``items`` (item indices)."""
        unique_items = np.unique(np.asarray(items, dtype=np.int64))
        linked_weights = (
            self._item_linked_tags[unique_items].sum(axis=0) if len(unique_items) else np.zeros(len(self._linked_tags))
        )
        return self._unit_from_linked_weights(linked_weights, top_tags=top_tags)

    def _unit_from_linked_weights(self, weights: np.ndarray, *, top_tags: int) -> np.ndarray:
        """Concepts of the ``top_tags`` heaviest linked tags (ties: the tag listed first)."""
        candidates = np.flatnonzero(weights > 0)
        if candidates.size == 0:
            return np.zeros(0, dtype=np.int64)
        chosen = candidates[np.lexsort((candidates, -weights[candidates]))[:top_tags]]
        return np.unique(np.concatenate([self._concepts_of_tag[int(t)] for t in self._linked_tags[chosen]]))

    def concepts_of(self, item: int) -> np.ndarray:
        row = self.item_concepts
        return row.indices[row.indptr[item] : row.indptr[item + 1]].astype(np.int64)


def concept_links(
    *,
    entity_ids: Sequence[str],
    heads: np.ndarray,
    relations: np.ndarray,
    tails: np.ndarray,
    relation_types: Sequence[str],
    item_nodes: np.ndarray,
) -> ConceptLinks:
    """Build :class:`ConceptLinks` from integer triples over ``entity_ids`` (see the module docstring).

    ``relations[e]`` indexes ``relation_types``; ``item_nodes[i]`` is the entity index of item ``i``
    (``-1`` for an item that is not in the graph: it covers nothing).
    """
    heads = np.asarray(heads, dtype=np.int64)
    tails = np.asarray(tails, dtype=np.int64)
    relations = np.asarray(relations, dtype=np.int64)
    item_nodes = np.asarray(item_nodes, dtype=np.int64)
    if not (heads.shape == tails.shape == relations.shape):
        raise ConfigurationError("heads, relations and tails must have one entry per triple.")
    rel_id = {name: r for r, name in enumerate(relation_types)}

    def edges(name: str) -> np.ndarray:
        r = rel_id.get(name)
        return np.flatnonzero(relations == r) if r is not None else np.zeros(0, dtype=np.int64)

    teaches, associated = edges(TEACHES_CONCEPT), edges(ASSOCIATED_TAG)
    item_tag_edges = np.concatenate([edges(name) for name in ITEM_TAG_RELATIONS])
    concept_nodes = {i for i, e in enumerate(entity_ids) if e.startswith(CONCEPT_PREFIX)}
    concept_nodes |= set(tails[teaches].tolist()) | set(heads[associated].tolist())
    concept_nodes_sorted = sorted(concept_nodes, key=lambda n: entity_ids[n])
    tag_nodes_sorted = sorted(
        set(tails[item_tag_edges].tolist()) | set(tails[associated].tolist()), key=lambda n: entity_ids[n]
    )
    concept_col = {n: j for j, n in enumerate(concept_nodes_sorted)}
    tag_col = {n: j for j, n in enumerate(tag_nodes_sorted)}
    item_of_node: dict[int, list[int]] = {}
    for i, node in enumerate(item_nodes.tolist()):
        if node >= 0:
            item_of_node.setdefault(node, []).append(i)
    n_items, n_tags, n_concepts = len(item_nodes), len(tag_nodes_sorted), len(concept_nodes_sorted)

    def pairs(edge_ids: np.ndarray, columns: dict[int, int]) -> tuple[list[int], list[int]]:
        rows, cols = [], []
        for h, t in zip(heads[edge_ids].tolist(), tails[edge_ids].tolist()):
            if t in columns:
                for i in item_of_node.get(h, ()):
                    rows.append(i)
                    cols.append(columns[t])
        return rows, cols

    def binary(rows: list[int], cols: list[int], shape: tuple[int, int]) -> sp.csr_matrix:
        m = sp.csr_matrix(
            (np.ones(len(rows)), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))), shape=shape
        )
        m.data[:] = 1.0  # duplicates (parallel edges) summed above; coverage is 0/1
        m.sort_indices()
        return m

    item_tags = binary(*pairs(item_tag_edges, tag_col), (n_items, n_tags))
    tag_concepts = binary(
        [tag_col[t] for t in tails[associated].tolist()],
        [concept_col[h] for h in heads[associated].tolist()],
        (n_tags, n_concepts),
    )
    direct = binary(*pairs(teaches, concept_col), (n_items, n_concepts))
    item_concepts = (direct + item_tags @ tag_concepts).tocsr()
    item_concepts.data[:] = 1.0
    item_concepts.eliminate_zeros()
    item_concepts.sort_indices()
    return ConceptLinks(
        concept_ids=tuple(entity_ids[n] for n in concept_nodes_sorted),
        tag_ids=tuple(entity_ids[n] for n in tag_nodes_sorted),
        item_concepts=item_concepts,
        item_tags=item_tags,
        tag_concepts=tag_concepts,
    )


def concept_links_from_side_info(side_info) -> ConceptLinks:
    """:class:`ConceptLinks` for a dataset's items from its side-information triples (evaluation)."""
    triples = np.asarray(side_info.kg_triples, dtype=np.int64).reshape(-1, 3)
    return concept_links(
        entity_ids=list(side_info.entity_ids),
        heads=triples[:, 0],
        relations=triples[:, 1],
        tails=triples[:, 2],
        relation_types=list(side_info.relation_types),
        item_nodes=np.asarray(side_info.item_entity, dtype=np.int64),
    )


def concept_links_from_snapshot(snapshot, item_entity_ids: Sequence[str]) -> ConceptLinks:
    """:class:`ConceptLinks` for items given by graph entity id, from a graph snapshot (serving)."""
    item_nodes = np.asarray([snapshot.node_index.get(e, -1) for e in item_entity_ids], dtype=np.int64)
    return concept_links(
        entity_ids=snapshot.ids,
        heads=snapshot.heads,
        relations=snapshot.rels,
        tails=snapshot.tails,
        relation_types=list(snapshot.relation_types),
        item_nodes=item_nodes,
    )
