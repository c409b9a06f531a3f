"""The tiny audio-encoder world of the audio tests: the shared trumpet clip, 12 "works" made from it,
a hand-made TransE-shaped target space, a tiny configuration, and training/saving helpers.

Works' spectrograms are the real trumpet clip's log-mel plus synthetic band patterns; the target space is
hand-made and TransE-consistent (work = composer + COMPOSED + noise). Used by the encoder tests and by
the API tests, which train and save one tiny encoder per module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.conf import settings

from audio.encoder.artifacts import save_audio_encoder
from audio.encoder.config import AudioEncoderConfig
from audio.encoder.dataset import WorkExample
from audio.encoder.targets import TargetSpace
from audio.encoder.training import train_audio_encoder
from kg.schema import COMPOSED, HAS_FORM, IN_ERA

TRUMPET = Path(settings.LEITMOTIF_DATA_DIR) / "librosa-audio-clips" / "trumpet.ogg"

COMPOSERS = ["Composer A", "Composer B", "Composer C"]
ERAS = ["Baroque", "Classical"]
FORMS = ["Chorale", "String quartet"]
DIM = 8


def tiny_config(variant: str = "fused", **overrides) -> AudioEncoderConfig:
    values = dict(
        variant=variant,
        epochs=2,
        patience=2,
        crop_seconds=1.0,
        train_crops_per_work=2,
        eval_crops=2,
        batch_size=8,
        conv_channels=(4, 8),
        lstm_hidden=8,
        hidden_dim=16,
        side_dim=4,
        validation_ratio=0.25,
        test_ratio=0.25,
        seed=0,
    )
    values.update(overrides)
    return AudioEncoderConfig(**values)


def tiny_examples(trumpet_mel: np.ndarray, *, pks: list[int] | None = None) -> list[WorkExample]:
    """12 works: the trumpet's spectrogram shifted in frequency and level, one band pattern per composer."""
    examples = []
    for index in range(12):
        composer = index % 3
        mel = np.roll(trumpet_mel[:, :90], shift=8 * composer, axis=0).copy()
        mel[10 * composer : 10 * composer + 6] += 10.0 + index
        side = {
            "composer": COMPOSERS[composer],
            "era": ERAS[composer % 2],
            "form": FORMS[index % 2],
            "instrumentation": ["trumpet"] if composer else ["violin", "viola"],
        }
        truth = {"composer": f"person:{composer}", "era": f"era:{composer % 2}", "form": f"form:{index % 2}"}
        examples.append(
            WorkExample(
                pks[index] if pks else index + 1,
                f"work-{index:02d}",
                f"work:{index}",
                f"Work {index}",
                side,
                truth,
                mel.astype(np.float32),
            )
        )
    return examples


def tiny_space(seed: int = 0) -> TargetSpace:
    """A TransE-shaped space: work = composer + COMPOSED + small noise; era/form = work + relation + noise."""
    rng = np.random.default_rng(seed)
    relations = {name: rng.normal(size=DIM).astype(np.float32) for name in (COMPOSED, IN_ERA, HAS_FORM)}
    ids, vectors = [], []
    people = {f"person:{c}": rng.normal(size=DIM).astype(np.float32) for c in range(3)}
    for entity_id, vector in people.items():
        ids.append(entity_id), vectors.append(vector)
    work_vectors = {}
    for index in range(12):
        work_vectors[index] = people[f"person:{index % 3}"] + relations[COMPOSED] + 0.05 * rng.normal(size=DIM)
        ids.append(f"work:{index}"), vectors.append(work_vectors[index])
    for era in range(2):
        (
            ids.append(f"era:{era}"),
            vectors.append(
                np.mean([work_vectors[i] for i in range(12) if (i % 3) % 2 == era], axis=0) + relations[IN_ERA]
            ),
        )
    for form in range(2):
        (
            ids.append(f"form:{form}"),
            vectors.append(
                np.mean([work_vectors[i] for i in range(12) if i % 2 == form], axis=0) + relations[HAS_FORM]
            ),
        )
    return TargetSpace(
        "kge", tuple(ids), np.asarray(vectors, dtype=np.float32), "transe", relations, {"kge_artifact": "hand-made"}
    )


def train_tiny(trumpet_mel: np.ndarray, variant: str = "fused", *, pks: list[int] | None = None, **overrides):
    return train_audio_encoder(
        config=tiny_config(variant, **overrides),
        examples=tiny_examples(trumpet_mel, pks=pks),
        target_space=tiny_space(),
        progress=False,
    )


def saved_tiny_encoder(trumpet_mel: np.ndarray, directory: Path, *, pks: list[int] | None = None) -> Path:
    """Train and save a tiny fused encoder into ``directory`` (also used by the API tests)."""
    return save_audio_encoder(trained=train_tiny(trumpet_mel, pks=pks), directory=directory)
