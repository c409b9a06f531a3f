"""Exact span-match scoring of NER output: per label, micro, macro, and boundaries only.

Why our own scorer over character spans instead of token-level scoring: ingestion consumes character
offsets of raw text, so a prediction counts only if its start, end and label equal a gold entity's
(the CoNLL criterion). A gold entity whose boundary falls inside a spaCy token can never be predicted
and honestly counts as missed. Macro averages are over the labels that occur in the gold data (a label
predicted but absent from gold lowers micro precision only).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CharSpan = tuple[int, int, str]


@dataclass(frozen=True)
class Counts:
    """Gold, predicted and correct entity counts and the precision/recall/F1 they give."""

    gold: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "gold": self.gold,
            "predicted": self.predicted,
            "correct": self.correct,
        }


@dataclass(frozen=True)
class NerScores:
    sentences: int
    per_label: Mapping[str, Counts]
    micro: Counts
    #: Boundaries only (label ignored): how well entities are found at all.
    unlabeled: Counts
    #: Gold entities whose boundaries fall inside a token of the tokenizer: never predictable.
    unreachable_gold: int = 0

    @property
    def macro_labels(self) -> list[str]:
        return [label for label, counts in self.per_label.items() if counts.gold > 0]

    def _macro(self, attribute: str) -> float:
        labels = self.macro_labels
        return sum(getattr(self.per_label[label], attribute) for label in labels) / len(labels) if labels else 0.0

    @property
    def macro_precision(self) -> float:
        return self._macro("precision")

    @property
    def macro_recall(self) -> float:
        return self._macro("recall")

    @property
    def macro_f1(self) -> float:
        return self._macro("f1")

    def to_dict(self) -> dict[str, Any]:
        return {
            "sentences": self.sentences,
            "micro": self.micro.to_dict(),
            "macro": {
                "precision": round(self.macro_precision, 4),
                "recall": round(self.macro_recall, 4),
                "f1": round(self.macro_f1, 4),
                "labels": self.macro_labels,
            },
            "unlabeled": self.unlabeled.to_dict(),
            "unreachable_gold": self.unreachable_gold,
            "per_label": {label: counts.to_dict() for label, counts in self.per_label.items()},
        }


def score_spans(
    gold: Sequence[Iterable[CharSpan]],
    predicted: Sequence[Iterable[CharSpan]],
    *,
    labels: Sequence[str] | None = None,
    unreachable_gold: int = 0,
) -> NerScores:
    """Score predicted spans against gold spans, one iterable of ``(start, end, label)`` per sentence.

    ``labels`` fixes the order (and presence) of per-label rows; by default the labels seen, sorted.
    Duplicate spans within a sentence count once.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"gold has {len(gold)} sentences but predictions have {len(predicted)}.")
    gold_counts: Counter[str] = Counter()
    predicted_counts: Counter[str] = Counter()
    correct_counts: Counter[str] = Counter()
    unlabeled = [0, 0, 0]
    for gold_spans, predicted_spans in zip(gold, predicted):
        gold_set = set(gold_spans)
        predicted_set = set(predicted_spans)
        gold_counts.update(label for _, _, label in gold_set)
        predicted_counts.update(label for _, _, label in predicted_set)
        correct_counts.update(label for _, _, label in gold_set & predicted_set)
        gold_bounds = {(s, e) for s, e, _ in gold_set}
        predicted_bounds = {(s, e) for s, e, _ in predicted_set}
        unlabeled[0] += len(gold_bounds)
        unlabeled[1] += len(predicted_bounds)
        unlabeled[2] += len(gold_bounds & predicted_bounds)
    seen = sorted(set(gold_counts) | set(predicted_counts))
    order = list(labels) + [label for label in seen if label not in labels] if labels is not None else seen
    per_label = {label: Counts(gold_counts[label], predicted_counts[label], correct_counts[label]) for label in order}
    micro = Counts(sum(gold_counts.values()), sum(predicted_counts.values()), sum(correct_counts.values()))
    return NerScores(
        sentences=len(gold),
        per_label=per_label,
        micro=micro,
        unlabeled=Counts(*unlabeled),
        unreachable_gold=unreachable_gold,
    )


def predict_spans(
    nlp, sentences: Sequence, *, batch_size: int = 64
) -> tuple[list[list[CharSpan]], list[list[CharSpan]], int]:
    """Run ``nlp`` on each sentence's raw text (as ingestion would): gold spans, predicted spans, unreachable gold count."""
    gold = [sentence.char_entities() for sentence in sentences]
    predicted: list[list[CharSpan]] = []
    unreachable = 0
    for doc, gold_spans in zip(nlp.pipe((sentence.text for sentence in sentences), batch_size=batch_size), gold):
        predicted.append([(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents])
        unreachable += sum(1 for start, end, _ in gold_spans if doc.char_span(start, end) is None)
    return gold, predicted, unreachable


def evaluate_pipeline(
    nlp, sentences: Sequence, *, labels: Sequence[str] | None = None, batch_size: int = 64
) -> NerScores:
    """Score ``nlp`` on ``sentences`` (labelled sentences with ``text`` and ``char_entities()``)."""
    gold, predicted, unreachable = predict_spans(nlp, sentences, batch_size=batch_size)
    return score_spans(gold, predicted, labels=labels, unreachable_gold=unreachable)


def format_scores_table(reports: Mapping[str, NerScores], *, labels: Sequence[str] | None = None) -> str:
    """A Markdown table: one row per label (then micro, macro, boundaries), P/R/F1 and gold count per report.

    A label with no gold entity in a report but some predictions shows how many were predicted (all wrong).
    """
    names = list(reports)
    if labels is None:
        labels = sorted({label for scores in reports.values() for label in scores.per_label})
    header = "| label | " + " | ".join(f"{name} P | R | F1 | n" for name in names) + " |"
    rule = "|---|" + "|".join("---:|---:|---:|---:" for _ in names) + "|"
    rows = [header, rule]

    def cells(counts: Counts | None) -> str:
        if counts is None or (counts.gold == 0 and counts.predicted == 0):
            return " | ".join(["–", "–", "–", "0"])
        if counts.gold == 0:  # only false positives: say how many instead of three zeros
            return f"0.000 | – | – | 0 ({counts.predicted} predicted)"
        return f"{counts.precision:.3f} | {counts.recall:.3f} | {counts.f1:.3f} | {counts.gold}"

    for label in labels:
        if not any(
            label in r.per_label and (r.per_label[label].gold or r.per_label[label].predicted) for r in reports.values()
        ):
            continue
        rows.append(f"| {label} | " + " | ".join(cells(reports[name].per_label.get(label)) for name in names) + " |")
    rows.append("| **micro** | " + " | ".join(cells(reports[name].micro) for name in names) + " |")
    rows.append(
        "| **macro** | "
        + " | ".join(
            f"{r.macro_precision:.3f} | {r.macro_recall:.3f} | {r.macro_f1:.3f} | {len(r.macro_labels)} labels"
            for r in (reports[name] for name in names)
        )
        + " |"
    )
    rows.append("| boundaries only | " + " | ".join(cells(reports[name].unlabeled) for name in names) + " |")
    return "\n".join(rows)
