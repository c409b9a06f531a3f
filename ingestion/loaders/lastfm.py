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

Why validation comes first: the files are small, so every row of every file is parsed and checked
before anything is written. A bad row raises :class:`~core.errors.DataFileError` naming the
file and the 1-based line, and neither the catalog nor the graph has been touched. The catalog is then
written in one transaction and the graph through :func:`kg.services.graph_upsert` (idempotent batches),
both by compare-and-write, so a second run reports nothing created and nothing updated.

Why the anonymous entities get names such as ``"Genre kgcn:4521"``: the KGCN release has no labels for
its non-item entities. The name says what we know (the kind, inferred from the predicate pointing at
it) and ``properties["named"] = False`` lets the UI and the explainer tell them from real names.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import IntegrityError, models, transaction
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

_CATALOG_BATCH_SIZE = 2_000
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


def _integer(text: str, *, column: str, path: Path, line: int, negative_wording: str | None = None) -> int:
    """A non-negative decimal integer; ``negative_wording`` names the value in the "negative" error."""
    if text.isdigit() and text.isascii():  # the common case, 1.5 million times on the real data
        return int(text)
    body = text[1:] if text.startswith("-") else text
    if not body or not body.isascii() or not body.isdigit():
        raise _fail(path, line, f"column {column!r} must be an integer, found {text!r}.")
    value = int(text)
    if value < 0:
        what = negative_wording or f"column {column!r}"
        raise _fail(path, line, f"{what} must not be negative, found {value}.")
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


def read_artists(path: Path) -> dict[int, ArtistRow]:
    """``artists.dat``: every HetRec artist with its real name and Last.FM urls, by artist id."""
    artists: dict[int, ArtistRow] = {}
    first_line: dict[int, int] = {}
    for line, (raw_id, name, url, picture) in _tab_rows(path, columns=("id", "name", "url", "pictureURL"), header=True):
        lastfm_id = _integer(raw_id, column="id", path=path, line=line)
        if lastfm_id in artists:
            raise _duplicate(path, line, f"artist id {lastfm_id}", first_line[lastfm_id])
        artists[lastfm_id] = ArtistRow(
            lastfm_id=lastfm_id,
            name=_text(name, column="name", path=path, line=line, max_length=MAX_NAME_LENGTH, required=True),
            url=_text(url, column="url", path=path, line=line, max_length=MAX_URL_LENGTH, required=False),
            picture_url=_text(
                picture, column="pictureURL", path=path, line=line, max_length=MAX_URL_LENGTH, required=False
            ),
        )
        first_line[lastfm_id] = line
    return artists


def read_tags(path: Path) -> dict[int, TagRow]:
    """``tags.dat``: tag id -> tag text."""
    tags: dict[int, TagRow] = {}
    first_line: dict[int, int] = {}
    for line, (raw_id, value) in _tab_rows(path, columns=("tagID", "tagValue"), header=True):
        lastfm_id = _integer(raw_id, column="tagID", path=path, line=line)
        if lastfm_id in tags:
            raise _duplicate(path, line, f"tag id {lastfm_id}", first_line[lastfm_id])
        tags[lastfm_id] = TagRow(
            lastfm_id=lastfm_id,
            name=_text(value, column="tagValue", path=path, line=line, max_length=MAX_NAME_LENGTH, required=True),
        )
        first_line[lastfm_id] = line
    return tags


def read_item_links(path: Path, *, artists: Mapping[int, ArtistRow]) -> list[ItemLinkRow]:
    """``item_index2entity_id.txt``: which artists are KGCN items; each must be a known artist."""
    links: list[ItemLinkRow] = []
    artist_line: dict[int, int] = {}
    entity_line: dict[int, int] = {}
    for line, (raw_artist, raw_entity) in _tab_rows(path, columns=("artistID", "entity_id"), header=False):
        artist_id = _integer(raw_artist, column="artistID", path=path, line=line)
        kgcn_entity = _integer(raw_entity, column="entity_id", path=path, line=line)
        if artist_id not in artists:
            raise _fail(path, line, f"artist id {artist_id} is not in {HETREC_DIR_NAME}/artists.dat.")
        if artist_id in artist_line:
            raise _duplicate(path, line, f"artist id {artist_id}", artist_line[artist_id])
        if kgcn_entity in entity_line:
            raise _duplicate(path, line, f"entity id {kgcn_entity}", entity_line[kgcn_entity])
        artist_line[artist_id] = entity_line[kgcn_entity] = line
        links.append(ItemLinkRow(artist_id=artist_id, kgcn_entity=kgcn_entity))
    return links


def read_listens(path: Path, *, artists: Mapping[int, ArtistRow]) -> list[ListenRow]:
    """``user_artists.dat``: play counts; every artist must be known (the README checks that it is)."""
    listens: list[ListenRow] = []
    first_line: dict[tuple[int, int], int] = {}
    for line, (raw_user, raw_artist, raw_weight) in _tab_rows(
        path, columns=("userID", "artistID", "weight"), header=True
    ):
        user_id = _integer(raw_user, column="userID", path=path, line=line)
        artist_id = _integer(raw_artist, column="artistID", path=path, line=line)
        play_count = _integer(raw_weight, column="weight", path=path, line=line, negative_wording="play count (weight)")
        if artist_id not in artists:
            raise _fail(path, line, f"artist id {artist_id} is not in {HETREC_DIR_NAME}/artists.dat.")
        key = (user_id, artist_id)
        if key in first_line:
            raise _duplicate(path, line, f"(user {user_id}, artist {artist_id}) pair", first_line[key])
        first_line[key] = line
        listens.append(ListenRow(user_id=user_id, artist_id=artist_id, play_count=play_count))
    return listens


def read_tag_assignments(path: Path, *, tags: Mapping[int, TagRow]) -> list[TagAssignmentRow]:
    """``user_taggedartists.dat``; tags must be known, artists need not be.

    Why unknown artists are allowed: 1,538 rows of the original data point at artist ids missing from
    ``artists.dat`` (README section 2); :func:`lastfm_catalogue_select` skips and counts them.
    """
    rows: list[TagAssignmentRow] = []
    first_line: dict[tuple[int, int, int], int] = {}
    columns = ("userID", "artistID", "tagID", "day", "month", "year")
    for line, fields in _tab_rows(path, columns=columns, header=True):
        joined = "".join(fields)
        if all(fields) and joined.isdigit() and joined.isascii():  # fast path for 186k rows of plain digits
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
        key = (user_id, artist_id, tag_id)
        if key in first_line:
            raise _duplicate(
                path, line, f"(user {user_id}, artist {artist_id}, tag {tag_id}) assignment", first_line[key]
            )
        first_line[key] = line
        rows.append(TagAssignmentRow(user_id=user_id, artist_id=artist_id, tag_id=tag_id, tagged_on=tagged_on))
    return rows


def read_friendships(path: Path) -> list[FriendshipRow]:
    """``user_friends.dat``: directed pairs (each friendship is listed in both directions)."""
    rows: list[FriendshipRow] = []
    first_line: dict[tuple[int, int], int] = {}
    for line, (raw_user, raw_friend) in _tab_rows(path, columns=("userID", "friendID"), header=True):
        user_id = _integer(raw_user, column="userID", path=path, line=line)
        friend_id = _integer(raw_friend, column="friendID", path=path, line=line)
        if user_id == friend_id:
            raise _fail(path, line, f"user {user_id} is listed as their own friend.")
        key = (user_id, friend_id)
        if key in first_line:
            raise _duplicate(path, line, f"friendship {user_id} -> {friend_id}", first_line[key])
        first_line[key] = line
        rows.append(FriendshipRow(user_id=user_id, friend_id=friend_id))
    return rows


def read_kg_triples(path: Path) -> list[KgTripleRow]:
    """``kg.txt``: ``head<TAB>freebase.predicate<TAB>tail`` over anonymous integer entity ids."""
    triples: list[KgTripleRow] = []
    first_line: dict[tuple[int, str, int], int] = {}
    for line, (raw_head, predicate, raw_tail) in _tab_rows(path, columns=("head", "relation", "tail"), header=False):
        head = _integer(raw_head, column="head", path=path, line=line)
        tail = _integer(raw_tail, column="tail", path=path, line=line)
        if not FREEBASE_PREDICATE_PATTERN.match(predicate):
            raise _fail(
                path, line, f"relation {predicate!r} is not a Freebase predicate such as 'music.artist.origin'."
            )
        key = (head, predicate, tail)
        if key in first_line:
            raise _duplicate(path, line, f"triple {head} {predicate} {tail}", first_line[key])
        first_line[key] = line
        triples.append(KgTripleRow(head=head, predicate=predicate, tail=tail))
    return triples


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


def lastfm_dataset_read(*, data_dir: Path, progress: bool = False) -> LastfmDataset:
    """Parse and validate all seven files; raises :class:`DataFileError` at the first bad row."""
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


def kgcn_graph_records(*, subset: LastfmSelection) -> GraphRecords:
    """Entities and relations for the selection's artists and tags, the KGCN graph and the HAS_TAG edges.

    Works on either selection: on the catalogue every artist gets an entity (``kgcn_entity`` only
    in the properties of the KGCN items) and every tagged artist its HAS_TAG edges.
    """
    graph_id = {
        linked.kgcn_entity: artist_entity_id(linked.artist.lastfm_id)
        for linked in subset.artists
        if linked.kgcn_entity is not None
    }
    entities = [
        EntityRecord(
            id=artist_entity_id(linked.artist.lastfm_id),
            type=ARTIST_TYPE,
            name=linked.artist.name,
            properties=_artist_properties(linked),
        )
        for linked in subset.artists
    ]

    incoming: dict[int, list[str]] = defaultdict(list)
    anonymous: set[int] = set()
    for triple in subset.kg_triples:
        incoming[triple.tail].append(triple.predicate)
        anonymous.update(n for n in (triple.head, triple.tail) if n not in graph_id)
    for number in sorted(anonymous):
        entity_type = infer_tail_entity_type(incoming.get(number, ()))
        graph_id[number] = kgcn_entity_id(number)
        entities.append(
            EntityRecord(
                id=graph_id[number],
                type=entity_type,
                name=f"{entity_type} {kgcn_entity_id(number)}",
                properties={"kgcn_entity": number, "named": False},
            )
        )
    entities.extend(
        EntityRecord(
            id=tag_entity_id(tag.lastfm_id),
            type=TAG_TYPE,
            name=tag.name,
            properties={"lastfm_id": tag.lastfm_id},
        )
        for tag in subset.tags
    )

    relations = [
        RelationRecord(
            head=graph_id[triple.head],
            type=subset.relation_types[triple.predicate],
            tail=graph_id[triple.tail],
            source=KGCN_SOURCE,
            confidence=1.0,
            properties={"freebase_predicate": triple.predicate},
        )
        for triple in subset.kg_triples
    ]
    relations.extend(
        RelationRecord(
            head=artist_entity_id(artist_id),
            type=HAS_TAG,
            tail=tag_entity_id(tag_id),
            source=HETREC_SOURCE,
            confidence=1.0,
            properties={"count": count},
        )
        for (artist_id, tag_id), count in sorted(subset.tag_counts.items())
    )
    return GraphRecords(entities=entities, relations=relations)


#: The same builder under the name that says what it builds now (the whole catalogue's graph).
lastfm_graph_records = kgcn_graph_records


# --- catalog writes -----------------------------------------------------------------------------


def _catalog_sync(
    *,
    queryset: models.QuerySet,
    key_fields: tuple[str, ...],
    value_fields: tuple[str, ...],
    desired: Mapping[tuple, tuple],
    now: dt.datetime,
) -> UpsertResult:
    """Compare-and-write ``desired`` (natural key -> values) into ``queryset.model``.

    Why not ``bulk_create(update_conflicts=True)``: it rewrites ``updated_at`` on every row and cannot
    tell updated from unchanged, so a re-run would look like it changed everything. Rows that exist but
    are not in ``desired`` are left alone (learners and other sources share these tables).
    """
    model = queryset.model
    existing: dict[tuple, tuple[Any, tuple]] = {}
    width = len(key_fields)
    for row in queryset.values_list("pk", *key_fields, *value_fields).iterator(chunk_size=_CATALOG_BATCH_SIZE):
        existing[tuple(row[1 : 1 + width])] = (row[0], tuple(row[1 + width :]))
    to_create, to_update, unchanged = [], [], 0
    for key, values in desired.items():
        found = existing.get(key)
        if found is None:
            to_create.append(model(**dict(zip(key_fields, key)), **dict(zip(value_fields, values))))
        elif found[1] != tuple(values):
            to_update.append(model(pk=found[0], updated_at=now, **dict(zip(value_fields, values))))
        else:
            unchanged += 1
    model.objects.bulk_create(to_create, batch_size=_CATALOG_BATCH_SIZE)
    if to_update:
        model.objects.bulk_update(to_update, [*value_fields, "updated_at"], batch_size=_CATALOG_BATCH_SIZE)
    return UpsertResult(created=len(to_create), updated=len(to_update), unchanged=unchanged)


def lastfm_catalog_write(*, subset: LastfmSelection, progress: bool = False) -> dict[str, UpsertResult]:
    """Write the selection into the catalog in one transaction: all of it, or (on any error) none of it."""
    now = timezone.now()
    results: dict[str, UpsertResult] = {}
    with transaction.atomic(), tqdm(total=6, desc="Last.FM: catalog", unit="table", disable=not progress) as bar:
        results["artists"] = _catalog_sync(
            queryset=Artist.objects.all(),
            key_fields=("lastfm_id",),
            value_fields=("name", "url", "picture_url", "entity_id", "kgcn_entity"),
            desired={
                (a.artist.lastfm_id,): (
                    a.artist.name,
                    a.artist.url,
                    a.artist.picture_url,
                    artist_entity_id(a.artist.lastfm_id),
                    a.kgcn_entity,
                )
                for a in subset.artists
            },
            now=now,
        )
        bar.update()
        results["listeners"] = _catalog_sync(
            queryset=Listener.objects.filter(lastfm_id__isnull=False),
            key_fields=("lastfm_id",),
            value_fields=(),
            desired={(user_id,): () for user_id in subset.user_ids},
            now=now,
        )
        bar.update()
        results["tags"] = _catalog_sync(
            queryset=Tag.objects.all(),
            key_fields=("lastfm_id",),
            value_fields=("name", "entity_id"),
            desired={(t.lastfm_id,): (t.name, tag_entity_id(t.lastfm_id)) for t in subset.tags},
            now=now,
        )
        bar.update()

        artist_pk = dict(Artist.objects.filter(lastfm_id__isnull=False).values_list("lastfm_id", "pk"))
        listener_pk = dict(Listener.objects.filter(lastfm_id__isnull=False).values_list("lastfm_id", "pk"))
        tag_pk = dict(Tag.objects.values_list("lastfm_id", "pk"))

        results["listens"] = _catalog_sync(
            queryset=Listen.objects.all(),
            key_fields=("listener_id", "artist_id"),
            value_fields=("play_count",),
            desired={(listener_pk[r.user_id], artist_pk[r.artist_id]): (r.play_count,) for r in subset.listens},
            now=now,
        )
        bar.update()
        results["tag_assignments"] = _catalog_sync(
            queryset=TagAssignment.objects.all(),
            key_fields=("listener_id", "artist_id", "tag_id"),
            value_fields=("tagged_on",),
            desired={
                (listener_pk[r.user_id], artist_pk[r.artist_id], tag_pk[r.tag_id]): (r.tagged_on,)
                for r in subset.tag_assignments
            },
            now=now,
        )
        bar.update()
        results["friendships"] = _catalog_sync(
            queryset=Friendship.objects.all(),
            key_fields=("listener_id", "friend_id"),
            value_fields=(),
            desired={(listener_pk[r.user_id], listener_pk[r.friend_id]): () for r in subset.friendships},
            now=now,
        )
        bar.update()
        refresh_planner_statistics(Artist, Listener, Tag, Listen, TagAssignment, Friendship)
    return results


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


def lastfm_load(
    *,
    data_dir: Path,
    store: KnowledgeGraphStore,
    progress: bool = True,
    batch_size: int = GRAPH_BATCH_SIZE,
) -> LastfmLoadReport:
    """Validate every file, then write the whole catalogue to the catalog and to ``store``.

    Order and why: parse and validate everything, build and validate every graph record, check that the
    store answers (so a down Neo4j fails before the catalog changes), then write the catalog in one
    transaction and the graph in idempotent batches. If the graph write is interrupted, running the
    load again completes it; nothing is duplicated. The report also counts the KGCN-linked subset, the
    population the offline protocols evaluate on, against the published KGCN numbers.
    """
    dataset = lastfm_dataset_read(data_dir=data_dir, progress=progress)
    catalogue = lastfm_catalogue_select(dataset=dataset)
    records = lastfm_graph_records(subset=catalogue)
    for entity in records.entities:
        entity.validate()
    for relation in records.relations:
        relation.validate()
    store.ping()

    try:
        catalog = lastfm_catalog_write(subset=catalogue, progress=progress)
    except IntegrityError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(
            Path(data_dir),
            None,
            f"the data conflicts with rows already in the catalog ({reason}), e.g. another artist already holds "
            "one of these KGCN entity ids; nothing was written. Fix or remove the conflicting catalog rows.",
        ) from None
    graph = graph_upsert(
        store=store,
        entities=records.entities,
        relations=records.relations,
        batch_size=batch_size,
        progress=progress,
        description="Last.FM",
    )
    from kg.models import Entity, EntityAlias, Relation

    refresh_planner_statistics(Entity, EntityAlias, Relation)  # the embedded store's tables, when it is the one written
    return LastfmLoadReport(
        counts=lastfm_counts(selection=catalogue, records=records),
        catalog=catalog,
        graph=graph,
        backend=getattr(store, "registry_name", type(store).__name__),
        kgcn=lastfm_counts(selection=kgcn_subset_select(dataset=dataset)),
    )
