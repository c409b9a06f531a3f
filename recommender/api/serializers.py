"""Small input and output serializers, one per shape (HackSoft's "thin API" style).

Input serializers validate query strings and bodies and carry error messages that say what to fix
(they end up in the ``message`` of the error envelope); output serializers only shape data that
selectors and services produced.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

from catalog.models import Artist, Course, Interaction, Interest
from kg.stores.base import MAX_NAME_LENGTH

#: Largest ``k`` a recommendation call may ask for: ranking is cheap, explanations are not.
MAX_K = 100
KINDS = ("music", "course")
LEVELS = tuple(Course.Level.values)


# --- catalog ----------------------------------------------------------------------------------


class ArtistSerializer(serializers.ModelSerializer):
    class Meta:
        model = Artist
        fields = ["id", "lastfm_id", "name", "url", "picture_url", "entity_id"]


class TagCountSerializer(serializers.Serializer):
    name = serializers.CharField()
    entity_id = serializers.CharField()
    count = serializers.IntegerField(help_text="How many Last.FM listeners gave the artist this tag.")


class ArtistDetailSerializer(ArtistSerializer):
    listeners = serializers.IntegerField(read_only=True, help_text="Listeners with plays of this artist.")
    top_tags = TagCountSerializer(many=True, read_only=True)

    class Meta(ArtistSerializer.Meta):
        fields = ArtistSerializer.Meta.fields + ["listeners", "top_tags"]


class CourseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = [
            "id",
            "udemy_id",
            "title",
            "url",
            "is_paid",
            "price",
            "subscribers",
            "reviews",
            "lectures",
            "level",
            "duration_hours",
            "published_at",
            "subject",
            "entity_id",
        ]


# --- learners -----------------------------------------------------------------------------------


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    listener_id = serializers.IntegerField(
        allow_null=True, help_text="Your listener id (null for API clients without one)."
    )
    is_staff = serializers.BooleanField()
    read_only_client = serializers.BooleanField(help_text="Whether this account may only read (group api-readonly).")
    interactions = serializers.IntegerField(help_text="Events you recorded (listen, like, skip, enroll, complete).")
    interests = serializers.IntegerField(help_text="Onboarding picks.")


class HistoryEntrySerializer(serializers.Serializer):
    """One entry of a listener's history (``recommender.serving.selectors.HistoryEntry``)."""

    kind = serializers.CharField(help_text="listen, like, skip, enroll or complete.")
    when = serializers.DateTimeField(allow_null=True)
    play_count = serializers.IntegerField(allow_null=True)
    artist = ArtistSerializer(allow_null=True)
    course = CourseSerializer(allow_null=True)


class RecommendationQuerySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=KINDS,
        default="music",
        help_text="music: artists to listen to; course: courses to take.",
        error_messages={"invalid_choice": 'kind must be "music" or "course", got "{input}".'},
    )
    k = serializers.IntegerField(
        default=10,
        min_value=1,
        max_value=MAX_K,
        help_text=f"How many recommendations (1–{MAX_K}).",
        error_messages={
            "invalid": f"k must be a whole number from 1 to {MAX_K}.",
            "min_value": f"k must be at least 1 (it is how many recommendations to return, 1–{MAX_K}).",
            "max_value": f"k must be at most {MAX_K}; page through fewer at a time.",
            "max_string_length": f"k must be a whole number from 1 to {MAX_K}.",
        },
    )
    exclude_seen = serializers.BooleanField(
        default=True,
        help_text="Leave out what the listener already listened to, liked, skipped or enrolled in.",
        error_messages={"invalid": "exclude_seen must be true or false."},
    )
    tag = serializers.CharField(
        required=False,
        max_length=MAX_NAME_LENGTH,
        help_text="Only items linked to this tag (a Last.FM tag name, e.g. blues); empty means no tag filter.",
    )
    level = serializers.ChoiceField(
        choices=LEVELS,
        required=False,
        help_text="Courses only: beginner, intermediate, expert or all.",
        error_messages={"invalid_choice": f'level must be one of {", ".join(LEVELS)}; got "{{input}}".'},
    )
    rerank = serializers.CharField(
        required=False,
        max_length=64,
        help_text=(
            "Re-rank the list: NAME or NAME:STRENGTH with strength 0–1 — none, popularity (fewer blockbusters), "
            "diversity (varied tags), mood (fit your moods or the mood parameter), unit (cover the unit's concepts). "
            "Default: unit:0.5 when unit is given, else mood:0.5 when mood is given, else none. Empty means not given."
        ),
        error_messages={
            "max_length": "rerank is too long: give NAME[:STRENGTH], e.g. diversity:0.3.",
        },
    )
    unit = serializers.CharField(
        required=False,
        max_length=4000,
        help_text=(
            "A curriculum unit: comma-separated concept ids (leitmotif:concept:scales,leitmotif:concept:chords). "
            "Ranks items that cover these concepts (unit:0.5 unless rerank says otherwise) and measures the list's "
            "Educational Match Score on them; without it (or empty), your own unit (concepts linked to your artists' tags) is used."
        ),
        error_messages={
            "max_length": "unit is too long: a unit names at most 50 concepts.",
        },
    )
    mood = serializers.CharField(
        required=False,
        max_length=200,
        help_text="Moods you want (comma-separated): happy, sad, calm, energetic, romantic, dark. Default (or empty): the moods of your artists.",
        error_messages={
            "max_length": "mood is too long: name a few moods, e.g. calm,happy.",
        },
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("level") and attrs.get("kind") != "course":
            raise serializers.ValidationError(
                {"level": ["level applies to courses only: add kind=course or drop level."]}
            )
        return attrs


class PathNodeSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()


class PathEdgeSerializer(serializers.Serializer):
    type = serializers.CharField()
    direction = serializers.ChoiceField(choices=["forward", "backward"])
    head = serializers.CharField()
    tail = serializers.CharField()


class ExplanationPathSerializer(serializers.Serializer):
    sentence = serializers.CharField(help_text="This path in words.")
    nodes = PathNodeSerializer(many=True)
    edges = PathEdgeSerializer(many=True)
    score = serializers.FloatField()


class ExplanationSerializer(serializers.Serializer):
    """Why an item was recommended: graph paths from the listener's history, or a fallback basis."""

    target = serializers.CharField()
    basis = serializers.CharField(
        help_text='"graph" when paths exist, else what the item rests on: "similar_listeners", "popularity", "your_interests", "similar_content" (an artist nobody has played yet, recommended for resembling ones you play) or "no_path".'
    )
    sentence = serializers.CharField()
    paths = ExplanationPathSerializer(many=True)
    evidence = serializers.DictField(
        required=False, help_text="What the explanation rests on (snapshot version, scorer, counts...)."
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return instance.to_dict() if hasattr(instance, "to_dict") else dict(instance)


class RecommendedItemSerializer(serializers.Serializer):
    """The recommended item: ``type`` says which of ``artist`` / ``course`` is set."""

    type = serializers.SerializerMethodField()
    artist = ArtistSerializer(allow_null=True)
    course = CourseSerializer(allow_null=True)

    def get_type(self, obj: Any) -> str:
        return "artist" if obj.artist is not None else "course"


class RecommendationSerializer(serializers.Serializer):
    """One result. Nested serializers are declared fields (built once per list, not once per item:
    instantiating a ModelSerializer per item costs milliseconds each on this hot path)."""

    rank = serializers.IntegerField()
    score = serializers.FloatField()
    kind = serializers.CharField()
    entity_id = serializers.CharField()
    item = RecommendedItemSerializer(source="*")
    explanation = ExplanationSerializer()


class ListScoresSerializer(serializers.Serializer):
    """How the returned list fits the learner (definitions: recommender/evaluation/learning_metrics.py)."""

    ems = serializers.FloatField(
        allow_null=True,
        help_text="Educational Match Score in [0, 1]: ½·(share of the unit's concepts the list covers) + ½·(share of items on the unit); null without a unit.",
    )
    ers = serializers.FloatField(
        allow_null=True,
        help_text="Emotional Resonance Score in [0, 1]: mean cosine between your mood profile (or stated moods) and the moods of the items that have mood tags; null when undefined.",
    )


class RecommendationListSerializer(serializers.Serializer):
    listener_id = serializers.IntegerField()
    kind = serializers.CharField()
    k = serializers.IntegerField()
    exclude_seen = serializers.BooleanField()
    rerank = serializers.CharField(help_text="The re-ranking applied, e.g. none or unit:0.5.")
    unit = serializers.ListField(
        child=serializers.CharField(),
        help_text="Concept ids EMS was measured on (asked for, or your own unit; empty when none).",
    )
    unit_source = serializers.ChoiceField(choices=["request", "learner", "none"], help_text="Where the unit came from.")
    mood = serializers.ListField(
        child=serializers.CharField(), allow_null=True, help_text="Stated moods (null: your artists' moods were used)."
    )
    scores = ListScoresSerializer()
    results = RecommendationSerializer(many=True)


class _ExistingPk(serializers.PrimaryKeyRelatedField):
    """A primary key whose "does not exist" message says where valid ids come from."""

    def __init__(self, *, noun: str, list_url: str, **kwargs: Any):
        kwargs.setdefault("error_messages", {})
        kwargs["error_messages"].update(
            {
                "does_not_exist": f"No {noun} with id {{pk_value}}; find ids with GET {list_url}.",
                "incorrect_type": f"{noun} must be the numeric id of a {noun} (see GET {list_url}), got {{data_type}}.",
            }
        )
        super().__init__(**kwargs)
        self.noun, self.list_url = noun, list_url

    def to_internal_value(self, data: Any) -> Any:
        """Only a whole number in the id range: ``1.5`` is refused rather than truncated to 1, and
        ``1e999`` (infinity after JSON parsing) or ``10**30`` are refused rather than overflowing."""
        if isinstance(data, str) and data.strip().isdigit():
            data = int(data.strip())
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError(
                f"{self.noun} must be the numeric id of a {self.noun}, a whole number (see GET {self.list_url}), got {data!r}."
            )
        if not 1 <= data <= MAX_DATABASE_ID:
            raise serializers.ValidationError(
                f"No {self.noun} with id {data}: ids are whole numbers from 1 to {MAX_DATABASE_ID}; "
                f"find ids with GET {self.list_url}."
            )
        return super().to_internal_value(data)


#: The largest primary key a 64-bit integer column holds (SQLite and PostgreSQL ``bigint``).
MAX_DATABASE_ID = 2**63 - 1


class InteractionInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=Interaction.Kind.values,
        help_text="listen, like or skip (with artist); enroll or complete (with course).",
        error_messages={
            "invalid_choice": f'kind must be one of {", ".join(Interaction.Kind.values)}; got "{{input}}".',
            "required": "kind is required: one of listen, like, skip (with artist) or enroll, complete (with course).",
        },
    )
    artist = _ExistingPk(
        noun="artist",
        list_url="/api/v1/artists/?q=NAME",
        queryset=Artist.objects.all(),
        required=False,
        allow_null=True,
    )
    course = _ExistingPk(
        noun="course",
        list_url="/api/v1/courses/?q=TITLE",
        queryset=Course.objects.all(),
        required=False,
        allow_null=True,
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind, artist, course = attrs["kind"], attrs.get("artist"), attrs.get("course")
        if artist is not None and course is not None:
            raise serializers.ValidationError("Give either artist or course, not both: one event is about one item.")
        if kind in Interaction.ARTIST_KINDS and artist is None:
            raise serializers.ValidationError(
                {"artist": [f'kind "{kind}" is about an artist: give "artist": <artist id>.']}
            )
        if kind in Interaction.COURSE_KINDS and course is None:
            raise serializers.ValidationError(
                {"course": [f'kind "{kind}" is about a course: give "course": <course id>.']}
            )
        return attrs


class InteractionSerializer(serializers.ModelSerializer):
    artist = ArtistSerializer(allow_null=True, read_only=True)
    course = CourseSerializer(allow_null=True, read_only=True)

    class Meta:
        model = Interaction
        fields = ["id", "kind", "artist", "course", "created_at"]


class InterestSerializer(serializers.ModelSerializer):
    class Meta:
        model = Interest
        fields = ["entity_id", "name", "entity_type", "created_at"]


class InterestsInputSerializer(serializers.Serializer):
    entity_ids = serializers.ListField(
        child=serializers.CharField(max_length=255),
        allow_empty=True,
        max_length=100,
        help_text="Graph entity ids you are interested in (artists, tags, instruments...); replaces the previous picks.",
        error_messages={
            "required": 'entity_ids is required: a list of graph entity ids, e.g. ["lastfm:tag:829"] (find them with /api/v1/entities/?q=).',
            "not_a_list": 'entity_ids must be a list of graph entity ids, e.g. ["lastfm:tag:829"].',
            "max_length": "Pick at most 100 interests.",
        },
    )

    def validate_entity_ids(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


_SLUG = re.compile(r"[^a-z0-9]+")


def slugify_instrument(value: str) -> str:
    return _SLUG.sub("-", value.strip().lower()).strip("-")
