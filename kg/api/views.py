"""``/api/v1/entities/``: search the knowledge graph, read one entity, list its neighbours.

Thin on purpose: each view validates its query with a small serializer, reads through the store interface
(:func:`kg.stores.get_store`) and shapes the answer; every error leaves as the envelope of
:mod:`api.exceptions`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.schema import ERRORS
from kg.api import selectors
from kg.api.serializers import (
    MAX_NEIGHBOURS,
    MAX_SEARCH_RESULTS,
    EntitySearchQuerySerializer,
    EntitySerializer,
    NeighbourQuerySerializer,
    NeighbourSerializer,
    entity_data,
    neighbour_data,
)
from kg.stores import get_store

ENTITY_ID = OpenApiParameter(
    "entity_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Graph entity id, e.g. lastfm:artist:289."
)


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Validated query parameters (a 400 envelope naming each bad parameter otherwise)."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _entity_or_404(store: Any, entity_id: str) -> Any:
    entity = store.get_entity(entity_id)
    if entity is None:
        raise NotFound(f"No entity {entity_id!r} in the knowledge graph; search for ids with /api/v1/entities/?q=NAME.")
    return entity


class EntityListView(generics.GenericAPIView):
    """Search the knowledge graph by name (prefix of a name or alias, exact matches first)."""

    serializer_class = EntitySerializer
    filter_backends: list = []

    @extend_schema(
        summary="Search graph entities",
        parameters=[EntitySearchQuerySerializer],
        responses={200: EntitySerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        params = _query(EntitySearchQuerySerializer, request)
        types = params.get("type") or None
        with get_store() as store:
            if types:
                known = selectors.entity_type_names(store=store)
                unknown = [t for t in types if t not in known]
                if unknown:
                    raise ValidationError(
                        {
                            "type": [
                                f"Unknown entity type {', '.join(map(repr, unknown))}; types in the graph: {', '.join(known)}."
                            ]
                        }
                    )
            hits = store.search_entities(params["q"], types=types, limit=MAX_SEARCH_RESULTS)
        page = self.paginate_queryset(hits)
        assert page is not None  # DEFAULT_PAGINATION_CLASS is set in settings
        return self.get_paginated_response([entity_data(e) for e in page])


class EntityDetailView(generics.GenericAPIView):
    serializer_class = EntitySerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(summary="One graph entity", parameters=[ENTITY_ID], responses={200: EntitySerializer, **ERRORS})
    def get(self, request: Request, entity_id: str) -> Response:
        with get_store() as store:
            entity = _entity_or_404(store, entity_id)
        return Response(entity_data(entity))


class EntityNeighboursView(generics.GenericAPIView):
    """Edges touching an entity, with the entity at the other end (paginated; at most 1000)."""

    serializer_class = NeighbourSerializer
    filter_backends: list = []

    @extend_schema(
        summary="Neighbours of a graph entity",
        parameters=[ENTITY_ID, NeighbourQuerySerializer],
        responses={200: NeighbourSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, entity_id: str) -> Response:
        params = _query(NeighbourQuerySerializer, request)
        relation_types = params.get("relation_type") or None
        with get_store() as store:
            _entity_or_404(store, entity_id)
            if relation_types:
                known = sorted(store.stats().relations_by_type)
                unknown = [t for t in relation_types if t not in known]
                if unknown:
                    raise ValidationError(
                        {
                            "relation_type": [
                                f"Unknown relation type {', '.join(map(repr, unknown))}; relation types in the graph: {', '.join(known)}."
                            ]
                        }
                    )
            edges = store.neighbours(
                entity_id, direction=params["direction"], relation_types=relation_types, limit=MAX_NEIGHBOURS
            )
        page = self.paginate_queryset(edges)
        assert page is not None  # DEFAULT_PAGINATION_CLASS is set in settings
        return self.get_paginated_response([neighbour_data(n) for n in page])
