"""Tiny recommender data and models shared by the recommender tests (and the learner-page tests).

* :data:`TINY`: a joint-model configuration small enough to train in about a second on tiny data.
* :func:`tag_content`, :func:`clustered_dataset`: the clustered data of :mod:`tests.helpers.recommender_cases`
  as content vectors and as an :class:`~recommender.data.InteractionDataset`.
* :func:`write_tiny_lastfm`: a 12-listener Last.FM folder in the real file formats.
* :func:`synthetic_dataset`: seeded interactions with users of 1..25 items, for the split and evaluator tests.
* :class:`MostPopular`, :class:`SeededRandom`: deterministic stand-in models for the evaluator and reports.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recommender.data import InteractionDataset

#: Small enough to train in about a second on the tiny data, large enough to learn its two groups.
TINY = dict(
    embedding_dim=16,
    id_dim=8,
    graph_dim=16,
    content_dim=8,
    hidden_dim=32,
    behaviour_dim=4,
    attention_dim=8,
    epochs=12,
    batch_size=64,
    learning_rate=0.01,
    patience=12,
    ensemble_members=1,
)


def tag_content(data) -> np.ndarray:
    """Stand-in for sentence embeddings on the tiny data: each item's L2-normalised tag profile."""
    tags = data.side_info.item_tags.toarray()
    return tags / np.linalg.norm(tags, axis=1, keepdims=True)


def clustered_dataset(data) -> InteractionDataset:
    """The tiny data as a dataset (all interactions; the service draws its own Protocol T split)."""
    everything = (data.train + data.validation + data.test).tocoo()
    return InteractionDataset.from_arrays(
        everything.row + 100, everything.col + 500, np.ones(everything.nnz), side_info=data.side_info
    )


def write_tiny_lastfm(root: Path) -> Path:
    """A 12-listener, 8-artist Last.FM folder in the real file formats, with two taste groups."""
    kgcn, hetrec = root / "lastfm-kgcn", root / "lastfm-hetrec"
    kgcn.mkdir(parents=True)
    hetrec.mkdir()
    artists = range(1, 9)
    (hetrec / "artists.dat").write_text(
        "id\tname\turl\tpictureURL\n"
        + "".join(f"{a}\tBand {a}\thttp://www.last.fm/music/Band+{a}\t\n" for a in artists)
    )
    (kgcn / "item_index2entity_id.txt").write_text("".join(f"{a}\t{a - 1}\n" for a in artists))
    (kgcn / "kg.txt").write_text("".join(f"{a - 1}\tmusic.artist.genre\t{8 if a <= 4 else 9}\n" for a in artists))
    rows = []
    for user in range(10, 22):
        group = [1, 2, 3, 4] if user % 2 else [5, 6, 7, 8]
        rows += [f"{user}\t{a}\t{10 * a + user}\n" for a in group if (a + user) % 4 != 0]
    (kgcn / "user_artists.dat").write_text("userID\tartistID\tweight\n" + "".join(rows))
    (hetrec / "tags.dat").write_text("tagID\ttagValue\n1\trock\n2\tjazz\n")
    (hetrec / "user_taggedartists.dat").write_text(
        "userID\tartistID\ttagID\tday\tmonth\tyear\n"
        + "".join(f"10\t{a}\t{1 if a <= 4 else 2}\t1\t1\t2009\n" for a in artists)
    )
    (hetrec / "user_friends.dat").write_text("userID\tfriendID\n10\t11\n11\t10\n")
    return root


def synthetic_dataset(*, n_users: int = 80, n_items: int = 60, seed: int = 7) -> InteractionDataset:
    """Users with 1..25 items (so the small-user rule is exercised), non-contiguous catalog ids."""
    rng = np.random.default_rng(seed)
    users, items, weights = [], [], []
    for u in range(n_users):
        n = 1 if u == 0 else 2 if u == 1 else int(rng.integers(3, 26))
        chosen = rng.choice(n_items, size=n, replace=False)
        users += [1000 + 3 * u] * n
        items += [500 + 7 * int(i) for i in chosen]
        weights += rng.integers(1, 5000, size=n).tolist()
    return InteractionDataset.from_arrays(np.array(users), np.array(items), np.array(weights))


class MostPopular:
    """Training popularity, identical for every user (many ties)."""

    name = "most-popular"

    def fit(self, train, *, seed, context=None):
        self.popularity = np.asarray((train > 0).sum(axis=0), dtype=np.float32).ravel()
        return self

    def score(self, users):
        return np.tile(self.popularity, (len(users), 1))


class SeededRandom:
    """Uniform scores that depend only on (seed, user), so batching cannot change them."""

    name = "random"

    def fit(self, train, *, seed, context=None):
        self.n_items, self.seed = train.shape[1], seed
        return self

    def score(self, users):
        return np.stack([np.random.default_rng([self.seed, int(u)]).random(self.n_items) for u in users]).astype(
            np.float32
        )


#: The six artists :func:`two_taste_groups` adds to the API tests' tiny catalog (``Alpha Blues`` … are already there).
TASTE_GROUP_ARTISTS = ("Zeta Blues", "Eta Blues", "Theta Blues", "Iota Jazz", "Kappa Jazz", "Lambda Jazz")


def two_taste_groups(catalog: dict, sql_store) -> tuple[list, dict[int, str], InteractionDataset, np.ndarray]:
    """The API tests' catalog grown to sixteen Last.FM listeners in two taste groups (blues, jazz).

    Returns the artists, each artist's genre by pk, the KGCN dataset read from the catalog and a
    one-hot genre content matrix aligned with its items, ready for a tiny ``recommender_train``.
    Shared by the serving fixture (``tests/recommender/conftest.py``) and the gunicorn test.
    """
    from catalog.models import Artist, Listen, Listener
    from kg.stores import EntityRecord, RelationRecord

    tags = catalog["tags"]
    artists = list(catalog["artists"])
    for i, name in enumerate(TASTE_GROUP_ARTISTS, start=len(artists)):
        artists.append(
            Artist.objects.create(lastfm_id=i + 1, name=name, entity_id=f"lastfm:artist:{i + 1}", kgcn_entity=100 + i)
        )
    genre = {a.pk: ("blues" if "Blues" in a.name else "jazz" if "Jazz" in a.name else "rock") for a in artists}
    sql_store.upsert_entities([EntityRecord(id=a.entity_id, type="Artist", name=a.name) for a in artists[5:]])
    sql_store.upsert_relations(
        [RelationRecord(head=a.entity_id, type="HAS_TAG", tail=tags[genre[a.pk]].entity_id) for a in artists[5:]]
    )
    rng = np.random.default_rng(0)
    for u in range(16):
        listener = Listener.objects.create(lastfm_id=2000 + u)
        group = "blues" if u % 2 == 0 else "jazz"
        mine = [a for a in artists if genre[a.pk] == group]
        for artist in rng.permutation(mine)[: len(mine) - 1]:
            Listen.objects.create(listener=listener, artist=artist, play_count=int(rng.integers(5, 50)))
    dataset = InteractionDataset.from_catalog(store=sql_store)
    content = np.stack([np.eye(3)[["blues", "jazz", "rock"].index(genre[int(pk)])] for pk in dataset.item_ids])
    return artists, genre, dataset, content
