"""Versioned artifact directories shared by every trained thing we save (KGE embeddings, recommenders).

Why one module: both artifact kinds promise the same two things — an interrupted save never leaves a
directory that looks complete (write into a hidden ``.partial`` directory, then one ``os.replace``),
and a half-copied or edited file fails loudly at load time (SHA-256 of every file in a manifest,
JSON that does not parse names its file). Keeping that promise in one place keeps it identical.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import DataFileError


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_json(path: Path, data: Any) -> None:
    """Stable, diff-friendly JSON (sorted keys, UTF-8); numpy scalars become plain numbers."""
    path.write_text(
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=_plain) + "\n", encoding="utf-8"
    )


def read_json(path: Path) -> Any:
    """Parse an artifact's JSON file; a missing or unparsable file is a ``DataFileError`` naming it."""
    if not path.is_file():
        raise DataFileError("artifact file is missing; the artifact is incomplete, retrain it.", path=str(path))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(f"not valid JSON ({exc}); the artifact is corrupt, retrain it.", path=str(path)) from exc


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def new_artifact_directory(directory: Path, name: str) -> Iterator[Path]:
    """Yield an empty hidden work directory; on success it becomes ``directory/name`` in one rename.

    An existing ``directory/name`` is never overwritten; on any error the work directory is removed.
    """
    final = directory / name
    if final.exists():
        raise DataFileError("an artifact with this name already exists; refusing to overwrite it.", path=str(final))
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        yield partial
        os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


#: The UTC time in an artifact's name, ``<kind>-<time>-<config hash>``: names of one kind sort by time.
ARTIFACT_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"


def timestamped_artifact_name(kind: str, created: datetime, config_hash: str) -> str:
    """``<kind>-<UTC time>-<config hash>``, the name of a new artifact directory."""
    return f"{kind}-{created.strftime(ARTIFACT_TIMESTAMP_FORMAT)}-{config_hash}"


def artifacts_by_time(
    root: Path, pattern: re.Pattern[str], *, kind: str | None = None, kind_group: str = "variant"
) -> list[Path]:
    """Directories of ``root`` named by ``pattern`` (with a ``timestamp`` group), oldest first.

    With ``kind``, only those whose ``kind_group`` matches it. A missing ``root`` holds none.
    """
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = pattern.match(child.name)
        if child.is_dir() and match and (kind is None or match[kind_group] == kind):
            found.append((match["timestamp"], child.name, child))
    return [child for *_, child in sorted(found)]
