"""Synthetic Last.FM data at ``scale`` × the KGCN-linked subset, drawn from the real files' distributions.

The real data (``LEITMOTIF_DATA_DIR``, README sections 1–2) has 1,872 listeners, 3,846 artists, 21,173
listens, 44,585 tag assignments on those artists and a Freebase graph of 15,518 triples over 60
predicates and 9,366 entities (every triple's head is an artist). :func:`generate` builds a data set
with about ``scale`` times each of those numbers and :func:`write_lastfm_dir` writes it in exactly the
files and formats :mod:`ingestion.loaders.lastfm` reads, so the project's own loader loads it.

What is **resampled** from the real data (so its distribution is the real one by construction):

* artists and the graph: the real artists with their KG triples are copied ``ceil(scale)`` times
  (copy ``c`` of artist ``j`` is a new artist "name (c+1)" with the real artist's popularity, tags and
  triples). So the predicate mix, the out-degree of artists per predicate and the tags-per-artist
  distribution are the real ones exactly. Then half of the triples of each predicate (``rewire``) have
  their tails **permuted** among themselves across copies, a configuration-model shuffle that keeps
  every entity's in-degree per predicate but joins the copies into one graph instead of ``scale``
  disjoint ones. A fractional scale keeps a seeded random subset of the last copy's artists;
* listens per listener: each synthetic listener draws a count from the real per-listener counts
  (KG-linked artists only), adjusted by ±1 on random listeners so the total is ``round(21,173 × scale)``;
* play counts: drawn independently from the real play counts of KG-linked listens;
* artist popularity: an artist is picked with probability proportional to its real artist's number of
  listeners, so the long tail (the most popular 10 % of artists hold ~half the listens) is the real one;
* tag assignments and friendships: the real rows, copied with the artist's copy; the real user of a
  row becomes a fixed synthetic listener (``(u + c·1872) mod n_users``); dates are the real ones.

What is **synthetic** (modelling choices, not fitted):

* which artists a listener picks: without replacement, 60 % (``p_local``) from a home "community"
  of about 154 artists (communities are random groups of artists, their number grows with the scale so
  their size stays fixed) and the rest from all artists, both by popularity. Without some locality the
  co-listening signal every recommender relies on would dilute as the catalogue grows;
* tag vocabulary growth: each copy of a tag is the original tag (shared vocabulary) with probability
  ``tag_share`` (0.5), else a new tag "name (c+1)"; real vocabularies grow sublinearly, so this sits
  between "no new tags" and "every copy new";
* names and urls: the real artist's name with the copy number; no pictures.

Listens only reference KG-linked artists (the raw file's 71,661 listens of other artists are what the
loader's KGCN filter drops; they are not generated). Everything is seeded by ``seed``: the same
``(scale, seed)`` gives byte-identical files.

    .venv/bin/python benchmarks/synthetic_lastfm.py --scale 4 --out /tmp/lastfm-x4
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
KGCN_DIR = "lastfm-kgcn"
HETREC_DIR = "lastfm-hetrec"

#: The real KGCN-linked counts (README section 1), for reporting ratios.
REAL_COUNTS = {"users": 1872, "artists": 3846, "listens": 21173, "kg_triples": 15518, "kg_entities": 9366}


def default_data_dir() -> Path:
    return Path(os.environ.get("LEITMOTIF_DATA_DIR", REPO.parent / "shared" / "data"))


def _rows(path: Path, *, header: bool) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in (lines[1:] if header else lines) if line]


@dataclass(frozen=True)
class LastfmFit:
    """What :func:`generate` resamples, read from the real files (KG-linked subset only)."""

    item_artist_ids: np.ndarray  # real artist id of item j
    item_names: list[str]
    item_urls: list[str]
    item_popularity: np.ndarray  # listeners of item j
    user_degrees: np.ndarray  # KG-linked artists per real listener
    play_counts: np.ndarray  # play count of every KG-linked listen
    n_real_entities: int
    predicates: list[str]
    kg_heads: np.ndarray  # real entity numbers (items are 0..n_items-1)
    kg_preds: np.ndarray  # index into predicates
    kg_tails: np.ndarray
    tag_names: dict[int, str]
    tagging_users: np.ndarray  # index of the real user (0..n_users-1) per assignment
    tagging_items: np.ndarray  # item index per assignment
    tagging_tags: np.ndarray  # real tag id per assignment
    tagging_dates: list[tuple[str, str, str]]  # day, month, year
    friend_pairs: np.ndarray  # (m × 2) real user indices, both directions

    @property
    def n_items(self) -> int:
        return len(self.item_artist_ids)

    @property
    def n_users(self) -> int:
        return len(self.user_degrees)


@lru_cache(maxsize=2)
def fit_lastfm(data_dir: Path | str | None = None) -> LastfmFit:
    """Read the real KGCN + HetRec files and keep the pieces :func:`generate` draws from."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    kgcn, hetrec = root / KGCN_DIR, root / HETREC_DIR
    links = _rows(kgcn / "item_index2entity_id.txt", header=False)
    entity_of_artist = {int(a): int(e) for a, e in links}
    n_items = len(entity_of_artist)
    if sorted(entity_of_artist.values()) != list(range(n_items)):
        raise ValueError("expected the KGCN items to be entities 0..n_items-1")
    item_artist_ids = np.zeros(n_items, dtype=np.int64)
    for artist, entity in entity_of_artist.items():
        item_artist_ids[entity] = artist
    artist_rows = {int(r[0]): r for r in _rows(hetrec / "artists.dat", header=True)}
    item_names = [artist_rows[int(a)][1] for a in item_artist_ids]
    item_urls = [artist_rows[int(a)][2] if len(artist_rows[int(a)]) > 2 else "" for a in item_artist_ids]

    listens = [(int(u), entity_of_artist[int(a)], int(w)) for u, a, w in _rows(kgcn / "user_artists.dat", header=True)
               if int(a) in entity_of_artist]  # fmt: skip
    users = sorted({u for u, _, _ in listens})
    user_index = {u: i for i, u in enumerate(users)}
    user_degrees = np.bincount([user_index[u] for u, _, _ in listens], minlength=len(users)).astype(np.int64)
    item_popularity = np.bincount([j for _, j, _ in listens], minlength=n_items).astype(np.int64)
    play_counts = np.asarray([w for _, _, w in listens], dtype=np.int64)

    triples = _rows(kgcn / "kg.txt", header=False)
    predicates = sorted({r[1] for r in triples})
    predicate_index = {p: i for i, p in enumerate(predicates)}
    kg_heads = np.asarray([int(r[0]) for r in triples], dtype=np.int64)
    kg_preds = np.asarray([predicate_index[r[1]] for r in triples], dtype=np.int64)
    kg_tails = np.asarray([int(r[2]) for r in triples], dtype=np.int64)
    n_real_entities = int(max(kg_heads.max(), kg_tails.max())) + 1
    if kg_heads.max() >= n_items:
        raise ValueError("expected every KG head to be an item (the generator copies triples with their head artist)")

    tag_names = {int(r[0]): r[1] for r in _rows(hetrec / "tags.dat", header=True)}
    tagged = [r for r in _rows(hetrec / "user_taggedartists.dat", header=True)
              if int(r[1]) in entity_of_artist and int(r[0]) in user_index]  # fmt: skip
    tagging_users = np.asarray([user_index[int(r[0])] for r in tagged], dtype=np.int64)
    tagging_items = np.asarray([entity_of_artist[int(r[1])] for r in tagged], dtype=np.int64)
    tagging_tags = np.asarray([int(r[2]) for r in tagged], dtype=np.int64)
    tagging_dates = [(r[3], r[4], r[5]) for r in tagged]
    friends = [(user_index[int(a)], user_index[int(b)]) for a, b in _rows(hetrec / "user_friends.dat", header=True)
               if int(a) in user_index and int(b) in user_index]  # fmt: skip
    return LastfmFit(
        item_artist_ids=item_artist_ids,
        item_names=item_names,
        item_urls=item_urls,
        item_popularity=item_popularity,
        user_degrees=user_degrees,
        play_counts=play_counts,
        n_real_entities=n_real_entities,
        predicates=predicates,
        kg_heads=kg_heads,
        kg_preds=kg_preds,
        kg_tails=kg_tails,
        tag_names={t: tag_names[t] for t in sorted(set(tagging_tags.tolist()))},
        tagging_users=tagging_users,
        tagging_items=tagging_items,
        tagging_tags=tagging_tags,
        tagging_dates=tagging_dates,
        friend_pairs=np.asarray(friends, dtype=np.int64).reshape(-1, 2),
    )


@dataclass(frozen=True)
class SyntheticLastfm:
    """One generated data set; ids are the ones written to the files."""

    scale: float
    seed: int
    artist_ids: np.ndarray  # 1..n_artists
    artist_names: list[str]
    artist_urls: list[str]
    artist_entity: np.ndarray  # KGCN entity number of each artist (0..n_artists-1)
    listen_users: np.ndarray  # user ids 1..n_users
    listen_artists: np.ndarray  # artist ids
    listen_plays: np.ndarray
    kg_heads: np.ndarray  # entity numbers
    kg_preds: np.ndarray  # index into predicates
    kg_tails: np.ndarray
    predicates: list[str]
    tag_ids: np.ndarray
    tag_names: list[str]
    tagging_users: np.ndarray
    tagging_artists: np.ndarray
    tagging_tags: np.ndarray
    tagging_dates: list[tuple[str, str, str]]
    friend_pairs: np.ndarray  # user ids, both directions

    @property
    def n_users(self) -> int:
        return int(len(np.unique(self.listen_users)))

    @property
    def n_entities(self) -> int:
        return int(len(np.unique(np.concatenate([self.artist_entity, self.kg_heads, self.kg_tails]))))

    def counts(self) -> dict[str, int]:
        return {
            "users": self.n_users,
            "artists": len(self.artist_ids),
            "listens": len(self.listen_users),
            "tags": len(self.tag_ids),
            "tag_assignments": len(self.tagging_users),
            "artist_tag_pairs": int(
                len(np.unique(self.tagging_artists * (int(self.tag_ids.max()) + 1) + self.tagging_tags))
            ),
            "friendships": len(self.friend_pairs),
            "kg_triples": len(self.kg_heads),
            "kg_entities": self.n_entities,
            "kg_predicates": int(len(np.unique(self.kg_preds))),
        }


def _sample_listens(
    rng: np.random.Generator, *, degrees: np.ndarray, weights: np.ndarray, communities: np.ndarray, p_local: float
) -> tuple[np.ndarray, np.ndarray]:
    """(user index, item index) pairs: ``degrees[u]`` distinct items per user, by ``weights``, partly local."""
    n_users, n_items = len(degrees), len(weights)
    n_comm = int(communities.max()) + 1
    order = np.lexsort((np.arange(n_items), communities))  # items grouped by community
    cdf = np.cumsum(weights[order])
    comm_total = np.bincount(communities, weights=weights, minlength=n_comm)
    comm_start = np.concatenate([[0.0], np.cumsum(comm_total)[:-1]])
    home = rng.integers(0, n_comm, size=n_users)

    draws = 2 * degrees + 4
    owner = np.repeat(np.arange(n_users), draws)
    local = rng.random(len(owner)) < p_local
    x = rng.random(len(owner))
    x = np.where(local, comm_start[home[owner]] + x * comm_total[home[owner]], x * cdf[-1])
    items = order[np.minimum(np.searchsorted(cdf, x, side="right"), n_items - 1)]

    _, first = np.unique(owner * n_items + items, return_index=True)
    first.sort()
    owners, picked = owner[first], items[first]
    starts = np.searchsorted(owners, np.arange(n_users))
    rank = np.arange(len(first)) - starts[owners]
    keep = rank < degrees[owners]
    owners, picked = owners[keep], picked[keep]
    # The rare listener whose draws held too few distinct items gets the rest uniformly.
    got = np.bincount(owners, minlength=n_users)
    extra_u, extra_i = [], []
    for u in np.flatnonzero(got < degrees):
        have = set(picked[owners == u].tolist())
        pool = np.setdiff1d(np.arange(n_items), np.fromiter(have, dtype=np.int64, count=len(have)))
        more = rng.choice(pool, size=int(degrees[u] - got[u]), replace=False)
        extra_u.extend([u] * len(more))
        extra_i.extend(more.tolist())
    owners = np.concatenate([owners, np.asarray(extra_u, dtype=np.int64)])
    picked = np.concatenate([picked, np.asarray(extra_i, dtype=np.int64)])
    idx = np.lexsort((picked, owners))
    return owners[idx], picked[idx]


def generate(
    scale: float,
    *,
    seed: int = 0,
    data_dir: Path | str | None = None,
    rewire: float = 0.5,
    p_local: float = 0.6,
    community_size: int = 154,
    tag_share: float = 0.5,
) -> SyntheticLastfm:
    """A synthetic data set at ``scale`` × the real KGCN-linked subset (see the module docstring)."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    fit = fit_lastfm(data_dir)
    rng = np.random.default_rng(seed)
    n_real_items = fit.n_items
    copies = math.ceil(scale)
    n_items = max(1, round(n_real_items * scale))

    # --- artists: copies of the real ones; a fractional last copy keeps a seeded subset ------------
    copy_of = np.repeat(np.arange(copies), n_real_items)
    real_of = np.tile(np.arange(n_real_items), copies)
    kept_last = rng.permutation(n_real_items)[: n_items - (copies - 1) * n_real_items]
    keep_item = copy_of < copies - 1
    keep_item[(copies - 1) * n_real_items + kept_last] = True

    # --- graph: copy every triple with its head's copy, then permute a share of the tails ----------
    n_other = fit.n_real_entities - n_real_items

    def entity_number(real: np.ndarray, copy: np.ndarray) -> np.ndarray:
        return np.where(
            real < n_real_items,
            copy * n_real_items + real,
            copies * n_real_items + copy * n_other + (real - n_real_items),
        )

    t_copy = np.repeat(np.arange(copies), len(fit.kg_heads))
    heads = entity_number(np.tile(fit.kg_heads, copies), t_copy)
    preds = np.tile(fit.kg_preds, copies)
    tails = entity_number(np.tile(fit.kg_tails, copies), t_copy)
    if copies > 1 and rewire > 0:
        chosen = np.flatnonzero(rng.random(len(tails)) < rewire)
        for p in range(len(fit.predicates)):
            positions = chosen[preds[chosen] == p]
            tails[positions] = tails[rng.permutation(positions)]
    # keep triples of kept artists (a tail that is an artist must be kept too), drop repeated triples
    item_kept = np.zeros(copies * n_real_items, dtype=bool)
    item_kept[np.flatnonzero(keep_item)] = True
    tail_is_item = tails < copies * n_real_items
    ok = item_kept[heads] & (~tail_is_item | item_kept[np.where(tail_is_item, tails, 0)])
    heads, preds, tails = heads[ok], preds[ok], tails[ok]
    _, unique_idx = np.unique(np.stack([heads, preds, tails], axis=1), axis=0, return_index=True)
    unique_idx.sort()
    heads, preds, tails = heads[unique_idx], preds[unique_idx], tails[unique_idx]
    # renumber: kept artists 0..n_items-1 in order, then the other entities in order of first number
    kept_items = np.flatnonzero(keep_item)
    others = np.unique(tails[tails >= copies * n_real_items])
    renumber = np.full(copies * n_real_items + copies * n_other, -1, dtype=np.int64)
    renumber[kept_items] = np.arange(len(kept_items))
    renumber[others] = len(kept_items) + np.arange(len(others))
    heads, tails = renumber[heads], renumber[tails]

    artist_real = real_of[kept_items]
    artist_copy = copy_of[kept_items]
    artist_ids = np.arange(1, n_items + 1, dtype=np.int64)
    artist_names = [
        fit.item_names[j] if c == 0 else f"{fit.item_names[j]} ({c + 1})" for j, c in zip(artist_real, artist_copy)
    ]
    artist_urls = [
        fit.item_urls[j] if c == 0 else f"{fit.item_urls[j]}_({c + 1})" for j, c in zip(artist_real, artist_copy)
    ]
    item_of_copy = np.full(copies * n_real_items, -1, dtype=np.int64)
    item_of_copy[kept_items] = np.arange(n_items)

    # --- listens ------------------------------------------------------------------------------------
    n_users = max(1, round(fit.n_users * scale))
    target = max(n_users, round(len(fit.play_counts) * scale))
    max_degree = max(1, n_items // 2)
    degrees = np.minimum(rng.choice(fit.user_degrees, size=n_users), max_degree)
    while degrees.sum() != target:
        diff = int(target - degrees.sum())
        who = rng.integers(0, n_users, size=abs(diff))
        np.add.at(degrees, who, 1 if diff > 0 else -1)
        degrees = np.clip(degrees, 1, max_degree)
    weights = np.maximum(fit.item_popularity[artist_real].astype(np.float64), 0.5)
    n_comm = max(1, round(n_items / community_size))
    communities = rng.integers(0, n_comm, size=n_items)
    users, items = _sample_listens(rng, degrees=degrees, weights=weights, communities=communities, p_local=p_local)
    plays = rng.choice(fit.play_counts, size=len(users))

    # --- tags and tag assignments (copied with the artist) -----------------------------------------
    a_copy = np.repeat(np.arange(copies), len(fit.tagging_items))
    a_item = item_of_copy[np.tile(fit.tagging_items, copies) + a_copy * n_real_items]
    a_real_tag = np.tile(fit.tagging_tags, copies)
    a_user = (np.tile(fit.tagging_users, copies) + a_copy * fit.n_users) % n_users
    a_dates = fit.tagging_dates * copies
    real_tags = np.asarray(sorted(fit.tag_names), dtype=np.int64)
    shared = rng.random((copies, len(real_tags))) < tag_share
    shared[0] = True
    tag_pos = np.searchsorted(real_tags, a_real_tag)
    tag_copy = np.where(shared[a_copy, tag_pos], 0, a_copy)
    ok = a_item >= 0
    tag_key = tag_copy * (int(real_tags.max()) + 1) + a_real_tag
    a_user, a_item, tag_key, tag_copy, a_real_tag = a_user[ok], a_item[ok], tag_key[ok], tag_copy[ok], a_real_tag[ok]
    a_dates = [d for d, keep in zip(a_dates, ok.tolist()) if keep]
    _, first = np.unique(np.stack([a_user, a_item, tag_key], axis=1), axis=0, return_index=True)
    first.sort()
    a_user, a_item, tag_key, tag_copy, a_real_tag = (x[first] for x in (a_user, a_item, tag_key, tag_copy, a_real_tag))
    a_dates = [a_dates[i] for i in first.tolist()]
    keys, key_first, a_tag_index = np.unique(tag_key, return_index=True, return_inverse=True)
    tag_ids = np.arange(1, len(keys) + 1, dtype=np.int64)
    tag_names = [
        fit.tag_names[int(a_real_tag[i])]
        if tag_copy[i] == 0
        else f"{fit.tag_names[int(a_real_tag[i])]} ({tag_copy[i] + 1})"
        for i in key_first.tolist()
    ]

    # --- friendships (copied with the users, both directions kept) ----------------------------------
    f_copy = np.repeat(np.arange(copies), len(fit.friend_pairs))
    pairs = (np.tile(fit.friend_pairs, (copies, 1)) + (f_copy * fit.n_users)[:, None]) % n_users
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = np.unique(np.concatenate([pairs, pairs[:, ::-1]]), axis=0)

    return SyntheticLastfm(
        scale=scale,
        seed=seed,
        artist_ids=artist_ids,
        artist_names=artist_names,
        artist_urls=artist_urls,
        artist_entity=np.arange(n_items, dtype=np.int64),
        listen_users=users + 1,
        listen_artists=items + 1,
        listen_plays=plays,
        kg_heads=heads,
        kg_preds=preds,
        kg_tails=tails,
        predicates=list(fit.predicates),
        tag_ids=tag_ids,
        tag_names=tag_names,
        tagging_users=a_user + 1,
        tagging_artists=a_item + 1,
        tagging_tags=tag_ids[a_tag_index],
        tagging_dates=a_dates,
        friend_pairs=pairs + 1,
    )


def write_lastfm_dir(data: SyntheticLastfm, out_dir: Path | str) -> Path:
    """Write ``data`` as ``<out_dir>/lastfm-kgcn/`` + ``<out_dir>/lastfm-hetrec/`` in the real files' formats."""
    out = Path(out_dir)
    kgcn, hetrec = out / KGCN_DIR, out / HETREC_DIR
    kgcn.mkdir(parents=True, exist_ok=True)
    hetrec.mkdir(parents=True, exist_ok=True)

    def write(path: Path, header: str | None, lines) -> None:
        with path.open("w", encoding="utf-8", newline="\n") as handle:
            if header is not None:
                handle.write(header + "\n")
            for line in lines:
                handle.write(line + "\n")

    write(
        hetrec / "artists.dat",
        "id\tname\turl\tpictureURL",
        (f"{a}\t{n}\t{u}\t" for a, n, u in zip(data.artist_ids.tolist(), data.artist_names, data.artist_urls)),
    )
    write(hetrec / "tags.dat", "tagID\ttagValue", (f"{t}\t{n}" for t, n in zip(data.tag_ids.tolist(), data.tag_names)))
    write(
        hetrec / "user_taggedartists.dat",
        "userID\tartistID\ttagID\tday\tmonth\tyear",
        (
            f"{u}\t{a}\t{t}\t{d[0]}\t{d[1]}\t{d[2]}"
            for u, a, t, d in zip(
                data.tagging_users.tolist(),
                data.tagging_artists.tolist(),
                data.tagging_tags.tolist(),
                data.tagging_dates,
            )
        ),
    )
    write(hetrec / "user_friends.dat", "userID\tfriendID", (f"{a}\t{b}" for a, b in data.friend_pairs.tolist()))
    write(
        kgcn / "user_artists.dat",
        "userID\tartistID\tweight",
        (
            f"{u}\t{a}\t{w}"
            for u, a, w in zip(data.listen_users.tolist(), data.listen_artists.tolist(), data.listen_plays.tolist())
        ),
    )
    write(
        kgcn / "item_index2entity_id.txt",
        None,
        (f"{a}\t{e}" for a, e in zip(data.artist_ids.tolist(), data.artist_entity.tolist())),
    )
    write(
        kgcn / "kg.txt",
        None,
        (
            f"{h}\t{data.predicates[p]}\t{t}"
            for h, p, t in zip(data.kg_heads.tolist(), data.kg_preds.tolist(), data.kg_tails.tolist())
        ),
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    data = generate(args.scale, seed=args.seed)
    write_lastfm_dir(data, args.out)
    print(data.counts())


if __name__ == "__main__":
    main()
