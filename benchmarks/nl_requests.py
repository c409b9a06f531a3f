"""How well plain-English requests are understood, on the hand-labelled request sets in tests/.

Scores the parser with the trained NER model (latest artifact) and without it (lexicon + graph names
only) against ``tests/recommender/data/nl_requests.jsonl`` (62 requests, used while writing the lexicon
and the parser: a tuning set) and ``nl_requests_heldout.jsonl`` (25 requests written afterwards and never
tuned on). Reads the development database's graph (no writes). Also times one parse.

Usage: ``python benchmarks/nl_requests.py`` (after ``make load`` and ``python manage.py train_ner``).
"""

from __future__ import annotations

import os
import sys
import time

from _common import REPO, save_result


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from core.errors import ModelArtifactError
    from ingestion.linking import EntityLinker
    from kg.stores import get_store
    from recommender.understanding.evaluation import read_labelled_requests, score_requests
    from recommender.understanding.parse import RequestParser

    data = REPO / "tests" / "recommender" / "data"
    sets = {name: read_labelled_requests(data / f"{name}.jsonl") for name in ("nl_requests", "nl_requests_heldout")}
    linker = EntityLinker(get_store())
    _ = linker.index  # build the link index before timing
    try:
        from ingestion.ner import load_ner_model

        ner = load_ner_model()
    except ModelArtifactError as exc:
        sys.exit(exc.message)
    results = {}
    for label, model in (("with_ner", ner), ("without_ner", None)):
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
    print("saved", save_result("nl_requests", {"ner_version": ner.version, "results": results}))


if __name__ == "__main__":
    main()
