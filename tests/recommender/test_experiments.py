"""The evaluate command and the experiment service it wraps, on a tiny catalog."""

import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from catalog.models import Artist, Listen, Listener
from core.errors import ConfigurationError
from recommender.data import InteractionDataset
from recommender.experiments import experiment_run
from recommender.registry import available_recommenders, build_recommender, resolve_recommender_name


@pytest.fixture
def tiny_catalog(db):
    """Two taste clusters of 12 listeners over 16 artists, deterministic."""
    rng = np.random.default_rng(7)
    artists = [
        Artist.objects.create(lastfm_id=i, name=f"Artist {i}", entity_id=f"lastfm:artist:{i}", kgcn_entity=i)
        for i in range(16)
    ]
    for u in range(24):
        listener = Listener.objects.create(lastfm_id=1000 + u)
        cluster = artists[:8] if u % 2 == 0 else artists[8:]
        for artist in rng.choice(cluster, size=6, replace=False):
            Listen.objects.create(listener=listener, artist=artist, play_count=int(rng.integers(1, 50)))
    return artists


def test_registry_knows_baselines_and_the_product_model():
    names = available_recommenders()
    assert names["ease"] == "baseline.ease.v1"
    assert names["leitmotif"] == "leitmotif.joint.v1"
    assert resolve_recommender_name("Item-KNN") == "baseline.item_knn.v1"
    with pytest.raises(ConfigurationError, match="choose from"):
        resolve_recommender_name("magic")


def test_experiment_writes_a_report_with_every_model_and_seed(tiny_catalog, tmp_path, sql_store):
    dataset = InteractionDataset.from_catalog(store=sql_store)
    run = experiment_run(
        dataset=dataset,
        protocol="T",
        models=["most_popular", "item_knn"],
        seeds=[0, 1],
        ks=[5],
        reports_dir=tmp_path,
        plots=False,
        progress=False,
    )
    metrics = json.loads((run.report_dir / "metrics.json").read_text())
    assert {(r.model, r.seed) for r in run.results} == {
        (m, s) for m in ("baseline.most_popular.v1", "baseline.item_knn.v1") for s in (0, 1)
    }
    assert "recall@5" in json.dumps(metrics)
    # Clustered tastes: item-KNN must beat popularity on this data.
    by_model = {}
    for r in run.results:
        by_model.setdefault(r.model, []).append(r.metrics["recall@5"])
    assert np.mean(by_model["baseline.item_knn.v1"]) > np.mean(by_model["baseline.most_popular.v1"])


@pytest.mark.parametrize("protocol", ["C", "sparsity", "coldstart"])
def test_other_protocols_run(tiny_catalog, tmp_path, sql_store, protocol):
    dataset = InteractionDataset.from_catalog(store=sql_store)
    run = experiment_run(
        dataset=dataset,
        protocol=protocol,
        models=["most_popular"],
        seeds=[0],
        ks=[5],
        reports_dir=tmp_path,
        plots=False,
        progress=False,
    )
    assert run.results
    if protocol == "C":
        assert 0.0 <= run.results[0].metrics["auc"] <= 1.0
    if protocol == "sparsity":
        assert len(run.results) == 6


def test_unknown_protocol_or_no_models_is_an_error(tiny_catalog, tmp_path, sql_store):
    dataset = InteractionDataset.from_catalog(store=sql_store)
    with pytest.raises(ConfigurationError, match="protocol"):
        experiment_run(dataset=dataset, protocol="X", models=["ease"], reports_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="at least one model"):
        experiment_run(dataset=dataset, protocol="T", models=[], reports_dir=tmp_path)


def test_evaluate_command_prints_the_table(tiny_catalog, tmp_path, capsys):
    call_command(
        "evaluate",
        "--protocol",
        "T",
        "--models",
        "most_popular",
        "--ks",
        "5",
        "--reports-dir",
        str(tmp_path),
        "--no-plots",
        "--no-progress",
        "--backend",
        "sql",
    )
    out = capsys.readouterr().out
    assert "baseline.most_popular.v1" in out and "Report written to" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--models", "magic"], "Unknown model 'magic'"),
        (["--models", "ease", "--params", "{not json"], "--params is not valid JSON"),
        (["--models", "ease", "--params", '{"ease": 3}'], "--params must be a JSON object"),
        (["--models", "ease", "--params", '{"ease": {"nope": 1}}'], "has no parameter"),
    ],
)
def test_evaluate_command_rejects_bad_arguments(tiny_catalog, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        call_command(
            "evaluate",
            "--protocol",
            "T",
            *args,
            "--reports-dir",
            str(tmp_path),
            "--no-plots",
            "--no-progress",
            "--backend",
            "sql",
        )


def test_evaluate_command_on_an_empty_catalog_says_to_load_data(db, tmp_path):
    with pytest.raises(CommandError, match="load"):
        call_command(
            "evaluate",
            "--protocol",
            "T",
            "--models",
            "ease",
            "--reports-dir",
            str(tmp_path),
            "--no-progress",
            "--backend",
            "sql",
        )


def test_evaluate_command_trains_and_scores_the_product_model(tiny_catalog, tmp_path, capsys):
    """End to end: the joint model is built by name, trained with --params and evaluated like any baseline."""
    params = json.dumps({"leitmotif": {"epochs": 2, "use_content": False, "use_graph": False, "batch_size": 16}})
    call_command(
        "evaluate",
        "--protocol",
        "T",
        "--models",
        "most_popular",
        "leitmotif",
        "--ks",
        "5",
        "--params",
        params,
        "--reports-dir",
        str(tmp_path),
        "--no-plots",
        "--no-progress",
    )
    out = capsys.readouterr().out
    assert "leitmotif.joint.v1" in out
    (report,) = tmp_path.iterdir()
    metrics = json.loads((report / "metrics.json").read_text())
    assert "leitmotif.joint.v1" in json.dumps(metrics)


def test_product_model_params_are_checked_before_training(tiny_catalog, sql_store):
    dataset = InteractionDataset.from_catalog(store=sql_store)
    with pytest.raises(ConfigurationError, match="Unknown recommender config key"):
        build_recommender("leitmotif", dataset=dataset, params={"lamda_kg": 1})


def test_evaluate_command_exports_the_splits_it_scored(tiny_catalog, tmp_path):
    from recommender.evaluation.splits import import_split, protocol_t_split

    call_command(
        "evaluate",
        "--protocol",
        "T",
        "--models",
        "most_popular",
        "--ks",
        "5",
        "--seeds",
        "3",
        "--reports-dir",
        str(tmp_path),
        "--no-plots",
        "--no-progress",
        "--export-splits",
    )
    (report,) = tmp_path.iterdir()
    (tsv,) = (report / "splits").glob("*.tsv")
    assert tsv.name.endswith("_seed3.tsv") and tsv.with_suffix(".json").is_file()
    reloaded = import_split(tsv)
    dataset = InteractionDataset.from_catalog()
    expected = protocol_t_split(dataset, seed=3)
    assert (reloaded.train_binary() != expected.train_binary()).nnz == 0
