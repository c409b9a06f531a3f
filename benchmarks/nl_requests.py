"""Plain-English requests: how well they are understood, and whether the answers honour them.

1. Understanding: the parser with the trained NER model (latest artifact, when there is one) and without
   it (lexicon + graph names only) against ``tests/recommender/data/nl_requests.jsonl`` (62 requests, used
   while writing the lexicon and the parser: a tuning set) and ``nl_requests_heldout.jsonl`` (25 requests
   written afterwards and never tuned on); and the time of one parse.
2. The requests protocol (:mod:`recommender.understanding.requests_protocol`): ``--requests`` (default
   400) requests generated from the graph with ``--seed``, halved into a validation half (thresholds in
   :mod:`recommender.understanding.answer` were chosen on it) and a test half (reported), plus the
   labelled requests; each answered for a new learner with the published model and scored by graph facts
   per constraint kind.

Reads the development database and the published recommender (no writes: the protocol's learner lives in
a rolled-back transaction). Usage: ``python benchmarks/nl_requests.py [--requests N] [--seed S]`` after
``make load`` and ``make train`` (``python manage.py train_ner`` for the NER half). Set
``OMP_NUM_THREADS=1`` on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from _common import REPO, save_result


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--requests", type=int, default=400)
    arguments.add_argument("--seed", type=int, default=0)
    arguments.add_argument("--tune", action="store_true", help="choose the answer's minimums on the validation half")
    options = arguments.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    import torch

    torch.set_num_threads(1)
    from core.errors import ModelArtifactError
    from ingestion.linking import EntityLinker
    from kg.stores import get_store
    from recommender.understanding.evaluation import read_labelled_requests, score_requests
    from recommender.understanding.parse import RequestParser
    from recommender.understanding.requests_protocol import run_requests_protocol

    data = REPO / "tests" / "recommender" / "data"
    sets = {name: read_labelled_requests(data / f"{name}.jsonl") for name in ("nl_requests", "nl_requests_heldout")}
    linker = EntityLinker(get_store())
    _ = linker.index  # build the link index before timing
    try:
        from ingestion.ner import load_ner_model

        ner = load_ner_model()
    except ModelArtifactError as exc:
        print(f"{exc.message} Scoring without the NER model only.")
        ner = None
    results = {}
    models = (("with_ner", ner), ("without_ner", None)) if ner is not None else (("without_ner", None),)
    for label, model in models:
        parser = RequestParser(ner=model, linker=linker)
        results[label] = {name: score_requests(parser, rows) for name, rows in sets.items()}
        started = time.perf_counter()
        for row in sets["nl_requests_heldout"]:
            parser.parse(row.text)
        results[label]["ms_per_request"] = round(
            1000 * (time.perf_counter() - started) / len(sets["nl_requests_heldout"]), 2
        )
    print(f"{'':14s}{'set':24s}{'requests':>9s}{'exact':>8s}{'micro F1':>10s}")
    for label, by_set in results.items():
        for name in sets:
            r = by_set[name]
            print(f"{label:14s}{name:24s}{r['requests']:>9d}{r['exact_match']:>8.3f}{r['micro']['f1']:>10.3f}")

    parser = RequestParser(ner=ner, linker=linker)
    labelled = [row.text for rows in sets.values() for row in rows]
    started = time.perf_counter()
    protocol = run_requests_protocol(
        parser, n=options.requests, seed=options.seed, labelled=labelled, tune=options.tune
    )
    protocol["seconds"] = round(time.perf_counter() - started, 1)
    protocol["parser"] = "with_ner" if ner is not None else "without_ner"
    if "tuning" in protocol:
        for run in protocol["tuning"]["grid"]:
            print(
                f"tuning: music min {run['music_min']:>2d} -> {run['music']['items_satisfying_all']}, "
                f"{run['music']['mean_items_per_answer']} items; course min {run['course_min']} -> "
                f"{run['courses']['items_satisfying_all']}, {run['courses']['mean_items_per_answer']} items"
            )
        print("chosen on validation:", protocol["tuning"]["chosen"])
    print(f"\nRequests protocol ({protocol['generated']} generated, seed {options.seed}, k={protocol['k']})")
    print(f"{'part':12s}{'list':8s}{'items':>7s}{'all ok':>8s}  per constraint (share satisfied / pairs)")
    for part in ("validation", "test", "labelled"):
        for what in ("music", "courses"):
            r = protocol[part][what]
            per = ", ".join(f"{k} {v['satisfied']:.2f}/{v['pairs']}" for k, v in r["per_constraint"].items())
            share = "-" if r["items_satisfying_all"] is None else f"{r['items_satisfying_all']:.3f}"
            print(f"{part:12s}{what:8s}{r['items_checked']:>7d}{share:>8s}  {per}")
    print("parse recall (test):", protocol["test"]["parse_recall"])
    print(
        "saved",
        save_result(
            "nl_requests",
            {"ner_version": getattr(ner, "version", None), "results": results, "requests_protocol": protocol},
        ),
    )


if __name__ == "__main__":
    main()
