"""Catalog: what learners can listen to and who listens.

The Last.FM (HetRec 2011) users and artists live here with their real names and play counts; each
artist points at its knowledge-graph entity by ``entity_id`` (the graph itself lives behind the
``kg`` store interface, so the catalog never joins graph tables directly).
"""
from django.conf import settings
from django.db import models

from learning_platform.db import TimeStampedModel


class Artist(TimeStampedModel):
    lastfm_id = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=255, db_index=True)
    url = models.URLField(max_length=500, blank=True)
    picture_url = models.URLField(max_length=500, blank=True)
    #: Graph entity id, e.g. ``lastfm:artist:289``.
    entity_id = models.CharField(max_length=255, unique=True)
    #: Integer id of this artist in the KGCN release (``item_index2entity_id.txt``), if linked.
    kgcn_entity = models.PositiveIntegerField(unique=True, null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Listener(TimeStampedModel):
    """A person who listens: a Last.FM user from the data set, or a learner who signed up."""

    lastfm_id = models.PositiveIntegerField(unique=True, null=True, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="listener"
    )

    def __str__(self) -> str:
        if self.user_id:
            return self.user.get_username()
        return f"Last.FM user {self.lastfm_id}"


class Listen(TimeStampedModel):
    listener = models.ForeignKey(Listener, on_delete=models.CASCADE, related_name="listens")
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE, related_name="listens")
    play_count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["listener", "artist"], name="unique_listen_per_artist")]
        indexes = [models.Index(fields=["artist"])]


class Tag(TimeStampedModel):
    lastfm_id = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=255, db_index=True)
    entity_id = models.CharField(max_length=255, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TagAssignment(TimeStampedModel):
    """A listener tagged an artist on a day (HetRec ``user_taggedartists.dat``)."""

    listener = models.ForeignKey(Listener, on_delete=models.CASCADE, related_name="tag_assignments")
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE, related_name="tag_assignments")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="assignments")
    tagged_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["listener", "artist", "tag"], name="unique_tag_assignment")]


class Friendship(TimeStampedModel):
    listener = models.ForeignKey(Listener, on_delete=models.CASCADE, related_name="friendships")
    friend = models.ForeignKey(Listener, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["listener", "friend"], name="unique_friendship"),
            models.CheckConstraint(condition=~models.Q(listener=models.F("friend")), name="no_self_friendship"),
        ]
