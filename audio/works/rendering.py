"""The two caches of the load and the rendering itself, under ``<LEITMOTIF_CACHE_DIR>/works/``.

* What was read from a score is cached in ``works/analysis/`` keyed by the score bytes, its number and
  the analysis version (:func:`analysis_key`), so a re-run parses nothing and a better analysis
  re-reads the scores without re-rendering them.
* A render is named by a hash of everything that determines it (:func:`render_key`: score bytes,
  number, seconds, sample rate, programs, FluidSynth version and SoundFont, music21 version), with a
  JSON sidecar written after the audio, so both present means the render completed and a re-run
  renders nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings

from audio import render as audio_render
from audio.cache import atomic_write_bytes
from audio.works.corpus import WorkRef
from audio.works.facts import SkipWork, WorkFacts
from catalog.models import Work
from core.errors import AudioRenderError

WORKS_SUBDIR = "works"


def works_cache_dir() -> Path:
    return Path(settings.LEITMOTIF_CACHE_DIR) / WORKS_SUBDIR


def _digest(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# --- the analysis cache ----------------------------------------------------------------------------


def analysis_key(ref: WorkRef, score_sha256: str, *, version: int) -> str:
    """What the facts of a score depend on: its bytes, its number and stratum, the analysis ``version``, music21.

    Why the version is passed in: the load reads :data:`~audio.works.analysis.ANALYSIS_VERSION` where it
    runs (:func:`audio.works.prepare_work`), so the version that names the cache is the one it analyses with.
    """
    import music21

    return _digest(
        {
            "score": score_sha256,
            "number": ref.number,
            "stratum": ref.stratum,
            "analysis": version,
            "music21": music21.__version__,
        }
    )


def analysis_path(key: str) -> Path:
    return works_cache_dir() / "analysis" / f"{key}.json"


def load_cached_facts(path: Path) -> WorkFacts | None:
    if not path.is_file():
        return None
    try:
        return WorkFacts.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable entries are analysed again and overwritten


def save_cached_facts(path: Path, facts: WorkFacts) -> None:
    atomic_write_bytes(
        path,
        (json.dumps(facts.to_json(), sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode("utf-8"),
    )


# --- the render cache ------------------------------------------------------------------------------


def render_key(
    ref: WorkRef,
    score_sha256: str,
    facts: WorkFacts,
    *,
    seconds: float,
    sample_rate: int,
    renderer: audio_render.Renderer,
) -> str:
    """Everything the audio depends on: the score, its number, the programs, the length, the synthesiser.

    Not the analysis version: reading a title better must not re-render the catalogue.
    """
    import music21

    return _digest(
        {
            "score": score_sha256,
            "number": ref.number,
            "seconds": seconds,
            "sample_rate": sample_rate,
            "render": audio_render.RENDER_VERSION,
            "programs": [part.program for part in facts.parts],
            "synth": renderer.identity,
            "music21": music21.__version__,
        }
    )


def render_path(facts: WorkFacts, key: str) -> Path:
    """Where a render lives, relative to ``LEITMOTIF_CACHE_DIR`` (what ``catalog.Work.audio_path`` holds)."""
    return Path(WORKS_SUBDIR) / f"{facts.slug}-{key[:16]}.flac"


def load_render_sidecar(audio: Path, sidecar: Path) -> dict | None:
    """The recorded result of an earlier render, if its audio is still there and unchanged in size."""
    if not (audio.is_file() and sidecar.is_file()):
        return None
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        if (
            not {"sha256", "duration_seconds", "repeats", "bytes"} <= set(record)
            or audio.stat().st_size != record["bytes"]
        ):
            return None
    except (OSError, ValueError):
        return None
    return record


def render_work(
    score: Any,
    facts: WorkFacts,
    *,
    out_path: Path,
    sidecar: Path,
    seconds: float,
    sample_rate: int,
    renderer: audio_render.Renderer,
) -> dict[str, Any]:
    """Render the first ``seconds`` of ``score`` to ``out_path`` and record the result in ``sidecar``.

    Returns the sidecar record (``sha256``, ``duration_seconds``, ``repeats``, ``bytes``). A render that
    fails is :class:`SkipWork` with the synthesiser's reason. The sidecar is written after the audio, so
    both present means the render completed.
    """
    try:
        result = audio_render.render_score(
            score,
            programs=[part.program for part in facts.parts],
            renderer=renderer,
            out_path=out_path,
            seconds=seconds,
            sample_rate=sample_rate,
        )
    except AudioRenderError as exc:
        raise SkipWork(exc.message) from None
    record = {
        "sha256": result.sha256,
        "duration_seconds": round(result.duration_seconds, 4),
        "repeats": result.repeats,
        "bytes": out_path.stat().st_size,
    }
    atomic_write_bytes(sidecar, (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))
    return record


def prune_rendered_audio() -> int:
    """Delete rendered works (and their sidecars) under ``<cache>/works/`` that no ``Work`` row refers to.

    Why only on request: a render with other ``--seconds`` is still a valid cache entry for the next run
    with those settings; pruning is for reclaiming space after render versions changed.
    """
    folder = works_cache_dir()
    if not folder.is_dir():
        return 0
    referenced = {Path(path).name for path in Work.objects.values_list("audio_path", flat=True)}
    removed = 0
    for audio in folder.glob("*.flac"):
        if audio.name not in referenced:
            audio.unlink(missing_ok=True)
            audio.with_suffix(".json").unlink(missing_ok=True)
            removed += 1
    return removed
