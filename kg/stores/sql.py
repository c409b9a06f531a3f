"""The embedded knowledge-graph store (``kg.store.sql.v1``): the graph in the project's own database.

Why it exists: a first run (``make demo``) must work with no graph server, on SQLite or PostgreSQL,
with exactly the behaviour of the Neo4j store (one contract suite holds both).

How it keeps the contract's promises:

* Each batch is one ``transaction.atomic``: a single SELECT of the rows it names, then
  ``bulk_create`` for new rows and ``bulk_update`` only for rows whose ``content_key()`` changed, so
  re-running a loader writes nothing and ``updated_at`` stays put. It nests as a savepoint inside a
  caller's transaction.
* Records are validated (``validate()`` also checks they are storable: JSON properties, no NUL
  characters, names short enough to index) before the batch's transaction opens, so a bad record
  writes nothing.
* Ids, types and names are ordered by code point on every database (PostgreSQL is told
  ``COLLATE "C"``), so listings and ``iter_triples`` come out in Python's ``sorted`` order, as in Neo4j.
* "Cannot reach or read the database" (connection refused, tables not migrated, locked) becomes
  :class:`~core.errors.StoreUnavailableError` with what to do about it.
* The change stamp is the one row of ``kg_graph_revision``: a write that changed something ends its
  transaction with ``UPDATE ... SET revision = revision + 1, token = <new>`` (last, so the row lock is
  held only until the commit), and a rollback undoes it with the write. Concurrent writers on
  PostgreSQL queue on that row for the moment between their last statement and their commit.

Search semantics worth knowing: a blank query returns ``[]`` (nothing typed, nothing to suggest) and
``types=None`` or an empty list means "any type". Search reads the derived ``search_text`` column
(name and aliases folded by ``kg.stores.base.search_text``), which every write keeps in step.
"""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, ClassVar, Literal

from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, connections, transaction
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import Combinable
from django.db.models.functions import Collate, StrIndex
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from core.errors import (
    ConfigurationError,
    InvalidGraphDataError,
    StoreUnavailableError,
    UnknownEntityError,
)
from kg.stores.base import (
    DEFAULT_BATCH_SIZE,
    DeletionResult,
    Direction,
    EntityRecord,
    GraphStats,
    KnowledgeGraphStore,
    Neighbour,
    RelationRecord,
    SearchPatterns,
    UpsertResult,
    _canonical,
    batched,
    check_direction,
    check_positive_int,
    dedupe_last,
    merge_id_list,
    require_record,
    require_record_iterable,
    search_text,
    type_filter,
)

#: How many missing ids an ``UnknownEntityError`` lists before saying "and N more".
MISSING_IDS_SHOWN = 10
#: Bound values per ``IN (...)`` chunk when the backend states no limit (PostgreSQL).
DEFAULT_PARAMS_PER_QUERY = 5000
#: Fields written when an existing row's content changed.
ENTITY_CONTENT_FIELDS = ["type", "name", "name_lower", "search_text", "aliases", "properties", "updated_at"]
RELATION_CONTENT_FIELDS = ["source", "confidence", "properties", "updated_at"]


def _translate_database_errors(method: Callable) -> Callable:
    """Wrap a store method (or generator) so an unreachable/unmigrated database raises ``StoreUnavailableError``."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator_wrapper(self: SqlGraphStore, *args: Any, **kwargs: Any) -> Iterator:
            with self._database_errors():
                yield from method(self, *args, **kwargs)

        return generator_wrapper

    @functools.wraps(method)
    def wrapper(self: SqlGraphStore, *args: Any, **kwargs: Any) -> Any:
        with self._database_errors():
            return method(self, *args, **kwargs)

    return wrapper


class SqlGraphStore(KnowledgeGraphStore):
    """Graph store on the Django ORM (tables ``kg_entity``, ``kg_entity_alias``, ``kg_relation``, ``kg_graph_revision``)."""

    registry_name: ClassVar[str] = "kg.store.sql.v1"

    def __init__(self, *, using: str = "default"):
        if using not in settings.DATABASES:
            raise ConfigurationError(
                f"The sql graph store was given database alias {using!r}, which is not in settings.DATABASES "
                f"(configured: {', '.join(sorted(settings.DATABASES))})."
            )
        self.using = using

    @classmethod
    def from_settings(cls, **overrides: Any) -> SqlGraphStore:
        """Build the store from Django settings; ``using`` (a database alias) is the only override."""
        unknown = sorted(set(overrides) - {"using"})
        if unknown:
            raise ConfigurationError(
                f"The sql graph store does not take {', '.join(unknown)}; its only setting is `using` (a database alias)."
            )
        return cls(using=overrides.get("using") or "default")

    def __repr__(self) -> str:
        return f"SqlGraphStore(using={self.using!r})"

    # --- writes ---------------------------------------------------------------------------

    @_translate_database_errors
    def upsert_entities(
        self, entities: Iterable[EntityRecord], *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> UpsertResult:
        require_record_iterable(entities, EntityRecord, "upsert_entities")
        total = UpsertResult()
        for batch in batched(entities, batch_size):
            total += self._upsert_entity_batch(batch)
        return total

    @_translate_database_errors
    def upsert_relations(
        self, relations: Iterable[RelationRecord], *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> UpsertResult:
        require_record_iterable(relations, RelationRecord, "upsert_relations")
        total = UpsertResult()
        for batch in batched(relations, batch_size):
            total += self._upsert_relation_batch(batch)
        return total

    @_translate_database_errors
    def delete_relation(self, head: str, type: str, tail: str) -> bool:
        with transaction.atomic(using=self.using):
            deleted, _ = self._relations().filter(head_id=head, type=type, tail_id=tail).delete()
            if deleted:
                self._bump_revision()
        return deleted > 0

    @_translate_database_errors
    def delete_entity(self, entity_id: str) -> DeletionResult:
        with transaction.atomic(using=self.using):
            if not self._entities().filter(pk=entity_id).exists():
                raise UnknownEntityError(f"Entity {entity_id!r} does not exist, so nothing was deleted.")
            relations_removed, _ = self._relations().filter(Q(head_id=entity_id) | Q(tail_id=entity_id)).delete()
            self._aliases().filter(entity_id=entity_id).delete()
            self._entities().filter(pk=entity_id).delete()
            self._bump_revision()
        return DeletionResult(entity_id=entity_id, relations_removed=relations_removed)

    @_translate_database_errors
    def merge_entities(self, *, keep_id: str, merge_ids: Sequence[str]) -> EntityRecord:
        merge_list = merge_id_list(keep_id=keep_id, merge_ids=merge_ids)
        now = timezone.now()
        with transaction.atomic(using=self.using):
            rows = {row.id: row for row in self._entity_rows([keep_id, *merge_list], lock=True)}
            missing = [eid for eid in [keep_id, *merge_list] if eid not in rows]
            if missing:
                raise UnknownEntityError(
                    f"Cannot merge into {keep_id!r}: {_describe_ids(missing)}; nothing was changed."
                )
            kept, merged = rows[keep_id], [rows[eid] for eid in merge_list]
            self._repoint_relations(keep_id=keep_id, merged_ids=set(merge_list), now=now)

            old_alias_keys = _alias_keys(kept.aliases)
            aliases = _merged_aliases(kept, merged)
            properties = dict(kept.properties)
            for row in merged:
                for key, value in row.properties.items():
                    properties.setdefault(key, value)

            for ids in self._chunks(merge_list):
                self._aliases().filter(entity_id__in=ids).delete()
                self._entities().filter(pk__in=ids).delete()
            if aliases != list(kept.aliases) or _canonical(properties) != _canonical(kept.properties):
                kept.aliases, kept.properties, kept.updated_at = aliases, properties, now
                kept.search_text = search_text(kept.name, aliases)
                kept.save(using=self.using, update_fields=["aliases", "search_text", "properties", "updated_at"])
                if _alias_keys(aliases) != old_alias_keys:
                    self._replace_alias_rows({keep_id: aliases})
            self._bump_revision()
        return _entity_record(self._entities().get(pk=keep_id))

    @_translate_database_errors
    def clear(self) -> None:
        with transaction.atomic(using=self.using):
            self._relations().delete()
            self._aliases().delete()
            self._entities().only("pk").delete()
            self._bump_revision()

    # --- reads ----------------------------------------------------------------------------

    @_translate_database_errors
    def get_entity(self, entity_id: str) -> EntityRecord | None:
        row = self._entities().filter(pk=entity_id).first()
        return _entity_record(row) if row is not None else None

    @_translate_database_errors
    def get_entities(self, entity_ids: Iterable[str]) -> dict[str, EntityRecord]:
        if isinstance(entity_ids, str):
            raise InvalidGraphDataError(f"get_entities expects a list of ids, not the single string {entity_ids!r}.")
        return {row.id: _entity_record(row) for row in self._entity_rows(list(dict.fromkeys(entity_ids)))}

    @_translate_database_errors
    def get_relation(self, head: str, type: str, tail: str) -> RelationRecord | None:
        row = self._relations().filter(head_id=head, type=type, tail_id=tail).first()
        return _relation_record(row) if row is not None else None

    @_translate_database_errors
    def search_entities(self, query: str, *, types: Sequence[str] | None = None, limit: int = 20) -> list[EntityRecord]:
        """Substring search on the ``search_text`` column (name and aliases, folded); a blank query returns ``[]``.

        One query: ``STRPOS``/``instr`` (literal, no wildcards to escape) filters on the substring
        pattern and a ``CASE`` over the other patterns gives the rank (see ``SearchPatterns``). No
        index serves a substring test without extensions, so this scans one narrow column: a few
        milliseconds on 50,000 entities. Only the ids of the best ``limit`` are selected by the
        scan; their full rows are fetched afterwards. Ties are ordered by ``search_text``, i.e. by the
        folded name (accents ignored: "Frédéric Chopin" before "Fryderyk Chopin"), then by id.
        """
        if not isinstance(query, str):
            raise InvalidGraphDataError(f"Search query must be a string, got {type(query).__name__}.")
        check_positive_int("limit", limit)
        patterns = SearchPatterns.for_query(query)
        if patterns is None:
            return []
        candidates = self._entities()
        type_list = type_filter(types, "types")
        if type_list:
            candidates = candidates.filter(type__in=type_list)
        rank = Case(
            *(
                When(GreaterThan(StrIndex("search_text", Value(pattern)), 0), then=Value(position))
                for position, pattern in enumerate(patterns.ordered())
            ),
            default=Value(len(patterns.ordered())),
            output_field=IntegerField(),
        )
        best_ids = list(
            candidates.filter(GreaterThan(StrIndex("search_text", Value(patterns.substring)), 0))
            .alias(rank=rank)
            .order_by("rank", self._code_point("search_text"), self._code_point("id"))
            .values_list("id", flat=True)[:limit]
        )
        rows = {row.id: row for row in self._entity_rows(best_ids)}
        return [_entity_record(rows[entity_id]) for entity_id in best_ids if entity_id in rows]

    @_translate_database_errors
    def neighbours(
        self,
        entity_id: str,
        *,
        direction: Direction = "both",
        relation_types: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[Neighbour]:
        check_direction(direction)
        if limit is not None:
            check_positive_int("limit", limit)
        type_list = type_filter(relation_types, "relation_types")
        if not self._entities().filter(pk=entity_id).exists():
            raise UnknownEntityError(f"Entity {entity_id!r} does not exist, so it has no neighbours to list.")
        result: list[Neighbour] = []
        # "out" edges first, then "in": each side ordered by relation type, then the other entity's id.
        sides: list[tuple[Literal["out", "in"], str, str]] = []
        if direction in ("out", "both"):
            sides.append(("out", "head_id", "tail"))
        if direction in ("in", "both"):
            sides.append(("in", "tail_id", "head"))
        for side, own_end, other_end in sides:
            remaining = None if limit is None else limit - len(result)
            if remaining == 0:
                break
            edges = (
                self._relations()
                .filter(**{own_end: entity_id})
                .select_related(other_end)
                .order_by(self._code_point("type"), self._code_point(f"{other_end}_id"))
            )
            if type_list:
                edges = edges.filter(type__in=type_list)
            if remaining is not None:
                edges = edges[:remaining]
            result.extend(
                Neighbour(
                    relation=_relation_record(edge), direction=side, entity=_entity_record(getattr(edge, other_end))
                )
                for edge in edges
            )
        return result

    @_translate_database_errors
    def stats(self) -> GraphStats:
        entities_by_type = _counts_by_type(self._entities())
        relations_by_type = _counts_by_type(self._relations())
        return GraphStats(
            entities=sum(entities_by_type.values()),
            relations=sum(relations_by_type.values()),
            entities_by_type=entities_by_type,
            relations_by_type=relations_by_type,
        )

    @_translate_database_errors
    def iter_triples(self, *, batch_size: int = 10_000) -> Iterator[tuple[str, str, str]]:
        """Keyset pages over ``(head, type, tail)``: each page starts after the last triple seen, never at an OFFSET."""
        check_positive_int("batch_size", batch_size)
        ordered = (
            self._relations()
            .alias(h=self._code_point("head_id"), t=self._code_point("type"), tl=self._code_point("tail_id"))
            .order_by("h", "t", "tl")
        )
        last: tuple[str, str, str] | None = None
        while True:
            page_query = ordered
            if last is not None:
                head, type_, tail = last
                # The redundant ``h >= head`` lets the index range scan start at the last page's end.
                page_query = ordered.filter(
                    Q(h__gte=head) & (Q(h__gt=head) | Q(h=head, t__gt=type_) | Q(h=head, t=type_, tl__gt=tail))
                )
            page = list(page_query.values_list("head_id", "type", "tail_id")[:batch_size])
            yield from page
            if len(page) < batch_size:
                return
            last = page[-1]

    @_translate_database_errors
    def iter_entities(self, *, types: Sequence[str] | None = None, batch_size: int = 10_000) -> Iterator[EntityRecord]:
        check_positive_int("batch_size", batch_size)
        ordered = self._entities().alias(key=self._code_point("id")).order_by("key")
        type_list = type_filter(types, "types")
        if type_list:
            ordered = ordered.filter(type__in=type_list)
        last: str | None = None
        while True:
            page_query = ordered if last is None else ordered.filter(key__gt=last)
            page = list(page_query[:batch_size])
            yield from (_entity_record(row) for row in page)
            if len(page) < batch_size:
                return
            last = page[-1].id

    @_translate_database_errors
    def change_stamp(self) -> str:
        """``"<revision>:<token>"`` of the ``kg_graph_revision`` row (one primary-key read); ``"0:"`` before any write."""
        row = self._revisions().filter(pk=1).values_list("revision", "token").first()
        return "0:" if row is None else f"{row[0]}:{row[1]}"

    def in_caller_transaction(self) -> bool:
        return connections[self.using].in_atomic_block

    # --- lifecycle ------------------------------------------------------------------------

    def ping(self) -> None:
        """One trivial query on the graph table: proves the database answers and is migrated."""
        try:
            with transaction.atomic(using=self.using):
                self._entities().exists()
        except DatabaseError as exc:
            raise StoreUnavailableError(self._unavailable_message(exc)) from exc

    # --- batch internals ------------------------------------------------------------------

    def _upsert_entity_batch(self, batch: list) -> UpsertResult:
        records = dedupe_last([storable_entity(item) for item in batch], key=lambda record: record.id)
        now = timezone.now()
        with transaction.atomic(using=self.using):
            existing = {row.id: row for row in self._entity_rows([r.id for r in records], lock=True)}
            created: list = []
            changed: list = []
            alias_updates: dict[str, list[str]] = {}
            for record in records:
                row = existing.get(record.id)
                if row is None:
                    created.append(
                        self._entities().model(id=record.id, created_at=now, updated_at=now, **_entity_columns(record))
                    )
                    alias_updates[record.id] = list(record.aliases)
                    continue
                if _entity_record(row).content_key() == record.content_key():
                    continue
                old_alias_keys = _alias_keys(row.aliases)
                for column, value in _entity_columns(record).items():
                    setattr(row, column, value)
                row.updated_at = now
                changed.append(row)
                if _alias_keys(record.aliases) != old_alias_keys:
                    alias_updates[record.id] = list(record.aliases)
            self._entities().bulk_create(created)
            if changed:
                self._entities().bulk_update(changed, ENTITY_CONTENT_FIELDS)
            self._replace_alias_rows(alias_updates)
            if created or changed:
                self._bump_revision()
        return UpsertResult(
            created=len(created), updated=len(changed), unchanged=len(records) - len(created) - len(changed)
        )

    def _upsert_relation_batch(self, batch: list) -> UpsertResult:
        records = dedupe_last([storable_relation(item) for item in batch], key=lambda record: record.key)
        now = timezone.now()
        with transaction.atomic(using=self.using):
            named = {end for record in records for end in (record.head, record.tail)}
            missing = sorted(named - self._existing_entity_ids(named))
            if missing:
                raise UnknownEntityError(
                    f"Relations name {_describe_ids(missing)}: upsert those entities first. "
                    "Nothing from this batch was written."
                )
            existing = self._relation_rows_by_key([record.key for record in records], lock=True)
            created: list = []
            changed: list = []
            for record in records:
                row = existing.get(record.key)
                if row is None:
                    created.append(
                        self._relations().model(
                            head_id=record.head,
                            type=record.type,
                            tail_id=record.tail,
                            source=record.source,
                            confidence=record.confidence,
                            properties=dict(record.properties),
                            created_at=now,
                            updated_at=now,
                        )
                    )
                elif _relation_content_key(row) != record.content_key():
                    row.source, row.confidence, row.properties = (
                        record.source,
                        record.confidence,
                        dict(record.properties),
                    )
                    row.updated_at = now
                    changed.append(row)
            self._relations().bulk_create(created)
            if changed:
                self._relations().bulk_update(changed, RELATION_CONTENT_FIELDS)
            if created or changed:
                self._bump_revision()
        return UpsertResult(
            created=len(created), updated=len(changed), unchanged=len(records) - len(created) - len(changed)
        )

    def _repoint_relations(self, *, keep_id: str, merged_ids: set[str], now) -> None:
        """Move every relation of ``merged_ids`` onto ``keep_id`` (part of ``merge_entities``'s transaction).

        Rows are re-pointed in place (keeping their ``created_at``) and a would-be self-loop is
        deleted. Relations that end up with one key are folded into one row: the one already on the
        kept entity if there is one, else the first re-pointed one (see :func:`_fold_relations`).
        """
        touching: dict[int, Any] = {}
        for ids in self._chunks(sorted(merged_ids)):
            for row in self._relations().filter(Q(head_id__in=ids) | Q(tail_id__in=ids)).order_by("pk"):
                touching[row.pk] = row
        doomed: list[int] = []
        moving: dict[tuple[str, str, str], list] = {}
        for row in touching.values():
            head = keep_id if row.head_id in merged_ids else row.head_id
            tail = keep_id if row.tail_id in merged_ids else row.tail_id
            if head == tail:
                doomed.append(row.pk)
                continue
            moving.setdefault((head, row.type, tail), []).append(row)
        staying = self._relation_rows_by_key(list(moving), lock=True)
        repointed: list = []
        folded_into_staying: list = []
        for key, rows in moving.items():
            target = staying.get(key)
            if target is None:
                head, _, tail = key
                target, rows = rows[0], rows[1:]
                target.head_id, target.tail_id, target.updated_at = head, tail, now
                _fold_relations(into=target, others=rows)
                repointed.append(target)
            elif _fold_relations(into=target, others=rows):
                target.updated_at = now
                folded_into_staying.append(target)
            doomed.extend(row.pk for row in rows)
        # Deletes first: a re-pointed key can only collide with a row that is being folded away.
        for pks in self._chunks(doomed):
            self._relations().filter(pk__in=pks).delete()
        if repointed:
            self._relations().bulk_update(repointed, ["head", "tail", *RELATION_CONTENT_FIELDS])
        if folded_into_staying:
            self._relations().bulk_update(folded_into_staying, RELATION_CONTENT_FIELDS)

    def _bump_revision(self) -> None:
        """Move the change stamp; called last inside the transaction of a write that changed the graph."""
        token = uuid.uuid4().hex
        if self._revisions().filter(pk=1).update(revision=F("revision") + 1, token=token):
            return
        try:  # no row yet (a new or flushed database): the first writer creates it
            with transaction.atomic(using=self.using):
                self._revisions().create(pk=1, revision=1, token=token)
        except IntegrityError:  # a concurrent first writer created it meanwhile
            self._revisions().filter(pk=1).update(revision=F("revision") + 1, token=token)

    def _replace_alias_rows(self, aliases_by_entity: dict[str, list[str]]) -> None:
        """Make the alias rows of these entities mirror their alias lists (delete, then insert)."""
        if not aliases_by_entity:
            return
        for ids in self._chunks(list(aliases_by_entity)):
            self._aliases().filter(entity_id__in=ids).delete()
        model = self._aliases().model
        self._aliases().bulk_create(
            model(entity_id=entity_id, alias_lower=alias_key)
            for entity_id, aliases in aliases_by_entity.items()
            for alias_key in sorted(_alias_keys(aliases))
        )

    # --- query helpers --------------------------------------------------------------------

    def _entities(self) -> QuerySet:
        from kg.models import Entity

        return Entity.objects.using(self.using)

    def _aliases(self) -> QuerySet:
        from kg.models import EntityAlias

        return EntityAlias.objects.using(self.using)

    def _relations(self) -> QuerySet:
        from kg.models import Relation

        return Relation.objects.using(self.using)

    def _revisions(self) -> QuerySet:
        from kg.models import GraphRevision

        return GraphRevision.objects.using(self.using)

    def _code_point(self, field_name: str) -> Combinable:
        """``field_name`` compared by code point: SQLite does that already, PostgreSQL needs ``COLLATE "C"``."""
        if connections[self.using].vendor == "postgresql":
            return Collate(F(field_name), "C")
        return F(field_name)

    def _chunks(self, values: Sequence, *, per_item: int = 1) -> Iterator[list]:
        """Split ``IN (...)`` lists so no query binds more values than the backend allows (SQLite: 999)."""
        limit = connections[self.using].features.max_query_params or DEFAULT_PARAMS_PER_QUERY
        size = max(1, (limit - 10) // per_item)
        values = list(values)
        for start in range(0, len(values), size):
            yield values[start : start + size]

    def _entity_rows(self, entity_ids: Sequence[str], *, lock: bool = False) -> list:
        rows: list = []
        query = self._entities().select_for_update() if lock else self._entities()
        for ids in self._chunks(entity_ids):
            rows.extend(query.filter(pk__in=ids))
        return rows

    def _existing_entity_ids(self, entity_ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for ids in self._chunks(sorted(entity_ids)):
            found.update(self._entities().filter(pk__in=ids).values_list("pk", flat=True))
        return found

    def _relation_rows_by_key(self, keys: Sequence[tuple[str, str, str]], *, lock: bool = False) -> dict:
        """Existing relations for these keys, one query per chunk of keys.

        Why ``head IN (...) AND tail IN (...)`` and a filter here: the ORM spends far longer compiling
        an ``OR`` of one branch per key than the database spends on the query, and adding
        ``type IN (...)`` tempts SQLite into probing every head × type × tail combination. Both ends
        must be in the chunk, so the rows read beyond the wanted ones stay few.
        """
        rows: dict = {}
        query = self._relations().only("pk", "head_id", "type", "tail_id", *RELATION_CONTENT_FIELDS[:-1])
        query = query.select_for_update() if lock else query
        for chunk in self._chunks(keys, per_item=2):
            wanted = set(chunk)
            heads, tails = {key[0] for key in chunk}, {key[2] for key in chunk}
            for row in query.filter(head_id__in=heads, tail_id__in=tails):
                key = (row.head_id, row.type, row.tail_id)
                if key in wanted:
                    rows[key] = row
        return rows

    @contextmanager
    def _database_errors(self) -> Iterator[None]:
        try:
            yield
        except (IntegrityError, DataError):
            raise  # bad data or a concurrent writer: not an availability problem
        except DatabaseError as exc:
            raise StoreUnavailableError(self._unavailable_message(exc)) from exc

    def _unavailable_message(self, exc: Exception) -> str:
        return (
            f"The sql graph store cannot use database {self.using!r} ({exc}). Check DATABASE_URL and that the "
            "server is up, and run `python manage.py migrate` if the kg tables are missing."
        )


# --- record conversion and checks ---------------------------------------------------------


def _entity_record(row: Any) -> EntityRecord:
    return EntityRecord(
        id=row.id,
        type=row.type,
        name=row.name,
        aliases=tuple(row.aliases),
        properties=row.properties,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _relation_record(row: Any) -> RelationRecord:
    return RelationRecord(
        head=row.head_id,
        type=row.type,
        tail=row.tail_id,
        source=row.source,
        confidence=row.confidence,
        properties=row.properties,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _relation_content_key(row: Any) -> tuple:
    """``content_key()`` of a stored row without touching its (deferred) timestamps."""
    stored = RelationRecord(
        head=row.head_id,
        type=row.type,
        tail=row.tail_id,
        source=row.source,
        confidence=row.confidence,
        properties=row.properties,
    )
    return stored.content_key()


def _entity_columns(record: EntityRecord) -> dict[str, Any]:
    return {
        "type": record.type,
        "name": record.name,
        "name_lower": record.name.lower(),
        "search_text": search_text(record.name, record.aliases),
        "aliases": list(record.aliases),
        "properties": dict(record.properties),
    }


def _alias_keys(aliases: Iterable[str]) -> set[str]:
    """What the alias rows hold: each non-blank alias lower-cased (so "UK" and "uk" share a row)."""
    return {alias.lower() for alias in aliases if alias.strip()}


def _merged_aliases(kept: Any, merged: Sequence[Any]) -> list[str]:
    """Kept aliases as they are, then names and aliases of the merged rows not yet known (case-insensitive)."""
    aliases = list(kept.aliases)
    known = {kept.name.lower(), *(alias.lower() for alias in aliases)}
    for row in merged:
        for alias in (row.name, *row.aliases):
            if alias.strip() and alias.lower() not in known:
                known.add(alias.lower())
                aliases.append(alias)
    return aliases


def _fold_relations(*, into: Any, others: Sequence[Any]) -> bool:
    """Fold relations that share ``into``'s key after a merge into it; returns whether ``into`` changed.

    The most confident of them lends its source and confidence (the provenance travels with the
    number); ``into`` keeps its properties, and the others fill missing keys, most confident first.
    """
    before = (into.source, into.confidence, _canonical(into.properties))
    ranked = sorted([into, *others], key=lambda row: -row.confidence)  # stable: ties keep ``into`` first
    properties = dict(into.properties)
    for row in ranked:
        for key, value in row.properties.items():
            properties.setdefault(key, value)
    into.source, into.confidence, into.properties = ranked[0].source, ranked[0].confidence, properties
    return (into.source, into.confidence, _canonical(into.properties)) != before


def storable_entity(item: Any) -> EntityRecord:
    """An entity checked by ``validate()``, with plain tuple/dict fields the ORM can write.

    Public because the admin's form runs the same checks, so a curator sees the message on the form.
    """
    record = require_record(item, EntityRecord, "upsert_entities")
    return replace(record, aliases=tuple(record.aliases), properties=dict(record.properties))


def storable_relation(item: Any) -> RelationRecord:
    """A relation checked by ``validate()``, with a float confidence and plain dict properties (also used by the admin's form)."""
    record = require_record(item, RelationRecord, "upsert_relations")
    return replace(record, confidence=float(record.confidence), properties=dict(record.properties))


def _describe_ids(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:MISSING_IDS_SHOWN])
    more = f" and {len(ids) - MISSING_IDS_SHOWN} more" if len(ids) > MISSING_IDS_SHOWN else ""
    noun = "entity" if len(ids) == 1 else "entities"
    return f"{len(ids)} unknown {noun} ({shown}{more})"


def _counts_by_type(queryset: QuerySet) -> dict[str, int]:
    rows = queryset.order_by().values("type").annotate(count=Count("pk")).values_list("type", "count")
    return dict(sorted(rows, key=lambda pair: (-pair[1], pair[0])))
