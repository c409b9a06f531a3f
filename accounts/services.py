"""Account services: the curator group and the demo curator login."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

CURATOR_GROUP = "curators"
#: Read-only API clients (``create_api_client NAME --read-only``); :mod:`api.permissions` enforces it.
API_READONLY_GROUP = "api-readonly"
#: Every API client account (``create_api_client``), read-only or not: programs, not learners.
API_CLIENT_GROUP = "api-clients"
#: Apps whose models curators may edit in the admin.
CURATOR_APPS = ("kg", "catalog", "ingestion")


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    created: bool


@transaction.atomic
def curator_group_ensure() -> Group:
    """Create the curator group with every permission on graph and catalog models (idempotent)."""
    group, _ = Group.objects.get_or_create(name=CURATOR_GROUP)
    perms = Permission.objects.filter(content_type__app_label__in=CURATOR_APPS)
    group.permissions.add(*perms)
    return group


@transaction.atomic
def demo_curator_ensure(*, username: str, password: str | None, secret_file: Path) -> DemoLogin:
    """Create (or reuse) a staff user in the curator group for the demo.

    The password comes from the caller, or from ``secret_file`` written on first creation, or is
    generated; it is kept in ``var/`` (git-ignored) so a second ``make demo`` can print it again.
    """
    group = curator_group_ensure()
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    created = user is None
    if password is None and secret_file.exists() and not created:
        password = secret_file.read_text().strip()
    if password is None:
        password = secrets.token_urlsafe(12)
    if user is None:
        user = User(username=username, is_staff=True)
    user.is_staff = True
    user.set_password(password)
    user.save()
    user.groups.add(group)
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    secret_file.write_text(password)
    secret_file.chmod(0o600)
    return DemoLogin(username=username, password=password, created=created)


def is_learner(user: Any) -> bool:
    """Whether ``user`` is a learner: a signed-up person, not staff, a curator or an API client.

    Only learners have a listening history (and so train the recommender). API clients are the accounts
    ``create_api_client`` makes (in ``api-clients``, ``api-readonly``, or allowed to submit documents).
    """
    if not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return False
    if user.is_staff or user.is_superuser:
        return False
    if user.groups.filter(name__in=(CURATOR_GROUP, API_READONLY_GROUP, API_CLIENT_GROUP)).exists():
        return False
    return not user.has_perm("ingestion.add_ingestionjob")
