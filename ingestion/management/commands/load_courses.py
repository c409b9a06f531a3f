"""``python manage.py load_courses``: the Udemy music courses into the catalog and the knowledge graph.

Thin on purpose: the work is :func:`ingestion.loaders.courses.courses_load`; this command only picks the
file and the store, turns a :class:`LeitmotifError` into a one-line ``CommandError`` and prints counts.
Run it after ``load_lastfm`` so courses can be linked to the Last.FM genre tags.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandParser

from core.management import LeitmotifCommand
from ingestion.loaders.courses import DEFAULT_RELATIVE_PATH, CoursesLoadReport, courses_load
from kg.stores import get_store
from kg.stores.base import UpsertResult


class Command(LeitmotifCommand):
    help = (
        "Load the Udemy 'Musical Instruments' courses into the catalog and link each course into the "
        "knowledge graph (level, instruments, Last.FM genre tags, concepts). Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--file",
            type=Path,
            default=None,
            help=f"The course CSV (default: settings.LEITMOTIF_DATA_DIR / {DEFAULT_RELATIVE_PATH}).",
        )
        parser.add_argument(
            "--backend", default=None, help="Graph store name, e.g. sql or neo4j (default: settings.KG_BACKEND)."
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"] or Path(settings.LEITMOTIF_DATA_DIR) / DEFAULT_RELATIVE_PATH)
        backend = options["backend"] or settings.KG_BACKEND
        started = time.perf_counter()
        with get_store(backend) as store:
            report = courses_load(path, store=store, progress=not options["no_progress"])
        self._print_report(report, seconds=time.perf_counter() - started)

    def _print_report(self, report: CoursesLoadReport, *, seconds: float) -> None:
        write = self.stdout.write
        counts = report.counts
        write(f"Loaded courses from {report.path} into the catalog and the graph store {report.backend}.")
        recovered = f" ({counts.recovered} of them recovered from merged records)" if counts.recovered else ""
        write(f"{counts.records:,} records, {counts.courses:,} courses{recovered}.")
        write(f"{'':28s}{'in data':>10s}{'created':>10s}{'updated':>10s}{'unchanged':>11s}")
        write(_row("Catalog courses", counts.courses, report.catalog))
        write(_row("Graph entities", sum(counts.entities_by_type.values()), report.graph.entities))
        for entity_type, number in counts.entities_by_type.items():
            write(f"    {entity_type:24s}{number:>10,}")
        write(_row("Graph relations", sum(counts.relations_by_type.values()), report.graph.relations))
        for relation_type, number in counts.relations_by_type.items():
            write(f"    {relation_type:24s}{number:>10,}")
        if report.removed_relations:
            write(f"Removed {report.removed_relations:,} stale links this loader had made earlier.")
        write("Courses linked")
        for label, number in (
            ("to a level", counts.courses),
            ("to an instrument", counts.with_instrument),
            ("to a genre tag", counts.with_tag),
            ("to a concept", counts.with_concept),
            ("to any of these three", counts.with_any_link),
        ):
            write(f"  {label:26s}{number:>10,}  ({number / counts.courses:.0%})")
        write("Levels: " + _top(counts.levels))
        write("Instruments: " + _top(counts.instruments))
        write("Genres: " + _top(counts.genres))
        write("Concepts: " + _top(counts.concepts))
        write(f"Instrument-named Last.FM tags linked (ABOUT_INSTRUMENT): {counts.tag_instrument_links:,}.")
        write(
            f"Total: {report.created:,} created, {report.updated:,} updated, {report.removed_relations:,} removed in {seconds:.1f} s."
        )


def _row(label: str, in_data: int, result: UpsertResult) -> str:
    return f"{label:28s}{in_data:>10,}{result.created:>10,}{result.updated:>10,}{result.unchanged:>11,}"


def _top(counter: dict[str, int], limit: int = 12) -> str:
    items = list(counter.items())
    shown = ", ".join(f"{name} {number}" for name, number in items[:limit])
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return (shown + more) if items else "none"
