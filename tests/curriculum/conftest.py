"""Fixtures every curriculum test shares: fresh caches around each test, and the hand-made curriculum world."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from curriculum.graph import curriculum_cache_clear
from tests.helpers.curriculum_world import CurriculumWorld, build_curriculum_world


@pytest.fixture(autouse=True)
def _fresh_curriculum_state(settings):
    """A fast password hasher; the cache (throttling counts) and the curriculum graph cache emptied before and after."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    curriculum_cache_clear()
    yield
    cache.clear()
    curriculum_cache_clear()


@pytest.fixture
def world(sql_store, settings, tmp_path) -> CurriculumWorld:
    """:func:`~tests.helpers.curriculum_world.build_curriculum_world` on the sql store, with no published model
    (so music is ranked by popularity)."""
    settings.KG_BACKEND = "sql"
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path / "artifacts")
    return build_curriculum_world(sql_store)
