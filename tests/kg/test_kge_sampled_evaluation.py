"""Capped KGE evaluation: a seeded sample of large evaluation sets, filtered against every known triple.

Filtered ranking costs triples × entities, so ``KgeConfig.evaluation_max_triples`` replaces a larger
test (or early-stopping validation) set by a seeded sample. These tests pin what the cap promises: the
sample has exactly the cap's size, the same config always draws the same triples, the filter still
holds every triple of training, validation and test, bad caps are refused, and sets within the cap
(every real run's) are evaluated exactly as before.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pykeen.evaluation import RankBasedEvaluator

from core.errors import ConfigurationError
from kg.embeddings.config import DEFAULT_EVALUATION_MAX_TRIPLES, KgeConfig
from kg.embeddings.training import evaluation_set, kge_evaluate, kge_train, kge_train_on_split
from kg.embeddings.triples import split_labeled_triples
from tests.helpers.kge_graphs import music_graph, tiny_config


def scene_graph(n_artists: int = 90) -> np.ndarray:
    """``n_artists`` artists in 3 scenes (genre, label, a similar artist each): 270 triples, test part ≈ 27."""
    triples = []
    for i in range(n_artists):
        scene = i % 3
        triples.append((f"artist:{i}", "HAS_GENRE", f"genre:{scene}"))
        triples.append((f"artist:{i}", "SIGNED_TO", f"label:{scene}"))
        triples.append((f"artist:{i}", "SIMILAR_TO", f"artist:{(i + 3) % n_artists}"))
    return np.asarray(triples, dtype=str)


@pytest.fixture(scope="module")
def split():
    return split_labeled_triples(triples=scene_graph(), ratios=(0.8, 0.1, 0.1), seed=7)


def _rows(tensor: torch.Tensor) -> set[tuple[int, ...]]:
    return {tuple(row) for row in tensor.tolist()}


@pytest.fixture
def evaluate_calls(monkeypatch):
    """Every RankBasedEvaluator.evaluate call: (evaluated triples, evaluated ∪ filter triples)."""
    calls: list[tuple[set, set]] = []
    original = RankBasedEvaluator.evaluate

    def spy(self, model, mapped_triples, *args, **kwargs):
        extra = kwargs.get("additional_filter_triples")
        extra = [] if extra is None else [extra] if torch.is_tensor(extra) else list(extra)
        known = _rows(mapped_triples).union(*(_rows(t) for t in extra))
        calls.append((_rows(mapped_triples), known))
        return original(self, model, mapped_triples, *args, **kwargs)

    monkeypatch.setattr(RankBasedEvaluator, "evaluate", spy)
    return calls


# --- config -------------------------------------------------------------------------------------


def test_default_cap_keeps_every_real_evaluation_set_whole():
    # Last.FM KGCN test 1,552; store Last.FM 4,254; DBpedia test 4,995 (benchmarks/results/kge_*.json).
    assert KgeConfig().evaluation_max_triples == DEFAULT_EVALUATION_MAX_TRIPLES >= 4_995
    assert KgeConfig(evaluation_max_triples=0).evaluation_max_triples == 0  # 0: every triple


@pytest.mark.parametrize("bad", [-1, -100, 2.5, True, "10", None])
def test_bad_caps_are_refused_with_a_clear_message(bad):
    with pytest.raises(ConfigurationError, match=r"evaluation_max_triples must be an integer at least 0 \(0 evaluates"):
        KgeConfig(evaluation_max_triples=bad)


def test_cap_is_part_of_the_config_json_and_hash():
    config = tiny_config(evaluation_max_triples=5)
    assert KgeConfig.from_json(config.to_json()) == config
    assert config.config_hash() != tiny_config().config_hash()
    # A config.json written before the cap existed still loads, with the default cap.
    old = {key: value for key, value in tiny_config().to_dict().items() if key != "evaluation_max_triples"}
    assert KgeConfig.from_dict(old).evaluation_max_triples == DEFAULT_EVALUATION_MAX_TRIPLES


# --- sampling -----------------------------------------------------------------------------------


def test_sample_has_the_cap_size_is_seeded_and_keeps_the_whole_set_for_the_filter(split):
    total = split.testing.num_triples
    assert total > 5
    first = evaluation_set(split.testing, config=tiny_config(evaluation_max_triples=5))
    again = evaluation_set(split.testing, config=tiny_config(evaluation_max_triples=5))
    other = evaluation_set(split.testing, config=tiny_config(evaluation_max_triples=5, seed=8))
    assert first.factory.num_triples == 5 and first.sampled and first.set_triples == total
    assert first.sample_seed == 7
    assert torch.equal(first.factory.mapped_triples, again.factory.mapped_triples)
    assert not torch.equal(first.factory.mapped_triples, other.factory.mapped_triples)
    assert _rows(first.factory.mapped_triples) <= _rows(split.testing.mapped_triples)
    assert torch.equal(first.unsampled_triples, split.testing.mapped_triples)


@pytest.mark.parametrize("cap", [0, 27, 10_000])
def test_cap_zero_or_at_least_the_set_size_evaluates_the_set_itself(split, cap):
    cap = max(cap, split.testing.num_triples) if cap else 0
    whole = evaluation_set(split.testing, config=tiny_config(evaluation_max_triples=cap))
    assert whole.factory is split.testing and not whole.sampled and whole.unsampled_triples is None


# --- training and evaluation --------------------------------------------------------------------


def test_small_cap_evaluates_exactly_that_many_test_triples_reproducibly(split, evaluate_calls):
    config = tiny_config(evaluation_max_triples=6)
    result = kge_train_on_split(split=split, config=config)
    metrics = result.metrics
    assert metrics.num_triples == 6 and metrics.sampled and metrics.sample_seed == 7
    assert metrics.set_triples == split.testing.num_triples == result.split_sizes["testing"]
    saved = result.metrics_dict()["evaluations"]["test"]
    assert saved["num_triples"] == 6 and saved["sampled"] is True and saved["set_triples"] == metrics.set_triples

    # The filter of the sampled test evaluation holds every known triple of all three parts.
    (evaluated, known), *_ = evaluate_calls
    assert len(evaluated) == 6
    everything = _rows(split.training.mapped_triples) | _rows(split.validation.mapped_triples)
    assert known == everything | _rows(split.testing.mapped_triples)

    again = kge_train_on_split(split=split, config=config)
    assert again.metrics == metrics


def test_sampled_ranks_are_the_full_evaluations_ranks_of_those_triples(split):
    """Same model, same sample: capped evaluation = uncapped evaluation of the sample with the full filter."""
    config = tiny_config(evaluation_max_triples=6)
    result = kge_train_on_split(split=split, config=config)
    sample = evaluation_set(split.testing, config=config).factory
    known = [split.training.mapped_triples, split.validation.mapped_triples, split.testing.mapped_triples]
    full_filter = kge_evaluate(
        model=result.model, testing=sample, filter_triples=known, config=tiny_config(evaluation_max_triples=0)
    )
    assert (full_filter.mrr, full_filter.hits_at_10) == (result.metrics.mrr, result.metrics.hits_at_10)
    assert full_filter.num_triples == 6 and not full_filter.sampled


def test_within_the_cap_results_are_unchanged(split):
    """A set no larger than the cap (every real run) is evaluated exactly as with no cap at all."""
    uncapped = kge_train_on_split(split=split, config=tiny_config(evaluation_max_triples=0))
    default = kge_train_on_split(split=split, config=tiny_config())
    assert not default.metrics.sampled and default.metrics.num_triples == split.testing.num_triples
    assert (default.metrics.mrr, default.metrics.hits_at_1, default.metrics.hits_at_10) == (
        uncapped.metrics.mrr,
        uncapped.metrics.hits_at_1,
        uncapped.metrics.hits_at_10,
    )
    np.testing.assert_array_equal(default.entity_embeddings, uncapped.entity_embeddings)


def test_early_stopping_validates_on_a_sample_filtered_with_the_whole_validation_set(split, evaluate_calls):
    config = tiny_config(
        evaluation_max_triples=4, early_stopping=True, early_stopping_frequency=1, early_stopping_patience=1
    )
    result = kge_train_on_split(split=split, config=config)
    assert result.early_stopping_validation == {
        "num_triples": 4,
        "sampled": True,
        "set_triples": split.validation.num_triples,
        "sample_seed": 7,
    }
    assert result.metrics_dict()["training"]["early_stopping_validation"]["num_triples"] == 4
    validation_rows = _rows(split.validation.mapped_triples)
    stopper_calls = [(evaluated, known) for evaluated, known in evaluate_calls if evaluated <= validation_rows]
    assert stopper_calls, "the early stopper never evaluated"
    for evaluated, known in stopper_calls:
        assert len(evaluated) == 4
        assert known >= _rows(split.training.mapped_triples) | validation_rows
    test_calls = [call for call in evaluate_calls if call not in stopper_calls]
    assert len(test_calls) == 1 and len(test_calls[0][0]) == 4


def test_extra_test_sets_are_capped_too(split):
    result = kge_train_on_split(
        split=split, config=tiny_config(evaluation_max_triples=3), extra_test_sets={"again": split.testing}
    )
    assert result.evaluations["again"].num_triples == 3 and result.evaluations["again"].sampled
    # Same set, same seed, same cap: the same sample, the same filter, so the same numbers.
    assert result.evaluations["again"].mrr == result.metrics.mrr


def test_kge_train_on_the_tiny_graph_is_unchanged_by_the_default_cap():
    result = kge_train(triples=music_graph(), config=tiny_config())
    assert not result.metrics.sampled and result.metrics.set_triples == result.metrics.num_triples
    assert result.metrics_dict()["evaluations"]["test"]["sampled"] is False


def test_a_refresh_may_change_the_cap():
    from kg.embeddings.warm_start import REFRESH_OVERRIDABLE

    assert "evaluation_max_triples" in REFRESH_OVERRIDABLE  # evaluation only: the vector space is unchanged
