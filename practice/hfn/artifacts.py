"""Versioned HFN artifacts: ``<LEITMOTIF_ARTIFACTS_DIR>/practice/<variant>-<UTC timestamp>-<hash>/``.

Files (the pattern of :mod:`audio.encoder.artifacts`): ``config.json`` (the :class:`HFNConfig`, its
seed, the split's works), ``metrics.json`` (history and test metrics), ``model_state.pt``, and
``manifest.json`` (format version, SHA-256 of every file). Written through
:func:`core.artifacts.new_artifact_directory` (write then rename); checksums are checked at load, so an
edited or truncated file fails loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from django.conf import settings

from core.artifacts import (
    artifacts_by_time,
    new_artifact_directory,
    read_json,
    sha256_file,
    timestamped_artifact_name,
    write_json,
)
from core.errors import LeitmotifError, ModelArtifactError
from practice.hfn.config import HFNConfig
from practice.hfn.model import HFN, build_model
from practice.hfn.training import TrainedHFN

FORMAT_VERSION = 1
PRACTICE_SUBDIR = "practice"
FILES = ("config.json", "metrics.json", "model_state.pt")
_NAME = re.compile(r"^(?P<variant>hfn\.[a-z_]+\.v\d+)-(?P<timestamp>\d{8}T\d{6}\.\d{6}Z)-(?P<hash>[0-9a-f]{12})$")
NO_HFN_HINT = "Train one with `python manage.py train_hfn`."


def hfn_artifacts_dir() -> Path:
    return Path(settings.LEITMOTIF_ARTIFACTS_DIR) / PRACTICE_SUBDIR


@dataclass
class LoadedHFN:
    path: Path
    config: HFNConfig
    model: HFN
    metrics: dict[str, Any]

    @property
    def version(self) -> str:
        return self.path.name


def save_hfn(trained: TrainedHFN, *, directory: Path | None = None, now: datetime | None = None) -> Path:
    directory = directory or hfn_artifacts_dir()
    created = (now or datetime.now(UTC)).astimezone(UTC)
    name = timestamped_artifact_name(trained.config.variant, created, trained.config.config_hash())
    with new_artifact_directory(directory, name) as partial:
        write_json(
            partial / "config.json",
            {"hfn": trained.config.to_dict(), "seed": trained.config.seed, "created_at": created.isoformat()},
        )
        write_json(partial / "metrics.json", trained.metrics)
        torch.save({k: v.detach().cpu() for k, v in trained.model.state_dict().items()}, partial / "model_state.pt")
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


def list_hfns(variant: str | None = None) -> list[Path]:
    return artifacts_by_time(hfn_artifacts_dir(), _NAME, kind=variant)


def load_hfn(path: Path | str | None = None) -> LoadedHFN:
    """Load and check an HFN artifact (the newest one when ``path`` is None)."""
    if path is None:
        found = list_hfns()
        if not found:
            raise ModelArtifactError(f"No trained HFN in {hfn_artifacts_dir()}. {NO_HFN_HINT}")
        path = found[-1]
    path = Path(path)
    try:
        manifest = read_json(path / "manifest.json")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ModelArtifactError(
                f"{path}: format {manifest.get('format_version')!r}, this code reads {FORMAT_VERSION}."
            )
        for filename in FILES:
            if not (path / filename).is_file() or manifest["sha256"].get(filename) != sha256_file(path / filename):
                raise ModelArtifactError(
                    f"{path / filename}: missing or does not match the manifest; the artifact is corrupt. {NO_HFN_HINT}"
                )
        config = HFNConfig.from_dict(read_json(path / "config.json")["hfn"])
        model = build_model(config)
        model.load_state_dict(torch.load(path / "model_state.pt", map_location="cpu", weights_only=True))
        model.eval()
        metrics = read_json(path / "metrics.json")
    except ModelArtifactError:
        raise
    except (LeitmotifError, KeyError, RuntimeError, OSError) as exc:
        message = exc.message if isinstance(exc, LeitmotifError) else f"{type(exc).__name__}: {exc}"
        raise ModelArtifactError(f"{path}: cannot load the HFN ({message}). {NO_HFN_HINT}") from exc
    return LoadedHFN(path, config, model, metrics)
