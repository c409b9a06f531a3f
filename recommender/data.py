"""The interaction data every recommender and every evaluation protocol starts from.

Why a frozen dataclass with explicit index maps: models and splits work in a dense ``0..n-1`` index
space (see :mod:`recommender.base`), and the only safe way to map results back to catalog rows, or to
hand the identical split to an external library, is to keep ``index -> catalog id`` next to the matrix
and build it deterministically (ids sorted ascending), so the same catalog always yields the same
indices.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from kg.schema import ARTIST_TYPE
from recommender.base import ItemSideInfo

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kg.stores.base import KnowledgeGraphStore

#: Entity types whose graph edges describe individual listeners. Their triples are dropped from the
#: item side information because a ``listener -> artist`` edge is an interaction, and interactions of
#: held-out (validation/test) pairs must never reach a model through the graph.
LISTENER_ENTITY_TYPES: tuple[str, ...] = ("Listener", "User")

#: Who :meth:`InteractionDataset.from_catalog` reads: the KGCN-linked artists (the offline protocols'
#: benchmark population) or every catalog artist (the product model).
DATASET_POPULATIONS: tuple[str, ...] = ("kgcn", "catalog")

#: :attr:`SourceIds.lastfm_user_ids` of a learner account: a listener who signed up in Leitmotif and so has
#: no Last.FM user id.
NO_LASTFM_ID = -1


@dataclass(frozen=True, eq=False)
class SourceIds:
    """The source-data ids of every user and item index, so results join back to the data files and the graph.

    Catalog primary keys (``user_ids``/``item_ids`` of :meth:`InteractionDataset.from_catalog`) follow the
    load order and differ between databases; these ids do not:

    * ``lastfm_user_ids[u]``: the Last.FM ``userID`` of user ``u`` (``user_artists.dat``), or
      :data:`NO_LASTFM_ID` for a learner account;
    * ``lastfm_artist_ids[i]``: the Last.FM artist ``id`` of item ``i`` (``artists.dat``, ``artistID``);
    * ``artist_entity_ids[i]``: item ``i``'s graph entity id (``lastfm:artist:<id>``).
    """

    lastfm_user_ids: np.ndarray
    lastfm_artist_ids: np.ndarray
    artist_entity_ids: np.ndarray

    def __post_init__(self) -> None:
        if len(self.lastfm_artist_ids) != len(self.artist_entity_ids):
            raise ValueError(
                f"{len(self.lastfm_artist_ids)} Last.FM artist ids but {len(self.artist_entity_ids)} artist entity ids."
            )
        users = np.asarray(self.lastfm_user_ids)
        for label, ids in (
            ("lastfm_user_ids", users[users != NO_LASTFM_ID]),
            ("lastfm_artist_ids", self.lastfm_artist_ids),
            ("artist_entity_ids", self.artist_entity_ids),
        ):
            if len(np.unique(ids)) != len(ids):
                raise ValueError(f"{label} contains duplicates; every index must map to exactly one source id.")


def catalog_source_ids(*, user_ids: np.ndarray, item_ids: np.ndarray) -> SourceIds:
    """The :class:`SourceIds` of catalog ``Listener`` pks ``user_ids`` and ``Artist`` pks ``item_ids``, in that order."""
    from catalog.models import Artist, Listener

    user_ids, item_ids = np.asarray(user_ids, dtype=np.int64), np.asarray(item_ids, dtype=np.int64)
    lastfm_user = dict(Listener.objects.filter(pk__in=user_ids.tolist()).values_list("pk", "lastfm_id"))
    artist = {
        pk: (lastfm_id, entity_id)
        for pk, lastfm_id, entity_id in Artist.objects.filter(pk__in=item_ids.tolist()).values_list(
            "pk", "lastfm_id", "entity_id"
        )
    }
    for label, ids, found in (("listener", user_ids, lastfm_user), ("artist", item_ids, artist)):
        missing = [int(pk) for pk in ids if int(pk) not in found]
        if missing:
            raise ValueError(f"{len(missing)} {label} ids are not in the catalog (first: {missing[0]}).")
    return SourceIds(
        lastfm_user_ids=np.asarray(
            [NO_LASTFM_ID if lastfm_user[int(pk)] is None else lastfm_user[int(pk)] for pk in user_ids], dtype=np.int64
        ),
        lastfm_artist_ids=np.asarray([artist[int(pk)][0] for pk in item_ids], dtype=np.int64),
        artist_entity_ids=np.asarray([artist[int(pk)][1] for pk in item_ids], dtype=object),
    )


@dataclass(frozen=True)
class InteractionDataset:
    """Users × items play counts with the catalog ids of every row and column.

    ``user_ids[u]`` is the catalog id of user index ``u`` (a ``Listener`` pk for
    :meth:`from_catalog`), ``item_ids[i]`` the catalog id of item ``i`` (an ``Artist`` pk);
    ``matrix[u, i]`` is the play count (float32; 0 = never listened). ``sources`` (set by
    :meth:`from_catalog`) holds the Last.FM and graph ids of the same rows and columns.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    matrix: sp.csr_matrix
    side_info: ItemSideInfo | None = None
    sources: SourceIds | None = None

    def __post_init__(self) -> None:
        if self.matrix.shape != (len(self.user_ids), len(self.item_ids)):
            raise ValueError(
                f"matrix shape {self.matrix.shape} does not match {len(self.user_ids)} user ids × {len(self.item_ids)} item ids."
            )
        for label, ids in (("user_ids", self.user_ids), ("item_ids", self.item_ids)):
            if len(np.unique(ids)) != len(ids):
                raise ValueError(f"{label} contains duplicates; every index must map to exactly one catalog id.")
        if self.side_info is not None and self.side_info.item_tags.shape[0] != len(self.item_ids):
            raise ValueError(
                f"side_info has {self.side_info.item_tags.shape[0]} item rows but the dataset has {len(self.item_ids)} items."
            )
        if self.sources is not None and (
            len(self.sources.lastfm_user_ids) != len(self.user_ids)
            or len(self.sources.lastfm_artist_ids) != len(self.item_ids)
        ):
            raise ValueError(
                f"sources cover {len(self.sources.lastfm_user_ids)} users × {len(self.sources.lastfm_artist_ids)} items "
                f"but the dataset has {len(self.user_ids)} × {len(self.item_ids)}."
            )

    @property
    def n_users(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def n_interactions(self) -> int:
        return int(self.matrix.nnz)

    # --- constructors ---------------------------------------------------------------------

    @classmethod
    def from_arrays(
        cls,
        users: np.ndarray | list,
        items: np.ndarray | list,
        weights: np.ndarray | list,
        *,
        all_user_ids: np.ndarray | list | None = None,
        all_item_ids: np.ndarray | list | None = None,
        side_info: ItemSideInfo | None = None,
    ) -> InteractionDataset:
        """Build from parallel arrays of (catalog user id, catalog item id, play count).

        ``all_user_ids``/``all_item_ids`` add users/items without interactions (e.g. KG-linked artists
        nobody has played yet: they are still candidates a model can rank). Duplicate pairs are an
        error rather than summed, because a repeated pair almost always means a broken export.
        """
        users = np.asarray(users)
        items = np.asarray(items)
        weights = np.asarray(weights, dtype=np.float64)
        if not (users.ndim == items.ndim == weights.ndim == 1):
            raise ValueError("users, items and weights must be one-dimensional arrays.")
        if not (len(users) == len(items) == len(weights)):
            raise ValueError(
                f"users, items and weights must have the same length (got {len(users)}, {len(items)}, {len(weights)})."
            )
        if len(weights) and (not np.all(np.isfinite(weights)) or np.any(weights <= 0)):
            bad = int(np.flatnonzero(~np.isfinite(weights) | (weights <= 0))[0])
            raise ValueError(
                f"weights must be positive play counts; row {bad} has {weights[bad]!r} "
                f"(user {users[bad]!r}, item {items[bad]!r}). Drop zero-play rows before building the dataset."
            )
        user_ids = np.unique(
            np.concatenate([users, np.asarray(all_user_ids if all_user_ids is not None else [], dtype=users.dtype)])
        )
        item_ids = np.unique(
            np.concatenate([items, np.asarray(all_item_ids if all_item_ids is not None else [], dtype=items.dtype)])
        )
        rows = np.searchsorted(user_ids, users)
        cols = np.searchsorted(item_ids, items)
        if len(rows):
            keys = rows.astype(np.int64) * len(item_ids) + cols
            uniq, counts = np.unique(keys, return_counts=True)
            if np.any(counts > 1):
                dup = uniq[counts > 1][0]
                raise ValueError(
                    f"pair (user {user_ids[dup // len(item_ids)]!r}, item {item_ids[dup % len(item_ids)]!r}) appears "
                    f"{int(counts[counts > 1][0])} times; each listener-artist pair must occur once."
                )
        matrix = sp.csr_matrix(
            (weights.astype(np.float32), (rows, cols)), shape=(len(user_ids), len(item_ids)), dtype=np.float32
        )
        matrix.sort_indices()
        return cls(user_ids=user_ids, item_ids=item_ids, matrix=matrix, side_info=side_info)

    @classmethod
    def from_catalog(
        cls,
        *,
        store: KnowledgeGraphStore | None = None,
        exclude_entity_types: Collection[str] = LISTENER_ENTITY_TYPES,
        population: str = "kgcn",
    ) -> InteractionDataset:
        """Read listening data from the catalog (users = ``Listener`` pks, items = ``Artist`` pks).

        ``sources`` carries every user's Last.FM id and every item's Last.FM id and graph entity id.

        ``population="kgcn"`` (the offline protocols' population, so their figures stay comparable with
        the KGCN papers): items are every artist with ``kgcn_entity`` set, even those nobody listened
        to yet. ``population="catalog"`` (what the product model trains on): every catalog artist, so
        Chopin, Mozart and the other artists outside the KGCN subset can be recommended. Users are the
        listeners with at least one listen of such an artist; zero-play listens are not interactions
        and are skipped. With a graph ``store``, item side information is attached (see
        :func:`build_side_info`).

        Listeners who opted out of training (``Listener.training_opt_out``, set from the learner's
        settings) are left out entirely: their listens, and with them the likes and listens their
        interaction log keeps in step, never reach a trained model, an evaluation split or the
        co-listening statistics. So the opt-out is honoured by the next retrain; until then the
        published model is the one trained before they opted out.
        """
        from catalog.models import Artist, Listen

        if population not in DATASET_POPULATIONS:
            raise ValueError(f"population must be one of {', '.join(DATASET_POPULATIONS)}, got {population!r}.")
        artists = Artist.objects.all()
        listens = Listen.objects.all()
        if population == "kgcn":
            artists, listens = (
                artists.filter(kgcn_entity__isnull=False),
                listens.filter(artist__kgcn_entity__isnull=False),
            )
        item_ids = np.fromiter(artists.order_by("pk").values_list("pk", flat=True), dtype=np.int64)
        rows = list(
            listens.filter(play_count__gt=0)
            .exclude(listener__training_opt_out=True)
            .order_by("listener_id", "artist_id")
            .values_list("listener_id", "artist_id", "play_count")
        )
        if not rows:
            raise ValueError(
                "The catalog has no listens of KG-linked artists (Artist.kgcn_entity set); "
                "load the Last.FM listening data and the KGCN item links before building a dataset."
            )
        triples = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
        dataset = cls.from_arrays(triples[:, 0], triples[:, 1], triples[:, 2], all_item_ids=item_ids)
        sources = catalog_source_ids(user_ids=dataset.user_ids, item_ids=dataset.item_ids)
        side_info = (
            None
            if store is None
            else build_side_info(item_ids=dataset.item_ids, store=store, exclude_entity_types=exclude_entity_types)
        )
        return cls(
            user_ids=dataset.user_ids,
            item_ids=dataset.item_ids,
            matrix=dataset.matrix,
            side_info=side_info,
            sources=sources,
        )


def build_side_info(
    *,
    item_ids: np.ndarray,
    store: KnowledgeGraphStore,
    exclude_entity_types: Collection[str] = LISTENER_ENTITY_TYPES,
) -> ItemSideInfo:
    """Tags and KG triples for the catalog artists ``item_ids`` (Artist pks), aligned with their order.

    * ``item_tags[i, t]`` = number of ``TagAssignment`` rows (listeners) that gave tag ``t`` to artist
      ``i``; tags are the ones used on at least one item, ordered by Tag pk.
    * ``kg_triples`` are all ``store.iter_triples()`` except those touching an entity whose type is in
      ``exclude_entity_types`` (per-listener edges would leak held-out interactions) or an artist that
      is not one of ``item_ids``. Entity ids are
      every triple endpoint plus every item's ``entity_id`` (so an artist without edges still has an
      entity), sorted; relation types sorted. ``item_entity[i]`` is the index of artist ``i``'s entity.
    """
    from django.db.models import Count

    from catalog.models import Artist, TagAssignment

    item_ids = np.asarray(item_ids, dtype=np.int64)
    item_index = {int(pk): i for i, pk in enumerate(item_ids)}
    entity_of_item = dict(Artist.objects.filter(pk__in=item_index).values_list("pk", "entity_id"))
    missing = [pk for pk in item_index if pk not in entity_of_item]
    if missing:
        raise ValueError(f"{len(missing)} item ids are not catalog artists (first: {missing[0]}).")

    counts = list(
        TagAssignment.objects.filter(artist_id__in=item_index)
        .values("artist_id", "tag_id", "tag__name")
        .annotate(n=Count("id"))
        .order_by("tag_id", "artist_id")
    )
    tag_pks = sorted({row["tag_id"] for row in counts})
    tag_index = {pk: t for t, pk in enumerate(tag_pks)}
    tag_names = [""] * len(tag_pks)
    for row in counts:
        tag_names[tag_index[row["tag_id"]]] = row["tag__name"]
    item_tags = sp.csr_matrix(
        (
            np.asarray([row["n"] for row in counts], dtype=np.float32),
            (
                np.asarray([item_index[row["artist_id"]] for row in counts], dtype=np.int64),
                np.asarray([tag_index[row["tag_id"]] for row in counts], dtype=np.int64),
            ),
        ),
        shape=(len(item_ids), len(tag_pks)),
        dtype=np.float32,
    )

    excluded = (
        {e.id for e in store.iter_entities(types=sorted(exclude_entity_types))} if exclude_entity_types else set()
    )
    # Artists outside this dataset (the KGCN population leaves ~13,800 HetRec artists out) bring no
    # edges either: the offline protocols keep the graph they were tuned and reported on.
    excluded |= {e.id for e in store.iter_entities(types=[ARTIST_TYPE])} - set(entity_of_item.values())
    raw = [t for t in store.iter_triples() if t[0] not in excluded and t[2] not in excluded]
    entity_ids = sorted({h for h, _, _ in raw} | {t for _, _, t in raw} | set(entity_of_item.values()))
    relation_types = sorted({r for _, r, _ in raw})
    entity_index = {e: k for k, e in enumerate(entity_ids)}
    relation_index = {r: k for k, r in enumerate(relation_types)}
    kg_triples = np.asarray(
        [(entity_index[h], relation_index[r], entity_index[t]) for h, r, t in raw], dtype=np.int64
    ).reshape(-1, 3)
    item_entity = np.asarray([entity_index[entity_of_item[int(pk)]] for pk in item_ids], dtype=np.int64)
    return ItemSideInfo(
        item_tags=item_tags,
        tag_names=tag_names,
        kg_triples=kg_triples,
        entity_ids=entity_ids,
        relation_types=relation_types,
        item_entity=item_entity,
    )
