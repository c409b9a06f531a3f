"""Quality of the music NER model: train the default config, report per-label dev scores.

Builds the knowledge graph the weak labels read on a throw-away database (``load_lastfm`` +
``load_courses`` from the shared data, through the project's loaders), trains with the default
:class:`~ingestion.ner.config.NerTrainingConfig` (early stopping on a validation slice carved from the
training data), scores exact span matches on the CrossNER and MusicRecoNER dev sets, prints a Markdown
table and writes ``benchmarks/results/ner_quality.json``. The trained model is saved as a normal
artifact (default ``<LEITMOTIF_ARTIFACTS_DIR>/ner/``), so the run also provides the model ingestion loads.

    .venv/bin/python benchmarks/ner_quality.py [--no-weak] [--config JSON] [--output DIR] [--no-save]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import REPO, data_dir, django_setup_on_scratch_db, save_result


def build_graph(store, *, root: Path) -> dict:
    """The Last.FM graph and the course links, as ``make load`` builds them."""
    from ingestion.loaders.courses import DEFAULT_RELATIVE_PATH, courses_load
    from ingestion.loaders.lastfm import lastfm_load

    started = time.perf_counter()
    lastfm_load(data_dir=root, store=store, progress=True)
    courses_load(root / DEFAULT_RELATIVE_PATH, store=store, progress=True)
    stats = store.stats()
    return {
        "entities": stats.entities,
        "relations": stats.relations,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-weak", action="store_true", help="Gold data only (no graph is built).")
    parser.add_argument(
        "--config", default=None, help="Training settings over the defaults, as JSON or a JSON file path."
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="Artifact folder (default: <LEITMOTIF_ARTIFACTS_DIR>/ner)."
    )
    parser.add_argument("--no-save", action="store_true", help="Do not keep the trained model as an artifact.")
    parser.add_argument("--result-name", default="ner_quality", help="Name of the JSON file under benchmarks/results/.")
    args = parser.parse_args(argv)

    django_setup_on_scratch_db()
    from core.errors import LeitmotifError
    from ingestion.labels import NER_LABELS
    from ingestion.ner.config import NerTrainingConfig, config_from_json
    from ingestion.ner.evaluation import format_scores_table
    from ingestion.ner.services import ner_train_and_save
    from kg.stores.sql import SqlGraphStore

    try:
        config = config_from_json(args.config) if args.config else NerTrainingConfig()
        if args.no_weak:
            config = config.updated(weak_sources=())
        root = data_dir()
        store = None
        graph = None
        if config.uses_weak_labels:
            store = SqlGraphStore()
            graph = build_graph(store, root=root)
            print(
                f"Graph for weak labels: {graph['entities']:,} entities, {graph['relations']:,} relations ({graph['seconds']} s)",
                flush=True,
            )
        report = ner_train_and_save(config, data_dir=root, store=store, output=args.output, save=not args.no_save)
    except LeitmotifError as exc:
        sys.exit(f"ner_quality: {exc}")

    table = format_scores_table(report.dev, labels=NER_LABELS)
    print(table)
    metrics = report.metrics
    print(
        f"\nBest epoch {metrics['training']['best_epoch']} of {metrics['training']['epochs_run']}; "
        f"training {metrics['training']['train_seconds']} s wall; validation micro F1 {metrics['validation']['micro']['f1']}."
    )
    if report.path:
        print(f"Saved NER model {report.version} to {report.path}")
    save_result(
        args.result_name,
        {
            "config": config.to_dict(),
            "artifact": str(report.path.relative_to(REPO))
            if report.path and report.path.is_relative_to(REPO)
            else (str(report.path) if report.path else None),
            "graph_for_weak_labels": graph,
            "data": metrics["data"],
            "training": metrics["training"],
            "validation": metrics["validation"],
            "dev": metrics["dev"],
            "dev_micro_with_band_as_artist": metrics["dev_micro_with_band_as_artist"],
            "dev_table_markdown": table,
            "notes": (
                "Exact span match on raw text (character offsets), spaCy tokenization. Dev sets are used only for this report; "
                "the epoch is chosen on a seeded validation slice of the training data. macro = mean over labels present in gold."
            ),
        },
    )


if __name__ == "__main__":
    main()
