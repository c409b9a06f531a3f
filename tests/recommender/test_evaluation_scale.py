"""Top-K evaluation at scale: the optional seeded user sample (``max_users``) and the ``--max-users`` option.

Full ranking costs users × items; ``max_users`` evaluates a seeded sample of the users with held-out
items. Every sampled user is still ranked against every item, so each sampled user's metrics and list
are exactly the full run's; the default (``None``) evaluates everyone and records nothing new.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from catalog.models import Artist, Listen, Listener
from core.errors import ConfigurationError
from recommender.data import InteractionDataset
from recommender.evaluation import splits as S
from recommender.evaluation.evaluator import evaluate_topk, sample_users
from recommender.experiments import experiment_run
from tests.helpers.recommender_data import SeededRandom, synthetic_dataset


@pytest.fixture(scope="module")
def split():
    return S.protocol_t_split(synthetic_dataset(), seed=0)


@pytest.fixture(scope="module")
def model(split):
    return SeededRandom().fit(split.train_binary(), seed=0)


@pytest.fixture(scope="module")
def full(model, split):
    return evaluate_topk(model, split, ks=(5, 10))


def test_default_evaluates_every_user_and_records_no_sample(full, model, split):
    n_eligible = int((np.diff(split.test.tocsr().indptr) > 0).sum())
    assert full.details["n_users_evaluated"] == n_eligible > 20
    assert "user_sample" not in full.details
    explicit = evaluate_topk(model, split, ks=(5, 10), max_users=None)
    assert explicit.metrics == full.metrics and explicit.details == full.details


def test_a_sample_has_the_cap_size_and_the_full_runs_per_user_values(full, model, split):
    sampled = evaluate_topk(model, split, ks=(5, 10), max_users=20)
    users = sampled.per_user["user"]
    assert users.size == sampled.details["n_users_evaluated"] == 20
    assert np.all(np.diff(users) > 0) and np.isin(users, full.per_user["user"]).all()
    rows = np.searchsorted(full.per_user["user"], users)
    for name in ("recall@10", "ndcg@10", "precision@5", "map@10"):
        np.testing.assert_array_equal(sampled.per_user[name], full.per_user[name][rows])
        assert sampled.metrics[name] == pytest.approx(float(full.per_user[name][rows].mean()), abs=0)
    np.testing.assert_array_equal(sampled.per_user["top_items"], full.per_user["top_items"][rows])
    assert sampled.details["user_sample"] == {
        "max_users": 20,
        "seed": split.seed,
        "n_eligible_users": full.details["n_users_evaluated"],
        "sampled": True,
    }
    n_relevant = np.diff(split.test.tocsr().indptr)
    assert sampled.details["n_relevant_pairs"] == int(n_relevant[users].sum())


def test_the_sample_is_reproducible_from_its_seed(model, split):
    first = evaluate_topk(model, split, ks=(10,), max_users=15)
    again = evaluate_topk(model, split, ks=(10,), max_users=15)
    other = evaluate_topk(model, split, ks=(10,), max_users=15, sample_seed=split.seed + 1)
    np.testing.assert_array_equal(first.per_user["user"], again.per_user["user"])
    assert first.metrics == again.metrics
    assert not np.array_equal(first.per_user["user"], other.per_user["user"])
    assert other.details["user_sample"]["seed"] == split.seed + 1
    users = np.arange(100)
    np.testing.assert_array_equal(sample_users(users, max_users=10, seed=3), sample_users(users, max_users=10, seed=3))


def test_a_cap_at_least_the_number_of_users_changes_no_metric(full, model, split):
    capped = evaluate_topk(model, split, ks=(5, 10), max_users=10_000)
    assert capped.metrics == full.metrics
    np.testing.assert_array_equal(capped.per_user["user"], full.per_user["user"])
    assert capped.details["user_sample"]["sampled"] is False


def test_batch_size_does_not_change_a_sampled_run(model, split):
    reference = evaluate_topk(model, split, ks=(10,), max_users=25, batch_size=1000)
    for batch_size in (1, 7):
        other = evaluate_topk(model, split, ks=(10,), max_users=25, batch_size=batch_size)
        assert other.metrics == reference.metrics
        np.testing.assert_array_equal(other.per_user["top_items"], reference.per_user["top_items"])


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_bad_max_users_is_refused(model, split, bad):
    with pytest.raises(ValueError, match="max_users must be a positive integer or None"):
        evaluate_topk(model, split, max_users=bad)


# --- experiment service and command ---------------------------------------------------------------


@pytest.fixture
def tiny_catalog(db):
    """Two taste clusters of 24 listeners over 16 artists, deterministic."""
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


def test_experiment_run_passes_max_users_and_records_it(tiny_catalog, tmp_path, sql_store):
    dataset = InteractionDataset.from_catalog(store=sql_store)
    run = experiment_run(
        dataset=dataset,
        protocol="T",
        models=["most_popular"],
        ks=[5],
        reports_dir=tmp_path,
        plots=False,
        progress=False,
        max_users=5,
    )
    (result,) = run.results
    assert result.details["n_users_evaluated"] == 5 and result.details["user_sample"]["sampled"]
    assert json.loads((run.report_dir / "metrics.json").read_text())["config"]["max_users"] == 5
    with pytest.raises(ConfigurationError, match="Protocol C"):
        experiment_run(dataset=dataset, protocol="C", models=["most_popular"], reports_dir=tmp_path, max_users=5)


def test_evaluate_command_max_users(tiny_catalog, tmp_path, capsys):
    common = ["--models", "most_popular", "--ks", "5", "--reports-dir", str(tmp_path), "--no-plots", "--no-progress"]
    call_command("evaluate", "--protocol", "T", *common, "--backend", "sql", "--max-users", "4")
    assert "Report written to" in capsys.readouterr().out
    (report,) = tmp_path.glob("*/metrics.json")
    assert json.loads(report.read_text())["config"]["max_users"] == 4
    with pytest.raises(CommandError, match="--max-users must be at least 1"):
        call_command("evaluate", "--protocol", "T", *common, "--max-users", "0")
    with pytest.raises(CommandError, match="--max-users applies to the top-K protocols"):
        call_command("evaluate", "--protocol", "C", *common, "--max-users", "4")
    with pytest.raises(CommandError, match="--max-users applies to the top-K protocols"):
        call_command("evaluate", "--protocol", "T", *common, "--rerank", "none", "--max-users", "4")
