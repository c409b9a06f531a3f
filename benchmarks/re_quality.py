"""Relation extraction quality and speed: the saved BiLSTM artifact against the logistic-regression baseline.

What it measures, on the dev split the artifact's own config defines (CrossRE ``re_dev`` mapped to our
schema and the seeded FewRel dev fold; never trained on), **per source, never pooled**: CrossRE is
encyclopedic text with many unrelated pairs, FewRel one easy positive per sentence, so a combined figure
says little:

* per-relation P/R/F1, micro and macro F1 (NONE excluded) of the BiLSTM, computed through the public
  inference API (``load_relation_extractor().predict_many``) from raw sentence text and character spans,
  i.e. exactly what ingestion gets;
* the measured precision of the calibrated confidence at the reported thresholds (CrossRE dev);
* the same table for the baseline, retrained here on the artifact's training split (rebuilt from its
  config; distant-supervision labels are re-applied from the artifact's metrics.json, so no graph is needed);
* whether both tables equal the ones the training run saved (they must: same data, same code path);
* calibration: expected calibration error (10 bins) over the predicted relations of CrossRE dev, of the
  calibrated confidence (what facts store), of the temperature-scaled probability and of T = 1;
* throughput of ``predict_many`` (1 torch thread) and per-sentence ``predict`` latency.

    .venv/bin/python benchmarks/re_quality.py [--artifact DIR] [--batch-size 128] [--latency-sample 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks._common import data_dir, django_setup_on_scratch_db, percentile, save_result  # noqa: E402


def expected_calibration_error(confidences, correct, bins: int = 10) -> float:
    import numpy as np

    confidences, correct = np.asarray(confidences), np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidences > low) & (confidences <= high)
        if inside.any():
            total += inside.mean() * abs(confidences[inside].mean() - correct[inside].mean())
    return float(total)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--artifact",
        type=Path,
        default=None,
        help="Artifact version folder (default: newest under <LEITMOTIF_ARTIFACTS_DIR>/relations).",
    )
    parser.add_argument("--batch-size", type=int, default=128, help="Candidate pairs per forward pass in predict_many.")
    parser.add_argument(
        "--latency-sample", type=int, default=200, help="Dev sentences timed one by one with predict()."
    )
    parser.add_argument("--output", default="re_quality", help="Result name under benchmarks/results/.")
    args = parser.parse_args(argv)

    django_setup_on_scratch_db()
    import torch

    torch.set_num_threads(1)
    from ingestion.relations import load_relation_extractor
    from ingestion.relations.artifacts import latest_relation_artifact
    from ingestion.relations.baseline import LogisticRegressionBaseline
    from ingestion.relations.calibration import precision_at_thresholds
    from ingestion.relations.datasets import build_relation_datasets
    from ingestion.relations.distant import apply_recorded_distant_labels
    from ingestion.relations.evaluation import format_comparison, relation_scores
    from ingestion.relations.schema import NONE_RELATION, RELATION_LABELS

    artifact = args.artifact or latest_relation_artifact()  # <LEITMOTIF_ARTIFACTS_DIR>/relations
    extractor = load_relation_extractor(artifact)
    config = extractor.artifact.config
    saved = extractor.metrics
    recorded = saved["data"]["distant_supervision"].get("examples", [])
    datasets = build_relation_datasets(
        config,
        data_dir=data_dir(),
        distant=(lambda sentences: (apply_recorded_distant_labels(sentences, recorded), {})) if recorded else None,
    )
    print(f"Artifact {extractor.version}; dev {datasets.sizes()['dev']}", flush=True)

    # BiLSTM through the public API, timed (all dev sentences), scored per source.
    items = [(s.text, s.mentions) for s in datasets.dev]
    started = time.perf_counter()
    predictions = extractor.predict_many(items, batch_size=args.batch_size)
    many_seconds = time.perf_counter() - started
    pairs_total = sum(len(s.labelled_pairs()) for s in datasets.dev)

    latencies = []
    for text, mentions in items[: args.latency_sample]:
        t0 = time.perf_counter()
        extractor.predict(text, mentions)
        latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    baseline_model = LogisticRegressionBaseline.train(datasets.train, seed=config.seed)
    baseline_seconds = time.perf_counter() - started

    by_source: dict[str, dict] = {}
    calibration: dict[str, dict] = {}
    precision_tables: dict[str, list] = {}
    for source in sorted({s.source for s in datasets.dev}):
        rows = [i for i, s in enumerate(datasets.dev) if s.source == source]
        gold, predicted, confidence, probability, right = [], [], [], [], []
        for i in rows:
            found = {(x.head, x.tail): x for x in predictions[i]}
            for head, tail, label in datasets.dev[i].labelled_pairs():
                guess = found.get((head, tail))
                gold.append(label)
                predicted.append(guess.relation if guess else NONE_RELATION)
                if guess is not None:
                    confidence.append(guess.confidence)
                    probability.append(guess.probability)
                    right.append(guess.relation == label)
        subset = [datasets.dev[i] for i in rows]
        by_source[source] = {
            "BiLSTM": relation_scores(gold, predicted),
            "LogReg baseline": baseline_model.evaluate(subset),
        }
        gold_total = sum(1 for g in gold if g != NONE_RELATION)
        precision_tables[source] = precision_at_thresholds(confidence, right, gold_total=gold_total)
        calibration[source] = {
            "predicted_relations": len(right),
            "ece_10_bins_calibrated": round(expected_calibration_error(confidence, right), 4),
            "ece_10_bins_temperature_only": round(expected_calibration_error(probability, right), 4),
        }
        print()
        print(format_comparison(by_source[source], title=f"Dev split, {source} only (through the public API)"))
        print(f"  calibrated confidence on {source} dev: {precision_tables[source]}")
    print(
        f"\npredict_many: {len(items)} sentences, {pairs_total} candidate pairs in {many_seconds:.2f} s "
        f"({len(items) / many_seconds:.0f} sentences/s, {pairs_total / many_seconds:.0f} pairs/s); "
        f"predict() p50 {percentile(latencies, 50)} ms, p95 {percentile(latencies, 95)} ms; calibration {calibration}"
    )

    def same(a: dict, b: dict) -> bool:
        return all(abs(a["per_relation"][r]["f1"] - b["per_relation"][r]["f1"]) < 1e-9 for r in RELATION_LABELS[1:])

    save_result(
        args.output,
        {
            "artifact": extractor.version,
            "config": config.to_dict(),
            "protocol": "every candidate ordered mention pair of a dev sentence is one decision; macro F1 over relations present in "
            "the source's gold data, NONE excluded; CrossRE re_dev mapped and the FewRel dev fold (never trained on) are "
            "reported separately, never pooled",
            "headline": {
                "crossre_dev_macro_f1": round(by_source["crossre"]["BiLSTM"]["macro_f1"], 4)
                if "crossre" in by_source
                else None,
                "fewrel_dev_macro_f1": round(by_source["fewrel"]["BiLSTM"]["macro_f1"], 4)
                if "fewrel" in by_source
                else None,
            },
            "splits": datasets.sizes(),
            "dev_by_source": by_source,
            "precision_at_confidence": precision_tables,
            "matches_training_run": {
                source: {system: same(scores[system], saved["dev_by_source"][source][system]) for system in scores}
                for source, scores in by_source.items()
                if source in saved.get("dev_by_source", {})
            },
            "training": {
                "bilstm_seconds": saved["training_seconds"],
                "best_epoch": saved["best_epoch"],
                "epochs_trained": saved["epochs_trained"],
                "temperature": saved["temperature"],
                "none_bias": extractor.artifact.none_bias,
                "calibration": saved.get("calibration"),
                "distant_supervision": {
                    k: v for k, v in saved["data"]["distant_supervision"].items() if k != "examples"
                },
                "baseline_seconds_here": round(baseline_seconds, 2),
            },
            "calibration": calibration,
            "throughput": {
                "torch_threads": torch.get_num_threads(),
                "batch_size": args.batch_size,
                "sentences": len(items),
                "candidate_pairs": pairs_total,
                "predict_many_seconds": round(many_seconds, 3),
                "sentences_per_second": round(len(items) / many_seconds, 1),
                "pairs_per_second": round(pairs_total / many_seconds, 1),
                "predict_latency_ms": {
                    "sentences": len(latencies),
                    "p50": percentile(latencies, 50),
                    "p95": percentile(latencies, 95),
                },
            },
        },
    )


if __name__ == "__main__":
    main()
