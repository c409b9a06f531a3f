"""``python manage.py ingest_text PATH...``: documents into the knowledge graph, with provenance.

Thin on purpose: reading is :mod:`ingestion.documents`, the work is :class:`ingestion.pipeline.IngestionPipeline`.
Unreadable files are reported with their name (and line, for JSONL) and skipped; the exit status is
non-zero when any file or document could not be ingested, so scripts notice.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from core.management import LeitmotifCommand
from ingestion.documents import read_documents
from ingestion.pipeline import DEFAULT_MIN_CONFIDENCE, IngestionSummary, load_pipeline
from kg.stores import get_store


class Command(LeitmotifCommand):
    help = (
        "Ingest text documents (.txt, .md, .html, .jsonl files or folders): NER, entity linking and relation "
        "extraction; confident triples go into the graph, the rest into the curators' review queue. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="Files or folders (searched recursively).")
        parser.add_argument(
            "--backend", default=None, help="Graph store name, e.g. sql or neo4j (default: settings.KG_BACKEND)."
        )
        parser.add_argument(
            "--accept-confidence",
            type=float,
            default=None,
            help=f"Auto-accept triples above this confidence (1 = review everything) (default: INGESTION_AUTO_ACCEPT_CONFIDENCE={settings.INGESTION_AUTO_ACCEPT_CONFIDENCE}).",
        )
        parser.add_argument(
            "--min-confidence",
            type=float,
            default=DEFAULT_MIN_CONFIDENCE,
            help="Drop triples below this confidence (default: %(default)s).",
        )
        parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        documents, problems = read_documents(options["paths"], max_bytes=settings.INGESTION_MAX_DOCUMENT_BYTES)
        summary = IngestionSummary()
        for problem in problems:
            summary.add_problem(problem)
        if documents:
            with get_store(options["backend"] or settings.KG_BACKEND) as store:
                pipeline = load_pipeline(
                    store=store,
                    accept_confidence=options["accept_confidence"],
                    min_confidence=options["min_confidence"],
                )
                pipeline.ingest(documents, summary=summary, progress=not options["no_progress"])
        seconds = time.perf_counter() - started
        if options["json"]:
            self.stdout.write(json.dumps({**summary.to_dict(), "wall_seconds": round(seconds, 3)}, indent=2))
        else:
            self._print(summary, seconds=seconds)
        if summary.failed:
            raise CommandError(
                f"{summary.failed} file(s) or document(s) could not be ingested: " + " | ".join(summary.problems)
            )

    def _print(self, s: IngestionSummary, *, seconds: float) -> None:
        write = self.stdout.write
        write(f"Documents: {s.documents} ingested, {s.unchanged} unchanged (ingested before), {s.failed} failed.")
        write(
            f"Sentences: {s.sentences}; mentions: {s.mentions} ({s.linked} linked to graph entities, {s.new_entities} new entities proposed)."
        )
        write(
            f"Triples: {s.triples_accepted} accepted into the graph ({s.relations_written} new relations), "
            f"{s.triples_queued} queued for review, {s.triples_rejected} rejected (below the minimum confidence)."
        )
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in s.seconds.items())
        write(f"Time: {seconds:.1f} s ({stages}).")
        for problem in s.problems:
            write(self.style.WARNING(f"  ! {problem}"))
