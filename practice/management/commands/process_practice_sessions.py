"""``python manage.py process_practice_sessions [--every N] [--limit N]``: the worker of ``PRACTICE_JOB_RUNNER=worker``."""

from __future__ import annotations

import time
from typing import Any

from core.management import LeitmotifCommand


class Command(LeitmotifCommand):
    help = "Analyse queued practice sessions (once, or every N seconds with --every)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--every", type=float, default=0.0, help="Poll every N seconds instead of running once.")
        parser.add_argument("--limit", type=int, default=None, help="At most this many sessions per round.")

    def handle(self, *args: Any, **options: Any) -> None:
        import torch

        from practice.jobs import run_queued_sessions

        torch.set_num_threads(1)
        while True:
            for session in run_queued_sessions(limit=options["limit"]):
                detail = session.error if session.error else f"overall {session.feedback.overall:.2f}"
                self.stdout.write(f"session {session.pk}: {session.status} ({detail})")
            if not options["every"]:
                return
            time.sleep(options["every"])
