"""Load the Udemy "Musical Instruments" course catalogue into catalog.Course and link it into the graph.

What a load does (interface 1 in the team's agreed interfaces):

* every course becomes a ``Course`` row and a graph entity ``udemy:course:<course_id>`` (name = title);
* ``Course -HAS_LEVEL-> leitmotif:level:<beginner|intermediate|expert|all>`` from the ``level`` column;
* by name matching in the title: ``-TEACHES_INSTRUMENT-> leitmotif:instrument:<slug>``,
  ``-COVERS_TAG-> lastfm:tag:<id>`` (an existing Last.FM tag that is a curated genre) and
  ``-TEACHES_CONCEPT-> leitmotif:concept:<slug>``;
* instrument-named Last.FM tags (``piano``, ``acoustic guitar``) get ``-ABOUT_INSTRUMENT->`` their
  instrument, so a listener reaches instrument courses through the tags of the artists they play.

What is matched and how lives in :mod:`kg.schema` (the graph's vocabulary, shared with the works loader
and the curriculum): the curated instrument, concept and genre terms (:mod:`kg.schema.terms`) and
whole-word phrase matching, longest match first (:mod:`kg.schema.matching`). Only Last.FM tags that
name a curated genre and are used by at least :data:`MIN_GENRE_TAG_ARTISTS` artists are linked, so a
link always leads to a few real artists. A synonym (``keyboard`` -> piano) gets
:data:`~kg.schema.terms.LOOSE_CONFIDENCE` instead of 1.0; each relation records the words it matched
in ``properties["matched"]`` so the explainer can say why.

Upstream data quirk: four records of the file hold two courses each. A course's title swallowed the
row after it (``<title1>",<url>,true,115,...,2014-01-27T20:58:16Z\\n<id>,<title2>"``) while the
record's other columns belong to that second course. :func:`split_merged_record` recovers both (the
first course's values are in the embedded text, with durations such as "43 mins"), so the 680 records
yield 684 courses. A title that looks merged but cannot be split is an error, not silently kept.

Why validation first and how re-runs behave (as in :mod:`ingestion.loaders.lastfm`): every row is
parsed and checked and every graph record built and validated before anything is written; a bad row
raises :class:`~core.errors.DataFileError` naming the file and the 1-based line. The
catalog is written in one transaction by compare-and-write, then :func:`kg.services.graph_sync` upserts
the graph and removes the links this loader made earlier that the data no longer supports, so a second
run changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from tqdm.auto import tqdm

from catalog.models import Course
from core.errors import DataFileError
from kg.schema import (
    ABOUT_INSTRUMENT,
    CONCEPT_TYPE,
    CONCEPTS,
    COURSE_TYPE,
    COVERS_TAG,
    HAS_LEVEL,
    HAS_TAG,
    INSTRUMENTS,
    LEVEL_TYPE,
    TAG_PREFIX,
    TAG_TYPE,
    TEACHES_CONCEPT,
    TEACHES_INSTRUMENT,
    Match,
    concept_entity_id,
    concepts_in,
    course_entity_id,
    genre_of_tag,
    genres_in,
    instrument_entity_id,
    instrument_of_tag,
    instrument_record,
    instruments_in,
    level_entity_id,
    term_aliases,
)
from kg.services import GraphUpsertReport, OwnedRelations, graph_sync, graph_validate
from kg.stores.base import EntityRecord, KnowledgeGraphStore, RelationRecord, UpsertResult

DEFAULT_RELATIVE_PATH = Path("udemy-courses") / "udemy_courses_musical_instruments.csv"

#: Provenance of every link found by matching names (interface 1).
MATCHING_SOURCE = "udemy-courses/name-matching"
#: Provenance of the level link: a column of the file, not a guess, hence its own source.
LEVEL_SOURCE = "udemy-courses"
#: The relations this loader owns; its stale ones are removed on re-run (never a curator's: other source).
OWNED_RELATIONS = OwnedRelations(
    types=(HAS_LEVEL, TEACHES_INSTRUMENT, COVERS_TAG, TEACHES_CONCEPT, ABOUT_INSTRUMENT),
    sources=(MATCHING_SOURCE, LEVEL_SOURCE),
)

COLUMNS = (
    "course_id",
    "course_title",
    "url",
    "is_paid",
    "price",
    "num_subscribers",
    "num_reviews",
    "num_lectures",
    "level",
    "content_duration",
    "published_timestamp",
    "subject",
)
#: The loader is for the music subset; the all-subjects file would put finance courses in a music app.
MUSIC_SUBJECT = "Musical Instruments"

#: File value -> ``Course.Level`` value.
LEVELS: Mapping[str, str] = {
    "Beginner Level": Course.Level.BEGINNER,
    "Intermediate Level": Course.Level.INTERMEDIATE,
    "Expert Level": Course.Level.EXPERT,
    "All Levels": Course.Level.ALL,
}
LEVEL_NAMES: Mapping[str, str] = {value: str(label) for value, label in Course.Level.choices}

#: A Last.FM genre tag needs this many artists before courses link to it: a tag on one or two artists
#: is a personal label more often than a genre, and a link to it would lead almost nowhere.
MIN_GENRE_TAG_ARTISTS = 3


def _max_length(field: models.Field) -> int:
    """``max_length`` of a character field (always set on a CharField)."""
    assert field.max_length is not None
    return field.max_length


MAX_TITLE_LENGTH = _max_length(Course._meta.get_field("title"))
MAX_URL_LENGTH = _max_length(Course._meta.get_field("url"))
MAX_SUBJECT_LENGTH = _max_length(Course._meta.get_field("subject"))
_PRICE_FIELD = Course._meta.get_field("price")
MAX_PRICE = Decimal(10) ** (_PRICE_FIELD.max_digits - _PRICE_FIELD.decimal_places) - Decimal("0.01")
_POSITIVE_INT_MAX = 2_147_483_647  # PositiveIntegerField on PostgreSQL


# --- parsing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseRow:
    """One course, parsed and checked; ``line`` is where its record starts in the file."""

    udemy_id: int
    title: str
    url: str
    is_paid: bool
    price: Decimal
    subscribers: int
    reviews: int
    lectures: int
    level: str
    duration_hours: float
    published_at: dt.datetime
    subject: str
    line: int
    #: True for the courses recovered from a merged record (see :func:`split_merged_record`).
    recovered: bool = False


def _fail(path: Path, line: int | None, message: str) -> DataFileError:
    return DataFileError(message, path=str(path), line=line)


def _count(text: str, *, column: str, path: Path, line: int) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit():
        if value.startswith("-") and value[1:].isdigit():
            raise _fail(path, line, f"column {column!r} must not be negative, found {value}.")
        raise _fail(path, line, f"column {column!r} must be a whole number, found {text!r}.")
    number = int(value)
    if number > _POSITIVE_INT_MAX:
        raise _fail(path, line, f"column {column!r} is too large ({number}).")
    return number


def _price(text: str, *, path: Path, line: int) -> Decimal:
    value = text.strip()
    if value.casefold() == "free":
        return Decimal(0)
    try:
        price = Decimal(value)
    except InvalidOperation:
        raise _fail(path, line, f"column 'price' must be a number such as 20 or 19.99, found {text!r}.") from None
    if not price.is_finite() or price < 0:
        raise _fail(path, line, f"column 'price' must be a number of at least 0, found {text!r}.")
    if price != price.quantize(Decimal("0.01")):
        raise _fail(path, line, f"column 'price' has more than 2 decimal places: {text!r}.")
    if price > MAX_PRICE:
        raise _fail(path, line, f"column 'price' is above {MAX_PRICE}: {text!r}.")
    return price.quantize(Decimal("0.01"))


def _boolean(text: str, *, column: str, path: Path, line: int) -> bool:
    value = text.strip().casefold()
    if value in {"true", "false"}:
        return value == "true"
    raise _fail(path, line, f"column {column!r} must be True or False, found {text!r}.")


def _level(text: str, *, path: Path, line: int) -> str:
    try:
        return LEVELS[text.strip()]
    except KeyError:
        allowed = ", ".join(repr(k) for k in LEVELS)
        raise _fail(path, line, f"column 'level' must be one of {allowed}, found {text!r}.") from None


def _hours(text: str, *, path: Path, line: int) -> float:
    """``content_duration`` in hours (``2.5``); merged records spell it ``43 mins`` or ``2 hours``."""
    value = text.strip()
    spelled = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(hours?|mins?)", value, flags=re.IGNORECASE)
    if spelled:
        number = float(spelled.group(1))
        hours = number / 60 if spelled.group(2).lower().startswith("min") else number
        return round(hours, 2)
    try:
        hours = float(value)
    except ValueError:
        raise _fail(
            path, line, f"column 'content_duration' must be a number of hours such as 1.5, found {text!r}."
        ) from None
    if not math.isfinite(hours) or hours < 0:
        raise _fail(path, line, f"column 'content_duration' must be a number of hours of at least 0, found {text!r}.")
    return hours


def _timestamp(text: str, *, path: Path, line: int) -> dt.datetime:
    value = text.strip()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _fail(
            path,
            line,
            f"column 'published_timestamp' must be an ISO 8601 time such as 2015-12-21T18:50:50Z, found {text!r}.",
        ) from None
    if moment.tzinfo is None:
        raise _fail(
            path, line, f"column 'published_timestamp' must carry a time zone (e.g. a final Z), found {text!r}."
        )
    return moment.astimezone(dt.UTC)


def _title(text: str, *, path: Path, line: int) -> str:
    title = " ".join(text.split())  # one space between words; no line breaks in a title
    if not title:
        raise _fail(path, line, "column 'course_title' is empty.")
    if len(title) > MAX_TITLE_LENGTH:
        raise _fail(path, line, f"column 'course_title' is longer than {MAX_TITLE_LENGTH} characters ({len(title)}).")
    if "\x00" in title:
        raise _fail(path, line, "column 'course_title' contains a NUL character (\\x00).")
    return title


def _url(text: str, *, path: Path, line: int) -> str:
    url = text.strip()
    if url and not re.fullmatch(r"https?://[^\s]+", url):
        raise _fail(path, line, f"column 'url' must be an http(s) address, found {text!r}.")
    if len(url) > MAX_URL_LENGTH:
        raise _fail(path, line, f"column 'url' is longer than {MAX_URL_LENGTH} characters ({len(url)}).")
    return url


_MERGED_RECORD = re.compile(
    r"""^(?P<title>.*?)",(?P<url>https?://[^,\s]+),(?P<is_paid>[^,]*),(?P<price>[^,]*),(?P<subscribers>[^,]*),
        (?P<reviews>[^,]*),(?P<lectures>[^,]*),(?P<level>[^,]*),(?P<duration>[^,]*),(?P<published>[^,\r\n]*)\r?\n
        (?P<next_id>\d+),(?P<next_title>.*?)"?$""",
    flags=re.DOTALL | re.VERBOSE,
)


def split_merged_record(title: str) -> tuple[str, dict[str, str], str, str] | None:
    """``(first title, first course's columns, second course id, second title)`` for a merged record.

    Four records of the upstream file hold two courses: the first course's row lost its closing quote,
    so its title runs on over its own columns and the next row's id and title. The record's remaining
    columns are the second course's. Returns ``None`` for an ordinary title.
    """
    if '",http' not in title:
        return None
    merged = _MERGED_RECORD.match(title)
    if merged is None:
        return None
    first_title = merged["title"]
    if " '" in first_title and not first_title.rstrip().endswith("'"):
        first_title = first_title.rstrip() + "'"  # the quote that opened "'Study in B minor" lost its pair
    columns = {
        name: merged[name]
        for name in ("url", "is_paid", "price", "subscribers", "reviews", "lectures", "level", "duration", "published")
    }
    return first_title, columns, merged["next_id"], merged["next_title"]


def _course(values: Mapping[str, str], *, path: Path, line: int, title: str, recovered: bool = False) -> CourseRow:
    subject = values["subject"].strip()
    if subject != MUSIC_SUBJECT:
        raise _fail(
            path,
            line,
            f"column 'subject' is {subject!r}, not {MUSIC_SUBJECT!r}: this loader takes the music subset "
            f"({DEFAULT_RELATIVE_PATH.name}), not other subjects.",
        )
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise _fail(path, line, f"column 'subject' is longer than {MAX_SUBJECT_LENGTH} characters.")
    udemy_id = _count(values["course_id"], column="course_id", path=path, line=line)
    if udemy_id == 0:
        raise _fail(path, line, "column 'course_id' must be a positive whole number, found 0.")
    return CourseRow(
        udemy_id=udemy_id,
        title=_title(title, path=path, line=line),
        url=_url(values["url"], path=path, line=line),
        is_paid=_boolean(values["is_paid"], column="is_paid", path=path, line=line),
        price=_price(values["price"], path=path, line=line),
        subscribers=_count(values["num_subscribers"], column="num_subscribers", path=path, line=line),
        reviews=_count(values["num_reviews"], column="num_reviews", path=path, line=line),
        lectures=_count(values["num_lectures"], column="num_lectures", path=path, line=line),
        level=_level(values["level"], path=path, line=line),
        duration_hours=_hours(values["content_duration"], path=path, line=line),
        published_at=_timestamp(values["published_timestamp"], path=path, line=line),
        subject=subject,
        line=line,
        recovered=recovered,
    )


def _decoded(path: Path) -> str:
    if not path.is_file():
        hint = "it is a directory" if path.is_dir() else "it does not exist"
        raise _fail(
            path, None, f"expected the course CSV here but {hint}; pass --file (see section 8 of the data README)."
        )
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _fail(path, line, f"not valid UTF-8 ({exc.reason} at byte {exc.start}).") from None


def read_courses(path: Path) -> list[CourseRow]:
    """Parse and validate the whole CSV; raises :class:`DataFileError` naming file and line at the first problem.

    Why the csv module: titles may hold quoted commas and line breaks, so a record can span lines; the
    line reported is the one where the bad record starts.
    """
    path = Path(path)
    reader = csv.reader(io.StringIO(_decoded(path), newline=""), strict=True)
    end_of_previous = 0
    try:
        header = next(reader, None)
        if header is None:
            raise _fail(path, 1, f"the file is empty; expected the header {','.join(COLUMNS)}.")
        header = [name.strip() for name in header]
        missing = [name for name in COLUMNS if name not in header]
        if missing:
            raise _fail(path, 1, f"the header lacks the column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}.")
        duplicated = sorted({name for name in header if header.count(name) > 1})
        if duplicated:
            raise _fail(path, 1, f"the header repeats the column(s) {', '.join(duplicated)}.")
        position = {name: header.index(name) for name in COLUMNS}

        courses: list[CourseRow] = []
        first_line: dict[int, int] = {}
        end_of_previous = reader.line_num
        for record in reader:
            line = end_of_previous + 1
            end_of_previous = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                raise _fail(path, line, f"expected {len(header)} comma-separated columns, found {len(record)}.")
            values = {name: record[index] for name, index in position.items()}
            merged = split_merged_record(values["course_title"])
            if merged is None:
                if '",http' in values["course_title"]:
                    raise _fail(
                        path,
                        line,
                        "column 'course_title' holds what looks like another CSV row (a quote followed by "
                        "a url) but it could not be split into two courses; fix the quoting of this record.",
                    )
                rows = [_course(values, path=path, line=line, title=values["course_title"])]
            else:
                first_title, embedded, next_id, next_title = merged
                first_values = {
                    "course_id": values["course_id"],
                    "url": embedded["url"],
                    "is_paid": embedded["is_paid"],
                    "price": embedded["price"],
                    "num_subscribers": embedded["subscribers"],
                    "num_reviews": embedded["reviews"],
                    "num_lectures": embedded["lectures"],
                    "level": embedded["level"],
                    "content_duration": embedded["duration"],
                    "published_timestamp": embedded["published"],
                    "subject": values["subject"],
                }
                rows = [
                    _course(first_values, path=path, line=line, title=first_title, recovered=True),
                    _course({**values, "course_id": next_id}, path=path, line=line, title=next_title, recovered=True),
                ]
            for row in rows:
                if row.udemy_id in first_line:
                    raise _fail(
                        path,
                        line,
                        f"duplicate course_id {row.udemy_id} (first seen on line {first_line[row.udemy_id]}).",
                    )
                first_line[row.udemy_id] = line
                courses.append(row)
    except csv.Error as exc:
        raise _fail(
            path,
            end_of_previous + 1,
            f"not a well-formed CSV record ({exc}); check the quotes of the record starting here.",
        ) from None
    if not courses:
        raise _fail(path, None, "the file has a header but no course rows.")
    return courses


# --- matching against the graph --------------------------------------------------------------------


@dataclass(frozen=True)
class GenreTag:
    entity_id: str
    name: str
    artists: int


@dataclass(frozen=True)
class TagVocabulary:
    """What the graph offers to link to: Last.FM genre tags by genre key, instrument-named tags."""

    genre_tags: Mapping[str, tuple[GenreTag, ...]]
    #: (tag entity id, tag name, instrument match) for tags about one instrument.
    instrument_tags: tuple[tuple[str, str, Match], ...]


def tag_vocabulary_read(*, store: KnowledgeGraphStore, min_artists: int = MIN_GENRE_TAG_ARTISTS) -> TagVocabulary:
    """Read the Last.FM tags of ``store`` and keep the genre tags used by ``min_artists`` artists or more.

    Why count artists per candidate and not for all 4,000 tags: only names that fold to a curated genre
    are candidates (a few dozen), so a ``neighbours`` call each stays cheap on both backends.
    """
    genre_tags: dict[str, list[GenreTag]] = defaultdict(list)
    instrument_tags: list[tuple[str, str, Match]] = []
    for tag in store.iter_entities(types=[TAG_TYPE]):
        if not tag.id.startswith(TAG_PREFIX):
            continue
        genre = genre_of_tag(tag.name)
        if genre is not None:
            artists = len(store.neighbours(tag.id, direction="in", relation_types=[HAS_TAG]))
            if artists >= min_artists:
                genre_tags[genre].append(GenreTag(tag.id, tag.name, artists))
        instrument = instrument_of_tag(tag.name)
        if instrument is not None:
            instrument_tags.append((tag.id, tag.name, instrument))
    return TagVocabulary(
        genre_tags={key: tuple(sorted(tags, key=lambda t: t.entity_id)) for key, tags in sorted(genre_tags.items())},
        instrument_tags=tuple(sorted(instrument_tags, key=lambda item: item[0])),
    )


@dataclass(frozen=True)
class CourseLinks:
    """What one title was matched to (genre matches only for genres with a tag in the graph)."""

    instruments: tuple[Match, ...]
    genres: tuple[Match, ...]
    concepts: tuple[Match, ...]


def course_links(title: str, *, vocabulary: TagVocabulary) -> CourseLinks:
    genres = tuple(m for m in genres_in(title) if m.target in vocabulary.genre_tags)
    return CourseLinks(instruments=tuple(instruments_in(title)), genres=genres, concepts=tuple(concepts_in(title)))


@dataclass(frozen=True)
class GraphRecords:
    entities: list[EntityRecord]
    relations: list[RelationRecord]


def course_graph_records(
    *, courses: Sequence[CourseRow], vocabulary: TagVocabulary
) -> tuple[GraphRecords, dict[int, CourseLinks]]:
    """Course, Level, Instrument and Concept entities and every relation of interface 1.

    Instrument and Concept entities are made only when something links to them, so the graph holds no
    orphan vocabulary; the four Level entities always exist (they are the catalogue's level choices).
    """
    links = {course.udemy_id: course_links(course.title, vocabulary=vocabulary) for course in courses}
    entities: list[EntityRecord] = [
        EntityRecord(id=level_entity_id(level), type=LEVEL_TYPE, name=name, properties={"level": level})
        for level, name in LEVEL_NAMES.items()
    ]
    relations: list[RelationRecord] = []
    instruments_used: set[str] = set()
    concepts_used: set[str] = set()
    for course in courses:
        course_id = course_entity_id(course.udemy_id)
        entities.append(
            EntityRecord(
                id=course_id,
                type=COURSE_TYPE,
                name=course.title,
                properties={
                    "udemy_id": course.udemy_id,
                    "level": course.level,
                    "url": course.url,
                    "is_paid": course.is_paid,
                    "price": float(course.price),
                    "subscribers": course.subscribers,
                    "reviews": course.reviews,
                    "lectures": course.lectures,
                    "duration_hours": course.duration_hours,
                    "published_at": course.published_at.isoformat(),
                    "subject": course.subject,
                },
            )
        )
        relations.append(
            RelationRecord(
                head=course_id, type=HAS_LEVEL, tail=level_entity_id(course.level), source=LEVEL_SOURCE, confidence=1.0
            )
        )
        found = links[course.udemy_id]
        for match in found.instruments:
            instruments_used.add(match.target)
            relations.append(_matched(course_id, TEACHES_INSTRUMENT, instrument_entity_id(match.target), match))
        for match in found.genres:
            for tag in vocabulary.genre_tags[match.target]:
                relations.append(_matched(course_id, COVERS_TAG, tag.entity_id, match))
        for match in found.concepts:
            concepts_used.add(match.target)
            relations.append(_matched(course_id, TEACHES_CONCEPT, concept_entity_id(match.target), match))
    for tag_id, _tag_name, match in vocabulary.instrument_tags:
        instruments_used.add(match.target)
        relations.append(_matched(tag_id, ABOUT_INSTRUMENT, instrument_entity_id(match.target), match))
    entities.extend(instrument_record(slug, INSTRUMENTS[slug]) for slug in sorted(instruments_used))
    entities.extend(
        EntityRecord(
            id=concept_entity_id(slug),
            type=CONCEPT_TYPE,
            name=CONCEPTS[slug].name,
            aliases=term_aliases(CONCEPTS[slug]),
            properties={"slug": slug},
        )
        for slug in sorted(concepts_used)
    )
    return GraphRecords(entities=entities, relations=relations), links


def _matched(head: str, relation_type: str, tail: str, match: Match) -> RelationRecord:
    return RelationRecord(
        head=head,
        type=relation_type,
        tail=tail,
        source=MATCHING_SOURCE,
        confidence=match.confidence,
        properties={"matched": match.matched},
    )


# --- catalog ---------------------------------------------------------------------------------------

_COURSE_FIELDS = (
    "title",
    "url",
    "is_paid",
    "price",
    "subscribers",
    "reviews",
    "lectures",
    "level",
    "duration_hours",
    "published_at",
    "subject",
    "entity_id",
)


def _catalog_values(course: CourseRow) -> tuple:
    return (
        course.title,
        course.url,
        course.is_paid,
        course.price,
        course.subscribers,
        course.reviews,
        course.lectures,
        course.level,
        course.duration_hours,
        course.published_at,
        course.subject,
        course_entity_id(course.udemy_id),
    )


def courses_catalog_write(*, courses: Sequence[CourseRow]) -> UpsertResult:
    """Compare-and-write the courses (keyed by ``udemy_id``) in one transaction.

    Why compare first: ``updated_at`` must move only when a value really changed, so a re-run reports
    0 created and 0 updated. Courses not in the file (added by curators) are left alone.
    """
    now = timezone.now()
    with transaction.atomic():
        existing = {
            row[0]: (row[1], tuple(row[2:]))
            for row in Course.objects.filter(udemy_id__isnull=False).values_list("udemy_id", "pk", *_COURSE_FIELDS)
        }
        to_create: list[Course] = []
        to_update: list[Course] = []
        unchanged = 0
        for course in courses:
            values = _catalog_values(course)
            found = existing.get(course.udemy_id)
            if found is None:
                to_create.append(Course(udemy_id=course.udemy_id, **dict(zip(_COURSE_FIELDS, values))))
            elif found[1] != values:
                to_update.append(Course(pk=found[0], updated_at=now, **dict(zip(_COURSE_FIELDS, values))))
            else:
                unchanged += 1
        Course.objects.bulk_create(to_create, batch_size=500)
        if to_update:
            Course.objects.bulk_update(to_update, [*_COURSE_FIELDS, "updated_at"], batch_size=500)
    return UpsertResult(created=len(to_create), updated=len(to_update), unchanged=unchanged)


# --- the service -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseCounts:
    """What the data holds and how much of it got linked (whether or not it was already stored)."""

    records: int
    courses: int
    recovered: int
    with_instrument: int
    with_tag: int
    with_concept: int
    with_any_link: int
    levels: dict[str, int]
    instruments: dict[str, int]
    genres: dict[str, int]
    concepts: dict[str, int]
    tag_instrument_links: int
    entities_by_type: dict[str, int]
    relations_by_type: dict[str, int]


@dataclass(frozen=True)
class CoursesLoadReport:
    path: Path
    counts: CourseCounts
    catalog: UpsertResult
    graph: GraphUpsertReport
    removed_relations: int
    backend: str

    @property
    def created(self) -> int:
        return self.catalog.created + self.graph.entities.created + self.graph.relations.created

    @property
    def updated(self) -> int:
        return self.catalog.updated + self.graph.entities.updated + self.graph.relations.updated

    @property
    def written(self) -> int:
        return self.created + self.updated + self.removed_relations


def _counts(
    courses: Sequence[CourseRow], links: Mapping[int, CourseLinks], records: GraphRecords, vocabulary: TagVocabulary
) -> CourseCounts:
    found = list(links.values())
    return CourseCounts(
        records=len({course.line for course in courses}),
        courses=len(courses),
        recovered=sum(course.recovered for course in courses),
        with_instrument=sum(bool(link.instruments) for link in found),
        with_tag=sum(bool(link.genres) for link in found),
        with_concept=sum(bool(link.concepts) for link in found),
        with_any_link=sum(bool(link.instruments or link.genres or link.concepts) for link in found),
        levels=dict(Counter(course.level for course in courses).most_common()),
        instruments=dict(Counter(m.target for link in found for m in link.instruments).most_common()),
        genres=dict(Counter(m.target for link in found for m in link.genres).most_common()),
        concepts=dict(Counter(m.target for link in found for m in link.concepts).most_common()),
        tag_instrument_links=len(vocabulary.instrument_tags),
        entities_by_type=dict(sorted(Counter(e.type for e in records.entities).items())),
        relations_by_type=dict(sorted(Counter(r.type for r in records.relations).items())),
    )


def courses_load(path: Path, *, store: KnowledgeGraphStore, progress: bool = True) -> CoursesLoadReport:
    """Validate the CSV, then write the courses to the catalog and link them into ``store``.

    Order and why: parse and validate every row, read the Last.FM tags and build and validate every
    graph record, so a bad file or an unreachable store fails before the catalog changes; then write
    the catalog in one transaction, then upsert the graph in idempotent batches and remove this
    loader's own links that the data no longer supports (:func:`kg.services.graph_sync`, over every
    triple: a course's old link may point anywhere). An interrupted graph write is finished by
    running the load again.
    """
    path = Path(path)
    with tqdm(total=4, desc="Courses", unit="step", disable=not progress) as bar:
        courses = read_courses(path)
        bar.update()
        store.ping()
        vocabulary = tag_vocabulary_read(store=store)
        records, links = course_graph_records(courses=courses, vocabulary=vocabulary)
        records = keep_existing_concept_data(records, store=store)
        graph_validate(entities=records.entities, relations=records.relations)
        bar.update()
        try:
            catalog = courses_catalog_write(courses=courses)
        except IntegrityError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise _fail(
                path,
                None,
                f"the data conflicts with rows already in the catalog ({reason}), e.g. another course "
                "already holds one of these entity ids; nothing was written. Fix or remove the conflicting rows.",
            ) from None
        bar.update()
        graph = graph_sync(
            store=store,
            entities=records.entities,
            relations=records.relations,
            owned=OWNED_RELATIONS,
            description="Courses",
        )
        bar.update()
    return CoursesLoadReport(
        path=path,
        counts=_counts(courses, links, records, vocabulary),
        catalog=catalog,
        graph=graph.upserted,
        removed_relations=graph.removed_relations,
        backend=getattr(store, "registry_name", type(store).__name__),
    )


def keep_existing_concept_data(records: GraphRecords, *, store: KnowledgeGraphStore) -> GraphRecords:
    """Concepts that already exist keep properties other loaders added (the curriculum's ``curriculum`` key).

    Why: an upsert replaces properties, so a re-run of this loader would wipe the curriculum's data on
    the concepts both loaders write, and the two loaders would undo each other forever.
    """
    ids = [e.id for e in records.entities if e.type == CONCEPT_TYPE]
    existing = store.get_entities(ids) if ids else {}
    entities = [
        replace(e, properties={**existing[e.id].properties, **e.properties})
        if e.type == CONCEPT_TYPE and e.id in existing
        else e
        for e in records.entities
    ]
    return GraphRecords(entities=entities, relations=records.relations)
