"""``python manage.py process_ingestion_jobs [--every SECONDS]``: run queued API ingestion jobs from the command line.

With a broker (``CELERY_BROKER_URL``) jobs go to the Celery worker (``ingestion.run_job``) and this is not
needed; it serves ``INGESTION_JOB_RUNNER=worker`` on a host without Redis (once, from cron, or as a
polling loop with ``--every``), and picks up a job whose message was lost. Harmless otherwise: a job is
claimed atomically, so it never runs twice.
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
