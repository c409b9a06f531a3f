"""``python manage.py privacy_forgetting [--prune]``: which recommender artifacts still hold deleted learners.

Thin: :func:`privacy.selectors.forgetting_status` reads, :func:`privacy.services.forgotten_listeners_prune`
drops mask entries no artifact holds any more (after a retrain without them is published and older
artifacts are removed).
"""

from __future__ import annotations

from django.core.management.base import CommandParser

from core.management import LeitmotifCommand
from privacy import selectors, services


class Command(LeitmotifCommand):
    help = (
        "Report the recommender artifacts that still hold trained rows of deleted learners; --prune drops stale masks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--prune", action="store_true", help="Drop mask entries of listeners no artifact holds any more."
        )

    def handle(self, *args: object, prune: bool = False, **options: object) -> None:
        if prune:
            gone = services.forgotten_listeners_prune()
            self.stdout.write(f"Dropped {gone} mask entr{'y' if gone == 1 else 'ies'} no artifact needs any more.")
        status = selectors.forgetting_status()
        self.stdout.write(f"{status.masked} deleted learner(s) masked; published model: {status.published or 'none'}.")
        if not status.pending:
            self.stdout.write(self.style.SUCCESS("No recommender artifact holds a deleted learner's trained row."))
            return
        for held in status.pending:
            where = "PUBLISHED" if held.published else "not published"
            self.stdout.write(f"  {held.artifact} ({where}): {len(held.listener_ids)} masked row(s)")
        if status.retrain_needed:
            self.stdout.write(
                self.style.WARNING(
                    "The published model still holds masked rows: retrain (`python manage.py retrain_recommender`) "
                    "and publish, then delete the older artifacts listed here and run this command with --prune."
                )
            )
        else:
            self.stdout.write(
                "Only older, unpublished artifacts hold them: delete those folders, then run with --prune."
            )
