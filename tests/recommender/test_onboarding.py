"""The onboarding protocol: user-level split, picks from training data only, metrics, families, explanation quality."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from core.errors import ConfigurationError
from kg.stores import EntityRecord
from recommender.base import ItemSideInfo
from recommender.baselines.content_tags import ContentTags
from recommender.baselines.item_knn import ItemKNN
from recommender.baselines.most_popular import MostPopular
from recommender.data import InteractionDataset
from recommender.evaluation import onboarding as O
from recommender.evaluation.explanation_quality import explanation_quality
from recommender.explanations import Explanation, ExplanationPath, GraphSnapshot
from recommender.explanations.quality import node_quality, tag_name_is_non_descriptive

TAG_NAMES = ["rock", "electronic", "seen live", "1995", "heavy metal", "piano"]


def _dataset(seed: int = 0, n_users: int = 60, n_items: int = 30) -> InteractionDataset:
    """Seeded listeners of 3..14 artists; three item groups, each with its own tags."""
    rng = np.random.default_rng(seed)
    users, items, weights = [], [], []
    for u in range(n_users):
        group = u % 3
        pool = np.arange(group * 10, group * 10 + 10)
        size = int(rng.integers(3, 11))
        chosen = (
            rng.choice(pool, size=min(size, 10), replace=False).tolist() + rng.choice(30, 2, replace=False).tolist()
        )
        for i in dict.fromkeys(chosen):
            users.append(u)
            items.append(int(i))
            weights.append(float(rng.integers(1, 100)))
    tags = np.zeros((n_items, len(TAG_NAMES)), dtype=np.float32)
    tags[0:10, 0] = 5  # rock
    tags[10:20, 1] = 5  # electronic
    tags[20:30, 4] = 5  # heavy metal
    tags[:, 2] = 9  # "seen live" everywhere, more than any genre: never a pick
    tags[10:20, 3] = 1  # "1995"
    tags[25, 5] = 3  # piano on one item only
    side_info = ItemSideInfo(
        item_tags=sp.csr_matrix(tags),
        tag_names=list(TAG_NAMES),
        kg_triples=np.zeros((0, 3), dtype=np.int64),
        entity_ids=[f"e{i}" for i in range(n_items)],
        relation_types=[],
        item_entity=np.arange(n_items),
    )
    return InteractionDataset.from_arrays(users, items, weights, all_item_ids=np.arange(n_items), side_info=side_info)


TAG_ENTITIES = [f"lastfm:tag:{i}" for i in range(len(TAG_NAMES))]


@pytest.fixture(scope="module")
def split() -> O.OnboardingSplit:
    return O.onboarding_split(
        _dataset(),
        seed=3,
        tag_entities=TAG_ENTITIES,
        instrument_of_tag={"lastfm:tag:5": "leitmotif:instrument:piano"},
    )


def test_held_out_learners_have_no_row_in_training(split):
    dataset = _dataset()
    held_out = np.union1d(split.test_users, split.validation_users)
    assert split.test_users.size and split.validation_users.size
    assert not set(split.test_users.tolist()) & set(split.validation_users.tolist())
    for matrix in (split.train, split.early_stopping, split.train_binary()):
        assert matrix[held_out].nnz == 0
    # every training listener's row is in train + early stopping, every held-out row in known + heldout
    assert (split.train + split.early_stopping + split.known + split.heldout != dataset.matrix).nnz == 0
    assert (split.known.multiply(split.heldout)).nnz == 0
    assert split.known[held_out].nnz and split.heldout[held_out].nnz
    assert np.all(np.diff(dataset.matrix.indptr)[held_out] >= O.MIN_ITEMS)


def test_the_split_is_seeded():
    a = O.onboarding_split(_dataset(), seed=1, tag_entities=TAG_ENTITIES)
    b = O.onboarding_split(_dataset(), seed=1, tag_entities=TAG_ENTITIES)
    c = O.onboarding_split(_dataset(), seed=2, tag_entities=TAG_ENTITIES)
    assert np.array_equal(a.test_users, b.test_users) and (a.heldout != b.heldout).nnz == 0
    assert not np.array_equal(a.test_users, c.test_users) or (a.heldout != c.heldout).nnz


def test_picks_come_from_the_known_part_only(split):
    for user, learner in split.learners.items():
        known = set(split.known[user].indices.tolist())
        assert set(learner.artist_items) <= known and len(learner.artist_items) == min(O.PICK_ARTISTS, len(known))
        # the most played known artists
        row = split.known[user]
        best = row.indices[np.argsort(-row.data, kind="stable")][: len(learner.artist_items)]
        assert set(best.tolist()) == set(learner.artist_items)
        assert not set(learner.artist_items) & set(split.heldout[user].indices.tolist())
        # tags describe known artists only, and never a noise tag
        item_tags = _dataset().side_info.item_tags
        on_known = set(item_tags[sorted(known)].indices.tolist())
        assert set(learner.tag_columns) <= on_known
        assert all(tag_name_is_non_descriptive(TAG_NAMES[t]) is None for t in learner.tag_columns)
        assert learner.tag_entities == tuple(TAG_ENTITIES[t] for t in learner.tag_columns)


def test_a_tag_only_on_held_out_artists_is_never_picked():
    dataset = _dataset()
    split = O.onboarding_split(dataset, seed=3, tag_entities=TAG_ENTITIES)
    for user, learner in split.learners.items():
        if 25 in split.heldout[user].indices and 25 not in split.known[user].indices:
            assert 5 not in learner.tag_columns  # "piano" is on item 25 only
        if 5 in learner.tag_columns:
            assert 25 in split.known[user].indices


def test_an_instrument_is_picked_where_a_picked_tag_names_one(split):
    for learner in split.learners.values():
        expected = ("leitmotif:instrument:piano",) if 5 in learner.tag_columns else ()
        assert learner.instrument_entities == expected
        assert learner.entity_ids(variant="tags_only", artist_entities=[f"a{i}" for i in range(30)]) == list(
            learner.tag_entities
        ) + list(expected)


def test_genre_family_rule():
    assert O.genre_family(["seen live", "heavy metal", "rock"]) == "metal"
    assert O.genre_family(["synthpop"]) == "electronic"
    assert O.genre_family(["classical piano", "rock"]) == "classical"
    assert O.genre_family(["hip hop"]) == "hip-hop/r&b"
    assert O.genre_family(["indie"]) == "rock"
    assert O.genre_family(["female vocalists"]) == O.OTHER_FAMILY


def test_metrics_on_a_tiny_fixture(split):
    def oracle(learner: O.Learner, variant: str) -> np.ndarray:
        scores = np.zeros(split.n_items)
        scores[split.heldout[learner.user].indices] = 1.0
        scores[split.known[learner.user].indices] = 5.0  # known items are masked: they never count
        return scores

    results = O.evaluate_onboarding(oracle, split, model_name="oracle", ks=(10,))
    overall = results[0]
    assert overall.split == "onboarding" and overall.details["n_users_evaluated"] == split.test_users.size
    counts = np.diff(split.heldout[split.test_users].indptr)
    assert overall.metrics["recall@10"] == pytest.approx(np.mean(np.minimum(counts, 10) / counts))
    assert overall.metrics["ndcg@10"] == pytest.approx(1.0)
    families = {r.split for r in results[1:]}
    assert families == {f"onboarding/{split.learners[u].family}" for u in split.test_users.tolist()}
    assert sum(r.details["n_users_evaluated"] for r in results[1:]) == split.test_users.size

    def worst(learner: O.Learner, variant: str) -> np.ndarray:
        return -oracle(learner, variant)

    assert O.evaluate_onboarding(worst, split, model_name="w", ks=(10,))[0].metrics["recall@10"] < 0.5


def test_baselines_score_picks_without_the_learner(split):
    dataset = _dataset()
    context = split.training_context(dataset.side_info)
    train = split.train_binary()
    popular = MostPopular().fit(train, seed=0, context=context)
    knn = ItemKNN(k=10).fit(train, seed=0, context=context)
    content = ContentTags().fit(train, seed=0, context=context)
    learner = split.learners[int(split.test_users[0])]
    assert np.array_equal(popular.score_picks([1], [0]), popular.score_picks([], []))
    knn_scores = knn.score_picks(list(learner.artist_items), [])
    assert knn_scores.shape == (dataset.n_items,) and knn_scores.max() > 1e-6
    # a picked "electronic" tag pulls the electronic group (items 10..19) up, with no artist picked
    electronic = content.score_picks([], [1])
    assert set(np.argsort(-electronic)[:10].tolist()) == set(range(10, 20))
    results = O.evaluate_onboarding(O.baseline_scorer(knn), split, model_name="knn", ks=(10,))
    assert 0.0 <= results[0].metrics["recall@10"] <= 1.0


def test_bad_inputs_are_refused(split):
    with pytest.raises(ConfigurationError, match="variant"):
        O.evaluate_onboarding(lambda learner, v: np.zeros(split.n_items), split, model_name="x", variant="nope")
    with pytest.raises(ConfigurationError, match="part"):
        split.users("train")
    with pytest.raises(ConfigurationError, match="seed"):
        O.onboarding_split(_dataset(), seed=-1)
    with pytest.raises(ValueError, match="scores"):
        O.evaluate_onboarding(lambda learner, v: np.zeros(3), split, model_name="x")
    bare = InteractionDataset.from_arrays([1, 1, 2], [1, 2, 1], [1, 1, 1])
    with pytest.raises(ConfigurationError, match="tags"):
        O.onboarding_split(bare, seed=0)


# --- explanation quality on a small graph -------------------------------------------------------------


def _graph() -> GraphSnapshot:
    entities = [
        EntityRecord("a:1", "Artist", "Chopin"),
        EntityRecord("a:2", "Artist", "Liszt"),
        EntityRecord("a:3", "Artist", "Pink Floyd"),
        EntityRecord("t:classical", "Tag", "classical"),
        EntityRecord("t:1995", "Tag", "1995"),
        EntityRecord("f:1", "Film", "Film kgcn:1"),
        EntityRecord("f:2", "Film", "Amadeus"),
    ]
    triples = [
        ("a:1", "HAS_TAG", "t:classical"),
        ("a:2", "HAS_TAG", "t:classical"),
        ("a:2", "HAS_TAG", "t:1995"),
        ("a:3", "HAS_TAG", "t:1995"),
        ("a:1", "ACTOR_FILM", "f:1"),
        ("a:3", "ACTOR_FILM", "f:1"),
        ("a:2", "ACTOR_FILM", "f:2"),
        ("a:3", "ACTOR_FILM", "f:2"),
    ]
    return GraphSnapshot.from_records(sorted(entities, key=lambda e: e.id), sorted(triples))


def _reason(snapshot: GraphSnapshot, *node_paths: list[str]) -> Explanation:
    paths = [
        ExplanationPath(
            score=1.0,
            nodes=[{"id": n, "name": snapshot.names[snapshot.node_index[n]], "type": "x"} for n in nodes],
            edges=[{"type": "HAS_TAG"}] * (len(nodes) - 1),
            sentence="…",
        )
        for nodes in node_paths
    ]
    return Explanation(target=node_paths[0][-1], basis="graph", paths=paths, sentence="…")


def test_explanation_quality_counts_on_a_small_graph():
    snapshot = _graph()
    quality = node_quality(snapshot)
    assert not quality.descriptive[snapshot.node_index["t:1995"]]  # a year is no reason
    assert not quality.music[snapshot.node_index["f:2"]] and quality.named[snapshot.node_index["f:2"]]
    assert not quality.named[snapshot.node_index["f:1"]] and not quality.passable[snapshot.node_index["f:1"]]
    own = {"a:1", "t:classical"}
    reasons = [
        (_reason(snapshot, ["t:classical", "a:2"]), own),  # 1 hop, cites a pick
        (_reason(snapshot, ["a:1", "t:classical", "a:2"]), own),  # 2 hops, cites a pick
        (_reason(snapshot, ["a:2", "t:1995", "a:3"]), own),  # noise tag, not own
        (_reason(snapshot, ["a:1", "f:1", "a:3"], ["a:2", "f:2", "a:3"]), own),  # unnamed and non-music
        (Explanation.fallback("a:3", "popularity", "Pink Floyd is popular."), own),
        (
            Explanation.fallback("a:2", "similar_listeners", "…", evidence={"artist": {"id": "a:1", "name": "Chopin"}}),
            own,
        ),
    ]
    metrics = explanation_quality(reasons, snapshot)
    assert metrics["n_reasons"] == 6
    assert metrics["graph_share"] == pytest.approx(4 / 6, abs=1e-4)
    assert (metrics["hops_1"], metrics["hops_2"], metrics["hops_3"]) == (0.25, 0.75, 0.0)
    assert metrics["short_share"] == pytest.approx(5 / 6, abs=1e-4)  # 4 short paths + 1 co-listening link
    assert metrics["cites_own_share"] == pytest.approx(4 / 6, abs=1e-4)
    assert metrics["noise_share"] == pytest.approx(1 / 6, abs=1e-4)
    assert metrics["non_music_share"] == pytest.approx(1 / 6, abs=1e-4)
    assert metrics["unnamed_share"] == pytest.approx(1 / 6, abs=1e-4)
    assert metrics["popularity_share"] == pytest.approx(1 / 6, abs=1e-4)
    assert explanation_quality([], snapshot)["graph_share"] == 0.0


def test_noise_tag_rules():
    for noise in ("1995", "2008", "10/10", "fave", "faves", "myfavoritesongs", "seen live", "a b c d e"):
        assert tag_name_is_non_descriptive(noise) is not None, noise
    for genre in ("80s", "classical piano", "favela funk", "heavy metal", "drum and bass"):
        assert tag_name_is_non_descriptive(genre) is None, genre


def test_a_model_that_cannot_score_picks_is_refused_before_training():
    with pytest.raises(ConfigurationError, match=r"baseline.ease.v1 cannot score a new learner.s picks"):
        O.onboarding_run(dataset=_dataset(), models=["most_popular", "ease"], plots=False, progress=False)
    with pytest.raises(ConfigurationError, match="at least one model"):
        O.onboarding_run(dataset=_dataset(), models=[], plots=False, progress=False)
