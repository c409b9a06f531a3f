"""Latency and throughput of the REST API under concurrent load, on a real gunicorn server.

What it measures: ``GET /api/v1/me/recommendations/?k=10`` (ten artists, each with its explanation)
against the trivial ``GET /api/v1/health/`` on the *same* server under the *same* load: N client
threads on loopback, each with its own ``http.client`` connection, sending requests back to back.
The two endpoints run in alternating rounds so a change in machine load hits both alike. Reported per
endpoint: p50/p90/p99 latency (ms), requests/s, error count (anything but HTTP 200 is an error), and
the ratios recommendations/health of p50 and p99.

Set-up, so the development data is used but never changed:

* the development database (``var/db.sqlite3``, Last.FM loaded) is copied with SQLite's backup API
  into a temporary directory, and the server runs on the copy;
* on the copy, a real Last.FM listener (a seeded pick among listeners with a typical history length)
  is given a user account and a token: ``/me/recommendations/`` then serves a warm listener with a
  real history, the common case;
* the published recommender (``artifacts/recommender/PUBLISHED``) is served as is; without one the
  script stops and says to run ``train_recommender`` and ``publish_model``;
* gunicorn: 2 sync workers on 127.0.0.1, ``DJANGO_DEBUG=false``, one torch/BLAS thread per worker
  (2 cores), throttling raised out of the way (``API_THROTTLE_USER``) — throttling is tested elsewhere.

    .venv/bin/python benchmarks/api_latency.py [--clients 4] [--requests 40] [--rounds 3] [--port 8765]

Writes benchmarks/results/api_latency.json (api_latency_<N>_workers.json for another --workers).
The server uses the production gunicorn settings, ``docker/gunicorn.conf.py``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks._common import percentile, save_result  # noqa: E402

RECOMMENDATIONS = "/api/v1/me/recommendations/?k=10"
HEALTH = "/api/v1/health/"


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included), without locking writers out for long."""
    if not source.exists():
        sys.exit(f"{source} does not exist: run `make migrate load` (or `python manage.py load_lastfm`) first.")
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def prepare(db_path: Path, seed: int) -> dict:
    """On the copy: migrate, give a typical Last.FM listener a login and a token; check a model is published."""
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
    import django

    django.setup()
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db.models import Count
    from rest_framework.authtoken.models import Token

    from catalog.models import Listener
    from recommender.serving.model_holder import published_artifact

    call_command("migrate", verbosity=0, interactive=False)
    artifact = published_artifact()
    if artifact is None:
        sys.exit(
            "No recommender model is published: run `python manage.py train_recommender` and then `python manage.py publish_model`."
        )
    listeners = list(
        Listener.objects.filter(lastfm_id__isnull=False, user__isnull=True)
        .annotate(n=Count("listens"))
        .filter(n__gt=0)
        .order_by("pk")
        .values_list("pk", "n")
    )
    if not listeners:
        sys.exit("The development database has no Last.FM listeners: run `python manage.py load_lastfm` first.")
    counts = np.asarray([n for _, n in listeners])
    typical = [pk for pk, n in listeners if abs(n - np.median(counts)) <= 2] or [listeners[0][0]]
    listener_pk = int(np.random.default_rng(seed).choice(typical))
    user = get_user_model().objects.create_user(username=f"bench-{secrets.token_hex(4)}")
    user.set_unusable_password()
    user.save()
    listener = Listener.objects.get(pk=listener_pk)
    listener.user = user
    listener.save(update_fields=["user"])
    token = Token.objects.create(user=user)
    from django.db import connections

    connections.close_all()
    return {
        "token": token.key,
        "listener_id": listener_pk,
        "history_artists": int(dict(listeners)[listener_pk]),
        "artifact": artifact.name,
    }


def start_server(db_path: Path, port: int, workers: int, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "DJANGO_SETTINGS_MODULE": "learning_platform.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "API_THROTTLE_USER": "10000000/minute",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "LOG_LEVEL": "ERROR",
    }
    gunicorn = REPO / ".venv" / "bin" / "gunicorn"
    command = [
        str(gunicorn) if gunicorn.exists() else "gunicorn",
        "learning_platform.wsgi:application",
        "--config",
        str(REPO / "docker" / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--timeout",
        "120",
        "--log-level",
        "warning",
    ]
    log = open(log_path, "w")
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def request(conn: http.client.HTTPConnection, path: str, token: str | None) -> tuple[int, bytes]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def wait_until_up(port: int, server: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with code {server.returncode}; see its log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            status, _ = request(conn, HEALTH, None)
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server did not answer on 127.0.0.1:{port} within {timeout:.0f}s")


def load_phase(port: int, path: str, token: str | None, *, clients: int, per_client: int) -> dict:
    """``clients`` threads each send ``per_client`` requests back to back; latencies in ms."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[list[str]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        for _ in range(per_client):
            started = time.perf_counter()
            try:
                status, body = request(conn, path, token)
            except (OSError, http.client.HTTPException) as exc:
                errors[i].append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                continue
            elapsed = (time.perf_counter() - started) * 1000.0
            if status != 200:
                errors[i].append(f"HTTP {status}: {body[:200]!r}")
            else:
                latencies[i].append(elapsed)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "latencies": [x for per in latencies for x in per],
        "errors": [e for per in errors for e in per],
        "wall_seconds": wall,
        "requests": clients * per_client,
    }


def summarise(phases: list[dict]) -> dict:
    latencies = [x for p in phases for x in p["latencies"]]
    errors = [e for p in phases for e in p["errors"]]
    wall = sum(p["wall_seconds"] for p in phases)
    requests = sum(p["requests"] for p in phases)
    return {
        "requests": requests,
        "ok": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:5],
        "p50_ms": percentile(latencies, 50, digits=2),
        "p90_ms": percentile(latencies, 90, digits=2),
        "p99_ms": percentile(latencies, 99, digits=2),
        "mean_ms": round(sum(latencies) / len(latencies), 2) if latencies else None,
        "requests_per_second": round(requests / wall, 1) if wall else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--requests", type=int, default=40, help="requests per client per round and endpoint")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (health, recommendations)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--database", type=Path, default=REPO / "var" / "db.sqlite3", help="database to copy (never modified)"
    )
    args = parser.parse_args()
    for name in ("clients", "requests", "rounds", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")

    scratch = Path(tempfile.mkdtemp(prefix="leitmotif-api-bench-"))
    db_path = scratch / "db.sqlite3"
    copy_database(args.database, db_path)
    setup = prepare(db_path, args.seed)
    print(
        f"serving listener {setup['listener_id']} ({setup['history_artists']} artists) with model {setup['artifact']}"
    )
    server = start_server(db_path, args.port, args.workers, scratch / "gunicorn.log")
    try:
        wait_until_up(args.port, server)
        # warm-up: every worker loads the model, the graph snapshot and its caches before timing
        warm = load_phase(args.port, RECOMMENDATIONS, setup["token"], clients=args.workers * 2, per_client=3)
        if warm["errors"]:
            raise RuntimeError(f"warm-up failed: {warm['errors'][:3]}")
        load_phase(args.port, HEALTH, None, clients=args.clients, per_client=5)
        health, recs = [], []
        for round_no in range(args.rounds):
            health.append(load_phase(args.port, HEALTH, None, clients=args.clients, per_client=args.requests))
            recs.append(
                load_phase(args.port, RECOMMENDATIONS, setup["token"], clients=args.clients, per_client=args.requests)
            )
            print(
                f"round {round_no + 1}/{args.rounds}: health p50 {percentile(health[-1]['latencies'], 50, digits=2)} ms, "
                f"recommendations p50 {percentile(recs[-1]['latencies'], 50, digits=2)} ms"
            )
        # one response kept as a sample of what was measured
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
        status, body = request(conn, RECOMMENDATIONS, setup["token"])
        conn.close()
        sample = json.loads(body)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        if server.returncode not in (0, -signal.SIGTERM) and (scratch / "gunicorn.log").exists():
            print((scratch / "gunicorn.log").read_text()[-3000:])
        shutil.rmtree(scratch, ignore_errors=True)

    health_summary, recs_summary = summarise(health), summarise(recs)
    results = sample.get("results", [])
    payload = {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "server": {
            "gunicorn_workers": args.workers,
            "worker_class": "sync",
            "debug": False,
            "threads_per_worker": 1,
            "bind": "127.0.0.1",
        },
        "load": {"clients": args.clients, "requests_per_client_per_round": args.requests, "rounds": args.rounds},
        "listener": {
            "listener_id": setup["listener_id"],
            "history_artists": setup["history_artists"],
            "model": setup["artifact"],
        },
        "endpoints": {"recommendations": RECOMMENDATIONS, "trivial": HEALTH},
        "recommendations": recs_summary,
        "health": health_summary,
        "ratio_p50": round(recs_summary["p50_ms"] / health_summary["p50_ms"], 1) if health_summary["p50_ms"] else None,
        "ratio_p99": round(recs_summary["p99_ms"] / health_summary["p99_ms"], 1) if health_summary["p99_ms"] else None,
        "sample": {
            "status": status,
            "results": len(results),
            "explanation_bases": [r["explanation"]["basis"] for r in results],
            "first": {
                "rank": results[0]["rank"],
                "artist": results[0]["item"]["artist"]["name"],
                "sentence": results[0]["explanation"]["sentence"],
            }
            if results
            else None,
        },
    }
    print(json.dumps({k: payload[k] for k in ("recommendations", "health", "ratio_p50", "ratio_p99")}, indent=2))
    save_result("api_latency" if args.workers == 2 else f"api_latency_{args.workers}_workers", payload)
    if recs_summary["errors"] or health_summary["errors"]:
        sys.exit(
            f"{recs_summary['errors'] + health_summary['errors']} requests failed (see error_examples in the results)."
        )


if __name__ == "__main__":
    main()
