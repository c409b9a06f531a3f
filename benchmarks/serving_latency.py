"""In-process latency of one recommend+explain call (``recommendations_for_listener``) on the full development data.

Uses the development database (var/db.sqlite3, Last.FM loaded; courses when ``load_courses`` ran) and
the *published* recommender artifact (``python manage.py train_recommender`` then
``python manage.py publish_model``; with ``--publish-newest`` this script publishes the newest artifact
first if nothing is published). For ``--users`` random Last.FM listeners it times
``recommendations_for_listener(listener, kind=..., k=10)`` — history read from the database, fold-in
scoring of all 3,846 artists (music) or personalised PageRank over the graph (courses), and the
explanation of every result — after one warm-up call that loads the model and the graph snapshot
(both happen once per process). Torch runs on one thread, as a serving worker should.

Read-only on the database. Prints wall-clock p50/p90/p99 in milliseconds (and the process's CPU
time per call, which is what a call costs when it does not wait for a core other jobs hold) and saves
benchmarks/results/serving_latency.json.

    .venv/bin/python benchmarks/serving_latency.py [--users 200] [--k 10] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--publish-newest", action="store_true", help="publish the newest artifact if none is published"
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
    import django

    django.setup()
    import torch

    torch.set_num_threads(1)
    from benchmarks._common import percentile, save_result
    from catalog.models import Course, Listener
    from recommender.serving.model_holder import model_holder, model_publish, published_artifact
    from recommender.serving.selectors import recommendations_for_listener

    if published_artifact() is None:
        if not args.publish_newest:
            sys.exit("No published recommender model: run `python manage.py publish_model` (or pass --publish-newest).")
        model_publish()
    started = time.perf_counter()
    serving = model_holder().current()
    load_seconds = time.perf_counter() - started

    listeners = list(Listener.objects.filter(lastfm_id__isnull=False).order_by("pk"))
    rng = random.Random(args.seed)
    chosen = rng.sample(listeners, min(args.users, len(listeners)))
    n_courses = Course.objects.count()
    results: dict[str, dict] = {}
    for kind in ("music", "course"):
        if kind == "course" and n_courses == 0:
            print("course: skipped, the catalog has no courses (run `python manage.py load_courses`).")
            results[kind] = {"skipped": "no courses in the catalog"}
            continue
        started = time.perf_counter()
        recommendations_for_listener(chosen[0], kind=kind, k=args.k)  # warm-up: graph snapshot, caches
        warm_up_ms = (time.perf_counter() - started) * 1000
        timings: list[float] = []
        cpu: list[float] = []
        bases: Counter = Counter()
        returned = 0
        for listener in chosen:
            started, cpu_started = time.perf_counter(), time.process_time()
            recs = recommendations_for_listener(listener, kind=kind, k=args.k)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
            returned += len(recs)
            bases.update(r.explanation.basis for r in recs)
        results[kind] = {
            "calls": len(timings),
            "warm_up_ms": round(warm_up_ms, 1),
            "p50_ms": percentile(timings, 50),
            "p90_ms": percentile(timings, 90),
            "p99_ms": percentile(timings, 99),
            "mean_ms": round(sum(timings) / len(timings), 3),
            # CPU time of this process: what the call costs without waiting for a core other jobs hold
            "cpu_p50_ms": percentile(cpu, 50),
            "cpu_p99_ms": percentile(cpu, 99),
            "results_per_call": round(returned / len(timings), 2),
            "explanation_basis": dict(bases),
        }
        r = results[kind]
        print(
            f"{kind:6s}: p50 {r['p50_ms']:.2f} ms  p90 {r['p90_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  "
            f"(CPU p50 {r['cpu_p50_ms']:.2f} ms, p99 {r['cpu_p99_ms']:.2f} ms)  "
            f"({r['calls']} listeners, k={args.k}; bases {dict(bases)})"
        )
    save_result(
        "serving_latency",
        {
            "command": "python benchmarks/serving_latency.py " + " ".join(sys.argv[1:]),
            "artifact": serving.name,
            "model_load_seconds": round(load_seconds, 2),
            "users": len(chosen),
            "k": args.k,
            "courses_in_catalog": n_courses,
            "torch_threads": 1,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
