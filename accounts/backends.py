"""Login lockout (django-axes) for password logins that come in over HTTP."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LoginLockoutBackend(AxesStandaloneBackend):
    """django-axes' check, applied where a brute-force attack can come from: an HTTP request.

    ``authenticate()`` without a request (``manage.py`` code, the test client's ``login()``) cannot be a
    remote guesser, so it is not counted (axes would otherwise refuse it outright).
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
