"""``POST /api/v1/audio``, the spectrogram picture and the work page, with a tiny trained encoder.

The encoder is trained once per module on the tiny examples of ``tests/helpers/audio_encoder.py``
(two epochs, one-second crops) and copied into each test's private artifacts folder. Uploads are the
real trumpet clip and bad recordings made from it.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from api.services import api_client_create
from audio.cache import feature_cache_dir
from catalog.models import Work
from tests.helpers.audio_encoder import TRUMPET

pytestmark = pytest.mark.skipif(not TRUMPET.is_file(), reason=f"shared audio clip missing at {TRUMPET}")


@pytest.fixture
def clients(db, settings):
    settings.KG_BACKEND = "sql"
    ingester = api_client_create(name="ingester", read_only=False, ingest=True)
    reader = api_client_create(name="reporting", read_only=True)
    learner = get_user_model().objects.create_user(username="lea", password="pw-12345678")
    made = {}
    for name, token in [("ingester", ingester.token), ("reader", reader.token)]:
        made[name] = APIClient()
        made[name].credentials(HTTP_AUTHORIZATION=f"Token {token}")
    made["learner"] = APIClient()
    made["learner"].force_authenticate(learner)
    made["anonymous"] = APIClient()
    return made


def upload(client: APIClient, data: bytes, name: str = "trumpet.ogg", **fields):
    return client.post("/api/v1/audio", {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


def stored_anything() -> bool:
    cache = feature_cache_dir()
    return (
        Work.objects.exists()
        or (cache.exists() and any(p.is_file() for p in cache.rglob("*")))
        or (Path(settings.LEITMOTIF_CACHE_DIR) / "works" / "uploads").exists()
    )


def wav(samples: np.ndarray, rate: int = 22050) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


# --- success -------------------------------------------------------------------------------------


def test_upload_returns_spectrogram_neighbours_and_similar_works(clients, encoder):
    response = upload(clients["ingester"], TRUMPET.read_bytes(), k=3)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (
        len(body["sha256"]) == 64
        and body["duration_seconds"] == pytest.approx(5.33, abs=0.01)
        and body["truncated"] is False
    )
    assert body["encoder"] == {"version": encoder.name, "variant": "fused", "target": "kge"}
    assert set(body["neighbours"]) == {"composer", "era", "form"}
    assert len(body["neighbours"]["composer"]) == 3 and [g["rank"] for g in body["neighbours"]["composer"]] == [1, 2, 3]
    scores = [g["score"] for g in body["neighbours"]["composer"]]
    assert scores == sorted(scores, reverse=True)
    assert len(body["similar_works"]) == 3 and body["similar_works"][0]["explanation"].startswith("sounds like Work ")
    assert len(body["vector"]) == 8 and body["work"] is None
    assert not Work.objects.exists()
    picture = clients["anonymous"].get(body["spectrogram_url"].replace("http://testserver", ""))
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
    assert b"".join(picture.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"


def test_side_information_is_used_and_a_trailing_slash_is_accepted(clients, encoder):
    plain = upload(clients["ingester"], TRUMPET.read_bytes()).json()["vector"]
    response = clients["ingester"].post(
        "/api/v1/audio/",
        {"file": SimpleUploadedFile("t.ogg", TRUMPET.read_bytes()), "composer": "Composer B", "era": "Baroque"},
        format="multipart",
    )
    assert response.status_code == 200
    assert response.json()["vector"] != plain  # the fused encoder reads the named composer and era


def test_create_true_creates_a_work_and_graph_entity_with_upload_provenance(clients, encoder, sql_store):
    response = upload(clients["ingester"], TRUMPET.read_bytes(), create="true", title="Trumpet call")
    assert response.status_code == 201, response.content
    body = response.json()
    work = Work.objects.get(pk=body["work"]["pk"])
    assert (
        work.title == "Trumpet call"
        and work.audio_sha256 == body["sha256"]
        and body["work"]["source"] == f"audio-upload:{body['sha256']}"
    )
    assert (Path(settings.LEITMOTIF_CACHE_DIR) / work.audio_path).read_bytes() == TRUMPET.read_bytes()
    entity = sql_store.get_entity(work.entity_id)
    assert (
        entity is not None and entity.type == "Work" and entity.properties["source"] == f"audio-upload:{body['sha256']}"
    )
    assert set(entity.properties["predicted"]) == {"composer", "era", "form"}
    again = upload(clients["ingester"], TRUMPET.read_bytes(), create="true")
    assert again.status_code == 200 and again.json()["work"]["created"] is False and Work.objects.count() == 1

    page = clients["anonymous"].get(f"/works/{work.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Trumpet call" in html and f"/api/v1/audio/spectrograms/{work.audio_sha256}.png" in html
    assert "Sounds like" in html and "Sounds like Work " in html  # the explanation, capitalised


# --- bad audio: 400 in the envelope, nothing stored ---------------------------------------------


def _cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "case, make, message",
    [
        ("empty", lambda: b"", "empty"),
        ("text", lambda: b"just some words, not a recording\n" * 20, "not an audio file"),
        ("truncated", lambda: _cut(TRUMPET.read_bytes()), "cut off"),
        ("silent", lambda: wav(np.zeros(22050, dtype=np.float32)), "silent"),
        (
            "midi",
            lambda: b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60" + b"\x00" * 64,
            "unsupported audio format MIDI",
        ),
        ("too short", lambda: wav(np.full(2000, 0.1, dtype=np.float32)), "at least 0.5 s"),
    ],
)
def test_bad_audio_is_a_400_with_the_reason_and_nothing_is_stored(clients, encoder, case, make, message):
    response = upload(clients["ingester"], make(), name=f"{case.replace(' ', '-')}.ogg", create="true")
    assert response.status_code == 400, (case, response.content)
    error = response.json()["error"]
    assert error["code"] in {"E040", "invalid"} and message in error["message"], error
    assert not stored_anything()


def test_too_long_and_too_large_recordings_are_refused(clients, encoder, settings):
    settings.AUDIO_MAX_SECONDS = 2
    response = upload(clients["ingester"], TRUMPET.read_bytes())
    assert response.status_code == 400 and "more than the 2 s accepted" in response.json()["error"]["message"]
    settings.AUDIO_MAX_SECONDS = 600
    settings.AUDIO_MAX_UPLOAD_BYTES = 1000
    response = upload(clients["ingester"], TRUMPET.read_bytes())
    assert response.status_code == 400 and "AUDIO_MAX_UPLOAD_BYTES" in response.json()["error"]["message"]
    assert not stored_anything()


def test_a_request_without_a_file_is_a_400(clients, encoder):
    response = clients["ingester"].post("/api/v1/audio", {"title": "no file"}, format="multipart")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert "file" in response.json()["error"]["message"]


# --- permissions and the missing model ----------------------------------------------------------


def test_only_ingesting_callers_may_upload(clients, encoder):
    data = TRUMPET.read_bytes()
    assert upload(clients["anonymous"], data).status_code in {401, 403}
    for name in ("reader", "learner"):
        response = upload(clients[name], data)
        assert response.status_code == 403, name
    assert "ingestion.add_ingestionjob" in upload(clients["learner"], data).json()["error"]["message"]
    assert not stored_anything()


def test_without_a_trained_encoder_the_answer_is_503_saying_what_to_run(clients):
    response = upload(clients["ingester"], TRUMPET.read_bytes())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "E031" and "train_audio_encoder" in response.json()["error"]["message"]
    assert not stored_anything()


def test_bad_audio_is_refused_before_the_encoder_is_looked_for(clients):
    """Someone who uploads a text file is told so, not asked to train an encoder."""
    response = upload(clients["ingester"], b"just some words, not a recording\n" * 20, name="notes.ogg")
    assert response.status_code == 400
    assert "not an audio file" in response.json()["error"]["message"]
    assert not stored_anything()


def test_unknown_spectrograms_are_404_in_the_envelope(clients):
    assert clients["anonymous"].get("/api/v1/audio/spectrograms/nothex.png").json()["error"]["code"] == "not_found"
    response = clients["anonymous"].get(f"/api/v1/audio/spectrograms/{'0' * 64}.png")
    assert response.status_code == 404 and "upload it" in response.json()["error"]["message"]


def test_work_page_without_an_encoder_still_shows_the_facts(clients, settings):
    cache = Path(settings.LEITMOTIF_CACHE_DIR)
    (cache / "works").mkdir(parents=True)
    shutil.copy(TRUMPET, cache / "works" / "trumpet.ogg")
    work = Work.objects.create(
        slug="trumpet",
        title="Fanfare",
        composer_name="Anon",
        era="Baroque",
        form="Chorale",
        corpus_path="",
        audio_path="works/trumpet.ogg",
        entity_id="leitmotif:work:trumpet",
        instrumentation=["trumpet"],
    )
    html = clients["anonymous"].get(f"/works/{work.pk}/").content.decode()
    assert (
        "Fanfare" in html
        and "Baroque" in html
        and "Similar-sounding works are not available yet" in html
        and ".png" in html
    )
    assert clients["anonymous"].get("/works/999999/").status_code == 404


def test_openapi_schema_has_no_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/audio" in (tmp_path / "schema.yaml").read_text()
