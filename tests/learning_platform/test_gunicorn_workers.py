"""The atomic model swap across real gunicorn workers: ``docker/gunicorn.conf.py``, two sync workers, one pointer.

Each worker is its own process with its own caches (the published model, the graph index and facts built
per model, the model's artist rows), so a publication must reach every one of them by itself. The test
starts the production configuration on a loopback port against the test's own database (PostgreSQL: the
test database itself, the data committed by ``transaction=True``; SQLite: a file copy of the in-memory test
database, which another process cannot open), serves a tiny model, publishes a second one while clients
keep asking, and checks that

* every request during the swap answers 200 (none waits for, or fails on, the load);
* within a bounded time every worker (told apart by ``X-Leitmotif-Worker``) answers with the new model
  (``X-Leitmotif-Model-Version``) and never goes back to the old one;
* what each worker then answers is exactly what a fresh process on the new model answers (same artists,
  same scores): nothing it cached for the old model leaks into the new model's answers.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.helpers.recommender_api import api_learner_create, token_client
from tests.helpers.recommender_data import TINY, two_taste_groups
from tests.helpers.servers import REPO, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("api_settings")]

MODEL_HEADER = "x-leitmotif-model-version"
WORKER_HEADER = "x-leitmotif-worker"
RECOMMENDATIONS = "/api/v1/me/recommendations/?k=5"
#: Seconds the server may take to boot both workers (about 10 s on an idle 2-core machine; each worker imports
#: Django and torch, so a machine busy with other work needs far longer), and every worker to move to the new model.
BOOT_SECONDS = 120.0
SWAP_SECONDS = 20.0


@pytest.fixture
def two_models(catalog, sql_store, settings) -> dict:
    """The recommender API tests' two taste groups, and two tiny models trained on them (different seeds)."""
    from rest_framework.authtoken.models import Token

    from recommender.models.config import JointConfig
    from recommender.serving.model_holder import model_holder, model_publish
    from recommender.serving.selectors import snapshot_forget
    from recommender.training import recommender_train

    artists, _, dataset, content = two_taste_groups(catalog, sql_store)
    quick = {**TINY, "epochs": 3, "patience": 3}  # two models that disagree is all the test needs
    paths = [
        recommender_train(dataset=dataset, config=JointConfig(**quick), seed=seed, content_embeddings=content).path
        for seed in (0, 1)
    ]
    assert paths[0].name != paths[1].name
    model_publish(paths[0])
    model_holder().reset()
    snapshot_forget()
    learner = api_learner_create("alice")  # a learner who likes one blues artist, before the server copies the data
    in_process = token_client(learner)
    like = {"kind": "like", "artist": next(a for a in artists if a.name == "Alpha Blues").pk}
    assert in_process.post("/api/v1/me/interactions/", like, format="json").status_code == 201
    yield {"paths": paths, "client": in_process, "token": Token.objects.get(user=learner).key}
    model_holder().reset()
    snapshot_forget()


def _database_url(tmp_path: Path) -> str:
    """A ``DATABASE_URL`` another process can open with the test's data in it."""
    from django.db import connection

    connection.ensure_connection()
    if connection.vendor == "sqlite":
        target = tmp_path / "served.sqlite3"
        with sqlite3.connect(target) as copy:
            connection.connection.backup(copy)
        copy.close()
        return f"sqlite:///{target}"
    assert connection.vendor == "postgresql", connection.vendor
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="") + (":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"


@pytest.fixture
def gunicorn(two_models, settings, tmp_path) -> Iterator[dict]:
    """``docker/gunicorn.conf.py`` with two workers on a free loopback port, on the test's database and artifacts."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(tmp_path),
        "DATABASE_CONN_MAX_AGE": "0",
        "LEITMOTIF_ARTIFACTS_DIR": str(settings.LEITMOTIF_ARTIFACTS_DIR),
        "LEITMOTIF_CACHE_DIR": str(settings.LEITMOTIF_CACHE_DIR),
        "KG_BACKEND": "sql",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "GUNICORN_WORKER_HEADER": "true",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "gunicorn.log"
    command = [
        *[sys.executable, "-m", "gunicorn", "learning_platform.wsgi:application"],
        *["--config", str(REPO / "docker" / "gunicorn.conf.py")],
        *["--bind", f"127.0.0.1:{port}", "--workers", "2", "--timeout", "60", "--log-level", "info"],
    ]
    with open(log, "wb") as output:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + BOOT_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-4000:]}")
            try:
                if _get(port, "/api/v1/health/")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer within {BOOT_SECONDS:.0f} s:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
        yield {"port": port, "log": log}
    finally:
        server.send_signal(signal.SIGINT)  # quick shutdown: every request the test made has been answered
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _get(port: int, path: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection (``Connection: close``), so the next may land on another worker."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Connection": "close"}
        if token:
            headers["Authorization"] = f"Token {token}"
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _ranking(body: dict) -> tuple[list[str], list[float]]:
    """The recommended entity ids in order, and their scores."""
    return [r["entity_id"] for r in body["results"]], [float(r["score"]) for r in body["results"]]


def _same_ranking(got: tuple[list[str], list[float]], expected: tuple[list[str], list[float]]) -> bool:
    return got[0] == expected[0] and got[1] == pytest.approx(expected[1], rel=1e-4, abs=1e-6)


def test_every_worker_moves_to_a_newly_published_model_without_a_failed_request(two_models, gunicorn):
    from recommender.serving.model_holder import model_holder, model_publish

    old, new = (path.name for path in two_models["paths"])
    port, token, in_process = gunicorn["port"], two_models["token"], two_models["client"]
    expected_old = _ranking(in_process.get(RECOMMENDATIONS).json())

    responses: list[tuple[float, int, str, str, bytes]] = []  # (time, status, worker pid, model, body)
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                status, headers, body = _get(port, RECOMMENDATIONS, token)
            except OSError as exc:  # a refused or reset connection is a failed request too
                status, headers, body = 0, {}, repr(exc).encode()
            with lock:
                responses.append(
                    (time.monotonic(), status, headers.get(WORKER_HEADER, ""), headers.get(MODEL_HEADER, ""), body)
                )

    def latest_by_worker() -> dict[str, tuple[str, bytes]]:
        with lock:
            return {pid: (model, body) for _, status, pid, model, body in responses if status == 200 and pid}

    clients = [threading.Thread(target=client, daemon=True) for _ in range(3)]
    for thread in clients:
        thread.start()
    try:
        deadline = time.monotonic() + BOOT_SECONDS
        while len(latest_by_worker()) < 2:  # both workers have answered (on the first model)
            assert time.monotonic() < deadline, (
                f"only workers {sorted(latest_by_worker())} answered: {gunicorn['log'].read_text()[-3000:]}"
            )
            time.sleep(0.1)
        workers = set(latest_by_worker())
        assert {model for model, _ in latest_by_worker().values()} == {old}
        for _, body in latest_by_worker().values():
            assert _same_ranking(_ranking(json.loads(body)), expected_old)

        model_publish(two_models["paths"][1])
        published_at = time.monotonic()
        deadline = published_at + SWAP_SECONDS
        while True:
            latest = latest_by_worker()
            if all(latest.get(pid, ("", b""))[0] == new for pid in workers):
                break
            assert time.monotonic() < deadline, f"not every worker serves {new} after {SWAP_SECONDS:.0f} s: {latest}"
            time.sleep(0.1)
        swapped_after = time.monotonic() - published_at
        time.sleep(0.5)  # a few more answers from the new model on every worker
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=30)

    failed = [(status, body[:300]) for _, status, _, _, body in responses if status != 200]
    assert not failed, f"{len(failed)} of {len(responses)} requests failed during the swap: {failed[:3]}"
    assert all(model in {old, new} for _, _, _, model, _ in responses)
    for pid in workers:  # once a worker answers with the new model it never goes back to the old one
        models = [model for _, _, worker, model, _ in responses if worker == pid]
        assert models[models.index(new) :] == [new] * (len(models) - models.index(new)), (pid, models)
    assert swapped_after < SWAP_SECONDS

    # A fresh process on the new model (this one, reloaded) answers exactly what every worker answers now.
    model_holder().reset()
    expected_new = _ranking(in_process.get(RECOMMENDATIONS).json())
    assert not _same_ranking(expected_new, expected_old)  # the models disagree, so the comparison means something
    for pid, (model, body) in latest_by_worker().items():
        assert model == new
        assert _same_ranking(_ranking(json.loads(body)), expected_new), (pid, _ranking(json.loads(body)), expected_new)


# --- what each worker's holder must get right by itself (no server needed) -------------------------------


def test_a_pointer_rewritten_in_place_with_the_same_size_and_time_is_still_noticed(two_models, settings):
    """Inode, size and mtime can all repeat (an inode number reused within the timestamp granularity): the content decides."""
    from recommender.serving.model_holder import model_holder, published_pointer_path

    holder = model_holder()
    old, new = two_models["paths"]
    assert holder.current().name == old.name
    pointer = published_pointer_path()
    before = pointer.stat()
    assert len(old.name) == len(new.name)  # timestamped names: the same size
    with open(pointer, "r+", encoding="utf-8") as handle:  # same inode
        handle.write(new.name + "\n")
    os.utime(pointer, ns=(before.st_atime_ns, before.st_mtime_ns))  # same mtime
    after = pointer.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    assert holder.current().name == new.name


def test_an_unexpected_load_failure_keeps_the_old_model_serving_and_is_retried(two_models, monkeypatch):
    """A database hiccup while warming the new model must not fail the request that noticed it, nor stick."""
    from recommender.serving import model_holder as module
    from recommender.serving.model_holder import model_holder, model_publish

    holder = model_holder()
    clock = [1000.0]
    monkeypatch.setattr(holder, "_clock", lambda: clock[0])
    old, new = two_models["paths"]
    assert holder.current().name == old.name
    real_build = module.serving_model_build
    calls = []

    def flaky_build(path):
        calls.append(path)
        if len(calls) == 1:
            raise ConnectionError("the database went away")
        return real_build(path)

    monkeypatch.setattr(module, "serving_model_build", flaky_build)
    model_publish(new)
    assert holder.current().name == old.name  # the failure is logged, the old model answers
    assert holder.current().name == old.name and len(calls) == 1  # not retried on every request
    clock[0] += module.RETRY_SECONDS + 1
    assert holder.current().name == new.name and len(calls) == 2
