"""Fixtures of the knowledge-graph API tests (``test_api``): the tiny API catalog with its graph in the sql
store of the test database, and a learner's token client on it.

``api_settings`` is not autouse, so that it does not reach every graph test: a module opts in with
``pytestmark = pytest.mark.usefixtures("api_settings")``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.helpers.api_catalog import api_catalog_create
from tests.helpers.recommender_api import api_learner_create, token_client


@pytest.fixture
def api_settings(settings):
    """The sql store of the test database, fresh throttle counters, and a fast password hasher for test users."""
    settings.KG_BACKEND = "sql"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def catalog(sql_store) -> dict[str, Any]:
    """Five artists, three tags, two courses, two Last.FM listeners; the same in the graph."""
    return api_catalog_create(sql_store)


@pytest.fixture
def alice(catalog):
    return api_learner_create("alice")


@pytest.fixture
def as_alice(alice) -> APIClient:
    return token_client(alice)
