"""One training run end to end: data → BiLSTM + baseline → dev tables → saved artifact.

Kept out of the management command so tests, the benchmark and the command run exactly the same steps.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ingestion.relations.artifacts import save_relation_artifact
from ingestion.relations.baseline import LogisticRegressionBaseline
from ingestion.relations.calibration import precision_at_thresholds
from ingestion.relations.config import RelationTrainingConfig
from ingestion.relations.datasets import RelationDatasets, build_relation_datasets
from ingestion.relations.distant import apply_distant_supervision
from ingestion.relations.evaluation import format_comparison
from ingestion.relations.records import AnnotatedSentence
from ingestion.relations.schema import RELATION_LABELS
from ingestion.relations.training import BiLstmTrainingResult, calibrated_decisions, evaluate_bilstm, train_bilstm
from kg.stores.base import KnowledgeGraphStore

BILSTM = "BiLSTM"
BASELINE = "LogReg baseline"


@dataclass
class RelationTrainingRun:
    config: RelationTrainingConfig
    datasets: RelationDatasets
    bilstm: BiLstmTrainingResult
    dev_by_source: dict[str, dict[str, dict[str, Any]]]  # source → system → scores
    baseline_seconds: float
    artifact: Path | None
    #: source → measured precision/share/recall of the calibrated confidence at the reported thresholds (dev)
    precision_at_confidence: dict[str, list[dict[str, Any]]]

    def dev_table(self) -> str:
        """One table per source: CrossRE (hard, encyclopedic) and FewRel (one easy positive per sentence)
        are never pooled into one headline."""
        return "\n\n".join(self.source_tables())

    def source_tables(self) -> list[str]:
        return [
            format_comparison(scores, title=f"Dev split, {source} only (candidate pairs)")
            for source, scores in self.dev_by_source.items()
        ]

    def metrics(self) -> dict[str, Any]:
        return {
            "labels": list(RELATION_LABELS),
            "dev_by_source": self.dev_by_source,
            "calibration": self.bilstm.calibrator.to_dict(),
            "precision_at_confidence": self.precision_at_confidence,
            "validation": self.bilstm.validation_scores,
            "temperature": self.bilstm.temperature,
            "best_epoch": self.bilstm.best_epoch,
            "epochs_trained": self.bilstm.epochs_trained,
            "training_seconds": round(self.bilstm.training_seconds, 2),
            "baseline_training_seconds": round(self.baseline_seconds, 2),
            "history": self.bilstm.history,
            "class_weights": self.bilstm.class_weights,
            "vocabulary_size": len(self.bilstm.vocabulary),
            "splits": self.datasets.sizes(),
            "data": self.datasets.report,
        }


def _by_source(sentences: Sequence[AnnotatedSentence]) -> dict[str, list[AnnotatedSentence]]:
    groups: dict[str, list[AnnotatedSentence]] = {}
    for sentence in sentences:
        groups.setdefault(sentence.source, []).append(sentence)
    return groups


def _distant_labels(
    sentences: list[AnnotatedSentence], *, store: KnowledgeGraphStore
) -> tuple[list[AnnotatedSentence], dict[str, Any]]:
    labelled, report = apply_distant_supervision(sentences, store)
    return labelled, report.to_dict()


def run_relation_training(
    config: RelationTrainingConfig,
    *,
    data_dir: Path | str | None = None,
    store: KnowledgeGraphStore | None = None,
    output_dir: Path | str | None = None,
    save: bool = True,
    progress: bool = True,
) -> RelationTrainingRun:
    """Build the splits, train both systems, score them on dev and (``save``) write the artifact.

    ``store`` is the graph for distant supervision (needed only when ``config.distant_supervision``;
    ``None`` then opens the default store from settings).
    """
    if data_dir is None:
        from django.conf import settings

        data_dir = settings.LEITMOTIF_DATA_DIR
    distant = None
    opened: KnowledgeGraphStore | None = None
    if config.distant_supervision:
        if store is None:
            from kg.stores.registry import get_store

            store = opened = get_store()
        distant = partial(_distant_labels, store=store)
    try:
        datasets = build_relation_datasets(config, data_dir=data_dir, distant=distant)
    finally:
        if opened is not None:
            opened.close()
    bilstm = train_bilstm(datasets.train, datasets.validation, config, progress=progress)
    started = time.perf_counter()
    baseline = LogisticRegressionBaseline.train(datasets.train, seed=config.seed)
    baseline_seconds = time.perf_counter() - started

    def score(sentences: Sequence[AnnotatedSentence]) -> dict[str, dict[str, Any]]:
        return {BILSTM: evaluate_bilstm(bilstm, sentences)[0], BASELINE: baseline.evaluate(sentences)}

    decisions = calibrated_decisions(bilstm, datasets.dev)
    precision: dict[str, list[dict[str, Any]]] = {}
    for source in sorted(set(decisions.sources)):
        confidences, correct, gold_total = decisions.relation_confidences(source)
        precision[source] = precision_at_thresholds(confidences, correct, gold_total=gold_total)
    run = RelationTrainingRun(
        config=config,
        datasets=datasets,
        bilstm=bilstm,
        dev_by_source={source: score(sentences) for source, sentences in sorted(_by_source(datasets.dev).items())},
        baseline_seconds=baseline_seconds,
        artifact=None,
        precision_at_confidence=precision,
    )
    if save:
        run.artifact = save_relation_artifact(
            bilstm, metrics=run.metrics(), directory=output_dir, precision_at_confidence=precision
        )
    return run
