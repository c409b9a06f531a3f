"""Configuration of one knowledge-graph-embedding training run.

Why a frozen, JSON-serialisable dataclass: the config is saved inside every artifact, and its hash
names the artifact directory, so "which settings produced these vectors?" always has one exact
answer (seed included) and a saved run can be repeated from its ``config.json`` alone.

Models are chosen by versioned registry name (``kge.transe.v1``), spaCy-style, with the short aliases
``transe`` and ``complex`` that people type. A new model, or a changed default that alters results,
gets a new versioned name instead of silently changing an old one.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from core.config_checks import (
    is_finite_number,
    require_bool,
    require_choice,
    require_int,
    require_known_keys,
    require_positive_number,
    require_settings_object,
)
from core.errors import ConfigurationError

#: Default cap on the triples of one evaluation set (see :attr:`KgeConfig.evaluation_max_triples`). Every real
#: run's evaluation sets are smaller, so they are evaluated in full: Last.FM KGCN test/validation 1,552 each,
#: the store's Last.FM graph 4,254 (46,714-triple development graph: ≈4,670), DBpedia MTE10 test 4,995 and
#: its de-duplicated test 2,434.
DEFAULT_EVALUATION_MAX_TRIPLES = 5_000

#: Losses that work with the stochastic local closed-world (sLCWA) training used here.
SLCWA_LOSSES: tuple[str, ...] = ("marginranking", "softplus", "bcewithlogits", "nssa")


@dataclass(frozen=True)
class KgeModelSpec:
    """One registered embedding model: how PyKEEN builds it and how its vectors are exported."""

    name: str
    alias: str
    pykeen_model: str
    default_loss: str
    #: ComplEx vectors are complex; exported arrays then hold ``[real | imaginary]`` side by side.
    complex_valued: bool
    description: str
    #: Extra PyKEEN model arguments that are part of this versioned definition.
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)


_MODEL_SPECS: tuple[KgeModelSpec, ...] = (
    KgeModelSpec(
        name="kge.transe.v1",
        alias="transe",
        pykeen_model="TransE",
        default_loss="marginranking",
        complex_valued=False,
        description="TransE (Bordes et al. 2013): h + r ≈ t, L1 distance, entity vectors kept at unit L2 norm.",
    ),
    KgeModelSpec(
        name="kge.complex.v1",
        alias="complex",
        pykeen_model="ComplEx",
        default_loss="softplus",
        complex_valued=True,
        description=(
            "ComplEx (Trouillon et al. 2016): Re(<h, r, conj(t)>), PyKEEN's default L2 regulariser (weight 0.01), "
            "Xavier-normal initialisation."
        ),
        # PyKEEN's default N(0, 1) initialisation (the paper's, meant for many Adagrad epochs) starts with huge
        # scores and stayed at chance level (MRR ≈ 0.002 on the Last.FM graph after 10 epochs); Xavier-normal
        # reached MRR ≈ 0.46 with the same budget, which is what a few CPU epochs need.
        model_kwargs={"entity_initializer": "xavier_normal_", "relation_initializer": "xavier_normal_"},
    ),
)

KGE_MODELS: Mapping[str, KgeModelSpec] = {spec.name: spec for spec in _MODEL_SPECS}
_ALIASES: Mapping[str, str] = {spec.alias: spec.name for spec in _MODEL_SPECS}


def available_models() -> list[str]:
    """Short names people type (``transe``, ``complex``)."""
    return sorted(_ALIASES)


def resolve_model_name(name: str) -> str:
    """Turn ``transe``/``kge.transe.v1`` (any case) into the versioned registry name."""
    key = name.strip().lower() if isinstance(name, str) else ""
    resolved = _ALIASES.get(key, key)
    if resolved not in KGE_MODELS:
        choices = ", ".join(f"{spec.alias} ({spec.name})" for spec in _MODEL_SPECS)
        raise ConfigurationError(f"Unknown embedding model {name!r}; choose one of: {choices}.")
    return resolved


def model_spec(name: str) -> KgeModelSpec:
    return KGE_MODELS[resolve_model_name(name)]


@dataclass(frozen=True)
class KgeConfig:
    """Everything that determines a training run. Defaults suit the 15k-triple Last.FM graph on 2 cores.

    ``loss=None`` means "the model's default" (margin ranking for TransE, softplus for ComplEx); it is
    resolved at construction, so a saved config always names the loss it really used.
    ``split_ratios`` are train/validation/test shares of the held-out triple split made by
    :func:`kg.embeddings.training.kge_train`; a run on a fixed benchmark split ignores them.
    """

    model: str = "kge.transe.v1"
    embedding_dim: int = 64
    epochs: int = 50
    batch_size: int = 512
    learning_rate: float = 0.01
    negatives_per_positive: int = 4
    loss: str | None = None
    seed: int = 42
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    include_interactions: bool = False
    #: Triples scored at once during evaluation; bounds memory (TransE materialises batch × entities × dim).
    evaluation_batch_size: int = 64
    #: At most this many triples of each evaluation set (test, extra test sets, and validation when early
    #: stopping) are ranked: a larger set is replaced by a seeded uniform sample of this size (seed
    #: ``seed``), because filtered ranking costs triples × entities. The filter still removes every known
    #: triple of every part. ``0`` means "always evaluate every triple". The metrics record whether a
    #: sample was used and its size.
    evaluation_max_triples: int = DEFAULT_EVALUATION_MAX_TRIPLES
    early_stopping: bool = False
    #: With early stopping: evaluate on validation every ``frequency`` epochs, stop after ``patience``
    #: evaluations without improvement of the filtered validation MRR.
    early_stopping_frequency: int = 5
    early_stopping_patience: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", resolve_model_name(self.model))
        # KGE words its integer bounds its own way ("at least 1", "between 0 and ..."), which its tests quote.
        for name in (
            "embedding_dim",
            "epochs",
            "batch_size",
            "negatives_per_positive",
            "evaluation_batch_size",
            "early_stopping_frequency",
            "early_stopping_patience",
        ):
            require_int(name, getattr(self, name), minimum=1, expected="an integer at least 1")
        require_int(
            "evaluation_max_triples",
            self.evaluation_max_triples,
            minimum=0,
            expected="an integer at least 0 (0 evaluates every triple)",
        )
        require_int("seed", self.seed, minimum=0, maximum=2**32 - 1, expected=f"an integer between 0 and {2**32 - 1}")
        object.__setattr__(self, "learning_rate", float(require_positive_number("learning_rate", self.learning_rate)))

        loss = self.spec.default_loss if self.loss is None else self.loss
        loss = loss.strip().lower() if isinstance(loss, str) else loss
        object.__setattr__(
            self, "loss", require_choice("loss", loss, SLCWA_LOSSES, hint=" Leave it unset for the model default.")
        )

        object.__setattr__(self, "split_ratios", _validated_ratios(self.split_ratios))
        for name in ("include_interactions", "early_stopping"):
            require_bool(name, getattr(self, name))

    @property
    def spec(self) -> KgeModelSpec:
        return KGE_MODELS[self.model]

    # --- serialisation ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["split_ratios"] = list(self.split_ratios)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KgeConfig:
        require_known_keys(require_settings_object(data, what="KGE"), cls, what="KGE")
        values = dict(data)
        if "split_ratios" in values and isinstance(values["split_ratios"], list):
            values["split_ratios"] = tuple(values["split_ratios"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> KgeConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"KGE config is not valid JSON: {exc}.") from exc
        return cls.from_dict(data)

    def config_hash(self) -> str:
        """Short stable digest of every setting (names artifact directories; equal configs, equal hash)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def _validated_ratios(ratios: Any) -> tuple[float, float, float]:
    if not isinstance(ratios, (tuple, list)) or len(ratios) != 3:
        raise ConfigurationError(
            f"split_ratios must be three numbers (train, validation, test) such as [0.8, 0.1, 0.1], got {ratios!r}."
        )
    for share in ratios:
        if not is_finite_number(share) or not 0.0 < share < 1.0:
            raise ConfigurationError(f"split_ratios must each be strictly between 0 and 1, got {list(ratios)!r}.")
    if not math.isclose(sum(ratios), 1.0, abs_tol=1e-6):
        raise ConfigurationError(f"split_ratios must sum to 1, got {list(ratios)!r} (sum {sum(ratios):.6g}).")
    return tuple(float(share) for share in ratios)  # type: ignore[return-value]
