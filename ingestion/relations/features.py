"""From a sentence and an ordered mention pair to the token sequence the classifiers read.

The sequence is the sentence's spaCy tokens (blank English tokenizer: no model download, identical at
training and inference time), lower-cased with digits folded to ``0``, with typed entity markers around
the two mentions: ``<H:ARTIST> john lennon </H> founded <T:BAND> the beatles </T>``. Markers carry the NER
label because the label is the strongest single cue of what the pair can mean; they are fixed vocabulary
entries, so an NER label never seen in training still has its own (untrained) marker.

Why spaCy's tokenizer instead of the corpora's tokens: ingestion sees raw text, and the only way to be
sure a model meets the same tokens it learned from is to tokenise training text the same way.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from core.errors import DocumentInputError
from ingestion.labels import NER_LABELS
from ingestion.relations.records import MentionSpan

PAD = "<pad>"
UNK = "<unk>"
HEAD_END = "</H>"
TAIL_END = "</T>"
_DIGITS = re.compile(r"\d")


def head_marker(label: str) -> str:
    return f"<H:{label}>"


def tail_marker(label: str) -> str:
    return f"<T:{label}>"


#: Reserved vocabulary entries, always in this order at the start of every vocabulary.
SPECIAL_TOKENS: tuple[str, ...] = (
    PAD,
    UNK,
    HEAD_END,
    TAIL_END,
    *(head_marker(label) for label in NER_LABELS),
    *(tail_marker(label) for label in NER_LABELS),
)


@lru_cache(maxsize=1)
def _tokenizer():
    import spacy

    return spacy.blank("en").tokenizer


def normalise_word(word: str) -> str:
    return _DIGITS.sub("0", word.lower())


@dataclass(frozen=True)
class TokenisedSentence:
    """spaCy tokens of a sentence (normalised text) and each mention's token range ``[start, end)``."""

    words: tuple[str, ...]
    mention_tokens: tuple[tuple[int, int], ...]
    #: The same tokens as written (case and digits kept), what the contextual encoder reads.
    surface: tuple[str, ...] = ()


def tokenise(text: str, mentions: Sequence[MentionSpan]) -> TokenisedSentence:
    """Tokenise ``text`` and align each mention's characters to whole tokens (a mention that cuts a token
    in half takes the whole token). A mention covering only whitespace is a :class:`DocumentInputError`."""
    doc = _tokenizer()(text)
    ranges: list[tuple[int, int]] = []
    for index, mention in enumerate(mentions):
        span = doc.char_span(mention.start, mention.end, alignment_mode="expand")
        if span is None or len(span) == 0:
            raise DocumentInputError(
                f"mention {index} ({mention.start}-{mention.end}, {text[mention.start : mention.end]!r}) covers no token of the sentence; "
                "give character offsets of the mention's words."
            )
        ranges.append((span.start, span.end))
    surface = tuple(token.text for token in doc if not token.is_space)
    words = tuple(normalise_word(token) for token in surface)
    if len(words) != len(doc):
        # Whitespace tokens (double spaces, tabs) would shift indices; re-map ranges onto kept tokens.
        kept = [i for i, token in enumerate(doc) if not token.is_space]
        position = {old: new for new, old in enumerate(kept)}

        def remap(index: int, start: int, end: int) -> tuple[int, int]:
            inside = [position[i] for i in range(start, end) if i in position]
            if not inside:
                raise DocumentInputError(
                    f"mention {index} covers only whitespace; give character offsets of the mention's words."
                )
            return (inside[0], inside[-1] + 1)

        ranges = [remap(index, start, end) for index, (start, end) in enumerate(ranges)]
    return TokenisedSentence(words, tuple(ranges), surface)


@dataclass(frozen=True)
class MarkedPair:
    """The marked token sequence of one ordered pair and where the two opening markers are."""

    tokens: tuple[str, ...]
    head_marker_index: int
    tail_marker_index: int
    #: For each token, the index of its word in the sentence (-1 for a marker).
    word_index: tuple[int, ...] = ()


def pair_window(
    sentence: TokenisedSentence,
    head: int,
    tail: int,
    *,
    context_tokens: int | None = None,
    max_tokens: int | None = None,
) -> list[int]:
    """The word indices (ascending) a pair is read in: both mentions, the words between them and at most
    ``context_tokens`` words on either side; with ``max_tokens`` (markers included) the longest parts are
    shortened, the middle of a long gap between the mentions first.

    Why a window: the words between and next to the mentions carry most of the relation, CrossRE's long
    enumerations make whole sentences slow on one CPU thread, and a 300-token sentence from ingestion would
    otherwise dominate a batch.
    """
    (s1, e1), (s2, e2) = sorted((sentence.mention_tokens[head], sentence.mention_tokens[tail]))
    context = len(sentence.words) if context_tokens is None else context_tokens
    left = list(range(max(0, s1 - context), s1))
    between = list(range(e1, s2))
    right = list(range(e2, min(len(sentence.words), e2 + context)))
    if max_tokens is not None:
        room = max(0, max_tokens - 4 - (e1 - s1) - (e2 - s2))  # four marker tokens; mentions are always kept
        if len(left) + len(between) + len(right) > room:
            keep_left = min(len(left), room // 4)
            keep_right = min(len(right), room // 4)
            keep_between = min(len(between), room - keep_left - keep_right)
            spare = room - keep_left - keep_right - keep_between
            keep_left += min(len(left) - keep_left, spare)
            keep_right += min(len(right) - keep_right, room - keep_left - keep_right - keep_between)
            near_first = (keep_between + 1) // 2
            between = (
                between[:near_first] + between[len(between) - (keep_between - near_first) :] if keep_between else []
            )
            left = left[len(left) - keep_left :] if keep_left else []
            right = right[:keep_right]
    return [*left, *range(s1, e1), *between, *range(s2, e2), *right]


def mark_pair(
    sentence: TokenisedSentence,
    head: int,
    tail: int,
    head_label: str,
    tail_label: str,
    *,
    context_tokens: int | None = None,
    max_tokens: int | None = None,
) -> MarkedPair:
    """Insert typed markers around mention ``head`` and mention ``tail`` (which must not overlap), within
    the window of :func:`pair_window`."""
    (hs, he), (ts, te) = sentence.mention_tokens[head], sentence.mention_tokens[tail]
    openings = {hs: head_marker(head_label), ts: tail_marker(tail_label)}
    closings = {he - 1: HEAD_END, te - 1: TAIL_END}
    tokens: list[str] = []
    word_index: list[int] = []
    marker_index: dict[str, int] = {}
    for i in pair_window(sentence, head, tail, context_tokens=context_tokens, max_tokens=max_tokens):
        opening = openings.get(i)
        if opening is not None:
            marker_index[opening[1]] = len(tokens)
            tokens.append(opening)
            word_index.append(-1)
        tokens.append(sentence.words[i])
        word_index.append(i)
        closing = closings.get(i)
        if closing is not None:
            tokens.append(closing)
            word_index.append(-1)
    return MarkedPair(tuple(tokens), marker_index["H"], marker_index["T"], tuple(word_index))


class Vocabulary:
    """Word ↔ id. Special tokens first; words seen at least ``min_count`` times in training after them."""

    def __init__(self, words: Iterable[str]):
        self.words: list[str] = list(SPECIAL_TOKENS) + [w for w in words if w not in SPECIAL_TOKENS]
        self.index = {word: i for i, word in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("vocabulary words must be unique")
        self.unk_id = self.index[UNK]
        self.pad_id = self.index[PAD]
        self.num_special = len(SPECIAL_TOKENS)

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], *, min_count: int) -> Vocabulary:
        counts = Counter(word for words in sentences for word in words)
        kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls(kept)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.index.get(token, self.unk_id) for token in tokens]

    def to_list(self) -> list[str]:
        return list(self.words)

    @classmethod
    def from_list(cls, words: list[str]) -> Vocabulary:
        if words[: len(SPECIAL_TOKENS)] != list(SPECIAL_TOKENS):
            raise ValueError("the vocabulary does not start with this code's special tokens")
        return cls(words[len(SPECIAL_TOKENS) :])

    def __len__(self) -> int:
        return len(self.words)
