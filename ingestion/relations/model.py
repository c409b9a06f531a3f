"""The BiLSTM relation classifier.

Architecture (Zhou et al. 2016 / "entity start" pooling of Baldini Soares et al. 2019): word embeddings
learned from scratch, concatenated (when the artifact has a contextual encoder) with a learned projection
of each word's frozen MiniLM vector (:mod:`.contextual`) → one bidirectional LSTM over the marked
sentence → the LSTM states at the two opening markers, concatenated with a max-pool over the sentence
→ a two-layer MLP → one logit per class. Logits of classes the schema forbids for the pair's NER labels
are masked, so the softmax only spreads over relations that could hold.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

#: Added to the logit of a forbidden class: far below anything real, finite so no NaN appears.
MASKED_LOGIT = -1e9


class BiLstmRelationClassifier(nn.Module):
    def __init__(
        self,
        *,
        vocab_size: int,
        num_classes: int,
        embedding_dim: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float,
        padding_idx: int = 0,
        context_dim: int = 0,
        context_projection_dim: int = 0,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        self.context_projection: nn.Module | None = None
        lstm_input = embedding_dim
        if context_dim > 0:
            self.context_projection = nn.Sequential(nn.Linear(context_dim, context_projection_dim), nn.Tanh())
            lstm_input += context_projection_dim
        self.lstm = nn.LSTM(lstm_input, hidden_dim, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Sequential(
            nn.Linear(6 * hidden_dim, mlp_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_dim, num_classes),
        )

    def forward(
        self,
        token_ids: torch.Tensor,  # (batch, length), padded
        lengths: torch.Tensor,  # (batch,)
        head_index: torch.Tensor,  # (batch,) position of the <H:..> marker
        tail_index: torch.Tensor,  # (batch,) position of the <T:..> marker
        allowed: torch.Tensor,  # (batch, classes) bool
        context: torch.Tensor | None = None,  # (batch, length, context_dim) frozen encoder vectors
    ) -> torch.Tensor:
        embedded = self.embedding(token_ids)
        if self.context_projection is not None:
            if context is None:
                raise ValueError("this model reads contextual vectors; encode the pairs with its encoder")
            embedded = torch.cat([embedded, self.context_projection(context)], dim=-1)
        embedded = self.dropout(embedded)
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        states, _ = self.lstm(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=token_ids.shape[1])
        rows = torch.arange(token_ids.shape[0])
        at_head = states[rows, head_index]
        at_tail = states[rows, tail_index]
        padding = (torch.arange(token_ids.shape[1])[None, :] >= lengths[:, None]).unsqueeze(-1)
        pooled = states.masked_fill(padding, float("-inf")).max(dim=1).values
        features = self.dropout(torch.cat([at_head, at_tail, pooled], dim=-1))
        logits = self.head(features)
        return logits.masked_fill(~allowed, MASKED_LOGIT)
