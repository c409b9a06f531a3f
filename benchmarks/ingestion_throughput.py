"""Text-ingestion throughput and where the time goes, on the shared sample documents.

Runs the real pipeline (the latest trained NER and relation artifacts, entity linking over the full
Last.FM + courses graph) on a throw-away copy of the development database, so nothing is written to
it: documents and sentences per second of wall time, seconds per stage (NER, linking, relations,
writes), and the counts (mentions, linked, new entities, triples accepted/queued/rejected). A second
run over the same documents measures the idempotent path (everything "unchanged").

It also writes the auto-accepted triples with their sentences to
``benchmarks/results/ingestion_accepted_sample.jsonl`` for hand labelling; when
``benchmarks/data/ingestion_accepted_labels.jsonl`` holds labels for them (``{"key": ..., "correct": true}``),
the precision of auto-accepted triples on that labelled sample is reported.

Usage: ``python benchmarks/ingestion_throughput.py [--documents DIR] [--accept-confidence 0.9]``
(needs ``python manage.py load_lastfm``, ``load_courses``, ``train_ner`` and ``train_relations`` first).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, RESULTS, data_dir, save_result

LABELS = REPO / "benchmarks" / "data" / "ingestion_accepted_labels.jsonl"


def django_setup_on_copy_of_dev_db() -> Path:
    source = REPO / "var" / "db.sqlite3"
    if not source.exists():
        sys.exit("No development database (var/db.sqlite3): run `make migrate load` first.")
    copy = Path(tempfile.mkdtemp(prefix="leitmotif-ingest-bench-")) / "db.sqlite3"
    shutil.copy2(source, copy)
    os.environ["DATABASE_URL"] = f"sqlite:///{copy}"
    os.environ["KG_BACKEND"] = "sql"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
    sys.path.insert(0, str(REPO))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    return copy


def fact_key(fact) -> str:
    return (
        f"{fact.document.name}|{fact.head.start}-{fact.head.end}|{fact.relation_type}|{fact.tail.start}-{fact.tail.end}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--documents", type=Path, default=None, help="Folder of documents (default: the shared ingestion samples)."
    )
    parser.add_argument("--accept-confidence", type=float, default=None)
    args = parser.parse_args()
    django_setup_on_copy_of_dev_db()
    import torch

    torch.set_num_threads(1)
    from django.conf import settings

    from ingestion.documents import read_documents
    from ingestion.models import ExtractedFact
    from ingestion.pipeline import IngestionSummary, load_pipeline
    from kg.stores import get_store

    folder = args.documents or data_dir() / "ingestion-samples"
    documents, problems = read_documents([folder], max_bytes=settings.INGESTION_MAX_DOCUMENT_BYTES)
    if problems:
        sys.exit("; ".join(p.error.message for p in problems))
    store = get_store("sql")
    t0 = time.perf_counter()
    pipeline = load_pipeline(store=store, accept_confidence=args.accept_confidence)
    _ = pipeline.linker.index  # build the link index outside the per-document timing
    load_seconds = time.perf_counter() - t0
    summary = IngestionSummary()
    cpu0, t1 = time.process_time(), time.perf_counter()
    pipeline.ingest(documents, summary=summary, progress=True)
    wall, cpu = time.perf_counter() - t1, time.process_time() - cpu0
    rerun = IngestionSummary()
    t2 = time.perf_counter()
    pipeline.ingest(documents, summary=rerun)
    rerun_seconds = time.perf_counter() - t2

    accepted = list(
        ExtractedFact.objects.filter(status=ExtractedFact.Status.ACCEPTED)
        .select_related("document", "head", "tail")
        .order_by("document__name", "head__start")
    )
    sample_path = RESULTS / "ingestion_accepted_sample.jsonl"
    with sample_path.open("w") as out:
        for fact in accepted:
            out.write(
                json.dumps(
                    {
                        "key": fact_key(fact),
                        "sentence": fact.sentence_text,
                        "head": f"{fact.head.text} -> {fact.head_entity_id}",
                        "relation": fact.relation_type,
                        "tail": f"{fact.tail.text} -> {fact.tail_entity_id}",
                        "confidence": fact.confidence,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    precision = None
    if LABELS.exists():
        labels = {row["key"]: row for row in map(json.loads, LABELS.read_text().splitlines()) if row.get("key")}
        judged = [labels[fact_key(f)]["correct"] for f in accepted if fact_key(f) in labels]
        if judged:
            precision = {
                "labelled": len(judged),
                "of_accepted": len(accepted),
                "correct": sum(judged),
                "precision": round(sum(judged) / len(judged), 4),
            }

    result = {
        "documents": len(documents),
        "model_versions": pipeline.model_versions,
        "accept_confidence": pipeline.accept_confidence,
        "model_load_and_link_index_seconds": round(load_seconds, 2),
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "documents_per_second": round(len(documents) / wall, 2),
        "sentences_per_second": round(summary.sentences / wall, 1),
        "stage_seconds": {k: round(v, 2) for k, v in summary.seconds.items()},
        "counts": {k: v for k, v in summary.to_dict().items() if k not in {"seconds", "problems"}},
        "problems": summary.problems,
        "rerun": {"seconds": round(rerun_seconds, 2), "unchanged": rerun.unchanged, "documents": rerun.documents},
        "accepted_precision_on_hand_labelled_sample": precision,
        "note": "torch and BLAS limited to one thread; timings include SQLite writes of the copy of the dev database.",
    }
    print(json.dumps(result, indent=2))
    print("saved", save_result("ingestion_throughput", result), "and", sample_path)


if __name__ == "__main__":
    main()
