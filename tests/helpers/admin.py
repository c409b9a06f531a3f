"""Plain helpers for tests that drive the admin through the test client (the curator admin and the review queue)."""

from __future__ import annotations

from django.contrib.messages import get_messages

#: The password of every user the admin tests make (long enough for the project's password validators).
PASSWORD = "a-long-test-password-123"


def message_texts(response) -> list[str]:
    """The flash messages a response carries: the admin reports refusals and store failures this way, not as errors."""
    return [str(m) for m in get_messages(response.wsgi_request)]
