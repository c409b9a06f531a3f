"""Recognising the graph's terms in text: folding, whole-word phrase matching, and the shared matchers.

How text is matched: it is folded (case, accents, ``&`` -> ``and``) and split into words; a phrase
matches whole words only, and overlapping matches are resolved longest first, so "blues rock" wins over
"blues" and "rock", "bass guitar" is the bass and not the guitar, and "drum and bass" is a genre, not
drums. Japanese titles (no spaces) are matched by substring on katakana names. Synonyms that are not a
term's own name (``keyboard`` -> piano, ``fiddle`` -> violin) get :data:`~kg.schema.terms.LOOSE_CONFIDENCE`
instead of 1.0, technique hints (``barre chords`` -> guitar) :data:`~kg.schema.terms.HINT_CONFIDENCE`.

Why in :mod:`kg`: every loader that links text to the vocabulary of :mod:`kg.schema.terms` (course
titles, score part names, the curriculum's title phrases, Last.FM tag names) must fold and match the
same way, or the same words would reach different entities depending on who read them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kg.schema.terms import (
    CONCEPT_BLOCKERS,
    CONCEPTS,
    GENRE_BLOCKERS,
    GENRES,
    HINT_CONFIDENCE,
    INSTRUMENT_BLOCKERS,
    INSTRUMENT_TAG_MODIFIERS,
    INSTRUMENTS,
    LOOSE_CONFIDENCE,
    Term,
)

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

    def _spans(self, folded: str) -> tuple[list[str], list[tuple[int, int, Match | None]]]:
        """Tokens of ``folded`` and the chosen ``(start, end, match)`` spans, blockers included (match None)."""
        tokens = _tokens(folded)
        candidates: list[tuple[int, int, str | None, float]] = []
        for start, token in enumerate(tokens):
            for phrase, target, confidence in self._by_first.get(token, ()):
                if tuple(tokens[start : start + len(phrase)]) == phrase:
                    candidates.append((start, start + len(phrase), target, confidence))
        taken = [False] * len(tokens)
        spans: list[tuple[int, int, Match | None]] = []
        for start, end, target, confidence in sorted(candidates, key=lambda c: (c[0] - c[1], c[0])):
            if any(taken[start:end]):
                continue
            for i in range(start, end):
                taken[i] = True
            match = Match(target, " ".join(tokens[start:end]), confidence) if target is not None else None
            spans.append((start, end, match))
        return tokens, spans

    def find(self, text: str) -> list[Match]:
        """Every target named in ``text``, once each (best confidence kept), in order of first mention."""
        folded = fold(text)
        tokens, spans = self._spans(folded)
        found = [(start, match) for start, _, match in spans if match is not None]
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
        if not any(match is not None and match.target for _, _, match in spans):
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
