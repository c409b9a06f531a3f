"""Admin for text ingestion: the review queue of extracted facts, and read-only documents and jobs.

Why the fact rows themselves are never edited through a ModelForm: a decision has consequences in the graph
(and in the training data), so approve, reject and correct are actions that call :mod:`curation.review`,
which writes the graph through the one shared path and records the audit trail. Any staff user may read
the queue; only curators may decide (:func:`curation.services.user_can_curate`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.errors import LeitmotifError
from curation import review
from curation import services as curation
from curation.admin.graph import ReadOnlyAdminMixin, RelationTypeField, entity_url, picker_rows, pretty_json
from ingestion.models import ExtractedFact, ExtractedMention, IngestionJob, SourceDocument

if TYPE_CHECKING:
    from typing import TypedDict

    from django_stubs_ext import WithAnnotations

    # The counts that each admin's get_queryset() annotates.
    class _DocumentCounts(TypedDict):
        mention_total: int
        fact_total: int

    class _JobCounts(TypedDict):
        document_total: int


#: Bulk decisions report at most this many skipped facts by name (the rest are counted).
SKIPPED_REPORTED = 5


# --- list filters -------------------------------------------------------------------------------------------


class ReviewStatusFilter(admin.SimpleListFilter):
    """Status, defaulting to ``pending``: opening the list opens the review queue."""

    title = "status"
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (value, f"{label} (review queue)" if value == ExtractedFact.Status.PENDING else label)
            for value, label in ExtractedFact.Status.choices
        ] + [(self.ALL, "All")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or ExtractedFact.Status.PENDING
        if value == self.ALL:
            return queryset
        if value not in ExtractedFact.Status.values:
            return queryset.none()
        return queryset.filter(status=value)

    def choices(self, changelist: Any):
        current = self.value() or ExtractedFact.Status.PENDING
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


class ConfidenceFilter(admin.SimpleListFilter):
    title = "confidence"
    parameter_name = "confidence"
    RANGES = {"lt50": (0.0, 0.5), "50-70": (0.5, 0.7), "70-90": (0.7, 0.9), "ge90": (0.9, 1.01)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("lt50", "below 0.50"), ("50-70", "0.50 – 0.70"), ("70-90", "0.70 – 0.90"), ("ge90", "0.90 and above")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        bounds = self.RANGES.get(self.value() or "")
        if bounds is None:
            return queryset
        return queryset.filter(confidence__gte=bounds[0], confidence__lt=bounds[1])


class ModelVersionFilter(admin.SimpleListFilter):
    """One choice per ``component=version`` pair found in the facts' ``model_versions``."""

    title = "model version"
    parameter_name = "model"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        pairs: set[tuple[str, str]] = set()
        for versions in ExtractedFact.objects.order_by().values_list("model_versions", flat=True).distinct()[:500]:
            for component, version in (versions or {}).items():
                if isinstance(version, str):
                    pairs.add((component, version))
        return [(f"{c}={v}", f"{c}: {v}") for c, v in sorted(pairs)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        if value not in {choice for choice, _ in self.lookup_choices}:
            return queryset.none()
        component, _, version = value.partition("=")
        return queryset.filter(**{f"model_versions__{component}": version})


# --- forms --------------------------------------------------------------------------------------------------


class CorrectFactForm(forms.Form):
    relation_type = RelationTypeField(label="Relation type")
    head_entity_id = forms.CharField(
        required=False, label="Head entity id", help_text="Pick by search below, or create a new entity."
    )
    new_head_name = forms.CharField(required=False, label="…or new head entity named")
    new_head_type = forms.CharField(required=False, label="New head entity type")
    tail_entity_id = forms.CharField(
        required=False, label="Tail entity id", help_text="Pick by search below, or create a new entity."
    )
    new_tail_name = forms.CharField(required=False, label="…or new tail entity named")
    new_tail_type = forms.CharField(required=False, label="New tail entity type")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))

    def new_entity(self, end: str) -> review.NewEntity | None:
        name = self.cleaned_data.get(f"new_{end}_name", "").strip()
        if not name:
            return None
        return review.NewEntity(type=self.cleaned_data.get(f"new_{end}_type", "").strip(), name=name)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean() returns cleaned_data
        for end in ("head", "tail"):
            if cleaned.get(f"new_{end}_name", "").strip() and not cleaned.get(f"new_{end}_type", "").strip():
                self.add_error(f"new_{end}_type", f"Give the new {end} entity a type, e.g. Band or Place.")
        return cleaned


# --- the review queue ---------------------------------------------------------------------------------------


@admin.register(ExtractedFact)
class ExtractedFactAdmin(admin.ModelAdmin):
    change_form_template = "admin/ingestion/extractedfact/change_form.html"
    list_display = [
        "id",
        "sentence_column",
        "head_column",
        "relation_type",
        "tail_column",
        "confidence",
        "status",
        "models_column",
        "document_column",
    ]
    list_filter = [
        ReviewStatusFilter,
        "relation_type",
        ConfidenceFilter,
        ModelVersionFilter,
        ("document", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["head__text", "tail__text", "head_entity_id", "tail_entity_id", "document__name"]
    actions = ["approve_selected", "reject_selected"]
    list_per_page = 50
    show_full_result_count = False
    fields = readonly_fields = (
        "status",
        "relation_type",
        "head_entity_id",
        "tail_entity_id",
        "confidence",
        "model_versions",
        "document",
        "sentence_index",
        "already_in_graph",
        "original",
        "decided_by",
        "decided_at",
        "note",
        "created_at",
    )

    # permissions: staff read, curators decide, nobody edits rows by hand
    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # rejected facts are training data; deciding is the way to take a fact out of the queue

    def has_curate_permission(self, request: HttpRequest) -> bool:
        return curation.user_can_curate(request.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = (
            super()
            .get_queryset(request)
            .select_related("document", "head", "tail", "decided_by")
            .defer("document__text")
        )
        return review.with_sentence_text(queryset)

    # columns
    @admin.display(description="sentence")
    def sentence_column(self, fact: ExtractedFact) -> str:
        return format_html('<span class="lm-sentence">{}</span>', review.sentence_html(fact))

    @admin.display(description="head", ordering="head_entity_id")
    def head_column(self, fact: ExtractedFact) -> str:
        return format_html(
            '{}<br><a class="lm-id" href="{}">{}</a>',
            fact.head.text,
            entity_url(fact.head_entity_id),
            fact.head_entity_id,
        )

    @admin.display(description="tail", ordering="tail_entity_id")
    def tail_column(self, fact: ExtractedFact) -> str:
        return format_html(
            '{}<br><a class="lm-id" href="{}">{}</a>',
            fact.tail.text,
            entity_url(fact.tail_entity_id),
            fact.tail_entity_id,
        )

    @admin.display(description="model versions")
    def models_column(self, fact: ExtractedFact) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(dict(fact.model_versions).items())) or "—"

    @admin.display(description="document", ordering="document__name")
    def document_column(self, fact: ExtractedFact) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:ingestion_sourcedocument_change", args=[fact.document_id]),
            str(fact.document)[:60],
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return super().changelist_view(request, {**(extra_context or {}), "title": "Review queue: extracted facts"})

    # bulk actions
    @admin.action(description="Approve selected facts (write them to the graph)", permissions=["curate"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, review.approve_facts, list(queryset.values_list("pk", flat=True)), "Approved")

    @admin.action(description="Reject selected facts (kept as negative training examples)", permissions=["curate"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, review.reject_facts, list(queryset.values_list("pk", flat=True)), "Rejected")

    def _decide(self, request: HttpRequest, decide: Callable, fact_ids: list[int], verb: str, note: str = "") -> bool:
        """Run one decision service; its outcome (or the reason it failed) becomes messages. True if anything was decided."""
        try:
            with curation.curator_store() as store:
                report = decide(fact_ids, store=store, actor=request.user, note=note)
        except LeitmotifError as exc:
            messages.error(request, f"Nothing was decided: {exc.message}")
            return False
        if report.decided:
            extra = (
                f"; {len(report.relations_removed)} relation(s) only ingestion had written were removed from the graph"
                if report.relations_removed
                else ""
            )
            messages.success(request, f"{verb} {len(report.decided)} fact(s){extra}.")
        for _, reason in report.skipped[:SKIPPED_REPORTED]:
            messages.warning(request, reason)
        if len(report.skipped) > SKIPPED_REPORTED:
            messages.warning(
                request,
                f"…and {len(report.skipped) - SKIPPED_REPORTED} more fact(s) were skipped for the same kind of reason.",
            )
        return bool(report.decided)

    # one-by-one decisions
    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/approve/", wrap(self.approve_view), name="ingestion_extractedfact_approve"),
            path("<path:object_id>/reject/", wrap(self.reject_view), name="ingestion_extractedfact_reject"),
            path("<path:object_id>/correct/", wrap(self.correct_view), name="ingestion_extractedfact_correct"),
            *super().get_urls(),
        ]

    def _fact_id(self, request: HttpRequest, object_id: str) -> int:
        if not curation.user_can_curate(request.user):
            raise PermissionDenied("Only curators may decide extracted facts.")
        try:
            return int(unquote(object_id))
        except ValueError:
            return -1

    def _fact_url(self, fact_id: int) -> str:
        return reverse("admin:ingestion_extractedfact_change", args=[fact_id])

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        fact_id = self._fact_id(request, object_id)
        if request.method == "POST":
            self._decide(
                request, review.approve_facts, [fact_id], "Approved", note=request.POST.get("note", "").strip()
            )
        return HttpResponseRedirect(self._after_decision(fact_id))

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        fact_id = self._fact_id(request, object_id)
        if request.method == "POST":
            self._decide(request, review.reject_facts, [fact_id], "Rejected", note=request.POST.get("note", "").strip())
        return HttpResponseRedirect(self._after_decision(fact_id))

    def _after_decision(self, fact_id: int) -> str:
        if ExtractedFact.objects.filter(pk=fact_id).exists():
            return self._fact_url(fact_id)
        return reverse("admin:ingestion_extractedfact_changelist")

    def correct_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        fact_id = self._fact_id(request, object_id)
        fact = self.get_queryset(request).filter(pk=fact_id).first()
        if fact is None:
            messages.error(request, f"Fact {object_id} does not exist.")
            return HttpResponseRedirect(reverse("admin:ingestion_extractedfact_changelist"))
        refusal = review.decision_refusal(fact)
        if refusal:
            messages.error(request, refusal)
            return HttpResponseRedirect(self._fact_url(fact_id))
        initial = {
            "relation_type": request.GET.get("relation_type", fact.relation_type),
            "head_entity_id": request.GET.get("head", fact.head_entity_id),
            "tail_entity_id": request.GET.get("tail", fact.tail_entity_id),
            "new_head_type": fact.head.entity_type,
            "new_tail_type": fact.tail.entity_type,
        }
        form = CorrectFactForm(request.POST or None, initial=initial)
        try:
            with curation.curator_store() as store:
                if request.method == "POST" and form.is_valid():
                    data = form.cleaned_data
                    try:
                        corrected = review.correct_fact(
                            fact_id,
                            store=store,
                            actor=request.user,
                            relation_type=data["relation_type"],
                            head_entity_id=data["head_entity_id"],
                            tail_entity_id=data["tail_entity_id"],
                            new_head=form.new_entity("head"),
                            new_tail=form.new_entity("tail"),
                            note=data["note"].strip(),
                        )
                    except LeitmotifError as exc:
                        form.add_error(None, exc.message)
                    else:
                        messages.success(
                            request,
                            f"Corrected fact {fact_id} to {corrected.head_entity_id} -[{corrected.relation_type}]-> {corrected.tail_entity_id} and wrote it to the graph.",
                        )
                        return HttpResponseRedirect(self._fact_url(fact_id))
                query = request.GET.get("q", "").strip()
                candidates = store.search_entities(query, limit=20) if query else []
                current = store.get_entities([fact.head_entity_id, fact.tail_entity_id])
                suggestions = curation.relation_type_suggestions(store)
        except LeitmotifError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(self._fact_url(fact_id))
        keep = {k: request.GET[k] for k in ("head", "tail", "relation_type") if k in request.GET}
        return TemplateResponse(
            request,
            "admin/ingestion/extractedfact/correct.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Correct fact {fact_id}",
                "fact": fact,
                "form": form,
                "sentence": review.sentence_html(fact),
                "relation_types": suggestions,
                "head_entity": current.get(fact.head_entity_id),
                "tail_entity": current.get(fact.tail_entity_id),
                "candidates": picker_rows(
                    candidates, keep, [("Use as head", "head"), ("Use as tail", "tail")], query=query
                ),
                "keep_params": list(keep.items()),
                "query": query,
                "fact_url": self._fact_url(fact_id),
            },
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        fact = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        context = dict(extra_context or {})
        if fact is not None:
            next_pending = (
                ExtractedFact.objects.filter(status=ExtractedFact.Status.PENDING)
                .exclude(pk=fact.pk)
                .order_by("-confidence", "id")
                .values_list("pk", flat=True)
                .first()
            )
            context.update(
                fact=fact,
                sentence=review.sentence_html(fact),
                refusal=review.decision_refusal(fact),
                can_curate=curation.user_can_curate(request.user),
                approve_url=reverse("admin:ingestion_extractedfact_approve", args=[fact.pk]),
                reject_url=reverse("admin:ingestion_extractedfact_reject", args=[fact.pk]),
                correct_url=reverse("admin:ingestion_extractedfact_correct", args=[fact.pk]),
                head_url=entity_url(fact.head_entity_id),
                tail_url=entity_url(fact.tail_entity_id),
                original_json=pretty_json(fact.original) if fact.original else "",
                next_pending_url=self._fact_url(next_pending) if next_pending else None,
                queue_url=reverse("admin:ingestion_extractedfact_changelist"),
            )
        return super().change_view(request, object_id, form_url, context)


# --- documents and jobs (read-only) ------------------------------------------------------------------------


class MentionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ExtractedMention
    fields = readonly_fields = (
        "sentence_index",
        "start",
        "end",
        "text",
        "label",
        "entity_link",
        "link_method",
        "link_score",
    )
    extra = 0
    show_change_link = False

    @admin.display(description="entity")
    def entity_link(self, mention: ExtractedMention) -> str:
        return format_html('<a class="lm-id" href="{}">{}</a>', entity_url(mention.entity_id), mention.entity_id)


class FactInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ExtractedFact
    fields = readonly_fields = (
        "fact_link",
        "relation_type",
        "head_entity_id",
        "tail_entity_id",
        "confidence",
        "status",
    )
    extra = 0

    @admin.display(description="fact")
    def fact_link(self, fact: ExtractedFact) -> str:
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:ingestion_extractedfact_change", args=[fact.pk]), fact.pk
        )


@admin.register(SourceDocument)
class SourceDocumentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "title", "sha256_short", "sentences", "mention_count", "fact_count", "job", "created_at"]
    list_filter = ["media_type", "created_at"]
    search_fields = ["name", "title", "=sha256"]
    fields = readonly_fields = (
        "name",
        "title",
        "sha256",
        "media_type",
        "job",
        "model_versions",
        "sentences",
        "created_at",
        "text",
    )
    inlines = [MentionInline, FactInline]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .defer("text")
            .annotate(mention_total=Count("mentions", distinct=True), fact_total=Count("facts", distinct=True))
        )

    @admin.display(description="sha256")
    def sha256_short(self, document: SourceDocument) -> str:
        return document.sha256[:12]

    @admin.display(description="mentions", ordering="mention_total")
    def mention_count(self, document: WithAnnotations[SourceDocument, _DocumentCounts]) -> int:
        return document.mention_total

    @admin.display(description="facts", ordering="fact_total")
    def fact_count(self, document: WithAnnotations[SourceDocument, _DocumentCounts]) -> int:
        return document.fact_total


@admin.register(IngestionJob)
class IngestionJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "origin",
        "submitted_by",
        "document_count",
        "created_at",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "origin", "created_at"]
    fields = readonly_fields = (
        "id",
        "status",
        "origin",
        "submitted_by",
        "waiting_documents",
        "options",
        "summary_json",
        "error",
        "created_at",
        "started_at",
        "finished_at",
    )
    list_select_related = ["submitted_by"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("payload").annotate(document_total=Count("documents"))

    @admin.display(description="documents", ordering="document_total")
    def document_count(self, job: WithAnnotations[IngestionJob, _JobCounts]) -> int:
        return job.document_total

    @admin.display(description="documents waiting")
    def waiting_documents(self, job: IngestionJob) -> int:
        return len(job.payload or [])

    @admin.display(description="summary")
    def summary_json(self, job: IngestionJob) -> str:
        return format_html("<pre>{}</pre>", pretty_json(job.summary))
