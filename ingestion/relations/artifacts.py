"""Versioned relation-extractor artifacts under ``<LEITMOTIF_ARTIFACTS_DIR>/relations/<version>/``.

Layout of one version (``bilstm-<UTC timestamp>-<config hash>``):

* ``config.json`` – the full :class:`RelationTrainingConfig` (seed, data files, hyper-parameters);
* ``vocab.json`` – the vocabulary, special tokens first;
* ``model_state.pt`` – the BiLSTM state dict;
* ``metrics.json`` – dev tables of the BiLSTM and the baseline, validation scores, history, data report;
* ``manifest.json`` – format version, class labels, temperature, the confidence calibrator
  (``calibration``: isotonic breakpoints fitted on the validation slice of train), the measured precision
  of the calibrated confidence on dev per source (``precision_at_confidence``, see
  :func:`relation_precision_table`), library versions, SHA-256 of every file.

Same guarantees as the other artifacts of the project (:mod:`core.artifacts`): written
into a hidden directory then renamed, and every file checked against the manifest when loaded. Any
problem at load time is a :class:`ModelArtifactError` (E031) that says how to get a good artifact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from core.artifacts import new_artifact_directory, read_json, sha256_file, write_json
from core.errors import LeitmotifError, ModelArtifactError
from ingestion.relations.calibration import IsotonicCalibrator
from ingestion.relations.config import RelationTrainingConfig
from ingestion.relations.features import Vocabulary
from ingestion.relations.schema import RELATION_LABELS
from ingestion.relations.training import BiLstmTrainingResult, build_model

ARTIFACT_FORMAT_VERSION = 2
RELATIONS_SUBDIR = "relations"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
VOCAB_FILE = "vocab.json"
MODEL_STATE_FILE = "model_state.pt"
MANIFEST_FILE = "manifest.json"
ARTIFACT_FILES = (CONFIG_FILE, METRICS_FILE, VOCAB_FILE, MODEL_STATE_FILE)
TRAIN_HINT = "run `python manage.py train_relations`"
_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_NAME_PATTERN = re.compile(r"^bilstm-(?P<timestamp>\d{8}T\d{6}\.\d{6}Z)-(?P<hash>[0-9a-f]{12})$")


def relations_artifacts_dir(directory: Path | str | None = None) -> Path:
    """``directory`` if given, else ``<LEITMOTIF_ARTIFACTS_DIR>/relations``."""
    if directory is not None:
        return Path(directory)
    from django.conf import settings

    return Path(getattr(settings, "LEITMOTIF_ARTIFACTS_DIR", Path(settings.BASE_DIR) / "artifacts")) / RELATIONS_SUBDIR


def save_relation_artifact(
    result: BiLstmTrainingResult,
    *,
    metrics: Mapping[str, Any],
    directory: Path | str | None = None,
    now: datetime | None = None,
    precision_at_confidence: Mapping[str, Any] | None = None,
) -> Path:
    """Write a new version under ``directory`` (default ``<artifacts>/relations``) and return its path."""
    directory = relations_artifacts_dir(directory)
    created = (now or datetime.now(UTC)).astimezone(UTC)
    name = f"bilstm-{created.strftime(_TIMESTAMP_FORMAT)}-{result.config.config_hash()}"
    with new_artifact_directory(directory, name) as partial:
        write_json(partial / CONFIG_FILE, result.config.to_dict())
        write_json(partial / METRICS_FILE, dict(metrics))
        write_json(partial / VOCAB_FILE, result.vocabulary.to_list())
        torch.save({k: v.detach().cpu() for k, v in result.model.state_dict().items()}, partial / MODEL_STATE_FILE)
        write_json(
            partial / MANIFEST_FILE,
            {
                "format_version": ARTIFACT_FORMAT_VERSION,
                "created_at": created.isoformat(),
                "version": name,
                "labels": list(RELATION_LABELS),
                "temperature": result.temperature,
                "none_bias": result.none_bias,
                "calibration": result.calibrator.to_dict(),
                "precision_at_confidence": dict(precision_at_confidence or {}),
                "seed": result.config.seed,
                "config_hash": result.config.config_hash(),
                "vocabulary_size": len(result.vocabulary),
                "torch_version": torch.__version__,
                "sha256": {f: sha256_file(partial / f) for f in ARTIFACT_FILES},
            },
        )
    return directory / name


def list_relation_artifacts(directory: Path | str | None = None) -> list[Path]:
    """Complete-looking version directories, oldest first (hidden ``.partial`` directories are ignored)."""
    directory = relations_artifacts_dir(directory)
    if not directory.is_dir():
        return []
    found = [
        (m["timestamp"], child.name, child)
        for child in directory.iterdir()
        if child.is_dir() and (m := _NAME_PATTERN.match(child.name))
    ]
    return [child for _, _, child in sorted(found)]


def latest_relation_artifact(directory: Path | str | None = None) -> Path:
    found = list_relation_artifacts(directory)
    if not found:
        raise ModelArtifactError(
            f"No relation extractor has been trained yet in {relations_artifacts_dir(directory)}; {TRAIN_HINT}."
        )
    return found[-1]


class LoadedRelationArtifact:
    """A validated artifact: config, vocabulary, manifest, metrics and the BiLSTM in eval mode."""

    def __init__(
        self,
        path: Path,
        config: RelationTrainingConfig,
        vocabulary: Vocabulary,
        manifest: Mapping[str, Any],
        metrics: Mapping[str, Any],
        model,
    ):
        self.path = path
        self.config = config
        self.vocabulary = vocabulary
        self.manifest = manifest
        self.metrics = metrics
        self.model = model

    @property
    def version(self) -> str:
        return self.path.name

    @property
    def temperature(self) -> float:
        return float(self.manifest["temperature"])

    @property
    def none_bias(self) -> float:
        return float(self.manifest.get("none_bias", 0.0))

    @property
    def calibrator(self) -> IsotonicCalibrator:
        return IsotonicCalibrator.from_dict(self.manifest.get("calibration"))


def relation_precision_table(version: str, directory: Path | str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The measured precision of a relation model version's confidence, per dev source (``crossre``,
    ``fewrel``): ``[{"threshold", "accepted", "share_accepted", "precision", "recall"}, ...]`` where a row
    counts the predicted relations with confidence > threshold. ``{}`` when the version is unknown or
    older than calibration (the review queue then shows nothing)."""
    path = relations_artifacts_dir(directory) / version
    if not _NAME_PATTERN.match(version) or not (path / MANIFEST_FILE).is_file():
        return {}
    try:
        manifest = read_json(path / MANIFEST_FILE)
    except LeitmotifError:
        return {}
    table = manifest.get("precision_at_confidence") if isinstance(manifest, dict) else None
    return dict(table) if isinstance(table, dict) else {}


def load_relation_artifact(path: Path | str) -> LoadedRelationArtifact:
    path = Path(path)
    if not path.is_dir():
        raise ModelArtifactError(
            f"Relation artifact directory {path} does not exist; {TRAIN_HINT} or pass an existing version."
        )
    try:
        manifest = read_json(path / MANIFEST_FILE)
        if not isinstance(manifest, dict) or manifest.get("format_version") != ARTIFACT_FORMAT_VERSION:
            found = manifest.get("format_version") if isinstance(manifest, dict) else None
            raise ModelArtifactError(
                f"{path / MANIFEST_FILE}: artifact format {found!r} is not the format {ARTIFACT_FORMAT_VERSION} this code reads; {TRAIN_HINT}."
            )
        if manifest.get("labels") != list(RELATION_LABELS):
            raise ModelArtifactError(
                f"{path}: the artifact predicts {manifest.get('labels')!r} but the schema now has {list(RELATION_LABELS)!r}; {TRAIN_HINT}."
            )
        temperature = manifest.get("temperature")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ModelArtifactError(
                f"{path / MANIFEST_FILE}: temperature {temperature!r} is not a positive number; {TRAIN_HINT}."
            )
        IsotonicCalibrator.from_dict(manifest.get("calibration"))  # malformed → ModelArtifactError
        none_bias = manifest.get("none_bias", 0.0)
        if isinstance(none_bias, bool) or not isinstance(none_bias, (int, float)):
            raise ModelArtifactError(f"{path / MANIFEST_FILE}: none_bias {none_bias!r} is not a number; {TRAIN_HINT}.")
        checksums = manifest.get("sha256") or {}
        for filename in ARTIFACT_FILES:
            file_path = path / filename
            if not file_path.is_file():
                raise ModelArtifactError(f"{file_path} is missing; the artifact is incomplete, {TRAIN_HINT}.")
            if checksums.get(filename) != sha256_file(file_path):
                raise ModelArtifactError(
                    f"{file_path} does not match its checksum in the manifest (corrupt or edited); {TRAIN_HINT}."
                )
        config = RelationTrainingConfig.from_dict(read_json(path / CONFIG_FILE))
        words = read_json(path / VOCAB_FILE)
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ModelArtifactError(f"{path / VOCAB_FILE} is not a list of words; {TRAIN_HINT}.")
        try:
            vocabulary = Vocabulary.from_list(words)
        except ValueError as exc:
            raise ModelArtifactError(f"{path / VOCAB_FILE}: {exc}; {TRAIN_HINT}.") from exc
        metrics = read_json(path / METRICS_FILE)
    except ModelArtifactError:
        raise
    except LeitmotifError as exc:
        raise ModelArtifactError(f"{exc.message} ({TRAIN_HINT})") from exc
    model = build_model(config, len(vocabulary))
    try:
        state = torch.load(path / MODEL_STATE_FILE, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:
        raise ModelArtifactError(
            f"{path / MODEL_STATE_FILE} cannot be loaded into the BiLSTM ({exc}); {TRAIN_HINT}."
        ) from exc
    model.eval()
    return LoadedRelationArtifact(path, config, vocabulary, manifest, metrics, model)
