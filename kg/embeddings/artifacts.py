"""Versioned, self-checking artifact directories for trained embeddings.

Layout: ``<artifacts root>/kge/<model>-<UTC timestamp>-<config hash>/`` holding

* ``config.json`` – the full :class:`~kg.embeddings.config.KgeConfig` (seed included);
* ``metrics.json`` – evaluations, split sizes and training losses;
* ``entity_to_id.json`` / ``relation_to_id.json`` – label → row of the arrays below;
* ``entity_embeddings.npy`` / ``relation_embeddings.npy`` – float32 vectors (ComplEx: ``[real | imag]``);
* ``model_state.pt`` – the PyKEEN model's state dict (reload with :func:`load_kge_model`);
* ``split_triples.npz`` – the training/validation/test triples as ids of the maps above (written since
  warm starts exist; older artifacts lack it and load as before);
* ``manifest.json`` – format version, library versions, shapes and a SHA-256 of every file; a
  warm-started artifact (:mod:`kg.embeddings.warm_start`) also names its ``parent`` and the graph change.

Why a manifest with checksums: a half-copied or hand-edited artifact must fail loudly at load time,
not feed wrong vectors to the recommender. Why the split is stored: a warm start must keep every
evaluation triple its parent never trained on out of training, and count exactly which facts are new. Why write-then-rename: an interrupted save leaves only a
hidden ``.partial`` directory that loaders ignore, never a half-written artifact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.artifacts import artifacts_by_time, new_artifact_directory, timestamped_artifact_name
from core.artifacts import read_json as _read_json
from core.artifacts import sha256_file as _sha256
from core.artifacts import write_json as _write_json
from core.errors import DataFileError, LeitmotifError
from kg.embeddings.config import KgeConfig, model_spec
from kg.embeddings.training import KgeResult, build_model

ARTIFACT_FORMAT_VERSION = 1
KGE_SUBDIR = "kge"
MANIFEST_FILE = "manifest.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
ENTITY_MAP_FILE = "entity_to_id.json"
RELATION_MAP_FILE = "relation_to_id.json"
ENTITY_EMBEDDINGS_FILE = "entity_embeddings.npy"
RELATION_EMBEDDINGS_FILE = "relation_embeddings.npy"
MODEL_STATE_FILE = "model_state.pt"
SPLIT_FILE = "split_triples.npz"
ARTIFACT_FILES = (
    CONFIG_FILE,
    METRICS_FILE,
    ENTITY_MAP_FILE,
    RELATION_MAP_FILE,
    ENTITY_EMBEDDINGS_FILE,
    RELATION_EMBEDDINGS_FILE,
    MODEL_STATE_FILE,
)
#: Files newer artifacts have and older ones lack; checked against the manifest whenever it lists them.
OPTIONAL_ARTIFACT_FILES = (SPLIT_FILE,)
SPLIT_PARTS = ("training", "validation", "testing")
_NAME_PATTERN = re.compile(r"^(?P<model>[a-z0-9]+)-(?P<timestamp>\d{8}T\d{6}\.\d{6}Z)-(?P<hash>[0-9a-f]{12})$")


@dataclass(frozen=True)
class KgeArtifact:
    """A loaded, validated artifact (vectors in memory; the model state is loaded on demand)."""

    path: Path
    config: KgeConfig
    metrics: Mapping[str, Any]
    entity_to_id: Mapping[str, int]
    relation_to_id: Mapping[str, int]
    entity_embeddings: np.ndarray
    relation_embeddings: np.ndarray
    manifest: Mapping[str, Any]


def artifacts_root() -> Path:
    """``settings.LEITMOTIF_ARTIFACTS_DIR`` if set, else ``<BASE_DIR>/artifacts`` (git-ignored)."""
    from django.conf import settings

    if settings.configured:
        configured = getattr(settings, "LEITMOTIF_ARTIFACTS_DIR", None)
        if configured:
            return Path(configured)
        return Path(settings.BASE_DIR) / "artifacts"
    return Path(__file__).resolve().parents[2] / "artifacts"


def kge_artifacts_dir(directory: Path | str | None = None) -> Path:
    """The folder holding KGE artifacts: ``directory`` if given, else ``<artifacts root>/kge``."""
    return Path(directory) if directory is not None else artifacts_root() / KGE_SUBDIR


def save_kge_artifact(
    *,
    result: KgeResult,
    directory: Path | str | None = None,
    extra_metrics: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    lineage: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``result`` as a new artifact under ``directory`` (default ``<artifacts root>/kge``) and return its path.

    ``lineage`` (a warm start's parent and graph change, see :mod:`kg.embeddings.warm_start`) is recorded
    in the manifest (``parent`` plus ``warm_start``) and in ``metrics.json``.
    """
    directory = kge_artifacts_dir(directory)
    created = (now or datetime.now(UTC)).astimezone(UTC)
    name = timestamped_artifact_name(result.config.spec.alias, created, result.config.config_hash())
    with new_artifact_directory(directory, name) as partial:
        metrics = result.metrics_dict()
        if extra_metrics:
            metrics.update(extra_metrics)
        if lineage:
            metrics["warm_start"] = dict(lineage)
        _write_json(partial / CONFIG_FILE, result.config.to_dict())
        _write_json(partial / METRICS_FILE, metrics)
        _write_json(partial / ENTITY_MAP_FILE, dict(result.entity_to_id))
        _write_json(partial / RELATION_MAP_FILE, dict(result.relation_to_id))
        np.save(
            partial / ENTITY_EMBEDDINGS_FILE, np.asarray(result.entity_embeddings, dtype=np.float32), allow_pickle=False
        )
        np.save(
            partial / RELATION_EMBEDDINGS_FILE,
            np.asarray(result.relation_embeddings, dtype=np.float32),
            allow_pickle=False,
        )
        torch.save(
            {key: value.detach().cpu() for key, value in result.model.state_dict().items()}, partial / MODEL_STATE_FILE
        )
        if result.split is not None:
            with open(partial / SPLIT_FILE, "wb") as handle:
                np.savez(
                    handle,
                    **{
                        part: getattr(result.split, part).mapped_triples.numpy().astype(np.int64)
                        for part in SPLIT_PARTS
                    },
                )
        _write_json(partial / MANIFEST_FILE, _manifest(partial, result=result, created=created, lineage=lineage))
    final = directory / name
    return final


def load_kge_artifact(path: Path | str) -> KgeArtifact:
    """Load and validate an artifact directory; any missing, altered or inconsistent file → ``DataFileError``."""
    path = Path(path)
    if not path.is_dir():
        raise DataFileError(
            "KGE artifact directory not found; train one with `python manage.py train_kge`.", path=str(path)
        )
    manifest = _read_json(path / MANIFEST_FILE)
    if not isinstance(manifest, dict) or manifest.get("format_version") != ARTIFACT_FORMAT_VERSION:
        raise DataFileError(
            f"unsupported artifact format {manifest.get('format_version') if isinstance(manifest, dict) else None!r}; "
            f"this code reads format {ARTIFACT_FORMAT_VERSION}. Retrain with `python manage.py train_kge`.",
            path=str(path / MANIFEST_FILE),
        )
    checksums = manifest.get("sha256") or {}
    for filename in ARTIFACT_FILES:
        file_path = path / filename
        if not file_path.is_file():
            raise DataFileError(
                "artifact file is missing; the artifact is incomplete, retrain it.", path=str(file_path)
            )
        if checksums.get(filename) != _sha256(file_path):
            raise DataFileError(
                "checksum does not match the manifest; the file is corrupt or was edited, retrain it.",
                path=str(file_path),
            )
    for filename in OPTIONAL_ARTIFACT_FILES:
        if filename not in checksums:
            continue
        file_path = path / filename
        if not file_path.is_file():
            raise DataFileError(
                "artifact file is missing; the artifact is incomplete, retrain it.", path=str(file_path)
            )
        if checksums[filename] != _sha256(file_path):
            raise DataFileError(
                "checksum does not match the manifest; the file is corrupt or was edited, retrain it.",
                path=str(file_path),
            )
    try:
        config = KgeConfig.from_dict(_read_json(path / CONFIG_FILE))
    except LeitmotifError as exc:
        raise DataFileError(f"invalid config: {exc.message}", path=str(path / CONFIG_FILE)) from exc
    entity_to_id = _read_id_map(path / ENTITY_MAP_FILE)
    relation_to_id = _read_id_map(path / RELATION_MAP_FILE)
    width = config.embedding_dim * (2 if config.spec.complex_valued else 1)
    entity_embeddings = _read_matrix(path / ENTITY_EMBEDDINGS_FILE, rows=len(entity_to_id), width=width)
    relation_embeddings = _read_matrix(path / RELATION_EMBEDDINGS_FILE, rows=len(relation_to_id), width=width)
    return KgeArtifact(
        path=path,
        config=config,
        metrics=_read_json(path / METRICS_FILE),
        entity_to_id=entity_to_id,
        relation_to_id=relation_to_id,
        entity_embeddings=entity_embeddings,
        relation_embeddings=relation_embeddings,
        manifest=manifest,
    )


def load_kge_model(artifact: KgeArtifact):
    """Rebuild the trained PyKEEN model of an artifact (for scoring unseen triples)."""
    model = build_model(
        config=artifact.config, num_entities=len(artifact.entity_to_id), num_relations=len(artifact.relation_to_id)
    )
    state_path = artifact.path / MODEL_STATE_FILE
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:
        raise DataFileError(
            f"model state cannot be loaded into {artifact.config.spec.pykeen_model}: {exc}", path=str(state_path)
        ) from exc
    model.eval()
    return model


def load_kge_split(artifact: KgeArtifact) -> dict[str, np.ndarray]:
    """The artifact's training/validation/testing triples as (n × 3) int64 id arrays over its own id maps.

    Artifacts saved before splits were stored have none: a warm start from them cannot tell which facts
    are new, so this raises a ``DataFileError`` saying to train a fresh one.
    """
    path = artifact.path / SPLIT_FILE
    if SPLIT_FILE not in (artifact.manifest.get("sha256") or {}):
        raise DataFileError(
            "this artifact stores no triple split (it was saved before warm starts existed), so a refresh cannot tell "
            f"new facts from old ones; train a new one with `python manage.py train_kge --model {artifact.config.spec.alias}`.",
            path=str(path),
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            parts = {part: np.asarray(data[part]) for part in SPLIT_PARTS}
    except (OSError, ValueError, KeyError) as exc:
        raise DataFileError(
            f"not a readable triple split ({exc}); the artifact is corrupt, retrain it.", path=str(path)
        ) from exc
    limits = np.asarray([len(artifact.entity_to_id), len(artifact.relation_to_id), len(artifact.entity_to_id)])
    for part, triples in parts.items():
        if triples.ndim != 2 or triples.shape[1] != 3 or not np.issubdtype(triples.dtype, np.integer):
            raise DataFileError(
                f"the {part} part must be an (n × 3) integer array, found {triples.dtype} {triples.shape}.",
                path=str(path),
            )
        if len(triples) and ((triples < 0).any() or (triples >= limits).any()):
            raise DataFileError(
                f"the {part} part names ids outside the artifact's id maps; the artifact is corrupt, retrain it.",
                path=str(path),
            )
        parts[part] = triples.astype(np.int64)
    return parts


def list_kge_artifacts(model: str | None = None, *, directory: Path | str | None = None) -> list[Path]:
    """Artifact directories (oldest first), optionally only those of ``model`` (alias or versioned name)."""
    root = kge_artifacts_dir(directory)
    if not root.is_dir():  # before the name check: no artifacts at all is an empty list for any name
        return []
    alias = model_spec(model).alias if model is not None else None
    return artifacts_by_time(root, _NAME_PATTERN, kind=alias, kind_group="model")


def latest_artifact(model: str, *, directory: Path | str | None = None) -> Path:
    """Newest artifact directory of ``model``; a clear error if none was trained yet."""
    found = list_kge_artifacts(model, directory=directory)
    if not found:
        alias = model_spec(model).alias
        raise DataFileError(
            f"No {alias} embedding artifact yet; train one with `python manage.py train_kge --model {alias}`.",
            path=str(kge_artifacts_dir(directory)),
        )
    return found[-1]


# --- helpers ------------------------------------------------------------------------------------


def _manifest(
    directory: Path, *, result: KgeResult, created: datetime, lineage: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    from pykeen.version import get_version

    files = [*ARTIFACT_FILES, *(name for name in OPTIONAL_ARTIFACT_FILES if (directory / name).is_file())]
    lineage_fields: dict[str, Any] = {}
    if lineage:
        lineage_fields = {"parent": lineage.get("parent"), "warm_start": dict(lineage)}
    return {
        "format_version": ARTIFACT_FORMAT_VERSION,
        "created_at": created.isoformat(),
        "model": result.config.model,
        "pykeen_model": result.config.spec.pykeen_model,
        "config_hash": result.config.config_hash(),
        "num_entities": len(result.entity_to_id),
        "num_relations": len(result.relation_to_id),
        "entity_embeddings_shape": list(result.entity_embeddings.shape),
        "relation_embeddings_shape": list(result.relation_embeddings.shape),
        "embedding_layout": "[real | imaginary]" if result.config.spec.complex_valued else "real",
        "versions": {"pykeen": get_version(), "torch": torch.__version__, "numpy": np.__version__},
        **lineage_fields,
        "sha256": {filename: _sha256(directory / filename) for filename in files},
    }


def _read_id_map(path: Path) -> dict[str, int]:
    data = _read_json(path)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in data.items()
    ):
        raise DataFileError("must be a JSON object mapping labels to integer ids.", path=str(path))
    if sorted(data.values()) != list(range(len(data))):
        raise DataFileError(f"ids must be exactly 0..{len(data) - 1}, each used once.", path=str(path))
    return data


def _read_matrix(path: Path, *, rows: int, width: int) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataFileError(f"not a readable .npy array ({exc}).", path=str(path)) from exc
    if array.shape != (rows, width) or array.dtype != np.float32:
        raise DataFileError(
            f"expected a float32 array of shape ({rows}, {width}), found {array.dtype} {array.shape}.", path=str(path)
        )
    if not np.isfinite(array).all():
        raise DataFileError("contains NaN or infinite values.", path=str(path))
    return array
