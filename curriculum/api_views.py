"""``/api/v1/learning/``: the learner's profile, mastery, next steps and paths, and the concept list.

Thin on purpose, like :mod:`recommender.api.views`: a small serializer validates the input, one selector
or service does the work, an output serializer shapes the answer. Every endpoint answers about the
caller only (``request.user``): there is no way to name another learner. Permissions are the API's
default :class:`~api.permissions.ApiAccess` (authenticated; read-only clients may only GET),
errors leave as the project's envelope (a :class:`~core.errors.LearningPathError`, e.g. an
unknown goal, is a 400 with code E050 and a message that says what to pick).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.schema import ERRORS
from curriculum import selectors, services
from curriculum.graph import curriculum_graph
from curriculum.serializers import (
    ConceptSerializer,
    ConceptsQuerySerializer,
    LearningPathSerializer,
    MasteryInputSerializer,
    MasteryListSerializer,
    MasterySerializer,
    NextStepsQuerySerializer,
    NextStepsSerializer,
    PathQuerySerializer,
    ProfileInputSerializer,
    ProfileSerializer,
    concept_data,
    mastery_data,
    profile_data,
)
from kg.stores import get_store

LEARNING_ERRORS = {
    **ERRORS,
    503: OpenApiResponse(ERRORS[400].response, description="The knowledge graph is unavailable."),
}


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _body(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class _LearningView(generics.GenericAPIView):
    filter_backends: list = []
    pagination_class = None


class ProfileView(_LearningView):
    serializer_class = ProfileSerializer

    def _answer(self, request: Request, store: Any) -> Response:
        names = dict(selectors.instrument_choices(store))
        return Response(ProfileSerializer(profile_data(selectors.learner_settings(request.user), names)).data)

    @extend_schema(
        summary="My learner profile (level and instruments)", responses={200: ProfileSerializer, **LEARNING_ERRORS}
    )
    def get(self, request: Request) -> Response:
        with get_store() as store:
            return self._answer(request, store)

    @extend_schema(
        summary="Update my level and/or instruments",
        request=ProfileInputSerializer,
        responses={200: ProfileSerializer, **LEARNING_ERRORS},
    )
    def put(self, request: Request) -> Response:
        data = _body(ProfileInputSerializer, request)
        with get_store() as store:
            services.profile_update(
                request.user, store=store, level=data.get("level"), instruments=data.get("instruments")
            )
            return self._answer(request, store)


class MasteryView(_LearningView):
    serializer_class = MasterySerializer

    @extend_schema(
        summary="My mastery of each concept (self-assessed, quizzes and completed courses)",
        responses={200: MasteryListSerializer, **LEARNING_ERRORS},
    )
    def get(self, request: Request) -> Response:
        with get_store() as store:
            graph = curriculum_graph(store)
        threshold = selectors.mastery_threshold()
        states = selectors.learner_mastery(request.user, graph=graph)
        ordered = sorted(
            (s for c, s in states.items() if c in graph.concepts), key=lambda s: graph.concepts[s.concept_id].sort_key
        )
        return Response(
            MasteryListSerializer(
                {"threshold": threshold, "results": [mastery_data(s, graph, threshold) for s in ordered]}
            ).data
        )

    @extend_schema(
        summary="Self-assess one concept (0 = not at all, 1 = fully)",
        request=MasteryInputSerializer,
        responses={201: MasterySerializer, **LEARNING_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = _body(MasteryInputSerializer, request)
        with get_store() as store:
            graph = curriculum_graph(store)
        services.mastery_set(request.user, data["concept_id"], mastery=data["mastery"], graph=graph)
        state = selectors.learner_mastery(request.user, graph=graph)[data["concept_id"]]
        return Response(
            MasterySerializer(mastery_data(state, graph, selectors.mastery_threshold())).data,
            status=status.HTTP_201_CREATED,
        )


class NextStepsView(_LearningView):
    serializer_class = NextStepsSerializer

    @extend_schema(
        summary="My next concepts, each with courses, music and an explanation",
        parameters=[NextStepsQuerySerializer],
        responses={200: NextStepsSerializer, **LEARNING_ERRORS},
    )
    def get(self, request: Request) -> Response:
        params = _query(NextStepsQuerySerializer, request)
        with get_store() as store:
            steps = selectors.next_steps(
                request.user, store=store, limit=params["limit"], allow_stretch=params["allow_stretch"]
            )
        learner = selectors.learner_settings(request.user)
        return Response(
            NextStepsSerializer(
                {"level": learner.level, "threshold": selectors.mastery_threshold(), "results": steps}
            ).data
        )


class PathView(_LearningView):
    serializer_class = LearningPathSerializer

    @extend_schema(
        summary="My learning path to a goal (concept, instrument, tag, course or artist)",
        parameters=[PathQuerySerializer],
        responses={200: LearningPathSerializer, **LEARNING_ERRORS},
    )
    def get(self, request: Request) -> Response:
        params = _query(PathQuerySerializer, request)
        with get_store() as store:
            path = selectors.learning_path(
                request.user, params["goal"], store=store, allow_stretch=params["allow_stretch"]
            )
        data = {
            "goal": path.goal,
            "complete": path.complete,
            "threshold": path.threshold,
            "steps": path.steps,
            "mastered_prerequisites": path.mastered_prerequisites,
            "mastered_targets": path.mastered_targets,
        }
        return Response(LearningPathSerializer(data).data)


class ConceptListView(generics.GenericAPIView):
    """The curriculum's concepts, easiest first (paginated)."""

    serializer_class = ConceptSerializer
    filter_backends: list = []

    @extend_schema(
        summary="Curriculum concepts (filter by level or instrument)",
        parameters=[ConceptsQuerySerializer],
        responses={200: ConceptSerializer(many=True), **LEARNING_ERRORS},
    )
    def get(self, request: Request) -> Response:
        params = _query(ConceptsQuerySerializer, request)
        with get_store() as store:
            graph = curriculum_graph(store)
        nodes = selectors.concept_list(graph, level=params.get("level"), instrument=params.get("instrument"))
        page = self.paginate_queryset(nodes)
        assert page is not None  # DEFAULT_PAGINATION_CLASS is set in settings
        return self.get_paginated_response(ConceptSerializer([concept_data(n) for n in page], many=True).data)
