"""Audio encoders: from a log-mel crop (and side information) to a vector in a target space.

The variants are the comparison of the multi-source fusion paper, chosen by name in
:class:`~audio.encoder.config.AudioEncoderConfig` (``variant``):

* ``autoencoder`` – a convolutional autoencoder whose bottleneck feeds a linear regression head; it is
  trained on target MSE plus reconstruction MSE (weight :data:`RECONSTRUCTION_WEIGHT`), the paper's
  unsupervised-features baseline;
* ``cnn`` – conv blocks over frequency × time, global average+max pooling, fully connected head;
* ``cnn_lstm`` – the same conv blocks, then an LSTM over the remaining time steps (each step sees all
  channels × frequency bins), then the fully connected head: the paper's audio model;
* ``embedding_only`` – side information only (composer, era, form, instrumentation embeddings → MLP);
* ``fused`` – ``cnn_lstm``'s audio vector concatenated with the side embeddings → MLP.

Why the models own their normalisation (buffers ``mel_mean``/``mel_std``, ``target_mean``/
``target_std``): the statistics come from the training works and must travel with the weights, or a
reloaded encoder would see differently scaled inputs. The network learns standardised targets (every
dimension of a TransE vector is ~±0.1, too small for a comfortable MSE) and :meth:`AudioEncoder.predict`
maps back to the target space.

Side inputs use index 0 for "unknown" in every table, which is what an upload without a composer gets;
training hides fields at random (``side_dropout``) so that case is learnt, not extrapolated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from core.errors import ConfigurationError
from core.registry import VersionedRegistry

#: Weight of the reconstruction loss of the ``autoencoder`` variant relative to the target loss.
RECONSTRUCTION_WEIGHT = 1.0
#: Pooling (frequency, time) after each conv block: frequency shrinks fast (128 → 8 bands after three
#: blocks), time slowly (130 → 32 steps), so the LSTM still sees a sequence.
_POOLS: tuple[tuple[int, int], ...] = ((2, 2), (2, 2), (4, 1), (2, 1))

Batch = Mapping[str, torch.Tensor]


def conv_blocks(channels: Sequence[int]) -> nn.Sequential:
    """Conv 3x3 → batch norm → ReLU → max-pool, once per entry of ``channels``; input has one channel."""
    layers: list[nn.Module] = []
    previous = 1
    for index, width in enumerate(channels):
        layers += [
            nn.Conv2d(previous, width, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(_POOLS[index], ceil_mode=True),
        ]
        previous = width
    return nn.Sequential(*layers)


def pooled_shape(n_mels: int, frames: int, blocks: int) -> tuple[int, int]:
    """(frequency bins, time steps) left after ``blocks`` conv blocks (ceil-mode pooling)."""
    for freq, time in _POOLS[:blocks]:
        n_mels, frames = -(-n_mels // freq), -(-frames // time)
    return n_mels, frames


class SideEmbeddings(nn.Module):
    """One embedding per side field; ``instrumentation`` is a bag (mean of the work's instruments)."""

    def __init__(self, vocab_sizes: Mapping[str, int], dim: int):
        super().__init__()
        self.fields = tuple(vocab_sizes)
        tables: dict[str, nn.Module] = {}
        for name, size in vocab_sizes.items():
            # +1: index 0 is "unknown" / padding and stays a zero vector.
            if name == "instrumentation":
                tables[name] = nn.EmbeddingBag(size + 1, dim, mode="mean", padding_idx=0)
            else:
                tables[name] = nn.Embedding(size + 1, dim, padding_idx=0)
        self.tables = nn.ModuleDict(tables)
        self.output_dim = dim * len(self.fields)

    def forward(self, side: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([self.tables[name](side[name]) for name in self.fields], dim=-1)


class CnnAudio(nn.Module):
    """Conv blocks, then global average and max pooling over frequency × time, then a linear layer."""

    def __init__(self, *, channels: Sequence[int], out_dim: int, dropout: float, **_: int):
        super().__init__()
        self.features = conv_blocks(channels)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * channels[-1], out_dim), nn.ReLU())
        self.output_dim = out_dim

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        maps = self.features(mel.unsqueeze(1))
        pooled = torch.cat([maps.mean(dim=(2, 3)), maps.amax(dim=(2, 3))], dim=-1)
        return self.head(pooled)


class CnnLstmAudio(nn.Module):
    """Conv blocks, then an LSTM over time (each step: channels × remaining bands), then a linear layer.

    The sequence summary is the mean of the LSTM outputs concatenated with the last hidden state: the
    mean carries texture present throughout the crop, the last state its direction (a cadence).
    """

    def __init__(
        self, *, channels: Sequence[int], n_mels: int, lstm_hidden: int, out_dim: int, dropout: float, **_: int
    ):
        super().__init__()
        self.features = conv_blocks(channels)
        bands, _steps = pooled_shape(n_mels, 1, len(channels))
        self.lstm = nn.LSTM(input_size=channels[-1] * bands, hidden_size=lstm_hidden, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * lstm_hidden, out_dim), nn.ReLU())
        self.output_dim = out_dim

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        maps = self.features(mel.unsqueeze(1))  # (B, C, F, T)
        steps = maps.permute(0, 3, 1, 2).flatten(2)  # (B, T, C*F)
        outputs, (hidden, _cell) = self.lstm(steps)
        return self.head(torch.cat([outputs.mean(dim=1), hidden[-1]], dim=-1))


class ConvAutoencoder(nn.Module):
    """Strided conv encoder → linear bottleneck → transposed-conv decoder back to the crop's size."""

    def __init__(self, *, channels: Sequence[int], n_mels: int, frames: int, out_dim: int, **_: int):
        super().__init__()
        layers: list[nn.Module] = []
        previous = 1
        for width in channels:
            layers += [
                nn.Conv2d(previous, width, kernel_size=3, stride=2, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            previous = width
        self.encoder = nn.Sequential(*layers)
        bands, steps = n_mels, frames
        for _block in channels:
            bands, steps = (bands + 1) // 2, (steps + 1) // 2
        self.map_shape = (channels[-1], bands, steps)
        flat = channels[-1] * bands * steps
        self.to_code = nn.Linear(flat, out_dim)
        self.from_code = nn.Linear(out_dim, flat)
        decoder: list[nn.Module] = []
        widths = list(channels[::-1]) + [1]
        for index in range(len(channels)):
            decoder.append(nn.ConvTranspose2d(widths[index], widths[index + 1], kernel_size=4, stride=2, padding=1))
            if index < len(channels) - 1:
                decoder.append(nn.ReLU(inplace=True))
        self.decoder = nn.Sequential(*decoder)
        self.output_dim = out_dim
        self.input_shape = (n_mels, frames)

    def encode(self, mel: torch.Tensor) -> torch.Tensor:
        return self.to_code(self.encoder(mel.unsqueeze(1)).flatten(1))

    def reconstruct(self, code: torch.Tensor) -> torch.Tensor:
        maps = self.from_code(F.relu(code)).view(-1, *self.map_shape)
        picture = self.decoder(maps)
        return F.interpolate(picture, size=self.input_shape, mode="bilinear", align_corners=False).squeeze(1)


@dataclass(frozen=True)
class VariantSpec:
    name: str
    uses_audio: bool
    uses_side: bool
    description: str


#: The variants by name. A :class:`core.registry.VersionedRegistry` like the stores and recommenders, so a
#: name is resolved (and refused, listing the choices) the same way; these names carry no version suffix
#: because each is one fixed architecture of the paper, and saved artifacts record them as they are.
VARIANTS: VersionedRegistry[VariantSpec] = VersionedRegistry("audio encoder variant", listing="names")
for _spec in (
    VariantSpec("autoencoder", True, False, "Conv autoencoder bottleneck + linear regression head (audio only)."),
    VariantSpec("cnn", True, False, "CNN + global pooling + fully connected head (audio only)."),
    VariantSpec(
        "cnn_lstm", True, False, "CNN over frequency x time, LSTM over time, fully connected head (audio only)."
    ),
    VariantSpec(
        "embedding_only",
        False,
        True,
        "Side information embeddings (composer, era, form, instrumentation) + MLP; no audio.",
    ),
    VariantSpec("fused", True, True, "cnn_lstm audio vector fused with the side information embeddings by an MLP."),
):
    VARIANTS.register(_spec.name, _spec)
del _spec


#: The audio branch of an :class:`AudioEncoder` (``output_dim`` is the width of its vector).
AudioNetwork = CnnAudio | CnnLstmAudio | ConvAutoencoder


def available_variants() -> list[str]:
    """Every variant name, sorted (the ``--variant`` choices of ``train_audio_encoder``)."""
    return VARIANTS.names()


def resolve_variant(name: str) -> str:
    """``"CNN-LSTM"`` → ``"cnn_lstm"``; an unknown name is a ``ConfigurationError`` listing the variants."""
    return VARIANTS.resolve(name)


def variant_spec(name: str) -> VariantSpec:
    return VARIANTS.get(name)


class AudioEncoder(nn.Module):
    """One variant, with its input and target normalisation; ``forward`` returns standardised predictions."""

    # Buffers registered in ``__init__`` (``register_buffer``); declared so they type as tensors, not as
    # ``nn.Module.__getattr__``'s ``Tensor | Module``.
    mel_mean: torch.Tensor
    mel_std: torch.Tensor
    target_mean: torch.Tensor
    target_std: torch.Tensor

    def __init__(
        self,
        *,
        variant: str,
        target_dim: int,
        n_mels: int,
        frames: int,
        side_vocab_sizes: Mapping[str, int],
        channels: Sequence[int] = (8, 16, 32),
        lstm_hidden: int = 64,
        hidden_dim: int = 128,
        side_dim: int = 16,
        dropout: float = 0.2,
    ):
        super().__init__()
        self.spec = variant_spec(variant)
        self.variant = self.spec.name
        self.audio: AudioNetwork | None = None
        self.side: SideEmbeddings | None = None
        dims = dict(
            channels=tuple(channels),
            n_mels=n_mels,
            frames=frames,
            lstm_hidden=lstm_hidden,
            out_dim=hidden_dim,
            dropout=dropout,
        )
        builders: dict[str, Callable[..., AudioNetwork]] = {
            "autoencoder": ConvAutoencoder,
            "cnn": CnnAudio,
            "cnn_lstm": CnnLstmAudio,
            "fused": CnnLstmAudio,
        }
        if self.spec.uses_audio:
            self.audio = builders[self.variant](**dims)
        if self.spec.uses_side:
            if not side_vocab_sizes:
                raise ConfigurationError(f"The {self.variant!r} variant needs side fields; the config lists none.")
            self.side = SideEmbeddings(side_vocab_sizes, side_dim)
        if self.variant == "autoencoder":
            self.head: nn.Module = nn.Linear(hidden_dim, target_dim)  # the linear regression head on the bottleneck
        else:
            width = (self.audio.output_dim if self.audio is not None else 0) + (
                self.side.output_dim if self.side is not None else 0
            )
            self.head = nn.Sequential(
                nn.Linear(width, hidden_dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden_dim, target_dim)
            )
        self.register_buffer("mel_mean", torch.zeros(()))
        self.register_buffer("mel_std", torch.ones(()))
        self.register_buffer("target_mean", torch.zeros(target_dim))
        self.register_buffer("target_std", torch.ones(target_dim))

    def set_normalisation(
        self, *, mel_mean: float, mel_std: float, target_mean: torch.Tensor, target_std: torch.Tensor
    ) -> None:
        self.mel_mean.fill_(float(mel_mean))
        self.mel_std.fill_(max(float(mel_std), 1e-6))
        self.target_mean.copy_(target_mean)
        self.target_std.copy_(target_std.clamp_min(1e-6))

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(standardised prediction, auxiliary loss); the auxiliary loss is the autoencoder's reconstruction."""
        auxiliary = torch.zeros((), device=self.target_mean.device)
        parts: list[torch.Tensor] = []
        if self.audio is not None:
            mel = (batch["mel"] - self.mel_mean) / self.mel_std
            if isinstance(self.audio, ConvAutoencoder):
                code = self.audio.encode(mel)
                if self.training:
                    auxiliary = F.mse_loss(self.audio.reconstruct(code), mel)
                return self.head(code), auxiliary
            parts.append(self.audio(mel))
        if self.side is not None:
            parts.append(self.side(batch["side"]))
        return self.head(torch.cat(parts, dim=-1)), auxiliary

    @torch.no_grad()
    def predict(self, batch: Batch) -> torch.Tensor:
        """Predictions in the target space (de-standardised)."""
        was_training = self.training
        self.eval()
        try:
            standardised, _ = self(batch)
        finally:
            self.train(was_training)
        return standardised * self.target_std + self.target_mean
