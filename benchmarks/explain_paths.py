"""Knowledge-graph path explanations on the full development graph (var/db.sqlite3, already loaded).

Measures, on the sql store:

* building the :class:`~recommender.explanations.GraphSnapshot` (13k+ entities / 42k+ relations), several
  times, and the per-call cost of ``current_snapshot`` when the cached snapshot is still current:
  checked against the store (fingerprint + probe queries) and trusted within ``check_interval``;
* ``explain_many`` for 10 targets × 100 random Last.FM listeners, the sources being each listener's
  listened artists, in two target scenarios:
  - ``popular_unseen``: the 10 most-listened artists the listener has not heard (what the popularity
    baseline recommends; the typical serving case),
  - ``random_unseen``: 10 random unheard artists (a harder case: far items, more "no path"),
  - ``random_courses``: 10 random courses, when ``load_courses`` has linked courses into the graph.

Reports p50/p99 milliseconds per listener (all 10 targets), how many targets got a graph path, and the
hop lengths cited. Read-only: the development database is not modified. Writes
benchmarks/results/explain_paths.json.

    .venv/bin/python benchmarks/explain_paths.py [--listeners 100] [--targets 10] [--seed 7]
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
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--builds", type=int, default=3, help="snapshot builds to time")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
    import django

    django.setup()
    from django.db.models import Count

    from benchmarks._common import percentile, save_result
    from catalog.models import Artist, Listen, Listener
    from kg.stores import get_store
    from recommender.explanations import GraphSnapshot, current_snapshot, explain_many, invalidate_snapshots
    from recommender.explanations.quality import node_quality

    rng = random.Random(args.seed)
    with get_store("sql") as store:
        stats = store.stats()
        if stats.relations == 0:
            sys.exit("The development graph is empty; run `python manage.py load_lastfm` first.")
        build_seconds = []
        for _ in range(args.builds):
            started = time.perf_counter()
            snapshot = GraphSnapshot.from_store(store)
            build_seconds.append(time.perf_counter() - started)
        invalidate_snapshots(store)
        current_snapshot(store)
        check_ms, trusted_ms = [], []
        for _ in range(20):
            started = time.perf_counter()
            current_snapshot(store, check_interval=0)
            check_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            current_snapshot(store, check_interval=5)
            trusted_ms.append((time.perf_counter() - started) * 1000)

    popularity = list(
        Artist.objects.exclude(entity_id="")
        .annotate(n=Count("listens"))
        .order_by("-n", "pk")
        .values_list("entity_id", flat=True)
    )
    listener_ids = list(Listener.objects.filter(lastfm_id__isnull=False).order_by("pk").values_list("pk", flat=True))
    chosen = rng.sample(listener_ids, min(args.listeners, len(listener_ids)))
    history: dict[int, list[str]] = {pk: [] for pk in chosen}
    for pk, entity_id in (
        Listen.objects.filter(listener_id__in=chosen)
        .exclude(artist__entity_id="")
        .values_list("listener_id", "artist__entity_id")
    ):
        history[pk].append(entity_id)

    courses = [entity_id for entity_id, entity_type in zip(snapshot.ids, snapshot.types) if entity_type == "Course"]
    scenarios = {}
    for scenario in ("popular_unseen", "random_unseen", "random_courses"):
        if scenario == "random_courses" and len(courses) < args.targets:
            continue
        per_user_ms: list[float] = []
        bases: Counter = Counter()
        hops: Counter = Counter()
        paths_per_target: list[int] = []
        examples: list[dict] = []
        noisy_best = weak = 0
        descriptive = node_quality(snapshot).descriptive
        for pk in chosen:
            sources = history[pk]
            seen = set(sources)
            unseen = [a for a in popularity if a not in seen and a in snapshot.node_index]
            if scenario == "popular_unseen":
                targets = unseen[: args.targets]
            else:
                targets = rng.sample(courses if scenario == "random_courses" else unseen, args.targets)
            started = time.perf_counter()
            results = explain_many(
                snapshot, sources=sources, targets=targets, source_roles=dict.fromkeys(sources, "listen")
            )
            per_user_ms.append((time.perf_counter() - started) * 1000)
            for result in results.values():
                bases[result.basis] += 1
                paths_per_target.append(len(result.paths))
                hops.update(len(p.edges) for p in result.paths)
                if result.paths:
                    noisy_best += not all(
                        descriptive[snapshot.node_index[n["id"]]] for n in result.paths[0].nodes[1:-1]
                    )
                    weak += bool(result.evidence.get("weak"))
                if result.paths and len(examples) < 5:
                    examples.append(
                        {
                            "listener": pk,
                            "target": result.target,
                            "sentence": result.sentence,
                            "score": result.paths[0].score,
                        }
                    )
        scenarios[scenario] = {
            "ms_per_listener": {
                "p50": percentile(per_user_ms, 50),
                "p99": percentile(per_user_ms, 99),
                "mean": round(sum(per_user_ms) / len(per_user_ms), 3),
                "max": round(max(per_user_ms), 3),
            },
            "targets": len(paths_per_target),
            "basis_counts": dict(bases),
            "share_with_graph_path": round(bases["graph"] / max(1, len(paths_per_target)), 3),
            "mean_paths_per_target": round(sum(paths_per_target) / max(1, len(paths_per_target)), 3),
            "cited_paths_by_hops": {str(k): v for k, v in sorted(hops.items())},
            # explanations whose best path passes a noise tag ("seen live", a tag on 1 artist …), and those weak throughout
            "best_path_through_noise_tag": noisy_best,
            "weak_explanations": weak,
            "examples": examples,
        }
        print(
            f"{scenario:15s} p50 {scenarios[scenario]['ms_per_listener']['p50']:.2f} ms  "
            f"p99 {scenarios[scenario]['ms_per_listener']['p99']:.2f} ms per listener ({args.targets} targets); "
            f"graph path for {scenarios[scenario]['share_with_graph_path']:.0%} of targets"
        )

    sources_per_listener = [len(history[pk]) for pk in chosen]
    payload = {
        "command": "python benchmarks/explain_paths.py " + " ".join(sys.argv[1:]),
        "graph": {
            "entities": stats.entities,
            "relations": stats.relations,
            "courses": len(courses),
            "snapshot_version": snapshot.version,
        },
        "snapshot_build_seconds": {"runs": [round(s, 3) for s in build_seconds], "min": round(min(build_seconds), 3)},
        "current_snapshot_cached_check_ms": {"p50": percentile(check_ms, 50), "p99": percentile(check_ms, 99)},
        "current_snapshot_within_check_interval_ms": {
            "p50": percentile(trusted_ms, 50),
            "p99": percentile(trusted_ms, 99),
        },
        "listeners": len(chosen),
        "targets_per_listener": args.targets,
        "sources_per_listener": {
            "mean": round(sum(sources_per_listener) / len(chosen), 1),
            "max": max(sources_per_listener),
        },
        "settings": {"max_hops": 3, "max_paths": 3, "scorer": "explain.structural.v2", "seed": args.seed},
        "scenarios": scenarios,
    }
    print(
        f"snapshot build {min(build_seconds):.2f} s (best of {args.builds}); cached check p50 {payload['current_snapshot_cached_check_ms']['p50']:.1f} ms"
    )
    save_result("explain_paths", payload)


if __name__ == "__main__":
    main()
