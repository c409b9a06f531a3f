"""Learner pages opened by an account that is not a learner get a page that says so (not a server error)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.errors import NotALearnerError


class NotALearnerPageMiddleware:
    """Turns :class:`~core.errors.NotALearnerError` raised by a page view into a 403 page.

    Why here and not in every view: any learner page may need the learner's listener, and staff,
    curators and API clients must never get one as a side effect (their clicks would train the model).
    The REST API answers the same error in its envelope (:mod:`api.exceptions`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, NotALearnerError):
            return None
        message = (
            "Learner pages are for learner accounts. This account is a staff, curator or API-client account, "
            "so it has no listening history or recommendations of its own: sign up with a separate learner "
            "account to try them, or use the curator admin at /admin/."
        )
        return render(request, "learn/error.html", {"title": "Not a learner account", "message": message}, status=403)
