"""Warm start of the joint recommender, ``retrain_recommender --from-checkpoint`` and ``refresh_models``.

The model tests use the tiny clustered data of :mod:`tests.helpers.recommender_cases` (40 users × 30 items) with
the joint model's tiny configuration; the command tests load the 12-listener Last.FM folder of
:mod:`tests.helpers.recommender_data` into the test database and the sql graph store, publish a 1-epoch
model, add facts the way text ingestion does (graph write + ``ingestion:`` audit event) and refresh.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from django.core.management import CommandError, call_command

from core.errors import ConfigurationError
from recommender.base import ItemSideInfo
from recommender.data import InteractionDataset
from recommender.evaluation.splits import protocol_t_split
from recommender.models.config import JointConfig
from recommender.models.joint import JointKGRecommender
from recommender.models.warm_start import rows_by_id
from recommender.training import (
    joint_warm_start,
    load_trained_recommender,
    recommender_train,
    refresh_epochs_default,
)
from tests.helpers.recommender_cases import clustered_interactions
from tests.helpers.recommender_data import TINY, clustered_dataset, tag_content, write_tiny_lastfm

SEED = 1


@pytest.fixture(scope="module")
def data():
    return clustered_interactions()


@pytest.fixture(scope="module")
def parent(data, tmp_path_factory):
    """A saved and reloaded tiny joint model (the checkpoint every warm start here starts from)."""
    trained = recommender_train(
        dataset=clustered_dataset(data),
        config=JointConfig(**{**TINY, "epochs": 4}),
        seed=SEED,
        content_embeddings=tag_content(data),
        output_dir=tmp_path_factory.mktemp("parent"),
    )
    return load_trained_recommender(trained.path)


def warm_model(parent, dataset: InteractionDataset, data, **overrides) -> tuple[JointKGRecommender, object]:
    """A warm-started model for ``dataset`` and the Protocol T split it trains on (same seed as the parent)."""
    config = parent.config.with_overrides(**overrides)
    model = JointKGRecommender(
        config,
        content_embeddings=tag_content(data),
        warm_start=joint_warm_start(parent=parent, dataset=dataset, config=config),
    )
    return model, protocol_t_split(dataset, seed=SEED)


def grown_dataset(data) -> InteractionDataset:
    """The same interactions over a grown graph: 2 new entities, 1 new relation type, and entity rows re-ordered.

    Entity ids are sorted here (the original order is not), so index k no longer names the same
    entity: a warm start that copied by index instead of by id would be caught.
    """
    info = data.side_info
    old_ids = list(info.entity_ids)
    new_ids = sorted(old_ids + ["instrument:piano", "label:blue-note"])
    new_index = {e: k for k, e in enumerate(new_ids)}
    relations = list(info.relation_types) + ["signed_to"]
    triples = [(new_index[old_ids[h]], r, new_index[old_ids[t]]) for h, r, t in info.kg_triples.tolist()]
    for item in range(15, 29, 3):  # some jazz items get the new facts
        head = new_index[old_ids[int(info.item_entity[item])]]
        triples += [(head, 1, new_index["instrument:piano"]), (head, len(relations) - 1, new_index["label:blue-note"])]
    side_info = ItemSideInfo(
        item_tags=info.item_tags,
        tag_names=info.tag_names,
        kg_triples=np.asarray(triples, dtype=np.int64),
        entity_ids=new_ids,
        relation_types=relations,
        item_entity=np.asarray([new_index[old_ids[int(e)]] for e in info.item_entity], dtype=np.int64),
    )
    base = clustered_dataset(data)
    return InteractionDataset(user_ids=base.user_ids, item_ids=base.item_ids, matrix=base.matrix, side_info=side_info)


def test_rows_by_id_marks_unknown_ids():
    assert rows_by_id([10, 20, 30], [30, 40, 10]).tolist() == [2, -1, 0]
    assert rows_by_id(["a", "b"], ["b"]).tolist() == [1]


def test_unchanged_data_after_zero_epochs_scores_exactly_like_the_parent(parent, data):
    dataset = clustered_dataset(data)
    model, split = warm_model(parent, dataset, data)
    model.initialise(split.train_binary(), seed=SEED, context=split.training_context(side_info=dataset.side_info))
    users = np.arange(dataset.n_users)
    np.testing.assert_array_equal(model.score(users), parent.model.score(users))
    summary = model.warm_start_summary
    assert summary["users"] == {"from_parent": 40, "total": 40} and summary["items"] == {"from_parent": 30, "total": 30}
    assert summary["entities"]["from_parent"] == summary["entities"]["total"] == len(data.side_info.entity_ids)
    assert summary["other_parameters"]["fresh"] == [] and summary["entity_matching"] == "entity ids"
    assert 0.0 <= summary["validation_recall@10_at_start"] <= 1.0


def test_a_warm_started_ensemble_starts_each_member_from_the_parents_same_member(data, tmp_path):
    dataset = clustered_dataset(data)
    trained = recommender_train(
        dataset=dataset,
        config=JointConfig(**{**TINY, "epochs": 2, "ensemble_members": 2}),
        seed=SEED,
        content_embeddings=tag_content(data),
        output_dir=tmp_path,
    )
    ensemble = load_trained_recommender(trained.path)
    assert len(ensemble.model.networks()) == 2
    model, split = warm_model(ensemble, dataset, data)
    model.initialise(split.train_binary(), seed=SEED, context=split.training_context(side_info=dataset.side_info))
    users = np.arange(dataset.n_users)
    np.testing.assert_array_equal(model.score(users), ensemble.model.score(users))
    # a three-member child of the two-member parent: its third member starts from the parent's first again
    bigger, split = warm_model(ensemble, dataset, data, ensemble_members=3)
    bigger.initialise(split.train_binary(), seed=SEED, context=split.training_context(side_info=dataset.side_info))
    first, _, third = bigger.networks()
    for key, value in first.state_dict().items():
        torch.testing.assert_close(third.state_dict()[key], value)


def test_a_grown_graph_keeps_every_known_entity_vector_by_id(parent, data):
    dataset = grown_dataset(data)
    model, split = warm_model(parent, dataset, data)
    model.initialise(split.train_binary(), seed=SEED, context=split.training_context(side_info=dataset.side_info))
    old = parent.model.network.entities.weight.detach().numpy()
    new = model.network.entities.weight.detach().numpy()
    parent_index = {e: k for k, e in enumerate(parent.model.graph_ids["entities"])}
    for k, entity in enumerate(dataset.side_info.entity_ids):
        if entity in parent_index:
            np.testing.assert_array_equal(new[k], old[parent_index[entity]])
    fresh = [dataset.side_info.entity_ids.index(e) for e in ("instrument:piano", "label:blue-note")]
    assert np.isfinite(new[fresh]).all() and not any(np.allclose(new[k], row) for k in fresh for row in old)
    assert model.warm_start_summary["entities"] == {"from_parent": 35, "total": 37}
    assert model.warm_start_summary["relations"] == {"from_parent": 4, "total": 5}
    np.testing.assert_array_equal(
        model.network.item_id.weight.detach().numpy(), parent.model.network.item_id.weight.detach().numpy()
    )

    trained = warm_model(parent, dataset, data, epochs=2)[0].fit(
        split.train_binary(), seed=SEED, context=split.training_context(side_info=dataset.side_info)
    )
    assert len(trained.history.losses) == 2 and np.isfinite(trained.score(np.arange(dataset.n_users))).all()


def test_new_users_and_items_start_fresh_and_old_ones_keep_their_rows(parent, data):
    base = clustered_dataset(data)
    coo = base.matrix.tocoo()
    users = np.concatenate([base.user_ids[coo.row], [999, 999, 999]])
    items = np.concatenate([base.item_ids[coo.col], [500, 501, 777]])
    dataset = InteractionDataset.from_arrays(
        users,
        items,
        np.ones(len(users)),
        side_info=None,
    )
    # item 777 is new to the catalog and the graph: a rock artist with its own entity and a genre link
    info = data.side_info
    new_entity = len(info.entity_ids)
    side_info = ItemSideInfo(
        item_tags=sp.vstack([info.item_tags, info.item_tags[:1]]).tocsr(),
        tag_names=info.tag_names,
        kg_triples=np.vstack([info.kg_triples, [[new_entity, 0, info.entity_ids.index("genre:rock")]]]),
        entity_ids=[*info.entity_ids, "artist:777"],
        relation_types=info.relation_types,
        item_entity=np.append(info.item_entity, new_entity),
    )
    dataset = InteractionDataset(
        user_ids=dataset.user_ids, item_ids=dataset.item_ids, matrix=dataset.matrix, side_info=side_info
    )
    warm = joint_warm_start(parent=parent, dataset=dataset, config=parent.config)
    assert warm.user_rows[-1] == -1 and (warm.user_rows[:-1] == np.arange(40)).all()
    assert warm.item_rows[-1] == -1 and (warm.item_rows[:-1] == np.arange(30)).all()
    content = np.vstack([tag_content(data), tag_content(data)[:1]])
    model = JointKGRecommender(parent.config, content_embeddings=content, warm_start=warm)
    split = protocol_t_split(dataset, seed=SEED)
    model.initialise(split.train_binary(), seed=SEED, context=split.training_context(side_info=side_info))
    np.testing.assert_array_equal(
        model.network.user_id.weight[:40].detach().numpy(), parent.model.network.user_id.weight.detach().numpy()
    )
    assert model.warm_start_summary["users"] == {"from_parent": 40, "total": 41}
    assert model.warm_start_summary["items"] == {"from_parent": 30, "total": 31}
    assert model.warm_start_summary["entities"] == {"from_parent": 35, "total": 36}


def test_parents_without_graph_ids_match_item_entities_only(parent, data):
    dataset = grown_dataset(data)
    parent.model.graph_ids, saved = None, parent.model.graph_ids
    try:
        warm = joint_warm_start(parent=parent, dataset=dataset, config=parent.config)
    finally:
        parent.model.graph_ids = saved
    assert warm.entity_matching == "item entities only" and warm.relation_rows is None
    known = np.flatnonzero(warm.entity_rows >= 0)
    assert sorted(known.tolist()) == sorted(dataset.side_info.item_entity.tolist())
    for item in range(dataset.n_items):
        assert warm.entity_rows[dataset.side_info.item_entity[item]] == parent.model.inputs.item_entity[item]


def test_the_training_service_records_the_warm_start(parent, data, tmp_path):
    config = parent.config.with_overrides(epochs=refresh_epochs_default(parent))
    assert config.epochs == 1  # a fifth of the parent's 4 epochs, rounded up
    trained = recommender_train(
        dataset=clustered_dataset(data),
        config=config,
        seed=SEED,
        content_embeddings=tag_content(data),
        output_dir=tmp_path,
        warm_start_from=parent.path,
    )
    record = json.loads((trained.path / "config.json").read_text())
    assert record["warm_start"] == {
        "parent": parent.path.name,
        "parent_path": str(parent.path),
        "scratch_epochs": 4,
        "epochs": 1,
        "same_interactions_as_parent": True,
    }
    warm = trained.metrics["training"]["warm_start"]
    assert warm["parent"] == parent.path.name and "validation_recall@10_at_start" in warm
    assert (trained.path / "graph_ids.json").is_file()
    reloaded = load_trained_recommender(trained.path)
    assert reloaded.model.graph_ids == parent.model.graph_ids
    # a refresh of the refresh keeps budgeting against the root's from-scratch epochs
    assert json.loads((trained.path / "config.json").read_text())["config"]["epochs"] == 1
    assert refresh_epochs_default(reloaded) == 1 and reloaded.config.epochs == 1

    with pytest.raises(ConfigurationError, match="uses transe graph vectors but kg_interaction is 'complex'"):
        recommender_train(
            dataset=clustered_dataset(data),
            config=parent.config.with_overrides(kg_interaction="complex"),
            content_embeddings=tag_content(data),
            warm_start_from=parent,
            save=False,
        )


# --- commands on a tiny catalog ---------------------------------------------------------------------


@pytest.fixture
def catalog(db, tmp_path):
    call_command("load_lastfm", data_dir=str(write_tiny_lastfm(tmp_path / "data")), backend="sql", no_progress=True)


def add_ingested_facts() -> None:
    """Two facts about artists, written as text ingestion writes them: graph upsert plus an ``ingestion:`` audit event."""
    from kg.audit import record_curation_event, relation_target
    from kg.services import graph_upsert
    from kg.stores import EntityRecord, RelationRecord, get_store

    with get_store("sql") as store:
        artists = sorted({h for h, _, _ in store.iter_triples() if h.startswith("lastfm:artist:")})
        relations = [
            RelationRecord(
                head=a, type="INSTRUMENTS_PLAYED", tail="leitmotif:instrument:banjo", source="ingestion:0123456789ab"
            )
            for a in artists[:2]
        ]
        graph_upsert(
            store=store,
            entities=[EntityRecord(id="leitmotif:instrument:banjo", type="Instrument", name="banjo")],
            relations=relations,
        )
    for relation in relations:
        record_curation_event(
            action="fact.accept",
            target=relation_target(relation.head, relation.type, relation.tail),
            source=relation.source,
            after=relation,
        )


def test_retrain_from_checkpoint_warm_starts_the_published_model(catalog, capsys):
    from recommender.serving.model_holder import published_artifact

    with pytest.raises(CommandError, match="no recommender is published yet"):
        call_command("retrain_recommender", "--from-checkpoint", "--no-content", "--no-progress")
    call_command("retrain_recommender", "--no-content", "--epochs", "2", "--no-progress")
    first = published_artifact()
    capsys.readouterr()
    call_command("retrain_recommender", "--from-checkpoint", "--no-progress")
    out = capsys.readouterr().out
    assert f"warm-started from {first.name} for 1 epochs" in out and "Published" in out
    record = json.loads((published_artifact() / "config.json").read_text())
    assert record["warm_start"]["parent"] == first.name and record["warm_start"]["same_interactions_as_parent"] is True
    assert record["config"]["epochs"] == 1 and record["config"]["use_content"] is False


def test_refresh_models_runs_only_after_new_facts_and_resumes_a_failed_round(catalog, capsys, monkeypatch):
    from kg.embeddings.artifacts import latest_artifact, load_kge_artifact
    from recommender import refresh as refresh_module
    from recommender.serving.model_holder import published_artifact

    with pytest.raises(CommandError, match="no recommender is published"):
        call_command("refresh_models", "--no-progress")
    call_command("train_kge", "--model", "transe", "--epochs", "2", "--dim", "64", "--backend", "sql", "--no-progress")
    call_command("retrain_recommender", "--no-content", "--epochs", "1", "--no-progress")
    kge_parent, rec_parent = latest_artifact("transe"), published_artifact()
    capsys.readouterr()

    call_command("refresh_models", "--only-if-new-facts", "--no-progress")
    assert "Nothing to do: no graph change since the published model was trained" in capsys.readouterr().out
    assert published_artifact() == rec_parent and refresh_module.refresh_state_read()["baseline_only"] is True

    add_ingested_facts()

    # the recommender stage fails once: the embeddings it refreshed are reused by the next round, not retrained
    def failing_recommender_stage(*args, **kwargs):
        raise ConfigurationError("encoder unavailable")

    real = refresh_module._refresh_recommender
    monkeypatch.setattr(refresh_module, "_refresh_recommender", failing_recommender_stage)
    with pytest.raises(CommandError, match="encoder unavailable"):
        call_command("refresh_models", "--only-if-new-facts", "--no-progress", "--kge-epochs", "1", "--rec-epochs", "1")
    kge_child = latest_artifact("transe")
    assert kge_child != kge_parent and published_artifact() == rec_parent
    monkeypatch.setattr(refresh_module, "_refresh_recommender", real)
    call_command("refresh_models", "--only-if-new-facts", "--no-progress", "--kge-epochs", "1", "--rec-epochs", "1")
    out = capsys.readouterr().out
    assert "2 graph change event(s) (2 from text ingestion)" in out
    assert f"Embeddings already refreshed for this graph: {kge_child.name}" in out and "Published" in out
    assert latest_artifact("transe") == kge_child
    child = load_kge_artifact(kge_child)
    assert child.manifest["parent"] == kge_parent.name and "leitmotif:instrument:banjo" in child.entity_to_id
    assert child.manifest["warm_start"]["graph_change"]["new_triples"] == 2

    rec_child = published_artifact()
    assert rec_child != rec_parent
    record = json.loads((rec_child / "config.json").read_text())
    assert record["warm_start"]["parent"] == rec_parent.name and record["kge_artifact"] == str(kge_child)
    metrics = json.loads((rec_child / "metrics.json").read_text())
    assert metrics["training"]["kge_initialisation"]["entities"]["initialised"] > 0
    assert (
        metrics["training"]["warm_start"]["entities"]["from_parent"]
        == metrics["training"]["warm_start"]["entities"]["total"] - 1
    )

    call_command("refresh_models", "--only-if-new-facts", "--no-progress")
    assert "Nothing to do: no graph change since the last refresh" in capsys.readouterr().out
    assert published_artifact() == rec_child

    # a bulk write without an audit event still moves the counts
    from kg.services import graph_upsert
    from kg.stores import RelationRecord, get_store

    with get_store("sql") as store:
        graph_upsert(
            store=store,
            relations=[
                RelationRecord(
                    head="leitmotif:instrument:banjo", type="SIMILAR_TO", tail=child_head(store), source="loader"
                )
            ],
        )
    call_command("refresh_models", "--only-if-new-facts", "--no-progress", "--no-kge", "--rec-epochs", "1")
    out = capsys.readouterr().out
    assert "0 graph change event(s) (0 from text ingestion); +0 entities, +1 relations" in out and "Published" in out


def child_head(store) -> str:
    return next(h for h, _, _ in store.iter_triples() if h.startswith("lastfm:artist:"))


def test_refresh_models_options_are_checked(catalog):
    with pytest.raises(CommandError, match="--every must be a positive"):
        call_command("refresh_models", "--every", "0")
    with pytest.raises(CommandError, match="--kge-epochs must be at least 1"):
        call_command("refresh_models", "--kge-epochs", "0")
