"""``python manage.py train_ner``: train the music NER model, print its dev scores, save a versioned artifact.

Thin on purpose: the work is :func:`ingestion.ner.services.ner_train_and_save`. Options override the
config (``--config`` first, then ``--epochs``/``--seed``/``--no-weak``); a bad value fails with one
line before anything is trained.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from core.management import LeitmotifCommand
from ingestion.labels import NER_LABELS
from ingestion.ner.config import NerTrainingConfig, config_from_json
from ingestion.ner.evaluation import format_scores_table
from ingestion.ner.services import ner_train_and_save
from kg.stores import get_store


class Command(LeitmotifCommand):
    help = (
        "Train the music-domain NER model (spaCy NER fine-tuned from en_core_web_sm's pretrained encoder, with the "
        "graph's names as gazetteer features) on CrossNER + MusicRecoNER and weak labels from the knowledge graph; "
        "report dev scores and save a versioned artifact."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--epochs", type=int, default=None, help="Maximum epochs (early stopping may end sooner).")
        parser.add_argument("--seed", type=int, default=None, help="Random seed (split, weak labels, training).")
        parser.add_argument(
            "--no-weak", action="store_true", help="Train on gold data only (no weak labels from the graph)."
        )
        parser.add_argument(
            "--no-gazetteer", action="store_true", help="Do not use the graph's names as an encoder feature."
        )
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            help="Folder for the artifact (default: <LEITMOTIF_ARTIFACTS_DIR>/ner).",
        )
        parser.add_argument(
            "--config",
            default=None,
            help="Training settings as a JSON object ('{\"dropout\": 0.3}') or the path of a JSON file.",
        )
        parser.add_argument(
            "--backend",
            default=None,
            help="Graph store for weak labels, e.g. sql or neo4j (default: settings.KG_BACKEND).",
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide progress bars.")

    def handle(self, *args, **options) -> None:
        config = config_from_json(options["config"]) if options["config"] else NerTrainingConfig()
        config = config.updated(epochs=options["epochs"], seed=options["seed"])
        if options["no_weak"]:
            config = config.updated(weak_sources=())
        if options["no_gazetteer"]:
            config = config.updated(gazetteer_features=False)
        output = options["output"]
        if output is not None and output.exists() and not output.is_dir():
            raise CommandError(f"--output {output} exists and is not a directory.")
        progress = not options["no_progress"]
        if config.uses_weak_labels or config.gazetteer_features:
            with get_store(options["backend"] or settings.KG_BACKEND) as store:
                store.ping()
                report = ner_train_and_save(config, store=store, output=output, progress=progress)
        else:
            report = ner_train_and_save(config, store=None, output=output, progress=progress)
        write = self.stdout.write
        data = report.metrics["data"]
        training = report.metrics["training"]
        weak = data["weak"]
        write(
            f"Trained on {data['gold_train_total']:,} gold sentences + {weak.get('total_used', 0):,} weak examples "
            f"({', '.join(f'{k} {v}' for k, v in weak.get('used', {}).items()) or weak.get('reason', '')}) "
            f"+ {data['lowercased_copies']:,} lower-cased copies; validation {data['validation_total']:,} sentences."
        )
        write(
            f"Best epoch {training['best_epoch']} of {training['epochs_run']} run; validation micro F1 "
            f"{report.trained.validation.micro.f1:.3f}; {training['train_seconds']:.0f} s training."
        )
        write("Dev scores (exact span match):")
        write(format_scores_table(report.dev, labels=NER_LABELS))
        write(f"Saved NER model {report.version} to {report.path}")
