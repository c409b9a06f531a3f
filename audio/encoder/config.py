"""Configuration of one audio-encoder training run (saved as ``config.json`` in the artifact).

Why a frozen, validated dataclass like :class:`~recommender.models.config.JointConfig`: a trained
encoder must be reproducible from its saved config alone, and a bad value must fail at once with the
field's name instead of as a shape error deep inside torch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from core.config_checks import (
    require_choices,
    require_int,
    require_known_keys,
    require_number,
    require_positive_number,
    require_settings_object,
)
from core.errors import ConfigurationError

#: Side information a work can carry; each is an embedding table (instrumentation: a bag of instruments).
SIDE_FIELDS: tuple[str, ...] = ("composer", "era", "form", "instrumentation")
#: Fields whose truth is also what the Hits@k evaluation asks the encoder to recover.
EVALUATED_FIELDS: tuple[str, ...] = ("composer", "era", "form")


@dataclass(frozen=True)
class AudioEncoderConfig:
    """Every setting of a run. Defaults: the ``fused`` encoder on the KGE target, a few CPU minutes.

    Input: ``crop_seconds`` windows of the work's log-mel (128 bands, hop 512 at 22,050 Hz → 43
    frames per second). Training draws ``train_crops_per_work`` random windows per work and epoch
    (seeded); evaluation and prediction average the encoder over ``eval_crops`` evenly spaced windows,
    so a prediction is deterministic.

    ``side_dropout``: each side field is hidden (set to "unknown") with this probability per training
    example, so the model still works when an upload has no composer, era or form — the cold-start case.
    """

    variant: str = "fused"
    target: str = "kge"
    #: KGE target: model alias (``transe``/``complex``) of the newest artifact, or an explicit artifact path.
    kge_model: str = "transe"
    kge_artifact: str | None = None
    side_fields: tuple[str, ...] = SIDE_FIELDS
    side_dropout: float = 0.3
    crop_seconds: float = 3.0
    train_crops_per_work: int = 4
    eval_crops: int = 5
    epochs: int = 30
    patience: int = 5
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    validation_ratio: float = 0.15
    test_ratio: float = 0.15
    #: CNN channels per conv block (each block: conv 3x3, batch norm, ReLU, max-pool).
    conv_channels: tuple[int, ...] = (8, 16, 32)
    lstm_hidden: int = 64
    hidden_dim: int = 128
    side_dim: int = 16
    dropout: float = 0.2

    def __post_init__(self) -> None:
        from audio.encoder.model import resolve_variant

        object.__setattr__(self, "variant", resolve_variant(self.variant))
        from audio.encoder.targets import resolve_target

        object.__setattr__(self, "target", resolve_target(self.target))
        object.__setattr__(self, "side_fields", tuple(self.side_fields))
        if isinstance(self.conv_channels, (str, bytes)) or not isinstance(self.conv_channels, (list, tuple)):
            raise ConfigurationError(f"conv_channels must be 1 to 4 positive integers, got {self.conv_channels!r}.")
        object.__setattr__(self, "conv_channels", tuple(self.conv_channels))
        require_choices("side field(s)", self.side_fields, SIDE_FIELDS)
        for name in (
            "train_crops_per_work",
            "eval_crops",
            "epochs",
            "patience",
            "batch_size",
            "lstm_hidden",
            "hidden_dim",
            "side_dim",
        ):
            require_int(name, getattr(self, name), minimum=1)
        require_int("seed", self.seed, minimum=0, maximum=2**32 - 1)
        if (
            not self.conv_channels
            or len(self.conv_channels) > 4
            or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in self.conv_channels)
        ):
            raise ConfigurationError(f"conv_channels must be 1 to 4 positive integers, got {self.conv_channels!r}.")
        for name, low, high in (
            ("side_dropout", 0.0, 1.0),
            ("dropout", 0.0, 1.0),
            ("validation_ratio", 0.0, 0.5),
            ("test_ratio", 0.0, 0.5),
        ):
            require_number(name, getattr(self, name), low=low, high=high, high_inclusive=False)
        for name in ("learning_rate", "crop_seconds"):
            require_positive_number(name, getattr(self, name))
        require_number("weight_decay", self.weight_decay, low=0.0)

    @property
    def uses_audio(self) -> bool:
        from audio.encoder.model import variant_spec

        return variant_spec(self.variant).uses_audio

    @property
    def uses_side(self) -> bool:
        from audio.encoder.model import variant_spec

        return variant_spec(self.variant).uses_side and bool(self.side_fields)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["side_fields"] = list(self.side_fields)
        data["conv_channels"] = list(self.conv_channels)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AudioEncoderConfig:
        require_known_keys(require_settings_object(data, what="audio encoder"), cls, what="audio encoder")
        values = dict(data)
        for name in ("side_fields", "conv_channels"):
            if name in values and isinstance(values[name], list):
                values[name] = tuple(values[name])
        return cls(**values)

    def config_hash(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
