"""A real Redis broker and a real Celery worker, for every test that needs the task queue.

The broker is started once per test session by ``scripts/redis_local.py`` on a loopback port, with the same
port discipline as the Neo4j fixture: ``REDIS_TEST_PORT`` (default 16379) if no other session holds its
lock, else a free port of its own. Locally, a Redis that cannot start skips these tests with the reason;
with ``CI=true`` the run fails instead, because CI must exercise the real queue.

``celery_worker`` points the project's Celery app at that broker for one test (eager mode off, as in
production with ``CELERY_BROKER_URL`` set), starts a real worker consuming the project's queue in a thread
of the test process (so it shares the test database), and puts everything back afterwards.

Use: ``from tests.helpers.task_queue import celery_worker, redis_broker, wait_for  # noqa: F401`` in a
``conftest.py`` (the task-queue tests) or a test module (the queued audio upload).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers.servers import claim_test_port, in_ci, load_launcher


@pytest.fixture(scope="session")
def redis_broker() -> Iterator[dict]:
    """Details (``url``, ``port``) of a running private Redis, stopped at the end of the session."""
    launcher = load_launcher("redis_local")
    port, lock = claim_test_port(launcher, lock_prefix="redis-test")
    try:
        try:
            state = launcher.start(port=port)
        except Exception as exc:
            message = f"the Redis broker could not start: {str(exc).rstrip('.')}"
            if in_ci():
                pytest.exit(f"CI=true and {message}. The task-queue tests must run in CI.", returncode=3)
            pytest.skip(message)
        yield state
        if not state["already_running"]:
            launcher.stop(port=port)
            if port != launcher.DEFAULT_PORT:
                shutil.rmtree(launcher.run_dir(port), ignore_errors=True)
    finally:
        lock.close()


@pytest.fixture
def celery_worker(redis_broker, settings) -> Iterator[Any]:
    """The project's Celery app on the test broker, with a real worker thread consuming its queue."""
    from celery.contrib.testing import tasks as _ping_task  # noqa: F401 - registers celery.ping, which start_worker needs
    from celery.contrib.testing.worker import start_worker

    from learning_platform.celery import app

    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    settings.CELERY_BROKER_URL = redis_broker["url"]
    app.conf.update(broker_url=redis_broker["url"], task_always_eager=False)
    app.loader.import_default_modules()
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(app.conf.task_default_queue)
    try:
        with start_worker(
            app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30
        ) as worker:
            yield worker
    finally:
        app.conf.update(saved)  # the connection pools stay open on the session's broker; nothing else uses them


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    """Poll ``predicate`` until it returns something truthy (returned), failing after ``timeout`` seconds.

    The test database on SQLite is an in-memory, shared-cache database: while the worker thread writes a
    table, another connection's statement on it fails at once with "database table is locked" instead of
    waiting (a file database, and PostgreSQL, wait). Such a poll counts as "not yet".
    """
    from django.db import OperationalError

    def wait(predicate: Callable[[], Any], *, timeout: float = 60.0, what: str = "the condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = predicate()
            except OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.1)

    return wait
