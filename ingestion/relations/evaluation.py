"""Per-relation precision/recall/F1 over classified candidate pairs, and how to print them.

Protocol: every candidate ordered pair of a dev sentence is one decision. For a relation r, a true
positive is a pair whose gold and predicted class are both r; a false positive predicts r for a pair of
another gold class (NONE included); a false negative misses a gold r. Macro F1 averages the relations
that occur in the gold data of the split (NONE excluded); micro figures pool all non-NONE decisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ingestion.relations.schema import NONE_RELATION, RELATION_TYPES


def relation_scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted labels differ in length")
    per_relation: dict[str, dict[str, float | int]] = {}
    total_tp = total_fp = total_fn = 0
    for relation in (r.name for r in RELATION_TYPES):
        tp = sum(1 for g, p in zip(gold, predicted) if g == relation and p == relation)
        fp = sum(1 for g, p in zip(gold, predicted) if g != relation and p == relation)
        fn = sum(1 for g, p in zip(gold, predicted) if g == relation and p != relation)
        total_tp, total_fp, total_fn = total_tp + tp, total_fp + fp, total_fn + fn
        precision, recall, f1 = _prf(tp, fp, fn)
        per_relation[relation] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": tp + fn,
            "predicted": tp + fp,
        }
    supported = [scores["f1"] for scores in per_relation.values() if scores["support"] > 0]
    precision, recall, f1 = _prf(total_tp, total_fp, total_fn)
    return {
        "per_relation": per_relation,
        "macro_f1": sum(supported) / len(supported) if supported else 0.0,
        "macro_over": [name for name, scores in per_relation.items() if scores["support"] > 0],
        "micro": {"precision": precision, "recall": recall, "f1": f1},
        "pairs": len(gold),
        "none_pairs": sum(1 for g in gold if g == NONE_RELATION),
        "accuracy": sum(1 for g, p in zip(gold, predicted) if g == p) / len(gold) if gold else 0.0,
    }


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def format_comparison(results: Mapping[str, Mapping[str, Any]], *, title: str) -> str:
    """A text table with one P/R/F1 column group per system (``{"BiLSTM": scores, "LogReg": scores}``)."""
    systems = list(results)
    header = f"{'relation':20s}{'support':>8s}" + "".join(f"  {name[:21]:>21s}" for name in systems)
    sub = f"{'':28s}" + "".join(f"  {'P':>6s} {'R':>6s} {'F1':>6s}" for _ in systems)
    lines = [title, header, sub]
    first = results[systems[0]]
    for relation in (r.name for r in RELATION_TYPES):
        support = first["per_relation"][relation]["support"]
        row = f"{relation:20s}{support:>8d}"
        for name in systems:
            s = results[name]["per_relation"][relation]
            row += (
                f"  {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f}"
                if support
                else f"  {'—':>6s} {'—':>6s} {'—':>6s}"
            )
        lines.append(row)
    lines.append(
        f"{'micro (no NONE)':20s}{'':8s}"
        + "".join(
            f"  {results[n]['micro']['precision']:6.3f} {results[n]['micro']['recall']:6.3f} {results[n]['micro']['f1']:6.3f}"
            for n in systems
        )
    )
    lines.append(
        f"{'macro F1 (no NONE)':20s}{'':8s}"
        + "".join(f"  {'':6s} {'':6s} {results[n]['macro_f1']:6.3f}" for n in systems)
    )
    lines.append(f"{first['pairs']:,} candidate pairs, {first['none_pairs']:,} of them NONE.")
    return "\n".join(lines)
