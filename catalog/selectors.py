"""Read-side queries over the catalog."""

from __future__ import annotations

from django.db.models import QuerySet

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


def tag_rule_artists() -> QuerySet[Artist]:
    """The artists tag rules are judged against: the KGCN-linked ones (every artist, in a catalogue with none linked).

    The rules that tell a descriptive tag from noise ("is it an artist's name?", "is it on enough
    artists?") were tuned on the 3,846 KGCN artists. Judged against all 17,632 HetRec artists they
    would call "electronic", "ambient" and "soundtrack" artist names (obscure acts are called that)
    and raise the support threshold from 4 to 18 artists, so a quarter of the descriptive tags would
    vanish from learner pages and explanations. One definition, used by the explainer, the learner
    pages and the requests protocol alike.
    """
    linked = Artist.objects.filter(kgcn_entity__isnull=False)
    return linked if linked.exists() else Artist.objects.all()


def tag_rule_artist_entity_ids() -> frozenset[str]:
    """Graph entity ids of :func:`tag_rule_artists` (empty when the catalog has no artists)."""
    return frozenset(tag_rule_artists().values_list("entity_id", flat=True))
