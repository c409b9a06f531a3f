"""End-to-end knowledge extraction (NER -> linking -> relations) against CrossRE gold triples.

What it measures: the real ingestion analysis (:func:`ingestion.pipeline.analyse_text`, the very code
``ingest_text`` runs, filters included) with the newest NER artifact (``<artifacts>/ner``) and the newest
relation artifact (``<artifacts>/relations``), on raw sentence text:

* **test** = ``crossner-crossre-music/re_test_part_shared.jsonl`` (the 150 shared CrossRE test sentences,
  never trained on by the relation model); **validation** = the CrossRE sentences of the relation
  artifact's validation slice (rebuilt from its config; never trained on), used only to CHOOSE the
  auto-accept threshold, which is then REPORTED on test; **dev_report** = the artifact's CrossRE report
  part (never trained on, never used for a choice), reported too;
* gold triples: the CrossRE relations mapped to our schema (:mod:`ingestion.relations.corpus_mapping`),
  as ``(head name, relation, tail name)`` with names normalised like entity linking does (case, accents,
  punctuation, a leading "the"); a symmetric relation matches in either order. A predicted triple is
  right when the same normalised triple is gold in that sentence, so an NER boundary error is a miss;
* precision, recall, F1 (overall and per relation) of the triples the pipeline keeps (calibrated
  confidence >= its minimum), and the auto-accept curve: for each threshold t, the share of those
  triples with confidence > t and their precision;
* the threshold: the smallest t whose validation precision is >= ``--target-precision`` with at least
  ``--min-share`` of the validation triples accepted; its test precision and share are reported;
* sentences per second end to end on one CPU thread (model loading excluded).

Linking runs against an empty graph in a scratch database (no Last.FM load needed): every mention is
proposed as a new entity typed by its NER label, so the type filter sees NER types. What is measured is
extraction, not linking to existing entities.

    .venv/bin/python benchmarks/extraction_end_to_end.py [--ner DIR] [--relations DIR]
        [--target-precision 0.9] [--min-share 0.25]

Saves ``benchmarks/results/extraction_end_to_end.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks._common import data_dir, django_setup_on_scratch_db, save_result  # noqa: E402

CROSSRE = "crossner-crossre-music"
CURVE_THRESHOLDS = [round(0.5 + 0.01 * i, 2) for i in range(50)]


def gold_triples(sentence) -> set[tuple[str, str, str]]:
    """The sentence's mapped CrossRE relations as normalised-name triples."""
    from ingestion.linking import normalise_name
    from ingestion.relations.schema import RELATIONS_BY_NAME

    names = [normalise_name(sentence.text[m.start : m.end]) for m in sentence.mentions]
    return {
        triple_key(names[h], relation, names[t], RELATIONS_BY_NAME) for (h, t), relation in sentence.relations.items()
    }


def triple_key(head: str, relation: str, tail: str, schema) -> tuple[str, str, str]:
    if schema[relation].symmetric and tail < head:
        head, tail = tail, head
    return (head, relation, tail)


def run_split(sentences, *, ner, relations, store) -> dict[str, Any]:
    """Analyse every sentence; returns predicted triples with confidence, gold triples, timings."""
    from ingestion.linking import EntityLinker, normalise_name
    from ingestion.pipeline import analyse_text
    from ingestion.relations.schema import RELATIONS_BY_NAME

    linker = EntityLinker(store)
    _ = linker.index
    seconds: dict[str, float] = {}
    predicted: list[dict[str, Any]] = []
    gold: list[set[tuple[str, str, str]]] = []
    mention_stats = Counter()
    started = time.perf_counter()
    for index, sentence in enumerate(sentences):
        analysis = analyse_text(
            sentence.text, ner=ner, linker=linker, relations=relations, min_confidence=0.0, seconds=seconds
        )
        best: dict[tuple[str, str, str], float] = {}
        for fact in analysis.facts:
            head = normalise_name(analysis.mentions[fact.head].text)
            tail = normalise_name(analysis.mentions[fact.tail].text)
            key = triple_key(head, fact.relation, tail, RELATIONS_BY_NAME)
            best[key] = max(best.get(key, 0.0), fact.confidence)
        gold_here = gold_triples(sentence)
        gold.append(gold_here)
        for key, confidence in best.items():
            predicted.append({"sentence": index, "triple": key, "confidence": confidence, "correct": key in gold_here})
        found = {(normalise_name(m.text)) for m in analysis.mentions}
        wanted = {normalise_name(sentence.text[m.start : m.end]) for m in sentence.mentions}
        mention_stats["gold_mentions"] += len(wanted)
        mention_stats["found_mentions"] += len(found)
        mention_stats["matched_mentions"] += len(found & wanted)
    wall = time.perf_counter() - started
    return {
        "predicted": predicted,
        "gold": gold,
        "wall_seconds": wall,
        "stage_seconds": seconds,
        "mentions": dict(mention_stats),
    }


def scores(predicted: list[dict[str, Any]], gold: list[set], *, min_confidence: float) -> dict[str, Any]:
    from ingestion.relations.schema import RELATION_TYPES

    kept = [p for p in predicted if p["confidence"] >= min_confidence]
    gold_total = sum(len(g) for g in gold)
    tp = sum(p["correct"] for p in kept)
    precision = tp / len(kept) if kept else 0.0
    recall = tp / gold_total if gold_total else 0.0
    per_relation = {}
    for relation in (r.name for r in RELATION_TYPES):
        r_kept = [p for p in kept if p["triple"][1] == relation]
        r_gold = sum(1 for g in gold for t in g if t[1] == relation)
        r_tp = sum(p["correct"] for p in r_kept)
        if not r_kept and not r_gold:
            continue
        rp = r_tp / len(r_kept) if r_kept else 0.0
        rr = r_tp / r_gold if r_gold else 0.0
        per_relation[relation] = {
            "gold": r_gold,
            "extracted": len(r_kept),
            "correct": r_tp,
            "precision": round(rp, 4),
            "recall": round(rr, 4),
            "f1": round(2 * rp * rr / (rp + rr), 4) if rp + rr else 0.0,
        }
    return {
        "min_confidence": min_confidence,
        "gold_triples": gold_total,
        "extracted_triples": len(kept),
        "correct": tp,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
        "per_relation": per_relation,
    }


def acceptance_curve(predicted: list[dict[str, Any]], *, min_confidence: float) -> list[dict[str, Any]]:
    """For each threshold t: of the triples the pipeline keeps, the share with confidence > t (auto-accepted,
    as ingestion compares) and their precision."""
    kept = [p for p in predicted if p["confidence"] >= min_confidence]
    rows = []
    for threshold in CURVE_THRESHOLDS:
        accepted = [p for p in kept if p["confidence"] > threshold]
        rows.append(
            {
                "threshold": threshold,
                "accepted": len(accepted),
                "share_accepted": round(len(accepted) / len(kept), 4) if kept else 0.0,
                "precision": round(sum(p["correct"] for p in accepted) / len(accepted), 4) if accepted else None,
            }
        )
    return rows


def choose_threshold(curve: list[dict[str, Any]], *, target: float, min_share: float) -> dict[str, Any] | None:
    """The smallest threshold (most triples accepted) whose precision reaches ``target`` with at least
    ``min_share`` accepted; ``None`` if no threshold does."""
    for row in curve:
        if row["precision"] is not None and row["precision"] >= target and row["share_accepted"] >= min_share:
            return row
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ner", type=Path, default=None, help="NER artifact folder (default: newest).")
    parser.add_argument("--relations", type=Path, default=None, help="Relation artifact folder (default: newest).")
    parser.add_argument("--target-precision", type=float, default=0.9)
    parser.add_argument("--min-share", type=float, default=0.25)
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=None,
        help="The pipeline's minimum (default: its DEFAULT_MIN_CONFIDENCE).",
    )
    parser.add_argument("--limit", type=int, default=None, help="At most this many sentences per split (smoke runs).")
    parser.add_argument("--output", default="extraction_end_to_end")
    args = parser.parse_args(argv)

    django_setup_on_scratch_db()
    import torch

    torch.set_num_threads(1)
    from ingestion.ner import load_ner_model
    from ingestion.ner.artifacts import resolve_ner_artifact
    from ingestion.pipeline import DEFAULT_MIN_CONFIDENCE
    from ingestion.relations import load_relation_extractor
    from ingestion.relations.artifacts import latest_relation_artifact
    from ingestion.relations.corpora import crossre_to_annotated, read_crossre
    from ingestion.relations.datasets import build_relation_datasets, text_key
    from kg.stores import get_store

    min_confidence = DEFAULT_MIN_CONFIDENCE if args.min_confidence is None else args.min_confidence
    ner_path = resolve_ner_artifact(args.ner)
    re_path = args.relations or latest_relation_artifact()
    t0 = time.perf_counter()
    ner = load_ner_model(ner_path)
    relations = load_relation_extractor(re_path)
    relations.predict_many([("Warm up .", [])])
    load_seconds = time.perf_counter() - t0
    print(f"NER {ner.version}, relations {relations.version} (loaded in {load_seconds:.1f} s)", flush=True)
    store = get_store("sql")

    datasets = build_relation_datasets(relations.artifact.config, data_dir=data_dir())
    test_file = f"{CROSSRE}/re_test_part_shared.jsonl"
    trained_on = {text_key(s.text) for s in datasets.train}
    splits = {
        "validation": (
            "relation artifact's validation slice (CrossRE part)",
            [s for s in datasets.validation if s.source == "crossre"],
        ),
        "dev_report": ("relation artifact's CrossRE report part", [s for s in datasets.dev if s.source == "crossre"]),
        "test": (test_file, crossre_to_annotated(read_crossre(data_dir() / test_file))),
    }
    results: dict[str, Any] = {}
    for split, (filename, sentences) in splits.items():
        sentences = sentences[: args.limit] if args.limit else sentences
        overlap = sum(text_key(s.text) in trained_on for s in sentences)
        run = run_split(sentences, ner=ner, relations=relations, store=store)
        curve = acceptance_curve(run["predicted"], min_confidence=min_confidence)
        results[split] = {
            "sentences_from": filename,
            "sentences": len(sentences),
            "sentences_also_in_relation_training": overlap,
            "at_min_confidence": scores(run["predicted"], run["gold"], min_confidence=min_confidence),
            "precision_recall_by_min_confidence": [
                {
                    k: v
                    for k, v in scores(run["predicted"], run["gold"], min_confidence=t).items()
                    if k != "per_relation"
                }
                for t in (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
            ],
            "acceptance_curve": curve,
            "mentions": run["mentions"],
            "speed": {
                "torch_threads": torch.get_num_threads(),
                "wall_seconds": round(run["wall_seconds"], 2),
                "sentences_per_second": round(len(sentences) / run["wall_seconds"], 1),
                "stage_seconds": {k: round(v, 2) for k, v in run["stage_seconds"].items()},
            },
        }
        s = results[split]["at_min_confidence"]
        print(
            f"{split}: {len(sentences)} sentences, P={s['precision']:.3f} R={s['recall']:.3f} F1={s['f1']:.3f} "
            f"({s['extracted_triples']} triples kept, {s['gold_triples']} gold); "
            f"{results[split]['speed']['sentences_per_second']} sentences/s",
            flush=True,
        )
        for relation, row in s["per_relation"].items():
            print(
                f"    {relation:20s} gold {row['gold']:4d} extracted {row['extracted']:4d} P={row['precision']:.3f} R={row['recall']:.3f}"
            )

    chosen = choose_threshold(
        results["validation"]["acceptance_curve"], target=args.target_precision, min_share=args.min_share
    )
    on_test = None
    if chosen is not None:
        on_test = next(r for r in results["test"]["acceptance_curve"] if r["threshold"] == chosen["threshold"])
    print(f"auto-accept threshold chosen on validation: {chosen}; on test: {on_test}")
    save_result(
        args.output,
        {
            "ner_artifact": ner.version,
            "relation_artifact": relations.version,
            "protocol": (
                "analyse_text (NER -> linking on an empty graph -> relations -> pipeline filters) on each raw CrossRE "
                "sentence; gold = CrossRE relations mapped to the schema; a triple is right when its normalised head "
                "name, relation and tail name equal a gold triple of the same sentence (either order if symmetric). "
                "Threshold chosen on the validation slice, reported on test; confidence > threshold is auto-accepted."
            ),
            "model_load_seconds": round(load_seconds, 2),
            "min_confidence": min_confidence,
            "target": {"precision": args.target_precision, "min_share": args.min_share},
            "auto_accept": {"chosen_on_validation": chosen, "on_test": on_test},
            **results,
        },
    )


if __name__ == "__main__":
    main()
