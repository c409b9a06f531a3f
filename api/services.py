"""Writes the API layer owns: API client accounts and their tokens."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Field
from rest_framework.authtoken.models import Token

from accounts.services import API_CLIENT_GROUP
from api.permissions import INGEST_PERMISSION_PARTS, READONLY_GROUP
from core.errors import ConfigurationError


@dataclass(frozen=True)
class ApiClient:
    username: str
    token: str
    read_only: bool
    created: bool
    can_ingest: bool = False


@transaction.atomic
def api_client_create(*, name: str, read_only: bool, rotate: bool = False, ingest: bool = False) -> ApiClient:
    """Create (or reuse) the account ``name`` with an API token; ``read_only`` puts it in ``api-readonly``.

    Why an ordinary user account: permissions, throttling and the admin already work on users, and a
    client is revoked by deactivating the user or deleting its token. The account gets no usable
    password, so it can only authenticate with the token. Re-running keeps the token unless ``rotate``.
    A staff or superuser account is refused: a token printed to a terminal should not carry those powers.
    """
    name = (name or "").strip()
    if read_only and ingest:
        raise ConfigurationError(
            "--read-only and --ingest contradict each other: an ingesting client must be able to POST."
        )
    if not name:
        raise ConfigurationError(
            "Give the API client a name, e.g. `python manage.py create_api_client reporting --read-only`."
        )
    User = get_user_model()
    field = User._meta.get_field(User.USERNAME_FIELD)
    assert isinstance(field, Field)  # the username field is a concrete column, never a reverse relation
    if field.max_length and len(name) > field.max_length:
        raise ConfigurationError(
            f"Client name {name[:40]!r}... is longer than {field.max_length} characters; choose a shorter one."
        )
    user = User.objects.filter(**{User.USERNAME_FIELD: name}).first()
    created = user is None
    if user is None:
        user = User(**{User.USERNAME_FIELD: name})
        user.set_unusable_password()
        user.save()
    elif user.is_staff or user.is_superuser:
        raise ConfigurationError(
            f"{name!r} is a staff account; API client tokens are for separate accounts. Choose another name."
        )
    user.groups.add(Group.objects.get_or_create(name=API_CLIENT_GROUP)[0])
    group, _ = Group.objects.get_or_create(name=READONLY_GROUP)
    if read_only:
        user.groups.add(group)
    else:
        user.groups.remove(group)
    app_label, codename = INGEST_PERMISSION_PARTS
    permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
    if ingest:
        user.user_permissions.add(permission)
    else:
        user.user_permissions.remove(permission)
    if rotate:
        Token.objects.filter(user=user).delete()
    token, _ = Token.objects.get_or_create(user=user)
    return ApiClient(username=name, token=token.key, read_only=read_only, created=created, can_ingest=ingest)
