"""The practice pages: the picker and reference audio, the feedback page with its timeline, and a real
browser (Playwright + Debian's Chromium against ``live_server``) that uploads a recording and reads the
feedback at phone width. Screenshots go to /tmp/h7-*.png."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.test import override_settings

from tests.helpers.browser import PHONE, chromium_page
from tests.helpers.recommender_api import PASSWORD, api_learner_create
from tests.practice.conftest import TUNE, make_work, needs_fluidsynth, wav_bytes

pytestmark = [needs_fluidsynth]


@pytest.fixture
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.KG_BACKEND = "sql"


@pytest.fixture
def curriculum(sql_store):
    from curriculum.graph import curriculum_cache_clear
    from curriculum.loader import DEFAULT_CURRICULUM_PATH, curriculum_load

    curriculum_cache_clear()
    curriculum_load(DEFAULT_CURRICULUM_PATH, store=sql_store, progress=False)
    yield
    curriculum_cache_clear()


@pytest.mark.django_db
@override_settings(PRACTICE_JOB_RUNNER="inline")
def test_picker_reference_and_feedback_pages(client, fast_passwords, curriculum, performances):
    from django.contrib.auth import get_user_model

    from practice.jobs import submit_session
    from practice.services import session_create

    work = make_work(TUNE, "tune")
    learner = api_learner_create("player")
    client.force_login(learner)
    page = client.get("/practice/")
    assert page.status_code == 200
    html = page.content.decode()
    assert work.title in html and f"/practice/works/{work.pk}/reference" in html and "practice/practice.js" in html
    audio = client.get(f"/practice/works/{work.pk}/reference")
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/flac"
    assert b"".join(audio.streaming_content)[:4] == b"fLaC"
    session = submit_session(session_create(learner, work=work, raw=wav_bytes(performances["wrong"]), name="take.wav"))
    feedback_page = client.get(f"/practice/sessions/{session.pk}/").content.decode()
    assert "played as" in feedback_page and 'class="mark wrong"' in feedback_page and "bar 3" in feedback_page
    assert "Next step" in feedback_page
    with override_settings(PRACTICE_JOB_RUNNER="worker"):
        queued = submit_session(
            session_create(learner, work=work, raw=wav_bytes(performances["clean"]), name="again.wav")
        )
    waiting = client.get(f"/practice/sessions/{queued.pk}/").content.decode()
    assert f'data-poll="/api/v1/practice/sessions/{queued.pk}"' in waiting and "Analysing your recording" in waiting
    staff = get_user_model().objects.create_user(username="staffer", password=PASSWORD, is_staff=True)
    client.force_login(staff)
    assert client.get("/practice/").status_code == 403
    assert client.get(f"/practice/sessions/{session.pk}/").status_code == 403


# --- browser --------------------------------------------------------------------------------------------


@pytest.fixture
def browser_page(transactional_db, monkeypatch):
    """A headless Chromium page at phone width (see ``tests/helpers/browser.py``)."""
    with chromium_page(monkeypatch, viewport=PHONE, timeout_ms=120_000) as page:
        yield page


def _check_screenshot(png: bytes, *, width: int) -> None:
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert image.shape[1] == width
    assert float(image.std()) > 20, "screenshot looks blank"


@override_settings(PRACTICE_JOB_RUNNER="inline")
def test_a_learner_uploads_a_recording_and_reads_the_feedback(
    live_server, browser_page, fast_passwords, curriculum, performances, tmp_path
):
    work = make_work(TUNE, "tune")
    api_learner_create("player")
    recording = tmp_path / "my-take.wav"
    recording.write_bytes(wav_bytes(performances["wrong"]))
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "player")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/practice/?work={work.pk}")
    assert page.locator("[data-testid=reference-audio]").get_attribute("src") == f"/practice/works/{work.pk}/reference"
    page.screenshot(path="/tmp/h7-practice.png", full_page=True)
    page.set_input_files("#recording", str(recording))
    page.click("#send")
    page.wait_for_selector("[data-testid=feedback]")
    text = page.inner_text("[data-testid=feedback]")
    assert "bar 3 played as" in text
    assert page.locator("rect.mark.wrong").count() >= 1
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, f"the feedback page is {scroll_width} px wide at a 390 px viewport"
    png = page.screenshot(path="/tmp/h7-feedback.png", full_page=True)
    _check_screenshot(png, width=390)
    page.goto(f"{live_server.url}/practice/")
    assert page.locator(".history tbody tr").count() == 1
    page.screenshot(path="/tmp/h7-history.png", full_page=True)
