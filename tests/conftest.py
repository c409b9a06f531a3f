"""Shared fixtures: a graph store per backend, backed by a real Neo4j server for the neo4j half.

The Neo4j server is started once per test session by ``scripts/neo4j_local.py`` on a loopback port.
A session holds a lock on its port for its whole run: a second test session running at the same time
(another checkout, a helper) gets a free port and a server of its own instead of sharing, and
clearing, the first one's database. ``NEO4J_TEST_PORT`` pins the port (and then shares it knowingly).
Locally, if it cannot start, neo4j tests are skipped with the reason; with ``CI=true`` the whole run
fails instead, because CI must never silently skip the Neo4j half of the contract suite.

The admin fixtures (``admin_store``, ``curator``, ``curator_client``) are shared by the curator-admin and
review-queue tests, which drive the same admin site on both backends.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers.admin import PASSWORD
from tests.helpers.servers import claim_test_port, in_ci, load_launcher

#: Fixtures shared by the API tests of several packages (recommender, kg).
pytest_plugins = ["tests.helpers.api_fixtures"]

BACKENDS = ["sql", "neo4j"]


@pytest.fixture(autouse=True)
def _isolated_artifacts(settings, tmp_path_factory):
    """Every test gets its own artifacts and cache folders: a developer's published model must never leak into a test."""
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path_factory.mktemp("artifacts"))
    settings.LEITMOTIF_CACHE_DIR = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def neo4j_server():
    """Connection details of a running Neo4j (started here unless NEO4J_TEST_URI points at one)."""
    if os.environ.get("NEO4J_TEST_URI"):
        yield {
            "uri": os.environ["NEO4J_TEST_URI"],
            "user": os.environ.get("NEO4J_TEST_USER", "neo4j"),
            "password": os.environ.get("NEO4J_TEST_PASSWORD", ""),
        }
        return
    launcher = load_launcher("neo4j_local")
    # NEO4J_TEST_PORT pins the port: a session holding it is shared, as asked
    port, lock = claim_test_port(launcher, lock_prefix="neo4j-test", share_if_taken="NEO4J_TEST_PORT" in os.environ)
    try:
        try:
            state = launcher.start(port=port)
        except Exception as exc:
            message = f"Neo4j test server could not start: {exc}"
            if in_ci():
                pytest.exit(f"CI=true and {message}. The Neo4j half of the suite must run in CI.", returncode=3)
            pytest.skip(message)
        yield state
        if port != launcher.DEFAULT_PORT:  # a one-off server for a concurrent session: leave nothing behind
            launcher.stop(port=port)
            shutil.rmtree(launcher.run_dir(port), ignore_errors=True)
            Path(lock.name).unlink(missing_ok=True)
        elif os.environ.get("NEO4J_KEEP_RUNNING", "") == "":
            launcher.stop(port=port)
    finally:
        lock.close()


@pytest.fixture
def neo4j_store(neo4j_server):
    from kg.stores.neo4j import Neo4jGraphStore

    store = Neo4jGraphStore(
        uri=neo4j_server["uri"], user=neo4j_server["user"], password=neo4j_server["password"], database="neo4j"
    )
    store.clear()
    yield store
    store.clear()
    store.close()


@pytest.fixture
def sql_store(db):
    from kg.stores.sql import SqlGraphStore

    return SqlGraphStore()


@pytest.fixture(
    params=[
        # django_db on the sql param: pytest-django creates the test database from collection-time marks,
        # so without it a run of only the contract suite would touch the development database.
        pytest.param("sql", id="sql", marks=pytest.mark.django_db),
        pytest.param("neo4j", id="neo4j", marks=pytest.mark.neo4j),
    ]
)
def graph_store(request):
    """The same test runs once per backend: this is how the contract suite holds both to one behaviour."""
    return request.getfixturevalue(f"{request.param}_store")


# --- the admin: its store follows the test's backend; curators log in ---------------------------------------


@pytest.fixture
def fast_password_hashing(settings):
    """MD5 instead of the real (deliberately slow) hasher, for modules that make users in most tests.

    Not autouse: a module opts in with ``pytestmark = pytest.mark.usefixtures("fast_password_hashing")``.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_store(graph_store, settings, request, db):
    """``graph_store``, with the admin's settings pointing at the same backend.

    The admin builds its store from settings (``KG_BACKEND``, ``NEO4J_*``) on every request, so this is what
    lets a test read back, on ``sql`` and on Neo4j, what the admin just wrote.
    """
    from kg.stores.neo4j import Neo4jGraphStore

    if isinstance(graph_store, Neo4jGraphStore):
        server = request.getfixturevalue("neo4j_server")
        settings.KG_BACKEND = "neo4j"
        settings.NEO4J_URI = server["uri"]
        settings.NEO4J_USER = server["user"]
        settings.NEO4J_PASSWORD = server["password"]
        settings.NEO4J_DATABASE = "neo4j"
    else:
        settings.KG_BACKEND = "sql"
    return graph_store


@pytest.fixture
def curator(db):
    """A staff user in the curators group: allowed to change the graph and decide extracted facts."""
    from django.contrib.auth import get_user_model

    from accounts.services import curator_group_ensure

    user = get_user_model().objects.create_user("curator", password=PASSWORD, is_staff=True)
    user.groups.add(curator_group_ensure())
    return user


@pytest.fixture
def curator_client(client, curator):
    client.force_login(curator)
    return client


def pytest_terminal_summary(terminalreporter):
    """Print per-backend counts so the output shows the contract suite ran against both stores."""
    counts: dict[str, Counter] = {b: Counter() for b in BACKENDS}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if "test_store_contract" not in nodeid:
                continue
            if outcome == "passed" and getattr(report, "when", "call") != "call":
                continue
            for backend in BACKENDS:
                if nodeid.endswith(f"[{backend}]") or f"[{backend}-" in nodeid or f"-{backend}]" in nodeid:
                    counts[backend][outcome] += 1
    if any(counts.values()):
        terminalreporter.write_sep("-", "knowledge-graph store contract suite")
        for backend in BACKENDS:
            c = counts[backend]
            terminalreporter.write_line(
                f"backend {backend:6s}: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped, {c['error']} errors"
            )
