"""Warm-started KGE (``kg.embeddings.warm_start`` and ``train_kge --from-checkpoint``).

A tiny music graph (``tests/helpers/kge_graphs.py``, shared with ``test_embeddings``) is trained for 2 epochs
with 8-dimensional vectors, saved, then grown by a few facts (a new artist, a new relation type) and
refreshed from the saved artifact.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from core.errors import ConfigurationError, DataFileError
from kg.embeddings.artifacts import (
    MANIFEST_FILE,
    SPLIT_FILE,
    latest_artifact,
    list_kge_artifacts,
    load_kge_artifact,
    load_kge_split,
    save_kge_artifact,
)
from kg.embeddings.training import build_model, export_embeddings, kge_train
from kg.embeddings.warm_start import (
    KgeWarmStart,
    default_refresh_epochs,
    extended_id_map,
    kge_refresh,
    refresh_config,
    warm_start_split,
)
from kg.stores.base import EntityRecord, RelationRecord
from tests.helpers.kge_graphs import music_graph, tiny_config

NEW_FACTS = [
    ("artist:24", "HAS_GENRE", "genre:0"),
    ("artist:24", "SIGNED_TO", "label:0"),
    ("artist:24", "PLAYS", "instrument:guitar"),
    ("artist:0", "PLAYS", "instrument:guitar"),
    ("artist:3", "PLAYS", "instrument:guitar"),
    ("artist:24", "SIMILAR_TO", "artist:0"),
]


def grown_graph() -> np.ndarray:
    return np.concatenate([music_graph(), np.asarray(NEW_FACTS, dtype=str)])


@pytest.fixture(scope="module", params=["transe", "complex"])
def parent(request, tmp_path_factory):
    """A trained, saved and reloaded artifact of each model."""
    result = kge_train(triples=music_graph(), config=tiny_config(model=request.param), progress=False)
    return load_kge_artifact(save_kge_artifact(result=result, directory=tmp_path_factory.mktemp("kge")))


def test_extended_id_map_keeps_old_ids_and_appends_new_labels_sorted():
    assert extended_id_map({"b": 0, "a": 1}, ["z", "a", "c", "z"]) == {"b": 0, "a": 1, "c": 2, "z": 3}
    assert extended_id_map({"b": 0}, []) == {"b": 0}


def test_artifacts_store_their_split_with_a_checksum(parent):
    parts = load_kge_split(parent)
    sizes = parent.metrics["split"]
    assert [len(parts[p]) for p in ("training", "validation", "testing")] == [
        sizes["training"],
        sizes["validation"],
        sizes["testing"],
    ]
    assert SPLIT_FILE in parent.manifest["sha256"]


def test_warm_split_keeps_the_parents_evaluation_triples_and_counts_the_change(parent):
    split, change = warm_start_split(parent=parent, triples=grown_graph()[5:], ratios=(0.8, 0.1, 0.1), seed=7)
    assert change.to_dict() == {
        "parent_entities": 30,
        "parent_relations": 3,
        "parent_triples": 72,
        "new_entities": 2,
        "new_relations": 1,
        "new_triples": 6,
        "removed_triples": 5,
        "entities_without_triples": 0,
    }
    assert change.changed
    # old ids unchanged, new ones appended
    assert {label: split.entity_to_id[label] for label in parent.entity_to_id} == dict(parent.entity_to_id)
    assert split.entity_to_id["artist:24"] >= 30 and split.relation_to_id["PLAYS"] == 3

    parts = load_kge_split(parent)
    labels = {v: k for k, v in parent.entity_to_id.items()}
    relations = {v: k for k, v in parent.relation_to_id.items()}

    def as_labels(factory) -> set[tuple[str, str, str]]:
        e = {v: k for k, v in factory.entity_to_id.items()}
        r = {v: k for k, v in factory.relation_to_id.items()}
        return {(e[h], r[rel], e[t]) for h, rel, t in factory.mapped_triples.tolist()}

    def parent_labels(ids) -> set[tuple[str, str, str]]:
        return {(labels[h], relations[r], labels[t]) for h, r, t in ids.tolist()}

    current = set(map(tuple, grown_graph()[5:].tolist()))
    evaluated = as_labels(split.validation) | as_labels(split.testing)
    moved = split.dropped["validation_moved_to_training"] + split.dropped["testing_moved_to_training"]
    still_there = (parent_labels(parts["validation"]) | parent_labels(parts["testing"])) & current
    # the parent's evaluation triples stay evaluation triples (unless no longer rankable), the rest is new facts
    assert len(still_there - evaluated) == moved
    assert evaluated - still_there <= set(NEW_FACTS)
    # nothing the parent trained on is evaluated, and every current triple is used exactly once
    assert not parent_labels(parts["training"]) & evaluated
    assert as_labels(split.training) | evaluated == current
    assert split.training.num_triples + split.validation.num_triples + split.testing.num_triples == len(current)


def test_zero_epochs_keep_every_old_vector_and_initialise_the_new_ones(parent):
    config = refresh_config(parent)
    split, _ = warm_start_split(parent=parent, triples=grown_graph(), ratios=config.split_ratios, seed=config.seed)
    model = build_model(
        config=config, num_entities=split.training.num_entities, num_relations=split.training.num_relations
    )
    KgeWarmStart.from_artifact(parent).apply_(model)
    entities, relations = export_embeddings(model)
    n_entities, n_relations = len(parent.entity_to_id), len(parent.relation_to_id)
    # TransE re-applies its unit-norm constraint on reset, which may change the last bit of a float32
    tolerance = 1e-6 if parent.config.spec.alias == "transe" else 0.0
    np.testing.assert_allclose(entities[:n_entities], parent.entity_embeddings, rtol=0, atol=tolerance)
    np.testing.assert_allclose(relations[:n_relations], parent.relation_embeddings, rtol=0, atol=tolerance)
    assert (
        entities.shape == (n_entities + 2, parent.entity_embeddings.shape[1]) and relations.shape[0] == n_relations + 1
    )
    assert np.isfinite(entities).all() and np.abs(entities[n_entities:]).sum(axis=1).min() > 0
    model.reset_parameters_()  # what PyKEEN's training loop does first: the warm start survives it
    np.testing.assert_allclose(
        export_embeddings(model)[0][:n_entities], parent.entity_embeddings, rtol=0, atol=tolerance
    )


def test_refresh_trains_few_epochs_evaluates_and_saves_its_lineage(parent, tmp_path):
    refresh = kge_refresh(parent=parent, triples=grown_graph())
    result = refresh.result
    assert result.config.epochs == default_refresh_epochs(parent) == math.ceil(0.2 * parent.config.epochs) == 1
    assert result.config.early_stopping is False and result.config.embedding_dim == parent.config.embedding_dim
    assert {"artist:24", "instrument:guitar"} <= set(result.entity_to_id) and "PLAYS" in result.relation_to_id
    assert all(np.isfinite(v) and 0 <= v <= 1 for v in (result.metrics.mrr, result.metrics.hits_at_10))
    assert result.metrics.num_triples == result.split_sizes["testing"]

    path = save_kge_artifact(result=result, directory=tmp_path, lineage=refresh.lineage())
    child = load_kge_artifact(path)
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    assert manifest["parent"] == parent.path.name
    assert manifest["warm_start"]["graph_change"]["new_entities"] == 2
    assert manifest["warm_start"]["graph_change"]["new_triples"] == len(NEW_FACTS)
    assert manifest["warm_start"]["scratch_epochs"] == parent.config.epochs
    assert child.metrics["warm_start"]["parent_path"] == str(parent.path)
    assert len(load_kge_split(child)["testing"]) == result.split_sizes["testing"]

    # a refresh of the refresh budgets against the root's from-scratch epochs, not its parent's 1 epoch
    grandchild = kge_refresh(parent=child, triples=grown_graph(), epochs=None)
    assert grandchild.change.changed is False and grandchild.result.config.epochs == 1
    assert grandchild.lineage()["scratch_epochs"] == parent.config.epochs


def test_refresh_refuses_what_would_break_the_vector_space(parent, tmp_path):
    with pytest.raises(ConfigurationError, match="cannot change embedding_dim"):
        refresh_config(parent, embedding_dim=16)
    assert refresh_config(parent, learning_rate=0.05, epochs=3).learning_rate == 0.05
    interactions = np.asarray([("user:1", "INTERACTS", "artist:0")], dtype=str)
    with pytest.raises(ConfigurationError, match="trained without interaction triples"):
        kge_refresh(parent=parent, triples=grown_graph(), interaction_triples=interactions)

    # artifacts saved before splits were stored cannot be refreshed: they cannot tell new facts from old
    old_style = dataclasses.replace(kge_train(triples=music_graph(), config=tiny_config(epochs=1)), split=None)
    old_path = save_kge_artifact(result=old_style, directory=tmp_path)
    assert SPLIT_FILE not in load_kge_artifact(old_path).manifest["sha256"]
    with pytest.raises(DataFileError, match="stores no triple split.*train_kge --model transe"):
        kge_refresh(parent=old_path, triples=grown_graph())


def test_an_edited_split_fails_its_checksum(parent, tmp_path):
    import shutil

    copy = tmp_path / parent.path.name
    shutil.copytree(parent.path, copy)
    (copy / SPLIT_FILE).write_bytes(b"not a split")
    with pytest.raises(DataFileError, match=rf"{SPLIT_FILE}: checksum does not match"):
        load_kge_artifact(copy)
    (copy / SPLIT_FILE).unlink()
    with pytest.raises(DataFileError, match=rf"{SPLIT_FILE}: artifact file is missing"):
        load_kge_artifact(copy)


# --- command --------------------------------------------------------------------------------------


def _fill_store(store, triples) -> None:
    triples = np.asarray(triples, dtype=str)
    ids = sorted(set(triples[:, 0]) | set(triples[:, 2]))
    store.upsert_entities(EntityRecord(id=i, type=i.split(":")[0].capitalize(), name=i) for i in ids)
    store.upsert_relations(RelationRecord(head=h, type=r, tail=t, source="test") for h, r, t in triples)


def test_train_kge_from_checkpoint_refreshes_the_latest_artifact(sql_store, tmp_path, capsys):
    with pytest.raises(CommandError, match="Give --model"):
        call_command("train_kge", "--backend", "sql", "--output-dir", str(tmp_path), "--no-progress")
    _fill_store(sql_store, music_graph())
    with pytest.raises(CommandError, match="No embedding artifact yet"):
        call_command(
            "train_kge", "--from-checkpoint", "--backend", "sql", "--output-dir", str(tmp_path), "--no-progress"
        )
    call_command(
        "train_kge",
        "--model",
        "transe",
        "--epochs",
        "2",
        "--dim",
        "8",
        "--seed",
        "5",
        "--backend",
        "sql",
        "--output-dir",
        str(tmp_path),
        "--no-progress",
    )
    parent = latest_artifact("transe", directory=tmp_path)
    capsys.readouterr()

    _fill_store(sql_store, NEW_FACTS)
    call_command("train_kge", "--from-checkpoint", "--backend", "sql", "--output-dir", str(tmp_path), "--no-progress")
    output = capsys.readouterr().out
    assert "2 new entities, 1 new relations, 6 new and 0 removed triples; 1 warm epochs" in output
    assert "MRR" in output and f"parent {parent.name}" in output
    child = load_kge_artifact(latest_artifact("transe", directory=tmp_path))
    assert child.path != parent and child.manifest["parent"] == parent.name
    assert child.config.seed == 5 and "artist:24" in child.entity_to_id

    # by directory name, with an explicit budget; a refresh cannot change the dimension or the model
    call_command(
        "train_kge",
        "--from-checkpoint",
        parent.name,
        "--epochs",
        "2",
        "--backend",
        "sql",
        "--output-dir",
        str(tmp_path),
        "--no-progress",
    )
    assert load_kge_artifact(list_kge_artifacts("transe", directory=tmp_path)[-1]).config.epochs == 2
    with pytest.raises(CommandError, match="--dim cannot change"):
        call_command(
            "train_kge",
            "--from-checkpoint",
            "--dim",
            "16",
            "--backend",
            "sql",
            "--output-dir",
            str(tmp_path),
            "--no-progress",
        )
    with pytest.raises(CommandError, match="does not match the checkpoint"):
        call_command(
            "train_kge",
            "--from-checkpoint",
            parent.name,
            "--model",
            "complex",
            "--backend",
            "sql",
            "--output-dir",
            str(tmp_path),
            "--no-progress",
        )
    with pytest.raises(CommandError, match="KGE artifact directory not found"):
        call_command("train_kge", "--from-checkpoint", str(tmp_path / "nothing"), "--backend", "sql", "--no-progress")
