"""Re-rankers (registry, strength 0 = identity, monotone effects) and ``evaluate --rerank`` on a tiny catalog."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from django.core.management import CommandError, call_command

from catalog.models import Artist, Listen, Listener, Tag, TagAssignment
from core.errors import ConfigurationError
from kg.stores import EntityRecord, RelationRecord
from recommender.evaluation import learning_metrics as LM
from recommender.evaluation.moods import item_mood_distributions, load_mood_lexicon
from recommender.reranking import (
    RerankContext,
    RerankSpec,
    available_rerankers,
    parse_rerank,
    pool_size,
    register_reranker,
    rerank,
)

# --- specs and the registry --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("popularity:0.5", RerankSpec("popularity", 0.5)),
        (" Diversity : 1 ", RerankSpec("diversity", 1.0)),
        ("diversity", RerankSpec("diversity", 0.3)),
        ("mood", RerankSpec("mood", 0.5)),
        ("unit:0", RerankSpec("unit", 0.0)),
        ("none", RerankSpec("none", 0.0)),
        (None, RerankSpec("none", 0.0)),
    ],
)
def test_specs_parse(text, expected):
    spec = parse_rerank(text)
    assert spec == expected
    assert parse_rerank(str(spec)) == spec  # str() gives back a parseable spec


@pytest.mark.parametrize(
    "text, message",
    [
        ("magic:0.5", "unknown re-ranker 'magic'; choose from: none, popularity, diversity, mood, unit"),
        ("popularity:2", "from 0 to 1"),
        ("popularity:-0.1", "from 0 to 1"),
        ("popularity:abc", "from 0 to 1"),
        ("popularity:nan", "from 0 to 1"),
        ("none:0.3", "takes no strength"),
        ("pop ularity", "NAME or NAME:STRENGTH"),
        ("a:1:2", "NAME or NAME:STRENGTH"),
    ],
)
def test_bad_specs_say_what_to_write(text, message):
    with pytest.raises(ConfigurationError, match=message):
        parse_rerank(text)


def test_registry_lists_every_reranker_and_refuses_duplicates():
    assert list(available_rerankers()) == ["none", "popularity", "diversity", "mood", "unit"]
    with pytest.raises(ConfigurationError, match="already registered"):
        register_reranker("mood", description="again")(lambda items, context: None)
    assert pool_size(10) == 100 and pool_size(40) == 200 and pool_size(3, minimum=5) == 15


# --- behaviour on candidate lists --------------------------------------------------------------------

N = 60
RNG = np.random.default_rng(3)
SCORES = RNG.normal(size=N)
POPULARITY = RNG.integers(0, 500, size=N).astype(float)
FEATURES = LM.normalised_features(sp.random(N, 12, density=0.3, random_state=4, format="csr"))
LEXICON = load_mood_lexicon()
MOOD_TAGS = ["sad", "happy", "mellow", "rock"]
MOODS = item_mood_distributions(sp.random(N, 4, density=0.4, random_state=5, format="csr") * 10, MOOD_TAGS, LEXICON)
CONCEPTS = sp.random(N, 8, density=0.1, random_state=6, format="csr")
CONCEPTS.data[:] = 1.0
FULL = RerankContext(
    item_popularity=POPULARITY,
    item_features=FEATURES,
    item_moods=MOODS,
    mood_profile=LEXICON.preference(["sad"]),
    item_concepts=CONCEPTS,
    unit=np.array([0, 1, 2]),
)
ITEMS = np.arange(N)
BY_SCORE = ITEMS[np.argsort(-SCORES, kind="stable")]


@pytest.mark.parametrize("name", ["none", "popularity", "diversity", "mood", "unit"])
def test_strength_zero_is_the_models_order(name):
    spec = "none" if name == "none" else f"{name}:0"
    shuffled = RNG.permutation(N)
    np.testing.assert_array_equal(rerank(spec, shuffled, SCORES[shuffled], 10, FULL), BY_SCORE[:10])


def test_empty_slots_and_excluded_items_are_dropped_and_inputs_checked():
    items = np.array([5, -1, 7, 9])
    scores = np.array([3.0, 9.0, -np.inf, 1.0])
    np.testing.assert_array_equal(rerank("none", items, scores, 10, FULL), [5, 9])
    assert set(rerank("popularity:0.5", items, scores, 10, FULL)) == {5, 9}
    assert len(rerank("diversity:1", items, scores, 10, FULL)) == 2
    with pytest.raises(ConfigurationError, match="same length"):
        rerank("none", ITEMS, SCORES[:3], 5, FULL)
    with pytest.raises(ConfigurationError, match="positive whole number"):
        rerank("none", ITEMS, SCORES, 0, FULL)
    with pytest.raises(ConfigurationError, match="NaN"):
        rerank("none", ITEMS, np.full(N, np.nan), 5, FULL)
    with pytest.raises(ConfigurationError, match="popularity re-ranker needs item popularity"):
        rerank("popularity:0.5", ITEMS, SCORES, 5, RerankContext())
    with pytest.raises(ConfigurationError, match="diversity re-ranker needs item feature vectors"):
        rerank("diversity:0.5", ITEMS, SCORES, 5, RerankContext())


def _g_popularity(items: np.ndarray) -> np.ndarray:
    return 1 - np.log1p(POPULARITY[items]) / np.log1p(POPULARITY.max())


def test_more_popularity_strength_never_recommends_more_popular_items():
    previous_g, previous_log = -np.inf, np.inf
    arps = []
    for strength in np.linspace(0, 1, 11):
        top = rerank(f"popularity:{strength}", ITEMS, SCORES, 10, FULL)
        assert len(top) == 10 and len(set(top)) == 10
        g = _g_popularity(top).sum()
        mean_log = np.log1p(POPULARITY[top]).mean()
        assert g >= previous_g - 1e-12 and mean_log <= previous_log + 1e-12
        previous_g, previous_log = g, mean_log
        arps.append(LM.average_popularity(top, POPULARITY))
    assert arps[-1] < arps[0]
    # at full strength the least popular items come first, ties in the model's order
    np.testing.assert_array_equal(
        rerank("popularity:1", ITEMS, SCORES, 10, FULL),
        np.lexsort((np.argsort(np.argsort(-SCORES, kind="stable")), POPULARITY))[:10],
    )


def test_diversity_is_maximal_marginal_relevance_over_tags():
    # items 0-2: the same "rock" tags; 3, 4: "jazz"; 5: "blues"; scores fall in that order
    tags = LM.normalised_features(
        sp.csr_matrix(np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=float))
    )
    context = RerankContext(item_features=tags)
    items, scores = np.arange(6), np.array([1.0, 0.99, 0.98, 0.5, 0.45, 0.4])
    assert list(rerank("diversity:0", items, scores, 3, context)) == [0, 1, 2]
    assert list(rerank("diversity:0.3", items, scores, 3, context)) == [0, 1, 2]  # relevance still wins at 0.3
    # at 0.5: ŝ = (1, .983, .967, .167, .083, 0); 2nd pick: item 3 scores .583 against item 1's .492; 3rd: blues (.5) over jazz (.042)
    assert list(rerank("diversity:0.5", items, scores, 3, context)) == [0, 3, 5]
    ild = [
        LM.intra_list_diversity(rerank(f"diversity:{s}", items, scores, 3, context), tags)
        for s in (0, 0.3, 0.5, 0.8, 1)
    ]
    assert ild == sorted(ild) and ild[0] == 0 and ild[-1] == 1


def test_more_diversity_strength_raises_list_diversity_on_random_candidates():
    ild = [LM.intra_list_diversity(rerank(f"diversity:{s}", ITEMS, SCORES, 10, FULL), FEATURES) for s in (0, 0.5, 1)]
    assert ild[0] < ild[1] <= ild[2]


def test_mood_boosts_items_matching_the_profile():
    sad = LEXICON.moods.index("sad")
    cos = np.divide(MOODS[:, sad], np.linalg.norm(MOODS, axis=1), out=np.zeros(N), where=MOODS.sum(axis=1) > 0)
    previous = -np.inf
    for strength in (0, 0.25, 0.5, 1):
        total = cos[rerank(f"mood:{strength}", ITEMS, SCORES, 10, FULL)].sum()
        assert total >= previous - 1e-12
        previous = total
    top = rerank("mood:1", ITEMS, SCORES, 5, FULL)
    assert list(cos[top]) == sorted(cos, reverse=True)[:5]
    no_profile = RerankContext(item_moods=MOODS, mood_profile=np.zeros(LEXICON.n_moods))
    np.testing.assert_array_equal(rerank("mood:1", ITEMS, SCORES, 10, no_profile), BY_SCORE[:10])


def test_unit_reranking_covers_more_of_the_unit():
    # 6 candidates over concepts a, b, c; unit = {a, b, c}
    concepts = sp.csr_matrix(np.array([[0, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]], dtype=float))
    context = RerankContext(item_concepts=concepts, unit=np.array([0, 1, 2]))
    items, scores = np.arange(6), np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5])
    assert list(rerank("unit:1", items, scores, 3, context)) == [1, 3, 5]  # each pick adds a new concept
    ems = [
        LM.educational_match(rerank(f"unit:{s}", items, scores, 3, context), concepts, [0, 1, 2]).ems
        for s in (0, 0.5, 1)
    ]
    assert ems == sorted(ems) and ems[0] < ems[-1] == 1.0
    np.testing.assert_array_equal(
        rerank("unit:1", items, scores, 3, RerankContext(item_concepts=concepts, unit=np.array([], dtype=int))),
        [0, 1, 2],
    )


# --- evaluate --rerank on a tiny catalog ---------------------------------------------------------------

C = "leitmotif:concept:"


@pytest.fixture
def tiny_graph_catalog(db, sql_store):
    """Two taste clusters (blues, jazz) of 12 listeners over 16 artists, tags with moods, and a curriculum in the graph."""
    rng = np.random.default_rng(7)
    tags = {
        name: Tag.objects.create(lastfm_id=i + 1, name=name, entity_id=f"lastfm:tag:{i + 1}")
        for i, name in enumerate(["blues", "jazz", "sad", "mellow"])
    }
    artists = [
        Artist.objects.create(lastfm_id=i, name=f"Artist {i}", entity_id=f"lastfm:artist:{i}", kgcn_entity=i)
        for i in range(16)
    ]
    listeners = [Listener.objects.create(lastfm_id=1000 + u) for u in range(24)]
    for u, listener in enumerate(listeners):
        cluster = artists[:8] if u % 2 == 0 else artists[8:]
        for artist in rng.choice(cluster, size=6, replace=False):
            Listen.objects.create(listener=listener, artist=artist, play_count=int(rng.integers(1, 50)))
    relations = []
    for i, artist in enumerate(artists):
        genre = "blues" if i < 8 else "jazz"
        mood = "sad" if i % 3 == 0 else "mellow" if i % 3 == 1 else None
        for name in filter(None, (genre, mood)):
            TagAssignment.objects.create(listener=listeners[i], artist=artist, tag=tags[name])
            relations.append(RelationRecord(head=artist.entity_id, type="HAS_TAG", tail=tags[name].entity_id))
    entities = [EntityRecord(id=a.entity_id, type="Artist", name=a.name) for a in artists]
    entities += [EntityRecord(id=t.entity_id, type="Tag", name=t.name) for t in tags.values()]
    entities += [
        EntityRecord(id=f"{C}{s}", type="Concept", name=s) for s in ("blues-scale", "swing-rhythm", "teaching")
    ]
    sql_store.upsert_entities(entities)
    relations += [
        RelationRecord(head=f"{C}blues-scale", type="ASSOCIATED_TAG", tail=tags["blues"].entity_id),
        RelationRecord(head=f"{C}swing-rhythm", type="ASSOCIATED_TAG", tail=tags["jazz"].entity_id),
        RelationRecord(head=f"{C}blues-scale", type="PREREQUISITE_OF", tail=f"{C}swing-rhythm"),
    ]
    sql_store.upsert_relations(relations)
    return artists


def _evaluate(tmp_path, *args):
    call_command(
        "evaluate",
        "--protocol",
        "T",
        "--models",
        "most_popular",
        "item_knn",
        "--ks",
        "3",
        "5",
        "--reports-dir",
        str(tmp_path),
        "--no-plots",
        "--no-progress",
        "--backend",
        "sql",
        *args,
    )
    (report,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return report, json.loads((report / "metrics.json").read_text())


def test_evaluate_with_rerank_reports_every_model_and_setting(tiny_graph_catalog, tmp_path, capsys):
    plain_dir = tmp_path / "plain"
    plain_report, plain = _evaluate(plain_dir)
    assert "ems@5" not in json.dumps(plain)  # without --rerank the run is the one it always was
    report, document = _evaluate(
        tmp_path / "reranked", "--rerank", "none", "popularity:1", "diversity:0.3", "mood:0.5", "unit:0.5"
    )
    out = capsys.readouterr().out
    settings = ["none", "popularity:1", "diversity:0.3", "mood:0.5", "unit:0.5"]
    models = {f"{m} + {s}" for m in ("baseline.most_popular.v1", "baseline.item_knn.v1") for s in settings}
    assert {r["model"] for r in document["results"]} == models
    assert (
        document["config"]["rerank"] == settings and document["config"]["graph"]["concepts"] == 2
    )  # "teaching" has no edge: the side information never sees it
    by_model = {r["model"]: r for r in document["results"]}
    plain_by_model = {r["model"]: r for r in plain["results"]}
    for model in ("baseline.most_popular.v1", "baseline.item_knn.v1"):
        none = by_model[f"{model} + none"]["metrics"]
        for name, value in plain_by_model[model]["metrics"].items():
            assert none[name] == pytest.approx(value), name  # "none" is exactly the plain evaluation
        for k in (3, 5):
            for name in ("arp", "long_tail", "ild", "ems", "ers", "mood_share", "ems_coverage", "ems_on_topic"):
                assert f"{name}@{k}" in none
            assert 0 <= none[f"ems@{k}"] <= 1 and 0 <= none[f"ers@{k}"] <= 1
        assert by_model[f"{model} + popularity:1"]["metrics"]["arp@5"] <= none["arp@5"]
        assert by_model[f"{model} + mood:0.5"]["metrics"]["ers@5"] >= none["ers@5"] - 1e-9
        assert by_model[f"{model} + unit:0.5"]["metrics"]["ems@5"] >= none["ems@5"] - 1e-9
        details = by_model[f"{model} + unit:0.5"]["details"]
        assert details["n_users_with_unit"] == details["n_users_evaluated"] and details["rerank"] == "unit:0.5"
    assert (
        by_model["baseline.most_popular.v1 + popularity:1"]["metrics"]["arp@5"]
        < by_model["baseline.most_popular.v1 + none"]["metrics"]["arp@5"]
    )
    table = (report / "results.md").read_text()
    assert (
        "| model | precision@5" in table
        and "ems@5 | ers@5 |" in table
        and "baseline.item_knn.v1 + diversity:0.3" in out
    )


def test_evaluate_with_a_fixed_unit(tiny_graph_catalog, tmp_path):
    _, document = _evaluate(tmp_path, "--units", f"{C}swing-rhythm", "--ks", "5")
    (none,) = [r for r in document["results"] if r["model"] == "baseline.most_popular.v1 + none"]
    assert none["details"]["units"] == f"fixed: {C}swing-rhythm"
    assert document["config"]["units"] == [f"{C}swing-rhythm"] and document["config"]["rerank"] == ["none"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rerank", "magic"], "unknown re-ranker 'magic'"),
        (["--rerank", "popularity:3"], "from 0 to 1"),
        (["--rerank", "none", "none"], "give each re-ranking setting once"),
        (["--units", f"{C}nope"], "'leitmotif:concept:nope' is not a concept"),
        (["--pool-size", "0"], "--pool-size must be at least 1"),
    ],
)
def test_evaluate_rejects_bad_rerank_arguments(tiny_graph_catalog, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        _evaluate(tmp_path, *args)
    assert not any(tmp_path.iterdir()) if tmp_path.exists() else True  # nothing half written


def test_rerank_needs_ranked_lists(tiny_graph_catalog, tmp_path):
    with pytest.raises(CommandError, match="need ranked lists"):
        call_command(
            "evaluate",
            "--protocol",
            "C",
            "--models",
            "most_popular",
            "--rerank",
            "diversity",
            "--reports-dir",
            str(tmp_path),
            "--no-progress",
            "--backend",
            "sql",
        )
