"""Works with rendered audio as encoder examples: spectrograms, side information, graph facts, split.

Why the truth (composer, era, form entity ids) comes from the graph and not from the catalogue's
display strings: the Hits@k evaluation ranks graph entities, so it must compare against the very ids
the graph links the work to.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from tqdm.auto import tqdm

from audio.cache import cached_log_mel
from audio.encoder.config import SIDE_FIELDS
from audio.features import MelConfig, crops_for, fixed_length_crops
from core.errors import AudioInputError, ConfigurationError
from kg.schema import COMPOSED, HAS_FORM, IN_ERA

#: Evaluated field → (relation, is the work the relation's head?).
FIELD_RELATIONS: Mapping[str, tuple[str, bool]] = {
    "composer": (COMPOSED, False),
    "era": (IN_ERA, True),
    "form": (HAS_FORM, True),
}
#: Instruments kept per work (the rest are dropped; no corpus work has more than this many distinct ones).
MAX_INSTRUMENTS = 8


@dataclass(frozen=True)
class WorkExample:
    """One catalogue work: its full-clip log-mel, side values and graph facts."""

    pk: int
    slug: str
    entity_id: str
    title: str
    side: Mapping[str, Any]
    truth: Mapping[str, str]
    mel: np.ndarray = field(repr=False)


def mel_config_for(config) -> MelConfig:
    """The project's spectrogram settings with the run's crop length and evaluation crop count."""
    return replace(MelConfig.default(), crop_seconds=float(config.crop_seconds), crops=int(config.eval_crops))


def side_values(work) -> dict[str, Any]:
    """Side information of a ``catalog.Work`` (display strings; ``None`` when unknown)."""
    return {
        "composer": work.composer_name or None,
        "era": work.era or None,
        "form": work.form or None,
        "instrumentation": list(work.instrumentation or []),
    }


def load_examples(
    *, mel_config: MelConfig, store, works: Iterable | None = None, progress: bool = False
) -> tuple[list[WorkExample], list[tuple[str, str]]]:
    """Examples of every catalogue work with audio (spectrograms from the feature cache) and what was skipped."""
    from catalog.models import Work

    rows = list(works) if works is not None else list(Work.objects.exclude(audio_path="").order_by("slug"))
    examples: list[WorkExample] = []
    skipped: list[tuple[str, str]] = []
    relation_types = [relation for relation, _ in FIELD_RELATIONS.values()]
    for work in tqdm(rows, desc="Spectrograms", unit="work", disable=not progress):
        path = Path(settings.LEITMOTIF_CACHE_DIR) / work.audio_path
        if not work.audio_path or not path.is_file():
            skipped.append((work.slug, f"rendered audio missing at {path}; run `python manage.py load_works` again."))
            continue
        try:
            mel = cached_log_mel(path, mel_config)
        except AudioInputError as exc:
            skipped.append((work.slug, exc.message))
            continue
        truth: dict[str, str] = {}
        for neighbour in store.neighbours(work.entity_id, relation_types=relation_types):
            for name, (relation, work_is_head) in FIELD_RELATIONS.items():
                if neighbour.relation.type == relation and (neighbour.direction == "out") == work_is_head:
                    truth.setdefault(name, neighbour.entity.id)
        examples.append(WorkExample(work.pk, work.slug, work.entity_id, work.title, side_values(work), truth, mel))
    return examples, skipped


def split_examples(
    examples: Sequence[WorkExample], *, seed: int, validation_ratio: float, test_ratio: float
) -> dict[str, list[WorkExample]]:
    """Seeded split of *works* (never of crops: every crop of a test work stays unseen)."""
    ordered = sorted(examples, key=lambda example: example.slug)
    random.Random(seed).shuffle(ordered)
    n_test = round(len(ordered) * test_ratio)
    n_validation = round(len(ordered) * validation_ratio)
    if (
        len(ordered) - n_test - n_validation < 2
        or (test_ratio > 0 and n_test == 0)
        or (validation_ratio > 0 and n_validation == 0)
    ):
        raise ConfigurationError(
            f"{len(ordered)} works with audio and target vectors are too few for a train/validation/test split "
            f"({validation_ratio:g}/{test_ratio:g}); load more with `python manage.py load_works`."
        )
    return {
        "test": ordered[:n_test],
        "validation": ordered[n_test : n_test + n_validation],
        "train": ordered[n_test + n_validation :],
    }


@dataclass(frozen=True)
class SideVocabulary:
    """Values of each side field seen in training; index 0 means unknown (unseen values map there too)."""

    values: Mapping[str, tuple[str, ...]]

    @classmethod
    def build(cls, examples: Iterable[WorkExample], fields: Sequence[str]) -> SideVocabulary:
        seen: dict[str, set[str]] = {name: set() for name in fields}
        for example in examples:
            for name in fields:
                value = example.side.get(name)
                items = value if isinstance(value, (list, tuple)) else [value]
                seen[name].update(item for item in items if item)
        return cls({name: tuple(sorted(found)) for name, found in seen.items()})

    @property
    def sizes(self) -> dict[str, int]:
        return {name: len(values) for name, values in self.values.items()}

    def to_dict(self) -> dict[str, list[str]]:
        return {name: list(values) for name, values in self.values.items()}

    def encode(self, side: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Index arrays of one example: scalars for single fields, ``MAX_INSTRUMENTS`` slots for instrumentation."""
        encoded: dict[str, np.ndarray] = {}
        for name, values in self.values.items():
            lookup = {value.casefold(): index + 1 for index, value in enumerate(values)}
            raw = side.get(name)
            if name == "instrumentation":
                indices = [lookup.get(str(item).casefold(), 0) for item in (raw or [])]
                indices = [index for index in indices if index][:MAX_INSTRUMENTS]
                encoded[name] = np.asarray(indices + [0] * (MAX_INSTRUMENTS - len(indices)), dtype=np.int64)
            else:
                encoded[name] = np.asarray(lookup.get(str(raw).casefold(), 0) if raw else 0, dtype=np.int64)
        return encoded


def random_crop(mel: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """One window of ``frames`` frames at a random start (short clips padded like :func:`fixed_length_crops`)."""
    if mel.shape[1] <= frames:
        return fixed_length_crops(mel, frames, 1)[0]
    start = int(rng.integers(0, mel.shape[1] - frames + 1))
    return mel[:, start : start + frames]


def evaluation_crops(mel: np.ndarray, mel_config: MelConfig) -> np.ndarray:
    return crops_for(mel, mel_config)


__all__ = [
    "FIELD_RELATIONS",
    "SIDE_FIELDS",
    "SideVocabulary",
    "WorkExample",
    "evaluation_crops",
    "load_examples",
    "mel_config_for",
    "random_crop",
    "side_values",
    "split_examples",
]
