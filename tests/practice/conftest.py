"""Fixtures of the practice tests: a monophonic folk tune as a catalogue work, and performances of it with
known mistakes, rendered once per session with the real FluidSynth (see practice.variants)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio import render as audio_render

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not Path(audio_render.DEFAULT_SOUNDFONT).is_file(),
    reason="FluidSynth and FluidR3_GM are needed (scripts/install_system_deps.sh)",
)

TUNE = {"corpus_path": "essenFolksong/altdeu10.abc", "corpus_number": 1}
OTHER = {"corpus_path": "bach/bwv1.6.mxl", "corpus_number": None}
SECONDS = 30.0
RATE = 22050


def make_work(spec: dict, slug: str):
    from catalog.models import Work

    return Work.objects.create(
        slug=slug,
        title=f"Test tune {slug}",
        corpus_path=spec["corpus_path"],
        corpus_number=spec["corpus_number"],
        duration_seconds=SECONDS,
        voices=["Melody"],
        instrumentation=["violin"],
        entity_id=f"leitmotif:work:{slug}",
    )


def wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def performances(tmp_path_factory) -> dict:
    """Samples of the tune played cleanly, with D5 -> C#5 in bar 3, with bars 5-7 rushed, and another piece."""
    from catalog.models import Work
    from practice import variants
    from practice.reference import score_excerpt, work_score

    folder = tmp_path_factory.mktemp("performances")
    tune = Work(corpus_path=TUNE["corpus_path"], corpus_number=TUNE["corpus_number"])
    excerpt = score_excerpt(work_score(tune), seconds=SECONDS)
    wrong, written, played = variants.with_wrong_pitch(excerpt, bar=3, semitones=-1)
    other = score_excerpt(work_score(Work(corpus_path=OTHER["corpus_path"], corpus_number=None)), seconds=SECONDS)

    def render(score, name: str) -> np.ndarray:
        return variants.render_variant(score, seconds=SECONDS, out_path=folder / f"{name}.flac", sample_rate=RATE)

    return {
        "clean": render(excerpt, "clean"),
        "wrong": render(wrong, "wrong"),
        "wrong_notes": (written, played),
        "rushed": render(variants.with_tempo(excerpt, first_bar=5, last_bar=7, factor=1.2), "rushed"),
        "other_piece": render(other, "other"),
    }
