"""Course continuation: after enrolling in one course, do the next course recommendations stay on its topic?

For a seeded sample of courses that teach an instrument (stratified by instrument: proportional
allocation, at least one course per instrument), a fresh learner account enrols in that course
(``interaction_record(kind="enroll")``) with no other history and takes the top-k course
recommendations (``recommendation_list_for_listener(listener, kind="course", k=k)``). Reported, overall
and per instrument:

* ``instrument_share``: share of the top-k teaching one of the enrolled course's instruments (the
  issue's target is >= 0.8); ``instrument_share_of_possible`` divides by what the catalogue allows
  (an instrument with two other courses can fill at most 2 of 5 places), and
  ``instrument_share_where_k_possible`` is the share over enrolled courses whose instrument has at least
  k other courses;
* ``tag_share`` / ``concept_share``: share of the top-k covering one of its genre tags / teaching one of
  its concepts (over enrolled courses that have any);
* ``level_respected``: share of the top-k whose level is the enrolled course's, the next one up, or
  "all levels" (any level counts when the enrolled course is for all levels);
* ``top_score``: the #1 result's score.

Scenario ``enrol_only``: the enrolment is the whole history; ``interest_then_enrol``: the learner first
picked the course's instrument at onboarding (an ``Interest``), then enrols. Every learner is created
inside a transaction that is rolled back, so the database is left as it was; still, point
``DATABASE_URL`` at a COPY of the demo database (the script refuses ``/tmp/demo``).

    DATABASE_URL=sqlite:////tmp/h15/db.sqlite3 LEITMOTIF_ARTIFACTS_DIR=/tmp/demo/artifacts \\
        .venv/bin/python benchmarks/course_continuation.py --label after [--courses 100] [--k 5] [--seed 15]

Results go to benchmarks/results/course_continuation.json under ``runs[label]`` (other labels kept, so
"before" and "after" sit side by side).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

LEVEL_ORDER = {"beginner": 0, "intermediate": 1, "expert": 2}


class _Rollback(Exception):
    pass


def level_respected(enrolled: str, recommended: str) -> bool:
    if enrolled == "all" or recommended == "all":
        return True
    step = LEVEL_ORDER[recommended] - LEVEL_ORDER[enrolled]
    return 0 <= step <= 1


def stratified_sample(by_instrument: dict[str, list[int]], n: int, seed: int) -> list[tuple[str, int]]:
    """``n`` (instrument, course pk) pairs: proportional to each instrument's courses, at least one each."""
    rng = random.Random(seed)
    total = sum(len(v) for v in by_instrument.values())
    quota = {i: max(1, round(n * len(v) / total)) for i, v in by_instrument.items()}
    while sum(quota.values()) > n and any(q > 1 for q in quota.values()):
        biggest = max(quota, key=lambda i: (quota[i], i))
        quota[biggest] -= 1
    sample = []
    for instrument in sorted(by_instrument):
        pool = sorted(by_instrument[instrument])
        sample += [(instrument, pk) for pk in rng.sample(pool, min(quota[instrument], len(pool)))]
    return sample


def summarise(rows: list[dict]) -> dict:
    def mean(key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        return round(sum(values) / len(values), 3) if values else None

    full = [r["instrument_share"] for r in rows if r["instrument_possible"] >= r["k"]]
    return {
        "courses": len(rows),
        "instrument_share_where_k_possible": round(sum(full) / len(full), 3) if full else None,
        "courses_where_k_possible": len(full),
        **{
            key: mean(key)
            for key in (
                "instrument_share",
                "instrument_share_of_possible",
                "tag_share",
                "concept_share",
                "level_respected",
                "top_score",
            )
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--courses", type=int, default=100)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--label", default="current", help="key of this run in the JSON (e.g. before / after)")
    parser.add_argument("--examples", type=int, default=3, help="example lists printed per scenario")
    args = parser.parse_args()
    if "/tmp/demo" in os.environ.get("DATABASE_URL", ""):
        sys.exit("Refusing to write to /tmp/demo: copy the database and point DATABASE_URL at the copy.")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
    import django

    django.setup()
    import torch

    torch.set_num_threads(1)
    from django.db import transaction

    from benchmarks._common import RESULTS, save_result
    from catalog.models import Course, Interest, Listener
    from kg.schema.types import COVERS_TAG, TEACHES_CONCEPT, TEACHES_INSTRUMENT
    from recommender.serving.graph_index import graph_snapshot
    from recommender.serving.selectors import recommendation_list_for_listener
    from recommender.serving.services import interaction_record

    snapshot = graph_snapshot()
    rel = {name: snapshot.relation_index.get(name, -1) for name in (TEACHES_INSTRUMENT, COVERS_TAG, TEACHES_CONCEPT)}
    facts: dict[int, dict[str, set[int]]] = defaultdict(lambda: {name: set() for name in rel})
    for head, r, tail in zip(snapshot.heads.tolist(), snapshot.rels.tolist(), snapshot.tails.tolist()):
        for name, index in rel.items():
            if r == index:
                facts[head][name].add(tail)
    courses = {c.entity_id: c for c in Course.objects.all()}
    node_of = {e: snapshot.node_index[e] for e in courses if e in snapshot.node_index}
    by_instrument: dict[str, list[int]] = defaultdict(list)
    course_of_pk = {}
    for entity_id, node in node_of.items():
        instruments = facts[node][TEACHES_INSTRUMENT]
        if instruments:
            primary = min(snapshot.names[i] for i in instruments)
            by_instrument[primary].append(courses[entity_id].pk)
            course_of_pk[courses[entity_id].pk] = courses[entity_id]
    teaching: dict[int, int] = defaultdict(int)  # instrument node -> courses teaching it
    for node in node_of.values():
        for i in facts[node][TEACHES_INSTRUMENT]:
            teaching[i] += 1
    sample = stratified_sample(by_instrument, args.courses, args.seed)
    print(
        f"{len(course_of_pk)} courses with an instrument; sample of {len(sample)} over {len(by_instrument)} instruments"
    )

    def measure(course: Course, *, interest: bool) -> tuple[dict, list]:
        mine = facts[node_of[course.entity_id]]
        instruments = mine[TEACHES_INSTRUMENT]
        try:
            with transaction.atomic():
                listener = Listener.objects.create()
                if interest:
                    for i in sorted(instruments):
                        Interest.objects.create(
                            listener=listener,
                            entity_id=snapshot.ids[i],
                            name=snapshot.names[i],
                            entity_type="Instrument",
                        )
                interaction_record(listener, kind="enroll", course=course)
                results = recommendation_list_for_listener(listener, kind="course", k=args.k).results
                raise _Rollback
        except _Rollback:
            pass
        assert all(r.course.pk != course.pk for r in results), "an enrolled course was recommended"
        theirs = [facts[node_of[r.course.entity_id]] for r in results]
        possible = min(args.k, max(teaching[i] for i in instruments) - 1)
        n = max(len(results), 1)
        inst = sum(bool(t[TEACHES_INSTRUMENT] & instruments) for t in theirs) / n
        row = {
            "k": args.k,
            "instrument_possible": possible,
            "instrument_share": inst,
            "instrument_share_of_possible": (min(1.0, inst * n / possible) if possible > 0 else None),
            "tag_share": (
                sum(bool(t[COVERS_TAG] & mine[COVERS_TAG]) for t in theirs) / n if mine[COVERS_TAG] else None
            ),
            "concept_share": (
                sum(bool(t[TEACHES_CONCEPT] & mine[TEACHES_CONCEPT]) for t in theirs) / n
                if mine[TEACHES_CONCEPT]
                else None
            ),
            "level_respected": sum(level_respected(course.level, r.course.level) for r in results) / n,
            "top_score": results[0].score if results else None,
        }
        listing = [
            f"{r.score:.2f} {r.course.title[:60]} [{r.course.level}; "
            f"{', '.join(sorted(snapshot.names[i] for i in t[TEACHES_INSTRUMENT]))}]"
            for r, t in zip(results, theirs)
        ]
        return row, listing

    started = time.perf_counter()
    payload: dict = {"k": args.k, "seed": args.seed, "courses": len(sample)}
    for scenario, interest in (("enrol_only", False), ("interest_then_enrol", True)):
        rows_by_instrument: dict[str, list[dict]] = defaultdict(list)
        examples = []
        for instrument, pk in sample:
            row, listing = measure(course_of_pk[pk], interest=interest)
            rows_by_instrument[instrument].append(row)
            if len(examples) < args.examples and instrument in {"Guitar", "Piano"}:
                course = course_of_pk[pk]
                examples.append({"enrolled": f"{course.title} [{course.level}; {instrument}]", "top": listing})
        everything = [r for rows in rows_by_instrument.values() for r in rows]
        payload[scenario] = {
            "overall": summarise(everything),
            "per_instrument": {i: summarise(rows) for i, rows in sorted(rows_by_instrument.items())},
            "examples": examples,
        }
        print(f"\n== {scenario}: {json.dumps(payload[scenario]['overall'])}")
        for instrument, rows in sorted(rows_by_instrument.items(), key=lambda kv: -len(kv[1])):
            s = summarise(rows)
            print(
                f"  {instrument:14s} n={s['courses']:3d} instrument={s['instrument_share']} "
                f"(of possible {s['instrument_share_of_possible']}) tag={s['tag_share']} "
                f"concept={s['concept_share']} level={s['level_respected']}"
            )
        for example in examples:
            print(f"  after {example['enrolled']}:")
            for line in example["top"]:
                print(f"     {line}")
    payload["seconds"] = round(time.perf_counter() - started, 1)
    path = RESULTS / "course_continuation.json"
    runs = {}
    if path.exists():
        runs = json.loads(path.read_text()).get("runs", {})
    runs[args.label] = payload
    save_result(
        "course_continuation",
        {
            "command": "DATABASE_URL=sqlite:////tmp/h15/db.sqlite3 LEITMOTIF_ARTIFACTS_DIR=/tmp/demo/artifacts "
            f".venv/bin/python benchmarks/course_continuation.py --label LABEL --courses {args.courses} "
            f"--k {args.k} --seed {args.seed}",
            "data": "demo database copy: Udemy Musical Instruments courses in the graph, Last.FM data",
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
