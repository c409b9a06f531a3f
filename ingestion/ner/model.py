"""The loaded NER model as ingestion uses it: mentions and sentences with character offsets into the text.

Why offsets into the caller's text and not token indices: ingestion stores evidence spans, links
mentions and highlights them in the curator UI; all of that is about the original string. spaCy keeps
the text byte for byte (``doc.text == text``), so ``text[m.start:m.end] == m.text`` always holds.

Sentences come from the pipeline's own splitters (punctuation and line breaks, see
:mod:`ingestion.ner.pipeline`); their offsets exclude surrounding whitespace, and whitespace-only lines
are no sentence. A mention belongs to the sentence its first character is in; in the rare case the
model predicts a mention running over a sentence break it is cut at the sentence end, so every mention
lies inside its sentence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import DocumentInputError, ModelArtifactError
from ingestion.ner.artifacts import MODEL_DIR, RETRAIN_HINT, VerifiedArtifact, resolve_ner_artifact, verify_ner_artifact
from ingestion.ner.config import NerTrainingConfig
from ingestion.ner.pipeline import (
    NEWLINE_COMPONENT,  # importing registers the component spaCy needs to load the pipeline
)

#: spaCy refuses longer texts by default (1,000,000 characters); ingestion's own limit may be higher.
DEFAULT_MAX_TEXT_LENGTH = 1_000_000


@dataclass(frozen=True)
class Mention:
    """An entity mention: ``text == source[start:end]``; ``sentence_index`` numbers the non-empty sentences from 0."""

    start: int
    end: int
    text: str
    label: str
    sentence_index: int | None = None


@dataclass(frozen=True)
class Sentence:
    index: int
    start: int
    end: int
    text: str
    mentions: tuple[Mention, ...]


class NerModel:
    """A trained pipeline plus its provenance (``version`` is recorded on everything extracted with it)."""

    def __init__(
        self,
        nlp,
        *,
        version: str,
        path: Path | None = None,
        config: NerTrainingConfig | None = None,
        metrics: Mapping[str, Any] | None = None,
        max_text_length: int | None = None,
    ):
        self.nlp = nlp
        self.version = version
        self.path = path
        self.config = config
        self.metrics = dict(metrics or {})
        self.nlp.max_length = max(DEFAULT_MAX_TEXT_LENGTH, max_text_length or 0)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.nlp.get_pipe("ner").labels)

    def __repr__(self) -> str:
        return f"NerModel(version={self.version!r})"

    # --- extraction ----------------------------------------------------------------------------

    def extract(self, text: str) -> list[Mention]:
        return [mention for sentence in self.extract_sentences(text) for mention in sentence.mentions]

    def extract_sentences(self, text: str) -> list[Sentence]:
        self._check(text, position=None)
        return sentences_of(self.nlp(text))

    def extract_many(self, texts: Iterable[str], *, batch_size: int = 64) -> list[list[Mention]]:
        """Mentions of many texts through ``nlp.pipe`` (much faster than one call per text)."""
        return [
            [m for sentence in sentences for m in sentence.mentions]
            for sentences in self.extract_sentences_many(texts, batch_size=batch_size)
        ]

    def extract_sentences_many(self, texts: Iterable[str], *, batch_size: int = 64) -> list[list[Sentence]]:
        if isinstance(texts, (str, bytes)):
            raise DocumentInputError(
                "extract_many expects a list of texts, not one string; use extract() for a single text."
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise DocumentInputError(f"batch_size must be a positive integer, got {batch_size!r}.")
        texts = list(texts)
        for position, text in enumerate(texts):
            self._check(text, position=position)
        return [sentences_of(doc) for doc in self.nlp.pipe(texts, batch_size=batch_size)]

    def _check(self, text: Any, *, position: int | None) -> None:
        which = "text" if position is None else f"text #{position}"
        if not isinstance(text, str):
            hint = " (decode bytes as UTF-8 first)" if isinstance(text, (bytes, bytearray)) else ""
            raise DocumentInputError(f"{which} must be a str, got {type(text).__name__}{hint}.")
        if len(text) > self.nlp.max_length:
            raise DocumentInputError(
                f"{which} has {len(text):,} characters; the NER model takes at most {self.nlp.max_length:,}. Split the document."
            )


def sentences_of(doc) -> list[Sentence]:
    """Non-empty sentences of a processed ``Doc`` with the mentions that start in each."""
    text = doc.text  # built once: every ``doc.text`` joins the whole document again
    sentences: list[tuple[int, int]] = []  # (start_char, end_char) without surrounding whitespace
    token_sentence: dict[int, int] = {}
    for sent in doc.sents:
        words = [token for token in sent if not token.is_space]
        if not words:
            continue
        start = words[0].idx
        end = words[-1].idx + len(words[-1].text)
        stripped_end = start + len(text[start:end].rstrip())
        for token in sent:
            token_sentence[token.i] = len(sentences)
        sentences.append((start, stripped_end))
    mentions: list[list[Mention]] = [[] for _ in sentences]
    for ent in doc.ents:
        index = token_sentence.get(ent.start)
        if index is None:
            continue
        sentence_start, sentence_end = sentences[index]
        start, end = max(ent.start_char, sentence_start), min(ent.end_char, sentence_end)
        end = start + len(text[start:end].rstrip())
        if end <= start:
            continue
        mentions[index].append(
            Mention(start=start, end=end, text=text[start:end], label=ent.label_, sentence_index=index)
        )
    return [
        Sentence(index=i, start=start, end=end, text=text[start:end], mentions=tuple(mentions[i]))
        for i, (start, end) in enumerate(sentences)
    ]


def load_ner_model(path: Path | str | None = None, *, directory: Path | str | None = None) -> NerModel:
    """Load the newest NER artifact (or the one at ``path``, a directory or a version name), verified.

    Raises :class:`~core.errors.ModelArtifactError` when there is none, or it is
    incomplete, edited or from another spaCy version; the message says to run ``python manage.py train_ner``.
    """
    import spacy

    artifact: VerifiedArtifact = verify_ner_artifact(resolve_ner_artifact(path, directory=directory))
    try:
        nlp = spacy.load(artifact.path / MODEL_DIR)
    except Exception as exc:
        raise ModelArtifactError(
            f"{artifact.path / MODEL_DIR}: spaCy cannot load the pipeline ({exc}); {RETRAIN_HINT}."
        ) from None
    missing = [name for name in ("ner", "sentencizer", NEWLINE_COMPONENT) if name not in nlp.pipe_names]
    if missing:
        raise ModelArtifactError(
            f"{artifact.path / MODEL_DIR}: the pipeline lacks {', '.join(missing)}; {RETRAIN_HINT}."
        )
    from django.conf import settings

    return NerModel(
        nlp,
        version=artifact.version,
        path=artifact.path,
        config=artifact.config,
        metrics=artifact.metrics,
        max_text_length=int(getattr(settings, "INGESTION_MAX_DOCUMENT_BYTES", 0) or 0),
    )
