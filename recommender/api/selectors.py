"""Read queries the API needs beyond plain model lists (HackSoft-style selectors)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from api.permissions import is_readonly_client
from catalog.models import Artist, Listener, TagAssignment


def artist_top_tags(*, artist: Artist, limit: int = 10) -> list[dict[str, Any]]:
    """The tags listeners gave ``artist`` most often (what the artist "sounds like" to people)."""
    rows = (
        TagAssignment.objects.filter(artist=artist)
        .values("tag__name", "tag__entity_id")
        .annotate(count=Count("id"))
        .order_by("-count", "tag__name")[:limit]
    )
    return [{"name": r["tag__name"], "entity_id": r["tag__entity_id"], "count": r["count"]} for r in rows]


def artist_detail(*, artist: Artist) -> Artist:
    """``artist`` with ``listeners`` and ``top_tags`` attached for the detail serializer."""
    # Attributes attached for ArtistDetailSerializer only; the model has no such fields.
    artist.listeners = artist.listens.count()  # type: ignore[attr-defined]
    artist.top_tags = artist_top_tags(artist=artist)  # type: ignore[attr-defined]
    return artist


def me_summary(*, user: Any, listener: Listener | None) -> dict[str, Any]:
    return {
        "username": user.get_username(),
        "listener_id": listener.pk if listener else None,
        "is_staff": bool(user.is_staff),
        "read_only_client": is_readonly_client(user),
        "interactions": listener.interactions.count() if listener else 0,
        "interests": listener.interests.count() if listener else 0,
    }
