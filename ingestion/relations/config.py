"""Settings of one relation-extraction training run, saved inside every artifact.

Why a frozen, validated dataclass: a run must be reproducible from its ``config.json`` alone (seed,
data files, every hyper-parameter), and a bad value must fail before minutes of training, with a
message naming the setting.
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

CROSSRE_DIR = "crossner-crossre-music"


@dataclass(frozen=True)
class RelationTrainingConfig:
    seed: int = 13
    # data (paths relative to LEITMOTIF_DATA_DIR unless absolute)
    #: The CrossRE pool: train and dev together (100 training sentences alone cannot teach encyclopedic
    #: relations); the report part, the validation slice and the training part are carved from it below.
    #: Not ``re_test_part_shared.jsonl``: it is the end-to-end test set (benchmarks/extraction_end_to_end.py).
    crossre_train_files: tuple[str, ...] = (f"{CROSSRE_DIR}/re_train.jsonl", f"{CROSSRE_DIR}/re_dev.jsonl")
    #: A separate CrossRE file to report on; ``None``: a seeded ``crossre_report_fraction`` of the pool
    #: (grouped by text), never trained on, never used for any choice.
    crossre_dev_file: str | None = None
    crossre_report_fraction: float = 0.2
    #: Sentences whose text is in these files never enter train or validation (the end-to-end test set;
    #: the official CrossRE splits repeat a few sentences). Missing files are skipped.
    held_out_files: tuple[str, ...] = (f"{CROSSRE_DIR}/re_test_part_shared.jsonl",)
    fewrel_file: str | None = "fewrel-music/train.jsonl"
    #: Share of FewRel sentences (stratified by relation, grouped by text) held out for the dev report.
    fewrel_dev_fraction: float = 0.2
    #: Share of training sentences (grouped by text) used for early stopping and the temperature.
    validation_fraction: float = 0.2
    #: Off by default: graph triples label pairs the text does not support, and the measured model is
    #: trained without them (``--distant`` turns it on).
    distant_supervision: bool = False
    #: FewRel sentences kept per relation in train (``None``: all). FewRel's generic "member of" (Royal
    #: Society, football leagues) otherwise floods MEMBER_OF.
    fewrel_max_per_relation: int | None = 250
    #: Loss weight of a FewRel example relative to a CrossRE one (FewRel is easy and its style differs
    #: from the encyclopedic text ingestion reads).
    fewrel_loss_weight: float = 0.5
    #: Frozen pretrained encoder whose word vectors feed the BiLSTM (``None``: learned embeddings only).
    contextual_encoder: str | None = "all-MiniLM-L6-v2"
    #: Width the encoder's vectors are projected to before the BiLSTM.
    context_projection_dim: int = 96
    #: Sources whose validation pairs fit the confidence calibrator (the others if they hold too few).
    calibration_sources: tuple[str, ...] = ("crossre",)
    #: Share of NONE training pairs kept (seeded): CrossRE sentences hold ~19 candidate pairs, mostly NONE,
    #: which makes an epoch slow on one CPU thread; the NONE offset chosen on (unsampled) validation pairs
    #: restores the prior.
    none_keep_fraction: float = 0.4
    #: Choose an offset of the NONE logit on the validation pairs of ``calibration_sources`` (macro F1).
    tune_none_bias: bool = True
    #: Fewer predicted relations than this in the calibration pairs: calibrate on all validation pairs.
    calibration_min_predictions: int = 30
    # features
    min_word_count: int = 2
    #: Words kept on either side of the pair (the words between the mentions are always kept).
    context_tokens: int = 8
    #: Longest marked sequence; longer ones are cut around the mentions.
    max_tokens: int = 32
    # model
    embedding_dim: int = 64
    hidden_dim: int = 64
    mlp_dim: int = 128
    dropout: float = 0.3
    #: Chance of replacing a training word by <unk>, so the <unk> vector is learned for unseen names.
    word_dropout: float = 0.05
    # optimisation
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 0.0
    gradient_clip: float = 5.0
    #: Class weights ∝ count^-power (0: none, 1: inverse frequency), normalised to mean 1 over examples.
    class_weight_power: float = 0.5
    #: Stop when the validation macro F1 has not improved for this many epochs.
    patience: int = 3
    torch_threads: int = 1

    def __post_init__(self) -> None:
        require_int("seed", self.seed, minimum=0)
        for name in (
            "epochs",
            "batch_size",
            "embedding_dim",
            "hidden_dim",
            "mlp_dim",
            "patience",
            "min_word_count",
            "torch_threads",
            "context_projection_dim",
            "calibration_min_predictions",
        ):
            require_int(name, getattr(self, name), minimum=1)
        require_int("max_tokens", self.max_tokens, minimum=8)
        require_int("context_tokens", self.context_tokens, minimum=0)
        for name, low, high in (
            ("fewrel_dev_fraction", 0.0, 0.9),
            ("validation_fraction", 0.0, 0.5),
            ("crossre_report_fraction", 0.0, 0.5),
            ("none_keep_fraction", 0.01, 1.0),
            ("dropout", 0.0, 0.9),
            ("word_dropout", 0.0, 0.5),
            ("class_weight_power", 0.0, 1.0),
            ("weight_decay", 0.0, 1.0),
            ("fewrel_loss_weight", 0.0, 10.0),
        ):
            require_number(name, getattr(self, name), low=low, high=high)
        for name in ("learning_rate", "gradient_clip"):
            require_positive_number(name, getattr(self, name))
        require_bool("distant_supervision", self.distant_supervision)
        require_bool("tune_none_bias", self.tune_none_bias)
        if isinstance(self.crossre_train_files, str) or not all(
            isinstance(p, str) and p for p in self.crossre_train_files
        ):
            raise ConfigurationError("crossre_train_files must be a list of file paths.")
        if self.crossre_dev_file is not None and (
            not isinstance(self.crossre_dev_file, str) or not self.crossre_dev_file
        ):
            raise ConfigurationError(
                "crossre_dev_file must be a file path or null (carve the report part from the pool)."
            )
        if self.fewrel_file is not None and (not isinstance(self.fewrel_file, str) or not self.fewrel_file):
            raise ConfigurationError("fewrel_file must be a file path or null.")
        if self.fewrel_max_per_relation is not None:
            require_int("fewrel_max_per_relation", self.fewrel_max_per_relation, minimum=1)
        if self.contextual_encoder is not None:
            from ingestion.relations.contextual import encoder_dimension

            encoder_dimension(self.contextual_encoder)
        if isinstance(self.held_out_files, str) or not all(isinstance(p, str) and p for p in self.held_out_files):
            raise ConfigurationError("held_out_files must be a list of file paths.")
        if isinstance(self.calibration_sources, str) or not all(
            isinstance(s, str) and s for s in self.calibration_sources
        ):
            raise ConfigurationError("calibration_sources must be a list of source names such as 'crossre'.")
        if not self.crossre_train_files and self.fewrel_file is None:
            raise ConfigurationError("No training data: give crossre_train_files or fewrel_file.")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["crossre_train_files"] = list(self.crossre_train_files)
        data["calibration_sources"] = list(self.calibration_sources)
        data["held_out_files"] = list(self.held_out_files)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RelationTrainingConfig:
        require_known_keys(require_settings_object(data, what="relation training"), cls, what="relation")
        values = dict(data)
        for key in ("crossre_train_files", "calibration_sources", "held_out_files"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        return cls(**values)

    def config_hash(self) -> str:
        """Short stable digest of every setting (part of the artifact name; equal configs, equal hash)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
