"""Who may do what through the API.

Three kinds of caller:

* **learners** (any signed-up user): read the public catalog and graph, read and write their *own*
  history, interests, interactions and recommendations (the ``/me/`` endpoints);
* **read-only API clients** (users in the ``api-readonly`` group, made with
  ``python manage.py create_api_client NAME --read-only``): read everything, including any listener's
  history and recommendations, and never write — a leaked reporting token cannot change data;
* **staff**: everything.

Why group membership rather than a flag on the token: the rule then holds for a session login of the
same account too, and ``manage.py`` or the admin can grant and revoke it without a migration.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from accounts.services import API_READONLY_GROUP, CURATOR_GROUP

READONLY_GROUP = API_READONLY_GROUP
LEARNER_FORBIDDEN = (
    "You may only read your own data: use /api/v1/me/history/ and /api/v1/me/recommendations/. "
    "Reading other listeners needs a staff account or a read-only API client token."
)


def is_readonly_client(user: Any) -> bool:
    """Whether ``user`` is a read-only API client (cached on the user object for the request)."""
    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_leitmotif_readonly_client", None)
    if cached is None:
        cached = user.groups.filter(name=READONLY_GROUP).exists()
        user._leitmotif_readonly_client = cached
    return cached


def can_read_any_listener(user: Any) -> bool:
    """Staff and read-only clients may read every listener's data; learners only their own."""
    return bool(getattr(user, "is_staff", False)) or is_readonly_client(user)


class ApiAccess(BasePermission):
    """The default policy: authenticated, and read-only clients may only use safe methods."""

    message = "Authentication credentials were not provided."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method not in SAFE_METHODS and is_readonly_client(user):
            self.message = (
                f"This account is a read-only API client (group {READONLY_GROUP!r}): it may only use GET. "
                "Use a learner account or a client created without --read-only to write."
            )
            return False
        return True


class CanReadListener(ApiAccess):
    """``/users/{listener_id}/...``: staff, read-only clients, or the learner who owns that listener."""

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if can_read_any_listener(request.user):
            return True
        if getattr(obj, "user_id", None) == request.user.pk:
            return True
        self.message = LEARNER_FORBIDDEN
        return False


#: The permission ``--ingest`` grants: submitting documents and recordings (POST /api/v1/ingestion/, /api/v1/audio).
INGEST_PERMISSION_PARTS = ("ingestion", "add_ingestionjob")
INGEST_PERMISSION = ".".join(INGEST_PERMISSION_PARTS)


def can_ingest(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_staff or user.has_perm(INGEST_PERMISSION) or user.groups.filter(name=CURATOR_GROUP).exists())


class CanIngest(ApiAccess):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if not can_ingest(request.user):
            self.message = (
                "Submitting documents for ingestion needs a curator or staff account, or an API client with the "
                f"{INGEST_PERMISSION!r} permission (python manage.py create_api_client NAME --ingest)."
            )
            return False
        return True
