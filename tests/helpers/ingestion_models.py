"""Tiny trained NER and relation-extraction artifacts, for tests that run the ingestion pipeline for real.

:func:`train_tiny_ingestion_models` trains, in about three seconds, a NER model that knows
"<First Last> plays the <instrument> ." and a relation model that knows INSTRUMENTS_PLAYED from the same
pattern (the relation tests' corpus), for ``tests/ingestion/test_pipeline.py`` and the end-to-end test; :func:`install_ingestion_models`
copies them where :func:`ingestion.pipeline.load_pipeline` looks (``<artifacts>/ner``, ``<artifacts>/relations``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.helpers.ner_corpora import bio_text, read_bio_text
from tests.helpers.relation_corpora import (
    CROSSRE,
    DEV_LINE,
    DUET,
    FEWREL,
    METALLICA,
    PUPPETS,
    fewrel_lines,
    tiny_config,
)

PEOPLE = ["Alice Smith", "Bob Jones", "Carla Diaz", "Dan Brown", "Eva Green", "Frank Lee", "Gina Ray", "Hugo Kim"]
INSTRUMENTS = ["cello", "guitar", "piano", "violin", "drums", "flute", "harp", "banjo"]


def train_tiny_ingestion_models(root: Path) -> dict[str, Path]:
    """Train both tiny models under ``root``; returns their artifact folders (``ner``, ``relations``)."""
    from ingestion.ner import NerTrainingConfig
    from ingestion.ner.artifacts import save_ner_artifact
    from ingestion.ner.training import assemble_training_data, train_pipeline
    from ingestion.relations.pipeline import run_relation_training

    sentences = [
        (f"{person} plays the {instrument} .", [(0, 2, "musicalartist"), (4, 5, "musicalinstrument")])
        for person in PEOPLE
        for instrument in INSTRUMENTS
    ]
    config = NerTrainingConfig(
        seed=7,
        representation="blank.v1",  # seconds to train, no pretrained package needed
        gazetteer_features=False,
        epochs=6,
        patience=6,
        width=32,
        depth=1,
        embed_rows=500,
        hidden_width=32,
        learn_rate=0.01,
        batch_size_start=4,
        batch_size_end=8,
        validation_fraction=0.1,
        weak_sources=(),
    )
    data = assemble_training_data(
        config, train_sources={"crossner_train": read_bio_text(bio_text(sentences), corpus="crossner")}
    )
    ner_path = save_ner_artifact(
        train_pipeline(config, data, progress=False).nlp, config=config, metrics={}, directory=root / "ner"
    )
    data_dir = root / "data"
    (data_dir / CROSSRE).mkdir(parents=True)
    (data_dir / FEWREL).mkdir()
    (data_dir / CROSSRE / "re_train.jsonl").write_text("\n".join([METALLICA, PUPPETS, DUET]) + "\n")
    (data_dir / CROSSRE / "re_test_part_shared.jsonl").write_text(
        DEV_LINE.replace("music-dev-1", "music-test-9") + "\n"
    )
    (data_dir / CROSSRE / "re_dev.jsonl").write_text(DEV_LINE + "\n")
    (data_dir / FEWREL / "train.jsonl").write_text("\n".join(fewrel_lines()) + "\n")
    run = run_relation_training(tiny_config(epochs=4), data_dir=data_dir, output_dir=root / "relations", progress=False)
    return {"ner": Path(ner_path), "relations": Path(run.artifact)}


def install_ingestion_models(models: dict[str, Path], artifacts_dir: Path) -> None:
    """Copy the artifacts into ``artifacts_dir`` where the pipeline loads the latest ones from."""
    for kind, path in models.items():
        shutil.copytree(path, artifacts_dir / kind / path.name)
