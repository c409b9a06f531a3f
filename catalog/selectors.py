"""Read-side queries over the catalog."""

from __future__ import annotations

from catalog.models import Artist, Friendship, Listen, Listener, Tag, TagAssignment


def catalog_counts() -> dict[str, int]:
    return {
        "listeners": Listener.objects.count(),
        "artists": Artist.objects.count(),
        "listening pairs": Listen.objects.count(),
        "tags": Tag.objects.count(),
        "tag assignments": TagAssignment.objects.count(),
        "friendships": Friendship.objects.count(),
    }
