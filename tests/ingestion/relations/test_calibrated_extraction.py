"""Trustworthy extraction (issue 14): the explicit NONE class, schema-enforced argument types, a
calibrated confidence that means precision, its round trip through the artifact, and what the pipeline
does with it (filters, de-duplication, confidence = the calibrated one).

Tiny models only: the relation model is trained on the tiny corpora of ``tests/helpers/relation_corpora``
(with the real MiniLM encoder where the test is about the artifact, without it where speed matters).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import ModelArtifactError
from ingestion.linking import EntityLinker, LinkResult
from ingestion.pipeline import analyse_text, fits_relation
from ingestion.relations import MentionSpan, load_relation_extractor
from ingestion.relations.artifacts import MANIFEST_FILE, relation_precision_table
from ingestion.relations.calibration import IsotonicCalibrator, fit_isotonic, precision_at_thresholds
from ingestion.relations.corpora import crossre_to_annotated, read_crossre
from ingestion.relations.datasets import build_relation_datasets
from ingestion.relations.encoding import collate, encode_pairs
from ingestion.relations.features import Vocabulary
from ingestion.relations.model import BiLstmRelationClassifier
from ingestion.relations.pipeline import run_relation_training
from ingestion.relations.schema import NONE_RELATION, RELATION_LABELS, RELATIONS_BY_NAME
from ingestion.relations.training import flatten
from kg.stores.base import EntityRecord
from tests.helpers.ingestion_models import train_tiny_ingestion_models
from tests.helpers.relation_corpora import (
    CROSSRE,
    DEV_LINE,
    DUET,
    FEWREL,
    METALLICA,
    PUPPETS,
    crossre_line,
    fewrel_lines,
    tiny_config,
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / CROSSRE).mkdir(parents=True)
    (root / FEWREL).mkdir()
    (root / CROSSRE / "re_train.jsonl").write_text("\n".join([METALLICA, PUPPETS, DUET]) + "\n", encoding="utf-8")
    (root / CROSSRE / "re_dev.jsonl").write_text(DEV_LINE + "\n", encoding="utf-8")
    (root / FEWREL / "train.jsonl").write_text("\n".join(fewrel_lines()) + "\n", encoding="utf-8")
    return root


# --- the NONE class ----------------------------------------------------------------------------------


def test_unrelated_pairs_of_annotated_sentences_are_trained_as_none(data_dir, tmp_path):
    line = crossre_line(
        "music-train-7",
        "Lemmy played bass ; Ozzy sang in Motorhead .",
        [[0, 0, "musicalartist"], [2, 2, "musicalinstrument"], [4, 4, "musicalartist"], [7, 7, "band"]],
        [[0, 0, 2, 2, "usage", "", False, False]],
    )
    (tmp_path / "one.jsonl").write_text(line + "\n", encoding="utf-8")
    [sentence] = crossre_to_annotated(read_crossre(tmp_path / "one.jsonl"))
    labelled = {(h, t): label for h, t, label in sentence.labelled_pairs()}
    # The gold pair is a positive; the other type-fitting pairs of the same sentence are NONE examples
    # (Ozzy plays no bass here, neither artist is said to be in Motorhead).
    assert labelled.pop((0, 1)) == "INSTRUMENTS_PLAYED"
    assert set(labelled) == {(0, 2), (0, 3), (2, 0), (2, 1), (2, 3), (3, 0), (3, 2)}
    assert set(labelled.values()) == {NONE_RELATION}
    pairs = flatten([sentence], vocabulary=Vocabulary([]), config=tiny_config(contextual_encoder=None))
    assert sorted(pairs.labels) == [0] * 7 + [RELATION_LABELS.index("INSTRUMENTS_PLAYED")]
    assert pairs.sources == ["crossre"] * 8


# --- argument types ----------------------------------------------------------------------------------


def test_a_relation_whose_argument_types_do_not_fit_is_impossible_whatever_the_weights():
    torch.manual_seed(0)
    model = BiLstmRelationClassifier(
        vocab_size=60, num_classes=len(RELATION_LABELS), embedding_dim=8, hidden_dim=8, mlp_dim=8, dropout=0.0
    )
    with torch.no_grad():  # push every relation logit up: the mask must still win
        model.head[-1].bias.copy_(torch.full((len(RELATION_LABELS),), 50.0))
    text = "Zoe Hart plays the cello"
    mentions = [MentionSpan(0, 8, "ARTIST"), MentionSpan(19, 24, "INSTRUMENT")]
    vocabulary = Vocabulary([])
    encoded = encode_pairs(text, mentions, [(0, 1), (1, 0)], vocabulary=vocabulary, max_tokens=40)
    batch = collate(encoded, pad_id=vocabulary.pad_id)
    probabilities = torch.softmax(
        model(batch.token_ids, batch.lengths, batch.head_index, batch.tail_index, batch.allowed), dim=1
    )
    allowed_forward = {RELATION_LABELS[i] for i in range(len(RELATION_LABELS)) if probabilities[0, i] > 0}
    assert allowed_forward == {NONE_RELATION, "INSTRUMENTS_PLAYED"}
    # INSTRUMENT -> ARTIST fits no relation: only NONE has any probability at all.
    assert probabilities[1, RELATION_LABELS.index(NONE_RELATION)] == 1.0


def test_linked_types_must_fit_the_relation():
    def link(entity_type: str) -> LinkResult:
        return LinkResult(f"x:{entity_type}", entity_type, "x", "exact", 1.0)

    assert fits_relation("HAS_GENRE", link("Band"), link("Tag"))
    assert fits_relation("INSTRUMENTS_PLAYED", link("MusicalArtist"), link("Instrument"))
    assert not fits_relation("HAS_GENRE", link("Place"), link("Tag"))  # a country is not a band
    assert not fits_relation("MEMBER_OF", link("MusicalArtist"), link("Place"))
    assert not fits_relation("NOT_A_RELATION", link("Band"), link("Tag"))


@pytest.mark.django_db
def test_a_name_the_graph_knows_as_another_kind_of_entity_is_a_label_conflict(sql_store):
    sql_store.upsert_entities([EntityRecord("kgcn:place:1", "Place", "Croatia")])
    linker = EntityLinker(sql_store)
    assert linker.conflicting_types("Croatia", "BAND") == ("Place",)
    assert linker.conflicting_types("Croatia", "PLACE") == ()
    assert linker.conflicting_types("Radiohead", "BAND") == ()
    linker.link("Radiohead", "BAND")  # a proposal of this linker never conflicts with anything
    assert linker.conflicting_types("Radiohead", "GENRE") == ()


# --- calibration -------------------------------------------------------------------------------------


def test_isotonic_calibration_is_monotone_and_means_precision():
    rng = random.Random(0)
    probabilities, correct = [], []
    # Three groups of predictions whose real precision is 0.3, 0.6 and 0.9 although the model says 0.9+.
    for probability, precision in ((0.91, 0.3), (0.95, 0.6), (0.99, 0.9)):
        for _ in range(400):
            probabilities.append(probability + rng.uniform(-0.005, 0.005))
            correct.append(rng.random() < precision)
    calibrator = fit_isotonic(probabilities, correct, fitted_on="fixture")
    grid = np.linspace(0.0, 1.0, 201)
    values = calibrator.apply(grid)
    assert np.all(np.diff(values) >= -1e-12) and values.min() >= 0.0 and values.max() < 1.0
    for probability, precision in ((0.91, 0.3), (0.95, 0.6), (0.99, 0.9)):
        assert calibrator(probability) == pytest.approx(precision, abs=0.06)
    # The measured precision above a calibrated threshold is at least that threshold (what auto-accept needs).
    calibrated = calibrator.apply(probabilities)
    for row in precision_at_thresholds(calibrated, correct, thresholds=(0.5, 0.8), gold_total=2000):
        assert row["precision"] is not None and row["precision"] >= row["threshold"] - 0.03
        assert 0.0 < row["share_accepted"] < 1.0 and 0.0 < row["recall"] < 1.0


def test_calibration_edge_cases_and_bad_manifests():
    identity = fit_isotonic([], [], fitted_on="nothing")
    assert identity(0.42) == 0.42 and identity.to_dict()["x"] == []
    few = fit_isotonic([0.99, 0.99, 0.98], [True, True, True], fitted_on="three lucky pairs")
    assert few(0.99) < 1.0  # a handful of right answers never promises certainty
    assert IsotonicCalibrator.from_dict(few.to_dict()) == few
    with pytest.raises(ModelArtifactError, match="non-decreasing"):
        IsotonicCalibrator.from_dict({"x": [0.1, 0.2], "y": [0.9, 0.1]})
    with pytest.raises(ModelArtifactError, match="malformed"):
        IsotonicCalibrator.from_dict({"x": [0.1]})
    rows = precision_at_thresholds([0.95, 0.85, 0.6], [True, False, True], thresholds=(0.5, 0.9, 0.99))
    assert [(r["accepted"], r["precision"]) for r in rows] == [(3, 0.6667), (1, 1.0), (0, None)]


# --- artifact round trip -----------------------------------------------------------------------------


def test_artifact_keeps_calibrator_config_seed_and_measured_precision(data_dir, tmp_path):
    run = run_relation_training(
        tiny_config(
            epochs=2,
            calibration_min_predictions=1,
            crossre_train_files=(f"{CROSSRE}/re_train.jsonl",),
            crossre_dev_file=f"{CROSSRE}/re_dev.jsonl",
        ),
        data_dir=data_dir,
        output_dir=tmp_path,
        progress=False,
    )
    manifest = json.loads((run.artifact / MANIFEST_FILE).read_text())
    assert manifest["calibration"] == run.bilstm.calibrator.to_dict()
    assert manifest["seed"] == 3 and manifest["config_hash"] == run.config.config_hash()
    assert set(manifest["precision_at_confidence"]) == {"crossre", "fewrel"}
    row = manifest["precision_at_confidence"]["fewrel"][0]
    assert set(row) == {"threshold", "accepted", "share_accepted", "precision", "recall"}
    assert relation_precision_table(run.artifact.name, tmp_path) == manifest["precision_at_confidence"]
    assert relation_precision_table("bilstm-unknown", tmp_path) == {}

    extractor = load_relation_extractor(run.artifact)
    assert extractor.artifact.calibrator == run.bilstm.calibrator
    sentence = "Zoe Hart plays the cello ."
    [prediction] = extractor.predict(sentence, [MentionSpan(0, 8, "ARTIST"), MentionSpan(19, 24, "INSTRUMENT")])
    assert prediction.relation == "INSTRUMENTS_PLAYED"
    assert prediction.confidence == pytest.approx(run.bilstm.calibrator(prediction.probability))

    manifest["calibration"] = {"method": "isotonic", "x": [0.1, 0.2], "y": [0.9, 0.1]}
    (run.artifact / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ModelArtifactError, match="calibration"):
        load_relation_extractor(run.artifact)


# --- the pipeline ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from ingestion.ner import load_ner_model

    paths = train_tiny_ingestion_models(tmp_path_factory.mktemp("tiny-models"))
    return load_ner_model(paths["ner"]), load_relation_extractor(paths["relations"])


@pytest.mark.django_db
def test_pipeline_facts_carry_the_calibrated_confidence_once_per_triple(tiny_models, sql_store):
    ner, relations = tiny_models
    text = "Alice Smith plays the cello .\nBob Jones plays the guitar .\nAlice Smith plays the cello ."
    analysis = analyse_text(text, ner=ner, linker=EntityLinker(sql_store), relations=relations, min_confidence=0.0)
    assert analysis.sentence_count == 3 and analysis.facts
    for fact in analysis.facts:
        sentence = text[fact.sentence_start : fact.sentence_end]
        head, tail = analysis.mentions[fact.head], analysis.mentions[fact.tail]
        spans = [
            MentionSpan(m.start - fact.sentence_start, m.end - fact.sentence_start, m.label)
            for m in analysis.mentions
            if m.sentence_index == fact.sentence_index
        ]
        expected = {
            (
                p.relation,
                sentence[spans[p.head].start : spans[p.head].end],
                sentence[spans[p.tail].start : spans[p.tail].end],
            ): p
            for p in relations.predict(sentence, spans)
        }
        prediction = expected[(fact.relation, head.text, tail.text)]
        assert fact.confidence == prediction.confidence  # the calibrated confidence, not the softmax
        assert RELATIONS_BY_NAME[fact.relation].allows(head.label, tail.label)
    keys = [
        (
            f.sentence_index,
            analysis.mentions[f.head].link.entity_id,
            f.relation,
            analysis.mentions[f.tail].link.entity_id,
        )
        for f in analysis.facts
    ]
    assert len(keys) == len(set(keys))
    # Everything is kept at minimum 0; a minimum above every confidence rejects them all, and counts them.
    strict = analyse_text(text, ner=ner, linker=EntityLinker(sql_store), relations=relations, min_confidence=1.0)
    assert strict.facts == [] and strict.rejected == len(analysis.facts)


@pytest.mark.django_db
def test_pipeline_keeps_mentions_with_a_label_conflict_out_of_relations(tiny_models, sql_store):
    ner, relations = tiny_models
    text = "Alice Smith plays the cello ."
    baseline = analyse_text(text, ner=ner, linker=EntityLinker(sql_store), relations=relations, min_confidence=0.0)
    assert baseline.facts
    # The graph knows "Alice Smith" only as a place: the ARTIST label is doubtful, no relation is proposed.
    sql_store.upsert_entities([EntityRecord("kgcn:place:alice", "Place", "Alice Smith")])
    found = analyse_text(text, ner=ner, linker=EntityLinker(sql_store), relations=relations, min_confidence=0.0)
    assert found.facts == [] and found.filtered["label_conflict"] >= 1


def test_the_end_to_end_test_sentences_and_the_report_part_never_reach_training(data_dir):
    (data_dir / CROSSRE / "re_test_part_shared.jsonl").write_text(
        METALLICA.replace("music-train-1", "music-test-1") + "\n", encoding="utf-8"
    )
    datasets = build_relation_datasets(tiny_config(contextual_encoder=None), data_dir=data_dir)
    learned = {s.text for s in datasets.train + datasets.validation}
    assert not any(text.startswith("Metallica is") for text in learned)
    assert datasets.report["sentences_removed_as_in_held_out_files"] == 1
    report_part = [s for s in datasets.dev if s.source == "crossre"]
    assert report_part and {s.text for s in report_part}.isdisjoint(learned)
    assert datasets.report["crossre_report_ids"] == [s.id for s in report_part]
    assert datasets.report["validation_ids"] == [s.id for s in datasets.validation]
