"""Property-based API tests: schemathesis generates requests from the OpenAPI schema for every operation.

Bounded and seeded so it fits CI: ``FUZZ_EXAMPLES`` examples per operation (about 30 operations; valid
and deliberately invalid requests mixed), each sent as a learner, as a read-only API client and anonymously, with Hypothesis
derandomised. Two properties must hold for every generated request, as any of those callers: no server error (5xx other than the documented 503 "no model published"), and no
status the schema does not document for that operation.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, status_code_conformance

from api.services import api_client_create
from tests.helpers.learner_world import PASSWORD, build_world, train_and_publish

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance]


@pytest.fixture
def api_schema(db, settings):
    # No throttling here: hundreds of requests in a few seconds are the point of the test.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
    from learning_platform.wsgi import application

    # Requests go through the real WSGI application, whose request signals close "old" connections;
    # Django's test client switches that off around each request, and so must this test, or on
    # PostgreSQL the test transaction's own connection is closed under it.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/", application)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def learner_token(sql_store, settings, tmp_path) -> str:
    """A learner's token in a small real world (catalog + graph) with a tiny model published."""
    from recommender.serving.model_holder import model_holder
    from recommender.serving.selectors import snapshot_forget

    settings.KG_BACKEND = "sql"
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path / "artifacts")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    snapshot_forget()
    world = build_world(sql_store, listeners_per_group=3)
    train_and_publish(world, sql_store, settings.LEITMOTIF_ARTIFACTS_DIR + "/recommender")
    user = get_user_model().objects.create_user("fuzz-learner", password=PASSWORD)
    yield Token.objects.create(user=user).key
    model_holder().reset()
    snapshot_forget()
    cache.clear()


def test_no_server_error_and_no_undocumented_status(api_schema, learner_token):
    readonly_token = api_client_create(name="fuzz-reporting", read_only=True).token
    """Every operation, fuzzed from its schema (schemathesis' pytest plugin is driven by hand here)."""
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @hypothesis_settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
            )
        )
        def fuzz(case) -> None:
            for token in (learner_token, readonly_token, None):
                headers = {"Authorization": f"Token {token}"} if token else None
                case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            fuzz()
        except Exception as failure:  # collect every failing operation, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(failure)[:1500]}")
    assert operations >= 25
    assert not failures, "\n\n".join(failures)
