"""Regressions of Issue 18 ("Learners first"): a new learner's picks, on a small catalogue shaped like Last.FM.

The three failures a tester met as a new learner, on real data:

* two classical pianists, "classical", "classical piano" and Piano → Pink Floyd, Linkin Park, Aretha
  Franklin first, explained through a concept and a "guitar virtuoso" tag;
* the tag "electronic" alone → Red Hot Chili Peppers, explained through the tag "1995";
* "metal" → Pink Floyd first.

The fixture keeps what made them happen: rock and pop artists are played by far more listeners; a
handful of listeners once tagged Pink Floyd, Linkin Park and Aretha Franklin "classical"; classical,
electronic and metal listeners also play one rock artist each (so co-listening links every genre to
rock); "1995" is on Red Hot Chili Peppers and Daft Punk; a concept links "classical" to "guitar virtuoso".
Each test trains a small joint model on this catalogue, publishes it, signs a learner up and asks for
recommendations through the product's own entry point.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from catalog.models import Artist, Listen, Listener, Tag, TagAssignment
from recommender.models.config import JointConfig
from recommender.serving.model_holder import model_holder, model_publish
from recommender.serving.selectors import recommendations_for_listener, snapshot_forget
from recommender.serving.services import interests_set, learner_listener
from tests.helpers.recommender_data import TINY as TINY_MODEL

TINY = {**TINY_MODEL, "epochs": 6, "patience": 6, "use_content": False}

CLASSICAL = {
    1: ("Frédéric Chopin", {"classical": 30, "piano": 20, "classical piano": 10, "romantic": 5}),
    2: ("Glenn Gould", {"classical": 20, "piano": 15, "classical piano": 8}),
    3: ("Lang Lang", {"classical": 10, "piano": 10, "classical piano": 5}),
    4: ("Johann Sebastian Bach", {"classical": 40, "baroque": 20}),
    5: ("Ludovico Einaudi", {"piano": 15, "classical": 8, "classical piano": 4}),
}
ROCK = {
    6: ("Pink Floyd", {"rock": 60, "progressive rock": 40, "classical": 2, "guitar virtuoso": 3, "seen live": 10}),
    7: ("Linkin Park", {"rock": 40, "nu metal": 20, "alternative": 20, "classical": 2, "metal": 3}),
    8: ("Red Hot Chili Peppers", {"rock": 50, "funk": 10, "1995": 12, "alternative": 10, "electronic": 2}),
    9: ("The Beatles", {"rock": 60, "classic rock": 30, "pop": 10}),
}
POP = {
    10: ("Aretha Franklin", {"soul": 20, "pop": 5, "classical": 2}),
    11: ("t.A.T.u.", {"pop": 30, "electronic": 3, "russian": 10}),
    12: ("Madonna", {"pop": 50, "dance": 20, "electronic": 5}),
}
ELECTRONIC = {
    13: ("Daft Punk", {"electronic": 40, "house": 20, "french": 5, "1995": 3}),
    14: ("Aphex Twin", {"electronic": 30, "idm": 25}),
    15: ("Boards of Canada", {"electronic": 20, "idm": 15, "ambient": 15}),
    16: ("The Chemical Brothers", {"electronic": 30, "big beat": 10}),
}
METAL = {
    17: ("Metallica", {"metal": 40, "heavy metal": 30, "thrash metal": 20}),
    18: ("Iron Maiden", {"heavy metal": 40, "metal": 30}),
    19: ("Slayer", {"thrash metal": 30, "metal": 25}),
    20: ("Megadeth", {"thrash metal": 25, "metal": 20, "heavy metal": 10}),
}
ARTISTS = {**CLASSICAL, **ROCK, **POP, **ELECTRONIC, **METAL}
TAG_NAMES = sorted({t for _, tags in ARTISTS.values() for t in tags})
TAG_PK = {name: pk for pk, name in enumerate(TAG_NAMES, start=1)}
TAGGERS = 60  # listeners who only tag (Last.FM's tagging users)


def tag_entity(name: str) -> str:
    return f"lastfm:tag:{TAG_PK[name]}"


def artist_entity(pk: int) -> str:
    return f"lastfm:artist:{pk}"


def _listens() -> list[tuple[int, int, int]]:
    """(listener pk, artist pk, plays): 40 rock/pop listeners, 8 classical, 10 electronic, 10 metal."""
    rows: list[tuple[int, int, int]] = []
    mainstream = list(ROCK) + list(POP)
    pk = 1000
    for n in range(40):
        pk += 1
        rows += [(pk, a, 50 + n) for i, a in enumerate(mainstream) if (n + i) % 3 != 0]
    for group, crossover, count in ((CLASSICAL, 6, 8), (ELECTRONIC, 8, 10), (METAL, 7, 10)):
        members = list(group)
        for n in range(count):
            pk += 1
            rows += [(pk, a, 30 + n) for i, a in enumerate(members) if (n + i) % len(members) != 0]
            rows.append((pk, crossover, 5))
    return rows


@pytest.fixture
def published(db, settings, tmp_path):
    """The catalogue, its graph, a small joint model trained on it and published."""
    from kg.services import graph_upsert
    from kg.stores import EntityRecord, RelationRecord, get_store
    from recommender.data import InteractionDataset
    from recommender.explanations import invalidate_snapshots
    from recommender.training import recommender_train

    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path / "artifacts")
    tags = {
        name: Tag.objects.create(pk=pk, lastfm_id=pk, name=name, entity_id=tag_entity(name))
        for name, pk in TAG_PK.items()
    }
    artists = {
        pk: Artist.objects.create(pk=pk, lastfm_id=pk, name=name, entity_id=artist_entity(pk), kgcn_entity=pk)
        for pk, (name, _) in ARTISTS.items()
    }
    rows = _listens()
    listeners = {pk: Listener.objects.create(pk=pk, lastfm_id=pk) for pk in sorted({u for u, _, _ in rows})}
    Listen.objects.bulk_create([Listen(listener=listeners[u], artist=artists[a], play_count=c) for u, a, c in rows])
    taggers = [Listener.objects.create(pk=5000 + n, lastfm_id=5000 + n) for n in range(TAGGERS)]
    TagAssignment.objects.bulk_create(
        [
            TagAssignment(listener=taggers[n], artist=artists[pk], tag=tags[name])
            for pk, (_, counts) in ARTISTS.items()
            for name, count in counts.items()
            for n in range(count)
        ]
    )
    entities = [EntityRecord(id=artist_entity(pk), type="Artist", name=name) for pk, (name, _) in ARTISTS.items()]
    entities += [EntityRecord(id=tag_entity(name), type="Tag", name=name) for name in TAG_NAMES]
    entities += [
        EntityRecord(id="leitmotif:instrument:piano", type="Instrument", name="Piano"),
        EntityRecord(id="leitmotif:concept:arpeggios", type="Concept", name="Arpeggios"),
    ]
    triples = [(artist_entity(pk), "HAS_TAG", tag_entity(t)) for pk, (_, counts) in ARTISTS.items() for t in counts]
    triples += [
        (tag_entity("piano"), "ABOUT_INSTRUMENT", "leitmotif:instrument:piano"),
        ("leitmotif:concept:arpeggios", "ASSOCIATED_TAG", tag_entity("classical")),
        ("leitmotif:concept:arpeggios", "ASSOCIATED_TAG", tag_entity("guitar virtuoso")),
    ]
    with get_store("sql") as store:
        graph_upsert(
            store=store,
            entities=entities,
            relations=[RelationRecord(head=h, type=r, tail=t, source="test") for h, r, t in triples],
        )
        dataset = InteractionDataset.from_catalog(store=store)
    invalidate_snapshots()
    snapshot_forget()
    model_holder().reset()
    recommender_train(
        dataset=dataset, config=JointConfig(**TINY), seed=0, output_dir=tmp_path / "artifacts" / "recommender"
    )
    model_publish()
    yield artists
    invalidate_snapshots()
    snapshot_forget()
    model_holder().reset()


def _learner(picks: list[str]) -> Listener:
    user = get_user_model().objects.create_user(username="new-learner", password="x")
    listener = learner_listener(user)
    interests_set(listener, picks)
    return listener


def _cited_nodes(recommendation) -> set[str]:
    return {str(node["id"]) for path in recommendation.explanation.paths for node in path.nodes}


def test_classical_picks_get_classical_artists_first_with_reasons_that_cite_the_picks(published):
    picks = [
        artist_entity(2),
        artist_entity(3),
        tag_entity("classical"),
        tag_entity("classical piano"),
        "leitmotif:instrument:piano",
    ]
    recs = recommendations_for_listener(_learner(picks), k=5)
    top = [r.artist.pk for r in recs]
    # Chopin or Bach first, not Pink Floyd (whom every classical listener here also plays, and two listeners
    # tagged "classical"); at most one rock or pop artist among the first three
    assert top[0] in CLASSICAL and top[1] in CLASSICAL, [r.artist.name for r in recs]
    assert sum(pk in ROCK or pk in POP for pk in top[:3]) <= 1, [r.artist.name for r in recs]
    first = recs[0].explanation
    assert first.basis == "graph" and first.paths[0].nodes[0]["id"] in picks
    assert len(first.paths[0].edges) <= 2
    assert "leitmotif:concept:arpeggios" not in _cited_nodes(recs[0])


def test_an_electronic_tag_alone_gets_electronic_artists_and_no_reason_through_1995(published):
    recs = recommendations_for_listener(_learner([tag_entity("electronic")]), k=5)
    # every electronic listener here also plays Red Hot Chili Peppers, so it may rank; most of the list is electronic
    assert sum(r.artist.pk in ELECTRONIC for r in recs) >= 3, [r.artist.name for r in recs]
    for recommendation in recs:
        assert tag_entity("1995") not in _cited_nodes(recommendation)
        assert "1995" not in recommendation.explanation.sentence


def test_metal_picks_get_metal_first(published):
    recs = recommendations_for_listener(_learner([tag_entity("metal")]), k=5)
    assert recs[0].artist.pk in METAL, [r.artist.name for r in recs]
    assert {r.artist.pk for r in recs[:4]} == set(METAL)
    recs = recommendations_for_listener(_learner_with_artist(), k=4)
    assert recs[0].artist.pk in METAL, [r.artist.name for r in recs]


def _learner_with_artist() -> Listener:
    user = get_user_model().objects.create_user(username="metal-learner", password="x")
    listener = learner_listener(user)
    interests_set(listener, [artist_entity(17), tag_entity("metal")])
    return listener


def test_the_onboarding_protocol_scores_the_product_exactly_as_serving_does(published):
    """ProductOnboarding (the protocol's product scorer) ranks like /for-you/ and leaves the database as it was."""
    from recommender.evaluation.onboarding import Learner, ProductOnboarding
    from recommender.serving.graph_index import graph_snapshot

    serving = model_holder().current()
    entities = [""] * len(serving.item_ids)
    for pk, i in serving.item_index.items():
        entities[i] = artist_entity(pk)
    learner = Learner(
        user=0,
        artist_items=(serving.item_index[17],),
        tag_columns=(),
        tag_entities=(tag_entity("metal"),),
        instrument_entities=(),
        family="metal",
    )
    before = (Listener.objects.count(), Artist.objects.count())
    ranking = ProductOnboarding(serving, graph_snapshot(), entities)(learner, "picks")
    assert (Listener.objects.count(), Artist.objects.count()) == before
    ranking[serving.item_index[17]] = -float("inf")
    order = [int(serving.item_ids[i]) for i in sorted(range(len(ranking)), key=lambda i: (-ranking[i], i))[:5]]
    recs = recommendations_for_listener(_learner_with_artist(), k=5)
    assert [r.artist.pk for r in recs] == order
