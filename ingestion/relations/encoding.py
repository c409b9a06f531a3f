"""Candidate pairs → padded tensors for the BiLSTM (shared by training, evaluation and inference).

With a contextual encoder, every token of a marked pair also carries its word's frozen MiniLM vector
(markers get zeros). The vectors are computed once per sentence (:func:`sentence_vectors`, batched over
many sentences) and shared by all the pairs of that sentence; :func:`collate` gathers them per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ingestion.relations.features import TokenisedSentence, Vocabulary, mark_pair, tokenise
from ingestion.relations.records import MentionSpan
from ingestion.relations.schema import RELATION_LABELS, allowed_label_mask


@dataclass(frozen=True)
class EncodedPair:
    token_ids: tuple[int, ...]
    head_index: int
    tail_index: int
    allowed: tuple[bool, ...]
    #: Word of the sentence behind each token (-1: a marker), to gather contextual vectors.
    word_index: tuple[int, ...] = ()
    #: The sentence's contextual word vectors ``(words, dim)``, shared by its pairs; ``None`` without encoder.
    vectors: np.ndarray | None = field(default=None, compare=False, repr=False)


def sentence_vectors(
    tokenised: Sequence[TokenisedSentence], encoder: str | None, *, batch_size: int = 32
) -> list[np.ndarray | None]:
    """Contextual vectors of each tokenised sentence (``None`` for every sentence without an encoder)."""
    if encoder is None:
        return [None] * len(tokenised)
    from ingestion.relations.contextual import encoder_dimension, word_vectors

    encoder_dimension(encoder)  # validates the name
    return list(word_vectors([t.surface for t in tokenised], batch_size=batch_size))


def encode_pairs(
    text: str,
    mentions: Sequence[MentionSpan],
    pairs: Sequence[tuple[int, int]],
    *,
    vocabulary: Vocabulary,
    max_tokens: int,
    context_tokens: int | None = None,
    labels: tuple[str, ...] = RELATION_LABELS,
    tokenised: TokenisedSentence | None = None,
    vectors: np.ndarray | None = None,
) -> list[EncodedPair]:
    """One :class:`EncodedPair` per ``(head, tail)``; the sentence is tokenised once (or passed in)."""
    if not pairs:
        return []
    tokenised = tokenised if tokenised is not None else tokenise(text, mentions)
    encoded = []
    for head, tail in pairs:
        h_label, t_label = mentions[head].label, mentions[tail].label
        marked = mark_pair(
            tokenised, head, tail, h_label, t_label, context_tokens=context_tokens, max_tokens=max_tokens
        )
        encoded.append(
            EncodedPair(
                token_ids=tuple(vocabulary.encode(marked.tokens)),
                head_index=marked.head_marker_index,
                tail_index=marked.tail_marker_index,
                allowed=tuple(allowed_label_mask(h_label, t_label, labels)),
                word_index=marked.word_index,
                vectors=vectors,
            )
        )
    return encoded


@dataclass(frozen=True)
class Batch:
    token_ids: torch.Tensor
    lengths: torch.Tensor
    head_index: torch.Tensor
    tail_index: torch.Tensor
    allowed: torch.Tensor
    #: ``(batch, length, dim)`` contextual vectors, or ``None`` without an encoder.
    context: torch.Tensor | None = None


def collate(pairs: Sequence[EncodedPair], *, pad_id: int) -> Batch:
    length = max(len(p.token_ids) for p in pairs)
    ids = torch.full((len(pairs), length), pad_id, dtype=torch.long)
    for row, pair in enumerate(pairs):
        ids[row, : len(pair.token_ids)] = torch.tensor(pair.token_ids, dtype=torch.long)
    context = None
    first = pairs[0].vectors
    if first is not None:
        gathered = np.zeros((len(pairs), length, first.shape[1]), dtype=np.float32)
        for row, pair in enumerate(pairs):
            if pair.vectors is None:
                continue
            index = np.asarray(pair.word_index, dtype=np.int64)
            inside = (index >= 0) & (index < len(pair.vectors))
            gathered[row, np.nonzero(inside)[0]] = pair.vectors[index[inside]]
        context = torch.from_numpy(gathered)
    return Batch(
        token_ids=ids,
        lengths=torch.tensor([len(p.token_ids) for p in pairs], dtype=torch.long),
        head_index=torch.tensor([p.head_index for p in pairs], dtype=torch.long),
        tail_index=torch.tensor([p.tail_index for p in pairs], dtype=torch.long),
        allowed=torch.tensor([p.allowed for p in pairs], dtype=torch.bool),
        context=context,
    )
