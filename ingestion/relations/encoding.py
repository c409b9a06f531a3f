"""Candidate pairs → padded tensors for the BiLSTM (shared by training, evaluation and inference)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ingestion.relations.features import Vocabulary, mark_pair, tokenise
from ingestion.relations.records import MentionSpan
from ingestion.relations.schema import RELATION_LABELS, allowed_label_mask


@dataclass(frozen=True)
class EncodedPair:
    token_ids: tuple[int, ...]
    head_index: int
    tail_index: int
    allowed: tuple[bool, ...]


def encode_pairs(
    text: str,
    mentions: Sequence[MentionSpan],
    pairs: Sequence[tuple[int, int]],
    *,
    vocabulary: Vocabulary,
    max_tokens: int,
    context_tokens: int | None = None,
    labels: tuple[str, ...] = RELATION_LABELS,
) -> list[EncodedPair]:
    """One :class:`EncodedPair` per ``(head, tail)``; the sentence is tokenised once."""
    if not pairs:
        return []
    tokenised = tokenise(text, mentions)
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


def collate(pairs: Sequence[EncodedPair], *, pad_id: int) -> Batch:
    length = max(len(p.token_ids) for p in pairs)
    ids = torch.full((len(pairs), length), pad_id, dtype=torch.long)
    for row, pair in enumerate(pairs):
        ids[row, : len(pair.token_ids)] = torch.tensor(pair.token_ids, dtype=torch.long)
    return Batch(
        token_ids=ids,
        lengths=torch.tensor([len(p.token_ids) for p in pairs], dtype=torch.long),
        head_index=torch.tensor([p.head_index for p in pairs], dtype=torch.long),
        tail_index=torch.tensor([p.tail_index for p in pairs], dtype=torch.long),
        allowed=torch.tensor([p.allowed for p in pairs], dtype=torch.bool),
    )
