"""``python manage.py publish_model [ARTIFACT_DIR]``: make a trained recommender artifact the one every process serves.

Thin on purpose: :func:`recommender.serving.model_holder.model_publish` verifies the artifact completely
(checksums, config, weights) and only then rewrites the ``PUBLISHED`` pointer atomically; each serving
process swaps to the new model on its next request. Without an argument the newest complete artifact
under ``<artifacts>/recommender/`` is published.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import LeitmotifError
from recommender.serving.model_holder import model_publish


class Command(BaseCommand):
    help = (
        "Publish a trained recommender artifact (default: the newest under <artifacts>/recommender/) so the "
        "serving processes switch to it on their next request. A corrupt artifact is refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "artifact",
            nargs="?",
            type=Path,
            default=None,
            help="Artifact directory (a path, or a directory name under <artifacts>/recommender/).",
        )
        parser.add_argument(
            "--artifacts-dir",
            type=Path,
            default=None,
            help="Folder holding recommender artifacts and the PUBLISHED pointer (default: <artifacts>/recommender).",
        )

    def handle(self, *args, **options) -> None:
        try:
            path = model_publish(options["artifact"], directory=options["artifacts_dir"])
        except LeitmotifError as exc:
            raise CommandError(f"Nothing published: {exc}".replace("\n", " ")) from None
        self.stdout.write(self.style.SUCCESS(f"Published {path}"))
