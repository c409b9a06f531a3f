"""Helpers for the REST API tests of the recommender: learner accounts, token clients, the error envelope."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Listener

PASSWORD = "a-long-learner-password"


def api_learner_create(username: str) -> Any:
    """A learner account with its listener row, as sign-up makes it."""
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    Listener.objects.create(user=user)
    return user


def token_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def assert_envelope(response, status: int, *, code: str | None = None, mentions: tuple[str, ...] = ()) -> dict:
    """The response is the error envelope with ``status``; its message names each of ``mentions``."""
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:500])
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["message"], str) and error["message"], error
    if code is not None:
        assert error["code"] == code, error
    for word in mentions:
        assert word.lower() in error["message"].lower(), (word, error["message"])
    return error
