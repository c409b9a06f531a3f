"""The knowledge-graph store contract shared by every backend.

Why one small interface: the product runs on the embedded ``sql`` store for a zero-setup first run and
on Neo4j in production. Loaders, ingestion, the curator admin and training only ever talk to this
interface, and one contract test suite (``tests/kg/test_store_contract.py``) holds every backend to
the same behaviour.

Semantics every backend honours:

* Entity ids are stable strings (``lastfm:artist:289``, ``kgcn:5123``). Upserting an entity whose id
  exists replaces its type, name, aliases and properties; ``created_at`` is kept, and ``updated_at``
  moves only when something really changed, so re-running a loader changes nothing.
* A relation is identified by ``(head, type, tail)``; its direction is head → tail. Upsert replaces
  its provenance (source, confidence) and properties with the same "only if changed" rule.
* Relations may only join existing entities: naming a missing one raises
  :class:`~core.errors.UnknownEntityError` and writes nothing from that batch.
* Writes of one batch are atomic. Batches are independent, which is why every write is idempotent:
  a job interrupted between batches is finished by running it again.
* Search is case- and accent-insensitive and matches anywhere in the name or an alias, ranked
  exact, then prefix, then word start, then mid-word substring (see :func:`search_text`).
* :meth:`KnowledgeGraphStore.change_stamp` is the graph's revision: every write that changes the graph
  (an upsert that creates or changes something, a delete that removes something, a merge, ``clear``)
  moves it in the same transaction as the write; reads, writes that change nothing and writes that
  fail or roll back leave it. Reading it is one cheap query, so caches of the whole graph compare it
  instead of re-reading the graph.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

from core.errors import InvalidGraphDataError

Direction = Literal["out", "in", "both"]

#: Relation types are upper snake case (``HAS_TAG``, ``ORIGIN``); the rule keeps them valid in Cypher.
RELATION_TYPE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
#: Entity types are capitalised words (``Artist``, ``Tag``, ``Concept``).
ENTITY_TYPE_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
MAX_ID_LENGTH = 255
#: Longest name or alias any backend accepts. Why a limit: PostgreSQL cannot index a text value much
#: over 2 kB (a 500-character name is up to 2 kB in UTF-8), Neo4j's RANGE index on ``name_lower``
#: stops near 8 kB, and 500 characters is far beyond any real label. One bound, so every backend
#: takes the same data.
MAX_NAME_LENGTH = 500

DEFAULT_BATCH_SIZE = 1000

Record = TypeVar("Record", "EntityRecord", "RelationRecord")

#: One encoder for every record: ``json.dumps`` with options builds a new encoder on each call.
_PROPERTIES_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class EntityRecord:
    """A node of the graph. ``properties`` holds JSON-serialisable free attributes."""

    id: str
    type: str
    name: str
    aliases: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def validate(self) -> EntityRecord:
        """Check that every backend can store this entity as it is; returns ``self``.

        Why here and not in each store: a loader validates all its records before writing the first
        batch, and the stores and the admin form must refuse exactly the same records.
        """
        if isinstance(self.aliases, (str, bytes)) or not isinstance(self.aliases, (list, tuple)):
            raise InvalidGraphDataError(
                f"Entity {self.id!r}: aliases must be a list or tuple of strings, got {self.aliases!r:.80}."
            )
        if not isinstance(self.id, str) or not self.id.strip() or len(self.id) > MAX_ID_LENGTH:
            raise InvalidGraphDataError(
                f"Entity id must be a non-empty string of at most {MAX_ID_LENGTH} characters, got {self.id!r}."
            )
        if not isinstance(self.type, str) or not ENTITY_TYPE_PATTERN.match(self.type):
            raise InvalidGraphDataError(
                f"Entity {self.id!r}: type {self.type!r} must be a capitalised word such as 'Artist' or 'Tag'."
            )
        if not isinstance(self.name, str):
            raise InvalidGraphDataError(f"Entity {self.id!r}: name must be a string.")
        if not all(isinstance(a, str) for a in self.aliases):
            raise InvalidGraphDataError(f"Entity {self.id!r}: aliases must be strings.")
        if not isinstance(self.properties, Mapping):
            raise InvalidGraphDataError(f"Entity {self.id!r}: properties must be a mapping.")
        owner = f"Entity {self.id!r}"
        _check_text(self.id, owner=owner, field_name="id")
        _check_text(self.type, owner=owner, field_name="type")
        _check_text(self.name, owner=owner, field_name="name", max_length=MAX_NAME_LENGTH)
        for alias in self.aliases:
            _check_text(alias, owner=owner, field_name="alias", max_length=MAX_NAME_LENGTH)
        canonical_properties_json(self.properties, owner=owner)
        return self

    def content_key(self) -> tuple:
        """What counts as "changed" for an upsert (timestamps excluded)."""
        return (self.type, self.name, tuple(self.aliases), _canonical(self.properties))


@dataclass(frozen=True)
class RelationRecord:
    """A directed, typed edge ``head -[type]-> tail`` with its provenance."""

    head: str
    type: str
    tail: str
    source: str = ""
    confidence: float = 1.0
    properties: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.head, self.type, self.tail)

    def validate(self) -> RelationRecord:
        """Check that every backend can store this relation as it is; returns ``self``."""
        for end in (self.head, self.tail):
            if not isinstance(end, str) or not end.strip():
                raise InvalidGraphDataError(f"Relation {self.key!r}: head and tail must be non-empty entity ids.")
        if not isinstance(self.type, str) or not RELATION_TYPE_PATTERN.match(self.type):
            raise InvalidGraphDataError(
                f"Relation {self.key!r}: type {self.type!r} must be upper snake case such as 'HAS_TAG'."
            )
        if (
            isinstance(self.confidence, bool)
            or not isinstance(self.confidence, (int, float))
            or math.isnan(self.confidence)
            or not 0.0 <= self.confidence <= 1.0
        ):
            raise InvalidGraphDataError(
                f"Relation {self.key!r}: confidence must be a number between 0 and 1, got {self.confidence!r}."
            )
        if not isinstance(self.source, str):
            raise InvalidGraphDataError(f"Relation {self.key!r}: source must be a string.")
        if not isinstance(self.properties, Mapping):
            raise InvalidGraphDataError(f"Relation {self.key!r}: properties must be a mapping.")
        owner = f"Relation {self.key!r}"
        for field_name in ("head", "tail", "source"):
            _check_text(getattr(self, field_name), owner=owner, field_name=field_name)
        canonical_properties_json(self.properties, owner=owner)
        return self

    def content_key(self) -> tuple:
        return (self.source, float(self.confidence), _canonical(self.properties))


@dataclass(frozen=True)
class Neighbour:
    """One edge seen from an entity: ``direction`` is ``out`` when the entity is the head."""

    relation: RelationRecord
    direction: Literal["out", "in"]
    entity: EntityRecord


@dataclass(frozen=True)
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.created + other.created, self.updated + other.updated, self.unchanged + other.unchanged
        )

    @property
    def written(self) -> int:
        return self.created + self.updated


@dataclass(frozen=True)
class DeletionResult:
    entity_id: str
    relations_removed: int


@dataclass(frozen=True)
class GraphStats:
    entities: int
    relations: int
    entities_by_type: dict[str, int]
    relations_by_type: dict[str, int]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


# --- search keys shared by every backend ---------------------------------------------------------

#: Separates the keys (name, aliases) inside a search text, and frames it: ``SEP key SEP key SEP``.
SEARCH_KEY_SEPARATOR = "\x1f"
#: Put before every character that starts a word (a letter or digit after a non-letter-or-digit).
SEARCH_WORD_MARK = "\x02"
#: Letters that Unicode does not decompose into a base letter plus an accent.
_UNDECOMPOSED_LETTERS = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)


def fold_for_search(text: str) -> str:
    """``text`` as search compares it: case-folded, accents removed (``Dvořák`` → ``dvorak``), spaces collapsed.

    Control characters (which include the two markers above) become spaces and format characters
    (soft hyphen, zero-width joiner) are dropped, so a folded text never contains a marker.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    kept = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category == "Mn" or category == "Cf":
            continue
        kept.append(" " if category == "Cc" else char)
    return " ".join("".join(kept).casefold().translate(_UNDECOMPOSED_LETTERS).split())


def _mark_word_starts(folded: str) -> str:
    marked: list[str] = []
    previous_is_word = False
    for char in folded:
        is_word = char.isalnum()
        if is_word and not previous_is_word:
            marked.append(SEARCH_WORD_MARK)
        marked.append(char)
        previous_is_word = is_word
    return "".join(marked)


def search_text(name: str, aliases: Iterable[str]) -> str:
    """The one string a backend stores per entity so that search is a handful of substring tests.

    Every non-blank key (the name, each alias) is folded by :func:`fold_for_search`, its word starts
    are marked, and the keys are framed by separators. With ``q`` the query treated the same way
    (:class:`SearchPatterns`), "a key equals / starts with / has a word starting with / contains
    ``q``" are all plain "contains" tests on this string, which every database answers literally
    (no wildcards) and which never match across two keys.
    """
    keys = list(dict.fromkeys(_mark_word_starts(key) for key in map(fold_for_search, (name, *aliases)) if key))
    if not keys:
        return ""
    return SEARCH_KEY_SEPARATOR + SEARCH_KEY_SEPARATOR.join(keys) + SEARCH_KEY_SEPARATOR


@dataclass(frozen=True)
class SearchPatterns:
    """The substrings of a :func:`search_text` that place an entity in each rank for one query.

    Rank 0: a key equals the query; 1: a key starts with it; 2: a word of a key starts with it;
    3: it occurs inside a word. Each pattern implies the next one, so ``substring`` is the filter and
    the first pattern found gives the rank.
    """

    exact: str
    prefix: str
    word_start: str
    substring: str

    @classmethod
    def for_query(cls, query: str) -> SearchPatterns | None:
        """The patterns for ``query``, or ``None`` when it is blank once folded (a blank search finds nothing)."""
        folded = fold_for_search(query)
        if not folded:
            return None
        marked = _mark_word_starts(folded)
        return cls(
            exact=SEARCH_KEY_SEPARATOR + marked + SEARCH_KEY_SEPARATOR,
            prefix=SEARCH_KEY_SEPARATOR + marked,
            word_start=marked,
            substring=marked.removeprefix(SEARCH_WORD_MARK),
        )

    def ordered(self) -> tuple[str, str, str]:
        """The patterns of ranks 0, 1 and 2 (anything else that contains ``substring`` has rank 3)."""
        return (self.exact, self.prefix, self.word_start)

    def rank(self, text: str) -> int | None:
        """The rank of an entity whose search text is ``text``, ``None`` when it does not match."""
        if self.substring not in text:
            return None
        return next((rank for rank, pattern in enumerate(self.ordered()) if pattern in text), 3)


#: Ranks of :func:`search_match_rank`, best first.
MATCH_EXACT, MATCH_WHOLE_WORDS, MATCH_PREFIX, MATCH_WORD_START, MATCH_INSIDE_WORD = range(5)


def search_match_rank(query: str, name: str, aliases: Iterable[str] = ()) -> int | None:
    """How well ``query`` matches ``name`` or an alias, for pages that rank results for a person.

    Finer than the stores' rank (:class:`SearchPatterns`) in one way: a query that is one or more
    whole words of a key ("bach" in "Johann Sebastian Bach", "mozart" in "Wolfgang Amadeus Mozart")
    ranks right after an exact match and before a key that merely starts with it ("Bachman-Turner
    Overdrive"), because a person typing a surname means the person. Ranks: :data:`MATCH_EXACT`,
    :data:`MATCH_WHOLE_WORDS`, :data:`MATCH_PREFIX`, :data:`MATCH_WORD_START`,
    :data:`MATCH_INSIDE_WORD`; ``None`` when nothing matches. Folding is :func:`fold_for_search`'s
    (case and accents ignored). Callers break ties, e.g. by popularity, then by name.
    """
    folded = fold_for_search(query)
    if not folded:
        return None
    best: int | None = None
    for key in (fold_for_search(k) for k in (name, *aliases)):
        rank = _key_match_rank(folded, key)
        if rank is not None and (best is None or rank < best):
            best = rank
    return best


def _key_match_rank(folded: str, key: str) -> int | None:
    if key == folded:
        return MATCH_EXACT
    best: int | None = None
    start = key.find(folded)
    while start != -1:
        end = start + len(folded)
        word_start = start == 0 or not key[start - 1].isalnum() or not folded[0].isalnum()
        word_end = end == len(key) or not key[end].isalnum() or not folded[-1].isalnum()
        if word_start and word_end:
            return MATCH_WHOLE_WORDS
        if start == 0:
            rank = MATCH_PREFIX
        elif word_start:
            rank = MATCH_WORD_START
        else:
            rank = MATCH_INSIDE_WORD
        best = rank if best is None else min(best, rank)
        start = key.find(folded, start + 1)
    return best


# --- checks shared by every backend -----------------------------------------------------------


def canonical_properties_json(properties: Mapping[str, Any], *, owner: str) -> str:
    """Properties as canonical JSON (sorted keys, no spaces), refusing what a JSON store cannot keep.

    Why so strict: both backends store properties as JSON, and a value that does not survive the
    round trip (a set, NaN, a NUL character PostgreSQL refuses) would either fail mid-batch or come
    back different. The Neo4j store keeps this exact string, so its format must not change.
    ``owner`` names the record in the message (``Entity 'a:1'``).
    """
    try:
        encoded = _PROPERTIES_ENCODER.encode(dict(properties))
    except (TypeError, ValueError) as exc:
        raise InvalidGraphDataError(
            f"{owner}: properties must be JSON data (strings, finite numbers, booleans, None, lists, "
            f"string-keyed dicts): {exc}."
        ) from exc
    if "\\u0000" in encoded:
        raise InvalidGraphDataError(f"{owner}: a property value contains a NUL character (\\x00); remove it.")
    return encoded


def _check_text(value: str, *, owner: str, field_name: str, max_length: int | None = None) -> None:
    """No NUL characters (PostgreSQL text cannot hold them) and, when given, at most ``max_length`` characters."""
    if "\x00" in value:
        raise InvalidGraphDataError(f"{owner}: {field_name} contains a NUL character (\\x00); remove it.")
    if max_length is not None and len(value) > max_length:
        raise InvalidGraphDataError(
            f"{owner}: {field_name} is {len(value)} characters long; at most {max_length} are allowed ({value[:40]!r}...)."
        )


DIRECTIONS: tuple[str, ...] = ("out", "in", "both")


def check_direction(direction: Any) -> None:
    if direction not in DIRECTIONS:
        raise InvalidGraphDataError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}.")


def check_positive_int(name: str, value: Any) -> None:
    """Limits and batch sizes: an ``int`` of at least 1 (``True`` is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidGraphDataError(f"{name} must be a positive integer, got {value!r}.")


def type_filter(types: Sequence[str] | None, name: str) -> list[str] | None:
    """A type filter as a list, or ``None`` for "any type" (``None`` or an empty list given).

    Why reject a string: ``"Artist"`` would otherwise be read as the types ``A``, ``r``, ``t``...
    """
    if types is None:
        return None
    if isinstance(types, str):
        raise InvalidGraphDataError(
            f"{name} must be a list of types, not the single string {types!r}; write [{types!r}]."
        )
    return list(types) or None


def require_record_iterable(items: Any, record_class: type, method: str) -> None:
    """Refuse one record (or a string) where an iterable of records is expected, instead of iterating it."""
    if isinstance(items, (record_class, str)):
        raise InvalidGraphDataError(
            f"{method} expects an iterable of {record_class.__name__}, not one {type(items).__name__}."
        )


def require_record(item: Any, record_class: type[Record], method: str) -> Record:
    """``item`` checked to be a ``record_class`` and validated; a dict or tuple is refused with what it was."""
    if not isinstance(item, record_class):
        raise InvalidGraphDataError(
            f"{method} expects {record_class.__name__} items, got {type(item).__name__}: {item!r:.80}."
        )
    return item.validate()


def merge_id_list(*, keep_id: str, merge_ids: Iterable[str]) -> list[str]:
    """The ids to fold into ``keep_id``, de-duplicated in order; a string, an empty list or ``keep_id`` itself is refused.

    Why a string is refused: ``"a:2"`` would otherwise be read as the ids ``a``, ``:`` and ``2``.
    """
    if isinstance(merge_ids, str) or not isinstance(merge_ids, Iterable):
        raise InvalidGraphDataError(
            f"merge_ids must be a list of entity ids, not {type(merge_ids).__name__} {merge_ids!r:.80}."
        )
    ids = list(merge_ids)
    if not all(isinstance(i, str) for i in ids):
        raise InvalidGraphDataError(f"merge_ids must be a list of entity ids (strings), got {ids!r:.80}.")
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise InvalidGraphDataError(f"merge_ids is empty: name at least one entity to fold into {keep_id!r}.")
    if keep_id in ids:
        raise InvalidGraphDataError(f"Cannot merge entity {keep_id!r} into itself; remove it from merge_ids.")
    return ids


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Split an iterable into lists of at most ``size`` items (the unit of one atomic write)."""
    check_positive_int("batch_size", size)
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def dedupe_last(records: Sequence, key) -> list:
    """Keep the last record for each key, preserving first-seen order (a batch may repeat an item)."""
    chosen: dict = {}
    for record in records:
        chosen[key(record)] = record
    return list(chosen.values())


class KnowledgeGraphStore(ABC):
    """Interface of a graph backend. Implementations register themselves in ``kg.stores.registry``."""

    #: Registry name, versioned as in spaCy's registries (``kg.store.sql.v1``).
    registry_name: ClassVar[str]

    # --- writes ---------------------------------------------------------------------------

    @abstractmethod
    def upsert_entities(
        self, entities: Iterable[EntityRecord], *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> UpsertResult:
        """Create or replace entities in atomic batches; returns how many were created/updated/unchanged."""

    @abstractmethod
    def upsert_relations(
        self, relations: Iterable[RelationRecord], *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> UpsertResult:
        """Create or replace relations in atomic batches; a batch naming a missing entity writes nothing."""

    @abstractmethod
    def delete_relation(self, head: str, type: str, tail: str) -> bool:
        """Remove one relation; ``False`` when it did not exist."""

    @abstractmethod
    def delete_entity(self, entity_id: str) -> DeletionResult:
        """Remove an entity and every relation touching it (raises ``UnknownEntityError`` if missing)."""

    @abstractmethod
    def merge_entities(self, *, keep_id: str, merge_ids: Sequence[str]) -> EntityRecord:
        """Fold duplicates into ``keep_id`` in one transaction.

        Every relation of a merged entity is re-pointed to the kept one (a relation that would become a
        self-loop between merged duplicates is dropped; one that already exists on the kept entity keeps
        the higher confidence). Names and aliases of merged entities become aliases of the kept one,
        and their properties fill keys the kept entity lacks. Nothing else is lost.
        """

    @abstractmethod
    def clear(self) -> None:
        """Remove everything (tests and benchmarks only)."""

    # --- reads ----------------------------------------------------------------------------

    @abstractmethod
    def get_entity(self, entity_id: str) -> EntityRecord | None: ...

    @abstractmethod
    def get_entities(self, entity_ids: Iterable[str]) -> dict[str, EntityRecord]:
        """Fetch many at once; missing ids are simply absent from the result."""

    @abstractmethod
    def get_relation(self, head: str, type: str, tail: str) -> RelationRecord | None: ...

    @abstractmethod
    def search_entities(self, query: str, *, types: Sequence[str] | None = None, limit: int = 20) -> list[EntityRecord]:
        """Entities whose name or an alias contains ``query``, best ``limit`` first.

        Matching ignores case and accents (:func:`fold_for_search`: ``dvorak`` finds ``Antonín
        Dvořák``). Ranked by how the best key matches: exactly, then as a prefix, then at the start of
        a word (``bach`` in ``Johann Sebastian Bach``), then inside a word; ties by the folded name
        and aliases (:func:`search_text`, so accents do not sort "Frédéric" after "Fryderyk"), then id. A blank query returns ``[]``; the query text is always taken literally (no wildcards).
        """

    @abstractmethod
    def neighbours(
        self,
        entity_id: str,
        *,
        direction: Direction = "both",
        relation_types: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[Neighbour]:
        """Edges touching ``entity_id``, ordered by (direction, relation type, other entity id)."""

    @abstractmethod
    def stats(self) -> GraphStats: ...

    @abstractmethod
    def iter_triples(self, *, batch_size: int = 10_000) -> Iterator[tuple[str, str, str]]:
        """Stream every ``(head, type, tail)`` in a stable order (head, type, tail), for training."""

    @abstractmethod
    def iter_entities(self, *, types: Sequence[str] | None = None, batch_size: int = 10_000) -> Iterator[EntityRecord]:
        """Stream entities ordered by id."""

    @abstractmethod
    def change_stamp(self) -> str:
        """The graph's current revision: an opaque string, equal to an earlier reading iff nothing changed since.

        Every committed write that changed the graph moves it, in the same transaction as the write
        (entity and relation upserts that created or changed a record, deletes that removed one,
        merges, ``clear``); reads, writes that changed nothing (a loader re-run) and failed or
        rolled-back writes do not. One primary-key (or unique-index) read: cheap enough to ask on every
        request. Only equality means anything; the string also shows a write counter for people
        (``"42:9f3c…"``). Writes made around the store (raw SQL, Cypher typed in the Neo4j browser)
        are not seen.
        """

    def in_caller_transaction(self) -> bool:
        """Whether this thread holds an open transaction on the store's database.

        Its uncommitted writes are then invisible to a reader on another thread (another
        connection), so a cache must refresh in the caller's thread to show the caller its own edit.
        Stores whose every call is its own transaction (Neo4j) always answer ``False``.
        """
        return False

    # --- lifecycle ------------------------------------------------------------------------

    def ping(self) -> None:  # noqa: B027 - optional hook: a store that is always reachable keeps it empty
        """Raise ``StoreUnavailableError`` if the backend cannot answer."""

    def close(self) -> None:  # noqa: B027 - optional hook: a store without connections keeps it empty
        """Release connections; the store is unusable afterwards."""

    def __enter__(self) -> KnowledgeGraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
