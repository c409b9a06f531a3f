"""Serving: fold-in, the published-model holder, recommendations (music and courses) with explanations, events.

A tiny catalogue with two tastes (blues: Jimi Hendrix, B.B. King, Buddy Guy …;
jazz: Miles Davis, Bill Evans, Thelonious Monk …), tags, instruments and four courses
lives in the test database and the real sql graph store; one tiny joint model (2 epochs, no text
encoder) is trained once per module on the same ids and published into a per-test artifacts folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from catalog.models import Artist, Course, Interaction, Interest, Listen, Listener, Tag, TagAssignment
from core.errors import ConfigurationError, DataFileError, UnknownEntityError
from recommender.base import ItemSideInfo, TrainingContext
from recommender.data import InteractionDataset
from recommender.models.config import JointConfig
from recommender.serving import model_holder as holder_module
from recommender.serving.model_holder import NoServingModelError, model_holder, model_publish
from recommender.serving.selectors import (
    RecommendationRequestError,
    listener_history,
    recommendations_for_listener,
    snapshot_forget,
)
from recommender.serving.services import InteractionInputError, interaction_record, interests_set, learner_listener
from recommender.training import recommender_train
from tests.helpers.recommender_data import TINY as TINY_MODEL

#: The shared tiny model, trained for two epochs (use_content=False).
TINY = {**TINY_MODEL, "epochs": 2, "patience": 2, "use_content": False}

# (pk, lastfm id, name, tags)
ARTISTS = [
    (1, 1001, "Jimi Hendrix", ["blues", "blues rock", "guitar"]),
    (2, 1002, "Stevie Ray Vaughan", ["blues", "blues rock", "guitar"]),
    (3, 1003, "B.B. King", ["blues"]),
    (4, 1004, "Eric Clapton", ["blues rock", "guitar"]),
    (5, 1005, "Muddy Waters", ["blues"]),
    (6, 1006, "Buddy Guy", ["blues", "guitar"]),
    (7, 1007, "Miles Davis", ["jazz"]),
    (8, 1008, "John Coltrane", ["jazz"]),
    (9, 1009, "Herbie Hancock", ["jazz", "piano"]),
    (10, 1010, "Bill Evans", ["jazz", "piano"]),
    (11, 1011, "Thelonious Monk", ["jazz", "piano"]),
    (12, 1012, "Chick Corea", ["jazz"]),
]
TAGS = {"blues": 1, "blues rock": 2, "jazz": 3, "piano": 4, "guitar": 5}
BLUES, JAZZ = [1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]
# Last.FM listeners 101..124: odd ones love blues, even ones jazz; each listens to five of their six artists
LISTENERS = list(range(101, 125))
# (pk, udemy id, title, level, subscribers, tags, instrument)
COURSES = [
    (1, 9001, "Blues Guitar Improvisation", "intermediate", 100, ["blues"], "guitar"),
    (2, 9002, "Jazz Piano Voicings", "beginner", 500, ["jazz"], "piano"),
    (3, 9003, "Music Theory for Everyone", "all", 5000, [], None),
    (4, 9004, "Beginner Blues Guitar", "beginner", 50, ["blues"], "guitar"),
]


def artist_entity(lastfm_id: int) -> str:
    return f"lastfm:artist:{lastfm_id}"


def tag_entity(name: str) -> str:
    return f"lastfm:tag:{TAGS[name]}"


def listens() -> list[tuple[int, int, int]]:
    rows = []
    for user in LISTENERS:
        group = BLUES if user % 2 else JAZZ
        skip = group[user % 6]
        rows += [(user, a, 10 + a + user % 7) for a in group if a != skip]
    return rows


def graph_triples() -> list[tuple[str, str, str]]:
    triples = [(artist_entity(lastfm), "HAS_TAG", tag_entity(t)) for _, lastfm, _, tags in ARTISTS for t in tags]
    triples += [
        (tag_entity("guitar"), "ABOUT_INSTRUMENT", "leitmotif:instrument:guitar"),
        (tag_entity("piano"), "ABOUT_INSTRUMENT", "leitmotif:instrument:piano"),
    ]
    for _, udemy, _, level, _, tags, instrument in COURSES:
        course = f"udemy:course:{udemy}"
        triples += [(course, "COVERS_TAG", tag_entity(t)) for t in tags]
        if instrument:
            triples.append((course, "TEACHES_INSTRUMENT", f"leitmotif:instrument:{instrument}"))
        triples.append((course, "HAS_LEVEL", f"leitmotif:level:{level}"))
    triples.append(("udemy:course:9003", "TEACHES_CONCEPT", "leitmotif:concept:music-theory"))
    return triples


def tiny_dataset() -> InteractionDataset:
    """The same ids the catalog gets (Listener/Artist pks), with graph side information built by hand."""
    rows = np.asarray(listens())
    triples = graph_triples()
    entity_ids = sorted({h for h, _, _ in triples} | {t for _, _, t in triples})
    relation_types = sorted({r for _, r, _ in triples})
    index = {e: i for i, e in enumerate(entity_ids)}
    item_tags = np.zeros((len(ARTISTS), len(TAGS)), dtype=np.float32)
    for i, (_, _, _, tags) in enumerate(ARTISTS):
        for t in tags:
            item_tags[i, TAGS[t] - 1] = 1
    side_info = ItemSideInfo(
        item_tags=sp.csr_matrix(item_tags),
        tag_names=list(TAGS),
        kg_triples=np.asarray([(index[h], relation_types.index(r), index[t]) for h, r, t in triples], dtype=np.int64),
        entity_ids=entity_ids,
        relation_types=relation_types,
        item_entity=np.asarray([index[artist_entity(lastfm)] for _, lastfm, _, _ in ARTISTS], dtype=np.int64),
    )
    return InteractionDataset.from_arrays(rows[:, 0], rows[:, 1], rows[:, 2], side_info=side_info)


@pytest.fixture(scope="module")
def trained_artifact(tmp_path_factory) -> Path:
    trained = recommender_train(
        dataset=tiny_dataset(),
        config=JointConfig(**TINY),
        seed=0,
        output_dir=tmp_path_factory.mktemp("trained"),
    )
    return trained.path


@pytest.fixture
def catalog(db):
    """Catalog rows and graph with the ids the module's model was trained on."""
    from kg.services import graph_upsert
    from kg.stores import EntityRecord, RelationRecord, get_store
    from recommender.explanations import invalidate_snapshots

    tags = {
        name: Tag.objects.create(pk=pk, lastfm_id=pk, name=name, entity_id=tag_entity(name))
        for name, pk in TAGS.items()
    }
    artists = {
        pk: Artist.objects.create(pk=pk, lastfm_id=lastfm, name=name, entity_id=artist_entity(lastfm), kgcn_entity=pk)
        for pk, lastfm, name, _ in ARTISTS
    }
    listeners = {pk: Listener.objects.create(pk=pk, lastfm_id=pk) for pk in LISTENERS}
    Listen.objects.bulk_create(
        [Listen(listener=listeners[u], artist=artists[a], play_count=c) for u, a, c in listens()]
    )
    TagAssignment.objects.bulk_create(
        [
            TagAssignment(listener=listeners[101], artist=artists[pk], tag=tags[t])
            for pk, _, _, ts in ARTISTS
            for t in ts
        ]
    )
    courses = {
        pk: Course.objects.create(
            pk=pk, udemy_id=udemy, title=title, level=level, subscribers=subs, entity_id=f"udemy:course:{udemy}"
        )
        for pk, udemy, title, level, subs, _, _ in COURSES
    }
    entities = [EntityRecord(id=artist_entity(lastfm), type="Artist", name=name) for _, lastfm, name, _ in ARTISTS]
    entities += [EntityRecord(id=tag_entity(name), type="Tag", name=name) for name in TAGS]
    entities += [EntityRecord(id=f"leitmotif:instrument:{i}", type="Instrument", name=i) for i in ("guitar", "piano")]
    entities += [
        EntityRecord(id=f"leitmotif:level:{lv}", type="Level", name=lv) for lv in ("beginner", "intermediate", "all")
    ]
    entities += [EntityRecord(id="leitmotif:concept:music-theory", type="Concept", name="music theory")]
    entities += [EntityRecord(id=f"udemy:course:{udemy}", type="Course", name=title) for _, udemy, title, *_ in COURSES]
    with get_store("sql") as store:
        graph_upsert(
            store=store,
            entities=entities,
            relations=[RelationRecord(head=h, type=r, tail=t, source="test") for h, r, t in graph_triples()],
        )
    invalidate_snapshots()
    snapshot_forget()
    model_holder().reset()
    yield {"artists": artists, "listeners": listeners, "courses": courses, "tags": tags}
    invalidate_snapshots()
    snapshot_forget()
    model_holder().reset()


@pytest.fixture
def artifacts_dir(settings, tmp_path) -> Path:
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path / "artifacts")
    return tmp_path / "artifacts" / "recommender"


@pytest.fixture
def published(catalog, artifacts_dir, trained_artifact) -> Path:
    """The module's model copied into this test's artifacts folder and published there."""
    artifacts_dir.mkdir(parents=True)
    copy = artifacts_dir / trained_artifact.name
    shutil.copytree(trained_artifact, copy)
    model_publish()
    return copy


@pytest.fixture
def learner(catalog):
    user = get_user_model().objects.create_user(username="ada", password="x")
    return learner_listener(user)


def names(recs) -> list[str]:
    return [r.artist.name if r.artist is not None else r.course.title for r in recs]


# --- fold-in -----------------------------------------------------------------------------------------


def test_fold_in_reproduces_the_models_own_scores_for_training_users():
    """Unchanged history + the user's id → the same scores as ``score`` (the stored training inputs)."""
    from recommender.models.joint import JointKGRecommender
    from tests.helpers.recommender_cases import clustered_interactions

    data = clustered_interactions()
    tags = data.side_info.item_tags.toarray()
    model = JointKGRecommender(
        JointConfig(**{**TINY, "use_content": True, "epochs": 1}),
        content_embeddings=tags / np.linalg.norm(tags, axis=1, keepdims=True),
    )
    model.fit(data.train, seed=0, context=TrainingContext(side_info=data.side_info))
    users = np.arange(model.n_users)
    history = model.inputs.history
    histories = [row[row < model.n_items] for row in history]
    has_tags = np.diff(data.side_info.item_tags.tocsr().indptr) > 0
    folded = model.score_history(histories, user_indices=list(users), item_has_tags=has_tags)
    np.testing.assert_allclose(folded, model.score(users), atol=1e-4)
    np.testing.assert_allclose(
        model.behaviour_from_histories(histories, item_has_tags=has_tags), model.inputs.behaviour, atol=1e-5
    )
    # a new user (no id) with the same history still ranks that user's taste first
    anonymous = model.score_history(histories[:1], user_indices=[None], item_has_tags=has_tags)
    assert anonymous.shape == (1, model.n_items) and np.isfinite(anonymous).all()
    with pytest.raises(ConfigurationError, match="outside"):
        model.score_history([np.array([model.n_items])], user_indices=[None])
    with pytest.raises(ConfigurationError, match="one per history"):
        model.score_history(histories[:2], user_indices=[None])
    with pytest.raises(ConfigurationError, match="not a training user"):
        model.score_history(histories[:1], user_indices=[10_000])


# --- the holder --------------------------------------------------------------------------------------


def test_no_published_model_is_a_clear_error(catalog, artifacts_dir):
    listener = catalog["listeners"][101]
    with pytest.raises(NoServingModelError, match="publish_model"):
        recommendations_for_listener(listener)


def test_publishing_swaps_the_model_and_a_corrupt_artifact_never_replaces_a_good_one(published, artifacts_dir, caplog):
    holder = model_holder()
    first = holder.current()
    assert first.name == published.name and holder.current() is first  # loaded once, then reused

    second_path = artifacts_dir / "leitmotif-29990101T000000.000000Z-second"
    shutil.copytree(published, second_path)
    assert model_publish() == second_path.resolve()  # the newest one by default
    second = holder.current()
    assert second.name == second_path.name and second is not first
    assert recommendations_for_listener(published_listener := Listener.objects.get(pk=101), k=2)  # serves from it

    corrupt = artifacts_dir / "leitmotif-29990202T000000.000000Z-corrupt"
    shutil.copytree(published, corrupt)
    state = corrupt / "model_state.pt"
    state.write_bytes(state.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(DataFileError, match="checksum"):
        model_publish(corrupt)
    assert (artifacts_dir / "PUBLISHED").read_text().strip() == second_path.name
    # even a pointer written by hand at a corrupt artifact keeps the good model serving
    (artifacts_dir / "PUBLISHED").write_text(corrupt.name + "\n")
    with caplog.at_level("ERROR"):
        assert holder.current() is second
    assert "cannot be loaded" in caplog.text
    assert len(recommendations_for_listener(published_listener, k=2)) == 2

    # a fresh process (nothing loaded yet) facing only the corrupt artifact says so
    holder.reset()
    with pytest.raises(NoServingModelError, match="checksum"):
        holder.current()


def test_publish_model_command(catalog, artifacts_dir, trained_artifact, capsys):
    with pytest.raises(CommandError, match="no trained recommender artifact"):
        call_command("publish_model")
    with pytest.raises(CommandError, match="not found"):
        call_command("publish_model", str(artifacts_dir / "missing"))
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(trained_artifact, artifacts_dir / trained_artifact.name)
    call_command("publish_model", trained_artifact.name)
    assert "Published" in capsys.readouterr().out
    assert (artifacts_dir / "PUBLISHED").read_text().strip() == trained_artifact.name


# --- request validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kind": "films"}, 'kind must be "music" or "course"'),
        ({"k": 0}, "k must be a whole number from 1 to 100"),
        ({"k": 101}, "k must be a whole number"),
        ({"k": True}, "k must be a whole number"),
        ({"k": "5"}, "k must be a whole number"),
        ({"level": "beginner"}, "level applies to courses only"),
        ({"kind": "course", "level": "guru"}, "level must be one of"),
        ({"exclude_seen": "yes"}, "exclude_seen must be true or false"),
        ({"tag": "  "}, "tag must be a tag name"),
    ],
)
def test_bad_requests_say_what_to_fix(published, kwargs, message):
    with pytest.raises(RecommendationRequestError, match=message):
        recommendations_for_listener(Listener.objects.get(pk=101), **kwargs)


def test_unknown_tag_is_an_unknown_entity(published):
    with pytest.raises(UnknownEntityError, match="No tag named 'polka'"):
        recommendations_for_listener(Listener.objects.get(pk=101), tag="polka")


# --- music -------------------------------------------------------------------------------------------


def test_music_excludes_what_was_heard_and_follows_taste(published):
    listener = Listener.objects.get(pk=101)  # blues; listens to five of the six blues artists (not Buddy Guy)
    heard = set(Listen.objects.filter(listener=listener).values_list("artist__name", flat=True))
    recs = recommendations_for_listener(listener, k=3)
    assert [r.rank for r in recs] == [1, 2, 3]
    assert not heard & set(names(recs))
    assert recs[0].artist.name == "Buddy Guy"  # the blues artist not heard yet comes first
    assert all(r.kind == "music" and r.entity_id == r.artist.entity_id and r.explanation.sentence for r in recs)
    assert recs[0].explanation.basis == "graph"
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
    everything = recommendations_for_listener(listener, k=12, exclude_seen=False)
    assert heard <= set(names(everything))
    jazz_only = recommendations_for_listener(listener, k=12, tag="jazz")
    assert {r.artist.pk for r in jazz_only} == set(JAZZ)


def test_an_artist_nobody_played_is_explained_by_the_artist_it_resembles_not_by_popularity(published, monkeypatch):
    from recommender.serving.phrasing import music_fallback as _music_fallback

    serving = model_holder().current()
    index = {pk: serving.item_index[pk] for pk in serving.item_index}
    corea, davis, hendrix = index[12], index[7], index[1]
    serving.model.inputs.item_popularity[corea] = 0  # as if Chick Corea had no training listener
    history = np.asarray([hendrix])  # no co-listening with Chick Corea (blues vs jazz listeners)
    # as if Miles Davis lent Chick Corea his co-listening column and Hendrix's listeners played Davis
    monkeypatch.setattr(
        serving.model, "cold_item_lenders", lambda item, h: [(davis, 0.6, int(h[0]))] if item == corea else []
    )
    explanation = _music_fallback(serving, Artist.objects.get(pk=12), corea, history)
    assert explanation.basis == "similar_content"
    assert explanation.sentence == (
        "Chick Corea is new to Leitmotif listeners; it resembles Miles Davis, "
        "and listeners who play Jimi Hendrix also play Miles Davis."
    )
    assert explanation.evidence == {
        "resembles": {"id": artist_entity(1007), "name": "Miles Davis"},
        "weight": 0.6,
        "artist": {"id": artist_entity(1001), "name": "Jimi Hendrix"},
    }
    monkeypatch.setattr(serving.model, "cold_item_lenders", lambda item, h: [(davis, 1.0, None)])
    alone = _music_fallback(serving, Artist.objects.get(pk=12), corea, history)
    assert (
        alone.sentence == "Chick Corea is new to Leitmotif listeners; it resembles Miles Davis in tags and graph links."
    )
    monkeypatch.setattr(serving.model, "cold_item_lenders", lambda item, h: [])
    assert (
        "suggested from its tags and graph links"
        in _music_fallback(serving, Artist.objects.get(pk=12), corea, history).sentence
    )
    # an artist with listeners keeps the popularity fallback; "weak path" callers still get None
    assert _music_fallback(serving, Artist.objects.get(pk=7), davis, np.asarray([corea])).basis in (
        "similar_listeners",
        "popularity",
    )
    assert _music_fallback(serving, Artist.objects.get(pk=12), corea, history, similar_only=True) is None


def test_a_like_changes_the_next_call_without_retraining_and_a_skip_excludes(published, learner, catalog):
    before = recommendations_for_listener(learner, k=4)
    assert len(before) == 4  # a brand-new learner without picks still gets (popularity-explained) results
    interaction_record(learner, kind="like", artist=catalog["artists"][7])  # Miles Davis
    assert Listen.objects.get(listener=learner, artist_id=7).play_count == 1  # a retrain will see it
    after = recommendations_for_listener(learner, k=3)
    assert "Miles Davis" not in names(after)
    assert {r.artist.pk for r in after} <= set(JAZZ), names(after)
    assert names(after) != names(before)[:3]
    assert any(r.explanation.basis == "graph" and "Miles Davis" in r.explanation.sentence for r in after)

    top = after[0].artist
    interaction_record(learner, kind="skip", artist=top)
    assert top.name not in names(recommendations_for_listener(learner, k=7, exclude_seen=False))
    assert Interaction.objects.filter(listener=learner).count() == 2


def test_a_new_learner_with_only_interests_gets_explained_results(published, learner):
    interests = interests_set(learner, [tag_entity("jazz"), "leitmotif:instrument:piano"])
    assert [i.name for i in interests] == ["jazz", "piano"]
    recs = recommendations_for_listener(learner, k=4)
    assert len(recs) == 4 and all(r.explanation.sentence for r in recs)
    assert {r.artist.pk for r in recs} <= set(JAZZ)
    assert recs[0].explanation.basis == "graph"
    assert recs[0].explanation.paths[0].nodes[0]["id"] in {tag_entity("jazz"), "leitmotif:instrument:piano"}


# --- courses -----------------------------------------------------------------------------------------


def _check_path_is_real(path, *, sources: set[str], target: str) -> None:
    from recommender.explanations import current_snapshot

    snapshot = current_snapshot()
    assert path.nodes[0]["id"] in sources and path.nodes[-1]["id"] == target
    for edge in path.edges:
        assert snapshot.has_edge(edge["head"], edge["type"], edge["tail"])


def test_course_recommendations_follow_listening_taste_with_a_faithful_path(published):
    blues_fan, jazz_fan = Listener.objects.get(pk=101), Listener.objects.get(pk=102)
    recs = recommendations_for_listener(blues_fan, kind="course", k=4)
    assert recs[0].course.title in {"Blues Guitar Improvisation", "Beginner Blues Guitar"}
    assert {r.course.title for r in recs[:2]} == {"Blues Guitar Improvisation", "Beginner Blues Guitar"}
    assert recs[0].kind == "course" and recs[0].explanation.basis == "graph"
    sources = set(Listen.objects.filter(listener=blues_fan).values_list("artist__entity_id", flat=True))
    for path in recs[0].explanation.paths:
        _check_path_is_real(path, sources=sources, target=recs[0].entity_id)
    assert "You listen to" in recs[0].explanation.sentence
    # the unconnected but popular course comes with an honest popularity explanation
    theory = next(r for r in recs if r.course.title == "Music Theory for Everyone")
    assert theory.explanation.basis == "popularity" and "5,000" in theory.explanation.sentence

    assert recommendations_for_listener(jazz_fan, kind="course", k=1)[0].course.title == "Jazz Piano Voicings"
    beginner = recommendations_for_listener(blues_fan, kind="course", k=4, level="beginner")
    assert {r.course.level for r in beginner} == {"beginner"} and beginner[0].course.title == "Beginner Blues Guitar"
    assert names(recommendations_for_listener(blues_fan, kind="course", k=4, tag="jazz")) == ["Jazz Piano Voicings"]


def test_enrolled_courses_are_excluded_and_shape_the_next_course_call(published, learner, catalog):
    interaction_record(learner, kind="enroll", course=catalog["courses"][4])  # Beginner Blues Guitar
    recs = recommendations_for_listener(learner, kind="course", k=3)
    assert "Beginner Blues Guitar" not in names(recs)
    assert recs[0].course.title == "Blues Guitar Improvisation"
    assert "You enrolled in" in recs[0].explanation.sentence


# (pk, udemy id, title, level, subscribers, tags, instrument, concepts): more courses for continuation; the
# popular beginner courses of other instruments share only the level "Beginner" (a hub) with the blues course.
MORE_COURSES = [
    (20, 9020, "Blues Guitar Lessons for Beginners", "beginner", 300, ["blues"], "guitar", ["12-bar-blues"]),
    (21, 9021, "Slide Blues Guitar", "intermediate", 80, ["blues"], "guitar", ["12-bar-blues"]),
    (22, 9022, "Blues Rhythm Guitar", "beginner", 60, ["blues"], "guitar", []),
    (23, 9023, "Free Beginner Electric Guitar Lessons", "beginner", 90000, [], "guitar", ["chords"]),
    (24, 9024, "Pianoforall", "beginner", 80000, [], "piano", []),
    (25, 9025, "Beginner Piano Chords", "beginner", 200, [], "piano", ["chords"]),
    (26, 9026, "Piano Scales Made Easy", "beginner", 150, [], "piano", []),
    (27, 9027, "Classical Piano Repertoire", "intermediate", 120, [], "piano", []),
    (28, 9028, "Beginner Drums", "beginner", 70000, [], "drums", []),
    (29, 9029, "Ukulele in a Day", "beginner", 60000, [], "ukulele", []),
    (30, 9030, "Expert Guitar Shred", "expert", 40000, [], "guitar", []),
]


@pytest.fixture
def more_courses(catalog):
    """Eleven more courses in the catalogue and the graph (instruments, tags, concepts, levels)."""
    from kg.services import graph_upsert
    from kg.stores import EntityRecord, RelationRecord, get_store
    from recommender.explanations import invalidate_snapshots

    courses = {
        pk: Course.objects.create(
            pk=pk, udemy_id=udemy, title=title, level=level, subscribers=subs, entity_id=f"udemy:course:{udemy}"
        )
        for pk, udemy, title, level, subs, *_ in MORE_COURSES
    }
    entities = [EntityRecord(id=f"udemy:course:{u}", type="Course", name=title) for _, u, title, *_ in MORE_COURSES]
    entities += [EntityRecord(id=f"leitmotif:instrument:{i}", type="Instrument", name=i) for i in ("drums", "ukulele")]
    entities += [EntityRecord(id="leitmotif:level:expert", type="Level", name="expert")]
    entities += [EntityRecord(id=f"leitmotif:concept:{c}", type="Concept", name=c) for c in ("12-bar-blues", "chords")]
    triples = []
    for _, udemy, _, level, _, tags, instrument, concepts in MORE_COURSES:
        course = f"udemy:course:{udemy}"
        triples += [(course, "COVERS_TAG", tag_entity(t)) for t in tags]
        triples += [(course, "TEACHES_CONCEPT", f"leitmotif:concept:{c}") for c in concepts]
        triples += [
            (course, "TEACHES_INSTRUMENT", f"leitmotif:instrument:{instrument}"),
            (course, "HAS_LEVEL", f"leitmotif:level:{level}"),
        ]
    with get_store("sql") as store:
        graph_upsert(
            store=store,
            entities=entities,
            relations=[RelationRecord(head=h, type=r, tail=t, source="test") for h, r, t in triples],
        )
    invalidate_snapshots()
    snapshot_forget()
    return {**catalog["courses"], **courses}


def _instruments_of(recs) -> list[str]:
    """The instrument each recommended course teaches, read from the graph ("" when none)."""
    from recommender.explanations import current_snapshot

    snapshot = current_snapshot()
    instruments = ("guitar", "piano", "drums", "ukulele")
    return [
        ",".join(
            i for i in instruments if snapshot.has_edge(r.entity_id, "TEACHES_INSTRUMENT", f"leitmotif:instrument:{i}")
        )
        for r in recs
    ]


def test_after_a_blues_guitar_enrolment_the_next_courses_are_guitar_courses(published, learner, more_courses):
    interaction_record(learner, kind="enroll", course=more_courses[20])  # Blues Guitar Lessons for Beginners
    recs = recommendations_for_listener(learner, kind="course", k=5)
    assert "Blues Guitar Lessons for Beginners" not in names(recs)  # enrolled: excluded
    assert _instruments_of(recs) == ["guitar"] * 5, names(recs)
    # the other blues-guitar courses lead; the popular beginner piano/drums/ukulele courses (level only) do not appear
    blues_guitar = {"Beginner Blues Guitar", "Blues Guitar Improvisation", "Slide Blues Guitar", "Blues Rhythm Guitar"}
    assert set(names(recs)[:4]) == blues_guitar
    assert recs[0].score >= 0.9  # scaled by the best course that can be shown, not by the enrolled one
    # the level is a soft preference: the expert course (same instrument, two levels up) comes after the others
    assert "Expert Guitar Shred" not in names(recs)
    for rec in recs:
        assert rec.explanation.basis == "graph" and "You enrolled in" in rec.explanation.sentence
        for path in rec.explanation.paths:
            _check_path_is_real(path, sources={"udemy:course:9020"}, target=rec.entity_id)


def test_after_a_piano_enrolment_the_next_courses_are_piano_courses(published, learner, more_courses):
    interaction_record(learner, kind="complete", course=more_courses[25])  # Beginner Piano Chords
    recs = recommendations_for_listener(learner, kind="course", k=4)
    assert "Beginner Piano Chords" not in names(recs)
    assert _instruments_of(recs) == ["piano"] * 4, names(recs)
    # a beginner electric-guitar course sharing the level (and a concept) is not the pianist's next course
    assert "Free Beginner Electric Guitar Lessons" not in names(recs)


def test_enrolled_courses_stay_excluded_and_an_instrument_pick_keeps_its_weight(published, learner, more_courses):
    interests_set(learner, ["leitmotif:instrument:guitar"])
    for pk in (20, 4, 22):
        interaction_record(learner, kind="enroll", course=more_courses[pk])
    recs = recommendations_for_listener(learner, kind="course", k=10)
    taken = {"Blues Guitar Lessons for Beginners", "Beginner Blues Guitar", "Blues Rhythm Guitar"}
    assert not taken & set(names(recs))
    assert _instruments_of(recs[:3]) == ["guitar"] * 3
    # asked to include seen courses, the enrolled ones may come back (and then score at most ~1)
    everything = recommendations_for_listener(learner, kind="course", k=10, exclude_seen=False)
    assert taken & set(names(everything)) and max(r.score for r in everything) <= 1.0 + 0.05 + 1e-9


# --- services and history ----------------------------------------------------------------------------


def test_interaction_record_validates_and_keeps_listens_in_step(catalog, learner):
    artist, course = catalog["artists"][1], catalog["courses"][1]
    with pytest.raises(InteractionInputError, match="kind must be one of"):
        interaction_record(learner, kind="dance", artist=artist)
    with pytest.raises(InteractionInputError, match="about a course"):
        interaction_record(learner, kind="enroll", artist=artist)
    with pytest.raises(InteractionInputError, match="about an artist"):
        interaction_record(learner, kind="listen", course=course)
    with pytest.raises(InteractionInputError, match="about an artist"):
        interaction_record(learner, kind="like", artist=artist, course=course)
    assert not Interaction.objects.filter(listener=learner).exists()
    interaction_record(learner, kind="listen", artist=artist)
    interaction_record(learner, kind="listen", artist=artist)
    interaction_record(learner, kind="like", artist=artist)
    interaction_record(learner, kind="skip", artist=artist)
    assert Listen.objects.get(listener=learner, artist=artist).play_count == 2  # skip removes nothing
    interaction_record(learner, kind="complete", course=course)
    history = listener_history(learner)
    assert sorted(e.kind for e in history) == ["complete", "like", "listen", "skip"]
    assert next(e for e in history if e.kind == "listen").play_count == 2


def test_interests_must_exist_in_the_graph(catalog, learner):
    interests_set(learner, [tag_entity("blues")])
    with pytest.raises(UnknownEntityError, match="'lastfm:tag:999' is not in the knowledge graph"):
        interests_set(learner, [tag_entity("jazz"), "lastfm:tag:999"])
    assert list(Interest.objects.filter(listener=learner).values_list("name", flat=True)) == ["blues"]  # unchanged
    with pytest.raises(ConfigurationError, match="list of graph entity ids"):
        interests_set(learner, "lastfm:tag:1")
    assert interests_set(learner, []) == []


def test_learner_listener_is_created_once(catalog):
    user = get_user_model().objects.create_user(username="bo", password="x")
    first = learner_listener(user)
    assert learner_listener(user) == first and first.user == user and first.lastfm_id is None
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(ConfigurationError, match="signed-up"):
        learner_listener(AnonymousUser())


def test_holder_module_has_one_process_wide_holder():
    assert holder_module.model_holder() is holder_module.model_holder()


def test_a_warm_request_reads_the_history_in_one_query_and_returns_private_copies(
    published, django_assert_max_num_queries
):
    listener = Listener.objects.get(pk=101)
    first = recommendations_for_listener(listener, k=3)  # warms the model, snapshot and artist caches
    recommendations_for_listener(listener, kind="course", k=3)  # and the course table
    # One query for the history (listens, events and picks together); artists and courses come from memory.
    with django_assert_max_num_queries(1):
        again = recommendations_for_listener(listener, k=3)
    assert [r.entity_id for r in again] == [r.entity_id for r in first]
    again[0].artist.name = "edited by a caller"  # callers get copies: the cache is not touched
    assert recommendations_for_listener(listener, k=3)[0].artist.name == first[0].artist.name
    with django_assert_max_num_queries(1):
        courses = recommendations_for_listener(listener, kind="course", k=3)
    assert courses and all(r.course is not None for r in courses)


# --- background retrain ------------------------------------------------------------------------------


def test_retrain_runs_only_when_learners_did_something(published, learner, catalog, capsys):
    from recommender.serving.model_holder import published_artifact

    call_command("retrain_recommender", "--only-if-new-interactions", "--no-progress")
    assert "nothing to do" in capsys.readouterr().out
    assert published_artifact() == published
    interaction_record(learner, kind="like", artist=next(iter(catalog["artists"].values())))
    call_command("retrain_recommender", "--only-if-new-interactions", "--no-progress", "--no-content", "--epochs", "1")
    out = capsys.readouterr().out
    assert "1 learner event(s)" in out and "Published" in out
    assert published_artifact() != published
    call_command("retrain_recommender", "--only-if-new-interactions", "--no-progress")
    assert "nothing to do" in capsys.readouterr().out


def test_retrain_worker_interval_must_be_positive(catalog):
    with pytest.raises(CommandError, match="--every must be a positive"):
        call_command("retrain_recommender", "--every", "0")
