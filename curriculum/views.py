"""Learner pages of the curriculum: "My learning" (next steps), the goal picker, the path, quizzes, and the
buttons that record progress.

Thin on purpose: each view checks its input with a form, calls one selector or service and renders.
Every page needs a login (``LOGIN_URL`` is ``learn:login``). Catalogue errors become a page that says
what to do (400), an unreachable graph a 503 page; a POST always redirects back (to a local ``next``
address only), so the page the learner returns to shows the recomputed path.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog.models import Course
from core.errors import LeitmotifError, StoreUnavailableError
from core.pages import safe_next
from curriculum import selectors, services
from curriculum.forms import GoalSearchForm, LessonForm, MasteryForm, PathForm, ProfileForm, QuizForm
from curriculum.graph import curriculum_graph
from curriculum.loader import fold_tag_name
from curriculum.path_picture import layout_path
from curriculum.vocabulary import LEVEL_NAMES, LEVELS
from kg.stores import get_store

logger = logging.getLogger(__name__)
#: Said to the operator (in the log) when a learner page finds no curriculum; learners see plain words.
NO_CURRICULUM_HINT = "The curriculum is not loaded: run `python manage.py load_curriculum` (part of `make demo`)."

LOGIN = "learn:login"
#: Artists listed by the goal picker's search.
GOAL_SEARCH_RESULTS = 12


def _error_page(request: HttpRequest, *, title: str, message: str, status: int) -> HttpResponse:
    return render(request, "curriculum/error.html", {"title": title, "message": message}, status=status)


def _unavailable(request: HttpRequest, exc: StoreUnavailableError) -> HttpResponse:
    return _error_page(request, title="The knowledge graph is unavailable", message=exc.message, status=503)


def _form_errors(form: Any) -> str:
    return " ".join(
        f"{'' if name == '__all__' else name + ': '}{error}" for name, errors in form.errors.items() for error in errors
    )


# --- pages ----------------------------------------------------------------------------------


@login_required(login_url=LOGIN)
@require_GET
def my_learning(request: HttpRequest) -> HttpResponse:
    stretch = request.GET.get("stretch") == "1"
    try:
        with get_store() as store:
            graph = curriculum_graph(store)
            steps = (
                selectors.next_steps(request.user, store=store, graph=graph, allow_stretch=stretch)
                if graph.concepts
                else []
            )
            instruments = selectors.instrument_choices(store)
    except StoreUnavailableError as exc:
        return _unavailable(request, exc)
    except LeitmotifError as exc:
        return _error_page(request, title="Your next steps cannot be shown", message=exc.message, status=400)
    learner = selectors.learner_settings(request.user)
    states = selectors.learner_mastery(request.user, graph=graph)
    threshold = selectors.mastery_threshold()
    progress = sorted(
        ((graph.concepts[c], state) for c, state in states.items() if c in graph.concepts and state.mastery > 0),
        key=lambda item: (-item[1].mastery, item[0].sort_key),
    )
    context = {
        "steps": steps,
        "learner": learner,
        "level_name": LEVEL_NAMES[learner.level],
        "profile_form": ProfileForm(
            initial={"level": learner.level, "instruments": list(learner.instruments)}, instruments=instruments
        ),
        "progress": progress,
        "mastered_count": sum(1 for _, state in progress if state.mastery >= threshold),
        "threshold": threshold,
        "concept_count": len(graph.concepts),
        "stretch": stretch,
    }
    if not graph.concepts:
        logger.warning(NO_CURRICULUM_HINT)
    return render(request, "curriculum/my_learning.html", context)


@login_required(login_url=LOGIN)
@require_GET
def goals(request: HttpRequest) -> HttpResponse:
    search = GoalSearchForm(request.GET)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    try:
        with get_store() as store:
            graph = curriculum_graph(store)
            artists = store.search_entities(query, types=["Artist"], limit=GOAL_SEARCH_RESULTS) if query else []
    except StoreUnavailableError as exc:
        return _unavailable(request, exc)
    by_level = [(LEVEL_NAMES[level], [n for n in graph.ordered() if n.level == level]) for level in LEVELS]
    unlevelled = [n for n in graph.ordered() if n.level is None]
    if unlevelled:
        by_level.append(("Added by curators", unlevelled))
    # one chip per spelling family ("punk rock", "punk-rock"): the variant linked to the most concepts, then the shortest id
    families: dict[str, list[tuple[int, int, str, str]]] = {}
    for node in graph.concepts.values():
        for tag in node.tags:
            families.setdefault(fold_tag_name(tag.name), []).append((0, len(tag.tag_id), tag.tag_id, tag.name))
    tags: dict[str, str] = {}
    for variants in families.values():
        counts = {tag_id: -len(graph.concepts_for_tag(tag_id)) for _, _, tag_id, _ in variants}
        _, _, tag_id, name = min((counts[t], length, t, n) for _, length, t, n in variants)
        tags[tag_id] = name
    context = {
        "search": search,
        "query": query,
        "artists": artists,
        "by_level": by_level,
        "instruments": sorted(graph.instrument_names.items(), key=lambda item: item[1].casefold()),
        "tags": sorted(tags.items(), key=lambda item: item[1].casefold()),
        "concept_count": len(graph.concepts),
    }
    if not graph.concepts:
        logger.warning(NO_CURRICULUM_HINT)
    return render(request, "curriculum/goals.html", context, status=200 if search.is_valid() else 400)


@login_required(login_url=LOGIN)
@require_GET
def path(request: HttpRequest) -> HttpResponse:
    form = PathForm(request.GET)
    if not form.is_valid():
        return render(request, "curriculum/path.html", {"form": form, "error": _form_errors(form)}, status=400)
    goal = form.cleaned_data["goal"]
    if not goal:
        messages.info(request, "Pick a goal first: a concept, an instrument, a genre or an artist.")
        return redirect("curriculum:goals")
    try:
        with get_store() as store:
            graph = curriculum_graph(store)
            learning_path = selectors.learning_path(
                request.user, goal, store=store, graph=graph, allow_stretch=form.cleaned_data["allow_stretch"]
            )
    except StoreUnavailableError as exc:
        return _unavailable(request, exc)
    except LeitmotifError as exc:
        return render(request, "curriculum/path.html", {"form": form, "error": exc.message}, status=400)
    context = {
        "form": form,
        "path": learning_path,
        "picture": layout_path(graph, learning_path),
        "goal": goal,
        "here": request.get_full_path(),
    }
    return render(request, "curriculum/path.html", context)


@login_required(login_url=LOGIN)
@require_http_methods(["GET", "POST"])
def quiz(request: HttpRequest) -> HttpResponse:
    concept_id = (request.GET.get("concept") or request.POST.get("concept") or "").strip()
    try:
        with get_store() as store:
            graph = curriculum_graph(store)
    except StoreUnavailableError as exc:
        return _unavailable(request, exc)
    node = graph.concepts.get(concept_id)
    if node is None:
        return _error_page(
            request,
            title="No such concept",
            message=f"{concept_id!r} is not a concept of the curriculum; pick one on the goals page.",
            status=404,
        )
    if not node.quiz:
        return _error_page(
            request,
            title=f"{node.name} has no quiz",
            message="Mark it as mastered yourself, or complete a course that teaches it.",
            status=404,
        )
    form = QuizForm(request.POST or None, quiz=node.quiz)
    result = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                result = services.quiz_grade(request.user, node.id, answers=form.answers(), graph=graph)
            except LeitmotifError as exc:
                form.add_error(None, exc.message)
                status = 400
            else:
                messages.success(
                    request, f"{node.name} quiz: {result.correct} of {result.total} right. Your path has been updated."
                )
        else:
            status = 400
    questions = []
    for number, question in enumerate(node.quiz):
        given = result.answers[number][0] if result else None
        questions.append(
            {
                "field": form[f"q{number}"],
                "choices": question.get("choices", []),
                "answer": question.get("answer"),
                "given": given,
            }
        )
    return render(
        request,
        "curriculum/quiz.html",
        {"concept": node, "form": form, "questions": questions, "result": result},
        status=status,
    )


# --- buttons (POST, then back) ------------------------------------------------------------------


@login_required(login_url=LOGIN)
@require_POST
def profile(request: HttpRequest) -> HttpResponse:
    try:
        with get_store() as store:
            form = ProfileForm(request.POST, instruments=selectors.instrument_choices(store))
            if not form.is_valid():
                messages.error(request, f"Your profile was not changed: {_form_errors(form)}")
                return redirect("curriculum:my_learning")
            services.profile_update(
                request.user,
                store=store,
                level=form.cleaned_data["level"],
                instruments=form.cleaned_data["instruments"],
            )
    except StoreUnavailableError as exc:
        return _unavailable(request, exc)
    except LeitmotifError as exc:
        messages.error(request, exc.message)
        return redirect("curriculum:my_learning")
    messages.success(request, "Profile saved: your next steps follow your level and instruments.")
    return redirect("curriculum:my_learning")


@login_required(login_url=LOGIN)
@require_POST
def mastery(request: HttpRequest) -> HttpResponse:
    form = MasteryForm(request.POST)
    back = safe_next(request, request.POST.get("next"), reverse("curriculum:my_learning"))
    if not form.is_valid():
        messages.error(request, f"Nothing was recorded: {_form_errors(form)}")
        return redirect(back)
    try:
        with get_store() as store:
            graph = curriculum_graph(store)
            services.mastery_set(request.user, form.cleaned_data["concept_id"], mastery=form.mastery, graph=graph)
    except StoreUnavailableError as exc:
        return _unavailable(request, exc)
    except LeitmotifError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    name = graph.concepts[form.cleaned_data["concept_id"]].name
    if form.cleaned_data["action"] == "mastered":
        messages.success(request, f"Marked {name} as mastered. Your path has been recomputed.")
    else:
        messages.info(request, f"{name} is back on your path.")
    return redirect(back)


@login_required(login_url=LOGIN)
@require_POST
def lesson(request: HttpRequest) -> HttpResponse:
    form = LessonForm(request.POST)
    back = safe_next(request, request.POST.get("next"), reverse("curriculum:my_learning"))
    if not form.is_valid():
        messages.error(request, f"Nothing was recorded: {_form_errors(form)}")
        return redirect(back)
    course = get_object_or_404(Course, pk=form.cleaned_data["course"])
    try:
        with get_store() as store:
            graph = curriculum_graph(store)
            result = services.lesson_complete(request.user, course, graph=graph)
    except StoreUnavailableError as exc:
        return _unavailable(request, exc)
    except LeitmotifError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    raised = [graph.concepts[c].name for c, _ in result.raised if c in graph.concepts]
    if raised:
        messages.success(request, f"Completed “{course.title}”: progress recorded for {', '.join(raised)}.")
    else:
        messages.success(request, f"Completed “{course.title}”.")
    return redirect(back)
