"""The inference API ingestion calls: sentence + NER mentions → typed, directed relations with confidences.

Which pairs are classified: every ordered pair of non-overlapping mentions whose NER labels fit some
relation of :mod:`.schema`; the classifier can only choose NONE or a relation that fits the labels.
A symmetric relation (ASSOCIATED_WITH) can come back for both orders of a pair, as its own prediction.

Confidence is calibrated: the temperature-scaled probability of the chosen relation passed through the
artifact's isotonic calibrator, so 0.9 means "about 9 in 10 such predictions were right" on held-out
CrossRE-style pairs (see :mod:`.calibration`); ``RelationPrediction.probability`` keeps the raw one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from core.errors import DocumentInputError
from ingestion.labels import NER_LABELS
from ingestion.relations.artifacts import LoadedRelationArtifact, latest_relation_artifact, load_relation_artifact
from ingestion.relations.encoding import EncodedPair, encode_pairs, sentence_vectors
from ingestion.relations.features import tokenise
from ingestion.relations.records import MentionSpan, RelationPrediction, candidate_pairs
from ingestion.relations.schema import NONE_RELATION, RELATION_LABELS
from ingestion.relations.training import apply_none_bias, predict_logits

DEFAULT_BATCH_SIZE = 128


def validate_mentions(sentence: str, mentions: Sequence[MentionSpan]) -> tuple[MentionSpan, ...]:
    """The mentions as a tuple, or a :class:`DocumentInputError` naming the first bad one."""
    if not isinstance(sentence, str):
        raise DocumentInputError(f"sentence must be a string, got {type(sentence).__name__}.")
    if isinstance(mentions, (str, bytes, MentionSpan)) or not isinstance(mentions, Iterable):
        raise DocumentInputError(f"mentions must be a list of MentionSpan, got {type(mentions).__name__}.")
    checked = tuple(mentions)
    for index, mention in enumerate(checked):
        if not isinstance(mention, MentionSpan):
            raise DocumentInputError(
                f"mention {index} must be a MentionSpan(start, end, label), got {type(mention).__name__}."
            )
        start, end = mention.start, mention.end
        if (
            isinstance(start, bool)
            or isinstance(end, bool)
            or not isinstance(start, int)
            or not isinstance(end, int)
            or not 0 <= start < end <= len(sentence)
        ):
            raise DocumentInputError(
                f"mention {index} has offsets {start!r}-{end!r}; they must satisfy 0 <= start < end <= {len(sentence)} (the sentence length)."
            )
        if not sentence[start:end].strip():
            raise DocumentInputError(f"mention {index} ({start}-{end}) covers only whitespace.")
        if mention.label not in NER_LABELS:
            raise DocumentInputError(
                f"mention {index} has label {mention.label!r}; use one of {', '.join(NER_LABELS)}."
            )
    return checked


class RelationExtractor:
    """A loaded artifact ready to classify mention pairs. Thread-safe for inference (no state changes)."""

    def __init__(self, artifact: LoadedRelationArtifact):
        self._artifact = artifact
        self._model = artifact.model
        self._vocabulary = artifact.vocabulary
        self._max_tokens = artifact.config.max_tokens
        self._context_tokens = artifact.config.context_tokens
        self._temperature = artifact.temperature
        self._calibrator = artifact.calibrator
        self._none_bias = artifact.none_bias
        self._encoder = artifact.config.contextual_encoder

    @property
    def version(self) -> str:
        """The artifact's version name (``bilstm-<timestamp>-<config hash>``), recorded as provenance."""
        return self._artifact.version

    @property
    def artifact(self) -> LoadedRelationArtifact:
        """The loaded artifact (config, vocabulary, model, manifest, metrics), for evaluation tools."""
        return self._artifact

    @property
    def path(self) -> Path:
        return self._artifact.path

    @property
    def temperature(self) -> float:
        return self._temperature

    @property
    def metrics(self):
        return self._artifact.metrics

    def predict(self, sentence: str, mentions: Sequence[MentionSpan]) -> list[RelationPrediction]:
        """Relations between ``mentions`` of ``sentence`` (indices into ``mentions``), most confident first."""
        return self.predict_many([(sentence, mentions)])[0]

    def predict_many(
        self, items: Iterable[tuple[str, Sequence[MentionSpan]]], *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> list[list[RelationPrediction]]:
        """:meth:`predict` for many sentences; candidate pairs of all sentences share forward batches of
        ``batch_size`` pairs, which is what makes a document fast. Results are in input order."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise DocumentInputError(f"batch_size must be a positive integer, got {batch_size!r}.")
        encoded: list[EncodedPair] = []
        owners: list[tuple[int, int, int]] = []  # (item, head, tail)
        count = 0
        work = []
        for item_index, item in enumerate(items):
            count += 1
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise DocumentInputError(f"item {item_index} must be a (sentence, mentions) pair.")
            sentence, mentions = item
            checked = validate_mentions(sentence, mentions)
            pairs = candidate_pairs(checked)
            if pairs:
                work.append((item_index, sentence, checked, pairs, tokenise(sentence, checked)))
        vectors = sentence_vectors([w[4] for w in work], self._encoder)
        for (item_index, sentence, checked, pairs, tokenised), sentence_vectors_ in zip(work, vectors):
            encoded.extend(
                encode_pairs(
                    sentence,
                    checked,
                    pairs,
                    vocabulary=self._vocabulary,
                    max_tokens=self._max_tokens,
                    context_tokens=self._context_tokens,
                    tokenised=tokenised,
                    vectors=sentence_vectors_,
                )
            )
            owners.extend((item_index, h, t) for h, t in pairs)
        results: list[list[RelationPrediction]] = [[] for _ in range(count)]
        if not encoded:
            return results
        logits = apply_none_bias(
            predict_logits(self._model, encoded, pad_id=self._vocabulary.pad_id, batch_size=batch_size),
            self._none_bias,
        )
        probabilities = torch.softmax(logits / self._temperature, dim=1)
        top, best = probabilities.max(dim=1)
        calibrated = self._calibrator.apply(top.tolist())
        none_index = RELATION_LABELS.index(NONE_RELATION)
        for (item_index, head, tail), label_index, prob, confidence in zip(
            owners, best.tolist(), top.tolist(), calibrated.tolist()
        ):
            if label_index != none_index:
                results[item_index].append(
                    RelationPrediction(head, tail, RELATION_LABELS[label_index], float(confidence), float(prob))
                )
        for predictions in results:
            predictions.sort(key=lambda p: (-p.confidence, p.head, p.tail))
        return results


def load_relation_extractor(path: Path | str | None = None) -> RelationExtractor:
    """The extractor of artifact ``path`` (a version directory), or of the newest version under
    ``<LEITMOTIF_ARTIFACTS_DIR>/relations``. No artifact → ``ModelArtifactError`` (E031)."""
    return RelationExtractor(load_relation_artifact(path if path is not None else latest_relation_artifact()))
