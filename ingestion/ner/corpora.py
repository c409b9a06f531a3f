"""BIO corpora (CrossNER, MusicRecoNER) read into labelled sentences with the shared NER labels.

Why sentences keep their tokens *and* can become text: training and evaluation run the pipeline the way
ingestion does, on raw text through spaCy's own tokenizer. A sentence is therefore joined back into
readable text (no space before ``,`` or ``'s``, none after ``(``), gold entities become character spans
of that text, and spaCy aligns its tokenization with the corpus tokens when training.

Why strict parsing: both corpora are clean, so anything odd (a line without a tab, a tag such as
``B-`` or ``X-song``, an ``I-song`` that continues nothing) means a damaged or wrong file. It raises
:class:`~core.errors.DataFileError` naming the file and the 1-based line, instead of
training on a silently shifted label sequence.

Corpus labels are mapped through :data:`ingestion.labels.CORPUS_LABEL_MAP`. A label without a mapping
is "not used for training": its tokens are marked *missing* (neither entity nor outside), so the model
is not taught that they are no entity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigurationError, DataFileError
from ingestion.labels import CORPUS_LABEL_MAP, NER_LABELS

_TAG = re.compile(r"^(?:O|(?P<prefix>[BI])-(?P<label>\S+))$")

#: Tokens written without a space before them when a sentence is joined back into text.
_NO_SPACE_BEFORE = frozenset(
    {
        ",",
        ".",
        ";",
        ":",
        "!",
        "?",
        ")",
        "]",
        "}",
        "%",
        "..",
        "...",
        "'s",
        "'S",
        "n't",
        "N'T",
        "'t",
        "'re",
        "'ve",
        "'ll",
        "'d",
        "'m",
    }
)
#: Tokens written without a space after them.
_NO_SPACE_AFTER = frozenset({"(", "[", "{", "$"})


@dataclass(frozen=True)
class TokenSpan:
    """Tokens ``[start, end)`` of a sentence carrying ``label`` (an NER label, or a raw corpus label if unmapped)."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class LabeledSentence:
    """One annotated sentence: tokens, entity spans with NER labels, and spans whose annotation is unknown.

    ``spaces`` says whether a space follows each token; ``None`` means "join like written text"
    (see :func:`joined_spaces`). ``origin`` is ``"<file>:<line>"`` of the first token, or the weak
    builder that made the sentence.
    """

    tokens: tuple[str, ...]
    entities: tuple[TokenSpan, ...]
    corpus: str
    origin: str
    missing: tuple[TokenSpan, ...] = ()
    spaces: tuple[bool, ...] | None = None
    #: Tokens outside every entity and every missing span are "outside" (O) unless this is False,
    #: in which case they are missing too (weak examples that only know their matches).
    rest_is_outside: bool = True
    _text_cache: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    def token_spaces(self) -> tuple[bool, ...]:
        return self.spaces if self.spaces is not None else joined_spaces(self.tokens)

    def text_and_offsets(self) -> tuple[str, list[tuple[int, int]]]:
        """The sentence as text and each token's ``(start, end)`` character offsets in it."""
        if "value" not in self._text_cache:
            parts: list[str] = []
            offsets: list[tuple[int, int]] = []
            position = 0
            for token, space in zip(self.tokens, self.token_spaces()):
                offsets.append((position, position + len(token)))
                parts.append(token + (" " if space else ""))
                position += len(token) + (1 if space else 0)
            self._text_cache["value"] = ("".join(parts), offsets)
        return self._text_cache["value"]

    @property
    def text(self) -> str:
        return self.text_and_offsets()[0]

    def char_entities(self) -> list[tuple[int, int, str]]:
        """Gold entities as ``(start_char, end_char, label)`` of :attr:`text`."""
        _, offsets = self.text_and_offsets()
        return [(offsets[s.start][0], offsets[s.end - 1][1], s.label) for s in self.entities]

    def to_doc(self, vocab):
        """A spaCy ``Doc`` over the corpus tokens with the gold entities (and missing spans) set."""
        from spacy.tokens import Doc

        doc = Doc(vocab, words=list(self.tokens), spaces=list(self.token_spaces()))
        entities = [_span(doc, s) for s in self.entities]
        missing = [doc[s.start : s.end] for s in self.missing]
        doc.set_ents(entities, missing=missing, default="outside" if self.rest_is_outside else "missing")
        return doc

    def lowercased(self, relabel: Mapping[str, str] | None = None) -> LabeledSentence:
        """The same sentence in lower case (how people type queries); labels renamed by ``relabel`` if given."""
        relabel = relabel or {}
        return LabeledSentence(
            tokens=tuple(t.lower() for t in self.tokens),
            entities=tuple(TokenSpan(s.start, s.end, relabel.get(s.label, s.label)) for s in self.entities),
            corpus=self.corpus,
            origin=f"{self.origin} (lower-cased)",
            missing=self.missing,
            spaces=self.spaces,
            rest_is_outside=self.rest_is_outside,
        )


def _span(doc, span: TokenSpan):
    from spacy.tokens import Span

    return Span(doc, span.start, span.end, label=span.label)


def joined_spaces(tokens: Sequence[str]) -> tuple[bool, ...]:
    """Whether a space follows each token when the tokens are written as ordinary text."""
    spaces = []
    for i, token in enumerate(tokens):
        if i == len(tokens) - 1:
            spaces.append(False)
            continue
        following = tokens[i + 1]
        spaces.append(token not in _NO_SPACE_AFTER and following not in _NO_SPACE_BEFORE)
    return tuple(spaces)


def corpus_keys(label_map: Mapping[tuple[str, str], str] = CORPUS_LABEL_MAP) -> tuple[str, ...]:
    return tuple(dict.fromkeys(corpus for corpus, _ in label_map))


def read_bio_file(
    path: Path | str,
    *,
    corpus: str,
    label_map: Mapping[tuple[str, str], str] = CORPUS_LABEL_MAP,
) -> list[LabeledSentence]:
    """Parse a ``token<TAB>tag`` file (blank line between sentences) into sentences with mapped labels.

    ``corpus`` is the corpus key of ``label_map`` (``crossner``, ``musicreconer``).
    """
    path = Path(path)
    if corpus not in corpus_keys(label_map):
        raise ConfigurationError(f"Unknown NER corpus {corpus!r}; the label map knows {list(corpus_keys(label_map))}.")
    for (map_corpus, corpus_label), ner_label in label_map.items():
        if ner_label not in NER_LABELS:
            raise ConfigurationError(
                f"CORPUS_LABEL_MAP maps ({map_corpus!r}, {corpus_label!r}) to {ner_label!r}, which is not in NER_LABELS."
            )
    if not path.is_file():
        raise DataFileError("NER corpus file not found; check LEITMOTIF_DATA_DIR.", path=str(path))
    raw = path.read_bytes()
    sentences: list[LabeledSentence] = []
    tokens: list[str] = []
    tags: list[tuple[str | None, str | None, int]] = []  # (prefix, corpus label, line)
    first_line = 0
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, raw_line in enumerate(lines, start=1):
        try:
            line = raw_line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            raise DataFileError(
                f"not valid UTF-8 ({exc.reason} at byte {exc.start}); save the file as UTF-8.",
                path=str(path),
                line=number,
            ) from None
        if not line.strip():
            if tokens:
                sentences.append(
                    _sentence(tokens, tags, corpus=corpus, label_map=label_map, path=path, first_line=first_line)
                )
                tokens, tags = [], []
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise DataFileError(
                f"expected 'token<TAB>tag' (one tab), found {len(parts) - 1} tabs in {line[:60]!r}.",
                path=str(path),
                line=number,
            )
        token, tag = parts
        if not token or any(ch.isspace() for ch in token):
            raise DataFileError(
                f"the token {token!r} is empty or contains whitespace; one token per line.", path=str(path), line=number
            )
        match = _TAG.match(tag)
        if match is None:
            raise DataFileError(
                f"invalid BIO tag {tag!r}; expected O, B-<type> or I-<type>.", path=str(path), line=number
            )
        prefix, label = match.group("prefix"), match.group("label")
        if prefix == "I":
            previous = tags[-1] if tags else None
            if previous is None or previous[1] != label:
                before = (
                    "the sentence start"
                    if previous is None
                    else (f"{previous[0]}-{previous[1]}" if previous[0] else "O")
                )
                raise DataFileError(
                    f"tag {tag!r} continues no {label!r} entity (it follows {before}); it should be B-{label}.",
                    path=str(path),
                    line=number,
                )
        if not tokens:
            first_line = number
        tokens.append(token)
        tags.append((prefix, label, number))
    if tokens:
        sentences.append(_sentence(tokens, tags, corpus=corpus, label_map=label_map, path=path, first_line=first_line))
    if not sentences:
        raise DataFileError(
            "the file holds no sentences; expected 'token<TAB>tag' lines with blank lines between sentences.",
            path=str(path),
        )
    return sentences


def _sentence(
    tokens: list[str],
    tags: list[tuple[str | None, str | None, int]],
    *,
    corpus: str,
    label_map: Mapping[tuple[str, str], str],
    path: Path,
    first_line: int,
) -> LabeledSentence:
    entities: list[TokenSpan] = []
    missing: list[TokenSpan] = []
    start: int | None = None
    for i, (prefix, _label, _) in enumerate([*tags, (None, None, 0)]):
        if start is not None and prefix != "I":
            corpus_label = tags[start][1]
            assert corpus_label is not None  # the span starts at a B-<type> tag, which always has a type
            mapped = label_map.get((corpus, corpus_label))
            (entities if mapped else missing).append(TokenSpan(start, i, mapped or corpus_label))
            start = None
        if prefix == "B":
            start = i
    return LabeledSentence(
        tokens=tuple(tokens),
        entities=tuple(entities),
        missing=tuple(missing),
        corpus=corpus,
        origin=f"{path}:{first_line}",
    )
