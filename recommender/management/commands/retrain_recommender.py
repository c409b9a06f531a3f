"""``python manage.py retrain_recommender``: the background retrain — train on the current catalog, then publish.

This is what a cron entry or a background worker runs (e.g. nightly:
``0 3 * * * cd /srv/leitmotif && .venv/bin/python manage.py retrain_recommender --no-progress``).
Between retrains, learners' new events already shape their recommendations through fold-in
(:mod:`recommender.serving.selectors`); a retrain makes them part of the model itself. It reads the
catalog as it is now — Last.FM listens plus learners' Listen rows, which
:func:`recommender.serving.services.interaction_record` keeps in step with their listen/like events —
trains with :func:`recommender.training.recommender_train` (the default, validated configuration) and
publishes the new artifact through :func:`recommender.serving.model_holder.model_publish`, so a run
that fails at any point leaves the serving model untouched. ``--no-publish`` only trains.

``--only-if-new-interactions`` skips the run when no learner event arrived after the published model
was trained (so a frequent schedule costs nothing on quiet days). The schedule is celery beat's
(``recommender.retrain`` in ``CELERY_BEAT_SCHEDULE``, run by the compose ``worker``); ``--every SECONDS``
remains for a host without a broker: a loop that does that check-then-retrain every interval.

``--from-checkpoint [ARTIFACT]`` warm-starts from a trained model (default: the published one) instead of
random weights: users, items and graph entities it knew keep their parameters (matched by id), new ones
start fresh, and it trains fewer epochs (``--epochs``, default a fifth of the from-scratch budget) with
the parent's config and seed (:func:`recommender.training.recommender_train`, ``warm_start_from``).
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from catalog.models import Interaction
from core.artifacts import read_json
from core.errors import ConfigurationError, LeitmotifError
from core.management import LeitmotifCommand
from kg.embeddings.training import limit_torch_threads
from kg.stores import get_store
from recommender.models.config import JointConfig
from recommender.serving.model_holder import model_publish, published_artifact
from recommender.training import (
    load_trained_recommender,
    product_dataset,
    recommender_artifacts_dir,
    recommender_train,
    refresh_epochs_default,
)


class Command(LeitmotifCommand):
    help = "Retrain the recommender on the current catalog (incl. learners' listens and likes) and publish it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed",
            type=int,
            default=None,
            help="Seed for the split, initialisation and sampling (default 0; with --from-checkpoint the parent's).",
        )
        parser.add_argument("--epochs", type=int, default=None, help="Maximum training epochs (default: the config's).")
        parser.add_argument("--no-content", action="store_true", help="Train without the text content part.")
        parser.add_argument("--backend", default=None, help="Graph store name (default: settings.KG_BACKEND).")
        parser.add_argument(
            "--output-dir",
            type=Path,
            default=None,
            help="Folder for recommender artifacts (default: <artifacts>/recommender).",
        )
        parser.add_argument(
            "--no-publish", action="store_true", help="Train and save, but leave the served model as it is."
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bars.")
        parser.add_argument(
            "--only-if-new-interactions",
            action="store_true",
            help="Do nothing unless a learner event arrived after the published model was trained.",
        )
        parser.add_argument(
            "--every",
            type=float,
            default=None,
            metavar="SECONDS",
            help="Run as a worker: check and retrain every SECONDS (implies --only-if-new-interactions).",
        )
        parser.add_argument(
            "--from-checkpoint",
            nargs="?",
            const="published",
            default=None,
            metavar="ARTIFACT",
            help="Warm-start from a trained artifact (default: the published one) instead of from scratch; "
            "--epochs then defaults to a fifth of the from-scratch budget.",
        )

    def handle(self, *args, **options) -> None:
        limit_torch_threads()
        every = options["every"]
        if every is not None and every <= 0:
            raise CommandError("--every must be a positive number of seconds.")
        if every is None:
            self._retrain_once(options, only_if_new=options["only_if_new_interactions"])
            return
        self.stdout.write(f"Retrain worker: checking for new learner events every {every:g} s (Ctrl-C stops).")
        while True:
            try:
                self._retrain_once(options, only_if_new=True)
            except (
                CommandError,
                LeitmotifError,
            ) as exc:  # a failed run keeps the served model; try again next interval
                self.stderr.write(f"Retrain failed, the published model is unchanged: {self.command_error(exc)}")
            time.sleep(every)

    def _new_interactions(self, options) -> int | None:
        """Learner events newer than the published model; ``None`` when nothing is published yet."""
        path = published_artifact(options["output_dir"])
        if path is None:
            return None
        trained_at = datetime.fromisoformat(read_json(path / "config.json")["created_at"])
        return Interaction.objects.filter(created_at__gt=trained_at).count()

    def _retrain_once(self, options, *, only_if_new: bool) -> None:
        overrides: dict[str, int | bool] = {"use_content": not options["no_content"]}
        if options["epochs"] is not None:
            overrides["epochs"] = options["epochs"]
        seed = options["seed"] if options["seed"] is not None else 0
        if only_if_new:
            new = self._new_interactions(options)
            if new == 0:
                self.stdout.write("No learner events since the published model was trained; nothing to do.")
                return
            if new is not None:
                self.stdout.write(f"{new:,} learner event(s) since the published model was trained.")
        parent = None
        warm_start = "."
        if options["from_checkpoint"] is not None:
            parent = load_trained_recommender(self._checkpoint_path(options["from_checkpoint"], options["output_dir"]))
            overrides = {
                "epochs": options["epochs"] if options["epochs"] is not None else refresh_epochs_default(parent)
            }
            if options["no_content"]:
                overrides["use_content"] = False
            config = parent.config.with_overrides(**overrides)
            seed = options["seed"] if options["seed"] is not None else parent.seed
            assert parent.path is not None  # a loaded artifact knows its directory
            warm_start = f", warm-started from {parent.path.name} for {config.epochs} epochs."
        else:
            config = JointConfig().with_overrides(**overrides)
        with get_store(options["backend"] or settings.KG_BACKEND) as store:
            try:
                dataset = product_dataset(store=store)
            except ConfigurationError as exc:
                raise CommandError(exc.message) from None
        self.stdout.write(
            f"Retraining on {dataset.n_users:,} listeners × {dataset.n_items:,} artists ({dataset.n_interactions:,} listens)"
            + warm_start
        )
        trained = recommender_train(
            dataset=dataset,
            config=config,
            seed=seed,
            progress=not options["no_progress"],
            output_dir=options["output_dir"],
            warm_start_from=parent,
        )
        recall = trained.metrics["validation"].get("recall@10")
        self.stdout.write(f"Saved {trained.path} (validation recall@10 {recall:.4f}).")
        if options["no_publish"]:
            return
        published = model_publish(trained.path, directory=options["output_dir"])
        self.stdout.write(self.style.SUCCESS(f"Published {published}"))

    @staticmethod
    def _checkpoint_path(checkpoint: str, directory: Path | None) -> Path:
        """``published`` (what serves now), a path, or a directory name inside the recommender artifacts folder."""
        if checkpoint == "published":
            path = published_artifact(directory)
            if path is None:
                raise CommandError(
                    "--from-checkpoint: no recommender is published yet; train one first (`python manage.py retrain_recommender`)."
                )
            return path
        path = Path(checkpoint)
        if not path.exists() and (recommender_artifacts_dir(directory) / checkpoint).is_dir():
            path = recommender_artifacts_dir(directory) / checkpoint
        return path
