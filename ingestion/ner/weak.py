"""Weakly labelled NER examples built from names already in the knowledge graph (distant supervision).

Where the names come from: the graph store (never a file of ours), so the model learns the artists,
genres, instruments and concepts the product actually knows. :func:`gazetteer_from_store` reads

* ``Artist`` (Last.FM artists). The NER labels split solo artists from bands but Last.FM does not; the
  Freebase facts of the graph do: an artist with a place of birth or death, a profession or played
  instruments is a person (``ARTIST``); one with only an ``ORIGIN`` is a group (``BAND``); the rest are
  kept only for lower-cased queries, where MusicRecoNER calls every performer an ``Artist``;
* ``Tag`` names that are genres: used by at least ``min_genre_tag_artists`` artists and ending in a
  genre word (:data:`GENRE_HEAD_WORDS`: "indie rock", "synthpop", "melodic death metal"), because most
  Last.FM tags are moods, years or opinions ("seen live", "90s", "awesome");
* ``Instrument``, ``Concept``, ``Genre``, ``Place`` (and the ``MusicalArtist``/``Band``/``Work`` types
  ingestion creates), names and aliases, skipping anonymous KGCN entities (``properties["named"]`` is
  False) and aliases that are not mentions of the thing (:data:`NOT_A_MENTION`: "singer", "drumming",
  "songs" are aliases that help link course titles, not entity mentions).

Two builders turn names into examples (chosen by name in the config, :data:`WEAK_BUILDERS`):

* ``mention_swap`` — a gold *training* sentence with its artist/band/genre/instrument/place/work mentions
  replaced by other graph names of the same label (the context stays real, the names are new). Query
  sentences (lower-cased corpora) get lower-cased names without punctuation, as MusicRecoNER writes them;
* ``course_titles`` — Udemy course titles with the graph's instrument, concept and genre names (and
  multi-word artist names) matched. Only matches are entities; words common across titles are outside;
  other capitalised words are *missing* (unknown), so an unmatched name is not taught to be no entity.

An empty graph yields an empty gazetteer and no weak examples.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion.labels import NER_LABELS
from ingestion.ner.corpora import LabeledSentence, TokenSpan

#: Graph entity type -> NER label of its names (``Artist`` and ``Tag`` are split by the rules above).
ENTITY_TYPE_LABELS: Mapping[str, str] = {
    "Instrument": "INSTRUMENT",
    "Concept": "CONCEPT",
    "Genre": "GENRE",
    "Place": "PLACE",
    "MusicalArtist": "ARTIST",
    "Band": "BAND",
    "Work": "WORK",
    "Album": "WORK",
    "Track": "WORK",
}
ARTIST_ENTITY_TYPE = "Artist"
TAG_ENTITY_TYPE = "Tag"
#: Relations (Freebase, on Last.FM artists) that only a person has.
#: Acting, writing and directing films and a nationality are a person's too: without them, solo artists whose
#: only other fact is an ``ORIGIN`` were taken for bands.
PERSON_RELATIONS = frozenset(
    {
        "PLACE_OF_BIRTH",
        "PLACE_OF_DEATH",
        "PROFESSION",
        "INSTRUMENTS_PLAYED",
        "NATIONALITY",
        "ACTOR_FILM",
        "WRITER_FILM",
        "DIRECTOR_FILM",
    }
)
#: A relation groups have too; without a person relation it marks a band.
GROUP_RELATIONS = frozenset({"ORIGIN"})
TAG_RELATION = "HAS_TAG"

#: Last words (or word endings) that make a tag a genre name.
GENRE_HEAD_WORDS = frozenset(
    {
        "rock",
        "pop",
        "metal",
        "punk",
        "jazz",
        "blues",
        "folk",
        "soul",
        "funk",
        "hop",
        "rap",
        "house",
        "techno",
        "trance",
        "wave",
        "ambient",
        "electronic",
        "electronica",
        "electro",
        "country",
        "reggae",
        "ska",
        "grunge",
        "emo",
        "gospel",
        "disco",
        "dub",
        "garage",
        "industrial",
        "hardcore",
        "metalcore",
        "grindcore",
        "deathcore",
        "screamo",
        "shoegaze",
        "britpop",
        "synthpop",
        "electropop",
        "darkwave",
        "idm",
        "ebm",
        "rnb",
        "bossa nova",
        "swing",
        "bluegrass",
        "rockabilly",
        "bebop",
        "classical",
        "baroque",
        "opera",
        "salsa",
        "samba",
        "tango",
        "flamenco",
        "reggaeton",
        "dancehall",
        "downtempo",
        "chillout",
        "lounge",
        "drum and bass",
        "dubstep",
        "breakbeat",
        "jungle",
        "trip-hop",
        "hip-hop",
        "post-rock",
        "post-punk",
        "new age",
        "world music",
        "mpb",
        "j-pop",
        "k-pop",
        "indie",
        "psychedelic",
        "psychedelia",
        "krautrock",
        "eurodance",
        "noise",
        "drone",
    }
)
_GENRE_SUFFIXES = ("core", "pop", "step", "wave", "tronica", "-rock", "-pop", "-metal", "-punk", "-hop")
#: Words that make a tag something other than a genre even when it ends in a genre word.
_NOT_GENRE_WORDS = frozenset(
    {
        "favorite",
        "favourite",
        "favorites",
        "favourites",
        "love",
        "best",
        "seen",
        "live",
        "my",
        "i",
        "fav",
        "awesome",
        "good",
        "great",
        "songs",
        "song",
        "artists",
        "music",
        "fuck",
        "fucking",
    }
)

#: Names and aliases (folded) that are no entity mention of their entity in running text. Why a list:
#: the course loader's aliases include agent nouns, verbs and plain words it uses to *link* titles.
NOT_A_MENTION = frozenset(
    {
        "voice",
        "vocals",
        "sing",
        "singing",
        "singer",
        "singers",
        "drummer",
        "drummers",
        "drumming",
        "guitarist",
        "guitarists",
        "guitarrista",
        "guitarristas",
        "pianist",
        "pianists",
        "violinist",
        "saxophonist",
        "oboist",
        "song",
        "songs",
        "pieces",
        "tunes",
        "piezas",
        "canciones",
        "runs",
        "reading",
        "timing",
        "teaching",
        "teaching music",
        "educators",
        "ensenando",
        "coordination",
        "exercises",
        "ejercicios",
        "improvise",
        "improvising",
        "improvisar",
        "jamming",
        "jammin",
        "composing",
        "songwriter",
        "songwriters",
        "technique",
        "techniques",
        "tecnica",
        "theory",
        "teoria",
        "horn",
        "pianish",
        "fills",
    }
)
#: Longest name (in words) used; longer graph names are mostly descriptions.
MAX_NAME_WORDS = 6
#: A course-title word used in at least this many titles is an ordinary title word (outside), not a name.
COMMON_TITLE_WORD_MIN_TITLES = 3

_QUERY_DROP = re.compile(r"[^\w\s&+$]", re.UNICODE)


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().split())


def query_form(name: str) -> str:
    """A name as MusicRecoNER's lower-cased, punctuation-free queries write it ("AC/DC" -> "ac dc")."""
    return " ".join(_QUERY_DROP.sub(" ", name.lower()).replace("_", " ").split())


def is_genre_tag(name: str) -> bool:
    """Whether a Last.FM tag name reads as a genre ("indie rock", "synthpop"), not a mood, year or opinion."""
    words = fold(name).replace("-", " - ").split()
    words = [w for w in words if w != "-"]
    if not words or len(words) > 4 or any(w in _NOT_GENRE_WORDS or any(c.isdigit() for c in w) for w in words):
        return False
    folded = fold(name)
    if folded in GENRE_HEAD_WORDS:
        return True
    if any(folded.endswith(" " + head) for head in GENRE_HEAD_WORDS):
        return True
    return any(folded.endswith(suffix) for suffix in _GENRE_SUFFIXES)


def usable_name(name: str) -> bool:
    """A name that can appear as a mention: letters, at most :data:`MAX_NAME_WORDS` words, not a bare function word."""
    folded = fold(name)
    if not folded or folded in NOT_A_MENTION or len(folded.split()) > MAX_NAME_WORDS:
        return False
    if not any(ch.isalpha() for ch in folded) or len(folded) < 2:
        return False
    # "Licks, riffs and fills", "Repertoire (songs and pieces)": descriptions, not names.
    return not re.search(r"[,;()\[\]:]", name)


@dataclass(frozen=True)
class Gazetteer:
    """Graph names by NER label (sorted, de-duplicated), plus every artist name for lower-cased queries."""

    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    query_artists: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not any(self.names.values()) and not self.query_artists

    def counts(self) -> dict[str, int]:
        counts = {label: len(names) for label, names in sorted(self.names.items()) if names}
        counts["artists_for_queries"] = len(self.query_artists)
        return counts

    def fingerprint(self) -> str:
        """SHA-256 of every name: two runs with the same fingerprint saw the same graph names."""
        digest = hashlib.sha256()
        for label in sorted(self.names):
            for name in self.names[label]:
                digest.update(f"{label}\t{name}\n".encode())
        for name in self.query_artists:
            digest.update(f"query\t{name}\n".encode())
        return digest.hexdigest()


def gazetteer_from_store(store, *, min_genre_tag_artists: int = 3, progress: bool = False) -> Gazetteer:
    """Read the names of the graph (see the module docstring) through the store interface."""
    from tqdm.auto import tqdm

    wanted_types = [ARTIST_ENTITY_TYPE, TAG_ENTITY_TYPE, *ENTITY_TYPE_LABELS]
    entities = list(
        tqdm(store.iter_entities(types=wanted_types), desc="Graph names", unit="entity", disable=not progress)
    )
    if not entities:
        return Gazetteer()
    ids_by_type: dict[str, set[str]] = defaultdict(set)
    for entity in entities:
        ids_by_type[entity.type].add(entity.id)
    artist_ids = ids_by_type.get(ARTIST_ENTITY_TYPE, set())
    tag_ids = ids_by_type.get(TAG_ENTITY_TYPE, set())
    artist_relations: dict[str, set[str]] = defaultdict(set)
    tag_artists: Counter[str] = Counter()
    if artist_ids:
        for head, relation, tail in tqdm(store.iter_triples(), desc="Graph facts", unit="triple", disable=not progress):
            if head in artist_ids:
                artist_relations[head].add(relation)
                if relation == TAG_RELATION and tail in tag_ids:
                    tag_artists[tail] += 1

    names: dict[str, set[str]] = defaultdict(set)
    query_artists: set[str] = set()
    for entity in entities:
        if entity.properties.get("named") is False:
            continue
        if entity.type == ARTIST_ENTITY_TYPE:
            if not usable_name(entity.name):
                continue
            relations = artist_relations.get(entity.id, set())
            if relations & PERSON_RELATIONS:
                names["ARTIST"].add(entity.name)
            elif relations & GROUP_RELATIONS:
                names["BAND"].add(entity.name)
            spoken = query_form(entity.name)
            if spoken and usable_name(spoken):
                query_artists.add(spoken)
        elif entity.type == TAG_ENTITY_TYPE:
            if (
                tag_artists[entity.id] >= min_genre_tag_artists
                and is_genre_tag(entity.name)
                and usable_name(entity.name)
            ):
                names["GENRE"].add(entity.name)
        else:
            label = ENTITY_TYPE_LABELS[entity.type]
            for name in (entity.name, *entity.aliases):
                if usable_name(name):
                    names[label].add(name)
    return Gazetteer(
        names={label: tuple(sorted(names[label])) for label in NER_LABELS if names.get(label)},
        query_artists=tuple(sorted(query_artists)),
    )


# --- builders --------------------------------------------------------------------------------------

#: Labels whose names are common nouns: a replacement takes the case of the mention it replaces.
_COMMON_NOUN_LABELS = frozenset({"GENRE", "INSTRUMENT", "CONCEPT"})


@dataclass(frozen=True)
class WeakContext:
    """What every builder may use: the graph names, the gold *training* sentences (never validation or
    dev), the course titles, a tokenizer (``spacy.blank("en")``) and a seeded random generator."""

    gazetteer: Gazetteer
    train_sentences: Sequence[LabeledSentence]
    course_titles: Sequence[str]
    nlp: Any
    rng: random.Random
    #: Corpora whose text is lower-cased queries (their ARTIST pool is every artist, in query form).
    query_corpora: frozenset[str] = frozenset({"musicreconer"})


def _pool(context: WeakContext, label: str, *, query: bool) -> tuple[str, ...]:
    if query:
        if label == "ARTIST":
            return context.gazetteer.query_artists
        return tuple(dict.fromkeys(query_form(n) for n in context.gazetteer.names.get(label, ()) if query_form(n)))
    return context.gazetteer.names.get(label, ())


def _replacement(name: str, original_first_token: str, label: str, *, query: bool) -> list[str]:
    if query:
        return name.split()
    if label in _COMMON_NOUN_LABELS and name[:1].isalpha():
        name = (name[0].upper() if original_first_token[:1].isupper() else name[0].lower()) + name[1:]
    return name.split()


def mention_swap_examples(context: WeakContext, limit: int) -> list[LabeledSentence]:
    """Up to ``limit`` training sentences with their mentions swapped for graph names of the same label."""
    if limit <= 0:
        return []
    candidates = []
    for sentence in context.train_sentences:
        query = sentence.corpus in context.query_corpora
        if any(_pool(context, span.label, query=query) for span in sentence.entities):
            candidates.append(sentence)
    if not candidates:
        return []
    examples: list[LabeledSentence] = []
    # Several passes over the shuffled candidates when the limit asks for more examples than there are.
    for _ in range(3):
        order = list(candidates)
        context.rng.shuffle(order)
        for sentence in order:
            if len(examples) >= limit:
                return examples
            examples.append(_swapped(sentence, context))
    return examples


def _swapped(sentence: LabeledSentence, context: WeakContext) -> LabeledSentence:
    query = sentence.corpus in context.query_corpora
    replaced: dict[int, tuple[TokenSpan, list[str]]] = {}
    for span in sentence.entities:
        pool = _pool(context, span.label, query=query)
        if pool:
            name = pool[context.rng.randrange(len(pool))]
            replaced[span.start] = (span, _replacement(name, sentence.tokens[span.start], span.label, query=query))
    tokens: list[str] = []
    new_start: dict[int, int] = {}
    new_end: dict[int, int] = {}
    i = 0
    while i < len(sentence.tokens):
        new_start[i] = len(tokens)
        if i in replaced:
            span, words = replaced[i]
            tokens.extend(words)
            new_end[span.end] = len(tokens)
            i = span.end
            continue
        tokens.append(sentence.tokens[i])
        i += 1
        new_end[i] = len(tokens)
    new_start[len(sentence.tokens)] = len(tokens)

    def moved(span: TokenSpan) -> TokenSpan:
        return TokenSpan(new_start[span.start], new_end[span.end], span.label)

    return LabeledSentence(
        tokens=tuple(tokens),
        entities=tuple(moved(s) for s in sentence.entities),
        missing=tuple(moved(s) for s in sentence.missing),
        corpus=sentence.corpus,
        origin=f"mention_swap of {sentence.origin}",
    )


def course_title_examples(context: WeakContext, limit: int) -> list[LabeledSentence]:
    """Up to ``limit`` course titles with graph names matched (titles without a match are skipped)."""
    if limit <= 0 or not context.course_titles or context.gazetteer.is_empty:
        return []
    from spacy.matcher import PhraseMatcher
    from spacy.util import filter_spans

    nlp = context.nlp
    docs = [nlp.make_doc(" ".join(title.split())) for title in context.course_titles]
    title_frequency: Counter[str] = Counter()
    for doc in docs:
        title_frequency.update({token.lower_ for token in doc if token.is_alpha})
    common = {word for word, count in title_frequency.items() if count >= COMMON_TITLE_WORD_MIN_TITLES}

    lower_matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    for label in ("INSTRUMENT", "CONCEPT", "GENRE"):
        names = context.gazetteer.names.get(label, ())
        if names:
            lower_matcher.add(label, list(nlp.tokenizer.pipe(names)))
    cased_matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
    for label in ("ARTIST", "BAND"):
        # Multi-word names only, and none made of ordinary title words ("Blues Brothers" would be fine,
        # "Piano Magic" is two title words): a one-word band named "Guitar" must not label every guitar.
        patterns = []
        for doc in nlp.tokenizer.pipe(context.gazetteer.names.get(label, ())):
            alpha = [t.lower_ for t in doc if t.is_alpha]
            if len(alpha) >= 2 and not all(word in common for word in alpha):
                patterns.append(doc)
        if patterns:
            cased_matcher.add(label, patterns)

    examples: list[LabeledSentence] = []
    order = list(range(len(docs)))
    context.rng.shuffle(order)
    for index in order:
        if len(examples) >= limit:
            break
        doc = docs[index]
        chosen = filter_spans([*lower_matcher(doc, as_spans=True), *cased_matcher(doc, as_spans=True)])
        if not chosen:
            continue
        inside = {i for span in chosen for i in range(span.start, span.end)}
        missing = [
            TokenSpan(token.i, token.i + 1, "UNKNOWN")
            for token in doc
            if token.i not in inside and token.is_alpha and not token.is_lower and token.lower_ not in common
        ]
        examples.append(
            LabeledSentence(
                tokens=tuple(token.text for token in doc),
                spaces=tuple(bool(token.whitespace_) for token in doc),
                entities=tuple(
                    TokenSpan(span.start, span.end, span.label_) for span in sorted(chosen, key=lambda s: s.start)
                ),
                missing=tuple(missing),
                corpus="udemy-courses",
                origin=f"course title {context.course_titles[index]!r}",
            )
        )
    return examples


Builder = Callable[[WeakContext, int], list[LabeledSentence]]
#: Weak builders by the name used in ``NerTrainingConfig.weak_sources``.
WEAK_BUILDERS: Mapping[str, Builder] = {
    "mention_swap": mention_swap_examples,
    "course_titles": course_title_examples,
}


@dataclass(frozen=True)
class WeakExamples:
    examples: tuple[LabeledSentence, ...]
    available: Mapping[str, int]
    used: Mapping[str, int]
    limit: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "available": dict(self.available),
            "used": dict(self.used),
            "total_used": len(self.examples),
        }


def build_weak_examples(context: WeakContext, *, sources: Sequence[str], limit: int) -> WeakExamples:
    """At most ``limit`` weak examples, shared evenly among ``sources`` (a source with fewer leaves the rest to the others)."""
    candidates = {name: WEAK_BUILDERS[name](context, limit) for name in sources}
    available = {name: len(found) for name, found in candidates.items()}
    used = dict.fromkeys(sources, 0)
    remaining = limit
    open_sources = [name for name in sources if available[name] > 0]
    while remaining > 0 and open_sources:
        share = max(1, remaining // len(open_sources))
        for name in list(open_sources):
            take = min(share, available[name] - used[name], remaining)
            used[name] += take
            remaining -= take
            if used[name] >= available[name]:
                open_sources.remove(name)
            if remaining <= 0:
                break
    examples = tuple(example for name in sources for example in candidates[name][: used[name]])
    return WeakExamples(examples=examples, available=available, used=used, limit=limit)


def titles_from_courses_file(path: Path) -> list[str]:
    """Course titles, parsed by the course loader (which repairs the file's merged records)."""
    from ingestion.loaders.courses import read_courses

    return [course.title for course in read_courses(path)]
