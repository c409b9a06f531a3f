"""Catalog: what learners can listen to and who listens.

The Last.FM (HetRec 2011) users and artists live here with their real names and play counts; each
artist points at its knowledge-graph entity by ``entity_id`` (the graph itself lives behind the
``kg`` store interface, so the catalog never joins graph tables directly).
"""

from django.conf import settings
from django.db import models

from core.db import TimeStampedModel


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
    #: The learner asked that their listening and interactions not train the shared models; the next
    #: retrain leaves them out (:meth:`recommender.data.InteractionDataset.from_catalog`). Serving still
    #: folds their own history in at request time, so their recommendations stay personal.
    training_opt_out = models.BooleanField(
        default=False,
        help_text="Leave this listener's listening and interactions out of model training (learner's choice).",
    )

    def __str__(self) -> str:
        if self.user_id and self.user is not None:
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


class Course(TimeStampedModel):
    """A music course a learner can enrol in (seeded from the Udemy "Musical Instruments" catalogue)."""

    class Level(models.TextChoices):
        BEGINNER = "beginner", "Beginner"
        INTERMEDIATE = "intermediate", "Intermediate"
        EXPERT = "expert", "Expert"
        ALL = "all", "All levels"

    udemy_id = models.PositiveIntegerField(unique=True, null=True, blank=True)
    title = models.CharField(max_length=500, db_index=True)
    url = models.URLField(max_length=500, blank=True)
    is_paid = models.BooleanField(default=True)
    price = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    subscribers = models.PositiveIntegerField(default=0)
    reviews = models.PositiveIntegerField(default=0)
    lectures = models.PositiveIntegerField(default=0)
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.ALL, db_index=True)
    duration_hours = models.FloatField(default=0)
    published_at = models.DateTimeField(null=True, blank=True)
    subject = models.CharField(max_length=100, blank=True)
    #: Graph entity id, e.g. ``udemy:course:1070968``.
    entity_id = models.CharField(max_length=255, unique=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Interaction(TimeStampedModel):
    """One thing a learner did: listen/like/skip an artist, enrol in or complete a course.

    The append-only event log behind instant feedback: serving folds these into the learner's
    history at request time, and the next retrain reads them too. Last.FM listeners' aggregated
    play counts stay in :class:`Listen`.
    """

    class Kind(models.TextChoices):
        LISTEN = "listen", "Listen"
        LIKE = "like", "Like"
        SKIP = "skip", "Skip"
        ENROLL = "enroll", "Enroll"
        COMPLETE = "complete", "Complete"

    ARTIST_KINDS = (Kind.LISTEN, Kind.LIKE, Kind.SKIP)
    COURSE_KINDS = (Kind.ENROLL, Kind.COMPLETE)

    listener = models.ForeignKey(Listener, on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    artist = models.ForeignKey(Artist, null=True, blank=True, on_delete=models.CASCADE, related_name="interactions")
    course = models.ForeignKey(Course, null=True, blank=True, on_delete=models.CASCADE, related_name="interactions")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["listener", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                name="interaction_target_matches_kind",
                condition=(
                    models.Q(kind__in=["listen", "like", "skip"], artist__isnull=False, course__isnull=True)
                    | models.Q(kind__in=["enroll", "complete"], course__isnull=False, artist__isnull=True)
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.listener} {self.kind} {self.artist or self.course}"


class Interest(TimeStampedModel):
    """A graph entity (artist, tag, instrument …) a learner picked during onboarding: a seed for recommendations."""

    listener = models.ForeignKey(Listener, on_delete=models.CASCADE, related_name="interests")
    entity_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    entity_type = models.CharField(max_length=64)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["listener", "entity_id"], name="unique_interest")]

    def __str__(self) -> str:
        return self.name


class Work(TimeStampedModel):
    """A piece of music with a rendered recording: a score from the music21 corpus, loaded by ``load_works``.

    The row mirrors the graph entity ``leitmotif:work:<slug>`` (composer, era, form, key, metre,
    instruments and collection are relations there); the display values are copied here so item pages
    and the audio encoder's training set need no graph query. ``audio_path`` is relative to
    ``settings.LEITMOTIF_CACHE_DIR``: rendered audio is derived data and can be rebuilt at any time.
    """

    slug = models.SlugField(max_length=200, unique=True)
    title = models.CharField(max_length=500, db_index=True)
    composer_name = models.CharField(max_length=255, blank=True, db_index=True)
    era = models.CharField(max_length=64, blank=True, db_index=True)
    form = models.CharField(max_length=64, blank=True, db_index=True)
    key = models.CharField(max_length=64, blank=True)
    metre = models.CharField(max_length=16, blank=True)
    #: Instrument slugs (``leitmotif:instrument:<slug>``), once each, in score order.
    instrumentation = models.JSONField(default=list, blank=True)
    #: Part names as the score writes them (``["Soprano", "Alto", "Tenor", "Bass"]``).
    voices = models.JSONField(default=list, blank=True)
    collection = models.CharField(max_length=255, blank=True, db_index=True)
    #: music21 corpus path (``bach/bwv1.6.mxl``) and, for a tune inside a collection file, its number.
    corpus_path = models.CharField(max_length=500)
    corpus_number = models.PositiveIntegerField(null=True, blank=True)
    audio_path = models.CharField(max_length=500, blank=True)
    audio_sha256 = models.CharField(max_length=64, blank=True)
    #: Length of the rendered audio (the first seconds of the score), not of the whole work.
    duration_seconds = models.FloatField(default=0)
    #: Graph entity id, e.g. ``leitmotif:work:bach-bwv1-6``.
    entity_id = models.CharField(max_length=255, unique=True)

    class Meta:
        ordering = ["composer_name", "title"]

    def __str__(self) -> str:
        return f"{self.composer_name}: {self.title}" if self.composer_name else self.title
