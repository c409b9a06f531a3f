"""The learner settings page (/settings/): download my data, the training opt-out, delete my account."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from catalog.models import Listener
from privacy.models import DataRightsEvent
from tests.helpers.browser import PHONE, chromium_page
from tests.privacy.conftest import PASSWORD, make_learner

SETTINGS = "/settings/"


@pytest.fixture
def browser_client(learner) -> Client:
    client = Client()
    assert client.login(username="ada", password=PASSWORD)
    return client


@pytest.mark.django_db
def test_the_page_shows_the_three_choices_and_the_nav_links_to_it(browser_client):
    response = browser_client.get(SETTINGS)
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("Download your data", "Model training", "Delete your account", 'href="/settings/"'):
        assert text in page
    assert 'href="/settings/my-data.json"' in page and 'name="password"' in page
    assert 'name="viewport" content="width=device-width' in page
    assert "Recorded events" in page and '<td class="num">4</td>' in page  # the four events the learner has


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(SETTINGS)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/settings/my-data.json").status_code == 302


@pytest.mark.django_db
def test_download_gives_the_json_file_and_is_audited(browser_client):
    response = browser_client.get("/settings/my-data.json")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"] == "no-store"
    assert json.loads(response.content)["account"]["username"] == "ada"
    assert DataRightsEvent.objects.get().action == "export" and DataRightsEvent.objects.get().channel == "web"


@pytest.mark.django_db
def test_the_opt_out_toggle_saves_and_says_what_it_means(browser_client, learner):
    response = browser_client.post(SETTINGS, {"action": "training", "training_opt_out": "on"}, follow=True)
    assert response.status_code == 200
    assert "left out of model training" in response.content.decode()
    assert Listener.objects.get(user=learner).training_opt_out is True
    assert re.search(r"<input[^>]*name=\"training_opt_out\"[^>]*checked", response.content.decode())
    browser_client.post(SETTINGS, {"action": "training"})  # the box unticked
    assert Listener.objects.get(user=learner).training_opt_out is False


@pytest.mark.django_db
def test_deleting_needs_the_password_and_the_tick_then_signs_out(browser_client, learner):
    no_tick = browser_client.post(SETTINGS, {"action": "delete", "password": PASSWORD})
    assert no_tick.status_code == 400 and "Tick the box" in no_tick.content.decode()
    wrong = browser_client.post(SETTINGS, {"action": "delete", "password": "guess", "confirm": "on"})
    assert wrong.status_code == 400 and "not your current password" in wrong.content.decode()
    assert get_user_model().objects.filter(pk=learner.pk).exists()

    done = browser_client.post(SETTINGS, {"action": "delete", "password": PASSWORD, "confirm": "on"})
    assert done.status_code == 200
    assert "Your account is deleted" in done.content.decode()
    assert not get_user_model().objects.filter(username="ada").exists()
    assert browser_client.get(SETTINGS).status_code == 302  # signed out
    assert DataRightsEvent.objects.filter(action="delete", channel="web").count() == 1


@pytest.mark.django_db
def test_staff_see_the_download_but_cannot_delete_or_opt_out_here(world):
    get_user_model().objects.create_user("root", password=PASSWORD, is_staff=True)
    client = Client()
    client.login(username="root", password=PASSWORD)
    page = client.get(SETTINGS).content.decode()
    assert "Download my data" in page and "removed by an administrator" in page and 'name="password"' not in page
    response = client.post(SETTINGS, {"action": "delete", "password": PASSWORD, "confirm": "on"}, follow=True)
    assert "removed by an administrator" in response.content.decode()
    assert get_user_model().objects.filter(username="root").exists()
    assert client.post(SETTINGS, {"action": "other"}).status_code == 400


@pytest.mark.django_db
def test_another_learner_sees_only_their_own_counts(learner, world):
    make_learner("bob", email="bob@example.org")
    client = Client()
    client.login(username="bob", password=PASSWORD)
    page = client.get(SETTINGS).content.decode()
    assert '<td class="num">4</td>' not in page


# --- at phone width, in a real browser --------------------------------------------------------------------


@pytest.fixture
def phone_page(transactional_db, monkeypatch):
    """Debian's Chromium at 390 × 844 (see ``tests/helpers/browser.py``)."""
    with chromium_page(monkeypatch, viewport=PHONE, timeout_ms=20_000) as page:
        yield page


def test_the_page_works_at_390_pixels(phone_page, live_server, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_user_model().objects.create_user("ada", password=PASSWORD)
    page = phone_page
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/settings/")
    # nothing is wider than the phone: no sideways scrolling, and the header's links wrap instead
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    link = page.locator("header a[href='/settings/']").bounding_box()
    assert link is not None and link["x"] + link["width"] <= 390
    for section in ("#my-data", "#training", "#delete"):
        box = page.locator(section).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (section, box)
    button = page.locator("#delete button[type=submit]").bounding_box()
    assert button["x"] + button["width"] <= 390 and button["height"] >= 32  # a thumb-sized target
    page.check("#id_training_opt_out")
    page.click("#training button[type=submit]")
    assert "left out of model training" in page.locator(".messages").inner_text()
    page.fill("#delete input[name=password]", PASSWORD)
    page.check("#id_confirm")
    page.click("#delete button[type=submit]")
    assert "Your account is deleted" in page.locator("h1").inner_text()
    assert not get_user_model().objects.filter(username="ada").exists()
