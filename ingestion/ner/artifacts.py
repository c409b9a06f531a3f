"""Versioned NER artifacts: ``<LEITMOTIF_ARTIFACTS_DIR>/ner/<version>/``.

Layout of one artifact (``version`` = ``ner-<UTC timestamp>-<config hash>``, so names sort by age):

* ``model/`` – the spaCy pipeline (``nlp.to_disk``): tokenizer, sentence splitters, tok2vec, ner;
* ``config.json`` – the :class:`~ingestion.ner.config.NerTrainingConfig` it was trained with (seed included);
* ``metrics.json`` – validation and dev scores, data sizes, weak examples used, training time;
* ``manifest.json`` – format, spaCy version, labels and a SHA-256 of every other file.

Why the checksums and the write-then-rename (both from :mod:`core.artifacts`): an
interrupted save leaves only a hidden ``.partial`` directory that is never listed, and a half-copied or
edited model fails loudly at load time instead of extracting wrong entities. Every problem is a
:class:`~core.errors.ModelArtifactError` that says to run ``python manage.py train_ner``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.artifacts import new_artifact_directory, read_json, sha256_file, write_json
from core.errors import DataFileError, LeitmotifError, ModelArtifactError
from ingestion.ner.config import NerTrainingConfig

ARTIFACT_FORMAT = "leitmotif-ner/1"
NER_SUBDIR = "ner"
MODEL_DIR = "model"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
MANIFEST_FILE = "manifest.json"
RETRAIN_HINT = "run `python manage.py train_ner` to train one"
_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
VERSION_PATTERN = re.compile(r"^ner-(?P<timestamp>\d{8}T\d{6}\.\d{6}Z)-(?P<hash>[0-9a-f]{12})$")


def ner_artifacts_dir(directory: Path | str | None = None) -> Path:
    """``directory`` if given, else ``<LEITMOTIF_ARTIFACTS_DIR>/ner``."""
    if directory is not None:
        return Path(directory)
    from django.conf import settings

    root = getattr(settings, "LEITMOTIF_ARTIFACTS_DIR", None) or Path(settings.BASE_DIR) / "artifacts"
    return Path(root) / NER_SUBDIR


def save_ner_artifact(
    nlp,
    *,
    config: NerTrainingConfig,
    metrics: Mapping[str, Any],
    directory: Path | str | None = None,
    now: datetime | None = None,
) -> Path:
    """Write ``nlp`` with its config and metrics as a new artifact and return its directory."""
    import spacy

    directory = ner_artifacts_dir(directory)
    created = (now or datetime.now(UTC)).astimezone(UTC)
    name = f"ner-{created.strftime(_TIMESTAMP_FORMAT)}-{config.config_hash()}"
    with new_artifact_directory(directory, name) as partial:
        nlp.to_disk(partial / MODEL_DIR)
        write_json(partial / CONFIG_FILE, config.to_dict())
        write_json(partial / METRICS_FILE, dict(metrics))
        files = sorted(p for p in partial.rglob("*") if p.is_file())
        write_json(
            partial / MANIFEST_FILE,
            {
                "format": ARTIFACT_FORMAT,
                "version": name,
                "created_at": created.isoformat(),
                "spacy_version": spacy.__version__,
                "pipeline": list(nlp.pipe_names),
                "labels": list(nlp.get_pipe("ner").labels),
                "config_hash": config.config_hash(),
                "sha256": {p.relative_to(partial).as_posix(): sha256_file(p) for p in files},
            },
        )
    return directory / name


def list_ner_artifacts(directory: Path | str | None = None) -> list[Path]:
    """Complete artifact directories (named like a version, with a manifest), oldest first."""
    root = ner_artifacts_dir(directory)
    if not root.is_dir():
        return []
    found = [
        p for p in root.iterdir() if p.is_dir() and VERSION_PATTERN.match(p.name) and (p / MANIFEST_FILE).is_file()
    ]
    return sorted(found, key=lambda p: p.name)


def resolve_ner_artifact(path_or_version: Path | str | None = None, *, directory: Path | str | None = None) -> Path:
    """The artifact to load: the newest one, a directory path, or a version name under the NER artifacts folder."""
    root = ner_artifacts_dir(directory)
    if path_or_version is None:
        found = list_ner_artifacts(root)
        if not found:
            raise ModelArtifactError(f"No trained NER model in {root}; {RETRAIN_HINT}.")
        return found[-1]
    path = Path(path_or_version)
    if not path.is_dir() and (root / path).is_dir():
        path = root / path
    if not path.is_dir():
        raise ModelArtifactError(
            f"NER artifact {str(path_or_version)!r} not found (looked in {root} too); {RETRAIN_HINT}."
        )
    return path


@dataclass(frozen=True)
class VerifiedArtifact:
    path: Path
    manifest: Mapping[str, Any]
    config: NerTrainingConfig
    metrics: Mapping[str, Any]

    @property
    def version(self) -> str:
        return str(self.manifest.get("version") or self.path.name)


def verify_ner_artifact(path: Path | str) -> VerifiedArtifact:
    """Check format, spaCy version and every checksum of an artifact; read its config and metrics."""
    import spacy

    path = Path(path)
    try:
        manifest = read_json(path / MANIFEST_FILE)
    except DataFileError as exc:
        raise ModelArtifactError(f"{exc.message.rstrip('.')}; {RETRAIN_HINT}.") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != ARTIFACT_FORMAT
        or not isinstance(manifest.get("sha256"), dict)
    ):
        raise ModelArtifactError(f"{path / MANIFEST_FILE}: not a {ARTIFACT_FORMAT} artifact manifest; {RETRAIN_HINT}.")
    trained_with = str(manifest.get("spacy_version", ""))
    if trained_with.split(".")[:2] != spacy.__version__.split(".")[:2]:
        raise ModelArtifactError(
            f"{path}: trained with spaCy {trained_with or 'unknown'}, this environment has {spacy.__version__}; {RETRAIN_HINT}."
        )
    if not manifest["sha256"]:
        raise ModelArtifactError(f"{path / MANIFEST_FILE}: the manifest lists no files; {RETRAIN_HINT}.")
    for relative, expected in manifest["sha256"].items():
        file_path = path / relative
        if not file_path.is_file():
            raise ModelArtifactError(
                f"{file_path}: artifact file is missing, the artifact is incomplete; {RETRAIN_HINT}."
            )
        if sha256_file(file_path) != expected:
            raise ModelArtifactError(
                f"{file_path}: checksum does not match the manifest (corrupt or edited); {RETRAIN_HINT}."
            )
    for required in (f"{MODEL_DIR}/config.cfg", CONFIG_FILE, METRICS_FILE):
        if required not in manifest["sha256"]:
            raise ModelArtifactError(f"{path}: the manifest does not list {required}; {RETRAIN_HINT}.")
    try:
        config = NerTrainingConfig.from_dict(read_json(path / CONFIG_FILE))
        metrics = read_json(path / METRICS_FILE)
    except (LeitmotifError, TypeError, ValueError) as exc:
        message = getattr(exc, "message", str(exc))
        raise ModelArtifactError(
            f"{path / CONFIG_FILE}: unreadable training config ({message}); {RETRAIN_HINT}."
        ) from None
    return VerifiedArtifact(path=path, manifest=manifest, config=config, metrics=metrics)
