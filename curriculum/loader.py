"""Load the curriculum file (concepts, prerequisites, tags, instruments, sources) into the knowledge graph.

What a load writes (see :mod:`.vocabulary` for the shapes):

* a ``Concept`` entity per file entry (``leitmotif:concept:<id>``); the course loader's 15 coarse
  concepts are *adopted*: their name and aliases stay as that loader wrote them and only the
  ``curriculum`` property is added, so both loaders agree on what they share;
* ``PREREQUISITE_OF`` (prerequisite → dependent) and ``PART_OF`` (narrower → umbrella) between concepts;
* ``ASSOCIATED_TAG`` to every Last.FM ``Tag`` entity whose folded name is one of the entry's tag names,
  and ``FOR_INSTRUMENT`` to the instrument entities the course loader made — only to entities that
  exist: the curriculum never invents tags or instruments;
* ``TEACHES_CONCEPT`` from every ``Course`` entity whose title names the concept (the graph's
  :class:`~kg.schema.matching.PhraseMatcher`, as the course loader uses it: whole words, accents and
  case folded, longest match first).

Why validation first: the whole file is parsed and checked — unknown fields, duplicate ids, unknown
prerequisites, cycles, a prerequisite harder than what it leads to, bad levels, unknown source
references — and every graph record is built and validated before anything is written. A file
problem raises :class:`~core.errors.LearningPathError` (a curriculum problem: the E050
message starts with ``path:line:`` and names the entry) or
:class:`~core.errors.DataFileError` (the file cannot be read as JSON at all).

Why re-runs write nothing: the graph store upserts compare content, so unchanged records count as
unchanged. A link someone else made with the same (head, type, tail) — a curator's prerequisite, the
course loader's TEACHES_CONCEPT — is left as it is instead of being re-sourced. Links this loader made
earlier that the file no longer supports are removed (:func:`kg.services.graph_sync`); concepts are
never deleted (a curator may have built on them), the report lists the ones the file no longer has.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from core.errors import DataFileError, LearningPathError
from curriculum.graph import curriculum_cache_clear
from curriculum.vocabulary import (
    CURRICULUM_PROPERTY,
    CURRICULUM_SOURCE,
    LEVEL_RANK,
    LEVELS,
    TITLE_MATCHING_SOURCE,
)
from kg.schema import (
    ASSOCIATED_TAG,
    CONCEPT_BLOCKERS,
    CONCEPT_TYPE,
    COURSE_TYPE,
    FOR_INSTRUMENT,
    INSTRUMENTS,
    LOOSE_CONFIDENCE,
    PART_OF,
    PREREQUISITE_OF,
    TAG_TYPE,
    TEACHES_CONCEPT,
    PhraseMatcher,
    concept_entity_id,
    instrument_entity_id,
    words,
)
from kg.services import GraphUpsertReport, OwnedRelations, graph_sync, graph_validate
from kg.stores.base import MAX_NAME_LENGTH, EntityRecord, KnowledgeGraphStore, RelationRecord

DEFAULT_CURRICULUM_PATH = Path(__file__).resolve().parent / "data" / "curriculum.json"
FILE_FORMAT = "leitmotif-curriculum"
#: A curriculum is a few hundred kilobytes; anything far larger is the wrong file.
MAX_FILE_BYTES = 5_000_000
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG_LENGTH = 100
MAX_QUIZ_CHOICES = 6

#: Relation types this loader owns; its own stale links of these types are removed on re-run.
OWNED_RELATION_TYPES = (PREREQUISITE_OF, PART_OF, ASSOCIATED_TAG, FOR_INSTRUMENT, TEACHES_CONCEPT)
OWNED_SOURCES = (CURRICULUM_SOURCE, TITLE_MATCHING_SOURCE)
#: Its own links: those types *and* its sources (a curator's prerequisite is never removed).
OWNED_RELATIONS = OwnedRelations(types=OWNED_RELATION_TYPES, sources=OWNED_SOURCES)

_TOP_LEVEL_FIELDS = {"format", "version", "description", "references", "concepts"}
_REQUIRED_CONCEPT_FIELDS = ("id", "name", "level", "description", "prerequisites", "sources")
_OPTIONAL_CONCEPT_FIELDS = ("part_of", "instruments", "tags", "aliases", "title_phrases", "loose_title_phrases", "quiz")
_REFERENCE_FIELDS = {"title", "publisher", "authors", "url", "note"}
_SOURCE_FIELDS = {"ref", "section", "grade"}
_QUIZ_FIELDS = {"question", "choices", "answer"}


# --- the parsed file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QuizQuestion:
    question: str
    choices: tuple[str, ...]
    answer: int


@dataclass(frozen=True)
class ConceptSpec:
    """One concept of the file, checked; ``line`` is where its ``"id"`` is written (for messages)."""

    slug: str
    name: str
    level: str
    description: str
    prerequisites: tuple[str, ...]
    part_of: tuple[str, ...]
    instruments: tuple[str, ...]
    tags: tuple[str, ...]
    aliases: tuple[str, ...]
    sources: tuple[dict[str, str], ...]
    title_phrases: tuple[str, ...]
    loose_title_phrases: tuple[str, ...]
    quiz: tuple[QuizQuestion, ...]
    line: int | None

    @property
    def entity_id(self) -> str:
        return concept_entity_id(self.slug)


@dataclass(frozen=True)
class CurriculumFile:
    path: Path
    version: int
    references: Mapping[str, Mapping[str, str]]
    concepts: tuple[ConceptSpec, ...]

    def by_slug(self) -> dict[str, ConceptSpec]:
        return {concept.slug: concept for concept in self.concepts}


def _problem(path: Path, line: int | None, where: str, message: str) -> LearningPathError:
    location = f"{path}:{line}: " if line is not None else f"{path}: "
    return LearningPathError(f"{location}{where}: {message}")


def _id_lines(text: str) -> dict[str, int]:
    """Line (1-based) of the first ``"id": "<slug>"`` of each concept, to point messages at the entry."""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.match(r'^\s*"id"\s*:\s*"([^"]*)"', line)
        if match and match.group(1) not in lines:
            lines[match.group(1)] = number
    return lines


def _string_list(value: Any, *, field_name: str, fail) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise fail(f"{field_name} must be a list of non-empty strings, got {value!r:.80}.")
    if len(set(value)) != len(value):
        repeated = sorted(item for item, count in Counter(value).items() if count > 1)
        raise fail(f"{field_name} lists {', '.join(map(repr, repeated))} more than once.")
    return tuple(item.strip() for item in value)


def _read_references(raw: Any, *, path: Path) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict) or not raw:
        raise _problem(path, None, "references", "must be an object mapping a short key to {title, publisher, ...}.")
    references: dict[str, dict[str, str]] = {}
    for key, value in raw.items():
        where = f"reference {key!r}"
        if not SLUG_PATTERN.match(key):
            raise _problem(
                path, None, where, "reference keys are lower-case words joined by hyphens, e.g. 'abrsm-theory'."
            )
        if not isinstance(value, dict):
            raise _problem(path, None, where, "must be an object with at least a title and a publisher.")
        unknown = sorted(set(value) - _REFERENCE_FIELDS)
        if unknown:
            raise _problem(
                path,
                None,
                where,
                f"unknown field {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(_REFERENCE_FIELDS))}.",
            )
        for required in ("title", "publisher"):
            if not isinstance(value.get(required), str) or not value[required].strip():
                raise _problem(
                    path, None, where, f"needs a non-empty {required}: cite the real work (title and publisher)."
                )
        if any(not isinstance(v, str) for v in value.values()):
            raise _problem(path, None, where, "every field must be text.")
        if "url" in value and not value["url"].startswith("https://"):
            raise _problem(path, None, where, f"url must be an https:// address, got {value['url']!r}.")
        references[key] = dict(value)
    return references


def _read_quiz(raw: Any, *, fail) -> tuple[QuizQuestion, ...]:
    if not isinstance(raw, list):
        raise fail("quiz must be a list of {question, choices, answer}.")
    questions = []
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise fail(f"quiz question {number} must be an object with question, choices and answer.")
        unknown = sorted(set(item) - _QUIZ_FIELDS)
        missing = sorted(_QUIZ_FIELDS - set(item))
        if unknown or missing:
            raise fail(
                f"quiz question {number} needs exactly question, choices and answer "
                f"({'unknown: ' + ', '.join(unknown) if unknown else 'missing: ' + ', '.join(missing)})."
            )
        if not isinstance(item["question"], str) or not item["question"].strip():
            raise fail(f"quiz question {number}: question must be non-empty text.")
        choices = item["choices"]
        if (
            not isinstance(choices, list)
            or not 2 <= len(choices) <= MAX_QUIZ_CHOICES
            or not all(isinstance(c, str) and c.strip() for c in choices)
            or len(set(choices)) != len(choices)
        ):
            raise fail(f"quiz question {number}: choices must be 2 to {MAX_QUIZ_CHOICES} different non-empty strings.")
        answer = item["answer"]
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(choices):
            raise fail(
                f"quiz question {number}: answer must be the 0-based index of the right choice (0 to {len(choices) - 1}), got {answer!r}."
            )
        questions.append(QuizQuestion(question=item["question"].strip(), choices=tuple(choices), answer=answer))
    return tuple(questions)


def _read_concept(
    raw: Any, *, number: int, path: Path, lines: Mapping[str, int], references: Mapping[str, Any]
) -> ConceptSpec:
    if not isinstance(raw, dict):
        raise _problem(
            path,
            None,
            f"concept #{number}",
            "must be an object with id, name, level, description, prerequisites and sources.",
        )
    slug = raw.get("id")
    line = lines.get(slug) if isinstance(slug, str) else None
    where = f"concept #{number} ({slug!r})" if isinstance(slug, str) else f"concept #{number}"

    def fail(message: str) -> LearningPathError:
        return _problem(path, line, where, message)

    unknown = sorted(set(raw) - set(_REQUIRED_CONCEPT_FIELDS) - set(_OPTIONAL_CONCEPT_FIELDS))
    if unknown:
        raise fail(
            f"unknown field {', '.join(map(repr, unknown))}; allowed: {', '.join(_REQUIRED_CONCEPT_FIELDS + _OPTIONAL_CONCEPT_FIELDS)}."
        )
    missing = [name for name in _REQUIRED_CONCEPT_FIELDS if name not in raw]
    if missing:
        raise fail(f"missing {', '.join(missing)}.")
    if not isinstance(slug, str) or not SLUG_PATTERN.match(slug) or len(slug) > MAX_SLUG_LENGTH:
        raise fail(
            f"id must be lower-case words joined by hyphens (at most {MAX_SLUG_LENGTH} characters), e.g. 'seventh-chords'; got {slug!r}."
        )
    name = raw["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise fail(f"name must be non-empty text of at most {MAX_NAME_LENGTH} characters.")
    level = raw["level"]
    if level not in LEVELS:
        raise fail(f"bad level {level!r}: use one of {', '.join(LEVELS)}.")
    description = raw["description"]
    if not isinstance(description, str) or not description.strip():
        raise fail("description must be non-empty text that says what the learner will be able to do.")
    prerequisites = _string_list(raw["prerequisites"], field_name="prerequisites", fail=fail)
    part_of = _string_list(raw.get("part_of", []), field_name="part_of", fail=fail)
    for listed, field_name in ((prerequisites, "prerequisites"), (part_of, "part_of")):
        if slug in listed:
            raise fail(f"{field_name} names the concept itself.")
    instruments = _string_list(raw.get("instruments", []), field_name="instruments", fail=fail)
    unknown_instruments = [i for i in instruments if i not in INSTRUMENTS]
    if unknown_instruments:
        raise fail(
            f"unknown instrument {', '.join(map(repr, unknown_instruments))}; use the course loader's instrument slugs "
            f"({', '.join(sorted(INSTRUMENTS))})."
        )
    tags = _string_list(raw.get("tags", []), field_name="tags", fail=fail)
    aliases = _string_list(raw.get("aliases", []), field_name="aliases", fail=fail)
    for alias in aliases:
        if len(alias) > MAX_NAME_LENGTH:
            raise fail(f"alias {alias[:40]!r}... is longer than {MAX_NAME_LENGTH} characters.")
    sources_raw = raw["sources"]
    if not isinstance(sources_raw, list) or not sources_raw:
        raise fail(
            "sources must be a non-empty list of {ref, section?, grade?}: cite where a public curriculum teaches it."
        )
    sources: list[dict[str, str]] = []
    for item in sources_raw:
        if not isinstance(item, dict) or not isinstance(item.get("ref"), str):
            raise fail(f"each source must be an object with a ref (one of: {', '.join(references)}), got {item!r:.80}.")
        extra = sorted(set(item) - _SOURCE_FIELDS)
        if extra:
            raise fail(f"source fields may be ref, section and grade; unknown: {', '.join(extra)}.")
        if item["ref"] not in references:
            raise fail(f"source ref {item['ref']!r} is not in the file's references ({', '.join(references)}).")
        if any(not isinstance(v, str) or not v.strip() for v in item.values()):
            raise fail(f"source {item['ref']!r}: section and grade must be non-empty text.")
        sources.append({key: value.strip() for key, value in item.items()})
    phrases = {}
    for field_name in ("title_phrases", "loose_title_phrases"):
        phrases[field_name] = _string_list(raw.get(field_name, []), field_name=field_name, fail=fail)
        for phrase in phrases[field_name]:
            if not words(phrase):
                raise fail(f"{field_name}: {phrase!r} has no words to match in a course title.")
    quiz = _read_quiz(raw.get("quiz", []), fail=fail)
    return ConceptSpec(
        slug=slug,
        name=name.strip(),
        level=level,
        description=" ".join(description.split()),
        prerequisites=prerequisites,
        part_of=part_of,
        instruments=instruments,
        tags=tags,
        aliases=aliases,
        sources=tuple(sources),
        title_phrases=phrases["title_phrases"],
        loose_title_phrases=phrases["loose_title_phrases"],
        quiz=quiz,
        line=line,
    )


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle of the directed graph ``edges`` (node -> successors) as ``[a, b, ..., a]``, or ``None``.

    Iterative depth-first search with colours, so a long chain cannot hit Python's recursion limit;
    nodes and successors are visited in sorted order, so the reported cycle is the same on every run.
    """
    white, grey, black = 0, 1, 2
    colour: dict[str, int] = defaultdict(int)
    nodes = sorted(set(edges) | {t for targets in edges.values() for t in targets})
    for start in nodes:
        if colour[start] != white:
            continue
        stack: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(edges.get(start, ()))))]
        trail = [start]
        colour[start] = grey
        while stack:
            node, successors = stack[-1]
            advanced = False
            for successor in successors:
                if colour[successor] == grey:
                    return trail[trail.index(successor) :] + [successor]
                if colour[successor] == white:
                    colour[successor] = grey
                    trail.append(successor)
                    stack.append((successor, iter(sorted(edges.get(successor, ())))))
                    advanced = True
                    break
            if not advanced:
                colour[node] = black
                trail.pop()
                stack.pop()
    return None


def read_curriculum(path: Path | str) -> CurriculumFile:
    """Parse and check the curriculum file completely; nothing is written."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DataFileError(
            "the curriculum file does not exist; pass the path of a curriculum JSON file.", path=str(path)
        ) from None
    except OSError as exc:
        raise DataFileError(f"the curriculum file cannot be read ({exc.strerror}).", path=str(path)) from None
    if path.is_dir():
        raise DataFileError("this is a directory; pass the curriculum JSON file itself.", path=str(path))
    if size > MAX_FILE_BYTES:
        raise DataFileError(
            f"the file is {size:,} bytes; a curriculum is at most {MAX_FILE_BYTES:,} bytes. Is this the right file?",
            path=str(path),
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start}).", path=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(
            f"not valid JSON: {exc.msg} (column {exc.colno}).", path=str(path), line=exc.lineno
        ) from None
    if not isinstance(data, dict):
        raise _problem(path, 1, "file", "the top level must be an object with 'references' and 'concepts'.")
    unknown = sorted(set(data) - _TOP_LEVEL_FIELDS)
    if unknown:
        raise _problem(
            path,
            None,
            "file",
            f"unknown top-level field {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(_TOP_LEVEL_FIELDS))}.",
        )
    if data.get("format", FILE_FORMAT) != FILE_FORMAT:
        raise _problem(path, None, "file", f"format must be {FILE_FORMAT!r}, got {data.get('format')!r}.")
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _problem(path, None, "file", f"version must be a positive whole number, got {version!r}.")
    references = _read_references(data.get("references"), path=path)
    raw_concepts = data.get("concepts")
    if not isinstance(raw_concepts, list) or not raw_concepts:
        raise _problem(path, None, "file", "'concepts' must be a non-empty list of concept objects.")
    lines = _id_lines(text)
    concepts: list[ConceptSpec] = []
    first: dict[str, ConceptSpec] = {}
    for number, raw in enumerate(raw_concepts, start=1):
        concept = _read_concept(raw, number=number, path=path, lines=lines, references=references)
        if concept.slug in first:
            duplicate_line = _nth_id_line(text, concept.slug, 2)
            raise _problem(
                path,
                duplicate_line,
                f"concept #{number} ({concept.slug!r})",
                f"duplicate id: {concept.slug!r} is already defined on line {first[concept.slug].line}; give each concept its own id.",
            )
        first[concept.slug] = concept
        concepts.append(concept)
    _check_links(path, concepts)
    return CurriculumFile(path=path, version=version, references=references, concepts=tuple(concepts))


def _nth_id_line(text: str, slug: str, n: int) -> int | None:
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.match(r'^\s*"id"\s*:\s*"([^"]*)"', line)
        if match and match.group(1) == slug:
            seen += 1
            if seen == n:
                return number
    return None


def _check_links(path: Path, concepts: Sequence[ConceptSpec]) -> None:
    """Unknown prerequisites or umbrellas, a harder prerequisite than its dependent, and cycles."""
    by_slug = {c.slug: c for c in concepts}
    for concept in concepts:
        where = f"concept {concept.slug!r}"
        for field_name, listed in (("prerequisite", concept.prerequisites), ("part_of", concept.part_of)):
            unknown = [slug for slug in listed if slug not in by_slug]
            if unknown:
                raise _problem(
                    path,
                    concept.line,
                    where,
                    f"unknown {field_name} {', '.join(map(repr, unknown))}: define {'it' if len(unknown) == 1 else 'them'} "
                    "as a concept in this file or fix the spelling.",
                )
        for slug in concept.prerequisites:
            prerequisite = by_slug[slug]
            if LEVEL_RANK[prerequisite.level] > LEVEL_RANK[concept.level]:
                raise _problem(
                    path,
                    concept.line,
                    where,
                    f"bad level: its prerequisite {slug!r} is {prerequisite.level} but {concept.slug!r} is {concept.level}; "
                    "a prerequisite cannot be harder than what it leads to (raise this concept's level or lower the prerequisite's).",
                )
    for relation, attribute in ((PREREQUISITE_OF, "prerequisites"), (PART_OF, "part_of")):
        edges: dict[str, list[str]] = defaultdict(list)
        for concept in concepts:
            for other in getattr(concept, attribute):
                if relation == PREREQUISITE_OF:
                    edges[other].append(concept.slug)  # prerequisite -> dependent
                else:
                    edges[concept.slug].append(other)  # narrower -> umbrella
        cycle = find_cycle(edges)
        if cycle:
            line = by_slug[cycle[0]].line
            kind = "prerequisite cycle" if relation == PREREQUISITE_OF else "part_of cycle"
            arrow = " → ".join(cycle)
            raise _problem(
                path,
                line,
                f"concept {cycle[0]!r}",
                f"{kind}: {arrow} (each arrow reads 'is needed for' / 'is part of'); remove one of these links.",
            )


# --- graph records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphState:
    """What the store already holds that the load depends on (read once, before anything is written)."""

    concepts: Mapping[str, EntityRecord]
    #: Existing relations of the owned types touching a concept, by key.
    relations: Mapping[tuple[str, str, str], RelationRecord]
    #: Folded tag name -> Tag entity ids.
    tags: Mapping[str, tuple[str, ...]]
    instruments: frozenset[str]
    #: (course entity id, title) of every Course entity.
    courses: tuple[tuple[str, str], ...]


def fold_tag_name(name: str) -> str:
    """Tag names compare as their folded words: "Blues-Rock", "blues rock" and "blues  rock" are one name."""
    return " ".join(words(name))


def graph_state_read(*, store: KnowledgeGraphStore) -> GraphState:
    concepts = {entity.id: entity for entity in store.iter_entities(types=[CONCEPT_TYPE])}
    relations: dict[tuple[str, str, str], RelationRecord] = {}
    for concept_id in concepts:
        for neighbour in store.neighbours(concept_id, direction="both", relation_types=list(OWNED_RELATION_TYPES)):
            relations[neighbour.relation.key] = neighbour.relation
    tags: dict[str, list[str]] = defaultdict(list)
    for tag in store.iter_entities(types=[TAG_TYPE]):
        tags[fold_tag_name(tag.name)].append(tag.id)
    instrument_ids = [instrument_entity_id(slug) for slug in INSTRUMENTS]
    instruments = frozenset(store.get_entities(instrument_ids))
    courses = tuple((entity.id, entity.name) for entity in store.iter_entities(types=[COURSE_TYPE]))
    return GraphState(
        concepts=concepts,
        relations=relations,
        tags={k: tuple(sorted(v)) for k, v in tags.items()},
        instruments=instruments,
        courses=courses,
    )


@dataclass
class CurriculumRecords:
    entities: list[EntityRecord]
    relations: list[RelationRecord]
    #: Wanted links left alone because someone else already made them (head, type, tail, their source).
    kept_foreign: list[tuple[str, str, str, str]]
    adopted: list[str]
    missing_tags: dict[str, list[str]]
    missing_instruments: dict[str, list[str]]
    not_in_file: list[str]
    courses_matched: int


def _curriculum_properties(concept: ConceptSpec, file: CurriculumFile, *, created: bool) -> dict[str, Any]:
    sources = []
    for source in concept.sources:
        reference = dict(file.references[source["ref"]])
        reference.update({k: v for k, v in source.items() if k != "ref"})
        reference["ref"] = source["ref"]
        sources.append(reference)
    return {
        "level": concept.level,
        "description": concept.description,
        "sources": sources,
        "quiz": [{"question": q.question, "choices": list(q.choices), "answer": q.answer} for q in concept.quiz],
        "created": created,
        "version": file.version,
    }


def concept_entity(concept: ConceptSpec, file: CurriculumFile, existing: EntityRecord | None) -> EntityRecord:
    """The entity to upsert for ``concept``, adopting one another loader made (see the module docstring).

    Rule: an entity that exists and was not created by the curriculum keeps its name and aliases (the
    course loader rewrites them on its runs; changing them here would make the two loaders undo each
    other) and gets the curriculum data added to its properties.
    """
    if existing is None or bool((existing.properties.get(CURRICULUM_PROPERTY) or {}).get("created")):  # mine
        return EntityRecord(
            id=concept.entity_id,
            type=CONCEPT_TYPE,
            name=concept.name,
            aliases=concept.aliases,
            properties={"slug": concept.slug, CURRICULUM_PROPERTY: _curriculum_properties(concept, file, created=True)},
        )
    properties = dict(existing.properties)
    properties.setdefault("slug", concept.slug)
    properties[CURRICULUM_PROPERTY] = _curriculum_properties(concept, file, created=False)
    return EntityRecord(
        id=concept.entity_id,
        type=CONCEPT_TYPE,
        name=existing.name,
        aliases=tuple(existing.aliases),
        properties=properties,
    )


def title_matcher(concepts: Sequence[ConceptSpec]) -> PhraseMatcher:
    entries: list[tuple[str, str | None, float]] = []
    for concept in concepts:
        entries.extend((phrase, concept.slug, 1.0) for phrase in concept.title_phrases)
        entries.extend((phrase, concept.slug, LOOSE_CONFIDENCE) for phrase in concept.loose_title_phrases)
    entries.extend((phrase, None, 1.0) for phrase in CONCEPT_BLOCKERS)
    return PhraseMatcher(entries)


def curriculum_records(file: CurriculumFile, state: GraphState) -> CurriculumRecords:
    """Every entity and relation the file asks for, checked against what the graph already holds."""
    entities: list[EntityRecord] = []
    adopted: list[str] = []
    for concept in file.concepts:
        existing = state.concepts.get(concept.entity_id)
        entity = concept_entity(concept, file, existing)
        if existing is not None and not entity.properties[CURRICULUM_PROPERTY]["created"]:
            adopted.append(concept.entity_id)
        entities.append(entity)

    wanted: list[RelationRecord] = []
    missing_tags: dict[str, list[str]] = {}
    missing_instruments: dict[str, list[str]] = {}
    for concept in file.concepts:
        for slug in concept.prerequisites:
            wanted.append(
                RelationRecord(
                    head=concept_entity_id(slug), type=PREREQUISITE_OF, tail=concept.entity_id, source=CURRICULUM_SOURCE
                )
            )
        for slug in concept.part_of:
            wanted.append(
                RelationRecord(
                    head=concept.entity_id, type=PART_OF, tail=concept_entity_id(slug), source=CURRICULUM_SOURCE
                )
            )
        for tag_name in concept.tags:
            tag_ids = state.tags.get(fold_tag_name(tag_name), ())
            if not tag_ids:
                missing_tags.setdefault(concept.slug, []).append(tag_name)
            for tag_id in tag_ids:
                wanted.append(
                    RelationRecord(
                        head=concept.entity_id,
                        type=ASSOCIATED_TAG,
                        tail=tag_id,
                        source=CURRICULUM_SOURCE,
                        properties={"tag_name": tag_name},
                    )
                )
        for slug in concept.instruments:
            instrument_id = instrument_entity_id(slug)
            if instrument_id not in state.instruments:
                missing_instruments.setdefault(concept.slug, []).append(slug)
                continue
            wanted.append(
                RelationRecord(
                    head=concept.entity_id, type=FOR_INSTRUMENT, tail=instrument_id, source=CURRICULUM_SOURCE
                )
            )
    matcher = title_matcher(file.concepts)
    by_slug = file.by_slug()
    matched_courses = 0
    for course_id, title in state.courses:
        matches = matcher.find(title)
        if matches:
            matched_courses += 1
        for match in matches:
            wanted.append(
                RelationRecord(
                    head=course_id,
                    type=TEACHES_CONCEPT,
                    tail=by_slug[match.target].entity_id,
                    source=TITLE_MATCHING_SOURCE,
                    confidence=match.confidence,
                    properties={"matched": match.matched},
                )
            )

    relations: list[RelationRecord] = []
    kept_foreign: list[tuple[str, str, str, str]] = []
    for relation in _dedupe(wanted):
        existing_relation = state.relations.get(relation.key)
        if existing_relation is not None and existing_relation.source not in OWNED_SOURCES:
            kept_foreign.append((*relation.key, existing_relation.source))
            continue
        relations.append(relation)
    file_ids = {concept.entity_id for concept in file.concepts}
    not_in_file = sorted(
        entity_id
        for entity_id, entity in state.concepts.items()
        if entity_id not in file_ids and isinstance(entity.properties.get(CURRICULUM_PROPERTY), dict)
    )
    return CurriculumRecords(
        entities=entities,
        relations=relations,
        kept_foreign=kept_foreign,
        adopted=adopted,
        missing_tags=missing_tags,
        missing_instruments=missing_instruments,
        not_in_file=not_in_file,
        courses_matched=matched_courses,
    )


def _dedupe(relations: Iterable[RelationRecord]) -> list[RelationRecord]:
    """One relation per key, the most confident (a title may name a concept twice, loosely and exactly)."""
    chosen: dict[tuple[str, str, str], RelationRecord] = {}
    for relation in relations:
        kept = chosen.get(relation.key)
        if kept is None or relation.confidence > kept.confidence:
            chosen[relation.key] = relation
    return list(chosen.values())


def _check_graph_cycles(file: CurriculumFile, records: CurriculumRecords, state: GraphState) -> None:
    """The file's prerequisites together with the ones already in the graph (a curator's) must stay acyclic."""
    edges: dict[str, set[str]] = defaultdict(set)
    sources: dict[tuple[str, str], str] = {}
    for (head, relation_type, tail), relation in state.relations.items():
        if relation_type == PREREQUISITE_OF and relation.source not in OWNED_SOURCES:
            edges[head].add(tail)
            sources[(head, tail)] = relation.source
    for relation in records.relations:
        if relation.type == PREREQUISITE_OF:
            edges[relation.head].add(relation.tail)
    cycle = find_cycle(edges)
    if cycle:
        foreign = [f"{a} → {b} (source {sources[(a, b)]!r})" for a, b in zip(cycle, cycle[1:]) if (a, b) in sources]
        raise LearningPathError(
            f"{file.path}: the file's prerequisites together with links already in the graph form a cycle: "
            f"{' → '.join(cycle)}. Links made outside this file: {'; '.join(foreign) or 'none'}. Remove one link "
            "(in the curator admin or in the file) and load again."
        )


# --- the service ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurriculumLoadReport:
    path: Path
    backend: str
    concepts: int
    levels: dict[str, int]
    adopted: int
    relations_by_type: dict[str, int]
    graph: GraphUpsertReport
    removed_relations: int
    kept_foreign: int
    missing_tags: dict[str, list[str]]
    missing_instruments: dict[str, list[str]]
    not_in_file: list[str]
    courses_matched: int
    quiz_questions: int
    references: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def created(self) -> int:
        return self.graph.entities.created + self.graph.relations.created

    @property
    def updated(self) -> int:
        return self.graph.entities.updated + self.graph.relations.updated

    @property
    def written(self) -> int:
        return self.graph.written + self.removed_relations


def curriculum_load(
    path: Path | str = DEFAULT_CURRICULUM_PATH, *, store: KnowledgeGraphStore, progress: bool = True
) -> CurriculumLoadReport:
    """Validate the file and the graph state, then upsert the curriculum into ``store`` and prune its own stale links.

    Order and why: the file is checked completely, the store is asked what it holds, every record is
    built and validated and the combined prerequisite graph is checked for cycles — all before the
    first write, so a bad file or an unreachable store changes nothing. Then
    :func:`kg.services.graph_sync` upserts (idempotent atomic batches; an interrupted run is finished
    by running it again) and removes this loader's own links, around the concepts the graph held, that
    the file no longer supports.
    """
    path = Path(path)
    with tqdm(total=4, desc="Curriculum", unit="step", disable=not progress) as bar:
        file = read_curriculum(path)
        bar.update()
        store.ping()
        state = graph_state_read(store=store)
        records = curriculum_records(file, state)
        graph_validate(entities=records.entities, relations=records.relations)
        _check_graph_cycles(file, records, state)
        bar.update()
        graph = graph_sync(
            store=store,
            entities=records.entities,
            relations=records.relations,
            owned=OWNED_RELATIONS,
            around=list(state.concepts),
            progress=progress,
            description="Curriculum",
        )
        bar.update()
        curriculum_cache_clear()
        bar.update()
    warnings = []
    if records.missing_instruments:
        warnings.append(
            "instruments not in the graph, so not linked (the course loader makes an instrument entity only when a "
            "course teaches it; run `python manage.py load_courses` first): "
            + ", ".join(sorted({i for items in records.missing_instruments.values() for i in items}))
        )
    if not state.courses:
        warnings.append(
            "the graph has no Course entities, so no course was linked (run `python manage.py load_courses`)."
        )
    if not state.tags:
        warnings.append("the graph has no Tag entities, so no tag was linked (run `python manage.py load_lastfm`).")
    return CurriculumLoadReport(
        path=path,
        backend=getattr(store, "registry_name", type(store).__name__),
        concepts=len(file.concepts),
        levels=dict(Counter(concept.level for concept in file.concepts)),
        adopted=len(records.adopted),
        relations_by_type=dict(sorted(Counter(relation.type for relation in records.relations).items())),
        graph=graph.upserted,
        removed_relations=graph.removed_relations,
        kept_foreign=len(records.kept_foreign),
        missing_tags=records.missing_tags,
        missing_instruments=records.missing_instruments,
        not_in_file=records.not_in_file,
        courses_matched=records.courses_matched,
        quiz_questions=sum(len(concept.quiz) for concept in file.concepts),
        references=len(file.references),
        warnings=warnings,
    )
