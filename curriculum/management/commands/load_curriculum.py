"""``python manage.py load_curriculum [PATH]``: the curriculum file into the knowledge graph.

Thin on purpose: the work is :func:`curriculum.loader.curriculum_load`; this command picks
the file and the store, turns a :class:`LeitmotifError` into a one-line ``CommandError`` and prints counts.
Run it after ``load_lastfm`` and ``load_courses`` so concepts can be linked to tags, instruments and courses.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandParser

from core.management import LeitmotifCommand
from curriculum.loader import DEFAULT_CURRICULUM_PATH, CurriculumLoadReport, curriculum_load
from kg.stores import get_store


class Command(LeitmotifCommand):
    help = (
        "Validate the curriculum file (concepts, prerequisites, tags, instruments, sources) and write it into the "
        "knowledge graph: Concept entities, PREREQUISITE_OF, PART_OF, ASSOCIATED_TAG, FOR_INSTRUMENT and "
        "course TEACHES_CONCEPT links. Idempotent: a second run writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path",
            nargs="?",
            type=Path,
            default=None,
            help=f"The curriculum JSON file (default: {DEFAULT_CURRICULUM_PATH.relative_to(Path(settings.BASE_DIR))}).",
        )
        parser.add_argument(
            "--backend", default=None, help="Graph store name, e.g. sql or neo4j (default: settings.KG_BACKEND)."
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, **options) -> None:
        path = Path(options["path"] or DEFAULT_CURRICULUM_PATH)
        backend = options["backend"] or settings.KG_BACKEND
        started = time.perf_counter()
        with get_store(backend) as store:
            report = curriculum_load(path, store=store, progress=not options["no_progress"])
        self._print_report(report, seconds=time.perf_counter() - started)

    def _print_report(self, report: CurriculumLoadReport, *, seconds: float) -> None:
        write = self.stdout.write
        levels = ", ".join(f"{number} {level}" for level, number in report.levels.items())
        write(f"Loaded the curriculum from {report.path} into the graph store {report.backend}.")
        write(
            f"{report.concepts} concepts ({levels}; {report.adopted} shared with the course loader), "
            f"{report.references} cited references, {report.quiz_questions} quiz questions."
        )
        entities, relations = report.graph.entities, report.graph.relations
        write(f"{'':24s}{'created':>10s}{'updated':>10s}{'unchanged':>11s}")
        write(f"{'Concept entities':24s}{entities.created:>10,}{entities.updated:>10,}{entities.unchanged:>11,}")
        write(f"{'Relations':24s}{relations.created:>10,}{relations.updated:>10,}{relations.unchanged:>11,}")
        for relation_type, number in report.relations_by_type.items():
            write(f"    {relation_type:20s}{number:>10,} in the file's links")
        write(f"Courses whose titles name a curriculum concept: {report.courses_matched:,}.")
        if report.kept_foreign:
            write(
                f"Left {report.kept_foreign:,} links as they were: another source (a loader or a curator) already made them."
            )
        if report.missing_tags:
            names = sorted({name for items in report.missing_tags.values() for name in items})
            write(f"Tag names with no Last.FM tag in the graph (not linked): {', '.join(names)}.")
        if report.not_in_file:
            write(
                f"Concepts in the graph that the file no longer has (kept; delete them in the admin if unwanted): {', '.join(report.not_in_file)}."
            )
        for warning in report.warnings:
            write(self.style.WARNING(f"Warning: {warning}"))
        if report.removed_relations:
            write(f"Removed {report.removed_relations:,} stale links this loader had made earlier.")
        write(
            f"Total: {report.created:,} created, {report.updated:,} updated, {report.removed_relations:,} removed "
            f"({report.written:,} written) in {seconds:.1f} s."
        )
