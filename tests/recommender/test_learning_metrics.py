"""EMS, ERS, popularity and diversity metrics, the mood lexicon and the item → concept links, on hand-made data.

The graph below is small enough to work every expected value out by hand (comments show the sums)::

    artist a1 -HAS_TAG-> blues      concept scales  -ASSOCIATED_TAG-> blues
    artist a2 -HAS_TAG-> jazz       concept rhythm  -ASSOCIATED_TAG-> blues
    artist a3 -HAS_TAG-> rock       concept chords  -ASSOCIATED_TAG-> jazz
    course c1 -TEACHES_CONCEPT-> chords,  c1 -COVERS_TAG-> blues
    concept teaching (no edges at all)

so a1 covers {rhythm, scales}, a2 {chords}, a3 nothing, c1 {chords, rhythm, scales}.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.sparse as sp

from core.errors import ConfigurationError, DataFileError
from kg.stores import EntityRecord
from recommender.base import ItemSideInfo
from recommender.evaluation import learning_metrics as LM
from recommender.evaluation.concepts import concept_links, concept_links_from_side_info, concept_links_from_snapshot
from recommender.evaluation.moods import (
    fold_tag_name,
    item_mood_distributions,
    load_mood_lexicon,
    mood_profile,
    user_mood_profiles,
)
from recommender.explanations import GraphSnapshot

C = "leitmotif:concept:"
TRIPLES = [
    ("lastfm:artist:1", "HAS_TAG", "lastfm:tag:blues"),
    ("lastfm:artist:2", "HAS_TAG", "lastfm:tag:jazz"),
    ("lastfm:artist:3", "HAS_TAG", "lastfm:tag:rock"),
    (f"{C}scales", "ASSOCIATED_TAG", "lastfm:tag:blues"),
    (f"{C}rhythm", "ASSOCIATED_TAG", "lastfm:tag:blues"),
    (f"{C}chords", "ASSOCIATED_TAG", "lastfm:tag:jazz"),
    ("udemy:course:1", "TEACHES_CONCEPT", f"{C}chords"),
    ("udemy:course:1", "COVERS_TAG", "lastfm:tag:blues"),
    (f"{C}scales", "PREREQUISITE_OF", f"{C}chords"),
]
ITEMS = [
    "lastfm:artist:1",
    "lastfm:artist:2",
    "lastfm:artist:3",
    "udemy:course:1",
    "lastfm:artist:99",
]  # the last is not in the graph
ENTITIES = sorted({h for h, _, _ in TRIPLES} | {t for _, _, t in TRIPLES} | {f"{C}teaching"})


def links():
    relation_types = sorted({r for _, r, _ in TRIPLES})
    index = {e: i for i, e in enumerate(ENTITIES)}
    return concept_links(
        entity_ids=ENTITIES,
        heads=np.array([index[h] for h, _, _ in TRIPLES]),
        relations=np.array([relation_types.index(r) for _, r, _ in TRIPLES]),
        tails=np.array([index[t] for _, _, t in TRIPLES]),
        relation_types=relation_types,
        item_nodes=np.array([index.get(e, -1) for e in ITEMS]),
    )


def covered(graph, item: int) -> set[str]:
    return {graph.concept_ids[c].removeprefix(C) for c in graph.concepts_of(item)}


# --- item → concept links ----------------------------------------------------------------------------


def test_items_cover_concepts_through_short_graph_paths():
    graph = links()
    assert graph.concept_ids == tuple(
        f"{C}{s}" for s in ("chords", "rhythm", "scales", "teaching")
    )  # a prefixed entity with no edge is a concept too
    assert [covered(graph, i) for i in range(len(ITEMS))] == [
        {"rhythm", "scales"},
        {"chords"},
        set(),
        {"chords", "rhythm", "scales"},
        set(),
    ]
    assert set(graph.tag_ids) == {"lastfm:tag:blues", "lastfm:tag:jazz", "lastfm:tag:rock"}
    assert set(np.unique(graph.item_concepts.data)) == {1.0}  # coverage is 0/1 even with two paths (c1 → chords twice)


def test_snapshot_and_side_info_give_the_same_links():
    graph = links()
    snapshot = GraphSnapshot.from_records(
        [
            EntityRecord(id=e, type="Concept" if e.startswith(C) else "Thing", name=e.rsplit(":", 1)[-1])
            for e in ENTITIES
        ],
        TRIPLES,
    )
    from_snapshot = concept_links_from_snapshot(snapshot, ITEMS)
    assert from_snapshot.concept_ids == graph.concept_ids
    assert (from_snapshot.item_concepts != graph.item_concepts).nnz == 0

    relation_types = sorted({r for _, r, _ in TRIPLES})
    entity_ids = sorted({h for h, _, _ in TRIPLES} | {t for _, _, t in TRIPLES} | {"lastfm:artist:99"})
    index = {e: i for i, e in enumerate(entity_ids)}
    side = ItemSideInfo(
        item_tags=sp.csr_matrix((len(ITEMS), 1)),
        tag_names=["x"],
        kg_triples=np.array([(index[h], relation_types.index(r), index[t]) for h, r, t in TRIPLES]),
        entity_ids=entity_ids,
        relation_types=relation_types,
        item_entity=np.array([index[e] for e in ITEMS]),
    )
    from_side = concept_links_from_side_info(side)
    assert [covered(from_side, i) for i in range(len(ITEMS))] == [covered(graph, i) for i in range(len(ITEMS))]


def test_units_by_id_and_by_a_learners_top_tags():
    graph = links()
    assert [graph.concept_ids[c] for c in graph.unit_indices([f"{C}scales", f" {C}chords", f"{C}scales"])] == [
        f"{C}chords",
        f"{C}scales",
    ]
    with pytest.raises(ConfigurationError, match="'leitmotif:concept:nope' is not a concept"):
        graph.unit_indices([f"{C}nope"])
    with pytest.raises(ConfigurationError, match="at least one concept"):
        graph.unit_indices([])
    # learner 0 has a1, a2, a3: blues, jazz and rock once each; rock reaches no concept and is skipped.
    # A one-tag unit takes the first of the tied tags (blues < jazz by id); learner 1 has only rock.
    users = sp.csr_matrix(np.array([[1, 1, 1, 0, 0], [0, 0, 1, 0, 0], [0, 3, 0, 0, 0]], dtype=np.float32))
    one_tag = graph.default_units(users, top_tags=1)
    assert [{graph.concept_ids[c].removeprefix(C) for c in u} for u in one_tag] == [
        {"rhythm", "scales"},
        set(),
        {"chords"},
    ]
    five = graph.default_units(users)
    assert {graph.concept_ids[c].removeprefix(C) for c in five[0]} == {"chords", "rhythm", "scales"}
    assert list(graph.default_unit_for_items([0, 1, 2])) == list(five[0])


# --- EMS ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "items, unit, expected",
    [
        ([0, 2], ["scales", "chords"], (0.5, 0.5, 0.5)),  # coverage: scales of 2 → ½; on topic: a1 of 2 → ½
        ([0, 1], ["scales", "chords"], (1.0, 1.0, 1.0)),
        ([2], ["scales", "chords"], (0.0, 0.0, 0.0)),
        ([1, -1], ["scales", "chords", "rhythm"], (2 / 3, 1 / 3, 1.0)),  # empty slot ignored: ½·⅓ + ½·1
        ([3, 2, 2, 2], ["scales", "chords", "rhythm"], (0.625, 1.0, 0.25)),  # one course covers all; ¼ on topic
        ([4], ["teaching"], (0.0, 0.0, 0.0)),
        ([], ["scales"], (0.0, 0.0, 0.0)),  # an empty list covers nothing
    ],
)
def test_educational_match_score_by_hand(items, unit, expected):
    graph = links()
    match = LM.educational_match(
        np.array(items, dtype=np.int64), graph.item_concepts, graph.unit_indices([C + u for u in unit])
    )
    assert (match.ems, match.coverage, match.on_topic) == pytest.approx(expected)


def test_educational_match_is_undefined_without_a_unit():
    assert LM.educational_match([0, 1], links().item_concepts, []) is None


# --- moods and ERS ----------------------------------------------------------------------------------


TAGS = ["sad", "Happy", "rock", "mellow", "Chill  Out"]
# item 0: sad ×3, happy ×1;  item 1: rock only (no mood);  item 2: mellow ×2 (calm);  item 3: chill out ×1 + rock ×4
ITEM_TAGS = sp.csr_matrix(
    np.array([[3, 1, 0, 0, 0], [0, 0, 5, 0, 0], [0, 0, 0, 2, 0], [0, 0, 4, 0, 1]], dtype=np.float32)
)


def moods():
    lexicon = load_mood_lexicon()
    return lexicon, item_mood_distributions(ITEM_TAGS, TAGS, lexicon)


def test_item_moods_are_shares_of_mood_tag_assignments():
    lexicon, m = moods()
    happy, sad, calm = (lexicon.moods.index(x) for x in ("happy", "sad", "calm"))
    assert m[0, happy] == pytest.approx(0.25) and m[0, sad] == pytest.approx(0.75) and m[0].sum() == pytest.approx(1)
    assert not m[1].any()  # no mood tag: no mood information, not a neutral mood
    assert m[2, calm] == 1.0 and m[3, calm] == 1.0  # "Chill  Out" folds to the lexicon's "chill out"; rock is ignored


def test_emotional_resonance_score_by_hand():
    lexicon, m = moods()
    sad_profile = lexicon.preference(["sad"])
    # cos(sad, item 0) = 0.75 / ‖(0.25, 0.75)‖ = 0.75 / √0.625; item 2 (calm) → 0; item 1 has no mood and is left out
    expected = (0.75 / math.sqrt(0.625) + 0.0) / 2
    assert LM.emotional_resonance([0, 1, 2], m, sad_profile) == pytest.approx(expected)
    assert LM.mood_share([0, 1, 2], m) == pytest.approx(2 / 3)
    assert LM.emotional_resonance([2, 3, -1], m, lexicon.preference(["calm"])) == pytest.approx(1.0)
    assert LM.emotional_resonance([1], m, sad_profile) is None  # no item with mood information
    assert LM.emotional_resonance([0], m, np.zeros(lexicon.n_moods)) is None  # learner without a profile
    assert LM.emotional_resonance([0], m, None) is None
    two = lexicon.preference(["happy", "sad"])
    assert two[lexicon.moods.index("happy")] == two[lexicon.moods.index("sad")] == 0.5


def test_learner_mood_profiles_average_their_items_with_moods():
    lexicon, m = moods()
    users = sp.csr_matrix(np.array([[7, 3, 1, 0], [0, 2, 0, 0]], dtype=np.float32))  # play counts do not weigh
    profiles = user_mood_profiles(users, m)
    np.testing.assert_allclose(profiles[0], (m[0] + m[2]) / 2)
    assert not profiles[1].any()
    np.testing.assert_allclose(mood_profile(m, [0, 1, 2]), profiles[0])
    np.testing.assert_allclose(mood_profile(m, [0, 2], weights=[3, 1]), (3 * m[0] + m[2]) / 4)
    assert not mood_profile(m, []).any()


def test_the_shipped_lexicon_is_consistent_and_cites_its_sources():
    lexicon = load_mood_lexicon()
    assert set(lexicon.moods) == {"happy", "sad", "calm", "energetic", "romantic", "dark"}
    assert {
        lexicon.mood_of(t)
        for t in (
            "happy",
            "melancholic",
            "chill",
            "mellow",
            "upbeat",
            "aggressive",
            "sad",
            "romantic",
            "dark",
            "relaxing",
        )
    } == set(lexicon.moods)
    assert (
        lexicon.mood_of("darkwave") is None and lexicon.mood_of("love") is None
    )  # genres and ambiguous words stay out
    assert any("Laurier" in r for r in lexicon.references) and any("Hu" in r for r in lexicon.references)
    assert fold_tag_name("  Chill \t Out ") == "chill out"
    with pytest.raises(ConfigurationError, match="choose from: happy"):
        lexicon.preference(["angsty"])


@pytest.mark.parametrize(
    "document, message",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"format": "other"}), "format"),
        (json.dumps({"format": "leitmotif.mood_lexicon.v1", "moods": {}}), "non-empty"),
        (json.dumps({"format": "leitmotif.mood_lexicon.v1", "moods": {"Happy!": {"tags": ["x"]}}}), "lower-case word"),
        (json.dumps({"format": "leitmotif.mood_lexicon.v1", "moods": {"calm": {"tags": []}}}), "non-empty list"),
        (
            json.dumps(
                {
                    "format": "leitmotif.mood_lexicon.v1",
                    "moods": {"calm": {"tags": ["chill"]}, "happy": {"tags": ["Chill"]}},
                }
            ),
            "both 'calm' and 'happy'",
        ),
    ],
)
def test_a_bad_lexicon_file_names_itself(tmp_path, document, message):
    path = tmp_path / "moods.json"
    path.write_text(document)
    with pytest.raises(DataFileError, match=message) as info:
        load_mood_lexicon(path)
    assert str(path) in str(info.value)


# --- popularity and diversity ------------------------------------------------------------------------


def test_average_popularity_short_head_and_long_tail():
    popularity = np.array([10, 5, 3, 1, 1, 0])  # 20 interactions
    head = LM.short_head(popularity)  # 20 % = 4 interactions: item 0 alone holds 10
    assert list(np.flatnonzero(head)) == [0]
    assert list(np.flatnonzero(LM.short_head(popularity, share=0.6))) == [0, 1]  # 12 needed: 10 + 5
    assert LM.average_popularity([0, 1, -1], popularity) == 7.5
    assert LM.long_tail_share([0, 1, 2, -1], head) == pytest.approx(2 / 3)
    assert LM.average_popularity([-1], popularity) is None and LM.long_tail_share([], head) is None
    assert not LM.short_head(np.zeros(3)).any()
    with pytest.raises(ValueError, match="strictly between"):
        LM.short_head(popularity, share=1.0)


def test_intra_list_diversity_by_hand():
    features = LM.normalised_features(sp.csr_matrix(np.array([[1, 0], [0, 1], [2, 2], [0, 0]], dtype=np.float64)))
    assert LM.intra_list_diversity([0, 1], features) == pytest.approx(1.0)
    assert LM.intra_list_diversity([0, 2], features) == pytest.approx(1 - 1 / math.sqrt(2))
    assert LM.intra_list_diversity([0, 1, 2], features) == pytest.approx((1 + 2 * (1 - 1 / math.sqrt(2))) / 3)
    assert LM.intra_list_diversity([0, 3, -1], features) is None  # fewer than two items with tags
    assert LM.mean_defined([0.5, None, 1.0]) == (0.75, 2)
    value, n = LM.mean_defined([None])
    assert math.isnan(value) and n == 0


def test_batch_metrics_agree_with_the_per_list_definitions():
    rng = np.random.default_rng(11)
    n_items, n_users, k_max = 40, 25, 6
    popularity = rng.integers(0, 30, size=n_items)
    head = LM.short_head(popularity)
    features = LM.normalised_features(sp.random(n_items, 7, density=0.25, random_state=1, format="csr"))
    lexicon = load_mood_lexicon()
    item_moods = item_mood_distributions(
        sp.random(n_items, 3, density=0.3, random_state=2, format="csr") * 5, ["sad", "happy", "calm"], lexicon
    )
    profiles = item_mood_distributions(
        sp.random(n_users, 3, density=0.5, random_state=3, format="csr"), ["sad", "happy", "calm"], lexicon
    )
    concepts = rng.random((n_items, 5)) < 0.2
    units = rng.random((n_users, 5)) < 0.4
    top = np.stack([rng.permutation(n_items)[:k_max] for _ in range(n_users)])
    top[0, 3:] = -1
    top[1, :] = -1
    batch = LM.batch_metrics(
        top,
        (2, 6),
        item_popularity=popularity,
        head=head,
        unit_features=features,
        item_moods=item_moods,
        profiles=profiles,
        item_concepts=concepts,
        units=units,
    )
    concept_matrix = sp.csr_matrix(concepts.astype(float))
    for u in range(n_users):
        for k in (2, 6):
            items = top[u, :k]
            match = LM.educational_match(items, concept_matrix, np.flatnonzero(units[u]))
            expected = {
                "arp": LM.average_popularity(items, popularity),
                "long_tail": LM.long_tail_share(items, head),
                "ild": LM.intra_list_diversity(items, features),
                "ers": LM.emotional_resonance(items, item_moods, profiles[u]),
                "mood_share": LM.mood_share(items, item_moods),
                "ems": None if match is None else match.ems,
                "ems_coverage": None if match is None else match.coverage,
                "ems_on_topic": None if match is None else match.on_topic,
            }
            for name, value in expected.items():
                got = batch[f"{name}@{k}"][u]
                assert np.isnan(got) if value is None else got == pytest.approx(value), (u, k, name, got, value)
