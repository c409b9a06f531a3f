"""The curator admin of the knowledge graph: entities, their relations, merges, deletions and the audit trail.

Why custom views instead of ModelAdmin changelists over ``kg.Entity``/``kg.Relation``: those tables are the
graph only for the embedded ``sql`` backend. Every view here reads and writes through
:func:`curation.services.curator_store` (the configured :class:`~kg.stores.base.KnowledgeGraphStore`), so the
admin shows and edits the same graph on ``sql`` and on Neo4j. The models are registered only to give the
views their place under ``/admin/kg/`` (URL names, breadcrumbs, the index).

Who may do what: any active staff user may look (read-only); superusers and staff in the curators group
may change things (:func:`curation.services.user_can_curate`). Learners are not staff and never get past the
admin login. The views stay thin: each action is one call into :mod:`curation.services`, and every
:class:`~core.errors.LeitmotifError` becomes a form error or a message, never a server error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import replace
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.errors import CurationError, LeitmotifError
from curation import services as curation
from curation.review import facts_by_triple, sentence_html
from ingestion.models import ExtractedFact
from kg.models import CurationEvent, Entity, Relation
from kg.stores.base import MAX_ID_LENGTH, MAX_NAME_LENGTH, EntityRecord, KnowledgeGraphStore, RelationRecord

#: Entities per page of the list; neighbours shown per direction on an entity page.
ENTITIES_PER_PAGE = 50
NEIGHBOURS_SHOWN = 200
SEARCH_RESULTS_SHOWN = 20
#: Pages are read by streaming entities in id order (the store has no offset), so absurd page numbers are capped.
MAX_PAGE = 10_000


# --- permissions -----------------------------------------------------------------------------------------


class StaffViewCuratorEditMixin:
    """Staff may look; only curators (and superusers) may add, change or delete."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return curation.user_can_curate(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return curation.user_can_curate(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return curation.user_can_curate(request.user)


class ReadOnlyAdminMixin:
    """Records nobody edits by hand (audit trail, ingestion provenance): staff may look, nobody may change."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def entity_url(entity_id: str) -> str:
    return reverse("admin:kg_entity_change", args=[quote(entity_id)])


def relation_query(key: tuple[str, str, str], *, entity: str | None = None) -> str:
    params = {"head": key[0], "relation": key[1], "tail": key[2]}
    if entity:
        params["entity"] = entity
    return urlencode(params)


# --- forms ---------------------------------------------------------------------------------------------


class JSONPropertiesField(forms.CharField):
    """A textarea holding a JSON object; a parse error is a form error that says where and what to write."""

    widget = forms.Textarea(attrs={"rows": 8, "cols": 80, "class": "vLargeTextField", "spellcheck": "false"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", 'A JSON object, e.g. {"country": "UK", "founded": 1962}. Leave empty for none.')
        super().__init__(strip=False, **kwargs)

    def clean(self, value: Any) -> dict[str, Any]:
        text = super().clean(value)
        try:
            return curation.parse_properties_json(text)
        except CurationError as exc:
            raise forms.ValidationError(exc.message) from exc


class EntityForm(forms.Form):
    id = forms.CharField(
        required=False,
        max_length=MAX_ID_LENGTH,
        label="Id",
        help_text=f"Stable id such as 'curated:miles-davis'. Leave empty to make one from the name ({curation.CURATED_ID_PREFIX}:<name>).",
    )
    type = forms.CharField(
        max_length=64,
        widget=forms.TextInput(attrs={"list": "lm-entity-types"}),
        help_text="A capitalised word: Artist, Band, Place, Concept...",
    )
    name = forms.CharField(max_length=MAX_NAME_LENGTH)
    aliases = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 60}), help_text="One alias per line."
    )
    properties = JSONPropertiesField()

    def __init__(self, *args: Any, existing: EntityRecord | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.existing = existing
        if existing is not None:
            self.fields["id"].disabled = True
            self.fields["id"].help_text = "Ids are stable; merge into another entity instead of renaming one."

    @classmethod
    def initial_for(cls, entity: EntityRecord) -> dict[str, Any]:
        return {
            "id": entity.id,
            "type": entity.type,
            "name": entity.name,
            "aliases": "\n".join(entity.aliases),
            "properties": pretty_json(dict(entity.properties)),
        }

    def clean_type(self) -> str:
        try:
            return curation.check_entity_type(self.cleaned_data["type"])
        except CurationError as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean_aliases(self) -> list[str]:
        return curation.parse_aliases(self.cleaned_data.get("aliases"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        if self.errors:
            return cleaned
        entity_id = self.existing.id if self.existing is not None else (cleaned.get("id") or "").strip()
        record = EntityRecord(
            id=entity_id or "placeholder:new",
            type=cleaned["type"],
            name=cleaned["name"].strip(),
            aliases=tuple(cleaned["aliases"]),
            properties=cleaned["properties"],
        )
        try:
            record.validate()
        except LeitmotifError as exc:
            raise forms.ValidationError(exc.message) from exc
        self.record = replace(record, id=entity_id)
        return cleaned


class RelationTypeField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("help_text", "Upper snake case, e.g. MEMBER_OF; pick a suggestion or type a new one.")
        super().__init__(widget=forms.TextInput(attrs={"list": "lm-relation-types"}), **kwargs)

    def clean(self, value: Any) -> str:
        try:
            return curation.check_relation_type(super().clean(value))
        except CurationError as exc:
            raise forms.ValidationError(exc.message) from exc


class RelationAddForm(forms.Form):
    type = RelationTypeField(label="Relation type")
    direction = forms.ChoiceField(
        choices=[("out", "this entity → other entity"), ("in", "other entity → this entity")],
        initial="out",
        widget=forms.RadioSelect,
    )
    other = forms.CharField(
        label="Other entity id", max_length=MAX_ID_LENGTH, help_text="Find it with the search below."
    )
    confidence = forms.FloatField(min_value=0.0, max_value=1.0, initial=1.0)
    properties = JSONPropertiesField()


class RelationEditForm(forms.Form):
    type = RelationTypeField(
        label="Relation type", help_text="Changing the type replaces the relation with one of the new type."
    )
    confidence = forms.FloatField(min_value=0.0, max_value=1.0)
    properties = JSONPropertiesField()


# --- shared view plumbing -----------------------------------------------------------------------------


class StoreBackedAdmin(StaffViewCuratorEditMixin, admin.ModelAdmin):
    """A ModelAdmin whose pages are custom views over the graph store rather than the model's table."""

    def wrap(self, view: Callable) -> Callable:
        return self.admin_site.admin_view(view)

    def render(self, request: HttpRequest, template: str, title: str, **context: Any) -> TemplateResponse:
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "can_curate": curation.user_can_curate(request.user),
                **context,
            },
        )

    @staticmethod
    def require_curator(request: HttpRequest) -> None:
        if not curation.user_can_curate(request.user):
            raise PermissionDenied("Only curators may change the knowledge graph.")

    @staticmethod
    def search_results(
        store: KnowledgeGraphStore, request: HttpRequest, *, exclude: AbstractSet[str] = frozenset(), param: str = "q"
    ) -> list[EntityRecord]:
        """Entities matching the picker's query (name or alias prefix), for "pick by search" panels."""
        query = request.GET.get(param, "").strip()
        if not query:
            return []
        found = store.search_entities(query, limit=SEARCH_RESULTS_SHOWN + len(exclude))
        return [e for e in found if e.id not in exclude][:SEARCH_RESULTS_SHOWN]

    def store_error(self, request: HttpRequest, exc: LeitmotifError, redirect_to: str) -> HttpResponseRedirect:
        messages.error(request, exc.message)
        return HttpResponseRedirect(redirect_to)


# --- entities ------------------------------------------------------------------------------------------


@admin.register(Entity)
class EntityAdmin(StoreBackedAdmin):
    """Entity list, page, create, edit, merge and delete, all through the configured graph store."""

    def get_urls(self) -> list:
        return [
            path("", self.wrap(self.list_view), name="kg_entity_changelist"),
            path("add/", self.wrap(self.add_view), name="kg_entity_add"),
            path("<path:object_id>/change/", self.wrap(self.detail_view), name="kg_entity_change"),
            path("<path:object_id>/edit/", self.wrap(self.edit_view), name="kg_entity_edit"),
            path("<path:object_id>/merge/", self.wrap(self.merge_view), name="kg_entity_merge"),
            path("<path:object_id>/delete/", self.wrap(self.delete_view), name="kg_entity_delete"),
        ]

    def list_url(self) -> str:
        return reverse("admin:kg_entity_changelist")

    # list ----------------------------------------------------------------------------------------------

    def list_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        query = request.GET.get("q", "").strip()
        entity_type = request.GET.get("type", "").strip()
        try:
            page = min(max(int(request.GET.get("page", "1")), 1), MAX_PAGE)
        except ValueError:
            page = 1
        offset = (page - 1) * ENTITIES_PER_PAGE
        context: dict[str, Any] = {
            "query": query,
            "entity_type": entity_type,
            "page": page,
            "entities": [],
            "types": [],
        }
        try:
            with curation.curator_store() as store:
                stats = store.stats()
                context["types"] = sorted(stats.entities_by_type.items())
                type_filter = [entity_type] if entity_type else None
                if query:
                    found = store.search_entities(query, types=type_filter, limit=offset + ENTITIES_PER_PAGE + 1)
                    entities = found[offset : offset + ENTITIES_PER_PAGE]
                    has_next = len(found) > offset + ENTITIES_PER_PAGE
                    total = None
                else:
                    total = stats.entities_by_type.get(entity_type, 0) if entity_type else stats.entities
                    batch = min(max(offset + ENTITIES_PER_PAGE, 1), 10_000)
                    entities = list(
                        islice(
                            store.iter_entities(types=type_filter, batch_size=batch), offset, offset + ENTITIES_PER_PAGE
                        )
                    )
                    has_next = offset + ENTITIES_PER_PAGE < total
        except LeitmotifError as exc:
            messages.error(request, exc.message)
            return self.render(request, "admin/kg/entity/list.html", "Entities", **context)

        def page_url(number: int) -> str:
            params = {k: v for k, v in (("q", query), ("type", entity_type)) if v}
            params["page"] = str(number)
            return f"?{urlencode(params)}"

        context.update(
            entities=[{"record": e, "url": entity_url(e.id)} for e in entities],
            total=total,
            num_pages=(-(-total // ENTITIES_PER_PAGE) if total is not None else None),
            previous_url=page_url(page - 1) if page > 1 else None,
            next_url=page_url(page + 1) if has_next else None,
            add_url=reverse("admin:kg_entity_add"),
            backend=_backend_name(),
        )
        return self.render(request, "admin/kg/entity/list.html", "Entities", **context)

    # detail --------------------------------------------------------------------------------------------

    def detail_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        entity_id = unquote(object_id)
        relation_type = request.GET.get("relation_type", "").strip()
        type_filter = [relation_type] if relation_type else None
        try:
            with curation.curator_store() as store:
                entity = store.get_entity(entity_id)
                sides = {}
                if entity is not None:
                    for direction in ("out", "in"):
                        found = store.neighbours(
                            entity_id, direction=direction, relation_types=type_filter, limit=NEIGHBOURS_SHOWN + 1
                        )
                        sides[direction] = found
        except LeitmotifError as exc:
            return self.store_error(request, exc, self.list_url())

        history = list(curation.entity_history(entity_id)[:100])
        if entity is None:
            messages.warning(
                request,
                f"Entity {entity_id!r} is not in the graph (it may have been merged or deleted); its history is below.",
            )
            return self.render(
                request,
                "admin/kg/entity/detail.html",
                entity_id,
                entity=None,
                entity_id=entity_id,
                history=_history_rows(history),
                list_url=self.list_url(),
            )

        shown = {direction: neighbours[:NEIGHBOURS_SHOWN] for direction, neighbours in sides.items()}
        provenance = facts_by_triple(entity_id, [n.relation.key for ns in shown.values() for n in ns])
        rows = {
            direction: [
                {
                    "neighbour": n,
                    "entity_url": entity_url(n.entity.id),
                    "properties": pretty_json(dict(n.relation.properties)) if n.relation.properties else "",
                    "edit_url": f"{reverse('admin:kg_relation_edit')}?{relation_query(n.relation.key, entity=entity_id)}",
                    "remove_url": f"{reverse('admin:kg_relation_remove')}?{relation_query(n.relation.key, entity=entity_id)}",
                    "facts": [_fact_row(f) for f in provenance.get(n.relation.key, [])],
                }
                for n in neighbours
            ]
            for direction, neighbours in shown.items()
        }
        quoted = quote(entity_id)
        return self.render(
            request,
            "admin/kg/entity/detail.html",
            entity.name or entity.id,
            entity=entity,
            entity_id=entity_id,
            properties=pretty_json(dict(entity.properties)),
            outgoing=rows["out"],
            incoming=rows["in"],
            more_outgoing=len(sides["out"]) > NEIGHBOURS_SHOWN,
            more_incoming=len(sides["in"]) > NEIGHBOURS_SHOWN,
            neighbours_shown=NEIGHBOURS_SHOWN,
            relation_type=relation_type,
            history=_history_rows(history),
            list_url=self.list_url(),
            edit_url=reverse("admin:kg_entity_edit", args=[quoted]),
            merge_url=reverse("admin:kg_entity_merge", args=[quoted]),
            delete_url=reverse("admin:kg_entity_delete", args=[quoted]),
            add_relation_url=f"{reverse('admin:kg_relation_add')}?{urlencode({'entity': entity_id})}",
            events_url=f"{reverse('admin:kg_curationevent_changelist')}?{urlencode({'q': entity_id})}",
        )

    # create / edit -------------------------------------------------------------------------------------

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        self.require_curator(request)
        form = EntityForm(request.POST or None, initial={"properties": "{}"})
        try:
            with curation.curator_store() as store:
                types = sorted(store.stats().entities_by_type)
                if request.method == "POST" and form.is_valid():
                    record = form.record
                    if not record.id:
                        record = replace(record, id=curation.new_entity_id(store, name=record.name))
                    try:
                        created = curation.create_entity(store, record=record, actor=request.user)
                    except LeitmotifError as exc:
                        form.add_error("id" if isinstance(exc, CurationError) else None, exc.message)
                    else:
                        messages.success(request, f"Created entity {created.name!r} ({created.id}).")
                        return HttpResponseRedirect(entity_url(created.id))
        except LeitmotifError as exc:
            return self.store_error(request, exc, self.list_url())
        return self.render(
            request, "admin/kg/entity/form.html", "Add entity", form=form, entity_types=types, list_url=self.list_url()
        )

    def edit_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self.require_curator(request)
        entity_id = unquote(object_id)
        try:
            with curation.curator_store() as store:
                entity = store.get_entity(entity_id)
                if entity is None:
                    messages.error(
                        request, f"Entity {entity_id!r} does not exist (it may have been merged or deleted)."
                    )
                    return HttpResponseRedirect(self.list_url())
                types = sorted(store.stats().entities_by_type)
                form = EntityForm(request.POST or None, existing=entity, initial=EntityForm.initial_for(entity))
                if request.method == "POST" and form.is_valid():
                    try:
                        curation.update_entity(store, record=form.record, actor=request.user)
                    except LeitmotifError as exc:
                        form.add_error(None, exc.message)
                    else:
                        messages.success(request, f"Saved entity {entity_id}.")
                        return HttpResponseRedirect(entity_url(entity_id))
        except LeitmotifError as exc:
            return self.store_error(request, exc, self.list_url())
        return self.render(
            request,
            "admin/kg/entity/form.html",
            f"Edit {entity.name or entity.id}",
            form=form,
            entity=entity,
            entity_types=types,
            list_url=self.list_url(),
            entity_url=entity_url(entity_id),
        )

    # merge ---------------------------------------------------------------------------------------------

    def merge_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Three steps on one page: search duplicates, preview what moves, confirm (POST)."""
        self.require_curator(request)
        keep_id = unquote(object_id)
        source = request.POST if request.method == "POST" else request.GET
        merge_ids = [i for i in source.getlist("merge") if i.strip()]
        context: dict[str, Any] = {
            "list_url": self.list_url(),
            "keep_url": entity_url(keep_id),
            "merge_ids": merge_ids,
            "query": request.GET.get("q", ""),
        }
        try:
            with curation.curator_store() as store:
                keep = store.get_entity(keep_id)
                if keep is None:
                    messages.error(request, f"Entity {keep_id!r} does not exist (it may have been merged or deleted).")
                    return HttpResponseRedirect(self.list_url())
                context["keep"] = keep
                if request.method == "POST":
                    try:
                        report = curation.merge_entities(
                            store, keep_id=keep_id, merge_ids=merge_ids, actor=request.user
                        )
                    except LeitmotifError as exc:
                        messages.error(request, exc.message)
                    else:
                        messages.success(
                            request,
                            f"Merged {', '.join(report.merged_ids)} into {keep_id}; {report.facts_repointed} extracted "
                            f"fact(s) and {report.mentions_repointed} mention(s) now point at {keep_id}.",
                        )
                        return HttpResponseRedirect(entity_url(keep_id))
                candidates = self.search_results(store, request, exclude={keep_id})
                shown = {e.id for e in candidates}
                context["candidates"] = [
                    {"record": e, "url": entity_url(e.id), "checked": e.id in merge_ids} for e in candidates
                ]
                context["carried_ids"] = [i for i in merge_ids if i not in shown]
                if merge_ids:
                    try:
                        context["preview"] = curation.merge_preview(store, keep_id=keep_id, merge_ids=merge_ids)
                    except LeitmotifError as exc:
                        messages.error(request, exc.message)
        except LeitmotifError as exc:
            return self.store_error(request, exc, entity_url(keep_id))
        return self.render(
            request, "admin/kg/entity/merge.html", f"Merge duplicates into {keep.name or keep.id}", **context
        )

    # delete --------------------------------------------------------------------------------------------

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        self.require_curator(request)
        entity_id = unquote(object_id)
        try:
            with curation.curator_store() as store:
                if request.method == "POST":
                    result = curation.delete_entity(store, entity_id=entity_id, actor=request.user)
                    messages.success(request, f"Deleted entity {entity_id} and {result.relations_removed} relation(s).")
                    return HttpResponseRedirect(self.list_url())
                preview = curation.deletion_preview(store, entity_id=entity_id)
        except LeitmotifError as exc:
            return self.store_error(request, exc, self.list_url())
        relations = [{"neighbour": n, "entity_url": entity_url(n.entity.id)} for n in preview.relations]
        return self.render(
            request,
            "admin/kg/entity/delete.html",
            f"Delete {preview.entity.name or entity_id}",
            preview=preview,
            relations=relations,
            entity_url=entity_url(entity_id),
            list_url=self.list_url(),
        )


# --- relations -----------------------------------------------------------------------------------------


@admin.register(Relation)
class RelationAdmin(StoreBackedAdmin):
    """Relations are edited from their entity's page; the list page summarises them by type."""

    def get_urls(self) -> list:
        return [
            path("", self.wrap(self.overview_view), name="kg_relation_changelist"),
            path("add/", self.wrap(self.add_view), name="kg_relation_add"),
            path("edit/", self.wrap(self.edit_view), name="kg_relation_edit"),
            path("remove/", self.wrap(self.remove_view), name="kg_relation_remove"),
        ]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # no "Add" button on the index: a relation is added from one of its entities

    @staticmethod
    def _key(request: HttpRequest) -> tuple[str, str, str]:
        """The relation acted on: ``head``, ``relation`` (its type) and ``tail`` parameters (``type`` is the edit form's new type)."""
        source = request.POST if request.method == "POST" else request.GET
        return (source.get("head", ""), source.get("relation", ""), source.get("tail", ""))

    @staticmethod
    def _back(request: HttpRequest, key: tuple[str, str, str] | None = None) -> str:
        source = request.POST if request.method == "POST" else request.GET
        entity = source.get("entity") or (key[0] if key and key[0] else "")
        return entity_url(entity) if entity else reverse("admin:kg_entity_changelist")

    def overview_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        try:
            with curation.curator_store() as store:
                stats = store.stats()
        except LeitmotifError as exc:
            messages.error(request, exc.message)
            stats = None
        recent = CurationEvent.objects.filter(action__startswith="relation.").select_related("actor")[:50]
        return self.render(
            request,
            "admin/kg/relation/overview.html",
            "Relations",
            stats=stats,
            relation_types=sorted(stats.relations_by_type.items()) if stats else [],
            history=_history_rows(list(recent)),
            entity_list_url=reverse("admin:kg_entity_changelist"),
            backend=_backend_name(),
        )

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        self.require_curator(request)
        source = request.POST if request.method == "POST" else request.GET
        entity_id = source.get("entity", "")
        initial = {
            "other": request.GET.get("other", ""),
            "confidence": 1.0,
            "direction": request.GET.get("direction", "out"),
            "type": request.GET.get("type", ""),
            "properties": "{}",
        }
        form = RelationAddForm(request.POST or None, initial=initial)
        try:
            with curation.curator_store() as store:
                entity = store.get_entity(entity_id) if entity_id else None
                if entity is None:
                    messages.error(
                        request,
                        f"Entity {entity_id!r} does not exist; open an entity and add the relation from its page.",
                    )
                    return HttpResponseRedirect(reverse("admin:kg_entity_changelist"))
                if request.method == "POST" and form.is_valid():
                    data = form.cleaned_data
                    other = data["other"].strip()
                    head, tail = (entity_id, other) if data["direction"] == "out" else (other, entity_id)
                    record = RelationRecord(
                        head=head,
                        type=data["type"],
                        tail=tail,
                        source=curation.CURATOR_RELATION_SOURCE,
                        confidence=data["confidence"],
                        properties=data["properties"],
                    )
                    try:
                        curation.add_relation(store, record=record, actor=request.user)
                    except LeitmotifError as exc:
                        form.add_error(None, exc.message)
                    else:
                        messages.success(request, f"Added {head} -[{record.type}]-> {tail}.")
                        return HttpResponseRedirect(entity_url(entity_id))
                candidates = self.search_results(store, request, exclude={entity_id})
                suggestions = curation.relation_type_suggestions(store)
        except LeitmotifError as exc:
            return self.store_error(request, exc, self._back(request))
        keep = {"entity": entity_id}
        return self.render(
            request,
            "admin/kg/relation/add.html",
            f"Add a relation to {entity.name or entity.id}",
            form=form,
            entity=entity,
            entity_url=entity_url(entity_id),
            relation_types=suggestions,
            candidates=picker_rows(candidates, keep, [("Use", "other")], query=request.GET.get("q", "")),
            keep_params=list(keep.items()),
            query=request.GET.get("q", ""),
        )

    def edit_view(self, request: HttpRequest) -> HttpResponse:
        self.require_curator(request)
        key = self._key(request)
        back = self._back(request, key)
        try:
            with curation.curator_store() as store:
                relation = store.get_relation(*key) if all(key) else None
                if relation is None:
                    messages.error(
                        request,
                        f"The relation {key[0]} -[{key[1]}]-> {key[2]} does not exist (it may have been removed).",
                    )
                    return HttpResponseRedirect(back)
                initial = {
                    "type": relation.type,
                    "confidence": relation.confidence,
                    "properties": pretty_json(dict(relation.properties)),
                }
                form = RelationEditForm(request.POST or None, initial=initial)
                if request.method == "POST" and form.is_valid():
                    data = form.cleaned_data
                    try:
                        updated = curation.update_relation(
                            store,
                            key=key,
                            new_type=data["type"],
                            confidence=data["confidence"],
                            properties=data["properties"],
                            actor=request.user,
                        )
                    except LeitmotifError as exc:
                        form.add_error(None, exc.message)
                    else:
                        messages.success(request, f"Saved {updated.head} -[{updated.type}]-> {updated.tail}.")
                        return HttpResponseRedirect(back)
                ends = store.get_entities([key[0], key[2]])
                suggestions = curation.relation_type_suggestions(store)
        except LeitmotifError as exc:
            return self.store_error(request, exc, back)
        return self.render(
            request,
            "admin/kg/relation/edit.html",
            f"Edit {key[0]} -[{key[1]}]-> {key[2]}",
            form=form,
            relation=relation,
            head=ends.get(key[0]),
            tail=ends.get(key[2]),
            back_url=back,
            head_url=entity_url(key[0]),
            tail_url=entity_url(key[2]),
            relation_types=suggestions,
            hidden={
                "head": key[0],
                "relation": key[1],
                "tail": key[2],
                "entity": request.GET.get("entity") or request.POST.get("entity", ""),
            },
        )

    def remove_view(self, request: HttpRequest) -> HttpResponse:
        self.require_curator(request)
        key = self._key(request)
        back = self._back(request, key)
        try:
            with curation.curator_store() as store:
                if request.method == "POST":
                    curation.remove_relation(store, key=key, actor=request.user)
                    messages.success(request, f"Removed {key[0]} -[{key[1]}]-> {key[2]}.")
                    return HttpResponseRedirect(back)
                relation = store.get_relation(*key) if all(key) else None
                if relation is None:
                    messages.error(
                        request,
                        f"The relation {key[0]} -[{key[1]}]-> {key[2]} does not exist (it may have been removed).",
                    )
                    return HttpResponseRedirect(back)
                ends = store.get_entities([key[0], key[2]])
        except LeitmotifError as exc:
            return self.store_error(request, exc, back)
        supporting = ExtractedFact.objects.filter(
            head_entity_id=key[0], relation_type=key[1], tail_entity_id=key[2]
        ).count()
        return self.render(
            request,
            "admin/kg/relation/remove.html",
            f"Remove {key[0]} -[{key[1]}]-> {key[2]}",
            relation=relation,
            head=ends.get(key[0]),
            tail=ends.get(key[2]),
            back_url=back,
            supporting_facts=supporting,
            hidden={"head": key[0], "relation": key[1], "tail": key[2], "entity": request.GET.get("entity", "")},
        )


# --- audit trail ---------------------------------------------------------------------------------------


@admin.register(CurationEvent)
class CurationEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "actor", "action", "target_link", "source"]
    list_filter = ["action", "source", ("actor", admin.RelatedOnlyFieldListFilter), "at"]
    search_fields = ["target", "actor__username"]
    date_hierarchy = "at"
    list_select_related = ["actor"]
    fields = readonly_fields = ("at", "actor", "action", "target_link", "source", "before_json", "after_json")
    show_full_result_count = False

    @admin.display(description="target", ordering="target")
    def target_link(self, event: CurationEvent) -> str:
        entity_id = event.target.split("|", 1)[0]
        return format_html('<a href="{}">{}</a>', entity_url(entity_id), event.target) if entity_id else event.target

    @admin.display(description="before")
    def before_json(self, event: CurationEvent) -> str:
        return format_html("<pre>{}</pre>", pretty_json(event.before)) if event.before is not None else "—"

    @admin.display(description="after")
    def after_json(self, event: CurationEvent) -> str:
        return format_html("<pre>{}</pre>", pretty_json(event.after)) if event.after is not None else "—"


# --- helpers for the templates -------------------------------------------------------------------------


def picker_rows(
    candidates: list[EntityRecord], keep: dict[str, str], picks: list[tuple[str, str]], *, query: str
) -> list[dict[str, Any]]:
    """Search results of a "pick by search" panel: each pick link reloads the page with the id in a parameter."""
    return [
        {
            "record": c,
            "picks": [(label, f"?{urlencode({**keep, 'q': query, param: c.id})}") for label, param in picks],
        }
        for c in candidates
    ]


def _backend_name() -> str:
    from django.conf import settings

    return str(settings.KG_BACKEND)


def _history_rows(events: list[CurationEvent]) -> list[dict[str, Any]]:
    return [
        {
            "event": e,
            "before": pretty_json(e.before) if e.before is not None else "",
            "after": pretty_json(e.after) if e.after is not None else "",
            "url": reverse("admin:kg_curationevent_change", args=[e.pk]),
        }
        for e in events
    ]


def _fact_row(fact: ExtractedFact) -> dict[str, Any]:
    return {
        "fact": fact,
        "sentence": sentence_html(fact),
        "models": ", ".join(f"{k}={v}" for k, v in sorted(dict(fact.model_versions).items())),
        "url": reverse("admin:ingestion_extractedfact_change", args=[fact.pk]),
        "document_url": reverse("admin:ingestion_sourcedocument_change", args=[fact.document_id]),
    }
