"""Quality and speed of the music NER model: train one variant, report per-label dev scores, compare variants.

Builds the knowledge graph the weak labels and gazetteer features read on a throw-away database
(``load_lastfm`` + ``load_courses`` from the shared data, through the project's loaders), trains the
chosen variant (early stopping on a validation slice carved from the training data; dev sets are only
scored), prints a Markdown table, measures inference speed (sentences/s, one thread) and writes
``benchmarks/results/ner_quality_<variant>.json``. Then ``benchmarks/results/ner_quality.json`` is
rebuilt from every variant file present: one row per variant (representation, gazetteer, weak labels),
micro P/R/F1 per dev set, and the per-label detail of each.

Variants differ from the default :class:`~ingestion.ner.config.NerTrainingConfig` only as listed in
:data:`VARIANTS`; ``default`` is the shipped configuration. The trained model is saved as a normal
artifact (default ``<LEITMOTIF_ARTIFACTS_DIR>/ner/``) unless ``--no-save``.

    .venv/bin/python benchmarks/ner_quality.py [--variant default] [--config JSON] [--output DIR] [--no-save]
    .venv/bin/python benchmarks/ner_quality.py --summarize     # only rebuild ner_quality.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from _common import REPO, RESULTS, data_dir, django_setup_on_scratch_db, save_result

#: Variant name -> settings over the default config (pretrained encoder + gazetteer feature, gold data).
#: ``pretrained_sm_gold_only`` and ``blank_gold_only`` compare representations without any graph input.
VARIANTS: dict[str, dict] = {
    "default": {},
    "with_ontonotes_features": {"ontonotes_features": True},
    "default_15_epochs": {"epochs": 15},
    "learn_rate_0.002": {"learn_rate": 0.002},
    "dropout_0.35": {"dropout": 0.35},
    "lowercase_0.6": {"lowercase_fraction": 0.6},
    "pretrained_sm_gold_only": {"gazetteer_features": False},
    "blank_gold_only": {"representation": "blank.v1", "gazetteer_features": False},
    "default_plus_weak": {"weak_sources": ["mention_swap", "course_titles"], "weak_fraction": 0.5},
    # The configuration before issue 14 (its result file was measured then, with that code).
    "blank_weak_previous": {
        "representation": "blank.v1",
        "gazetteer_features": False,
        "weak_sources": ["mention_swap", "course_titles"],
        "weak_fraction": 1.0,
        "lowercase_band_as_artist": False,
        "epochs": 20,
        "patience": 5,
    },
}
SUMMARY_NAME = "ner_quality"


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


def inference_speed(nlp, texts: list[str], *, rounds: int = 3) -> dict:
    """Sentences per second of the whole pipeline over ``texts`` on one thread (median of ``rounds``)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    seconds = []
    with threadpool_limits(limits=1):
        list(nlp.pipe(texts[:50]))  # warm-up
        for _ in range(rounds):
            started = time.perf_counter()
            for _doc in nlp.pipe(texts, batch_size=64):
                pass
            seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    return {
        "sentences": len(texts),
        "seconds_median": round(median, 3),
        "sentences_per_second": round(len(texts) / median, 1),
        "rounds": rounds,
        "threads": 1,
    }


def _micro(report: dict, name: str) -> dict:
    micro = report["dev"][name]["micro"]
    return {key: micro[key] for key in ("precision", "recall", "f1")}


def summarize() -> Path | None:
    """Rebuild ``ner_quality.json`` from the per-variant result files present."""
    variants = {}
    for name in VARIANTS:
        path = RESULTS / f"{SUMMARY_NAME}_{name}.json"
        if path.is_file():
            variants[name] = json.loads(path.read_text())
    if not variants:
        print("No variant results yet; run benchmarks/ner_quality.py --variant NAME first.")
        return None
    rows = [
        "| variant | representation | gazetteer feature | OntoNotes feature | weak labels | CrossNER dev P / R / F1 | MusicRecoNER dev P / R / F1 | validation F1 | sentences/s |",
        "|---|---|---|---|---|---|---|---|---:|",
    ]
    comparison = {}
    for name, report in variants.items():
        config = report["config"]
        cross, queries = _micro(report, "crossner_dev"), _micro(report, "musicreconer_dev")
        speed = (report.get("inference") or {}).get("sentences_per_second")
        comparison[name] = {
            "overrides": VARIANTS[name],
            "representation": config.get("representation", "blank.v1"),
            "gazetteer_features": config.get("gazetteer_features", False),
            "ontonotes_features": config.get("ontonotes_features", False),
            "weak_sources": config.get("weak_sources", []),
            "crossner_dev_micro": cross,
            "musicreconer_dev_micro": queries,
            "validation_micro_f1": report["validation"]["micro"]["f1"],
            "best_epoch": report["training"]["best_epoch"],
            "train_seconds": report["training"]["train_seconds"],
            "inference": report.get("inference"),
            "artifact": report.get("artifact"),
            "measured_at": report.get("measured_at"),
        }
        rows.append(
            f"| {name} | {comparison[name]['representation']} | {'yes' if comparison[name]['gazetteer_features'] else 'no'} | "
            f"{'yes' if comparison[name]['ontonotes_features'] else 'no'} | "
            f"{', '.join(comparison[name]['weak_sources']) or 'none'} | "
            f"{cross['precision']:.3f} / {cross['recall']:.3f} / **{cross['f1']:.3f}** | "
            f"{queries['precision']:.3f} / {queries['recall']:.3f} / **{queries['f1']:.3f}** | "
            f"{comparison[name]['validation_micro_f1']:.3f} | {speed if speed is not None else '–'} |"
        )
    table = "\n".join(rows)
    print(table)
    return save_result(
        SUMMARY_NAME,
        {
            "variants": comparison,
            "comparison_table_markdown": table,
            "per_variant_detail": {
                name: {"dev": report["dev"], "dev_table_markdown": report.get("dev_table_markdown")}
                for name, report in variants.items()
            },
            "notes": (
                "Exact span match on raw text (character offsets), spaCy tokenization. Dev sets are used only for "
                "this report; the epoch is chosen on a seeded validation slice of the training data, and variants "
                "are compared for the record, not chosen by these dev figures. Per-variant files: "
                "ner_quality_<variant>.json."
            ),
        },
    )


def remeasure_speed(variant: str) -> None:
    """Load the artifact a variant's result file names, measure its inference speed again, save, summarize."""
    path = RESULTS / f"{SUMMARY_NAME}_{variant}.json"
    if not path.is_file():
        sys.exit(f"ner_quality: no result for variant {variant!r}; train it first.")
    report = json.loads(path.read_text())
    if not report.get("artifact"):
        sys.exit(f"ner_quality: the {variant!r} run kept no artifact (--no-save); train it again.")
    django_setup_on_scratch_db()
    from ingestion.ner import load_ner_model
    from ingestion.ner.training import read_dev_sources

    artifact = Path(report["artifact"])
    model = load_ner_model(artifact if artifact.is_absolute() else REPO / artifact)
    texts = [sentence.text for sentences in read_dev_sources(data_dir=data_dir()).values() for sentence in sentences]
    report["inference"] = {**inference_speed(model.nlp, texts), "remeasured": True}
    report.setdefault("quality_measured_at", report.get("measured_at"))
    print(f"Variant {variant}: {report['inference']['sentences_per_second']} sentences/s (one thread).")
    save_result(
        f"{SUMMARY_NAME}_{variant}",
        {k: v for k, v in report.items() if k not in ("benchmark", "measured_at", "machine")},
    )
    summarize()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="default", choices=sorted(VARIANTS), help="Which variant to train.")
    parser.add_argument("--summarize", action="store_true", help="Only rebuild ner_quality.json from variant files.")
    parser.add_argument(
        "--config", default=None, help="Extra training settings over the variant's, as JSON or a JSON file path."
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="Artifact folder (default: <LEITMOTIF_ARTIFACTS_DIR>/ner)."
    )
    parser.add_argument("--no-save", action="store_true", help="Do not keep the trained model as an artifact.")
    parser.add_argument(
        "--remeasure-speed",
        action="store_true",
        help="Only re-measure inference speed of the --variant's saved artifact (e.g. on a quieter machine).",
    )
    args = parser.parse_args(argv)
    if args.summarize:
        summarize()
        return
    if args.remeasure_speed:
        remeasure_speed(args.variant)
        return

    django_setup_on_scratch_db()
    from core.errors import LeitmotifError
    from ingestion.labels import NER_LABELS
    from ingestion.ner.config import NerTrainingConfig, config_from_json
    from ingestion.ner.evaluation import format_scores_table
    from ingestion.ner.services import ner_train_and_save
    from ingestion.ner.training import read_dev_sources
    from kg.stores.sql import SqlGraphStore

    try:
        config = NerTrainingConfig().updated(**VARIANTS[args.variant])
        if args.config:
            extra = config_from_json(args.config)
            config = config.updated(
                **{k: v for k, v in extra.to_dict().items() if v != NerTrainingConfig().to_dict()[k]}
            )
        root = data_dir()
        store = None
        graph = None
        if config.uses_weak_labels or config.gazetteer_features:
            store = SqlGraphStore()
            graph = build_graph(store, root=root)
            print(
                f"Graph for weak labels and gazetteer: {graph['entities']:,} entities, {graph['relations']:,} relations ({graph['seconds']} s)",
                flush=True,
            )
        report = ner_train_and_save(config, data_dir=root, store=store, output=args.output, save=not args.no_save)
        texts = [sentence.text for sentences in read_dev_sources(data_dir=root).values() for sentence in sentences]
    except LeitmotifError as exc:
        sys.exit(f"ner_quality: {exc}")

    table = format_scores_table(report.dev, labels=NER_LABELS)
    print(table)
    metrics = report.metrics
    speed = inference_speed(report.trained.nlp, texts)
    print(
        f"\nVariant {args.variant}: best epoch {metrics['training']['best_epoch']} of {metrics['training']['epochs_run']}; "
        f"training {metrics['training']['train_seconds']} s wall; validation micro F1 {metrics['validation']['micro']['f1']}; "
        f"inference {speed['sentences_per_second']} sentences/s (one thread)."
    )
    if report.path:
        print(f"Saved NER model {report.version} to {report.path}")
    save_result(
        f"{SUMMARY_NAME}_{args.variant}",
        {
            "variant": args.variant,
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
            "inference": speed,
            "notes": (
                "Exact span match on raw text (character offsets), spaCy tokenization. Dev sets are used only for this report; "
                "the epoch is chosen on a seeded validation slice of the training data. macro = mean over labels present in gold. "
                "inference = the whole saved pipeline (sentence split, gazetteer, NER) over the dev sentences, one thread."
            ),
        },
    )
    summarize()


if __name__ == "__main__":
    main()
