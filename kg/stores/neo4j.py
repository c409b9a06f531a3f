"""The production knowledge-graph store, on a Neo4j 5.26 server through the official ``neo4j`` driver.

Why this shape:

* Every node carries the label ``Entity`` (one unique constraint on ``id`` covers all types) plus a
  second label equal to its type, so Cypher written by people (``MATCH (a:Artist)``) works in the
  Neo4j browser. Relationships use their real type. Both are set with dynamic labels/types
  (``$(row.type)``), so no user value is ever pasted into a Cypher string.
* Neo4j properties cannot hold maps, so free properties are kept as one canonical JSON string
  (``properties_json``); the same string doubles as the "did anything change" fingerprint, which is
  what keeps ``updated_at`` still when a loader is re-run.
* Writes go through ``UNWIND $rows ... MERGE`` in one managed transaction per batch: a batch is atomic
  and the driver retries it on transient failures, which is safe because every write is idempotent.
* The driver connects lazily; the first use checks connectivity, credentials and the database once
  and turns each failure into a one-line :class:`StoreUnavailableError` that says what to do.
* The change stamp is one node, ``(:GraphRevision {key: 'graph'})`` (not an ``Entity``: no count,
  search or scan sees it). A write that changed something ends its transaction by incrementing its
  ``revision`` and giving it a new random ``token``, so it commits or rolls back with the write;
  concurrent writers queue on that node's lock only between that last statement and their commit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import neo4j
from neo4j import GraphDatabase
from neo4j import exceptions as neo4j_errors

from core.errors import (
    ConfigurationError,
    InvalidGraphDataError,
    StoreUnavailableError,
    UnknownEntityError,
)
from kg.stores.base import (
    DEFAULT_BATCH_SIZE,
    RELATION_TYPE_PATTERN,
    DeletionResult,
    Direction,
    EntityRecord,
    GraphStats,
    KnowledgeGraphStore,
    Neighbour,
    RelationRecord,
    SearchPatterns,
    UpsertResult,
    batched,
    canonical_properties_json,
    check_direction,
    check_positive_int,
    dedupe_last,
    merge_id_list,
    require_record,
    require_record_iterable,
    search_text,
    type_filter,
)

T = TypeVar("T")

#: How many missing ids an ``UnknownEntityError`` names before it just counts the rest.
MAX_IDS_IN_ERROR = 10
#: Nodes deleted per inner transaction by :meth:`Neo4jGraphStore.clear`.
CLEAR_BATCH_SIZE = 5000
#: Bolt schemes only: the driver's HTTP transport is a preview that this project does not install.
SUPPORTED_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
HOW_TO_START = "start it with `python scripts/neo4j_local.py start` or set NEO4J_URI"

# --- schema -----------------------------------------------------------------------------------

SCHEMA_STATEMENTS = (
    "CREATE CONSTRAINT entity_id_unique IF NOT EXISTS FOR (n:Entity) REQUIRE n.id IS UNIQUE",
    # RANGE indexes serve equality, STARTS WITH and ordering (search results are ordered by name_lower).
    "CREATE INDEX entity_name_lower IF NOT EXISTS FOR (n:Entity) ON (n.name_lower)",
    "CREATE INDEX entity_type IF NOT EXISTS FOR (n:Entity) ON (n.type)",
    # A TEXT index (trigram-based) answers ``CONTAINS``, which is what search asks of ``search_text``.
    "CREATE TEXT INDEX entity_search_text IF NOT EXISTS FOR (n:Entity) ON (n.search_text)",
    # One change-stamp node; the constraint makes the writers' MERGE of it safe under concurrency.
    "CREATE CONSTRAINT graph_revision_key_unique IF NOT EXISTS FOR (n:GraphRevision) REQUIRE n.key IS UNIQUE",
)

# Nodes written before ``search_text`` existed get it on the store's first use (a few batches, once).
NODES_WITHOUT_SEARCH_TEXT = """
MATCH (n:Entity) WHERE n.search_text IS NULL AND n.id IS NOT NULL
RETURN n.id AS id, n.name AS name, n.aliases AS aliases
LIMIT $limit
"""

SET_SEARCH_TEXT = """
UNWIND $rows AS row
MATCH (n:Entity {id: row.id})
SET n.search_text = row.search_text
REMOVE n.search_keys
"""

SEARCH_TEXT_BACKFILL_BATCH = 5000

# --- Cypher (parameters only; the only dynamic parts are $(...) labels and types) --------------


def _timestamp(expr: str) -> str:
    """Epoch seconds + microseconds: the driver's own ``DateTime`` decoding costs ~0.2 ms a value."""
    return f"[{expr}.epochSeconds, {expr}.microsecond]"


def _entity_projection(var: str) -> str:
    return (
        f"{var} {{.id, .type, .name, .aliases, .properties_json, "
        f"created_at: {_timestamp(var + '.created_at')}, updated_at: {_timestamp(var + '.updated_at')}}}"
    )


# Written for the variables h, r, t used by every query that returns relations.
RELATION_PROJECTION = (
    "{head: h.id, type: type(r), tail: t.id, source: r.source, confidence: r.confidence, "
    f"properties_json: r.properties_json, created_at: {_timestamp('r.created_at')}, "
    f"updated_at: {_timestamp('r.updated_at')}}}"
)

# The type label is removed only when the type changes; an entity typed "Entity" never loses the
# base label because that label is never removed here.
UPSERT_ENTITIES = """
UNWIND $rows AS row
MERGE (n:Entity {id: row.id})
WITH n, row, n.created_at IS NULL AS is_new, n.type AS old_type,
     coalesce(n.type = row.type AND n.name = row.name AND n.aliases = row.aliases
              AND n.properties_json = row.properties_json, false) AS same
CALL (n, row, old_type, same) {
  WITH * WHERE NOT same
  FOREACH (_ IN CASE WHEN old_type IS NOT NULL AND old_type <> row.type AND old_type <> 'Entity'
                     THEN [1] ELSE [] END | REMOVE n:$(old_type))
  SET n:$(row.type),
      n.type = row.type,
      n.name = row.name,
      n.name_lower = row.name_lower,
      n.aliases = row.aliases,
      n.search_text = row.search_text,
      n.properties_json = row.properties_json,
      n.created_at = coalesce(n.created_at, $now),
      n.updated_at = $now
}
RETURN sum(CASE WHEN is_new THEN 1 ELSE 0 END) AS created,
       sum(CASE WHEN NOT is_new AND NOT same THEN 1 ELSE 0 END) AS updated,
       sum(CASE WHEN same THEN 1 ELSE 0 END) AS unchanged
"""

MISSING_ENTITY_IDS = """
UNWIND $ids AS id
OPTIONAL MATCH (n:Entity {id: id})
WITH id, n WHERE n IS NULL
RETURN collect(id) AS missing
"""

# ``replan=force``: a plan cached while the graph was empty scans every relationship per row for the
# MERGE (it looked free then), which makes the first big load quadratic. Planning each batch against
# current statistics costs milliseconds and keeps MERGE an expand between the two anchored nodes.
UPSERT_RELATIONS = """
CYPHER replan=force
UNWIND $rows AS row
MATCH (h:Entity {id: row.head})
MATCH (t:Entity {id: row.tail})
MERGE (h)-[r:$(row.type)]->(t)
WITH r, row, r.created_at IS NULL AS is_new,
     coalesce(r.source = row.source AND r.confidence = row.confidence
              AND r.properties_json = row.properties_json, false) AS same
CALL (r, row, same) {
  WITH * WHERE NOT same
  SET r.source = row.source,
      r.confidence = row.confidence,
      r.properties_json = row.properties_json,
      r.created_at = coalesce(r.created_at, row.created_at, $now),
      r.updated_at = $now
}
RETURN sum(CASE WHEN is_new THEN 1 ELSE 0 END) AS created,
       sum(CASE WHEN NOT is_new AND NOT same THEN 1 ELSE 0 END) AS updated,
       sum(CASE WHEN same THEN 1 ELSE 0 END) AS unchanged
"""

GET_ENTITIES = f"""
UNWIND $ids AS id
MATCH (n:Entity {{id: id}})
RETURN {_entity_projection("n")} AS entity
"""

GET_RELATIONS = f"""
UNWIND $keys AS key
MATCH (h:Entity {{id: key.head}})-[r:$(key.type)]->(t:Entity {{id: key.tail}})
RETURN {RELATION_PROJECTION} AS relation
"""

DELETE_RELATION = """
MATCH (h:Entity {id: $head})-[r:$($type)]->(t:Entity {id: $tail})
DELETE r
RETURN count(*) AS removed
"""

DELETE_ENTITY = """
MATCH (n:Entity {id: $id})
OPTIONAL MATCH (n)-[r]-()
WITH n, count(DISTINCT r) AS removed
DETACH DELETE n
RETURN removed
"""

# Relations touching the entities being merged; DISTINCT because an edge between two of them is
# reached from both ends.
RELATIONS_OF_ENTITIES = f"""
UNWIND $ids AS id
MATCH (:Entity {{id: id}})-[r]-(:Entity)
WITH DISTINCT r
WITH r, startNode(r) AS h, endNode(r) AS t
RETURN {RELATION_PROJECTION} AS relation
"""

DETACH_DELETE_ENTITIES = """
UNWIND $ids AS id
MATCH (n:Entity {id: id})
DETACH DELETE n
"""

# The patterns are those of ``SearchPatterns``: the text index finds the nodes containing
# ``$substring``; the CASE ranks them exactly as the sql store does, ties by the folded name (search_text).
SEARCH_ENTITIES = f"""
MATCH (n:Entity)
WHERE n.search_text CONTAINS $substring
  AND ($types IS NULL OR n.type IN $types)
WITH n, CASE WHEN n.search_text CONTAINS $exact THEN 0
             WHEN n.search_text CONTAINS $prefix THEN 1
             WHEN n.search_text CONTAINS $word_start THEN 2
             ELSE 3 END AS rank
ORDER BY rank, n.search_text, n.id
LIMIT $limit
RETURN {_entity_projection("n")} AS entity
"""

ENTITY_EXISTS = "MATCH (n:Entity {id: $id}) RETURN count(n) > 0 AS found"

NEIGHBOURS = f"""
MATCH (n:Entity {{id: $id}})
CALL (n) {{
  MATCH (n)-[r]->(m:Entity)
  WHERE $outgoing AND ($types IS NULL OR type(r) IN $types)
  RETURN r, m, 'out' AS direction, n AS h, m AS t
  UNION ALL
  MATCH (n)<-[r]-(m:Entity)
  WHERE $incoming AND ($types IS NULL OR type(r) IN $types)
  RETURN r, m, 'in' AS direction, m AS h, n AS t
}}
RETURN direction, {RELATION_PROJECTION} AS relation, {_entity_projection("m")} AS entity
ORDER BY CASE direction WHEN 'out' THEN 0 ELSE 1 END, type(r), m.id
"""

ENTITY_COUNTS = "MATCH (n:Entity) RETURN n.type AS type, count(*) AS count"
RELATION_COUNTS = "MATCH (:Entity)-[r]->(:Entity) RETURN type(r) AS type, count(*) AS count"

# Keyset pagination over heads. Why not one ORDER BY head, type, tail with a cursor: Neo4j's RANGE
# index orders strings by code point while Cypher's ``<`` and sort use UTF-16 units, so a cursor
# compared at runtime against index-ordered rows skips or repeats triples once ids hold characters
# beyond U+FFFF. A range seek ``id > $after`` stays inside the index (one consistent order, and the
# same code-point order as the sql store); type and tail are then sorted in Python. One row per
# head, heads without out-edges included, so the cursor moves past them too.
TRIPLES_OF_NEXT_HEADS = """
MATCH (h:Entity) WHERE h.id > $after
WITH h ORDER BY h.id LIMIT $heads
RETURN h.id AS head, [(h)-[r]->(t:Entity) | [type(r), t.id]] AS edges
"""

GRAPH_SIZE = """
CALL () { MATCH (n:Entity) RETURN count(n) AS entities }
CALL () { MATCH ()-[r]->() RETURN count(r) AS relations }
RETURN entities, relations
"""

# Same reasoning: the range seek on the unique index both filters and orders, consistently.
ENTITIES_PAGE = f"""
MATCH (n:Entity) WHERE n.id > $after AND ($types IS NULL OR n.type IN $types)
RETURN {_entity_projection("n")} AS entity
ORDER BY n.id
LIMIT $limit
"""

BUMP_REVISION = """
MERGE (s:GraphRevision {key: 'graph'})
SET s.revision = coalesce(s.revision, 0) + 1, s.token = randomUUID()
"""

READ_REVISION = """
OPTIONAL MATCH (s:GraphRevision {key: 'graph'})
RETURN s.revision AS revision, s.token AS token
"""

CLEAR = f"""
MATCH (n:Entity)
CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF {CLEAR_BATCH_SIZE} ROWS
"""


# --- conversions ------------------------------------------------------------------------------


def _single(result: neo4j.Result) -> neo4j.Record:
    """The one row of a query that always returns one (an aggregate, or an existence check)."""
    record = result.single()
    assert record is not None
    return record


def _to_python_datetime(value: Sequence[int | None] | None) -> datetime | None:
    """``[epoch seconds, microsecond]`` from Cypher → aware UTC ``datetime`` (Neo4j keeps ns; Python keeps µs)."""
    if not value:
        return None
    seconds, micros = value
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=micros or 0)


def _entity_from_row(row: Mapping[str, Any]) -> EntityRecord:
    return EntityRecord(
        id=row["id"],
        type=row["type"],
        name=row["name"],
        aliases=tuple(row.get("aliases") or ()),
        properties=json.loads(row.get("properties_json") or "{}"),
        created_at=_to_python_datetime(row.get("created_at")),
        updated_at=_to_python_datetime(row.get("updated_at")),
    )


def _relation_from_row(row: Mapping[str, Any]) -> RelationRecord:
    return RelationRecord(
        head=row["head"],
        type=row["type"],
        tail=row["tail"],
        source=row.get("source") or "",
        confidence=float(row["confidence"]) if row.get("confidence") is not None else 1.0,
        properties=json.loads(row.get("properties_json") or "{}"),
        created_at=_to_python_datetime(row.get("created_at")),
        updated_at=_to_python_datetime(row.get("updated_at")),
    )


def _entity_row(entity: EntityRecord) -> dict[str, Any]:
    aliases = list(entity.aliases)
    return {
        "id": entity.id,
        "type": entity.type,
        "name": entity.name,
        "name_lower": entity.name.lower(),
        "aliases": aliases,
        "search_text": search_text(entity.name, aliases),
        "properties_json": canonical_properties_json(entity.properties, owner=f"Entity {entity.id!r}"),
    }


def _relation_row(relation: RelationRecord, *, created_at: datetime | None = None) -> dict[str, Any]:
    """``created_at`` is only passed when a merge moves an edge; a loader's record never rewrites history."""
    return {
        "head": relation.head,
        "type": relation.type,
        "tail": relation.tail,
        "source": relation.source,
        "confidence": float(relation.confidence),
        "properties_json": canonical_properties_json(relation.properties, owner=f"Relation {relation.key!r}"),
        "created_at": created_at,
    }


def _describe_missing(missing: Sequence[str]) -> str:
    shown = sorted(missing)[:MAX_IDS_IN_ERROR]
    more = len(missing) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _is_relation_type(type: str) -> bool:
    """Lookups by a type no relation can have answer "not found" without asking the server (as the sql store does)."""
    return isinstance(type, str) and RELATION_TYPE_PATTERN.match(type) is not None


def _reason(exc: BaseException) -> str:
    """The useful tail of a driver message (``[Errno 111] Connection refused``), on one line."""
    text = str(getattr(exc, "message", None) or exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    last = lines[-1]
    match = re.search(r"\(reason (.+)\)$", last)
    return (match.group(1) if match else last)[:200]


class Neo4jGraphStore(KnowledgeGraphStore):
    """:class:`KnowledgeGraphStore` on a Neo4j server (``kg.store.neo4j.v1``)."""

    registry_name = "kg.store.neo4j.v1"

    def __init__(
        self,
        *,
        uri: str,
        user: str,
        password: str,
        database: str = "neo4j",
        connection_timeout: float = 5.0,
    ) -> None:
        if not isinstance(uri, str) or not uri.strip():
            raise ConfigurationError(
                "NEO4J_URI is empty; set it to the server's Bolt address, e.g. bolt://127.0.0.1:7687."
            )
        scheme = urlsplit(uri.strip()).scheme
        if scheme not in SUPPORTED_SCHEMES:
            raise ConfigurationError(
                f"NEO4J_URI={uri!r} is not a Bolt address; use a {', '.join(SUPPORTED_SCHEMES)} URI "
                "such as bolt://127.0.0.1:7687."
            )
        if not isinstance(database, str) or not database.strip():
            raise ConfigurationError("NEO4J_DATABASE is empty; set it to the database name (usually 'neo4j').")
        if (
            isinstance(connection_timeout, bool)
            or not isinstance(connection_timeout, (int, float))
            or connection_timeout <= 0
        ):
            raise ConfigurationError(
                f"connection_timeout must be a positive number of seconds, got {connection_timeout!r}."
            )
        self.uri = uri.strip()
        self.user = user
        self.database = database.strip()
        self._password = password
        self._connection_timeout = float(connection_timeout)
        self._driver: neo4j.Driver | None = None
        self._ready = False
        self._closed = False

    @classmethod
    def from_settings(cls, **overrides: Any) -> Neo4jGraphStore:
        """Build from Django settings ``NEO4J_*``; keyword overrides use the constructor's names."""
        from django.conf import settings

        options: dict[str, Any] = {
            "uri": settings.NEO4J_URI,
            "user": settings.NEO4J_USER,
            "password": settings.NEO4J_PASSWORD,
            "database": settings.NEO4J_DATABASE,
            "connection_timeout": getattr(settings, "NEO4J_CONNECTION_TIMEOUT", 5.0),
        }
        unknown = sorted(set(overrides) - set(options))
        if unknown:
            raise ConfigurationError(
                f"Unknown option(s) for the neo4j store: {', '.join(unknown)}; use {', '.join(sorted(options))}."
            )
        options.update(overrides)
        return cls(**options)

    def __repr__(self) -> str:
        return f"Neo4jGraphStore(uri={self.uri!r}, user={self.user!r}, database={self.database!r})"

    # --- connection and error handling ------------------------------------------------------

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        """Turn driver failures about reaching the server into one-line errors that say what to do."""
        try:
            yield
        except neo4j_errors.AuthError as exc:
            raise StoreUnavailableError(
                f"Neo4j at {self.uri} rejected the credentials of user {self.user!r} ({_reason(exc)}); "
                "set NEO4J_USER and NEO4J_PASSWORD."
            ) from None
        except neo4j_errors.ServiceUnavailable as exc:
            raise StoreUnavailableError(
                f"Neo4j is not reachable at {self.uri} ({_reason(exc)}); {HOW_TO_START}."
            ) from None
        except (neo4j_errors.SessionExpired, neo4j_errors.ConnectionPoolError, neo4j_errors.DatabaseUnavailable) as exc:
            raise StoreUnavailableError(
                f"Neo4j at {self.uri} stopped answering ({_reason(exc)}); check the server and retry."
            ) from None
        except neo4j_errors.ConfigurationError as exc:
            raise ConfigurationError(
                f"The Neo4j driver rejected NEO4J_URI={self.uri!r} ({_reason(exc)}); use bolt:// or neo4j:// addresses."
            ) from None
        except neo4j_errors.Neo4jError as exc:
            code = exc.code or ""
            if code == "Neo.ClientError.Database.DatabaseNotFound":
                raise StoreUnavailableError(
                    f"Neo4j at {self.uri} has no database {self.database!r}; create it or set NEO4J_DATABASE."
                ) from None
            if code.startswith("Neo.ClientError.Security."):
                raise StoreUnavailableError(
                    f"Neo4j at {self.uri} refused user {self.user!r} ({_reason(exc)}); "
                    "set NEO4J_USER and NEO4J_PASSWORD."
                ) from None
            raise

    def _get_driver(self) -> neo4j.Driver:
        if self._closed:
            raise StoreUnavailableError(f"This Neo4j store ({self.uri}) was closed; build a new one with get_store().")
        if self._driver is None:
            try:
                self._driver = GraphDatabase.driver(
                    self.uri,
                    auth=(self.user, self._password),
                    connection_timeout=self._connection_timeout,
                    # Retries cover transient errors of a live server; a dead one is caught by the
                    # connectivity check on first use, so this bound only limits a mid-run outage.
                    max_transaction_retry_time=15.0,
                    notifications_min_severity="OFF",
                )
            except (ValueError, neo4j_errors.ConfigurationError):
                raise ConfigurationError(
                    f"NEO4J_URI={self.uri!r} is not a valid Neo4j address; use e.g. bolt://127.0.0.1:7687."
                ) from None
        if not self._ready:
            with self._translate_errors():
                self._driver.verify_connectivity()
                with self._driver.session(database=self.database) as session:
                    for statement in SCHEMA_STATEMENTS:
                        session.run(statement).consume()
                    _backfill_search_text(session)
            self._ready = True
        return self._driver

    def _write(self, work: Callable[..., T], **kwargs: Any) -> T:
        driver = self._get_driver()
        with self._translate_errors(), driver.session(database=self.database) as session:
            return session.execute_write(work, **kwargs)

    def _read(self, work: Callable[..., T], **kwargs: Any) -> T:
        driver = self._get_driver()
        with self._translate_errors(), driver.session(database=self.database) as session:
            return session.execute_read(work, **kwargs)

    def _read_rows(self, cypher: str, **params: Any) -> list[neo4j.Record]:
        # list(result), not result.data(): data() re-walks every value and doubles the decoding time.
        return self._read(lambda tx: list(tx.run(cypher, params)))

    # --- writes ------------------------------------------------------------------------------

    def upsert_entities(
        self, entities: Iterable[EntityRecord], *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> UpsertResult:
        require_record_iterable(entities, EntityRecord, "upsert_entities")
        total = UpsertResult()
        for batch in batched(entities, batch_size):
            records = dedupe_last(
                [require_record(e, EntityRecord, "upsert_entities") for e in batch], key=lambda e: e.id
            )
            rows = [_entity_row(e) for e in records]
            total += self._write(_write_entities_and_bump, rows=rows, now=datetime.now(UTC))
        return total

    def upsert_relations(
        self, relations: Iterable[RelationRecord], *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> UpsertResult:
        require_record_iterable(relations, RelationRecord, "upsert_relations")
        total = UpsertResult()
        for batch in batched(relations, batch_size):
            records = dedupe_last(
                [require_record(r, RelationRecord, "upsert_relations") for r in batch], key=lambda r: r.key
            )
            rows = [_relation_row(r) for r in records]
            total += self._write(_write_relations_and_bump, rows=rows, now=datetime.now(UTC))
        return total

    def delete_relation(self, head: str, type: str, tail: str) -> bool:
        if not _is_relation_type(type):
            return False

        def work(tx: neo4j.ManagedTransaction) -> int:
            removed = _single(tx.run(DELETE_RELATION, head=head, type=type, tail=tail))["removed"]
            if removed:
                _bump_revision(tx)
            return removed

        return self._write(work) > 0

    def delete_entity(self, entity_id: str) -> DeletionResult:
        def work(tx: neo4j.ManagedTransaction) -> int | None:
            record = tx.run(DELETE_ENTITY, id=entity_id).single()
            if record is None:
                return None
            _bump_revision(tx)
            return record["removed"]

        removed = self._write(work)
        if removed is None:
            raise UnknownEntityError(f"Cannot delete entity {entity_id!r}: it is not in the graph.")
        return DeletionResult(entity_id=entity_id, relations_removed=removed)

    def merge_entities(self, *, keep_id: str, merge_ids: Sequence[str]) -> EntityRecord:
        return self._write(
            _merge_entities,
            keep_id=keep_id,
            merge_ids=merge_id_list(keep_id=keep_id, merge_ids=merge_ids),
            now=datetime.now(UTC),
        )

    def clear(self) -> None:
        driver = self._get_driver()
        # CALL ... IN TRANSACTIONS needs an auto-commit transaction, hence session.run.
        try:
            with self._translate_errors(), driver.session(database=self.database) as session:
                session.run(CLEAR).consume()
        finally:  # after the inner transactions (even a failed clear may have deleted some of them)
            self._write(_bump_revision)

    # --- reads -------------------------------------------------------------------------------

    def get_entity(self, entity_id: str) -> EntityRecord | None:
        return self.get_entities([entity_id]).get(entity_id)

    def get_entities(self, entity_ids: Iterable[str]) -> dict[str, EntityRecord]:
        if isinstance(entity_ids, str):
            raise InvalidGraphDataError(f"entity_ids must be a list of ids, got the string {entity_ids!r}.")
        ids = [i for i in dict.fromkeys(entity_ids) if isinstance(i, str)]
        if not ids:
            return {}
        rows = self._read_rows(GET_ENTITIES, ids=ids)
        return {row["entity"]["id"]: _entity_from_row(row["entity"]) for row in rows}

    def get_relation(self, head: str, type: str, tail: str) -> RelationRecord | None:
        if not _is_relation_type(type):
            return None
        rows = self._read_rows(GET_RELATIONS, keys=[{"head": head, "type": type, "tail": tail}])
        return _relation_from_row(rows[0]["relation"]) if rows else None

    def search_entities(self, query: str, *, types: Sequence[str] | None = None, limit: int = 20) -> list[EntityRecord]:
        check_positive_int("limit", limit)
        if not isinstance(query, str):
            raise InvalidGraphDataError(f"Search query must be a string, got {query!r}.")
        patterns = SearchPatterns.for_query(query)
        if patterns is None:
            return []
        rows = self._read_rows(
            SEARCH_ENTITIES,
            exact=patterns.exact,
            prefix=patterns.prefix,
            word_start=patterns.word_start,
            substring=patterns.substring,
            types=type_filter(types, "types"),
            limit=limit,
        )
        return [_entity_from_row(row["entity"]) for row in rows]

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
        query = NEIGHBOURS + (" LIMIT $limit" if limit is not None else "")
        params = {
            "id": entity_id,
            "outgoing": direction in ("out", "both"),
            "incoming": direction in ("in", "both"),
            "types": type_filter(relation_types, "relation_types"),
            "limit": limit,
        }

        def work(tx: neo4j.ManagedTransaction) -> list[neo4j.Record] | None:
            if not _single(tx.run(ENTITY_EXISTS, id=entity_id))["found"]:
                return None
            return list(tx.run(query, params))

        rows = self._read(work)
        if rows is None:
            raise UnknownEntityError(f"Entity {entity_id!r} is not in the graph, so it has no neighbours to list.")
        return [
            Neighbour(
                relation=_relation_from_row(row["relation"]),
                direction=row["direction"],
                entity=_entity_from_row(row["entity"]),
            )
            for row in rows
        ]

    def stats(self) -> GraphStats:
        def work(tx: neo4j.ManagedTransaction) -> tuple[dict[str, int], dict[str, int]]:
            entities = {row["type"]: row["count"] for row in tx.run(ENTITY_COUNTS)}
            relations = {row["type"]: row["count"] for row in tx.run(RELATION_COUNTS)}
            return entities, relations

        entities_by_type, relations_by_type = self._read(work)
        return GraphStats(
            entities=sum(entities_by_type.values()),
            relations=sum(relations_by_type.values()),
            entities_by_type=entities_by_type,
            relations_by_type=relations_by_type,
        )

    def iter_triples(self, *, batch_size: int = 10_000) -> Iterator[tuple[str, str, str]]:
        """Pages of whole heads holding about ``batch_size`` triples (one head's edges are never split).

        How many heads make a page starts from the graph's average out-degree and then follows what
        the previous page really held, so skewed degrees do not make pages balloon.
        """
        check_positive_int("batch_size", batch_size)
        size = self._read_rows(GRAPH_SIZE)[0]
        heads = max(1, batch_size * size["entities"] // max(1, size["relations"]))
        after = ""
        while True:
            rows = self._read_rows(TRIPLES_OF_NEXT_HEADS, after=after, heads=heads)
            if not rows:
                return
            triples = sorted((row["head"], type_, tail) for row in rows for type_, tail in row["edges"])
            yield from triples
            if len(rows) < heads:
                return
            after = max(row["head"] for row in rows)  # the index's code-point order is Python's
            growth = batch_size / len(triples) if triples else 4.0
            heads = max(1, min(heads * 4, int(heads * growth)))

    def iter_entities(self, *, types: Sequence[str] | None = None, batch_size: int = 10_000) -> Iterator[EntityRecord]:
        check_positive_int("batch_size", batch_size)
        after = ""
        types_wanted = type_filter(types, "types")
        while True:
            rows = self._read_rows(ENTITIES_PAGE, after=after, types=types_wanted, limit=batch_size)
            for row in rows:
                entity = _entity_from_row(row["entity"])
                after = entity.id
                yield entity
            if len(rows) < batch_size:
                return

    def change_stamp(self) -> str:
        """``"<revision>:<token>"`` of the ``GraphRevision`` node (one unique-index read); ``"0:"`` before any write."""
        row = self._read_rows(READ_REVISION)[0]
        return "0:" if row["revision"] is None else f"{row['revision']}:{row['token']}"

    # --- lifecycle ---------------------------------------------------------------------------

    def ping(self) -> None:
        self._read_rows("RETURN 1 AS ok")

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None
        self._closed = True


# --- transaction functions (each runs inside one managed transaction) -----------------------


def _backfill_search_text(session: neo4j.Session) -> None:
    """Give every node that lacks it a ``search_text`` (graphs written before substring search existed)."""
    while True:
        rows = list(session.run(NODES_WITHOUT_SEARCH_TEXT, limit=SEARCH_TEXT_BACKFILL_BATCH))
        if not rows:
            return
        updates = [
            {"id": row["id"], "search_text": search_text(row["name"] or "", row["aliases"] or [])} for row in rows
        ]
        session.execute_write(_set_search_text, rows=updates)


def _set_search_text(tx: neo4j.ManagedTransaction, *, rows: list[dict[str, str]]) -> None:
    tx.run(SET_SEARCH_TEXT, rows=rows).consume()


def _bump_revision(tx: neo4j.ManagedTransaction) -> None:
    """Move the change stamp: the last statement of a write transaction that changed the graph."""
    tx.run(BUMP_REVISION).consume()


def _write_entities_and_bump(
    tx: neo4j.ManagedTransaction, *, rows: list[dict[str, Any]], now: datetime
) -> UpsertResult:
    result = _write_entities(tx, rows=rows, now=now)
    if result.written:
        _bump_revision(tx)
    return result


def _write_relations_and_bump(
    tx: neo4j.ManagedTransaction, *, rows: list[dict[str, Any]], now: datetime
) -> UpsertResult:
    result = _write_relations(tx, rows=rows, now=now)
    if result.written:
        _bump_revision(tx)
    return result


def _write_entities(tx: neo4j.ManagedTransaction, *, rows: list[dict[str, Any]], now: datetime) -> UpsertResult:
    if not rows:
        return UpsertResult()
    record = _single(tx.run(UPSERT_ENTITIES, rows=rows, now=now))
    return UpsertResult(created=record["created"], updated=record["updated"], unchanged=record["unchanged"])


def _write_relations(tx: neo4j.ManagedTransaction, *, rows: list[dict[str, Any]], now: datetime) -> UpsertResult:
    """Check every endpoint first and raise before writing, so the batch rolls back as a whole."""
    if not rows:
        return UpsertResult()
    ids = list(dict.fromkeys(end for row in rows for end in (row["head"], row["tail"])))
    missing = _single(tx.run(MISSING_ENTITY_IDS, ids=ids))["missing"]
    if missing:
        raise UnknownEntityError(
            f"{len(missing)} relation endpoint(s) are not in the graph: {_describe_missing(missing)}; "
            "upsert those entities first (nothing from this batch was written)."
        )
    record = _single(tx.run(UPSERT_RELATIONS, rows=rows, now=now))
    result = UpsertResult(created=record["created"], updated=record["updated"], unchanged=record["unchanged"])
    if result.created + result.updated + result.unchanged != len(rows):
        # An endpoint vanished between the check and the write (a concurrent delete): roll back.
        raise UnknownEntityError(
            "An entity of this relation batch was deleted while it was written; run the load again."
        )
    return result


def _merge_entities(tx: neo4j.ManagedTransaction, *, keep_id: str, merge_ids: list[str], now: datetime) -> EntityRecord:
    found = {
        row["entity"]["id"]: _entity_from_row(row["entity"]) for row in tx.run(GET_ENTITIES, ids=[keep_id, *merge_ids])
    }
    missing = [i for i in [keep_id, *merge_ids] if i not in found]
    if missing:
        raise UnknownEntityError(f"Cannot merge: {_describe_missing(missing)} not in the graph (nothing was changed).")
    kept = found[keep_id]
    merged = [found[i] for i in merge_ids]
    merged_set = set(merge_ids)

    # Work out where every relation of a merged entity ends up, before anything is deleted.
    moved: dict[tuple[str, str, str], RelationRecord] = {}
    for row in tx.run(RELATIONS_OF_ENTITIES, ids=merge_ids):
        relation = _relation_from_row(row["relation"])
        head = keep_id if relation.head in merged_set else relation.head
        tail = keep_id if relation.tail in merged_set else relation.tail
        if head == tail == keep_id:
            continue  # a self-loop between duplicates says nothing once they are one entity
        target = RelationRecord(
            head=head,
            type=relation.type,
            tail=tail,
            source=relation.source,
            confidence=relation.confidence,
            properties=relation.properties,
            created_at=relation.created_at,
        )
        previous = moved.get(target.key)
        moved[target.key] = target if previous is None else _stronger(previous, target)

    existing = {
        r.key: r
        for r in (
            _relation_from_row(row["relation"])
            for row in tx.run(GET_RELATIONS, keys=[{"head": h, "type": t, "tail": tl} for (h, t, tl) in moved])
        )
        if r.head not in merged_set and r.tail not in merged_set
    }
    rows = []
    for key, relation in moved.items():
        final = relation if key not in existing else _stronger(existing[key], relation)
        if key in existing and final.content_key() == existing[key].content_key():
            continue
        rows.append(_relation_row(final, created_at=final.created_at))

    tx.run(DETACH_DELETE_ENTITIES, ids=merge_ids).consume()
    if rows:
        tx.run(UPSERT_RELATIONS, rows=rows, now=now).consume()

    aliases = list(kept.aliases)
    seen = {kept.name.lower(), *(a.lower() for a in aliases)}
    properties = dict(kept.properties)
    for entity in merged:
        for name in (entity.name, *entity.aliases):
            if name.strip() and name.lower() not in seen:
                seen.add(name.lower())
                aliases.append(name)
        for prop, value in entity.properties.items():
            properties.setdefault(prop, value)
    combined = EntityRecord(id=kept.id, type=kept.type, name=kept.name, aliases=tuple(aliases), properties=properties)
    _write_entities(tx, rows=[_entity_row(combined)], now=now)
    _bump_revision(tx)
    return _entity_from_row(_single(tx.run(GET_ENTITIES, ids=[keep_id]))["entity"])


def _stronger(current: RelationRecord, candidate: RelationRecord) -> RelationRecord:
    """The relation with the higher confidence wins (``current`` on a tie); the loser's extra properties are kept."""
    winner, loser = (candidate, current) if candidate.confidence > current.confidence else (current, candidate)
    properties = {**dict(loser.properties), **dict(winner.properties)}
    return RelationRecord(
        head=current.head,
        type=current.type,
        tail=current.tail,
        source=winner.source,
        confidence=winner.confidence,
        properties=properties,
        created_at=current.created_at or candidate.created_at,
    )
