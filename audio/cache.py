"""Log-mel features cached by content: a recording analysed once is never decoded again.

Key = SHA-256 of the recording's bytes + :meth:`MelConfig.spectrogram_fingerprint`. Why the bytes and
not the path: the same clip uploaded twice, or a work re-rendered to identical audio, hits the same
entry, and an edited file at the same path misses. Why the fingerprint: features of other settings
(or of another librosa minor version) must never be served for this config.

Layout: ``<LEITMOTIF_CACHE_DIR>/audio-features/<fingerprint>/<sha[:2]>/<sha>.npy`` plus a ``.json``
with what was learnt while decoding (duration, source format, truncation). Writes go to a temporary
file in the same directory and are renamed into place, so a crash or a concurrent writer never leaves
a half-written entry that a reader could load; an unreadable entry is treated as a miss and rewritten.
Only recordings that passed validation are stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from audio import features
from audio.features import AudioSource, MelConfig

CACHE_SUBDIR = "audio-features"


def feature_cache_dir() -> Path:
    return Path(settings.LEITMOTIF_CACHE_DIR) / CACHE_SUBDIR


@dataclass(frozen=True)
class CachedFeatures:
    """A full-clip log-mel spectrogram and what is known about its recording."""

    mel: np.ndarray
    info: dict[str, Any]
    #: True if served from the cache without decoding.
    hit: bool
    key: str


def _entry_paths(sha256: str, config: MelConfig) -> tuple[Path, Path]:
    folder = feature_cache_dir() / config.spectrogram_fingerprint() / sha256[:2]
    return folder / f"{sha256}.npy", folder / f"{sha256}.json"


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temporary file in the same directory and one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _read_entry(mel_path: Path, info_path: Path, config: MelConfig) -> tuple[np.ndarray, dict] | None:
    if not (mel_path.is_file() and info_path.is_file()):
        return None
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
        mel = np.load(mel_path, allow_pickle=False)
    except (OSError, ValueError, json.JSONDecodeError):
        return None
    if mel.ndim != 2 or mel.shape[0] != config.n_mels or mel.dtype != np.float32:
        return None
    return mel, info


def cached_features(
    source: AudioSource, config: MelConfig | None = None, *, name: str | None = None, allow_truncated: bool = True
) -> CachedFeatures:
    """The log-mel of ``source`` from the cache, or decoded, validated, computed and stored.

    A hit still re-checks the size limit (before hashing) and the duration limit (from the stored
    info), so lowering ``AUDIO_MAX_SECONDS`` is honoured for recordings analysed earlier.
    ``allow_truncated=False`` refuses a cut recording like :func:`~.features.load_audio` does, on a hit
    from the stored truncation notes: an upload is then validated and analysed with one decode.
    """
    config = config or MelConfig.default()
    data, display = features.read_source_bytes(source, name=name)
    sha256 = hashlib.sha256(data).hexdigest()
    mel_path, info_path = _entry_paths(sha256, config)
    key = f"{sha256}-{config.spectrogram_fingerprint()}"
    entry = _read_entry(mel_path, info_path, config)
    if entry is not None:
        mel, info = entry
        if info.get("duration_seconds", 0.0) > float(settings.AUDIO_MAX_SECONDS):
            raise features.duration_limit_error(display, info["duration_seconds"], float(settings.AUDIO_MAX_SECONDS))
        if info.get("truncated") and not allow_truncated:
            raise features.truncation_error(display, info.get("notes") or ())
        return CachedFeatures(mel=mel, info=info, hit=True, key=key)
    clip = features.load_audio(data, name=display, sample_rate=config.sample_rate, allow_truncated=allow_truncated)
    mel = features.log_mel(clip, config)
    info = {
        "sha256": sha256,
        "duration_seconds": round(clip.duration_seconds, 4),
        "source_format": clip.source_format,
        "source_sample_rate": clip.source_sample_rate,
        "source_channels": clip.source_channels,
        "size_bytes": clip.size_bytes,
        "truncated": clip.truncated,
        "notes": list(clip.notes),
        "frames": int(mel.shape[1]),
        "mel_config": config.to_dict(),
        "fingerprint": config.spectrogram_fingerprint(),
    }
    buffer = _npy_bytes(mel)
    atomic_write_bytes(mel_path, buffer)
    atomic_write_bytes(info_path, (json.dumps(info, sort_keys=True, indent=1) + "\n").encode("utf-8"))
    return CachedFeatures(mel=mel, info=info, hit=False, key=key)


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def cached_log_mel(source: AudioSource, config: MelConfig | None = None, *, name: str | None = None) -> np.ndarray:
    """Shape ``(n_mels, frames)`` float32; see :func:`cached_features`."""
    return cached_features(source, config, name=name).mel
