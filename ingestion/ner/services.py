"""One training run end to end: data, training, validation and dev report, artifact. Used by the
``train_ner`` command and by ``benchmarks/ner_quality.py`` so both produce the same artifact."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.labels import NER_LABELS
from ingestion.ner.artifacts import save_ner_artifact
from ingestion.ner.config import NerTrainingConfig
from ingestion.ner.evaluation import NerScores
from ingestion.ner.features import GAZETTEER_COMPONENT
from ingestion.ner.training import (
    TrainedNer,
    artist_band_merged_f1,
    assemble_training_data,
    default_data_dir,
    evaluate_dev,
    read_dev_sources,
    train_pipeline,
)


@dataclass(frozen=True)
class NerTrainingReport:
    path: Path | None
    version: str | None
    trained: TrainedNer
    dev: dict[str, NerScores]
    metrics: dict[str, Any]


def ner_train_and_save(
    config: NerTrainingConfig,
    *,
    data_dir: Path | None = None,
    store=None,
    output: Path | str | None = None,
    progress: bool = True,
    save: bool = True,
) -> NerTrainingReport:
    """Train with ``config`` and save the artifact under ``output`` (default ``<artifacts>/ner``).

    ``store`` is read for weak labels when the config uses them; pass ``None`` to train without.
    Everything is read and validated (corpora, dev sets, the course file) before training starts,
    so a missing or malformed file fails in seconds, not after the training.
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    cpu_started = time.process_time()
    dev_sets = read_dev_sources(data_dir=data_dir)
    data = assemble_training_data(config, data_dir=data_dir, store=store, progress=progress)
    trained = train_pipeline(config, data, progress=progress)
    dev = evaluate_dev(trained.nlp, dev_sets)
    gazetteer = trained.nlp.get_pipe(GAZETTEER_COMPONENT) if GAZETTEER_COMPONENT in trained.nlp.pipe_names else None
    metrics: dict[str, Any] = {
        "labels": list(NER_LABELS),
        "representation": config.representation,
        "gazetteer_feature_names": gazetteer.size if gazetteer is not None else None,
        "data": dict(data.stats),
        "training": {
            "best_epoch": trained.best_epoch,
            "epochs_run": trained.epochs_run,
            "history": trained.history,
            "train_seconds": round(trained.seconds, 1),
            "cpu_seconds_total": round(time.process_time() - cpu_started, 1),
            "blas_threads": 1,
            "selection": "best validation micro F1 (validation slice carved from the training data)",
        },
        "validation": trained.validation.to_dict(),
        "dev": {name: scores.to_dict() for name, scores in dev.items()},
        "dev_sentences": {name: len(sentences) for name, sentences in dev_sets.items()},
        # MusicRecoNER calls bands "Artist"; this view shows how much of the gap is the ARTIST/BAND split.
        "dev_micro_with_band_as_artist": {
            name: artist_band_merged_f1(trained.nlp, sentences) for name, sentences in dev_sets.items()
        },
    }
    path = save_ner_artifact(trained.nlp, config=config, metrics=metrics, directory=output) if save else None
    return NerTrainingReport(path=path, version=path.name if path else None, trained=trained, dev=dev, metrics=metrics)
