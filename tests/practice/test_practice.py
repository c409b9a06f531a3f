"""Practice feedback end to end on real renderings: alignment and note errors located in bars, feedback tied
to real curriculum concepts with mastery moved through the curriculum services, and the API (learners only,
bad audio as a kind 400 in the error envelope)."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import override_settings

from core.errors import AudioInputError
from tests.helpers.recommender_api import api_learner_create, assert_envelope, token_client
from tests.practice.conftest import OTHER, RATE, TUNE, make_work, needs_fluidsynth, wav_bytes

pytestmark = [needs_fluidsynth, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _threads():
    import torch

    torch.set_num_threads(1)


def analyse(work, samples):
    from practice.analysis import analyse_performance
    from practice.reference import load_reference, reference_samples

    reference = load_reference(work)
    return analyse_performance(reference, reference_samples(reference), samples, RATE)


def test_a_clean_performance_has_no_note_errors(performances):
    analysis = analyse(make_work(TUNE, "tune"), performances["clean"])
    assert not [e for e in analysis.errors if e.kind in ("wrong", "missed")]
    assert analysis.dimensions["pitch"] >= 0.95 and analysis.matched == analysis.notes_judged > 10


def test_a_wrong_note_is_found_in_its_bar(performances):
    from practice.feedback import feedback_sentences

    analysis = analyse(make_work(TUNE, "tune"), performances["wrong"])
    written, played = performances["wrong_notes"]
    wrong = [e for e in analysis.errors if e.kind == "wrong"]
    assert [(e.bar, e.expected, e.played) for e in wrong] == [(3, written, played)]
    sentences, families = feedback_sentences(analysis, title="tune")
    assert any(f"{written} in bar 3 played as {played}" in s for s in sentences)
    assert families and families[0] in ("pitch", "accidentals")


def test_rushed_bars_are_located(performances):
    from practice.feedback import feedback_sentences

    analysis = analyse(make_work(TUNE, "tune"), performances["rushed"])
    by_bar = {b.number: b.tempo_ratio for b in analysis.bars}
    assert all(by_bar[n] is not None and by_bar[n] < 0.9 for n in (5, 6, 7)), by_bar
    assert all(by_bar[n] is None or abs(by_bar[n] - 1) < 0.05 for n in (1, 2, 3)), by_bar
    sentences, families = feedback_sentences(analysis, title="tune")
    assert any(s.startswith("Bars 5–7 rushed") for s in sentences), sentences
    assert "tempo_stability" in families


def test_a_take_of_the_first_bars_is_judged_on_those_bars_only(performances):
    analysis = analyse(make_work(TUNE, "tune"), performances["clean"][: int(RATE * 16)])
    assert not [e for e in analysis.errors if e.kind in ("wrong", "missed")]
    assert 0 < analysis.notes_judged < 21 and analysis.bars and max(b.number for b in analysis.bars) <= 5


def test_another_piece_and_noise_are_refused(performances):
    work = make_work(TUNE, "tune")
    with pytest.raises(AudioInputError, match="does not sound like"):
        analyse(work, performances["other_piece"])
    noise = np.random.default_rng(0).normal(0, 0.2, RATE * 25).astype(np.float32)
    with pytest.raises(AudioInputError, match="noise"):
        analyse(work, noise)


# --- API -------------------------------------------------------------------------------------------------


@pytest.fixture
def learner(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.KG_BACKEND = "sql"
    return api_learner_create("player")


@pytest.fixture
def curriculum(sql_store):
    from curriculum.graph import curriculum_cache_clear
    from curriculum.loader import DEFAULT_CURRICULUM_PATH, curriculum_load

    curriculum_cache_clear()
    curriculum_load(DEFAULT_CURRICULUM_PATH, store=sql_store, progress=False)
    yield
    curriculum_cache_clear()


def upload(client, work, data: bytes, name: str = "take.wav"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/api/v1/practice/sessions",
        {"work": work.pk, "file": SimpleUploadedFile(name, data, content_type="audio/wav")},
        format="multipart",
    )


@override_settings(PRACTICE_JOB_RUNNER="inline")
def test_upload_gives_feedback_tied_to_real_concepts_and_moves_mastery(performances, learner, curriculum, sql_store):
    from curriculum.graph import curriculum_graph
    from curriculum.models import ConceptMastery

    work = make_work(TUNE, "tune")
    client = token_client(learner)
    response = upload(client, work, wav_bytes(performances["wrong"]))
    assert response.status_code == 201, response.content[:500]
    body = response.json()
    feedback = body["feedback"]
    assert set(feedback["dimensions"]) == {
        "pitch",
        "rhythm_timing",
        "tempo_stability",
        "dynamics",
        "articulation",
        "expression",
    }
    assert any(e["kind"] == "wrong" and e["bar"] == 3 for e in feedback["note_errors"])
    assert "bar 3" in feedback["text"]
    graph = curriculum_graph(sql_store)
    ids = {c["concept_id"] for c in feedback["concepts"]}
    assert ids and ids <= set(graph.concepts)
    assert "leitmotif:concept:notes-and-staff" in ids and "leitmotif:concept:rhythm" in ids
    stored = dict(ConceptMastery.objects.filter(user=learner).values_list("concept_id", "mastery"))
    for concept in feedback["concepts"]:
        assert stored[concept["concept_id"]] == pytest.approx(concept["mastery_after"])
        assert concept["mastery_after"] > concept["mastery_before"] == 0.0
    assert feedback["next_step"]["practice_again"].startswith("Play bar")
    assert feedback["next_step"].get("concept_id") in graph.concepts
    detail = client.get(f"/api/v1/practice/sessions/{body['id']}")
    assert detail.status_code == 200 and detail.json()["status"] == "succeeded" and detail.json()["progress"] == 1.0
    listing = client.get("/api/v1/practice/sessions").json()
    assert [s["id"] for s in listing["results"]] == [body["id"]] and len(listing["progress"]) == 1


@override_settings(PRACTICE_JOB_RUNNER="worker")
def test_a_queued_session_shows_status_then_feedback(performances, learner, curriculum):
    from practice.jobs import run_queued_sessions

    work = make_work(TUNE, "tune")
    client = token_client(learner)
    response = upload(client, work, wav_bytes(performances["clean"]))
    assert response.status_code == 202
    session_id = response.json()["id"]
    assert client.get(f"/api/v1/practice/sessions/{session_id}").json()["status"] == "queued"
    seen: list[float] = []
    from practice.services import analyse_session

    analyse_session(session_id, progress=lambda fraction, stage: seen.append(fraction))
    assert seen == sorted(seen) and seen
    assert run_queued_sessions() == []
    assert client.get(f"/api/v1/practice/sessions/{session_id}").json()["feedback"]["overall"] > 0.8


@override_settings(PRACTICE_JOB_RUNNER="inline")
@pytest.mark.parametrize(
    "case, mentions",
    [
        ("undecodable", ("not an audio file",)),
        ("silence", ("silent",)),
        ("noise", ("noise",)),
        ("too_short", ("too short",)),
        ("too_long", ("far longer",)),
        ("other_piece", ("does not sound like",)),
    ],
)
def test_bad_audio_is_a_kind_400_and_nothing_is_stored(performances, learner, case, mentions):
    from practice.models import PracticeSession

    work = make_work(TUNE, "tune")
    clean = performances["clean"]
    data = {
        "undecodable": b"these are my notes, not a recording\n" * 20,
        "silence": wav_bytes(np.zeros(RATE * 20, dtype=np.float32)),
        "noise": wav_bytes(np.random.default_rng(1).normal(0, 0.2, RATE * 20).astype(np.float32)),
        "too_short": wav_bytes(clean[: int(RATE * 4)]),
        "too_long": wav_bytes(np.concatenate([clean] * 4)),
        "other_piece": wav_bytes(performances["other_piece"]),
    }[case]
    response = upload(token_client(learner), work, data)
    assert_envelope(response, 400, mentions=mentions)
    assert not PracticeSession.objects.exists()


def test_only_learners_practise_and_only_their_own_sessions(learner, catalog_staff):
    work = make_work(OTHER, "chorale")
    response = upload(token_client(catalog_staff), work, b"RIFF")
    assert_envelope(response, 403, mentions=("learner",))
    missing = token_client(learner).get("/api/v1/practice/sessions/999")
    assert_envelope(missing, 404, mentions=("GET /api/v1/practice/sessions",))
    unknown_work = token_client(learner).post("/api/v1/practice/sessions", {"work": 9999}, format="multipart")
    assert unknown_work.status_code == 400


@pytest.fixture
def catalog_staff(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username="staffer", password="x-Pass-12345", is_staff=True)
