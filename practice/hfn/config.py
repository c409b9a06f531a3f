"""Configuration of one HFN run (saved as ``config.json`` in the artifact), and the variant registry.

Why a frozen, validated dataclass like :class:`audio.encoder.config.AudioEncoderConfig`: a trained HFN
must be reproducible from its saved config alone, and a bad value must fail at once with the field's
name. Variants are chosen by versioned name from a :class:`core.registry.VersionedRegistry`:
``hfn.attention.v1`` (the paper's HFN: emotion-derived attention S = |X|·A) and ``hfn.no_attention.v1``
(the same CNN with A = 1, the ablation).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from core.config_checks import (
    require_bool,
    require_int,
    require_known_keys,
    require_number,
    require_positive_number,
    require_settings_object,
)
from core.errors import ConfigurationError
from core.registry import VersionedRegistry


@dataclass(frozen=True)
class VariantSpec:
    name: str
    attention: bool
    description: str


VARIANTS: VersionedRegistry[VariantSpec] = VersionedRegistry("HFN variant")
VARIANTS.register(
    "hfn.attention.v1",
    VariantSpec("hfn.attention.v1", True, "CNN over |X|·A, A(tau, omega) from the emotional factors."),
    aliases=("hfn", "attention"),
)
VARIANTS.register(
    "hfn.no_attention.v1",
    VariantSpec("hfn.no_attention.v1", False, "The same CNN over |X| (A = 1): the ablation."),
    aliases=("no_attention", "cnn"),
)

#: The learner's self-reported state before playing (a small categorical input; "unknown" when not given).
LEARNER_STATES: tuple[str, ...] = ("unknown", "calm", "confident", "nervous", "tired")
TEMPO_BUCKETS: tuple[str, ...] = ("slow", "moderate", "fast")
MODES: tuple[str, ...] = ("unknown", "major", "minor")
DYNAMICS_BUCKETS: tuple[str, ...] = ("soft", "medium", "loud")


@dataclass(frozen=True)
class HFNConfig:
    """Every setting of a run. Defaults: a few CPU minutes on one thread.

    Data: ``works`` works of the corpus selection (split by work into train/validation/test with
    ``seed``), ``takes_per_work`` generated performances each, ``clip_seconds`` long, at 16 kHz; log-mel
    with ``n_mels`` bands, hop ``hop_length``. ``noisy_fraction`` of takes get room noise, reverb and a
    microphone colouring; ``second_soundfont_fraction`` are rendered with the second SoundFont when one
    is installed.
    """

    variant: str = "hfn.attention.v1"
    seed: int = 0
    works: int = 48
    takes_per_work: int = 5
    clip_seconds: float = 6.0
    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 64
    noisy_fraction: float = 0.4
    second_soundfont_fraction: float = 0.3
    validation_ratio: float = 0.15
    test_ratio: float = 0.25
    conv_channels: tuple[int, ...] = (8, 16, 32)
    factor_dim: int = 4
    hidden_dim: int = 96
    dropout: float = 0.2
    epochs: int = 60
    patience: int = 6
    batch_size: int = 16
    learning_rate: float = 3e-4
    weight_decay: float = 1e-2
    #: Explicit L2 penalty on all weights in the loss (besides AdamW's decoupled decay).
    l2: float = 1e-5
    #: Weight of the valence/arousal MSE against the summed cross-entropies.
    emotion_weight: float = 1.0
    #: Weight the cross-entropy of each level by its inverse frequency in the training takes.
    balance_classes: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "variant", VARIANTS.resolve(self.variant))
        if isinstance(self.conv_channels, (str, bytes)) or not isinstance(self.conv_channels, (list, tuple)):
            raise ConfigurationError(f"conv_channels must be 1 to 4 positive integers, got {self.conv_channels!r}.")
        object.__setattr__(self, "conv_channels", tuple(self.conv_channels))
        if (
            not self.conv_channels
            or len(self.conv_channels) > 4
            or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in self.conv_channels)
        ):
            raise ConfigurationError(f"conv_channels must be 1 to 4 positive integers, got {self.conv_channels!r}.")
        for name in ("works", "takes_per_work", "n_fft", "hop_length", "n_mels", "factor_dim", "hidden_dim"):
            require_int(name, getattr(self, name), minimum=1)
        for name in ("epochs", "patience", "batch_size"):
            require_int(name, getattr(self, name), minimum=1)
        require_int("seed", self.seed, minimum=0, maximum=2**32 - 1)
        if self.sample_rate != 16000:
            raise ConfigurationError(
                f"the HFN takes 16 kHz input; sample_rate must be 16000, got {self.sample_rate!r}."
            )
        for name, low, high in (
            ("noisy_fraction", 0.0, 1.0),
            ("second_soundfont_fraction", 0.0, 1.0),
            ("dropout", 0.0, 1.0),
            ("validation_ratio", 0.0, 0.5),
            ("test_ratio", 0.0, 0.5),
        ):
            require_number(name, getattr(self, name), low=low, high=high)
        for name in ("clip_seconds", "learning_rate"):
            require_positive_number(name, getattr(self, name))
        for name in ("weight_decay", "l2", "emotion_weight"):
            require_number(name, getattr(self, name), low=0.0)
        require_bool("balance_classes", self.balance_classes)

    @property
    def attention(self) -> bool:
        return VARIANTS.get(self.variant).attention

    @property
    def frames(self) -> int:
        return int(self.clip_seconds * self.sample_rate) // self.hop_length + 1

    def data_dict(self) -> dict[str, Any]:
        """The settings that determine the generated data set (its cache key): not the model's."""
        keys = (
            "seed",
            "works",
            "takes_per_work",
            "clip_seconds",
            "sample_rate",
            "n_fft",
            "hop_length",
            "n_mels",
            "noisy_fraction",
            "second_soundfont_fraction",
            "validation_ratio",
            "test_ratio",
        )
        return {key: getattr(self, key) for key in keys}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["conv_channels"] = list(self.conv_channels)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HFNConfig:
        require_known_keys(require_settings_object(data, what="HFN"), cls, what="HFN")
        values = dict(data)
        if isinstance(values.get("conv_channels"), list):
            values["conv_channels"] = tuple(values["conv_channels"])
        return cls(**values)

    def config_hash(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


#: Small configurations by name (tests and ``--quick``), in the registry style of the rest of the project.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "quick": {"works": 24, "takes_per_work": 4, "clip_seconds": 6.0, "epochs": 20, "patience": 4},
    "tiny": {
        "works": 6,
        "takes_per_work": 2,
        "clip_seconds": 2.0,
        "n_mels": 32,
        "conv_channels": (4, 8),
        "hidden_dim": 16,
        "epochs": 6,
        "patience": 6,
        "learning_rate": 3e-3,
        "batch_size": 4,
    },
}


def preset(name: str, **overrides: Any) -> HFNConfig:
    if name not in PRESETS:
        raise ConfigurationError(f"unknown HFN preset {name!r}; choose from: {', '.join(PRESETS)}.")
    return HFNConfig(**{**PRESETS[name], **overrides})
