"""``python manage.py export_review_decisions PATH.jsonl``: curator decisions as relation-extraction examples.

Thin command: the work is :func:`curation.review.export_review_decisions`; a
:class:`~core.errors.LeitmotifError` becomes a one-line ``CommandError``.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandParser

from core.management import LeitmotifCommand
from curation.review import DECISION_STATUSES, export_review_decisions


class Command(LeitmotifCommand):
    help = (
        "Write approved, corrected and rejected extracted facts as JSON lines (sentence, head/tail spans, label, "
        "decision) for relation-extraction training. Rejected facts are negative examples (positive=false)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="Output .jsonl file (replaced atomically if it exists).")
        parser.add_argument(
            "--status",
            action="append",
            choices=list(DECISION_STATUSES),
            help="Only facts with this decision; repeat for several (default: all three).",
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, **options) -> None:
        statuses = tuple(options["status"] or DECISION_STATUSES)
        written = export_review_decisions(options["path"], statuses=statuses, progress=not options["no_progress"])
        self.stdout.write(f"Wrote {written} review decision(s) ({', '.join(statuses)}) to {options['path']}.")
