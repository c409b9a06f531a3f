"""``python manage.py refresh_models``: after new graph facts, warm-start embeddings and recommender, then publish.

Thin on purpose: detection, both warm starts, publishing and the stamp are
:func:`recommender.refresh.models_refresh`; this command turns options into its arguments, prints what
happened and turns a :class:`LeitmotifError` into a one-line ``CommandError``. The schedule is celery
beat's (``recommender.refresh_models`` in ``CELERY_BEAT_SCHEDULE``, run by the compose ``worker``);
``--every SECONDS`` remains for a host without a broker: a loop checking for new facts each round (it
implies ``--only-if-new-facts``); a failed round keeps the served model and is retried next round.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from core.errors import LeitmotifError
from core.management import LeitmotifCommand
from kg.embeddings.config import available_models
from kg.embeddings.training import limit_torch_threads
from recommender.refresh import models_refresh


class Command(LeitmotifCommand):
    help = (
        "Refresh the knowledge-graph embeddings and the recommender from their checkpoints (warm start, a few epochs) "
        "after the graph changed, and publish the refreshed recommender."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only-if-new-facts",
            action="store_true",
            help="Do nothing unless the graph changed since the last refresh (or, before the first one, since the published model).",
        )
        parser.add_argument(
            "--every",
            type=float,
            default=None,
            metavar="SECONDS",
            help="Run as a worker: check and refresh every SECONDS (implies --only-if-new-facts).",
        )
        parser.add_argument(
            "--kge-epochs",
            type=int,
            default=None,
            help="Warm epochs for the embeddings (default: a fifth of the from-scratch run).",
        )
        parser.add_argument(
            "--rec-epochs",
            type=int,
            default=None,
            help="Warm epochs for the recommender (default: a fifth of the from-scratch budget).",
        )
        parser.add_argument(
            "--kge-model",
            default=None,
            choices=available_models(),
            help="Which embedding artifact to refresh (default: the newest of any model).",
        )
        parser.add_argument(
            "--no-kge", action="store_true", help="Leave the embeddings alone; refresh only the recommender."
        )
        parser.add_argument(
            "--no-publish", action="store_true", help="Train and save, but leave the served model as it is."
        )
        parser.add_argument("--backend", default=None, help="Graph store name (default: settings.KG_BACKEND).")
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bars.")

    def handle(self, *args, **options) -> None:
        limit_torch_threads()
        every = options["every"]
        if every is not None and every <= 0:
            raise CommandError("--every must be a positive number of seconds.")
        for name in ("kge_epochs", "rec_epochs"):
            if options[name] is not None and options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1.")
        if every is None:
            self._refresh_once(options, only_if_new=options["only_if_new_facts"])
            return
        self.stdout.write(f"Refresh worker: checking for new graph facts every {every:g} s (Ctrl-C stops).")
        while True:
            try:
                self._refresh_once(options, only_if_new=True)
            except (
                CommandError,
                LeitmotifError,
            ) as exc:  # a failed round keeps the served model; try again next interval
                self.stderr.write(
                    f"[{_now()}] Refresh failed, the published model is unchanged: {self.command_error(exc)}"
                )
            time.sleep(every)

    def _refresh_once(self, options, *, only_if_new: bool) -> None:
        outcome = models_refresh(
            backend=options["backend"] or settings.KG_BACKEND,
            only_if_new_facts=only_if_new,
            kge_epochs=options["kge_epochs"],
            rec_epochs=options["rec_epochs"],
            kge_model=options["kge_model"],
            refresh_kge=not options["no_kge"],
            publish=not options["no_publish"],
            progress=not options["no_progress"],
            log=lambda message: self.stdout.write(f"[{_now()}] {message}"),
        )
        if not outcome.refreshed:
            self.stdout.write(f"[{_now()}] {outcome.message}")
            return
        if outcome.published is not None:
            self.stdout.write(self.style.SUCCESS(f"[{_now()}] Published {outcome.published}"))
        else:
            assert outcome.recommender_artifact is not None  # set on every refreshed outcome
            self.stdout.write(f"[{_now()}] Saved {Path(outcome.recommender_artifact)} (not published).")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
