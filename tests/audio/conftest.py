"""Fixtures shared by the audio API tests (synchronous and queued): a tiny trained audio encoder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from audio.cache import cached_log_mel
from tests.helpers.audio_encoder import TRUMPET, saved_tiny_encoder


@pytest.fixture(scope="module")
def trained_encoder(tmp_path_factory) -> Path:
    """A tiny encoder trained once per module on the shared trumpet clip (its log-mel cached by the first test)."""
    mel = cached_log_mel(TRUMPET)
    return saved_tiny_encoder(mel, tmp_path_factory.mktemp("encoder") / "audio")


@pytest.fixture
def encoder(trained_encoder, settings) -> Path:
    """That encoder copied into this test's artifacts directory, where the API looks for it."""
    target = Path(settings.LEITMOTIF_ARTIFACTS_DIR) / "audio" / trained_encoder.name
    shutil.copytree(trained_encoder, target)
    return target
