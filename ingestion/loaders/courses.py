"""Load the Udemy "Musical Instruments" course catalogue into catalog.Course and link it into the graph.

What a load does (interface 1 in the team's agreed interfaces):

* every course becomes a ``Course`` row and a graph entity ``udemy:course:<course_id>`` (name = title);
* ``Course -HAS_LEVEL-> leitmotif:level:<beginner|intermediate|expert|all>`` from the ``level`` column;
* by name matching in the title: ``-TEACHES_INSTRUMENT-> leitmotif:instrument:<slug>``,
  ``-COVERS_TAG-> lastfm:tag:<id>`` (an existing Last.FM tag that is a curated genre) and
  ``-TEACHES_CONCEPT-> leitmotif:concept:<slug>``;
* instrument-named Last.FM tags (``piano``, ``acoustic guitar``) get ``-ABOUT_INSTRUMENT->`` their
  instrument, so a listener reaches instrument courses through the tags of the artists they play.

Why matching is a curated vocabulary and not "every tag whose name appears in the title": Last.FM tags
are free text. ``love``, ``fun``, ``seen live``, ``amazing`` or ``french`` occur in course titles and in
the tag list, but a course titled "Fall in love with the Trombone" is not about the tag ``love``. Only
tags that name a genre (the table :data:`GENRES`) and are used by at least
:data:`MIN_GENRE_TAG_ARTISTS` artists are linked, so a link always leads to a few real artists.

How titles are matched: text is folded (case, accents, ``&`` -> ``and``) and split into words; a
phrase matches whole words only, and overlapping matches are resolved longest first, so "blues rock"
wins over "blues" and "rock", "bass guitar" is the bass and not the guitar, and "drum and bass" is a
genre, not drums. Japanese titles (no spaces) are matched by substring on katakana names. Synonyms
that are not the instrument's own name (``keyboard`` -> piano, ``fiddle`` -> violin) or only hint at a
concept get :data:`LOOSE_CONFIDENCE` instead of 1.0; each relation records the words it matched in
``properties["matched"]`` so the explainer can say why.

Decision on keyboards: ``keyboard``/``keyboards``/``teclado`` map to **piano** (loose). The catalogue's
keyboard courses teach the same keys, chords and reading as its piano courses (several titles say
"Piano & Keyboard"), and Last.FM has a ``piano`` tag but no usable ``keyboard`` one. ``keys`` alone is
not mapped: in these titles it means tonal keys ("Play a Song in 12 Keys"). Synthesizers are their own
instrument.

Upstream data quirk: four records of the file hold two courses each. A course's title swallowed the
row after it (``<title1>",<url>,true,115,...,2014-01-27T20:58:16Z\\n<id>,<title2>"``) while the
record's other columns belong to that second course. :func:`split_merged_record` recovers both (the
first course's values are in the embedded text, with durations such as "43 mins"), so the 680 records
yield 684 courses. A title that looks merged but cannot be split is an error, not silently kept.

Why validation first and how re-runs behave (as in :mod:`ingestion.loaders.lastfm`): every row is
parsed and checked and every graph record built and validated before anything is written; a bad row
raises :class:`~core.errors.DataFileError` naming the file and the 1-based line. The
catalog is written in one transaction by compare-and-write, the graph through
:func:`kg.services.graph_upsert`, and links this loader made earlier that the data no longer supports
are removed, so a second run changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone
from tqdm.auto import tqdm

from catalog.models import Course
from core.errors import DataFileError
from kg.services import GraphUpsertReport, graph_upsert
from kg.stores.base import EntityRecord, KnowledgeGraphStore, RelationRecord, UpsertResult

DEFAULT_RELATIVE_PATH = Path("udemy-courses") / "udemy_courses_musical_instruments.csv"

#: Provenance of every link found by matching names (interface 1).
MATCHING_SOURCE = "udemy-courses/name-matching"
#: Provenance of the level link: a column of the file, not a guess, hence its own source.
LEVEL_SOURCE = "udemy-courses"

COURSE_ENTITY_TYPE = "Course"
INSTRUMENT_ENTITY_TYPE = "Instrument"
LEVEL_ENTITY_TYPE = "Level"
CONCEPT_ENTITY_TYPE = "Concept"

HAS_LEVEL = "HAS_LEVEL"
TEACHES_INSTRUMENT = "TEACHES_INSTRUMENT"
COVERS_TAG = "COVERS_TAG"
TEACHES_CONCEPT = "TEACHES_CONCEPT"
ABOUT_INSTRUMENT = "ABOUT_INSTRUMENT"
#: Relation types this loader owns; stale ones of these (with its sources) are removed on re-run.
OWNED_RELATION_TYPES = (HAS_LEVEL, TEACHES_INSTRUMENT, COVERS_TAG, TEACHES_CONCEPT, ABOUT_INSTRUMENT)
OWNED_SOURCES = (MATCHING_SOURCE, LEVEL_SOURCE)

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
#: Confidence of a synonym or hint (``keyboard`` -> piano, ``songs`` -> repertoire) instead of the name.
LOOSE_CONFIDENCE = 0.7
#: Confidence of an instrument only hinted at by a technique ("Barre Chords" -> guitar).
HINT_CONFIDENCE = 0.5

MAX_TITLE_LENGTH = Course._meta.get_field("title").max_length
MAX_URL_LENGTH = Course._meta.get_field("url").max_length
MAX_SUBJECT_LENGTH = Course._meta.get_field("subject").max_length
_PRICE_FIELD = Course._meta.get_field("price")
MAX_PRICE = Decimal(10) ** (_PRICE_FIELD.max_digits - _PRICE_FIELD.decimal_places) - Decimal("0.01")
_POSITIVE_INT_MAX = 2_147_483_647  # PositiveIntegerField on PostgreSQL


def course_entity_id(udemy_id: int) -> str:
    return f"udemy:course:{udemy_id}"


def instrument_entity_id(slug: str) -> str:
    return f"leitmotif:instrument:{slug}"


def level_entity_id(level: str) -> str:
    return f"leitmotif:level:{level}"


def concept_entity_id(slug: str) -> str:
    return f"leitmotif:concept:{slug}"


# --- vocabulary -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One thing to recognise: ``phrases`` are its names (confidence 1.0), ``loose`` its synonyms/hints."""

    name: str
    phrases: tuple[str, ...]
    loose: tuple[str, ...] = ()
    #: Words that suggest this term only when the title names no term of its kind at all
    #: ("Barre Chords" is a guitar course, "Barre Chords on Ukulele" is not).
    hints: tuple[str, ...] = ()


#: Instruments by slug. Names in English, Spanish, Portuguese, German, Italian, French and Japanese
#: because the catalogue has courses in all of them.
INSTRUMENTS: Mapping[str, Term] = {
    "guitar": Term(
        "Guitar",
        (
            "guitar",
            "guitars",
            "guitarist",
            "guitarists",
            "acoustic guitar",
            "electric guitar",
            "classical guitar",
            "slide guitar",
            "fingerstyleguitar",
            "guitarra",
            "guitarras",
            "guitarrista",
            "guitarristas",
            "gitarre",
            "chitarra",
            "violao",
            "ギター",
            "アコギ",
        ),
        hints=(
            "fingerpicking",
            "finger picking",
            "fingerstyle",
            "travis picking",
            "barre chords",
            "power chords",
            "alternate picking",
            "sweep picking",
            "fretboard",
            "caged",
            "chugging",
        ),
    ),
    "bass": Term(
        "Bass",
        (
            "bass",
            "bass guitar",
            "bass guitars",
            "electric bass",
            "double bass",
            "upright bass",
            "walking bass",
            "slap bass",
            "contrabajo",
            "contrabaixo",
            "bajo electrico",
            "ベース",
        ),
    ),
    "piano": Term(
        "Piano",
        ("piano", "pianos", "pianist", "pianists", "pianoforte", "klavier", "ピアノ"),
        loose=("keyboard", "keyboards", "teclado", "pianish"),
    ),
    "harmonica": Term(
        "Harmonica", ("harmonica", "harmonicas", "armonica", "mundharmonika", "blues harp", "chromatic harmonica")
    ),
    "drums": Term(
        "Drums",
        (
            "drum",
            "drums",
            "drumming",
            "drummer",
            "drummers",
            "drumset",
            "drum set",
            "drum kit",
            "bateria",
            "bass drum",
            "double bass drum",
            "ドラム",
        ),
        loose=("pedal duplo",),
    ),
    "voice": Term("Voice", ("singing", "sing", "singer", "singers", "voice", "vocals")),
    "violin": Term("Violin", ("violin", "violins", "violinist"), loose=("fiddle", "fiddles")),
    "viola": Term("Viola", ("viola",)),
    "cello": Term("Cello", ("cello", "cellos", "violoncello")),
    "flute": Term("Flute", ("flute", "flutes", "flauta", "flauta transversal", "carnatic flute")),
    "recorder": Term("Recorder", ("recorder", "flauta dulce")),
    "tin-whistle": Term("Tin whistle", ("tin whistle", "penny whistle")),
    "ukulele": Term("Ukulele", ("ukulele", "ukuleles", "ukelele", "uke", "ウクレレ")),
    "saxophone": Term("Saxophone", ("saxophone", "saxophones", "sax", "saxofon", "saxophonist")),
    "trumpet": Term("Trumpet", ("trumpet", "trumpets", "trompeta")),
    "trombone": Term("Trombone", ("trombone", "trombones")),
    "clarinet": Term("Clarinet", ("clarinet", "clarinets", "clarinete")),
    "french-horn": Term("French horn", ("french horn", "horn")),
    "euphonium": Term("Euphonium", ("euphonium",)),
    "tuba": Term("Tuba", ("tuba",)),
    "oboe": Term("Oboe", ("oboe", "oboist")),
    "bassoon": Term("Bassoon", ("bassoon",)),
    "accordion": Term("Accordion", ("accordion", "acordeon")),
    "banjo": Term("Banjo", ("banjo", "tenor banjo")),
    "mandolin": Term("Mandolin", ("mandolin",)),
    "bouzouki": Term("Bouzouki", ("bouzouki",)),
    "oud": Term("Oud", ("oud",)),
    "bajo-sexto": Term("Bajo sexto", ("bajo sexto",)),
    "harp": Term("Harp", ("harp",)),
    "jaw-harp": Term("Jaw harp", ("jews harp", "jaw harp")),
    "bagpipes": Term("Bagpipes", ("bagpipe", "bagpipes")),
    "didgeridoo": Term("Didgeridoo", ("didgeridoo",)),
    "percussion": Term("Percussion", ("percussion", "percusion", "percusiones", "congas", "bongos", "maracas")),
    "djembe": Term("Djembe", ("djembe",)),
    "cajon": Term("Cajon", ("cajon",)),
    "tabla": Term("Tabla", ("tabla",)),
    "darbuka": Term("Darbuka", ("darbuka", "darbouka", "dounbek", "doumbek")),
    "bodhran": Term("Bodhran", ("bodhran",)),
    "pandeiro": Term("Pandeiro", ("pandeiro",)),
    "castanets": Term("Castanets", ("castanets", "castanuelas")),
    "spoons": Term("Spoons", ("spoons", "spoon playing")),
    "asalato": Term("Asalato", ("asalato", "アサラト")),
    "synthesizer": Term("Synthesizer", ("synth", "synths", "synthesizer", "synthesizers", "sintetizadores")),
}

#: Phrases that must not count as any instrument (they are consumed before shorter matches).
INSTRUMENT_BLOCKERS = (
    "drum and bass",
    "drum n bass",
    "singer songwriter",
    "singer songwriters",
    "harp and soul",
    "indian drums",  # the tabla, which those titles name as well
)

#: Concepts by slug.
CONCEPTS: Mapping[str, Term] = {
    "chords": Term(
        "Chords",
        ("chord", "chords", "power chords", "barre chords", "chord progressions", "acordes"),
    ),
    "scales": Term(
        "Scales and modes",
        ("scale", "scales", "pentatonic", "escalas", "pentatonicas", "pentatonica", "modes", "modal", "whole tone"),
    ),
    "arpeggios": Term("Arpeggios", ("arpeggio", "arpeggios", "arpegios")),
    "improvisation": Term(
        "Improvisation",
        ("improvise", "improvisation", "improvising", "improv", "improvisar", "improvisacion", "soloing"),
        loose=("jam", "jamming", "jammin"),
    ),
    "music-theory": Term(
        "Music theory",
        ("theory", "music theory", "harmony", "circle of fifths", "circle of 5ths", "teoria"),
    ),
    "ear-training": Term("Ear training", ("ear training", "by ear", "de oido", "por oido")),
    "sight-reading": Term(
        "Sight-reading",
        (
            "sight reading",
            "read music",
            "reading music",
            "sheet music",
            "read sheet music",
            "read and write music",
            "lectura",
            "partituras",
            "notation",
            "written music",
        ),
        loose=("reading",),
    ),
    "songwriting": Term(
        "Songwriting",
        ("songwriting", "songwriter", "songwriters", "write songs", "write music", "composing", "composition"),
    ),
    "technique": Term(
        "Technique",
        (
            "technique",
            "techniques",
            "tecnica",
            "hand coordination",
            "alternate picking",
            "sweep picking",
            "legato",
            "tapping",
            "bending",
            "circular breathing",
            "exercises",
            "ejercicios",
        ),
        loose=("coordination",),
    ),
    "rhythm": Term(
        "Rhythm",
        (
            "rhythm",
            "rhythms",
            "ritmo",
            "ritmos",
            "ritmica",
            "strumming",
            "strum",
            "strums",
            "groove",
            "grooves",
            "timing",
        ),
    ),
    "fingerpicking": Term(
        "Fingerpicking",
        ("fingerpicking", "finger picking", "fingerstyle", "fingerstyleguitar", "travis picking"),
    ),
    "fretboard": Term("Fretboard", ("fretboard", "caged")),
    "licks-and-riffs": Term("Licks, riffs and fills", ("lick", "licks", "riff", "riffs", "fills", "runs")),
    "repertoire": Term(
        "Repertoire (songs and pieces)",
        ("pieces", "tunes", "piezas", "canciones"),
        loose=("song", "songs"),
    ),
    "teaching": Term("Teaching music", ("teaching", "music educators", "educators", "ensenando")),
}
#: "no reading", "no notation required": the course promises *not* to need the concept.
CONCEPT_BLOCKERS = ("rhythm and blues", "no reading", "no notation", "no written music")

#: Curated genres: each names the Last.FM tags it stands for (normalised names; a tag whose name folds
#: to one of them is that genre) and optional title-only hints. Left out on purpose: moods and
#: judgements (love, fun, beautiful), places and languages (french, irish, british), "seen live",
#: "acoustic", "instrumental", "christmas" (a theme), "dance" and "world" (verbs/adjectives in titles:
#: "Let your Hands dance", "World's Fastest Piano Method").
GENRES: Mapping[str, Term] = {
    "rock": Term("rock", ("rock",)),
    "pop": Term("pop", ("pop",)),
    "jazz": Term("jazz", ("jazz",), loose=("jazzy",)),
    "blues": Term("blues", ("blues", "ブルース"), loose=("boogie woogie",)),
    "classical": Term("classical", ("classical", "classical music")),
    "folk": Term("folk", ("folk",)),
    "country": Term("country", ("country",), loose=("nashville",)),
    "metal": Term("metal", ("metal",)),
    "heavy metal": Term("heavy metal", ("heavy metal",)),
    "punk": Term("punk", ("punk",)),
    "punk rock": Term("punk rock", ("punk rock",)),
    "soul": Term("soul", ("soul",)),
    "funk": Term("funk", ("funk",)),
    "reggae": Term("reggae", ("reggae",)),
    "ska": Term("ska", ("ska",)),
    "gospel": Term("gospel", ("gospel",)),
    "christian": Term("christian", ("christian", "worship"), loose=("cristiana", "cristiano")),
    "christian rock": Term("christian rock", ("christian rock",)),
    "bluegrass": Term("bluegrass", ("bluegrass",)),
    "rockabilly": Term("rockabilly", ("rockabilly",)),
    "rock and roll": Term("rock and roll", ("rock and roll", "rock n roll")),
    "swing": Term("swing", ("swing",)),
    "bossa nova": Term("bossa nova", ("bossa nova",)),
    "latin": Term("latin", ("latin",), loose=("latino", "latinos", "latina", "latinas")),
    "flamenco": Term("flamenco", ("flamenco",), loose=("flamenca",)),
    "samba": Term("samba", ("samba",)),
    "salsa": Term("salsa", ("salsa",)),
    "disco": Term("disco", ("disco",)),
    "electronic": Term("electronic", ("electronic", "electronica"), loose=("edm",)),
    "world music": Term("world music", ("world music",)),
    "new age": Term("new age", ("new age",)),
    "celtic": Term("celtic", ("celtic",), loose=("irish", "scottish")),
    "blues rock": Term("blues rock", ("blues rock",)),
    "classic rock": Term("classic rock", ("classic rock",)),
    "hard rock": Term("hard rock", ("hard rock",)),
    "soft rock": Term("soft rock", ("soft rock",)),
    "pop rock": Term("pop rock", ("pop rock",)),
    "progressive rock": Term("progressive rock", ("progressive rock",)),
    "surf rock": Term("surf rock", ("surf rock",)),
    "delta blues": Term("delta blues", ("delta blues",)),
    "electric blues": Term("electric blues", ("electric blues",)),
    "rhythm and blues": Term("rhythm and blues", ("rhythm and blues", "rnb", "r and b")),
    "hip hop": Term("hip hop", ("hip hop",)),
    "rap": Term("rap", ("rap",)),
    "jazz fusion": Term("jazz fusion", ("jazz fusion",)),
    "smooth jazz": Term("smooth jazz", ("smooth jazz",)),
    "acid jazz": Term("acid jazz", ("acid jazz",)),
    "bebop": Term("bebop", ("bebop",)),
    "big band": Term("big band", ("big band",)),
    "modern country": Term("modern country", ("modern country",)),
    "singer-songwriter": Term("singer-songwriter", ("singer songwriter", "singer songwriters")),
}
#: "Swing Low" (a spiritual) is a song title, not the genre; "HARP&SOUL" is a brand.
GENRE_BLOCKERS = ("swing low", "harp and soul")

#: Words that may stand around an instrument in a tag name that is still "about" that instrument
#: ("acoustic guitar", "jazz piano", "guitar virtuoso"); any other word (female vocalists, drum
#: machine, piano led indie) keeps the tag from being linked.
INSTRUMENT_TAG_MODIFIERS = frozenset(
    {"acoustic", "electric", "classical", "jazz", "blues", "rock", "slide", "solo", "virtuoso", "virtuosos"}
)


# --- text normalisation and phrase matching --------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")
#: Punctuation that ends a phrase: "Blues, Rock & Boogie" names blues and rock, not "blues rock".
#: Hyphens, slashes and apostrophes join ("hip-hop", "Pop/Rock", "Blues n' Boogie").
_PHRASE_BREAK = re.compile(r"[,.;:!?|()\[\]{}\"“”«»]+|\s[-–—]+\s")
_BREAK = "\x00"  # a token no phrase contains: marks a phrase boundary in a token list
_NO_SPACE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")  # kana and CJK ideographs


def fold(text: str) -> str:
    """Lower-case, accent-free text with ``&`` spelled ``and``: what matching compares.

    Why fold accents: the Spanish and Portuguese titles write ``Acordeón``, ``batería`` or
    ``Violão`` and sometimes leave the accent out; both must match the same name.
    """
    decomposed = unicodedata.normalize("NFKD", text.replace("&", " and "))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def words(text: str) -> tuple[str, ...]:
    """The folded words of ``text`` (punctuation, hyphens and apostrophes separate words)."""
    return tuple(_WORD.findall(fold(text)))


def _tokens(folded: str) -> list[str]:
    """Words of folded text with :data:`_BREAK` between punctuation-separated parts."""
    tokens: list[str] = []
    for part in _PHRASE_BREAK.split(folded):
        part_words = _WORD.findall(part)
        if part_words:
            if tokens:
                tokens.append(_BREAK)
            tokens.extend(part_words)
    return tokens


@dataclass(frozen=True)
class Match:
    """``target`` was recognised in a text because of the words ``matched`` (folded: lower case, no accents)."""

    target: str
    matched: str
    confidence: float


class PhraseMatcher:
    """Whole-word, case- and accent-insensitive phrase matching, longest match first.

    Why longest first and non-overlapping: a title saying "blues rock" is about blues rock, not about
    blues plus rock, and "bass guitar" is a bass. Blockers are phrases that consume their words without
    matching anything ("drum and bass" is neither drums nor bass). A phrase never spans punctuation
    such as a comma. Phrases in scripts written without spaces (Japanese) match as substrings.
    """

    def __init__(self, entries: Iterable[tuple[str, str | None, float]]):
        self._by_first: dict[str, list[tuple[tuple[str, ...], str | None, float]]] = defaultdict(list)
        self._substrings: list[tuple[str, str, str | None, float]] = []  # (folded, as written, target, confidence)
        for phrase, target, confidence in entries:
            if _NO_SPACE_SCRIPT.search(phrase):
                self._substrings.append((fold(phrase), phrase, target, confidence))
                continue
            tokens = words(phrase)
            if not tokens:
                raise ValueError(f"phrase {phrase!r} has no words")
            self._by_first[tokens[0]].append((tokens, target, confidence))
        for candidates in self._by_first.values():
            candidates.sort(key=lambda c: -len(c[0]))
        self._substrings.sort(key=lambda c: -len(c[0]))

    @classmethod
    def from_terms(
        cls, terms: Mapping[str, Term], *, blockers: Sequence[str] = (), hints: bool = False
    ) -> PhraseMatcher:
        """A matcher for the names and synonyms of ``terms`` or, with ``hints``, for their hints only."""
        entries: list[tuple[str, str | None, float]] = []
        for key, term in terms.items():
            if hints:
                entries.extend((phrase, key, HINT_CONFIDENCE) for phrase in term.hints)
            else:
                entries.extend((phrase, key, 1.0) for phrase in term.phrases)
                entries.extend((phrase, key, LOOSE_CONFIDENCE) for phrase in term.loose)
        entries.extend((phrase, None, 1.0) for phrase in blockers)
        return cls(entries)

    def _spans(self, folded: str) -> tuple[list[str], list[tuple[int, int, Match]]]:
        """Tokens of ``folded`` and the chosen ``(start, end, match)`` spans, blockers included (target None)."""
        tokens = _tokens(folded)
        candidates: list[tuple[int, int, str | None, float]] = []
        for start, token in enumerate(tokens):
            for phrase, target, confidence in self._by_first.get(token, ()):
                if tuple(tokens[start : start + len(phrase)]) == phrase:
                    candidates.append((start, start + len(phrase), target, confidence))
        taken = [False] * len(tokens)
        spans: list[tuple[int, int, Match]] = []
        for start, end, target, confidence in sorted(candidates, key=lambda c: (c[0] - c[1], c[0])):
            if any(taken[start:end]):
                continue
            for i in range(start, end):
                taken[i] = True
            spans.append((start, end, Match(target, " ".join(tokens[start:end]), confidence)))
        return tokens, spans

    def find(self, text: str) -> list[Match]:
        """Every target named in ``text``, once each (best confidence kept), in order of first mention."""
        folded = fold(text)
        tokens, spans = self._spans(folded)
        found = [(start, match) for start, _, match in spans if match.target is not None]
        remaining = folded
        for phrase, written, target, confidence in self._substrings:
            position = remaining.find(phrase)
            if position < 0:
                continue
            remaining = remaining.replace(phrase, " " * len(phrase))
            if target is not None:
                found.append((len(tokens) + position, Match(target, written, confidence)))
        best: dict[str, tuple[int, Match]] = {}
        for order, match in sorted(found, key=lambda item: item[0]):
            kept = best.get(match.target)
            if kept is None:
                best[match.target] = (order, match)
            elif match.confidence > kept[1].confidence:
                best[match.target] = (kept[0], match)
        return [match for _, match in sorted(best.values(), key=lambda item: item[0])]

    def covers(self, text: str, *, allowed_extra_words: frozenset[str] = frozenset()) -> list[Match]:
        """Matches in ``text`` if every word outside them is in ``allowed_extra_words``, else ``[]``.

        Used for tag names: "acoustic guitar" is about the guitar, "female vocalists" or
        "drum machine" are not about an instrument lesson.
        """
        tokens, spans = self._spans(fold(text))
        if not any(match.target for _, _, match in spans):
            return []
        inside = {i for start, end, _ in spans for i in range(start, end)}
        if any(t != _BREAK and i not in inside and t not in allowed_extra_words for i, t in enumerate(tokens)):
            return []
        return self.find(text)


INSTRUMENT_MATCHER = PhraseMatcher.from_terms(INSTRUMENTS, blockers=INSTRUMENT_BLOCKERS)
INSTRUMENT_HINT_MATCHER = PhraseMatcher.from_terms(INSTRUMENTS, blockers=INSTRUMENT_BLOCKERS, hints=True)
CONCEPT_MATCHER = PhraseMatcher.from_terms(CONCEPTS, blockers=CONCEPT_BLOCKERS)
GENRE_MATCHER = PhraseMatcher.from_terms(GENRES, blockers=GENRE_BLOCKERS)


def instruments_in(title: str) -> list[Match]:
    """Instruments a course title names (targets are instrument slugs), else those its words hint at."""
    return INSTRUMENT_MATCHER.find(title) or INSTRUMENT_HINT_MATCHER.find(title)


def concepts_in(title: str) -> list[Match]:
    """Concepts a course title names (targets are concept slugs)."""
    return CONCEPT_MATCHER.find(title)


def genres_in(title: str) -> list[Match]:
    """Curated genres a course title names (targets are :data:`GENRES` keys)."""
    return GENRE_MATCHER.find(title)


def genre_of_tag(tag_name: str) -> str | None:
    """The curated genre a Last.FM tag *is* (its whole name, folded), or ``None``: "love" is no genre."""
    folded = " ".join(words(tag_name))
    for key, term in GENRES.items():
        if folded in {" ".join(words(p)) for p in term.phrases}:
            return key
    return None


def instrument_of_tag(tag_name: str) -> Match | None:
    """The instrument a Last.FM tag is about ("piano", "acoustic guitar", "jazz piano"), or ``None``.

    A tag naming two instruments, or with words beyond :data:`INSTRUMENT_TAG_MODIFIERS`, is not linked.
    """
    matches = INSTRUMENT_MATCHER.covers(tag_name, allowed_extra_words=INSTRUMENT_TAG_MODIFIERS)
    return matches[0] if len(matches) == 1 else None


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
    for tag in store.iter_entities(types=["Tag"]):
        if not tag.id.startswith("lastfm:tag:"):
            continue
        genre = genre_of_tag(tag.name)
        if genre is not None:
            artists = len(store.neighbours(tag.id, direction="in", relation_types=["HAS_TAG"]))
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
        EntityRecord(id=level_entity_id(level), type=LEVEL_ENTITY_TYPE, name=name, properties={"level": level})
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
                type=COURSE_ENTITY_TYPE,
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
    entities.extend(
        EntityRecord(
            id=instrument_entity_id(slug),
            type=INSTRUMENT_ENTITY_TYPE,
            name=INSTRUMENTS[slug].name,
            aliases=term_aliases(INSTRUMENTS[slug]),
            properties={"slug": slug},
        )
        for slug in sorted(instruments_used)
    )
    entities.extend(
        EntityRecord(
            id=concept_entity_id(slug),
            type=CONCEPT_ENTITY_TYPE,
            name=CONCEPTS[slug].name,
            aliases=term_aliases(CONCEPTS[slug]),
            properties={"slug": slug},
        )
        for slug in sorted(concepts_used)
    )
    return GraphRecords(entities=entities, relations=relations), links


def term_aliases(term: Term) -> tuple[str, ...]:
    """English single-word names other than the display name, for search ("guitars", "fiddle")."""
    name = term.name.casefold()
    return tuple(
        phrase
        for phrase in dict.fromkeys((*term.phrases, *term.loose))
        if phrase.isascii() and phrase.casefold() != name and " " not in phrase and len(phrase) > 3
    )


def _matched(head: str, relation_type: str, tail: str, match: Match) -> RelationRecord:
    return RelationRecord(
        head=head,
        type=relation_type,
        tail=tail,
        source=MATCHING_SOURCE,
        confidence=match.confidence,
        properties={"matched": match.matched},
    )


def stale_relations(*, store: KnowledgeGraphStore, wanted: Iterable[RelationRecord]) -> list[tuple[str, str, str]]:
    """Relations this loader wrote earlier that it would not write now, as ``(head, type, tail)``.

    Why: a corrected title or a better vocabulary must not leave yesterday's wrong link behind. Only
    relation types this loader owns and with its own sources are considered, so a link a curator added
    by hand (another source) is never removed. One streaming pass over the triples plus a look-up per
    candidate is a handful of queries on either backend, where a ``neighbours`` call per course would
    be hundreds of round trips on Neo4j.
    """
    wanted_keys = {relation.key for relation in wanted}
    owned = set(OWNED_RELATION_TYPES)
    candidates = [
        (head, relation_type, tail)
        for head, relation_type, tail in store.iter_triples()
        if relation_type in owned and (head, relation_type, tail) not in wanted_keys
    ]
    stale = []
    for head, relation_type, tail in candidates:
        relation = store.get_relation(head, relation_type, tail)
        if relation is not None and relation.source in OWNED_SOURCES:
            stale.append((head, relation_type, tail))
    return stale


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
    the catalog in one transaction, upsert the graph in idempotent batches and remove this loader's
    own links that the data no longer supports. An interrupted graph write is finished by running the
    load again.
    """
    path = Path(path)
    with tqdm(total=5, desc="Courses", unit="step", disable=not progress) as bar:
        courses = read_courses(path)
        bar.update()
        store.ping()
        vocabulary = tag_vocabulary_read(store=store)
        records, links = course_graph_records(courses=courses, vocabulary=vocabulary)
        records = keep_existing_concept_data(records, store=store)
        for entity in records.entities:
            entity.validate()
        for relation in records.relations:
            relation.validate()
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
        graph = graph_upsert(store=store, entities=records.entities, relations=records.relations, description="Courses")
        bar.update()
        removed = 0
        for head, relation_type, tail in stale_relations(store=store, wanted=records.relations):
            removed += store.delete_relation(head, relation_type, tail)
        bar.update()
    return CoursesLoadReport(
        path=path,
        counts=_counts(courses, links, records, vocabulary),
        catalog=catalog,
        graph=graph,
        removed_relations=removed,
        backend=getattr(store, "registry_name", type(store).__name__),
    )


def keep_existing_concept_data(records: GraphRecords, *, store: KnowledgeGraphStore) -> GraphRecords:
    """Concepts that already exist keep properties other loaders added (the curriculum's ``curriculum`` key).

    Why: an upsert replaces properties, so a re-run of this loader would wipe the curriculum's data on
    the concepts both loaders write, and the two loaders would undo each other forever.
    """
    ids = [e.id for e in records.entities if e.type == CONCEPT_ENTITY_TYPE]
    existing = store.get_entities(ids) if ids else {}
    entities = [
        replace(e, properties={**existing[e.id].properties, **e.properties})
        if e.type == CONCEPT_ENTITY_TYPE and e.id in existing
        else e
        for e in records.entities
    ]
    return GraphRecords(entities=entities, relations=records.relations)
