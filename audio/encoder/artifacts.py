"""Versioned audio-encoder artifacts: ``<LEITMOTIF_ARTIFACTS_DIR>/audio/<variant>-<UTC timestamp>-<hash>/``.

Files:

* ``config.json`` – the :class:`~.config.AudioEncoderConfig`, the mel settings and their fingerprint,
  the side vocabulary, the target space's source (KGE artifact path and hash), the split (work slugs)
  and the normalisation constants: everything needed to rerun or to serve;
* ``metrics.json`` – validation and test metrics, training history, timings;
* ``model_state.pt`` – the encoder's state dict (normalisation buffers included);
* ``reference.npz`` / ``reference.json`` – the :class:`ReferenceSpace`: target vectors of every work and
  of the candidate composers/eras/forms, the relation vectors, names and facts for display;
* ``manifest.json`` – format version and SHA-256 of every file.

Same promises as the KGE and recommender artifacts (write-then-rename via
:func:`core.artifacts.new_artifact_directory`, checksums checked at load): an
interrupted save leaves nothing that looks complete, an edited file fails loudly.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from django.conf import settings

from audio.encoder.config import AudioEncoderConfig
from audio.encoder.dataset import FIELD_RELATIONS, SideVocabulary
from core.artifacts import (
    artifacts_by_time,
    new_artifact_directory,
    read_json,
    sha256_file,
    timestamped_artifact_name,
    write_json,
)
from core.errors import DataFileError, LeitmotifError, ModelArtifactError

FORMAT_VERSION = 1
AUDIO_SUBDIR = "audio"
FILES = ("config.json", "metrics.json", "model_state.pt", "reference.npz", "reference.json")
_NAME = re.compile(r"^(?P<variant>[a-z_]+)-(?P<timestamp>\d{8}T\d{6}\.\d{6}Z)-(?P<hash>[0-9a-f]{12})$")
NO_ENCODER_HINT = (
    "Train one with `python manage.py train_audio_encoder` (after `load_works` and `train_kge --model transe`)."
)


def audio_artifacts_dir() -> Path:
    return Path(settings.LEITMOTIF_ARTIFACTS_DIR) / AUDIO_SUBDIR


@dataclass(frozen=True)
class ReferenceSpace:
    """The part of the target space a trained encoder needs at serving time."""

    scoring: str
    entity_ids: tuple[str, ...]
    vectors: np.ndarray
    #: Relation type → vector (empty for spaces without relations).
    relation_vectors: Mapping[str, np.ndarray]
    #: Entity id → {"name", "type"} of candidates.
    entities: Mapping[str, Mapping[str, Any]]
    #: Work entity id → {"pk", "slug", "title", "composer", "era", "form"}.
    works: Mapping[str, Mapping[str, Any]]
    #: Evaluated field → candidate entity ids.
    field_candidates: Mapping[str, tuple[str, ...]]
    _rows: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rows", {entity_id: row for row, entity_id in enumerate(self.entity_ids)})

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for name in FIELD_RELATIONS if self.field_candidates.get(name))

    def vector(self, entity_id: str) -> np.ndarray | None:
        row = self._rows.get(entity_id)
        return None if row is None else self.vectors[row]

    @functools.cached_property
    def _candidate_cache(self) -> dict[str, tuple]:
        cache: dict[str, tuple] = {}
        for name, ids in self.field_candidates.items():
            relation_type, work_is_head = FIELD_RELATIONS[name]
            matrix = (
                np.stack([self.vectors[self._rows[i]] for i in ids])
                if ids
                else np.zeros((0, self.vectors.shape[1]), np.float32)
            )
            cache[name] = (list(ids), matrix, self.relation_vectors.get(relation_type), work_is_head)
        return cache

    def candidates(self, field_name: str) -> tuple[list[str], np.ndarray, np.ndarray | None, bool]:
        """(ids, vectors, relation vector, is the work the head?) of one field's candidates."""
        return self._candidate_cache[field_name]

    @functools.cached_property
    def work_matrix(self) -> tuple[list[str], np.ndarray]:
        ids = [entity_id for entity_id in self.works if entity_id in self._rows]
        matrix = (
            np.stack([self.vectors[self._rows[i]] for i in ids])
            if ids
            else np.zeros((0, self.vectors.shape[1]), np.float32)
        )
        return ids, matrix

    def save(self, directory: Path) -> None:
        arrays: dict[str, Any] = {
            "vectors": self.vectors.astype(np.float32)
        }  # Any: np.savez(**) also takes allow_pickle
        arrays.update({f"relation:{name}": vector.astype(np.float32) for name, vector in self.relation_vectors.items()})
        with open(directory / "reference.npz", "wb") as handle:
            np.savez(handle, **arrays)
        write_json(
            directory / "reference.json",
            {
                "scoring": self.scoring,
                "entity_ids": list(self.entity_ids),
                "entities": dict(self.entities),
                "works": dict(self.works),
                "field_candidates": {k: list(v) for k, v in self.field_candidates.items()},
            },
        )

    @classmethod
    def load(cls, directory: Path) -> ReferenceSpace:
        meta = read_json(directory / "reference.json")
        try:
            with np.load(directory / "reference.npz", allow_pickle=False) as data:
                vectors = np.asarray(data["vectors"])
                relations = {
                    key.split(":", 1)[1]: np.asarray(data[key]) for key in data.files if key.startswith("relation:")
                }
        except (OSError, ValueError, KeyError) as exc:
            raise DataFileError(
                f"not a readable reference space ({exc}); retrain the encoder.", path=str(directory / "reference.npz")
            ) from exc
        if vectors.shape[0] != len(meta["entity_ids"]):
            raise DataFileError(
                "reference vectors and ids disagree; retrain the encoder.", path=str(directory / "reference.npz")
            )
        return cls(
            meta["scoring"],
            tuple(meta["entity_ids"]),
            vectors,
            relations,
            meta["entities"],
            meta["works"],
            {k: tuple(v) for k, v in meta["field_candidates"].items()},
        )


@dataclass
class LoadedEncoder:
    """A trained encoder ready to predict (eval mode), with what it needs around it."""

    path: Path
    config: AudioEncoderConfig
    model: Any
    vocabulary: SideVocabulary
    reference: ReferenceSpace
    saved_config: Mapping[str, Any]
    metrics: Mapping[str, Any]

    @property
    def version(self) -> str:
        return self.path.name


def save_audio_encoder(*, trained, directory: Path | None = None, now: datetime | None = None) -> Path:
    """Write a :class:`~.training.TrainedEncoder` as a new artifact; returns its path."""
    directory = directory or audio_artifacts_dir()
    created = (now or datetime.now(UTC)).astimezone(UTC)
    name = timestamped_artifact_name(trained.config.variant, created, trained.config.config_hash())
    with new_artifact_directory(directory, name) as partial:
        write_json(partial / "config.json", {**trained.saved_config(), "created_at": created.isoformat()})
        write_json(partial / "metrics.json", trained.metrics)
        torch.save(
            {key: value.detach().cpu() for key, value in trained.model.state_dict().items()}, partial / "model_state.pt"
        )
        trained.reference.save(partial)
        write_json(
            partial / "manifest.json",
            {
                "format_version": FORMAT_VERSION,
                "created_at": created.isoformat(),
                "variant": trained.config.variant,
                "versions": {"torch": torch.__version__, "numpy": np.__version__},
                "sha256": {filename: sha256_file(partial / filename) for filename in FILES},
            },
        )
    return directory / name


def list_audio_encoders(variant: str | None = None) -> list[Path]:
    return artifacts_by_time(audio_artifacts_dir(), _NAME, kind=variant)


def latest_audio_encoder(variant: str | None = None) -> Path:
    found = list_audio_encoders(variant)
    if not found:
        what = f"{variant} audio encoder" if variant else "audio encoder"
        raise ModelArtifactError(f"No trained {what} in {audio_artifacts_dir()}. {NO_ENCODER_HINT}")
    return found[-1]


def load_audio_encoder(path: Path | str | None = None) -> LoadedEncoder:
    """Load and check an encoder artifact (the newest one when ``path`` is None); cached per path and manifest."""
    path = Path(path) if path is not None else latest_audio_encoder()
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise ModelArtifactError(f"{path} is not an audio encoder artifact (no manifest.json). {NO_ENCODER_HINT}")
    return _load_cached(str(path), manifest_path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_cached(path_text: str, _mtime: int) -> LoadedEncoder:
    from audio.encoder.model import AudioEncoder

    path = Path(path_text)
    try:
        manifest = read_json(path / "manifest.json")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ModelArtifactError(
                f"{path}: format {manifest.get('format_version')!r}, this code reads {FORMAT_VERSION}. {NO_ENCODER_HINT}"
            )
        for filename in FILES:
            if not (path / filename).is_file() or manifest["sha256"].get(filename) != sha256_file(path / filename):
                raise ModelArtifactError(
                    f"{path / filename}: missing or does not match the manifest; the artifact is corrupt. {NO_ENCODER_HINT}"
                )
        saved = read_json(path / "config.json")
        config = AudioEncoderConfig.from_dict(saved["encoder"])
        vocabulary = SideVocabulary({k: tuple(v) for k, v in saved["side_vocabulary"].items()})
        model = AudioEncoder(
            variant=config.variant,
            target_dim=int(saved["target_dim"]),
            n_mels=int(saved["mel"]["n_mels"]),
            frames=int(saved["crop_frames"]),
            side_vocab_sizes=vocabulary.sizes if config.uses_side else {},
            channels=config.conv_channels,
            lstm_hidden=config.lstm_hidden,
            hidden_dim=config.hidden_dim,
            side_dim=config.side_dim,
            dropout=config.dropout,
        )
        model.load_state_dict(torch.load(path / "model_state.pt", map_location="cpu", weights_only=True))
        model.eval()
        reference = ReferenceSpace.load(path)
        metrics = read_json(path / "metrics.json")
    except ModelArtifactError:
        raise
    except (LeitmotifError, KeyError, RuntimeError) as exc:
        message = exc.message if isinstance(exc, LeitmotifError) else f"{type(exc).__name__}: {exc}"
        raise ModelArtifactError(f"{path}: cannot load the audio encoder ({message}). {NO_ENCODER_HINT}") from exc
    return LoadedEncoder(path, config, model, vocabulary, reference, saved, metrics)
