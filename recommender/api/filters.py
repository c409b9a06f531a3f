"""Query-string filters for the catalog lists (django-filter).

A value that cannot match anything because it names something that does not exist (an unknown tag,
instrument or level) is a 400 with the valid choices, not a silently empty list: a typo in ``?level=``
should not look like "no courses".
"""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from rest_framework.exceptions import ValidationError

from catalog.models import Artist, Course, Tag
from kg.schema import INSTRUMENT_PREFIX, INSTRUMENT_TYPE, TEACHES_INSTRUMENT, instrument_entity_id
from kg.stores import get_store
from recommender.api.serializers import LEVELS, slugify_instrument


class ArtistFilter(filters.FilterSet):
    q = filters.CharFilter(method="filter_q", help_text="Case-insensitive part of the artist's name.")
    tag = filters.CharFilter(
        method="filter_tag", help_text="Only artists Last.FM listeners tagged with this tag name, e.g. blues."
    )

    class Meta:
        model = Artist
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet[Artist], name: str, value: str) -> QuerySet[Artist]:
        value = value.strip()
        return queryset.filter(name__icontains=value) if value else queryset

    def filter_tag(self, queryset: QuerySet[Artist], name: str, value: str) -> QuerySet[Artist]:
        value = value.strip()
        if not value:
            return queryset
        tag_ids = list(Tag.objects.filter(name__iexact=value).values_list("id", flat=True))
        if not tag_ids:
            raise ValidationError(
                {"tag": [f"No tag named {value!r}; find tag names with /api/v1/entities/?type=Tag&q={value[:3]}."]}
            )
        return queryset.filter(tag_assignments__tag_id__in=tag_ids).distinct()


class CourseFilter(filters.FilterSet):
    q = filters.CharFilter(method="filter_q", help_text="Case-insensitive part of the course title.")
    level = filters.ChoiceFilter(
        choices=[(level, level) for level in LEVELS],
        help_text="beginner, intermediate, expert or all.",
        error_messages={"invalid_choice": f"level must be one of {', '.join(LEVELS)}; got %(value)r."},
    )
    instrument = filters.CharFilter(
        method="filter_instrument",
        help_text="Only courses that teach this instrument (knowledge-graph link TEACHES_INSTRUMENT), e.g. guitar.",
    )

    class Meta:
        model = Course
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet[Course], name: str, value: str) -> QuerySet[Course]:
        value = value.strip()
        return queryset.filter(title__icontains=value) if value else queryset

    def filter_instrument(self, queryset: QuerySet[Course], name: str, value: str) -> QuerySet[Course]:
        slug = slugify_instrument(value)
        if not slug:
            return queryset
        entity_id = instrument_entity_id(slug)
        with get_store() as store:
            if store.get_entity(entity_id) is None:
                known = sorted(
                    e.id.removeprefix(INSTRUMENT_PREFIX)
                    for e in store.iter_entities(types=[INSTRUMENT_TYPE])
                    if e.id.startswith(INSTRUMENT_PREFIX)
                )
                hint = (
                    f"known instruments: {', '.join(known)}"
                    if known
                    else "no courses are linked to instruments yet (run python manage.py load_courses)"
                )
                raise ValidationError({"instrument": [f"Unknown instrument {value!r}; {hint}."]})
            course_ids = [
                n.entity.id for n in store.neighbours(entity_id, direction="in", relation_types=[TEACHES_INSTRUMENT])
            ]
        return queryset.filter(entity_id__in=course_ids)
