"""A thin admin over the embedded graph tables: look entities up, see their edges, fix a label.

Why every write goes through :class:`~kg.stores.sql.SqlGraphStore`: the store keeps the derived
columns (``name_lower``, the alias rows) in step, moves ``updated_at`` only on real changes and
deletes an entity's relations with it; saving the model directly would skip all of that. The forms
run the store's own checks, so a bad value is reported on the form instead of as a server error.
The full curator admin (merging, provenance review) is a later piece of work.
"""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction

from learning_platform.errors import LeitmotifError

from .models import Entity, Relation
from .stores.base import EntityRecord, RelationRecord
from .stores.registry import resolve_backend_name
from .stores.sql import SqlGraphStore, storable_entity, storable_relation


def _graph_store() -> SqlGraphStore:
    return SqlGraphStore(using="default")


def _warn_unless_sql_backend(request) -> None:
    """These tables are the graph only when ``KG_BACKEND`` is ``sql``; say so instead of misleading."""
    try:
        backend = resolve_backend_name(settings.KG_BACKEND)
    except LeitmotifError:
        backend = settings.KG_BACKEND
    if backend != SqlGraphStore.registry_name:
        messages.warning(
            request,
            f"KG_BACKEND is {settings.KG_BACKEND!r}: the site reads the graph from that backend, "
            "so these embedded sql tables are not what it shows.",
        )


class EntityForm(forms.ModelForm):
    class Meta:
        model = Entity
        fields = ["id", "type", "name", "aliases", "properties"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        aliases = cleaned.get("aliases") or []
        properties = cleaned.get("properties") or {}
        if not isinstance(properties, dict):
            raise forms.ValidationError('Properties must be a JSON object such as {"country": "UK"}.')
        record = EntityRecord(
            id=cleaned.get("id") or self.instance.pk,
            type=cleaned.get("type") or "",
            name=cleaned.get("name") or "",
            aliases=aliases,
            properties=properties,
        )
        try:
            self.record = storable_entity(record)
        except LeitmotifError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned


class RelationForm(forms.ModelForm):
    class Meta:
        model = Relation
        fields = ["source", "confidence", "properties"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        properties = cleaned.get("properties") or {}
        if not isinstance(properties, dict):
            raise forms.ValidationError('Properties must be a JSON object such as {"count": 3}.')
        record = RelationRecord(
            head=self.instance.head_id,
            type=self.instance.type,
            tail=self.instance.tail_id,
            source=cleaned.get("source") or "",
            confidence=cleaned.get("confidence"),
            properties=properties,
        )
        try:
            self.record = storable_relation(record)
        except LeitmotifError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned


class OutgoingRelationInline(admin.TabularInline):
    """The entity's outgoing edges, read-only (edit one through its own page)."""

    model = Relation
    fk_name = "head"
    fields = ["type", "tail", "source", "confidence", "updated_at"]
    readonly_fields = fields
    ordering = ["type", "tail_id"]
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name = "outgoing relation"
    verbose_name_plural = "outgoing relations"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tail")


@admin.register(Entity)
class EntityAdmin(admin.ModelAdmin):
    form = EntityForm
    list_display = ["id", "name", "type", "updated_at"]
    list_filter = ["type"]
    search_fields = ["id", "name"]
    ordering = ["id"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [OutgoingRelationInline]
    # Counting a large graph on every page load is slow and the exact total is rarely needed.
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # Changing an id would create a second entity; ids are stable by design.
        return ["id", *self.readonly_fields] if obj is not None else self.readonly_fields

    def changelist_view(self, request, extra_context=None):
        _warn_unless_sql_backend(request)
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        _graph_store().upsert_entities([form.record])

    def delete_model(self, request, obj) -> None:
        _graph_store().delete_entity(obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        store = _graph_store()
        with transaction.atomic():
            for entity_id in queryset.values_list("pk", flat=True):
                store.delete_entity(entity_id)


@admin.register(Relation)
class RelationAdmin(admin.ModelAdmin):
    """Relations are created by loaders and ingestion; here their provenance can be corrected or removed."""

    form = RelationForm
    list_display = ["head", "type", "tail", "source", "confidence", "updated_at"]
    list_filter = ["type", "source"]
    list_select_related = ["head", "tail"]
    search_fields = ["=head__id", "=tail__id", "head__name", "tail__name"]
    ordering = ["head_id", "type", "tail_id"]
    readonly_fields = ["head", "type", "tail", "created_at", "updated_at"]
    fields = ["head", "type", "tail", "source", "confidence", "properties", "created_at", "updated_at"]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        _warn_unless_sql_backend(request)
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        _graph_store().upsert_relations([form.record])
