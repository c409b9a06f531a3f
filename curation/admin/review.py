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
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

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
#: Query parameter of the grouped queue's page (removed before Django's changelist sees the query).
GROUP_PAGE_PARAM = "gp"
#: Groups per page of the review queue.
GROUPS_PER_PAGE = 40


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


class EntityFilter(admin.SimpleListFilter):
    """Facts about one entity (as head or tail): set from a row's entity link, used for batch decisions."""

    title = "entity"
    parameter_name = "entity"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = (self.value() or "").strip()
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = (self.value() or "").strip()
        if not value:
            return queryset
        return queryset.filter(Q(head_entity_id=value) | Q(tail_entity_id=value))


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
        EntityFilter,
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
        """Django's changelist (filters, search, actions), with the grouped, ordered review queue as its body.

        Why on top of the changelist instead of a page of its own: the filters and the search narrow the
        queue (``cl.queryset``), and the grouped rows are computed from exactly that queryset.
        """
        page_text = request.GET.get(GROUP_PAGE_PARAM, "1")
        if GROUP_PAGE_PARAM in request.GET:
            query = request.GET.copy()
            del query[GROUP_PAGE_PARAM]
            request.GET = query  # type: ignore[assignment]  # a mutable copy, read by the changelist below
        response = super().changelist_view(request, {**(extra_context or {}), "title": "Review queue: extracted facts"})
        context = getattr(response, "context_data", None)
        if isinstance(response, TemplateResponse) and context is not None and "cl" in context:
            page = int(page_text) if page_text.isdigit() else 1
            context.update(self._queue_context(request, context["cl"], page))
        return response

    def _queue_context(self, request: HttpRequest, cl: Any, page: int) -> dict[str, Any]:
        can_curate = curation.user_can_curate(request.user)
        context: dict[str, Any] = {
            "can_curate": can_curate,
            "queue_rows": [],
            "queue_page": None,
            "precision": [],
            "next_url": request.get_full_path(),
            "decide_url": reverse("admin:ingestion_extractedfact_review_decide"),
            "link_url": reverse("admin:ingestion_extractedfact_review_link"),
            "batch_url": reverse("admin:ingestion_extractedfact_review_batch"),
        }
        try:
            with curation.curator_store() as store:
                queue = review.review_page(
                    cl.queryset, store=store, page=page, per_page=GROUPS_PER_PAGE, with_candidates=can_curate
                )
        except LeitmotifError as exc:
            messages.error(request, f"The review queue could not be read from the graph: {exc.message}")
            return context
        rows = []
        for group in queue.groups:
            rows.append(
                {
                    "group": group,
                    "head_url": entity_url(group.head_entity_id) if group.head is not None else "",
                    "tail_url": entity_url(group.tail_entity_id) if group.tail is not None else "",
                    "head_filter": cl.get_query_string({"entity": group.head_entity_id}, [GROUP_PAGE_PARAM]),
                    "tail_filter": cl.get_query_string({"entity": group.tail_entity_id}, [GROUP_PAGE_PARAM]),
                    "relation_filter": cl.get_query_string(
                        {"relation_type__exact": group.relation_type}, [GROUP_PAGE_PARAM, "relation_type"]
                    ),
                    "sentences": [
                        {
                            "html": review.sentence_html(fact),
                            "document": str(fact.document)[:60],
                            "confidence": fact.confidence,
                            "url": self._fact_url(fact.pk),
                        }
                        for fact in group.facts
                    ],
                    "ends": [
                        {
                            "end": end,
                            "text": group.end_text(end),
                            "candidates": group.candidates.get(end, []),
                            "types": group.new_types.get(end, []),
                        }
                        for end in group.unlinked_ends
                    ],
                }
            )
        relation = request.GET.get("relation_type__exact") or request.GET.get("relation_type") or ""
        entity = request.GET.get("entity", "")
        pending = (
            ExtractedFact.objects.filter(status=ExtractedFact.Status.PENDING)
            .order_by()
            .values_list("relation_type")
            .annotate(n=Count("id"))
            .order_by("relation_type")
        )
        context.update(
            queue_rows=rows,
            queue_page=queue,
            previous_url=cl.get_query_string({GROUP_PAGE_PARAM: queue.page - 1}) if queue.page > 1 else "",
            next_page_url=cl.get_query_string({GROUP_PAGE_PARAM: queue.page + 1}) if queue.page < queue.pages else "",
            precision=review.relation_model_precision(review.queue_model_versions(cl.queryset)),
            batch_relation=relation,
            batch_entity=entity,
            batch_relation_words=review.relation_words(relation) if relation else "",
            pending_relations=[(r, review.relation_words(r), n) for r, n in pending],
        )
        return context

    # bulk actions
    @admin.action(description="Approve selected facts (write them to the graph)", permissions=["curate"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, review.approve_facts, list(queryset.values_list("pk", flat=True)), "Approved")

    @admin.action(description="Reject selected facts (kept as negative training examples)", permissions=["curate"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, review.reject_facts, list(queryset.values_list("pk", flat=True)), "Rejected")

    def _decide(self, request: HttpRequest, decide: Callable, fact_ids: list[int], verb: str, note: str = "") -> bool:
        """Run one decision service; its outcome (or the reason it failed) becomes messages. True if anything was decided."""
        return self._run_decision(
            request, lambda store: decide(fact_ids, store=store, actor=request.user, note=note), verb
        )

    def _run_decision(self, request: HttpRequest, call: Callable[[Any], review.ReviewReport], verb: str) -> bool:
        try:
            with curation.curator_store() as store:
                report = call(store)
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
        elif not report.skipped:
            messages.warning(request, "Nothing was decided.")
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
            path("review/decide/", wrap(self.review_decide_view), name="ingestion_extractedfact_review_decide"),
            path("review/link/", wrap(self.review_link_view), name="ingestion_extractedfact_review_link"),
            path("review/batch/", wrap(self.review_batch_view), name="ingestion_extractedfact_review_batch"),
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

    # the grouped queue: decide groups, link ends, batch decisions

    def _require_curator(self, request: HttpRequest) -> None:
        if not curation.user_can_curate(request.user):
            raise PermissionDenied("Only curators may decide extracted facts.")

    def _safe_next(self, request: HttpRequest) -> str:
        """The ``next`` the form carried when it is a same-site URL, else ``""``."""
        target = request.POST.get("next") or request.GET.get("next") or ""
        if url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return target
        return ""

    def _back(self, request: HttpRequest, fallback: str = "") -> HttpResponseRedirect:
        """Back to the queue page the curator came from."""
        return HttpResponseRedirect(
            self._safe_next(request) or fallback or reverse("admin:ingestion_extractedfact_changelist")
        )

    def review_decide_view(self, request: HttpRequest) -> HttpResponse:
        """Approve or reject one group (a row's button, or a/r) or the selected groups (x, then the bulk buttons)."""
        self._require_curator(request)
        if request.method != "POST":
            return self._back(request)
        note = request.POST.get("note", "").strip()
        if "bulk" in request.POST:
            decision, leads = request.POST["bulk"], request.POST.getlist("lead")
        else:
            decision = next((d for d in review.DECISIONS if d in request.POST), "")
            leads = [request.POST[decision]] if decision else []
        verb = {"approve": "Approved", "reject": "Rejected"}.get(decision, "Decided")
        self._run_decision(
            request,
            lambda store: review.decide_groups(leads, decision=decision, store=store, actor=request.user, note=note),
            verb,
        )
        return self._back(request)

    def review_link_view(self, request: HttpRequest) -> HttpResponse:
        """Link a fact's unlinked head or tail to a candidate (``pick``) or to a new entity of a schema type (``create``)."""
        self._require_curator(request)
        if request.method != "POST":
            return self._back(request)
        entity_id = new_type = new_name = ""
        if "pick" in request.POST:
            end, _, rest = request.POST["pick"].partition("|")
            lead, _, entity_id = rest.partition("|")
        else:
            end, _, lead = request.POST.get("create", "").partition("|")
            new_type = request.POST.get(f"new_type_{lead}_{end}", "")
            new_name = request.POST.get(f"new_name_{lead}_{end}", "")
        if not lead.isdigit():
            messages.error(request, "Nothing was linked: pick a candidate or a type on a fact's row.")
            return self._back(request)
        try:
            with curation.curator_store() as store:
                report = review.link_fact_end(
                    int(lead),
                    end=end,
                    store=store,
                    actor=request.user,
                    entity_id=entity_id,
                    new_type=new_type,
                    new_name=new_name,
                )
        except LeitmotifError as exc:
            messages.error(request, f"Nothing was linked: {exc.message}")
        else:
            made = "a new entity " if report.created else ""
            messages.success(
                request,
                f"Linked the {report.end} to {made}{report.entity.name} ({report.entity.type}, {report.entity.id}); "
                f"{len(report.facts)} fact(s) now name it. Approve or reject the fact next.",
            )
        return self._back(request)

    def review_batch_view(self, request: HttpRequest) -> HttpResponse:
        """Batch approve/reject every pending fact with a relation and/or about an entity: confirm (GET), decide (POST)."""
        self._require_curator(request)
        data = request.POST if request.method == "POST" else request.GET
        decision = data.get("decision", "")
        relation, entity = data.get("relation", "").strip(), data.get("entity", "").strip()
        queue_url = reverse("admin:ingestion_extractedfact_changelist")
        if request.method == "POST":
            expected_text = data.get("expected", "")
            if not expected_text.isdigit():
                messages.error(request, "Nothing was decided: confirm the batch from its confirmation page.")
                return self._back(request, queue_url)
            verb = {"approve": "Approved", "reject": "Rejected"}.get(decision, "Decided")
            self._run_decision(
                request,
                lambda store: review.batch_decide(
                    decision=decision,
                    relation_type=relation,
                    entity_id=entity,
                    expected=int(expected_text),
                    store=store,
                    actor=request.user,
                    note=data.get("note", "").strip(),
                ),
                verb,
            )
            return self._back(request, queue_url)
        try:
            with curation.curator_store() as store:
                preview = review.batch_preview(decision=decision, relation_type=relation, entity_id=entity, store=store)
        except LeitmotifError as exc:
            messages.error(request, f"Nothing to confirm: {exc.message}")
            return self._back(request, queue_url)
        return TemplateResponse(
            request,
            "admin/ingestion/extractedfact/batch.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"{decision.capitalize()} {preview.facts} pending fact(s)?",
                "preview": preview,
                "sample": preview.groups[:15],
                "unlinked": sum(1 for g in preview.groups if g.unlinked_ends),
                "next_url": self._safe_next(request),
                "queue_url": queue_url,
            },
        )

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
