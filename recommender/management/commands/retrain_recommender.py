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
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kg.stores import get_store
from learning_platform.errors import LeitmotifError
from recommender.data import InteractionDataset
from recommender.models.config import JointConfig
from recommender.serving.model_holder import model_publish
from recommender.training import recommender_train

#: The machine has 2 cores shared with the web processes; more threads only add contention.
MAX_TORCH_THREADS = 2


class Command(BaseCommand):
    help = "Retrain the recommender on the current catalog (incl. learners' listens and likes) and publish it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=0, help="Seed for the split, initialisation and sampling.")
        parser.add_argument("--epochs", type=int, default=None, help="Maximum training epochs (default: the config's).")
        parser.add_argument("--no-content", action="store_true", help="Train without the text content part.")
        parser.add_argument("--backend", default=None, help="Graph store name (default: settings.KG_BACKEND).")
        parser.add_argument("--output-dir", type=Path, default=None, help="Folder for recommender artifacts (default: <artifacts>/recommender).")
        parser.add_argument("--no-publish", action="store_true", help="Train and save, but leave the served model as it is.")
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bars.")

    def handle(self, *args, **options) -> None:
        torch.set_num_threads(max(1, min(MAX_TORCH_THREADS, os.cpu_count() or 1)))
        overrides = {"use_content": not options["no_content"]}
        if options["epochs"] is not None:
            overrides["epochs"] = options["epochs"]
        try:
            config = JointConfig().with_overrides(**overrides)
            with get_store(options["backend"] or settings.KG_BACKEND) as store:
                try:
                    dataset = InteractionDataset.from_catalog(store=store)
                except ValueError as exc:
                    raise CommandError(f"{exc} Run `python manage.py load_lastfm` first.") from None
            self.stdout.write(f"Retraining on {dataset.n_users:,} listeners × {dataset.n_items:,} artists ({dataset.n_interactions:,} listens).")
            trained = recommender_train(
                dataset=dataset, config=config, seed=options["seed"], progress=not options["no_progress"],
                output_dir=options["output_dir"],
            )
            recall = trained.metrics["validation"].get("recall@10")
            self.stdout.write(f"Saved {trained.path} (validation recall@10 {recall:.4f}).")
            if options["no_publish"]:
                return
            published = model_publish(trained.path, directory=options["output_dir"])
        except LeitmotifError as exc:
            raise CommandError(str(exc).replace("\n", " ")) from None
        self.stdout.write(self.style.SUCCESS(f"Published {published}"))
