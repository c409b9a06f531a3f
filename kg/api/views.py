"""``/api/v1/entities/``: search the knowledge graph, read one entity, list its neighbours.

Thin on purpose: each view validates its query with a small serializer, reads through the store interface
(:func:`kg.stores.get_store`) and shapes the answer; every error leaves as the envelope of
:mod:`api.exceptions`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from api.schema import ERRORS
from catalog.models import Artist
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
from kg.stores import EntityRecord, get_store, search_match_rank

#: Matches read from the store before they are re-ranked for a person (at most :data:`MAX_SEARCH_RESULTS` are
#: returned). The store ranks exact, prefix, word start, substring, so every match where the query is whole
#: words of a name sits among its first ranks; twice the answer's size leaves room for a crowd of prefix matches.
SEARCH_CANDIDATES = 2 * MAX_SEARCH_RESULTS

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


def _artist_listeners(entity_ids: list[str]) -> dict[str, int]:
    """Last.FM listeners of each catalog artist among ``entity_ids`` (other entities are absent)."""
    return dict(
        Artist.objects.filter(entity_id__in=entity_ids).annotate(n=Count("listens")).values_list("entity_id", "n")
    )


def ranked_for_person(query: str, hits: list[EntityRecord], *, limit: int) -> list[EntityRecord]:
    """``hits`` re-ranked the way a person means ``query``, best ``limit`` first.

    Exact, then the query as whole words of a name or alias ("mozart" in "Wolfgang Amadeus Mozart"),
    then prefix ("Mozart Season"), word start, substring (:func:`~kg.stores.search_match_rank`); ties
    by the artist's listeners in the catalog (0 for any other entity), then by name and id.
    """
    listeners = _artist_listeners([e.id for e in hits if e.type == "Artist"])

    def key(entity: EntityRecord) -> tuple[int, int, str, str]:
        rank = search_match_rank(query, entity.name, entity.aliases)
        return (99 if rank is None else rank, -listeners.get(entity.id, 0), entity.name.casefold(), entity.id)

    return sorted(hits, key=key)[:limit]


class EntityListView(generics.GenericAPIView):
    """Search the knowledge graph by name or alias, anywhere in it (exact, whole words, prefix first; then most listened)."""

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
            found = store.search_entities(params["q"], types=types, limit=SEARCH_CANDIDATES)
        hits = ranked_for_person(params["q"], found, limit=MAX_SEARCH_RESULTS)
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
