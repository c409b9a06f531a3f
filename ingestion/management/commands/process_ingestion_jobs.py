"""``python manage.py process_ingestion_jobs [--every SECONDS]``: the worker that runs queued API ingestion jobs.

Used when ``INGESTION_JOB_RUNNER=worker`` (the compose ``ingester`` service); harmless otherwise.
"""

from __future__ import annotations

import time

from django.core.management.base import CommandError, CommandParser

from core.management import LeitmotifCommand
from ingestion.jobs import run_queued_jobs


class Command(LeitmotifCommand):
    help = "Run queued ingestion jobs once, or keep polling with --every SECONDS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--every", type=float, default=None, help="Poll for new jobs every SECONDS (a worker loop)."
        )
        parser.add_argument("--limit", type=int, default=None, help="Run at most this many jobs per round.")

    def handle(self, *args, **options) -> None:
        every = options["every"]
        if every is not None and every <= 0:
            raise CommandError(f"--every must be a positive number of seconds, got {every}.")
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError(f"--limit must be at least 1, got {options['limit']}.")
        while True:
            for job in run_queued_jobs(limit=options["limit"]):
                summary = job.summary or {}
                self.stdout.write(
                    f"job {job.pk}: {job.status}; {summary.get('documents', 0)} documents, "
                    f"{summary.get('triples_accepted', 0)} triples accepted, {summary.get('triples_queued', 0)} queued"
                    + (f"; {job.error}" if job.error else "")
                )
            if every is None:
                return
            time.sleep(every)
