"""Load the Last.FM data (HetRec 2011 + the KGCN Freebase sub-graph) into the catalog and the graph.

What is loaded is the whole HetRec catalogue: all 17,632 artists of ``artists.dat``, all 1,892 users,
their 92,834 (user, artist, play count) pairs, all 11,946 tags, the 184,940 tag assignments on known
artists (the 1,538 rows that point at artist ids missing from ``artists.dat`` are skipped and counted,
a known property of the data), the 25,434 friendship rows, the whole KGCN graph (9,366 entities,
15,518 triples over 60 Freebase predicates) and an ``artist -HAS_TAG-> tag`` edge for every tagged
artist. Learners can therefore search and pick any artist (Chopin, Mozart, Satie are not KGCN items).

Why the KGCN subset still matters: only the 3,846 artists linked in ``item_index2entity_id.txt`` get
``Artist.kgcn_entity``; the offline protocols and training (:mod:`recommender.data`) keep to those
artists, so their population (1,872 users, 3,846 items, 21,173 listens: the numbers published for
KGCN) is exactly what it was when only the subset was loaded. The report compares that subset with
:data:`KGCN_PUBLISHED_COUNTS`.

Why validation comes first, and why the files are read twice: every row of every file is parsed and
checked before anything is written, so a bad row raises :class:`~core.errors.DataFileError` naming the
file and the 1-based line while neither the catalog nor the graph has been touched. That first pass
(:func:`lastfm_scan`) keeps only ids, counts and aggregates (a set entry per artist, tag and user,
numpy arrays of 8 to 24 bytes a row for the duplicate check, the tag counts and the KGCN entity
types, about 100 MB for the 64x growth-curve data); the second pass reads the files again and writes the catalog in
batches of :data:`CATALOG_BATCH_SIZE` rows inside one transaction, then the graph through
:func:`kg.services.graph_upsert` (idempotent batches) chunk by chunk. Memory therefore stays bounded
by the batch sizes and the number of artists, tags and users, not by the rows' Python objects (the
64x growth-curve data has 6.8 million rows). Both writes compare before they write, so a second run
reports nothing created and nothing updated. :func:`lastfm_dataset_read` and the selections still
read everything into memory for tests and benchmarks on small data.

Why the anonymous entities get names such as ``"Genre kgcn:4521"``: the KGCN release has no labels for
its non-item entities. The name says what we know (the kind, inferred from the predicate pointing at
it) and ``properties["named"] = False`` lets the UI and the explainer tell them from real names.
"""

from __future__ import annotations

import datetime as dt
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from django.db import IntegrityError, models, reset_queries, transaction
from django.utils import timezone
from tqdm.auto import tqdm

from catalog.models import Artist, Friendship, Listen, Listener, Tag, TagAssignment
from core.db import refresh_planner_statistics
from core.errors import DataFileError, InvalidGraphDataError
from kg.schema import (
    ARTIST_TYPE,
    FREEBASE_PREDICATE_PATTERN,
    HAS_TAG,
    TAG_TYPE,
    artist_entity_id,
    freebase_relation_types,
    infer_tail_entity_type,
    kgcn_entity_id,
    tag_entity_id,
)
from kg.services import GraphUpsertReport, graph_upsert
from kg.stores.base import EntityRecord, KnowledgeGraphStore, RelationRecord, UpsertResult

KGCN_DIR_NAME = "lastfm-kgcn"
HETREC_DIR_NAME = "lastfm-hetrec"

KGCN_SOURCE = "lastfm-kgcn"
HETREC_SOURCE = "lastfm-hetrec"


def _max_length(field: models.Field) -> int:
    """``max_length`` of a character field (always set on a CharField)."""
    assert field.max_length is not None
    return field.max_length


#: Column limits of the catalog models, checked while parsing so a bad row names its line.
MAX_NAME_LENGTH = _max_length(Artist._meta.get_field("name"))
MAX_URL_LENGTH = _max_length(Artist._meta.get_field("url"))

#: The numbers published for KGCN's Last.FM data; the command says whether a load reproduces them.
KGCN_PUBLISHED_COUNTS: Mapping[str, int] = {
    "users": 1_872,
    "artists": 3_846,
    "listens": 21_173,
    "kgcn_entities": 9_366,
    "kgcn_relation_types": 60,
    "kgcn_triples": 15_518,
}

#: Records per atomic graph write: larger than the store default because these records are small and
#: fewer round trips roughly halve the load time on both backends; 5,000 rows is still a modest transaction.
GRAPH_BATCH_SIZE = 5_000


# --- typed rows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtistRow:
    lastfm_id: int
    name: str
    url: str
    picture_url: str


@dataclass(frozen=True)
class TagRow:
    lastfm_id: int
    name: str


@dataclass(frozen=True)
class ListenRow:
    user_id: int
    artist_id: int
    play_count: int


@dataclass(frozen=True)
class TagAssignmentRow:
    user_id: int
    artist_id: int
    tag_id: int
    tagged_on: dt.date


@dataclass(frozen=True)
class FriendshipRow:
    user_id: int
    friend_id: int


@dataclass(frozen=True)
class ItemLinkRow:
    """``item_index2entity_id.txt``: a HetRec artist and its integer entity id in ``kg.txt``."""

    artist_id: int
    kgcn_entity: int


@dataclass(frozen=True)
class KgTripleRow:
    head: int
    predicate: str
    tail: int


@dataclass(frozen=True)
class LastfmPaths:
    """Where each file lives below the shared data directory (see its README, sections 1 and 2)."""

    artists: Path
    tags: Path
    tag_assignments: Path
    friendships: Path
    listens: Path
    item_links: Path
    kg_triples: Path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> LastfmPaths:
        kgcn, hetrec = Path(data_dir) / KGCN_DIR_NAME, Path(data_dir) / HETREC_DIR_NAME
        return cls(
            artists=hetrec / "artists.dat",
            tags=hetrec / "tags.dat",
            tag_assignments=hetrec / "user_taggedartists.dat",
            friendships=hetrec / "user_friends.dat",
            listens=kgcn / "user_artists.dat",
            item_links=kgcn / "item_index2entity_id.txt",
            kg_triples=kgcn / "kg.txt",
        )


# --- line-level parsing -------------------------------------------------------------------------


def _fail(path: Path, line: int | None, message: str) -> DataFileError:
    return DataFileError(message, path=str(path), line=line)


def _tab_rows(path: Path, *, columns: tuple[str, ...], header: bool) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number, fields)`` for every non-blank data line of a tab-separated UTF-8 file.

    Bytes are decoded line by line so an encoding error names its line; ``\\r\\n`` endings (the KGCN
    files have them) are accepted. With ``header`` the first line must list exactly ``columns``. A file
    without data rows is an error: an empty ``kg.txt`` would otherwise load as an empty graph.
    """
    if not path.is_file():
        hint = "it is a directory" if path.is_dir() else "it does not exist"
        raise _fail(path, None, f"expected the data file here but {hint}; check --data-dir (see data/README.md).")
    expected_header_seen = not header
    data_rows = 0
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise _fail(path, line_no, f"not valid UTF-8 ({exc.reason} at byte {exc.start}).") from None
            if not text.strip():
                continue
            fields = text.split("\t")
            if not expected_header_seen:
                if fields != list(columns):
                    raise _fail(path, line_no, f"expected the header {'<TAB>'.join(columns)!r}, found {text[:120]!r}.")
                expected_header_seen = True
                continue
            if len(fields) != len(columns):
                raise _fail(
                    path,
                    line_no,
                    f"expected {len(columns)} tab-separated columns ({', '.join(columns)}), found {len(fields)}.",
                )
            data_rows += 1
            yield line_no, fields
    if not data_rows:
        expected = f"the header {'<TAB>'.join(columns)!r} and " if header else ""
        raise _fail(path, None, f"the file has no data rows; expected {expected}rows of {', '.join(columns)}.")


#: The largest id or count a catalog integer column holds on every database (PostgreSQL ``integer``).
MAX_INTEGER = 2_147_483_647


def _integer(text: str, *, column: str, path: Path, line: int, negative_wording: str | None = None) -> int:
    """A decimal integer in ``0..MAX_INTEGER``; ``negative_wording`` names the value in the "negative" error."""
    if len(text) < 10 and text.isdigit() and text.isascii():  # the common case, 1.5 million times on the real data
        return int(text)
    body = text[1:] if text.startswith("-") else text
    if not body or not body.isascii() or not body.isdigit():
        raise _fail(path, line, f"column {column!r} must be an integer, found {text!r}.")
    value = int(text)
    if value < 0:
        what = negative_wording or f"column {column!r}"
        raise _fail(path, line, f"{what} must not be negative, found {value}.")
    if value > MAX_INTEGER:
        raise _fail(path, line, f"column {column!r} must be at most {MAX_INTEGER:,}, found {value:,}.")
    return value


def _text(text: str, *, column: str, path: Path, line: int, max_length: int, required: bool) -> str:
    if required and not text.strip():
        raise _fail(path, line, f"column {column!r} is empty.")
    if len(text) > max_length:
        raise _fail(path, line, f"column {column!r} is longer than {max_length} characters ({len(text)}).")
    if "\x00" in text:
        raise _fail(path, line, f"column {column!r} contains a NUL character (\\x00).")
    return text


def _duplicate(path: Path, line: int, what: str, first_line: int) -> DataFileError:
    return _fail(path, line, f"duplicate {what} (first seen on line {first_line}).")


# --- file readers -------------------------------------------------------------------------------
#
# Each ``_*_rows`` generator yields ``(line number, row)`` with every check a single row allows; the
# ``read_*`` functions add the duplicate checks and keep every row (small files, tests, benchmarks);
# the streaming load (:func:`lastfm_load`) checks duplicates with :class:`_UniqueKeys` instead.


def _artist_rows(path: Path) -> Iterator[tuple[int, ArtistRow]]:
    for line, (raw_id, name, url, picture) in _tab_rows(path, columns=("id", "name", "url", "pictureURL"), header=True):
        yield (
            line,
            ArtistRow(
                lastfm_id=_integer(raw_id, column="id", path=path, line=line),
                name=_text(name, column="name", path=path, line=line, max_length=MAX_NAME_LENGTH, required=True),
                url=_text(url, column="url", path=path, line=line, max_length=MAX_URL_LENGTH, required=False),
                picture_url=_text(
                    picture, column="pictureURL", path=path, line=line, max_length=MAX_URL_LENGTH, required=False
                ),
            ),
        )


def _tag_rows(path: Path) -> Iterator[tuple[int, TagRow]]:
    for line, (raw_id, value) in _tab_rows(path, columns=("tagID", "tagValue"), header=True):
        yield (
            line,
            TagRow(
                lastfm_id=_integer(raw_id, column="tagID", path=path, line=line),
                name=_text(value, column="tagValue", path=path, line=line, max_length=MAX_NAME_LENGTH, required=True),
            ),
        )


def _item_link_rows(path: Path, *, artists: Container[int]) -> Iterator[tuple[int, ItemLinkRow]]:
    for line, (raw_artist, raw_entity) in _tab_rows(path, columns=("artistID", "entity_id"), header=False):
        artist_id = _integer(raw_artist, column="artistID", path=path, line=line)
        kgcn_entity = _integer(raw_entity, column="entity_id", path=path, line=line)
        if artist_id not in artists:
            raise _fail(path, line, f"artist id {artist_id} is not in {HETREC_DIR_NAME}/artists.dat.")
        yield line, ItemLinkRow(artist_id=artist_id, kgcn_entity=kgcn_entity)


def _listen_rows(path: Path, *, artists: Container[int]) -> Iterator[tuple[int, ListenRow]]:
    for line, (raw_user, raw_artist, raw_weight) in _tab_rows(
        path, columns=("userID", "artistID", "weight"), header=True
    ):
        user_id = _integer(raw_user, column="userID", path=path, line=line)
        artist_id = _integer(raw_artist, column="artistID", path=path, line=line)
        play_count = _integer(raw_weight, column="weight", path=path, line=line, negative_wording="play count (weight)")
        if artist_id not in artists:
            raise _fail(path, line, f"artist id {artist_id} is not in {HETREC_DIR_NAME}/artists.dat.")
        yield line, ListenRow(user_id=user_id, artist_id=artist_id, play_count=play_count)


_TAG_ASSIGNMENT_COLUMNS = ("userID", "artistID", "tagID", "day", "month", "year")


def _tag_assignment_rows(path: Path, *, tags: Container[int]) -> Iterator[tuple[int, TagAssignmentRow]]:
    columns = _TAG_ASSIGNMENT_COLUMNS
    for line, fields in _tab_rows(path, columns=columns, header=True):
        joined = "".join(fields)
        # fast path for rows of plain digits whose ids are short enough to be in range
        if all(fields) and joined.isdigit() and joined.isascii() and max(map(len, fields[:3])) < 10:
            user_id, artist_id, tag_id, day, month, year = map(int, fields)
        else:
            user_id, artist_id, tag_id, day, month, year = [
                _integer(value, column=column, path=path, line=line) for value, column in zip(fields, columns)
            ]
        if tag_id not in tags:
            raise _fail(path, line, f"tag id {tag_id} is not in {HETREC_DIR_NAME}/tags.dat.")
        try:
            tagged_on = dt.date(year, month, day)
        except ValueError as exc:
            raise _fail(path, line, f"day/month/year {day}/{month}/{year} is not a date ({exc}).") from None
        yield line, TagAssignmentRow(user_id=user_id, artist_id=artist_id, tag_id=tag_id, tagged_on=tagged_on)


def _friendship_rows(path: Path) -> Iterator[tuple[int, FriendshipRow]]:
    for line, (raw_user, raw_friend) in _tab_rows(path, columns=("userID", "friendID"), header=True):
        user_id = _integer(raw_user, column="userID", path=path, line=line)
        friend_id = _integer(raw_friend, column="friendID", path=path, line=line)
        if user_id == friend_id:
            raise _fail(path, line, f"user {user_id} is listed as their own friend.")
        yield line, FriendshipRow(user_id=user_id, friend_id=friend_id)


def _kg_triple_rows(path: Path) -> Iterator[tuple[int, KgTripleRow]]:
    for line, (raw_head, predicate, raw_tail) in _tab_rows(path, columns=("head", "relation", "tail"), header=False):
        head = _integer(raw_head, column="head", path=path, line=line)
        tail = _integer(raw_tail, column="tail", path=path, line=line)
        if not FREEBASE_PREDICATE_PATTERN.match(predicate):
            raise _fail(
                path, line, f"relation {predicate!r} is not a Freebase predicate such as 'music.artist.origin'."
            )
        yield line, KgTripleRow(head=head, predicate=predicate, tail=tail)


def _listen_key(row: ListenRow) -> tuple[int, int]:
    return (row.user_id, row.artist_id)


def _listen_what(key: tuple) -> str:
    return f"(user {key[0]}, artist {key[1]}) pair"


def _tag_assignment_key(row: TagAssignmentRow) -> tuple[int, int, int]:
    return (row.user_id, row.artist_id, row.tag_id)


def _tag_assignment_what(key: tuple) -> str:
    return f"(user {key[0]}, artist {key[1]}, tag {key[2]}) assignment"


def _friendship_key(row: FriendshipRow) -> tuple[int, int]:
    return (row.user_id, row.friend_id)


def _friendship_what(key: tuple) -> str:
    return f"friendship {key[0]} -> {key[1]}"


def _kg_triple_key(row: KgTripleRow) -> tuple[int, str, int]:
    return (row.head, row.predicate, row.tail)


def _kg_triple_what(key: tuple) -> str:
    return f"triple {key[0]} {key[1]} {key[2]}"


def _unique_rows(path: Path, rows: Iterable[tuple[int, Any]], key: Callable[[Any], Any], what: Callable[[Any], str]):
    """The rows as a list, raising at the first row whose key an earlier row already had."""
    out = []
    first_line: dict[Any, int] = {}
    for line, row in rows:
        k = key(row)
        if k in first_line:
            raise _duplicate(path, line, what(k), first_line[k])
        first_line[k] = line
        out.append(row)
    return out


def read_artists(path: Path) -> dict[int, ArtistRow]:
    """``artists.dat``: every HetRec artist with its real name and Last.FM urls, by artist id."""
    artists: dict[int, ArtistRow] = {}
    first_line: dict[int, int] = {}
    for line, row in _artist_rows(path):
        if row.lastfm_id in artists:
            raise _duplicate(path, line, f"artist id {row.lastfm_id}", first_line[row.lastfm_id])
        artists[row.lastfm_id] = row
        first_line[row.lastfm_id] = line
    return artists


def read_tags(path: Path) -> dict[int, TagRow]:
    """``tags.dat``: tag id -> tag text."""
    tags: dict[int, TagRow] = {}
    first_line: dict[int, int] = {}
    for line, row in _tag_rows(path):
        if row.lastfm_id in tags:
            raise _duplicate(path, line, f"tag id {row.lastfm_id}", first_line[row.lastfm_id])
        tags[row.lastfm_id] = row
        first_line[row.lastfm_id] = line
    return tags


def read_item_links(path: Path, *, artists: Container[int]) -> list[ItemLinkRow]:
    """``item_index2entity_id.txt``: which artists are KGCN items; each must be a known artist."""
    links: list[ItemLinkRow] = []
    artist_line: dict[int, int] = {}
    entity_line: dict[int, int] = {}
    for line, row in _item_link_rows(path, artists=artists):
        if row.artist_id in artist_line:
            raise _duplicate(path, line, f"artist id {row.artist_id}", artist_line[row.artist_id])
        if row.kgcn_entity in entity_line:
            raise _duplicate(path, line, f"entity id {row.kgcn_entity}", entity_line[row.kgcn_entity])
        artist_line[row.artist_id] = entity_line[row.kgcn_entity] = line
        links.append(row)
    return links


def read_listens(path: Path, *, artists: Container[int]) -> list[ListenRow]:
    """``user_artists.dat``: play counts; every artist must be known (the README checks that it is)."""
    return _unique_rows(path, _listen_rows(path, artists=artists), _listen_key, _listen_what)


def read_tag_assignments(path: Path, *, tags: Container[int]) -> list[TagAssignmentRow]:
    """``user_taggedartists.dat``; tags must be known, artists need not be.

    Why unknown artists are allowed: 1,538 rows of the original data point at artist ids missing from
    ``artists.dat`` (README section 2); :func:`lastfm_catalogue_select` skips and counts them.
    """
    return _unique_rows(path, _tag_assignment_rows(path, tags=tags), _tag_assignment_key, _tag_assignment_what)


def read_friendships(path: Path) -> list[FriendshipRow]:
    """``user_friends.dat``: directed pairs (each friendship is listed in both directions)."""
    return _unique_rows(path, _friendship_rows(path), _friendship_key, _friendship_what)


def read_kg_triples(path: Path) -> list[KgTripleRow]:
    """``kg.txt``: ``head<TAB>freebase.predicate<TAB>tail`` over anonymous integer entity ids."""
    return _unique_rows(path, _kg_triple_rows(path), _kg_triple_key, _kg_triple_what)


# --- the data set and its KGCN subset ---------------------------------------------------------------


@dataclass(frozen=True)
class LastfmDataset:
    """Every row of the seven files, parsed and validated (nothing filtered yet)."""

    artists: dict[int, ArtistRow]
    tags: dict[int, TagRow]
    item_links: list[ItemLinkRow]
    listens: list[ListenRow]
    tag_assignments: list[TagAssignmentRow]
    friendships: list[FriendshipRow]
    kg_triples: list[KgTripleRow]
    relation_types: dict[str, str]


def _lastfm_paths(data_dir: Path) -> LastfmPaths:
    """The seven files' paths below ``data_dir``; a missing directory or sub-folder is named."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        hint = "is a file, not a directory" if data_dir.exists() else "does not exist"
        raise _fail(
            data_dir,
            None,
            f"the data directory {hint}; pass --data-dir pointing at the folder that holds "
            f"{KGCN_DIR_NAME}/ and {HETREC_DIR_NAME}/ (or set LEITMOTIF_DATA_DIR).",
        )
    paths = LastfmPaths.in_data_dir(data_dir)
    for directory in {paths.artists.parent, paths.listens.parent}:
        if not directory.is_dir():
            raise _fail(
                directory, None, f"missing folder; {data_dir} should hold {KGCN_DIR_NAME}/ and {HETREC_DIR_NAME}/."
            )
    return paths


def lastfm_dataset_read(*, data_dir: Path, progress: bool = False) -> LastfmDataset:
    """Parse and validate all seven files into memory; raises :class:`DataFileError` at the first bad row.

    For tests, benchmarks and small data: :func:`lastfm_load` streams the files instead.
    """
    paths = _lastfm_paths(data_dir)

    with tqdm(total=7, desc="Last.FM: reading files", unit="file", disable=not progress) as bar:
        artists = read_artists(paths.artists)
        bar.update()
        tags = read_tags(paths.tags)
        bar.update()
        item_links = read_item_links(paths.item_links, artists=artists)
        bar.update()
        listens = read_listens(paths.listens, artists=artists)
        bar.update()
        tag_assignments = read_tag_assignments(paths.tag_assignments, tags=tags)
        bar.update()
        friendships = read_friendships(paths.friendships)
        bar.update()
        kg_triples = read_kg_triples(paths.kg_triples)
        bar.update()
    try:
        relation_types = freebase_relation_types(t.predicate for t in kg_triples)
    except InvalidGraphDataError as exc:
        raise _fail(paths.kg_triples, None, exc.message) from None
    return LastfmDataset(
        artists=artists,
        tags=tags,
        item_links=item_links,
        listens=listens,
        tag_assignments=tag_assignments,
        friendships=friendships,
        kg_triples=kg_triples,
        relation_types=relation_types,
    )


@dataclass(frozen=True)
class LinkedArtist:
    artist: ArtistRow
    #: The artist's integer id in the KGCN release, ``None`` for the artists KGCN does not cover.
    kgcn_entity: int | None


@dataclass(frozen=True)
class LastfmSelection:
    """A slice of the data set ready to write: the whole catalogue or the KGCN-linked subset."""

    artists: list[LinkedArtist]
    user_ids: list[int]
    listens: list[ListenRow]
    tags: list[TagRow]
    tag_assignments: list[TagAssignmentRow]
    friendships: list[FriendshipRow]
    #: (artist id, tag id) -> number of users (all users, not only the selection's) who applied the tag.
    tag_counts: dict[tuple[int, int], int]
    kg_triples: list[KgTripleRow]
    relation_types: dict[str, str]
    #: Tag-assignment rows left out because their artist id is not in ``artists.dat`` (1,538 in the data).
    skipped_tag_assignments: int = 0


#: The name the KGCN-only loader used; kept for the benchmarks that build the subset's graph records.
KgcnSubset = LastfmSelection


def _tag_counts(rows: list[TagAssignmentRow]) -> dict[tuple[int, int], int]:
    taggers: dict[tuple[int, int], set[int]] = defaultdict(set)
    for row in rows:
        taggers[(row.artist_id, row.tag_id)].add(row.user_id)
    return {key: len(who) for key, who in taggers.items()}


def kgcn_subset_select(*, dataset: LastfmDataset) -> LastfmSelection:
    """Keep what touches the KGCN items: the same filtering KGCN applies to the interactions.

    The catalogue holds more than this (:func:`lastfm_catalogue_select`); the subset is what the
    published KGCN numbers describe and what the offline protocols evaluate on.
    """
    artists = [LinkedArtist(dataset.artists[link.artist_id], link.kgcn_entity) for link in dataset.item_links]
    item_ids = {link.artist_id for link in dataset.item_links}
    listens = [row for row in dataset.listens if row.artist_id in item_ids]
    user_ids = sorted({row.user_id for row in listens})
    users = set(user_ids)
    tagged_items = [row for row in dataset.tag_assignments if row.artist_id in item_ids]
    tag_ids = sorted({row.tag_id for row in tagged_items})
    return LastfmSelection(
        artists=artists,
        user_ids=user_ids,
        listens=listens,
        tags=[dataset.tags[tag_id] for tag_id in tag_ids],
        tag_assignments=[row for row in tagged_items if row.user_id in users],
        friendships=[row for row in dataset.friendships if row.user_id in users and row.friend_id in users],
        tag_counts=_tag_counts(tagged_items),
        kg_triples=dataset.kg_triples,
        relation_types=dataset.relation_types,
    )


def lastfm_catalogue_select(*, dataset: LastfmDataset) -> LastfmSelection:
    """Everything the files hold: every artist (KGCN-linked or not), user, listen, tag and friendship.

    Only tag assignments on artist ids missing from ``artists.dat`` are left out (an assignment needs
    a catalog artist); they are counted in ``skipped_tag_assignments``. Users are everyone who
    listened, tagged or has a friendship row, so every friendship finds both of its listeners.
    """
    kgcn_of = {link.artist_id: link.kgcn_entity for link in dataset.item_links}
    artists = [LinkedArtist(row, kgcn_of.get(artist_id)) for artist_id, row in sorted(dataset.artists.items())]
    known = dataset.artists
    tag_assignments = [row for row in dataset.tag_assignments if row.artist_id in known]
    users = {row.user_id for row in dataset.listens}
    users.update(row.user_id for row in tag_assignments)
    users.update(n for row in dataset.friendships for n in (row.user_id, row.friend_id))
    return LastfmSelection(
        artists=artists,
        user_ids=sorted(users),
        listens=list(dataset.listens),
        tags=[row for _, row in sorted(dataset.tags.items())],
        tag_assignments=tag_assignments,
        friendships=list(dataset.friendships),
        tag_counts=_tag_counts(tag_assignments),
        kg_triples=dataset.kg_triples,
        relation_types=dataset.relation_types,
        skipped_tag_assignments=len(dataset.tag_assignments) - len(tag_assignments),
    )


# --- graph records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphRecords:
    entities: list[EntityRecord]
    relations: list[RelationRecord]


def _artist_properties(linked: LinkedArtist) -> dict[str, Any]:
    if linked.kgcn_entity is None:
        return {"lastfm_id": linked.artist.lastfm_id, "url": linked.artist.url}
    return {"lastfm_id": linked.artist.lastfm_id, "kgcn_entity": linked.kgcn_entity, "url": linked.artist.url}


def _artist_entity(linked: LinkedArtist) -> EntityRecord:
    return EntityRecord(
        id=artist_entity_id(linked.artist.lastfm_id),
        type=ARTIST_TYPE,
        name=linked.artist.name,
        properties=_artist_properties(linked),
    )


def _anonymous_entity(number: int, entity_type: str) -> EntityRecord:
    return EntityRecord(
        id=kgcn_entity_id(number),
        type=entity_type,
        name=f"{entity_type} {kgcn_entity_id(number)}",
        properties={"kgcn_entity": number, "named": False},
    )


def _tag_entity(tag: TagRow) -> EntityRecord:
    return EntityRecord(
        id=tag_entity_id(tag.lastfm_id), type=TAG_TYPE, name=tag.name, properties={"lastfm_id": tag.lastfm_id}
    )


def _kg_relation(head: str, tail: str, predicate: str, relation_types: Mapping[str, str]) -> RelationRecord:
    return RelationRecord(
        head=head,
        type=relation_types[predicate],
        tail=tail,
        source=KGCN_SOURCE,
        confidence=1.0,
        properties={"freebase_predicate": predicate},
    )


def _has_tag_relation(artist_id: int, tag_id: int, count: int) -> RelationRecord:
    return RelationRecord(
        head=artist_entity_id(artist_id),
        type=HAS_TAG,
        tail=tag_entity_id(tag_id),
        source=HETREC_SOURCE,
        confidence=1.0,
        properties={"count": count},
    )


def kgcn_graph_records(*, subset: LastfmSelection) -> GraphRecords:
    """Entities and relations for the selection's artists and tags, the KGCN graph and the HAS_TAG edges.

    Works on either selection: on the catalogue every artist gets an entity (``kgcn_entity`` only
    in the properties of the KGCN items) and every tagged artist its HAS_TAG edges. Holds every
    record in memory; :func:`lastfm_load` builds the same records chunk by chunk.
    """
    graph_id = {
        linked.kgcn_entity: artist_entity_id(linked.artist.lastfm_id)
        for linked in subset.artists
        if linked.kgcn_entity is not None
    }
    entities = [_artist_entity(linked) for linked in subset.artists]

    incoming: dict[int, list[str]] = defaultdict(list)
    anonymous: set[int] = set()
    for triple in subset.kg_triples:
        incoming[triple.tail].append(triple.predicate)
        anonymous.update(n for n in (triple.head, triple.tail) if n not in graph_id)
    for number in sorted(anonymous):
        entity_type = infer_tail_entity_type(incoming.get(number, ()))
        graph_id[number] = kgcn_entity_id(number)
        entities.append(_anonymous_entity(number, entity_type))
    entities.extend(_tag_entity(tag) for tag in subset.tags)

    relations = [
        _kg_relation(graph_id[triple.head], graph_id[triple.tail], triple.predicate, subset.relation_types)
        for triple in subset.kg_triples
    ]
    relations.extend(
        _has_tag_relation(artist_id, tag_id, count) for (artist_id, tag_id), count in sorted(subset.tag_counts.items())
    )
    return GraphRecords(entities=entities, relations=relations)


#: The same builder under the name that says what it builds now (the whole catalogue's graph).
lastfm_graph_records = kgcn_graph_records


# --- catalog writes -----------------------------------------------------------------------------

#: Rows per catalog write batch: one existence lookup, one ``bulk_create`` and at most one ``bulk_update``.
#: Memory per batch is a few tens of MB whatever the file size (see ``lastfm_load``).
CATALOG_BATCH_SIZE = 20_000
#: Values per ``__in`` lookup (SQLite caps the parameters of one statement).
_IN_CHUNK = 500

_T = TypeVar("_T")


def _batches(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _forget_debug_queries() -> None:
    """Clear Django's log of executed SQL (kept only with ``DEBUG`` on), unless something is capturing it.

    Why: with ``DEBUG`` on, Django keeps the last 9,000 statements, and a bulk write's statements carry
    whole batches of values (tens of KB each), so the log alone grew a 64x load by a few hundred MB.
    A test that captures queries (``CaptureQueriesContext`` sets ``force_debug_cursor``) keeps its log.
    """
    connection = transaction.get_connection()
    if not connection.force_debug_cursor:
        reset_queries()


def _catalog_sync(
    *,
    queryset: models.QuerySet,
    key_fields: tuple[str, ...],
    value_fields: tuple[str, ...],
    batches: Iterable[Mapping[tuple, tuple]],
    now: dt.datetime,
) -> UpsertResult:
    """Compare-and-write each batch of ``desired`` rows (natural key -> values) into ``queryset.model``.

    Per batch: the existing rows are looked up by the key's first field (the listener for listens,
    tag assignments and friendships, whose files are grouped by user), then new rows are created and
    changed ones updated. Why not ``bulk_create(update_conflicts=True)``: it rewrites ``updated_at`` on
    every row and cannot tell updated from unchanged, so a re-run would look like it changed
    everything. Rows that exist but are not desired are left alone (learners and other sources share
    these tables). Why per batch rather than one read of the table: that read held the whole table in
    memory on a re-run.
    """
    model = queryset.model
    width = len(key_fields)
    lookup = f"{key_fields[0]}__in"
    insert = _RowInsert(model, (*key_fields, *value_fields), now=now)
    total = UpsertResult()
    for desired in batches:
        firsts = sorted({key[0] for key in desired})
        existing: dict[tuple, tuple[Any, tuple]] = {}
        for start in range(0, len(firsts), _IN_CHUNK):
            rows = queryset.filter(**{lookup: firsts[start : start + _IN_CHUNK]}).values_list(
                "pk", *key_fields, *value_fields
            )
            for row in rows:
                key = tuple(row[1 : 1 + width])
                if key in desired:
                    existing[key] = (row[0], tuple(row[1 + width :]))
        to_create: list[tuple] = []
        to_update: list[models.Model] = []
        unchanged = 0
        for key, values in desired.items():
            found = existing.get(key)
            if found is None:
                to_create.append((*key, *values))
            elif found[1] != tuple(values):
                to_update.append(model(pk=found[0], updated_at=now, **dict(zip(value_fields, values))))
            else:
                unchanged += 1
        if to_create:
            insert.rows(to_create)
        if to_update:
            model.objects.bulk_update(to_update, [*value_fields, "updated_at"], batch_size=_CATALOG_INSERT_BATCH)
        total += UpsertResult(created=len(to_create), updated=len(to_update), unchanged=unchanged)
        _forget_debug_queries()
    return total


#: Rows per UPDATE statement inside a batch (``bulk_update`` builds one CASE per column).
_CATALOG_INSERT_BATCH = 2_000


class _RowInsert:
    """``INSERT`` of new catalog rows: one ``executemany`` per batch of plain tuples, no model instances.

    Why not ``bulk_create``: building a model instance per row and preparing every field of it took
    80 % of the catalog write (about 60 µs a row, most of the 16x load's catalog time), against 7 % for
    SQL. Columns the loader does not give get what ``bulk_create`` would store: ``created_at`` and
    ``updated_at`` the load's time, every other field its default (e.g. ``Listener.user`` NULL).
    Values go through the field's ``get_db_prep_save`` only for date and time columns; the others are
    integers and strings the database driver takes as they are.
    """

    def __init__(self, model: type[models.Model], columns: tuple[str, ...], *, now: dt.datetime) -> None:
        self.connection = connection = transaction.get_connection()
        fields = {f.attname: f for f in model._meta.concrete_fields}
        given = [fields[name] for name in columns]
        self.adapters: list[models.Field | None] = [f if isinstance(f, models.DateField) else None for f in given]
        constant_fields: list[models.Field] = []
        constants: list[Any] = []
        for f in model._meta.concrete_fields:
            if f.primary_key or f.attname in columns:
                continue
            value = now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
            constant_fields.append(f)
            constants.append(f.get_db_prep_save(value, connection))
        self.constants = tuple(constants)
        quote = connection.ops.quote_name
        names = ", ".join(quote(f.column) for f in [*given, *constant_fields])
        marks = ", ".join(["%s"] * (len(given) + len(constant_fields)))
        self.sql = f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES ({marks})"

    def rows(self, rows: list[tuple]) -> None:
        constants, connection = self.constants, self.connection
        if any(self.adapters):
            params = [
                (
                    *(v if f is None else f.get_db_prep_save(v, connection) for f, v in zip(self.adapters, row)),
                    *constants,
                )
                for row in rows
            ]
        else:
            params = [(*row, *constants) for row in rows]
        with connection.cursor() as cursor:
            cursor.executemany(self.sql, params)


def _catalog_write(
    *,
    artists: Iterable[LinkedArtist],
    user_ids: Iterable[int],
    tags: Iterable[TagRow],
    listens: Iterable[ListenRow],
    tag_assignments: Iterable[TagAssignmentRow],
    friendships: Iterable[FriendshipRow],
    batch_size: int,
    progress: bool,
    on_batch: Callable[[str, int], None] | None = None,
) -> dict[str, UpsertResult]:
    """Write the rows into the catalog in one transaction, ``batch_size`` rows at a time.

    The arguments may be generators (re-reading the files): only one batch of rows is held at a time.
    Listeners, artists and tags first, so the rows that point at them find their primary keys.
    """
    now = timezone.now()
    results: dict[str, UpsertResult] = {}

    def counted(name: str, batches: Iterable[dict]) -> Iterator[dict]:
        done = 0
        for batch in batches:
            yield batch
            done += len(batch)
            if on_batch is not None:
                on_batch(name, done)

    with transaction.atomic(), tqdm(total=6, desc="Last.FM: catalog", unit="table", disable=not progress) as bar:
        results["artists"] = _catalog_sync(
            queryset=Artist.objects.all(),
            key_fields=("lastfm_id",),
            value_fields=("name", "url", "picture_url", "entity_id", "kgcn_entity"),
            batches=counted(
                "artists",
                (
                    {
                        (a.artist.lastfm_id,): (
                            a.artist.name,
                            a.artist.url,
                            a.artist.picture_url,
                            artist_entity_id(a.artist.lastfm_id),
                            a.kgcn_entity,
                        )
                        for a in chunk
                    }
                    for chunk in _batches(artists, batch_size)
                ),
            ),
            now=now,
        )
        bar.update()
        results["listeners"] = _catalog_sync(
            queryset=Listener.objects.filter(lastfm_id__isnull=False),
            key_fields=("lastfm_id",),
            value_fields=(),
            batches=counted(
                "listeners", ({(user_id,): () for user_id in chunk} for chunk in _batches(user_ids, batch_size))
            ),
            now=now,
        )
        bar.update()
        results["tags"] = _catalog_sync(
            queryset=Tag.objects.all(),
            key_fields=("lastfm_id",),
            value_fields=("name", "entity_id"),
            batches=counted(
                "tags",
                (
                    {(t.lastfm_id,): (t.name, tag_entity_id(t.lastfm_id)) for t in chunk}
                    for chunk in _batches(tags, batch_size)
                ),
            ),
            now=now,
        )
        bar.update()

        # One id -> pk map per table (one entry per artist, listener and tag, not per row).
        artist_pk = dict(Artist.objects.filter(lastfm_id__isnull=False).values_list("lastfm_id", "pk"))
        listener_pk = dict(Listener.objects.filter(lastfm_id__isnull=False).values_list("lastfm_id", "pk"))
        tag_pk = dict(Tag.objects.values_list("lastfm_id", "pk"))

        results["listens"] = _catalog_sync(
            queryset=Listen.objects.all(),
            key_fields=("listener_id", "artist_id"),
            value_fields=("play_count",),
            batches=counted(
                "listens",
                (
                    {(listener_pk[r.user_id], artist_pk[r.artist_id]): (r.play_count,) for r in chunk}
                    for chunk in _batches(listens, batch_size)
                ),
            ),
            now=now,
        )
        bar.update()
        results["tag_assignments"] = _catalog_sync(
            queryset=TagAssignment.objects.all(),
            key_fields=("listener_id", "artist_id", "tag_id"),
            value_fields=("tagged_on",),
            batches=counted(
                "tag_assignments",
                (
                    {(listener_pk[r.user_id], artist_pk[r.artist_id], tag_pk[r.tag_id]): (r.tagged_on,) for r in chunk}
                    for chunk in _batches(tag_assignments, batch_size)
                ),
            ),
            now=now,
        )
        bar.update()
        results["friendships"] = _catalog_sync(
            queryset=Friendship.objects.all(),
            key_fields=("listener_id", "friend_id"),
            value_fields=(),
            batches=counted(
                "friendships",
                (
                    {(listener_pk[r.user_id], listener_pk[r.friend_id]): () for r in chunk}
                    for chunk in _batches(friendships, batch_size)
                ),
            ),
            now=now,
        )
        bar.update()
        refresh_planner_statistics(Artist, Listener, Tag, Listen, TagAssignment, Friendship)
    return results


def lastfm_catalog_write(
    *, subset: LastfmSelection, progress: bool = False, batch_size: int = CATALOG_BATCH_SIZE
) -> dict[str, UpsertResult]:
    """Write an in-memory selection into the catalog in one transaction: all of it, or (on any error) none of it."""
    return _catalog_write(
        artists=subset.artists,
        user_ids=subset.user_ids,
        tags=subset.tags,
        listens=subset.listens,
        tag_assignments=subset.tag_assignments,
        friendships=subset.friendships,
        batch_size=batch_size,
        progress=progress,
    )


# --- the streaming pass: validate everything, keep ids and aggregates, never the rows ----------------


class _UniqueKeys:
    """Finds a repeated key in a stream of rows while keeping 8 bytes a row (a hash), not the key.

    Why hashes: holding every key with its first line (as the ``read_*`` functions do) costs about
    150 bytes a row, 400 MB for the 2.9 million tag assignments of the 64x growth-curve data. Only
    when two hashes meet is the file read again to compare the real keys, so the error still names
    the duplicate's line and the line it repeats (two different keys with one hash are not an error).
    """

    def __init__(self) -> None:
        self._hashes = array("q")

    def add(self, key: tuple) -> None:
        self._hashes.append(hash(key))

    def check(
        self,
        path: Path,
        rows: Callable[[], Iterable[tuple[int, Any]]],
        key: Callable[[Any], tuple],
        what: Callable[[tuple], str],
    ) -> None:
        """Raise at the first row whose key an earlier row of ``rows()`` already had; then forget the hashes."""
        hashes = np.sort(np.frombuffer(self._hashes, dtype=np.int64)) if self._hashes else np.empty(0, np.int64)
        self._hashes = array("q")
        clashes = hashes[1:][hashes[1:] == hashes[:-1]]
        del hashes
        if not clashes.size:
            return
        suspects = set(clashes.tolist())
        first_line: dict[tuple, int] = {}
        for line, row in rows():
            k = key(row)
            if hash(k) in suspects:
                if k in first_line:
                    raise _duplicate(path, line, what(k), first_line[k])
                first_line[k] = line


@dataclass(frozen=True)
class LastfmScan:
    """What the validation pass keeps of the seven files: ids, counts and aggregates, not the rows.

    Memory: a set entry per artist, tag and user, a dict entry per KGCN item, 16 bytes per distinct
    (artist, tag) pair and per anonymous KGCN entity. The row files (listens, tag assignments,
    friendships, triples) are read again by the write pass.
    """

    paths: LastfmPaths
    artist_ids: frozenset[int]
    tag_ids: frozenset[int]
    #: artist id -> its KGCN entity number, for the KGCN items.
    kgcn_of: dict[int, int]
    #: Every user who listened, tagged a known artist or has a friendship row, sorted.
    user_ids: list[int]
    #: (artist id << 32 | tag id) of every tagged known artist, sorted, and how many users applied the tag.
    tag_pairs: np.ndarray
    tag_pair_counts: np.ndarray
    relation_types: dict[str, str]
    #: KGCN entity numbers that are not items, sorted, with the type inferred from incoming predicates.
    anonymous: np.ndarray
    anonymous_types: list[str]
    counts: LastfmCounts
    kgcn: LastfmCounts

    def artists(self) -> Iterator[LinkedArtist]:
        for _, row in _artist_rows(self.paths.artists):
            yield LinkedArtist(row, self.kgcn_of.get(row.lastfm_id))

    def tags(self) -> Iterator[TagRow]:
        return (row for _, row in _tag_rows(self.paths.tags))

    def listens(self) -> Iterator[ListenRow]:
        return (row for _, row in _listen_rows(self.paths.listens, artists=self.artist_ids))

    def tag_assignments(self) -> Iterator[TagAssignmentRow]:
        """Assignments on known artists (the ones on artist ids missing from ``artists.dat`` are skipped)."""
        known = self.artist_ids
        return (
            row
            for _, row in _tag_assignment_rows(self.paths.tag_assignments, tags=self.tag_ids)
            if row.artist_id in known
        )

    def friendships(self) -> Iterator[FriendshipRow]:
        return (row for _, row in _friendship_rows(self.paths.friendships))

    def graph_entities(self) -> Iterator[EntityRecord]:
        """The records :func:`kgcn_graph_records` makes for the catalogue, one at a time (file order)."""
        yield from (_artist_entity(linked) for linked in self.artists())
        for number, entity_type in zip(self.anonymous.tolist(), self.anonymous_types):
            yield _anonymous_entity(number, entity_type)
        yield from (_tag_entity(tag) for tag in self.tags())

    def graph_relations(self) -> Iterator[RelationRecord]:
        artist_of = {entity: artist_id for artist_id, entity in self.kgcn_of.items()}

        def graph_id(number: int) -> str:
            artist_id = artist_of.get(number)
            return kgcn_entity_id(number) if artist_id is None else artist_entity_id(artist_id)

        for _, triple in _kg_triple_rows(self.paths.kg_triples):
            yield _kg_relation(graph_id(triple.head), graph_id(triple.tail), triple.predicate, self.relation_types)
        for pair, count in zip(self.tag_pairs.tolist(), self.tag_pair_counts.tolist()):
            yield _has_tag_relation(pair >> 32, pair & 0xFFFFFFFF, count)


def _anonymous_types(
    heads: np.ndarray, tails: np.ndarray, predicates: np.ndarray, names: list[str], items: np.ndarray
) -> tuple[np.ndarray, list[str], int]:
    """The anonymous entity numbers (sorted), their types from incoming predicates, and the KGCN entity count."""
    numbers = np.unique(np.concatenate([heads, tails]))
    anonymous = np.setdiff1d(numbers, items, assume_unique=True)
    kgcn_entities = len(np.union1d(numbers, items))
    order = np.argsort(tails, kind="stable")
    sorted_tails, sorted_predicates = tails[order], predicates[order]
    starts = np.searchsorted(sorted_tails, anonymous, side="left").tolist()
    ends = np.searchsorted(sorted_tails, anonymous, side="right").tolist()
    types: list[str] = []
    memo: dict[tuple[int, ...], str] = {}
    for start, end in zip(starts, ends):
        incoming = tuple(sorted(sorted_predicates[start:end].tolist()))
        entity_type = memo.get(incoming)
        if entity_type is None:
            entity_type = memo[incoming] = infer_tail_entity_type(names[i] for i in incoming)
        types.append(entity_type)
    return anonymous, types, kgcn_entities


def lastfm_scan(*, data_dir: Path, progress: bool = False) -> LastfmScan:
    """Parse and validate all seven files, row by row, keeping only what :class:`LastfmScan` holds.

    Same checks and messages as :func:`lastfm_dataset_read` (a duplicate is reported when its file has
    been read to the end); also builds and validates the graph record of every artist and tag, and
    one of every other kind (those are made from validated numbers and predicate names only).
    """
    paths = _lastfm_paths(data_dir)
    with tqdm(total=7, desc="Last.FM: checking files", unit="file", disable=not progress) as bar:
        first_line: dict[int, int] = {}
        for line, artist in _artist_rows(paths.artists):
            if artist.lastfm_id in first_line:
                raise _duplicate(paths.artists, line, f"artist id {artist.lastfm_id}", first_line[artist.lastfm_id])
            first_line[artist.lastfm_id] = line
            _checked(paths.artists, line, _artist_entity(LinkedArtist(artist, 0)))
        artist_ids = frozenset(first_line)
        bar.update()
        first_line = {}
        for line, tag in _tag_rows(paths.tags):
            if tag.lastfm_id in first_line:
                raise _duplicate(paths.tags, line, f"tag id {tag.lastfm_id}", first_line[tag.lastfm_id])
            first_line[tag.lastfm_id] = line
            _checked(paths.tags, line, _tag_entity(tag))
        tag_ids = frozenset(first_line)
        del first_line
        bar.update()
        kgcn_of = {link.artist_id: link.kgcn_entity for link in read_item_links(paths.item_links, artists=artist_ids)}
        bar.update()

        unique = _UniqueKeys()
        users: set[int] = set()
        kgcn_users: set[int] = set()
        listens = kgcn_listens = 0
        for _, listen in _listen_rows(paths.listens, artists=artist_ids):
            unique.add((listen.user_id, listen.artist_id))
            listens += 1
            users.add(listen.user_id)
            if listen.artist_id in kgcn_of:
                kgcn_listens += 1
                kgcn_users.add(listen.user_id)
        unique.check(paths.listens, lambda: _listen_rows(paths.listens, artists=artist_ids), _listen_key, _listen_what)
        bar.update()

        pairs = array("q")
        assignments = skipped = kgcn_assignments = 0
        for _, assignment in _tag_assignment_rows(paths.tag_assignments, tags=tag_ids):
            unique.add((assignment.user_id, assignment.artist_id, assignment.tag_id))
            if assignment.artist_id not in artist_ids:
                skipped += 1
                continue
            assignments += 1
            users.add(assignment.user_id)
            pairs.append(assignment.artist_id << 32 | assignment.tag_id)
            if assignment.artist_id in kgcn_of and assignment.user_id in kgcn_users:
                kgcn_assignments += 1
        unique.check(
            paths.tag_assignments,
            lambda: _tag_assignment_rows(paths.tag_assignments, tags=tag_ids),
            _tag_assignment_key,
            _tag_assignment_what,
        )
        # The (user, artist, tag) rows are unique, so rows per (artist, tag) = users who applied the tag.
        tag_pairs, tag_pair_counts = np.unique(np.frombuffer(pairs, dtype=np.int64), return_counts=True)
        del pairs
        bar.update()

        friendships = kgcn_friendships = 0
        for _, friendship in _friendship_rows(paths.friendships):
            unique.add((friendship.user_id, friendship.friend_id))
            friendships += 1
            users.add(friendship.user_id)
            users.add(friendship.friend_id)
            if friendship.user_id in kgcn_users and friendship.friend_id in kgcn_users:
                kgcn_friendships += 1
        unique.check(paths.friendships, lambda: _friendship_rows(paths.friendships), _friendship_key, _friendship_what)
        bar.update()

        predicate_index: dict[str, int] = {}
        heads, tails, predicates = array("q"), array("q"), array("l")
        for _, triple in _kg_triple_rows(paths.kg_triples):
            unique.add((triple.head, triple.predicate, triple.tail))
            heads.append(triple.head)
            tails.append(triple.tail)
            predicates.append(predicate_index.setdefault(triple.predicate, len(predicate_index)))
        unique.check(paths.kg_triples, lambda: _kg_triple_rows(paths.kg_triples), _kg_triple_key, _kg_triple_what)
        kg_triples = len(heads)
        bar.update()
    try:
        relation_types = freebase_relation_types(predicate_index)
    except InvalidGraphDataError as exc:
        raise _fail(paths.kg_triples, None, exc.message) from None
    names = list(predicate_index)
    anonymous, anonymous_types, kgcn_entities = _anonymous_types(
        np.frombuffer(heads, dtype=np.int64),
        np.frombuffer(tails, dtype=np.int64),
        np.array(predicates, dtype=np.int64),
        names,
        np.unique(np.fromiter(kgcn_of.values(), dtype=np.int64, count=len(kgcn_of))),
    )
    del heads, tails, predicates
    for entity_type in sorted(set(anonymous_types)):
        _checked(paths.kg_triples, None, _anonymous_entity(0, entity_type))
    for predicate in names:
        _checked(paths.kg_triples, None, _kg_relation("a", "b", predicate, relation_types))
    _checked(paths.tag_assignments, None, _has_tag_relation(1, 1, 1))

    item_ids = np.unique(np.fromiter(kgcn_of, dtype=np.int64, count=len(kgcn_of)))
    on_items = np.isin(tag_pairs >> 32, item_ids)
    by_type = Counter({ARTIST_TYPE: len(artist_ids)})
    by_type.update(anonymous_types)
    by_type[TAG_TYPE] += len(tag_ids)
    relation_type_count = len(set(relation_types.values()))
    counts = LastfmCounts(
        users=len(users),
        artists=len(artist_ids),
        listens=listens,
        tags=len(tag_ids),
        tag_assignments=assignments,
        friendships=friendships,
        kgcn_entities=kgcn_entities,
        kgcn_triples=kg_triples,
        kgcn_relation_types=relation_type_count,
        tag_relations=len(tag_pairs),
        entities_by_type=dict(sorted(by_type.items())),
        skipped_tag_assignments=skipped,
    )
    kgcn = LastfmCounts(
        users=len(kgcn_users),
        artists=len(kgcn_of),
        listens=kgcn_listens,
        tags=len(np.unique(tag_pairs[on_items] & 0xFFFFFFFF)),
        tag_assignments=kgcn_assignments,
        friendships=kgcn_friendships,
        kgcn_entities=kgcn_entities,
        kgcn_triples=kg_triples,
        kgcn_relation_types=relation_type_count,
        tag_relations=int(on_items.sum()),
    )
    return LastfmScan(
        paths=paths,
        artist_ids=artist_ids,
        tag_ids=tag_ids,
        kgcn_of=kgcn_of,
        user_ids=sorted(users),
        tag_pairs=tag_pairs,
        tag_pair_counts=tag_pair_counts,
        relation_types=relation_types,
        anonymous=anonymous,
        anonymous_types=anonymous_types,
        counts=counts,
        kgcn=kgcn,
    )


def _checked(path: Path, line: int | None, record: EntityRecord | RelationRecord) -> None:
    """Validate a graph record made from a data row; a failure names the row's file and line."""
    try:
        record.validate()
    except InvalidGraphDataError as exc:
        raise _fail(path, line, exc.message) from None


# --- the service ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LastfmCounts:
    """What the load holds (from the data, whether or not it was already stored)."""

    users: int
    artists: int
    listens: int
    tags: int
    tag_assignments: int
    friendships: int
    kgcn_entities: int
    kgcn_triples: int
    kgcn_relation_types: int
    tag_relations: int
    #: Graph entities per type that the load writes (empty for the KGCN subset's counts, which write nothing).
    entities_by_type: dict[str, int] = field(default_factory=dict)
    #: Tag-assignment rows whose artist id is not in ``artists.dat`` (skipped; 1,538 in the real data).
    skipped_tag_assignments: int = 0


def lastfm_counts(*, selection: LastfmSelection, records: GraphRecords | None = None) -> LastfmCounts:
    """What ``selection`` holds; with ``records``, also the graph entities per type."""
    kgcn_entities = {a.kgcn_entity for a in selection.artists if a.kgcn_entity is not None}
    kgcn_entities.update(n for t in selection.kg_triples for n in (t.head, t.tail))
    return LastfmCounts(
        users=len(selection.user_ids),
        artists=len(selection.artists),
        listens=len(selection.listens),
        tags=len(selection.tags),
        tag_assignments=len(selection.tag_assignments),
        friendships=len(selection.friendships),
        kgcn_entities=len(kgcn_entities),
        kgcn_triples=len(selection.kg_triples),
        kgcn_relation_types=len(set(selection.relation_types.values())),
        tag_relations=len(selection.tag_counts),
        entities_by_type=dict(sorted(Counter(e.type for e in records.entities).items())) if records else {},
        skipped_tag_assignments=selection.skipped_tag_assignments,
    )


@dataclass(frozen=True)
class LastfmLoadReport:
    #: The whole catalogue the load wrote (every HetRec artist, user, listen, tag, friendship).
    counts: LastfmCounts
    catalog: dict[str, UpsertResult]
    graph: GraphUpsertReport
    backend: str
    #: The KGCN-linked subset inside it (``Artist.kgcn_entity`` set): the offline protocols' population.
    kgcn: LastfmCounts
    expected: Mapping[str, int] = field(default_factory=lambda: dict(KGCN_PUBLISHED_COUNTS))
    #: Wall seconds of each phase: ``scan`` (parse and validate), ``catalog``, ``graph_entities``, ``graph_relations``.
    timings: dict[str, float] = field(default_factory=dict)

    def kgcn_comparison(self) -> list[tuple[str, int, int]]:
        """``(name, in the KGCN subset, published)`` for each number KGCN published."""
        return [(name, getattr(self.kgcn, name), expected) for name, expected in self.expected.items()]

    @property
    def matches_kgcn(self) -> bool:
        return all(loaded == expected for _, loaded, expected in self.kgcn_comparison())

    @property
    def created(self) -> int:
        return (
            sum(r.created for r in self.catalog.values()) + self.graph.entities.created + self.graph.relations.created
        )

    @property
    def updated(self) -> int:
        return (
            sum(r.updated for r in self.catalog.values()) + self.graph.entities.updated + self.graph.relations.updated
        )


#: Graph records per :func:`kg.services.graph_upsert` call (each call writes atomic batches of ``batch_size``).
GRAPH_CHUNK_SIZE = 50_000

#: ``on_progress`` receives ``(phase, rows done in that phase)``: phases are the catalog tables,
#: ``graph_entities`` and ``graph_relations``.
ProgressCallback = Callable[[str, int], None]


def _graph_write(
    *,
    scan: LastfmScan,
    store: KnowledgeGraphStore,
    batch_size: int,
    progress: bool,
    on_progress: ProgressCallback | None,
    timings: dict[str, float],
) -> GraphUpsertReport:
    entities, relations = UpsertResult(), UpsertResult()
    total = sum(scan.counts.entities_by_type.values()) + scan.counts.kgcn_triples + scan.counts.tag_relations
    with tqdm(total=total, desc="Last.FM: graph", unit="rec", disable=not progress) as bar:
        started, done = time.perf_counter(), 0
        for entity_chunk in _batches(scan.graph_entities(), GRAPH_CHUNK_SIZE):
            entities += graph_upsert(store=store, entities=entity_chunk, batch_size=batch_size).entities
            _forget_debug_queries()
            done += len(entity_chunk)
            bar.update(len(entity_chunk))
            if on_progress is not None:
                on_progress("graph_entities", done)
        timings["graph_entities"] = round(time.perf_counter() - started, 2)
        started, done = time.perf_counter(), 0
        for relation_chunk in _batches(scan.graph_relations(), GRAPH_CHUNK_SIZE):
            relations += graph_upsert(store=store, relations=relation_chunk, batch_size=batch_size).relations
            _forget_debug_queries()
            done += len(relation_chunk)
            bar.update(len(relation_chunk))
            if on_progress is not None:
                on_progress("graph_relations", done)
        timings["graph_relations"] = round(time.perf_counter() - started, 2)
    return GraphUpsertReport(entities=entities, relations=relations)


def lastfm_load(
    *,
    data_dir: Path,
    store: KnowledgeGraphStore,
    progress: bool = True,
    batch_size: int = GRAPH_BATCH_SIZE,
    catalog_batch_size: int = CATALOG_BATCH_SIZE,
    on_progress: ProgressCallback | None = None,
) -> LastfmLoadReport:
    """Validate every file, then write the whole catalogue to the catalog and to ``store``, streaming.

    Order and why: a first pass parses and validates every row of every file and every kind of graph
    record (:func:`lastfm_scan`, which keeps ids and aggregates, not rows); then the store is pinged
    (so a down Neo4j fails before the catalog changes); then a second pass reads the files again and
    writes the catalog ``catalog_batch_size`` rows at a time inside one transaction (all of it or, on
    any error, none of it), and finally the graph in chunks of idempotent ``batch_size`` batches. If
    the graph write is interrupted, running the load again completes it; nothing is duplicated.

    Memory stays bounded by the batch sizes and the number of artists, tags and users, whatever the
    number of rows. The report also counts the KGCN-linked subset, the population the offline
    protocols evaluate on, against the published KGCN numbers.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    scan = lastfm_scan(data_dir=data_dir, progress=progress)
    timings["scan"] = round(time.perf_counter() - started, 2)
    store.ping()

    started = time.perf_counter()
    try:
        catalog = _catalog_write(
            artists=scan.artists(),
            user_ids=scan.user_ids,
            tags=scan.tags(),
            listens=scan.listens(),
            tag_assignments=scan.tag_assignments(),
            friendships=scan.friendships(),
            batch_size=catalog_batch_size,
            progress=progress,
            on_batch=on_progress,
        )
    except IntegrityError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(
            Path(data_dir),
            None,
            f"the data conflicts with rows already in the catalog ({reason}), e.g. another artist already holds "
            "one of these KGCN entity ids; nothing was written. Fix or remove the conflicting catalog rows.",
        ) from None
    timings["catalog"] = round(time.perf_counter() - started, 2)
    graph = _graph_write(
        scan=scan, store=store, batch_size=batch_size, progress=progress, on_progress=on_progress, timings=timings
    )
    from kg.models import Entity, EntityAlias, Relation

    refresh_planner_statistics(Entity, EntityAlias, Relation)  # the embedded store's tables, when it is the one written
    return LastfmLoadReport(
        counts=scan.counts,
        catalog=catalog,
        graph=graph,
        backend=getattr(store, "registry_name", type(store).__name__),
        kgcn=scan.kgcn,
        timings=timings,
    )
