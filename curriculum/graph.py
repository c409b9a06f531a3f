"""The curriculum as read from the knowledge graph: concepts with their prerequisites, tags, instruments and courses.

Why read the graph and not the file: curators edit concepts in the admin and ingestion may add
``PREREQUISITE_OF`` / ``TEACHES_CONCEPT`` edges, so the graph is the truth the learner pages must follow.
One ``neighbours`` call per concept reads every curriculum edge of it, and one per instrument reads
the instruments of its courses (:attr:`CurriculumGraph.course_instruments`), so a read costs (number of
concepts + number of instruments + 2) store calls on either backend — tens of milliseconds for the ~80
concepts — and is done fresh for every request, which is what makes paths adapt at once to progress and
curation.

A concept without curriculum data (a Concept entity a curator or ingestion added) is still part of the
graph: its level is ``None`` (it sorts in the middle, see :func:`.vocabulary.level_rank`) and it can
be a goal, a prerequisite or a next step like any other.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import ConfigurationError, LearningPathError, UnknownEntityError
from curriculum.vocabulary import (
    ASSOCIATED_TAG,
    CONCEPT_TYPE,
    CURRICULUM_PROPERTY,
    CURRICULUM_RELATION_TYPES,
    FOR_INSTRUMENT,
    LEVEL_RANK,
    PART_OF,
    PREREQUISITE_OF,
    TEACHES_CONCEPT,
    level_rank,
)
from kg.schema import INSTRUMENT_TYPE, TEACHES_INSTRUMENT
from kg.stores.base import KnowledgeGraphStore


@dataclass(frozen=True)
class CourseLink:
    """A course that teaches a concept, with the link's provenance (``matched``: the title words, if any)."""

    course_id: str
    name: str
    confidence: float
    source: str
    matched: str = ""


@dataclass(frozen=True)
class TagLink:
    tag_id: str
    name: str


@dataclass(frozen=True)
class ConceptNode:
    id: str
    name: str
    level: str | None
    description: str
    sources: tuple[Mapping[str, str], ...]
    quiz: tuple[Mapping[str, Any], ...]
    #: Concept ids, sorted: the concepts this one needs / the ones that need it.
    prerequisites: tuple[str, ...]
    dependents: tuple[str, ...]
    #: PART_OF: umbrellas this concept belongs to / the concepts that belong to it.
    broader: tuple[str, ...]
    narrower: tuple[str, ...]
    tags: tuple[TagLink, ...]
    #: Instrument entity ids; empty means "every instrument".
    instruments: tuple[str, ...]
    courses: tuple[CourseLink, ...]

    @property
    def level_rank(self) -> int:
        return level_rank(self.level)

    @property
    def in_curriculum(self) -> bool:
        """Whether the curriculum file describes it (level, description, sources), or a curator added it bare."""
        return self.level in LEVEL_RANK

    @property
    def sort_key(self) -> tuple[int, str, str]:
        """Easier first, then by name: the stable order every list of concepts uses."""
        return (self.level_rank, self.name.casefold(), self.id)


@dataclass(frozen=True)
class CurriculumGraph:
    concepts: Mapping[str, ConceptNode]
    #: Names of the instrument entities some concept is for (id -> name).
    instrument_names: Mapping[str, str] = field(default_factory=dict)
    #: Instruments each course that teaches a concept teaches (``TEACHES_INSTRUMENT``); a course of no
    #: instrument (theory, ear training) is absent.
    course_instruments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __contains__(self, concept_id: object) -> bool:
        return concept_id in self.concepts

    def concept(self, concept_id: str) -> ConceptNode:
        node = self.concepts.get(concept_id)
        if node is None:
            raise LearningPathError(
                f"{concept_id!r} is not a concept of the curriculum; list the concepts with GET /api/v1/learning/concepts/ "
                "(ids look like 'leitmotif:concept:seventh-chords')."
            )
        return node

    def ordered(self, concept_ids: Iterable[str] | None = None) -> list[ConceptNode]:
        ids = self.concepts if concept_ids is None else concept_ids
        return sorted((self.concepts[i] for i in ids if i in self.concepts), key=lambda node: node.sort_key)

    # --- look-ups other features build on (e.g. an "educational match" of artists or courses) -------

    def concepts_for_tag(self, tag_id: str) -> tuple[str, ...]:
        """Concepts associated with a Last.FM tag entity (``ASSOCIATED_TAG``), sorted."""
        return self._tag_index.get(tag_id, ())

    def concepts_for_course(self, course_id: str) -> tuple[tuple[str, float], ...]:
        """``(concept id, confidence)`` of every concept a course teaches (``TEACHES_CONCEPT``), best first."""
        return self._course_index.get(course_id, ())

    def course_fit(self, course_id: str, instrument_ids: Iterable[str]) -> int:
        """1 when the course teaches one of ``instrument_ids``, 0 when it teaches no instrument, -1 only others.

        A learner with no instrument (``instrument_ids`` empty) fits every course: 0 or 1.
        """
        taught = self.course_instruments.get(course_id, ())
        wanted = set(instrument_ids)
        if not taught:
            return 0
        if wanted & set(taught):
            return 1
        return -1 if wanted else 0

    def concepts_for_instrument(self, instrument_id: str) -> tuple[str, ...]:
        """Concepts specific to an instrument (``FOR_INSTRUMENT``); general concepts are not listed."""
        return self._instrument_index.get(instrument_id, ())

    def tag_artists(self, tag_id: str, store: KnowledgeGraphStore) -> tuple[str, ...]:
        """Artist entity ids carrying ``tag_id`` (``HAS_TAG``), memoised on this graph object.

        Why here: the cached graph object lives exactly as long as its fingerprint (which counts
        HAS_TAG edges) holds, so the memo is invalidated with it.
        """
        memo = self.__dict__.setdefault("_tag_artist_memo", {})
        found = memo.get(tag_id)
        if found is None:
            try:
                edges = store.neighbours(tag_id, direction="in", relation_types=["HAS_TAG"])
            except UnknownEntityError:  # the tag was deleted after the curriculum was read
                edges = []
            found = tuple(n.entity.id for n in edges if n.entity.type == "Artist")
            memo[tag_id] = found
        return found

    def fits_instruments(self, concept_id: str, instrument_ids: Iterable[str]) -> bool:
        """A concept fits a learner when it is general or for one of their instruments (or they named none)."""
        wanted = set(instrument_ids)
        node = self.concepts[concept_id]
        return not wanted or not node.instruments or bool(wanted & set(node.instruments))

    @property
    def _tag_index(self) -> Mapping[str, tuple[str, ...]]:
        return self._indexes()[0]

    @property
    def _course_index(self) -> Mapping[str, tuple[tuple[str, float], ...]]:
        return self._indexes()[1]

    @property
    def _instrument_index(self) -> Mapping[str, tuple[str, ...]]:
        return self._indexes()[2]

    def _indexes(self):
        cached = self.__dict__.get("_cached_indexes")
        if cached is None:
            tags: dict[str, list[str]] = defaultdict(list)
            courses: dict[str, list[tuple[str, float]]] = defaultdict(list)
            instruments: dict[str, list[str]] = defaultdict(list)
            for node in self.concepts.values():
                for tag in node.tags:
                    tags[tag.tag_id].append(node.id)
                for course in node.courses:
                    courses[course.course_id].append((node.id, course.confidence))
                for instrument in node.instruments:
                    instruments[instrument].append(node.id)
            cached = (
                {k: tuple(sorted(v)) for k, v in tags.items()},
                {k: tuple(sorted(v, key=lambda item: (-item[1], item[0]))) for k, v in courses.items()},
                {k: tuple(sorted(v)) for k, v in instruments.items()},
            )
            object.__setattr__(self, "_cached_indexes", cached)  # frozen dataclass: a private memo
        return cached


# --- the process-wide cache ---------------------------------------------------------------------

#: Seconds a cached curriculum is trusted at most (setting ``CURRICULUM_GRAPH_MAX_AGE``).
DEFAULT_MAX_AGE_SECONDS = 300.0
#: Within this many seconds of the last check the cached curriculum is returned without asking the
#: store at all (setting ``CURRICULUM_GRAPH_CHECK_INTERVAL``).
DEFAULT_CHECK_INTERVAL_SECONDS = 2.0
#: Relation types whose counts are part of the fingerprint (HAS_TAG: the artists behind a concept's tags).
FINGERPRINT_RELATION_TYPES = (*CURRICULUM_RELATION_TYPES, "HAS_TAG", TEACHES_INSTRUMENT)


@dataclass
class _CacheEntry:
    graph: CurriculumGraph
    fingerprint: tuple
    built_at: float
    checked_at: float


_CACHE: dict[str, _CacheEntry] = {}
_LOCK = threading.Lock()


def curriculum_fingerprint(store: KnowledgeGraphStore) -> tuple:
    """A cheap summary that moves when the curriculum changes: every concept's ``updated_at`` and the edge counts.

    Why not exact: the store interface has no change stamp and reading every edge is the rebuild
    itself. A concept edit moves its ``updated_at``; an added or removed prerequisite, tag, instrument,
    course or tag-assignment edge moves a count. An edit that keeps every count (one edge replaced by
    another of the same type) is picked up within :data:`DEFAULT_MAX_AGE_SECONDS`, or at once by
    :func:`curriculum_cache_clear` (the loader calls it).
    """
    concepts = tuple(
        (e.id, e.updated_at.isoformat() if e.updated_at else "") for e in store.iter_entities(types=[CONCEPT_TYPE])
    )
    counts = store.stats().relations_by_type
    return concepts, tuple((t, counts.get(t, 0)) for t in FINGERPRINT_RELATION_TYPES)


def _seconds_setting(name: str, default: float) -> float:
    from django.conf import settings

    value = getattr(settings, name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigurationError(f"settings.{name} must be a number of seconds (0 or more), got {value!r}.")
    return float(value)


def _store_key(store: KnowledgeGraphStore) -> str:
    return f"{getattr(store, 'registry_name', type(store).__name__)}|{store!r}"


def curriculum_graph(store: KnowledgeGraphStore) -> CurriculumGraph:
    """The curriculum of ``store``, cached per process and rebuilt when :func:`curriculum_fingerprint` moves.

    Why a cache: a full read is one ``neighbours`` call per concept (about a second on a busy SQLite
    graph), while the fingerprint is two cheap queries. Learner progress is never cached — only the
    curriculum's shape — so paths still adapt to progress on every request.
    """
    max_age = _seconds_setting("CURRICULUM_GRAPH_MAX_AGE", DEFAULT_MAX_AGE_SECONDS)
    interval = _seconds_setting("CURRICULUM_GRAPH_CHECK_INTERVAL", DEFAULT_CHECK_INTERVAL_SECONDS)
    key = _store_key(store)
    now = time.monotonic()
    with _LOCK:
        entry = _CACHE.get(key)
    if entry is not None and now - entry.built_at < max_age:
        if now - entry.checked_at < interval:
            return entry.graph
        fingerprint = curriculum_fingerprint(store)
        if fingerprint == entry.fingerprint:
            entry.checked_at = now
            return entry.graph
    fingerprint = curriculum_fingerprint(store)
    graph = curriculum_graph_read(store=store)
    with _LOCK:
        _CACHE[key] = _CacheEntry(graph=graph, fingerprint=fingerprint, built_at=now, checked_at=now)
    return graph


def curriculum_cache_clear() -> None:
    """Forget every cached curriculum (after a load, and between tests)."""
    with _LOCK:
        _CACHE.clear()


def _curriculum_data(properties: Mapping[str, Any]) -> Mapping[str, Any]:
    data = properties.get(CURRICULUM_PROPERTY)
    return data if isinstance(data, Mapping) else {}


def curriculum_graph_read(*, store: KnowledgeGraphStore) -> CurriculumGraph:
    """Every Concept entity with its curriculum edges, from ``store`` (sql or neo4j alike)."""
    entities = {entity.id: entity for entity in store.iter_entities(types=[CONCEPT_TYPE])}
    edges: dict[str, dict[tuple[str, str], list]] = {concept_id: defaultdict(list) for concept_id in entities}
    instrument_names: dict[str, str] = {}
    for concept_id in list(entities):
        bucket = edges[concept_id]
        try:
            found = store.neighbours(concept_id, direction="both", relation_types=list(CURRICULUM_RELATION_TYPES))
        except (
            UnknownEntityError
        ):  # deleted (by a curator) between the two reads: it is no longer part of the curriculum
            del entities[concept_id]
            continue
        for neighbour in found:
            relation, other = neighbour.relation, neighbour.entity
            kind: tuple[str, str] = (relation.type, neighbour.direction)
            if relation.type in (PREREQUISITE_OF, PART_OF):
                if other.type != CONCEPT_TYPE:
                    continue  # only concept-to-concept edges shape the curriculum
                bucket[kind].append(other.id)
            elif kind == (ASSOCIATED_TAG, "out"):
                bucket[kind].append(TagLink(tag_id=other.id, name=other.name))
            elif kind == (FOR_INSTRUMENT, "out"):
                bucket[kind].append(other.id)
                instrument_names[other.id] = other.name
            elif kind == (TEACHES_CONCEPT, "in"):
                bucket[kind].append(
                    CourseLink(
                        course_id=other.id,
                        name=other.name,
                        confidence=float(relation.confidence),
                        source=relation.source,
                        matched=str(relation.properties.get("matched", "")),
                    )
                )
    for bucket in edges.values():
        for kind in [(PREREQUISITE_OF, "in"), (PREREQUISITE_OF, "out"), (PART_OF, "in"), (PART_OF, "out")]:
            bucket[kind] = [other for other in bucket[kind] if other in entities]
    concepts: dict[str, ConceptNode] = {}
    for concept_id, entity in entities.items():
        data = _curriculum_data(entity.properties)
        bucket = edges[concept_id]
        level = data.get("level")
        concepts[concept_id] = ConceptNode(
            id=concept_id,
            name=entity.name,
            level=level if level in LEVEL_RANK else None,
            description=str(data.get("description", "")),
            sources=tuple(s for s in data.get("sources", ()) if isinstance(s, Mapping)),
            quiz=tuple(q for q in data.get("quiz", ()) if isinstance(q, Mapping)),
            prerequisites=tuple(sorted(set(bucket[(PREREQUISITE_OF, "in")]))),
            dependents=tuple(sorted(set(bucket[(PREREQUISITE_OF, "out")]))),
            broader=tuple(sorted(set(bucket[(PART_OF, "out")]))),
            narrower=tuple(sorted(set(bucket[(PART_OF, "in")]))),
            tags=tuple(sorted(set(bucket[(ASSOCIATED_TAG, "out")]), key=lambda t: (t.name.casefold(), t.tag_id))),
            instruments=tuple(sorted(set(bucket[(FOR_INSTRUMENT, "out")]))),
            courses=tuple(
                sorted(bucket[(TEACHES_CONCEPT, "in")], key=lambda c: (-c.confidence, c.name.casefold(), c.course_id))
            ),
        )
    return CurriculumGraph(
        concepts=concepts,
        instrument_names=instrument_names,
        course_instruments=_course_instruments(
            store, {link.course_id for n in concepts.values() for link in n.courses}
        ),
    )


def _course_instruments(store: KnowledgeGraphStore, course_ids: set[str]) -> dict[str, tuple[str, ...]]:
    """The instruments of ``course_ids``: one ``neighbours`` call per instrument entity (fewer than courses)."""
    found: dict[str, set[str]] = defaultdict(set)
    if not course_ids:
        return {}
    for instrument in store.iter_entities(types=[INSTRUMENT_TYPE]):
        try:
            taught_by = store.neighbours(instrument.id, direction="in", relation_types=[TEACHES_INSTRUMENT])
        except UnknownEntityError:  # deleted between the two reads
            continue
        for neighbour in taught_by:
            if neighbour.entity.id in course_ids:
                found[neighbour.entity.id].add(instrument.id)
    return {course_id: tuple(sorted(ids)) for course_id, ids in found.items()}
