"""``python manage.py train_relations``: train the BiLSTM relation extractor and its baseline, save an artifact.

Thin on purpose: the run is :func:`ingestion.relations.pipeline.run_relation_training`; this command
builds the config from its options, prints the dev table and the artifact path, and turns a
:class:`LeitmotifError` into a one-line ``CommandError``. Options are parsed here rather than by
argparse types so that a bad value is one line naming the option, not a usage dump.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from core.errors import ConfigurationError
from core.management import LeitmotifCommand


def _positive_int(option: str, raw: Any, *, minimum: int) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ConfigurationError(f"{option} must be an integer of at least {minimum}, got {raw!r}.") from None
    if value < minimum:
        raise ConfigurationError(f"{option} must be an integer of at least {minimum}, got {raw!r}.")
    return value


class Command(LeitmotifCommand):
    help = (
        "Train the BiLSTM relation extractor (CrossRE + FewRel music data, optional distant supervision from "
        "the graph) and a logistic-regression baseline, print both on the dev split and save a versioned "
        "artifact under <artifacts>/relations/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--epochs", default=None, help="Maximum training epochs (early stopping may end sooner).")
        parser.add_argument("--seed", default=None, help="Seed for splits, initialisation and batching.")
        parser.add_argument(
            "--distant", action="store_true", help="Add distant supervision from the graph's triples (off by default)."
        )
        parser.add_argument(
            "--no-distant", action="store_true", help="Skip distant supervision from the graph's triples (the default)."
        )
        parser.add_argument(
            "--output", default=None, help="Folder to hold the new version (default: <artifacts>/relations)."
        )
        parser.add_argument(
            "--backend",
            default=None,
            help="Graph store for distant supervision, e.g. sql or neo4j (default: settings.KG_BACKEND).",
        )
        parser.add_argument(
            "--data-dir", default=None, help="Shared data folder (default: settings.LEITMOTIF_DATA_DIR)."
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, **options) -> None:
        from ingestion.relations.config import RelationTrainingConfig
        from ingestion.relations.pipeline import run_relation_training

        overrides: dict[str, Any] = {}
        if options["epochs"] is not None:
            overrides["epochs"] = _positive_int("--epochs", options["epochs"], minimum=1)
        if options["seed"] is not None:
            overrides["seed"] = _positive_int("--seed", options["seed"], minimum=0)
        if options["distant"] and options["no_distant"]:
            raise ConfigurationError("Give at most one of --distant and --no-distant.")
        if options["distant"]:
            overrides["distant_supervision"] = True
        if options["no_distant"]:
            overrides["distant_supervision"] = False
        config = RelationTrainingConfig(**overrides)
        output = Path(options["output"]) if options["output"] else None
        if output is not None and output.exists() and not output.is_dir():
            raise ConfigurationError(
                f"--output {output} exists and is not a folder; give a folder to hold the artifact versions."
            )
        data_dir = Path(options["data_dir"]) if options["data_dir"] else Path(settings.LEITMOTIF_DATA_DIR)
        if not data_dir.is_dir():
            raise ConfigurationError(
                f"--data-dir {data_dir} is not a folder; point it at the shared data (see its README)."
            )
        store = None
        if config.distant_supervision:
            from kg.stores import get_store

            store = get_store(options["backend"] or settings.KG_BACKEND)
        try:
            self.stdout.write(
                f"Training the relation BiLSTM: up to {config.epochs} epochs, seed {config.seed}, "
                f"distant supervision {'on' if config.distant_supervision else 'off'}."
            )
            run = run_relation_training(
                config, data_dir=data_dir, store=store, output_dir=output, progress=not options["no_progress"]
            )
        finally:
            if store is not None:
                store.close()
        self._print(run)

    def _print(self, run) -> None:
        write = self.stdout.write
        sizes = run.datasets.sizes()
        for name in ("train", "validation", "dev"):
            s = sizes[name]
            write(
                f"{name:10s} {s['sentences']:>5,} sentences, {s['pairs']:>6,} candidate pairs ({s.get('NONE', 0):,} NONE)"
            )
        distant = run.datasets.report["distant_supervision"]
        if distant.get("enabled"):
            write(
                f"Distant supervision: {distant['added']} training pairs labelled from graph triples "
                f"{distant['added_by_relation'] or ''} ({distant['graph_entities_matched']} graph entities matched mention names)."
            )
        else:
            write("Distant supervision: off.")
        removed = run.datasets.report["train_sentences_removed_as_also_in_dev"]
        if removed:
            write(f"{removed} training sentences were left out because the same text is in dev.")
        b = run.bilstm
        write(
            f"BiLSTM: best epoch {b.best_epoch} of {b.epochs_trained} run, {b.training_seconds:.1f} s training, "
            f"temperature {b.temperature:.2f}; baseline {run.baseline_seconds:.1f} s."
        )
        write("")
        write(run.dev_table())
        calibration = b.calibrator.to_dict()
        write("")
        write(
            f"Confidence calibration: isotonic, fitted on {calibration['fitted_on']} "
            f"({calibration['predictions']} predicted relations). Measured on dev:"
        )
        for source, rows in run.precision_at_confidence.items():
            cells = ", ".join(
                f">{r['threshold']:.2f}: P={r['precision'] if r['precision'] is not None else '—'} "
                f"share={r['share_accepted']}"
                for r in rows
            )
            write(f"  {source}: {cells}")
        if run.artifact is not None:
            write("")
            write(self.style.SUCCESS(f"Saved the artifact to {run.artifact}"))
