"""Brute-force protection: after LOGIN_FAILURE_LIMIT wrong passwords, even the right one is refused."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

PASSWORD = "right-horse-battery-staple"
LOGINS = [
    ("/login/", {"is_staff": False}),
    ("/admin/login/", {"is_staff": True}),
]


def try_login(client: Client, path: str, username: str, password: str):
    return client.post(path, {"username": username, "password": password})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "flags"), LOGINS)
def test_the_right_password_is_refused_after_too_many_wrong_ones(settings, path, flags):
    settings.AXES_FAILURE_LIMIT = 5
    get_user_model().objects.create_user("alice", password=PASSWORD, **flags)
    client = Client()
    for _ in range(5):
        try_login(client, path, "alice", "wrong")
    response = try_login(client, path, "alice", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert not logged_in(client)


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "flags"), LOGINS)
def test_a_few_mistakes_do_not_lock_and_a_success_resets_the_count(settings, path, flags):
    settings.AXES_FAILURE_LIMIT = 3
    get_user_model().objects.create_user("alice", password=PASSWORD, **flags)
    client = Client()
    for _ in range(2):
        try_login(client, path, "alice", "wrong")
    try_login(client, path, "alice", PASSWORD)
    assert logged_in(client)
    client.logout()
    for _ in range(2):
        try_login(client, path, "alice", "wrong")
    try_login(client, path, "alice", PASSWORD)
    assert logged_in(client)


@pytest.mark.django_db
def test_the_lock_is_per_username_and_configurable(settings):
    settings.AXES_FAILURE_LIMIT = 2
    get_user_model().objects.create_user("alice", password=PASSWORD)
    get_user_model().objects.create_user("bob", password=PASSWORD)
    client = Client()
    for _ in range(2):
        try_login(client, "/login/", "alice", "wrong")
    assert try_login(client, "/login/", "alice", PASSWORD).status_code == 429
    try_login(client, "/login/", "bob", PASSWORD)
    assert logged_in(client)


@pytest.mark.django_db
def test_logins_without_a_request_are_not_counted():
    """The test client's login() and manage.py code call authenticate() without a request."""
    get_user_model().objects.create_user("alice", password=PASSWORD)
    client = Client()
    assert client.login(username="alice", password=PASSWORD)
