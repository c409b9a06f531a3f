"""Fixtures of the REST API tests (recommender and graph endpoints), loaded for the whole suite by
``pytest_plugins`` in ``tests/conftest.py``: a tiny catalog (five artists, three tags, two courses) with its
graph in the sql store of the test database, and learner and staff accounts on it.

``api_settings`` is not autouse, so that it does not reach every test: a module opts in with
``pytestmark = pytest.mark.usefixtures("api_settings")``. A module that defines a fixture of the same name
(e.g. its own ``catalog``) uses its own.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.helpers.api_catalog import api_catalog_create
from tests.helpers.recommender_api import PASSWORD, api_learner_create, token_client


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
def bob(catalog):
    return api_learner_create("bob")


@pytest.fixture
def staff(catalog):
    return get_user_model().objects.create_user(username="staffer", password=PASSWORD, is_staff=True)


@pytest.fixture
def as_alice(alice) -> APIClient:
    return token_client(alice)
