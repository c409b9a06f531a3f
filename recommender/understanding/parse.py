"""Understanding a music request in plain English: which graph entities and constraints it names.

*"something like Chopin for a beginner pianist"* becomes an artist (Chopin, linked to the graph), an
instrument (piano, from "pianist"), a level (Beginner) and the wish for similar music; *"upbeat rock to
practise power chords"* becomes a mood (happy), a genre tag (rock) and a concept (power chords).

Why three sources, in this order: the lexicon (``lexicon.json``: levels, players of instruments, moods,
course-or-music cues) covers closed word lists no NER model is trained for; the trained NER model finds
names (artists, works, genres, instruments, concepts) the way ingestion does, and entity linking ties
them to the graph; last, word n-grams not yet explained are looked up in the graph by exact or
normalised name (genre tags, instruments, concepts), which catches lower-case genres the model missed.
Whatever is left is reported as not understood: an unknown word never raises, the request still gets
an answer from what was understood (or popularity), and the page shows how it was read so the learner
can correct it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from ingestion.linking import EntityLinker

LEXICON_PATH = Path(__file__).with_name("lexicon.json")
#: Longest request read; the rest is ignored (and said so).
MAX_REQUEST_CHARS = 300
#: NER label -> what the request understanding calls it.
NER_ROLES = {
    "ARTIST": "artist",
    "BAND": "artist",
    "PERSON": "artist",
    "WORK": "work",
    "GENRE": "genre",
    "INSTRUMENT": "instrument",
    "CONCEPT": "concept",
}
#: Graph look-ups for n-grams nothing else explained: (NER label used for linking, role), in order.
GAZETTEER_LABELS = (("CONCEPT", "concept"), ("INSTRUMENT", "instrument"), ("GENRE", "genre"))
_WORD = re.compile(r"[\w'’&/-]+", re.UNICODE)


class Extractor(Protocol):
    def extract(self, text: str) -> Sequence[Any]: ...


@dataclass(frozen=True)
class Understood:
    """One piece of the request: what it is, where it is in the text, and the graph entity it names."""

    role: str  # artist | work | genre | instrument | concept | level | mood | kind
    text: str
    start: int
    end: int
    value: str  # entity id for graph things; level / mood / kind name otherwise
    name: str
    score: float
    source: str  # lexicon | ner | gazetteer

    @property
    def is_entity(self) -> bool:
        return self.role in {"artist", "work", "genre", "instrument", "concept"}


@dataclass
class ParsedRequest:
    text: str
    understood: list[Understood] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    truncated: bool = False
    #: Set when the learner corrected the reading ("I meant courses").
    kind_override: str | None = None

    def of(self, role: str) -> list[Understood]:
        return [u for u in self.understood if u.role == role]

    @property
    def level(self) -> str | None:
        levels = self.of("level")
        return levels[0].value if levels else None

    @property
    def moods(self) -> list[str]:
        return list(dict.fromkeys(u.value for u in self.of("mood")))

    @property
    def kind(self) -> str:
        """``course`` or ``music``: an explicit cue ("lessons", "songs") decides, then what the request names.

        Artists, works and moods ask for music; a concept asks to learn; a genre asks for music; a level or
        an instrument alone ("I'm a beginner drummer") asks to learn.
        """
        if self.kind_override:
            return self.kind_override
        kinds = {u.value for u in self.of("kind")}
        if "course" in kinds:
            return "course"
        if "music" in kinds or self.of("artist") or self.of("work") or self.of("mood"):
            return "music"
        if self.of("concept"):
            return "course"
        if self.of("genre"):
            return "music"
        return "course" if (self.of("level") or self.of("instrument")) else "music"

    @property
    def entity_ids(self) -> list[str]:
        return list(dict.fromkeys(u.value for u in self.understood if u.is_entity))

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kind": self.kind,
            "level": self.level,
            "moods": self.moods,
            "understood": [asdict(u) for u in self.understood],
            "unknown": list(self.unknown),
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class Lexicon:
    levels: dict[str, str]
    players: dict[str, str]
    kinds: dict[str, str]
    moods: dict[str, str]
    mood_tags: dict[str, tuple[str, ...]]
    filler: frozenset[str]

    def phrases(self) -> list[tuple[str, str, str]]:
        """(phrase, role, value), longest phrase first."""
        rows = [(p, "level", v) for p, v in self.levels.items()]
        rows += [(p, "instrument", v) for p, v in self.players.items()]
        rows += [(p, "mood", v) for p, v in self.moods.items()]
        rows += [(p, "kind", v) for p, v in self.kinds.items()]
        return sorted(rows, key=lambda row: (-len(row[0]), row[0]))


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    data = json.loads(Path(path).read_text(encoding="utf-8"))

    def invert(table: dict[str, list[str]]) -> dict[str, str]:
        return {phrase.casefold(): value for value, phrases in table.items() for phrase in phrases}

    return Lexicon(
        levels=invert(data["levels"]),
        players=invert(data["instrument_players"]),
        kinds=invert(data["kinds"]),
        moods=invert(data["moods"]),
        mood_tags={mood: tuple(tags) for mood, tags in data["mood_tags"].items()},
        filler=frozenset(w.casefold() for w in data["filler"]),
    )


class RequestParser:
    """Parses requests with one NER model and one linker (build once; both are expensive to load)."""

    def __init__(
        self,
        *,
        ner: Extractor | None,
        linker: EntityLinker,
        lexicon: Lexicon | None = None,
        reference_artists: Callable[[], frozenset[str]] | None = None,
    ) -> None:
        """``reference_artists`` gives the entity ids of the artists whose names outrank a genre tag of the
        same name (the service passes :func:`catalog.selectors.tag_rule_artist_entity_ids`); without it every
        artist does, as when the catalogue held only those."""
        self.ner = ner
        self.linker = linker
        self.lexicon = lexicon or load_lexicon()
        self._reference_artists = reference_artists
        self._reference: frozenset[str] | None = None

    def parse(self, text: str) -> ParsedRequest:
        raw = " ".join(str(text or "").split())
        truncated = len(raw) > MAX_REQUEST_CHARS
        query = raw[:MAX_REQUEST_CHARS]
        parsed = ParsedRequest(text=query, truncated=truncated)
        if not query:
            return parsed
        taken = [False] * len(query)
        # Order matters: longer and more specific readings claim their words first ("heavy metal" is a
        # genre before "heavy" is a mood; "hard rock" before "hard" is a level).
        self._lexicon_pass(query, parsed, taken, multi_word=True)
        self._ner_pass(query, parsed, taken)
        self._gazetteer_pass(query, parsed, taken, sizes=(4, 3, 2))
        self._lexicon_pass(query, parsed, taken, multi_word=False)
        self._gazetteer_pass(query, parsed, taken, sizes=(1,))
        parsed.understood.sort(key=lambda u: (u.start, u.end))
        parsed.unknown = [
            m.group(0)
            for m in _WORD.finditer(query)
            if not any(taken[m.start() : m.end()])
            and m.group(0).casefold() not in self.lexicon.filler
            and not m.group(0).isdigit()
        ]
        return parsed

    # --- passes ----------------------------------------------------------------------------

    def _lexicon_pass(self, query: str, parsed: ParsedRequest, taken: list[bool], *, multi_word: bool) -> None:
        folded = query.casefold()
        for phrase, role, value in self.lexicon.phrases():
            if (" " in phrase) != multi_word:
                continue
            for match in re.finditer(rf"(?<![\w]){re.escape(phrase)}s?(?![\w])", folded):
                start, end = match.span()
                if any(taken[start:end]):
                    continue
                surface = query[start:end]
                if role == "instrument":
                    link = self.linker.find(value, "INSTRUMENT")
                    if link is None:
                        continue
                    item = Understood(
                        "instrument", surface, start, end, link.entity_id, link.entity_name, 0.9, "lexicon"
                    )
                else:
                    item = Understood(role, surface, start, end, value, value, 1.0, "lexicon")
                parsed.understood.append(item)
                _take(taken, start, end)
                if role == "mood":
                    self._mood_tag(value, surface, start, end, parsed)

    def _mood_tag(self, mood: str, surface: str, start: int, end: int, parsed: ParsedRequest) -> None:
        """A mood also names the Last.FM tag for it (so music can be filtered or seeded by it)."""
        for tag_name in (surface, *self.lexicon.mood_tags.get(mood, ())):
            link = self.linker.find(tag_name, "GENRE")
            if link is not None and link.entity_type == "Tag":
                parsed.understood.append(
                    Understood("genre", surface, start, end, link.entity_id, link.entity_name, 0.6, "lexicon")
                )
                return

    def _ner_pass(self, query: str, parsed: ParsedRequest, taken: list[bool]) -> None:
        if self.ner is None:
            return
        for mention in self.ner.extract(query):
            role = NER_ROLES.get(mention.label)
            if role is None or any(taken[mention.start : mention.end]):
                continue
            link = self.linker.find(mention.text, mention.label, context=query)
            if link is None and role == "artist":
                # Lower-case requests confuse BAND/ARTIST/PERSON; any person-like type will do.
                for label in ("ARTIST", "BAND", "PERSON"):
                    link = link or self.linker.find(mention.text, label, context=query)
            if link is None:
                continue  # left for the gazetteer pass, then reported as not understood
            parsed.understood.append(
                Understood(
                    role, mention.text, mention.start, mention.end, link.entity_id, link.entity_name, link.score, "ner"
                )
            )
            _take(taken, mention.start, mention.end)

    def _gazetteer_pass(self, query: str, parsed: ParsedRequest, taken: list[bool], *, sizes: Sequence[int]) -> None:
        words = list(_WORD.finditer(query))
        for size in sizes:
            for i in range(len(words) - size + 1):
                start, end = words[i].start(), words[i + size - 1].end()
                if any(taken[start:end]):
                    continue
                phrase = query[start:end]
                if size == 1 and (phrase.casefold() in self.lexicon.filler or len(phrase) < 3):
                    continue
                found = self._gazetteer_lookup(phrase, last_word=words[i + size - 1].group(0) if size > 1 else None)
                if found is not None:
                    role, link = found
                    parsed.understood.append(
                        Understood(
                            role,
                            phrase,
                            start,
                            end,
                            link.entity_id,
                            link.entity_name,
                            round(link.score * 0.9, 4),
                            "gazetteer",
                        )
                    )
                    _take(taken, start, end)

    def _gazetteer_lookup(self, phrase: str, *, last_word: str | None):
        """(role, link) of a phrase named exactly in the graph.

        Artists come before genre tags: every Last.FM tag that shares an artist's name is a tag *about*
        that artist ("pink floyd", used by a handful of listeners), not a genre. A multi-word genre tag
        ending in an instrument ("blues guitar") is left for its parts, which say more (genre + instrument).
        """
        for label, role in (
            ("CONCEPT", "concept"),
            ("INSTRUMENT", "instrument"),
            ("ARTIST", "artist"),
            ("BAND", "artist"),
            ("GENRE", "genre"),
        ):
            if role == "artist" and last_word is None and len(phrase) < 4:
                continue
            link = self.linker.find(phrase, label, exact_only=True)
            if link is None:
                continue
            if role == "artist" and not self._artist_outranks_words(phrase, link.entity_id):
                continue
            if (
                role == "genre"
                and last_word is not None
                and self.linker.find(last_word, "INSTRUMENT", exact_only=True) is not None
            ):
                return None
            return role, link
        return None

    def _artist_outranks_words(self, phrase: str, entity_id: str) -> bool:
        """Whether an artist named exactly ``phrase`` is meant, rather than the words themselves.

        The full HetRec catalogue has acts called "Beginner", "Electronic" or "Ambient": a phrase made of
        request words only ("a beginner") keeps its lexicon reading, and a phrase that is also a genre tag
        reads as the genre unless the artist is one of the reference artists (well known enough that the
        tag of its name is a tag about it, as "pink floyd" is).
        """
        lexicon = self.lexicon
        words = [w.group(0).casefold() for w in _WORD.finditer(phrase)]
        content = [w for w in words if w not in lexicon.filler]
        if content and all(
            w in lexicon.levels or w in lexicon.moods or w in lexicon.kinds or w in lexicon.players for w in content
        ):
            return False
        if self._reference_artists is None or self.linker.find(phrase, "GENRE", exact_only=True) is None:
            return True
        if self._reference is None:
            self._reference = self._reference_artists()
        return not self._reference or entity_id in self._reference


def _take(taken: list[bool], start: int, end: int) -> None:
    for i in range(start, end):
        taken[i] = True


def parsed_entities(parsed: ParsedRequest, roles: Iterable[str]) -> list[str]:
    wanted = set(roles)
    return list(dict.fromkeys(u.value for u in parsed.understood if u.role in wanted))
