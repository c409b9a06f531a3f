"""API views: thin on purpose.

Each view validates its input with a small serializer, calls one selector (reads) or service
(writes), and shapes the answer with an output serializer. Recommendations, history and interaction
writes come from :mod:`recommender.serving`. Every error leaves as the envelope of :mod:`api.exceptions`.
The graph's own endpoints (``/api/v1/entities/``) are :mod:`kg.api`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import LEARNER_FORBIDDEN, CanReadListener, can_read_any_listener, is_readonly_client
from api.schema import ENVELOPE, ERRORS
from catalog.models import Artist, Course, Interaction, Listener
from recommender.api import selectors
from recommender.api.filters import ArtistFilter, CourseFilter
from recommender.api.serializers import (
    ArtistDetailSerializer,
    ArtistSerializer,
    CourseSerializer,
    HistoryEntrySerializer,
    InteractionInputSerializer,
    InteractionSerializer,
    InterestSerializer,
    InterestsInputSerializer,
    MeSerializer,
    RecommendationListSerializer,
    RecommendationQuerySerializer,
    RecommendationSerializer,
)

RECOMMENDATION_ERRORS = {**ERRORS, 503: OpenApiResponse(ENVELOPE, description="No recommender model is published yet.")}
LISTENER_ID = OpenApiParameter("listener_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Listener id.")


# --- serving (recommender.serving is the only place that ranks, explains and records events) ------


def _serving_selectors():
    from recommender.serving import selectors as serving_selectors

    return serving_selectors


def _serving_services():
    from recommender.serving import services as serving_services

    return serving_services


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Validated query parameters (a 400 envelope naming each bad parameter otherwise)."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _existing_listener(user: Any) -> Listener | None:
    """The caller's listener if it exists (reads must not create one)."""
    return Listener.objects.filter(user=user).first() if user.is_authenticated else None


def _my_listener(request: Request) -> Listener:
    """The caller's listener, created on first use for a learner (``learner_listener``).

    A read-only client has no listening of its own and must not write, so it is pointed to
    ``/users/{listener_id}/...`` instead of getting a listener made for it.
    """
    listener = _existing_listener(request.user)
    if listener is not None:
        return listener
    if is_readonly_client(request.user):
        raise NotFound(
            "This read-only API client has no listening history of its own; "
            "read a listener's data with /api/v1/users/{listener_id}/history/ or /recommendations/."
        )
    return _serving_services().learner_listener(request.user)


def _recommendations_response(request: Request, listener: Listener) -> Response:
    params = _query(RecommendationQuerySerializer, request)
    ranked = _serving_selectors().recommendation_list_for_listener(
        listener,
        kind=params["kind"],
        k=params["k"],
        exclude_seen=params["exclude_seen"],
        tag=params.get("tag"),
        level=params.get("level"),
        rerank=params.get("rerank"),
        unit=params.get("unit"),
        mood=params.get("mood"),
    )
    return Response(
        {
            "listener_id": listener.pk,
            "kind": params["kind"],
            "k": params["k"],
            "exclude_seen": params["exclude_seen"],
            "rerank": ranked.rerank,
            "unit": list(ranked.unit),
            "unit_source": ranked.unit_source,
            "mood": list(ranked.mood) if ranked.mood is not None else None,
            "scores": ranked.scores,
            "results": RecommendationSerializer(ranked.results, many=True).data,
        }
    )


# --- public ------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Artists (search with q, filter by tag)", responses={200: ArtistSerializer(many=True), **ERRORS}
    ),
    retrieve=extend_schema(summary="One artist with its top tags", responses={200: ArtistDetailSerializer, **ERRORS}),
)
class ArtistViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Artist.objects.all().order_by("name", "id")
    filterset_class = ArtistFilter
    lookup_value_regex = r"[0-9]+"

    def get_serializer_class(self):
        return ArtistDetailSerializer if self.action == "retrieve" else ArtistSerializer

    def get_object(self) -> Artist:
        try:
            return Artist.objects.get(pk=self.kwargs["pk"])
        except Artist.DoesNotExist:
            raise NotFound(f"No artist with id {self.kwargs['pk']}; find ids with /api/v1/artists/?q=NAME.") from None

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        artist = selectors.artist_detail(artist=self.get_object())
        return Response(ArtistDetailSerializer(artist).data)


@extend_schema_view(
    list=extend_schema(
        summary="Courses (search with q, filter by level and instrument)",
        responses={200: CourseSerializer(many=True), **ERRORS},
    ),
    retrieve=extend_schema(summary="One course", responses={200: CourseSerializer, **ERRORS}),
)
class CourseViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Course.objects.all().order_by("title", "id")
    serializer_class = CourseSerializer
    filterset_class = CourseFilter
    lookup_value_regex = r"[0-9]+"

    def get_object(self) -> Course:
        try:
            return Course.objects.get(pk=self.kwargs["pk"])
        except Course.DoesNotExist:
            raise NotFound(f"No course with id {self.kwargs['pk']}; find ids with /api/v1/courses/?q=TITLE.") from None


# --- the caller's own data ----------------------------------------------------------------------


class MeView(generics.GenericAPIView):
    serializer_class = MeSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(summary="Who am I", responses={200: MeSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        listener = _existing_listener(request.user)
        return Response(MeSerializer(selectors.me_summary(user=request.user, listener=listener)).data)


class MyHistoryView(generics.GenericAPIView):
    serializer_class = HistoryEntrySerializer
    filter_backends: list = []

    @extend_schema(
        summary="My history (listens, likes, skips, enrolments), newest first",
        responses={200: HistoryEntrySerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        listener = _existing_listener(request.user)
        entries = _serving_selectors().listener_history(listener) if listener is not None else []
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(HistoryEntrySerializer(page, many=True).data)


class MyRecommendationsView(generics.GenericAPIView):
    serializer_class = RecommendationListSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        summary="My recommendations, each with an explanation",
        parameters=[RecommendationQuerySerializer],
        responses={200: RecommendationListSerializer, **RECOMMENDATION_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return _recommendations_response(request, _my_listener(request))


class MyInteractionsView(generics.GenericAPIView):
    """My event log (GET) and recording a new event (POST); the next recommendation call reflects it."""

    serializer_class = InteractionSerializer
    filter_backends: list = []

    def get_queryset(self):
        listener = _existing_listener(self.request.user)
        if listener is None:
            return Interaction.objects.none()
        return (
            Interaction.objects.filter(listener=listener)
            .select_related("artist", "course")
            .order_by("-created_at", "-id")
        )

    @extend_schema(
        summary="My recorded events, newest first", responses={200: InteractionSerializer(many=True), **ERRORS}
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(InteractionSerializer(page, many=True).data)

    @extend_schema(
        summary="Record listen / like / skip (artist) or enroll / complete (course)",
        request=InteractionInputSerializer,
        responses={201: InteractionSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        serializer = InteractionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        listener = _my_listener(request)
        interaction = _serving_services().interaction_record(
            listener, kind=data["kind"], artist=data.get("artist"), course=data.get("course")
        )
        return Response(InteractionSerializer(interaction).data, status=status.HTTP_201_CREATED)


class MyInterestsView(generics.GenericAPIView):
    """Onboarding picks: graph entities that seed recommendations before any listening."""

    serializer_class = InterestSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(summary="My interests", responses={200: InterestSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        listener = _existing_listener(request.user)
        interests = listener.interests.all() if listener is not None else []
        return Response(InterestSerializer(interests, many=True).data)

    @extend_schema(
        summary="Replace my interests",
        request=InterestsInputSerializer,
        responses={200: InterestSerializer(many=True), **ERRORS},
    )
    def put(self, request: Request) -> Response:
        serializer = InterestsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        listener = _my_listener(request)
        interests = _serving_services().interests_set(listener, serializer.validated_data["entity_ids"])
        return Response(InterestSerializer(interests, many=True).data)


# --- any listener (staff, read-only clients, or the owner) --------------------------------------


class _ListenerView(generics.GenericAPIView):
    permission_classes = [CanReadListener]
    filter_backends: list = []

    def get_listener(self) -> Listener:
        listener_id = self.kwargs["listener_id"]
        listener = Listener.objects.filter(pk=listener_id).first()
        if listener is None:
            if not can_read_any_listener(self.request.user):
                # A learner learns nothing about other ids: the same answer as for an existing one.
                self.permission_denied(self.request, message=LEARNER_FORBIDDEN)
            raise NotFound(f"No listener with id {listener_id}; listener ids appear in /api/v1/me/ (listener_id).")
        self.check_object_permissions(self.request, listener)
        return listener


class ListenerHistoryView(_ListenerView):
    serializer_class = HistoryEntrySerializer

    @extend_schema(
        summary="A listener's history (staff and read-only clients)",
        parameters=[LISTENER_ID],
        responses={200: HistoryEntrySerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, listener_id: int) -> Response:
        listener = self.get_listener()
        entries = _serving_selectors().listener_history(listener)
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(HistoryEntrySerializer(page, many=True).data)


class ListenerRecommendationsView(_ListenerView):
    serializer_class = RecommendationListSerializer
    pagination_class = None

    @extend_schema(
        summary="A listener's recommendations (staff and read-only clients)",
        parameters=[LISTENER_ID, RecommendationQuerySerializer],
        responses={200: RecommendationListSerializer, **RECOMMENDATION_ERRORS},
    )
    def get(self, request: Request, listener_id: int) -> Response:
        return _recommendations_response(request, self.get_listener())


# --- outside DRF --------------------------------------------------------------------------------
