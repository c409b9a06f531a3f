"""The HFN network: emotional factors → attention A(tau, omega) → S = |X|·A → CNN → feedback heads.

Shapes (B batch, F mel bands, T frames):

* ``magnitude`` ``(B, F, T)``: the mel magnitude |X| (linear, not log) of a performance;
* ``factors`` ``(B, 4)`` long: the intended character (tempo bucket, mode, dynamics bucket from the
  score) and the learner's self-reported state, indices into :mod:`.config`'s vocabularies;
* ``intended`` ``(B, 2)``: the score's intended valence and arousal (-1..1).

The factors are embedded (``factor_dim`` each) and, with ``intended``, form the emotion vector
``e``. The attention map is ``A = 2·sigmoid(a_omega(e)[omega] + a_tau(e, energy)[tau])``, a
frequency profile from ``e`` plus a time profile from ``e`` and the frame energy contour, so it starts
near 1 and re-weights bands and moments the intended character makes salient (loudness contour for a
dynamic piece, onsets for a fast one). ``S = |X|·A`` is taken to log scale, normalised per example, and
passed through conv blocks (conv 3x3, batch norm, ReLU, max-pool); mean and max pooling over time and
frequency give the shared representation, concatenated with ``e``; an MLP feeds one 3-way head per
feedback dimension and a 2-way tanh head for the performed valence/arousal. The ablation
(``attention=False``) uses A = 1 and the same everything else.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from practice.hfn.config import DYNAMICS_BUCKETS, LEARNER_STATES, MODES, TEMPO_BUCKETS
from practice.synthesis import FEEDBACK_DIMENSIONS, LEVELS

FACTOR_VOCABULARIES = (TEMPO_BUCKETS, MODES, DYNAMICS_BUCKETS, LEARNER_STATES)
LOG_FLOOR = 1e-5


class EmotionAttention(nn.Module):
    """``A(tau, omega)`` from the emotion vector ``e`` ``(B, E)`` and the log-energy contour ``(B, T)``."""

    def __init__(self, emotion_dim: int, n_mels: int):
        super().__init__()
        self.frequency = nn.Linear(emotion_dim, n_mels)
        self.time_gate = nn.Linear(emotion_dim, 2)
        self.time_conv = nn.Conv1d(2, 1, kernel_size=9, padding=4)
        for layer in (self.frequency, self.time_gate, self.time_conv):
            assert layer.bias is not None
            nn.init.zeros_(layer.bias)
            nn.init.normal_(layer.weight, std=0.01)

    def forward(self, emotion: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        omega = self.frequency(emotion)  # (B, F)
        gate = self.time_gate(emotion)  # (B, 2): how much the energy and its change matter
        delta = F.pad(energy[:, 1:] - energy[:, :-1], (1, 0))
        contour = torch.stack([energy * gate[:, :1], delta * gate[:, 1:]], dim=1)  # (B, 2, T)
        tau = self.time_conv(contour).squeeze(1)  # (B, T)
        return 2.0 * torch.sigmoid(omega[:, :, None] + tau[:, None, :])


class HFN(nn.Module):
    def __init__(
        self,
        *,
        n_mels: int,
        attention: bool,
        conv_channels: tuple[int, ...],
        factor_dim: int,
        hidden_dim: int,
        dropout: float,
    ):
        super().__init__()
        self.uses_attention = attention
        self.factors = nn.ModuleList(nn.Embedding(len(vocab), factor_dim) for vocab in FACTOR_VOCABULARIES)
        emotion_dim = factor_dim * len(FACTOR_VOCABULARIES) + 2
        self.attention = EmotionAttention(emotion_dim, n_mels) if attention else None
        blocks: list[nn.Module] = []
        previous = 1
        for channels in conv_channels:
            blocks += [
                nn.Conv2d(previous, channels, 3, padding=1),
                nn.BatchNorm2d(channels),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            previous = channels
        self.cnn = nn.Sequential(*blocks)
        self.shared = nn.Sequential(nn.Linear(3 * previous + emotion_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout))
        self.technical = nn.Linear(hidden_dim, len(FEEDBACK_DIMENSIONS) * len(LEVELS))
        self.emotional = nn.Linear(hidden_dim, 2)

    def emotion_vector(self, factors: torch.Tensor, intended: torch.Tensor) -> torch.Tensor:
        embedded = [table(factors[:, i]) for i, table in enumerate(self.factors)]
        return torch.cat([*embedded, intended], dim=1)

    def attention_map(self, magnitude: torch.Tensor, factors: torch.Tensor, intended: torch.Tensor) -> torch.Tensor:
        """``A`` ``(B, F, T)``; all ones for the ablation."""
        if self.attention is None:
            return torch.ones_like(magnitude)
        energy = torch.log(magnitude.mean(dim=1) + LOG_FLOOR)
        energy = energy - energy.mean(dim=1, keepdim=True)
        return self.attention(self.emotion_vector(factors, intended), energy)

    def forward(
        self, magnitude: torch.Tensor, factors: torch.Tensor, intended: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(technical logits ``(B, D, 3)``, valence/arousal ``(B, 2)``)."""
        emotion = self.emotion_vector(factors, intended)
        weighted = magnitude * self.attention_map(magnitude, factors, intended)  # S = |X|·A
        log_s = torch.log(weighted + LOG_FLOOR)
        mean = log_s.mean(dim=(1, 2), keepdim=True)
        std = log_s.std(dim=(1, 2), keepdim=True) + 1e-5
        maps = self.cnn(((log_s - mean) / std).unsqueeze(1))  # (B, C, F', T')
        pooled = torch.cat([maps.mean(dim=(2, 3)), maps.amax(dim=(2, 3)), maps.std(dim=3).mean(dim=2)], dim=1)
        hidden = self.shared(torch.cat([pooled, emotion], dim=1))
        logits = self.technical(hidden).view(-1, len(FEEDBACK_DIMENSIONS), len(LEVELS))
        return logits, torch.tanh(self.emotional(hidden))


def build_model(config) -> HFN:
    """The network of an :class:`~practice.hfn.config.HFNConfig`."""
    return HFN(
        n_mels=config.n_mels,
        attention=config.attention,
        conv_channels=config.conv_channels,
        factor_dim=config.factor_dim,
        hidden_dim=config.hidden_dim,
        dropout=config.dropout,
    )
