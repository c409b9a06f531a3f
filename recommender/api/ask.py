"""``GET /api/v1/me/ask/?q=...``: a plain-English request answered with explained recommendations.

The response shows how the request was understood (so a client can offer corrections: send the values
to ``drop``, a ``level`` or a ``kind`` back) beside the music and course lists. Unknown words never fail
the request; only a missing or over-long ``q`` is a 400.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from recommender.api.serializers import RecommendationSerializer
from recommender.api.views import RECOMMENDATION_ERRORS, _my_listener
from recommender.understanding.parse import MAX_REQUEST_CHARS


class AskQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        max_length=MAX_REQUEST_CHARS,
        help_text='The request, e.g. "something like Chopin for a beginner pianist".',
        error_messages={
            "required": "q is required: write the request in plain words, e.g. ?q=calm piano music for a beginner.",
            "blank": "q is empty: write the request in plain words, e.g. ?q=calm piano music for a beginner.",
        },
    )
    k = serializers.IntegerField(min_value=1, max_value=50, default=10)
    drop = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        default=list,
        help_text="Understood values to ignore (repeat the parameter).",
    )
    level = serializers.ChoiceField(
        choices=["", "Beginner", "Intermediate", "Expert"],
        required=False,
        allow_blank=True,
        help_text="Replace the understood level (empty: no level).",
    )
    kind = serializers.ChoiceField(
        choices=["music", "course"],
        required=False,
        allow_blank=True,
        help_text="Which list the request is mainly about (empty or left out: as understood from q).",
        error_messages={"invalid_choice": 'kind must be "music" or "course" (or left out), got "{input}".'},
    )


class UnderstoodSerializer(serializers.Serializer):
    role = serializers.CharField(help_text="artist, work, genre, instrument, concept, level, mood or kind")
    text = serializers.CharField(help_text="The words of the request it came from.")
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    value = serializers.CharField(help_text="Graph entity id, or the level / mood / kind.")
    name = serializers.CharField()
    score = serializers.FloatField()
    # A field named like Field.source: DRF's metaclass moves declared fields off the class.
    source = serializers.CharField(help_text="lexicon, ner, gazetteer or correction")  # type: ignore[assignment]


class ParsedRequestSerializer(serializers.Serializer):
    text = serializers.CharField()
    kind = serializers.CharField()
    level = serializers.CharField(allow_null=True)
    moods = serializers.ListField(child=serializers.CharField())
    understood = UnderstoodSerializer(many=True)
    unknown = serializers.ListField(child=serializers.CharField())
    truncated = serializers.BooleanField()


class AskResponseSerializer(serializers.Serializer):
    understood = ParsedRequestSerializer()
    notes = serializers.ListField(child=serializers.CharField())
    music = RecommendationSerializer(many=True)
    courses = RecommendationSerializer(many=True)


class AskView(generics.GenericAPIView):
    serializer_class = AskResponseSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        summary="Ask in plain English; get the understanding and explained music and courses",
        parameters=[
            AskQuerySerializer,
            OpenApiParameter("drop", str, many=True, description="Understood values to ignore"),
        ],
        responses={200: AskResponseSerializer, **RECOMMENDATION_ERRORS},
    )
    def get(self, request: Request) -> Response:
        from recommender.understanding.service import ask

        query = AskQuerySerializer(data={**request.query_params.dict(), "drop": request.query_params.getlist("drop")})
        query.is_valid(raise_exception=True)
        data: dict[str, Any] = query.validated_data
        answer = ask(
            _my_listener(request),
            data["q"],
            k=data["k"],
            drop=data["drop"],
            level=data.get("level"),
            kind=data.get("kind") or None,
        )
        return Response(
            {
                "understood": answer.parsed.to_dict(),
                "notes": answer.notes,
                "music": RecommendationSerializer(answer.music, many=True).data,
                "courses": RecommendationSerializer(answer.courses, many=True).data,
            }
        )
