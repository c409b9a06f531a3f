"""``python manage.py publish_model [ARTIFACT_DIR]``: make a trained recommender artifact the one every process serves.

Thin on purpose: :func:`recommender.serving.model_holder.model_publish` verifies the artifact completely
(checksums, config, weights) and only then rewrites the ``PUBLISHED`` pointer atomically; each serving
process swaps to the new model on its next request. Without an argument the newest complete artifact
under ``<artifacts>/recommender/`` is published.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandParser

from core.errors import LeitmotifError
from core.management import LeitmotifCommand, one_line
from recommender.serving.model_holder import model_publish


class Command(LeitmotifCommand):
    help = (
        "Publish a trained recommender artifact (default: the newest under <artifacts>/recommender/) so the "
        "serving processes switch to it on their next request. A corrupt artifact is refused."
    )

    def error_message(self, exc: LeitmotifError) -> str:
        # Why the prefix: a refused artifact leaves the served model as it was, and the operator should know.
        return one_line(f"Nothing published: {exc}")

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
        path = model_publish(options["artifact"], directory=options["artifacts_dir"])
        self.stdout.write(self.style.SUCCESS(f"Published {path}"))
