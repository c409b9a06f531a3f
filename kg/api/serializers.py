"""Query and output shapes of the knowledge-graph API (``/api/v1/entities/``).

Input serializers validate query strings and carry error messages that say what to fix (they end up in
the ``message`` of the error envelope); output serializers document the shapes that ``entity_data`` and
``neighbour_data`` build from store records.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from kg.stores.base import ENTITY_TYPE_PATTERN, MAX_NAME_LENGTH, RELATION_TYPE_PATTERN

DIRECTIONS = ("out", "in", "both")
MAX_NEIGHBOURS = 1000
MAX_SEARCH_RESULTS = 500


class EntitySerializer(serializers.Serializer):
    """An :class:`kg.stores.base.EntityRecord`."""

    id = serializers.CharField()
    type = serializers.CharField()
    name = serializers.CharField()
    aliases = serializers.ListField(child=serializers.CharField())
    properties = serializers.DictField()


class RelationSerializer(serializers.Serializer):
    type = serializers.CharField()
    head = serializers.CharField()
    tail = serializers.CharField()
    # A field named like Field.source: DRF's metaclass moves declared fields off the class.
    source = serializers.CharField()  # type: ignore[assignment]
    confidence = serializers.FloatField()


class NeighbourSerializer(serializers.Serializer):
    """One edge seen from the entity in the URL: ``direction`` is ``out`` when that entity is the head."""

    direction = serializers.ChoiceField(choices=["out", "in"])
    relation = RelationSerializer()
    entity = EntitySerializer()


class EntitySearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        max_length=MAX_NAME_LENGTH,
        trim_whitespace=True,
        help_text="Case-insensitive text found anywhere in a name or alias; exact and whole-word matches first, then prefixes, then the most listened artists.",
        error_messages={
            "required": "Give a search text: ?q=<part of a name>, e.g. ?q=blues.",
            "blank": "q is blank: give part of a name, e.g. ?q=blues.",
        },
    )
    type = serializers.CharField(
        required=False,
        help_text="Only entities of these types (comma-separated), e.g. Artist,Tag.",
    )

    def validate_type(self, value: str) -> list[str]:
        types = [t.strip() for t in value.split(",") if t.strip()]
        bad = [t for t in types if not ENTITY_TYPE_PATTERN.match(t)]
        if bad:
            raise serializers.ValidationError(
                f"{', '.join(map(repr, bad))} is not an entity type: types are capitalised words such as Artist, Tag, Course."
            )
        return types


class NeighbourQuerySerializer(serializers.Serializer):
    direction = serializers.ChoiceField(
        choices=DIRECTIONS,
        default="both",
        help_text="out: edges from this entity; in: edges to it; both (default).",
        error_messages={"invalid_choice": 'direction must be "out", "in" or "both", got "{input}".'},
    )
    relation_type = serializers.CharField(
        required=False,
        help_text="Only these relation types (comma-separated), e.g. HAS_TAG,ORIGIN.",
    )

    def validate_relation_type(self, value: str) -> list[str]:
        types = [t.strip() for t in value.split(",") if t.strip()]
        bad = [t for t in types if not RELATION_TYPE_PATTERN.match(t)]
        if bad:
            raise serializers.ValidationError(
                f"{', '.join(map(repr, bad))} is not a relation type: relation types are upper snake case such as HAS_TAG."
            )
        return types


def entity_data(record: Any) -> dict[str, Any]:
    """An EntityRecord as plain data (faster than a serializer for long lists)."""
    return {
        "id": record.id,
        "type": record.type,
        "name": record.name,
        "aliases": list(record.aliases),
        "properties": dict(record.properties),
    }


def neighbour_data(neighbour: Any) -> dict[str, Any]:
    r = neighbour.relation
    return {
        "direction": neighbour.direction,
        "relation": {"type": r.type, "head": r.head, "tail": r.tail, "source": r.source, "confidence": r.confidence},
        "entity": entity_data(neighbour.entity),
    }
