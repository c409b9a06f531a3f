"""Learner pages: sign-up, onboarding, "For you", artist/course pages, search and history.

Thin on purpose: each view parses its input with a form, calls one service or selector
(:mod:`recommender.serving` for recommendations, interactions and interests; :mod:`.selectors` for
page reads) and renders. Catalogue errors become a page that says what to do, never a 500.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.services import is_learner
from catalog.models import Artist, Course, Interaction, Listener
from core.errors import (
    LeitmotifError,
    NotALearnerError,
    RecommendationRequestError,
    StoreUnavailableError,
    UnknownEntityError,
)
from core.pages import safe_next
from kg.stores import get_store
from kg.stores.base import KnowledgeGraphStore
from learning_platform.learn import pieces, selectors
from learning_platform.learn.forms import (
    CourseFilterForm,
    InteractionForm,
    InterestAddForm,
    InterestPicksForm,
    SearchForm,
    SignupForm,
)
from privacy import selectors as privacy_selectors
from privacy import services as privacy_services
from privacy.downloads import export_download_response
from privacy.forms import AccountDeleteForm, TrainingOptOutForm
from privacy.messages import deletion_message, opt_out_message
from privacy.models import DataRightsEvent
from recommender.serving import selectors as serving_selectors
from recommender.serving import services as serving_services
from recommender.serving.model_holder import NoServingModelError

LOGIN = "learn:login"
#: What a learner reads while no recommender model is published (the operator's hint goes to the log).
NO_MODEL_TEXT = (
    "Recommendations will appear here as soon as the site has learned from its listeners. "
    "Your picks are saved and will be used then."
)
MUSIC_K = 10
COURSE_K = 6


def _error_page(request: HttpRequest, *, title: str, message: str, status: int) -> HttpResponse:
    return render(request, "learn/error.html", {"title": title, "message": message}, status=status)


def _store_unavailable(request: HttpRequest, exc: StoreUnavailableError) -> HttpResponse:
    return _error_page(request, title="The knowledge graph is unavailable", message=exc.message, status=503)


# --- accounts -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("learn:for_you")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            # The user and its Listener are created together or not at all.
            with transaction.atomic():
                user = form.save()
                serving_services.learner_listener(user)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.get_username()}! Pick a few things you like to get started.")
            return redirect("learn:onboarding")
        return render(request, "learn/signup.html", {"form": form}, status=400)
    return render(request, "learn/signup.html", {"form": form})


# --- onboarding -----------------------------------------------------------------------------


@login_required(login_url=LOGIN)
@require_http_methods(["GET", "POST"])
def onboarding(request: HttpRequest) -> HttpResponse:
    listener = serving_services.learner_listener(request.user)
    search = SearchForm(request.GET)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    errors: list[str] = [] if search.is_valid() else [str(e) for errs in search.errors.values() for e in errs]
    status = 400 if errors else 200
    picks_form = InterestPicksForm(request.POST or None)
    try:
        with get_store() as store:
            if request.method == "POST":
                if picks_form.is_valid():
                    ids = picks_form.cleaned_data["entity_id"]
                    _, problems = selectors.interest_picks_resolve(ids, store=store)
                    if not problems:
                        try:
                            interests = serving_services.interests_set(listener, ids)
                        except UnknownEntityError as exc:
                            problems = [exc.message]
                        else:
                            _instrument_from_picks(request, store)
                            if len(interests) >= selectors.SUGGESTED_PICKS:
                                messages.success(
                                    request, f"Saved {len(interests)} interests. Here is what we recommend."
                                )
                                return redirect("learn:for_you")
                            messages.info(
                                request,
                                f"Saved {len(interests)} interest{'' if len(interests) == 1 else 's'}. "
                                f"Pick at least {selectors.SUGGESTED_PICKS} for recommendations with good reasons.",
                            )
                            return redirect("learn:onboarding")
                    errors.extend(problems)
                else:
                    errors.extend(str(e) for errs in picks_form.errors.values() for e in errs)
                status = 400
            results = selectors.interest_candidates_search(query, store=store) if query else []
            suggestions = None if query else selectors.onboarding_suggestions(store=store)
    except StoreUnavailableError as exc:
        return _store_unavailable(request, exc)
    current = list(listener.interests.all())
    picked = {i.entity_id for i in current}
    context = {
        "search": search,
        "query": query,
        "results": [c for c in results if c.entity_id not in picked],
        "suggestions": suggestions,
        "current": current,
        "picked": picked,
        "errors": errors,
        "suggested_picks": selectors.SUGGESTED_PICKS,
    }
    return render(request, "learn/onboarding.html", context, status=status)


@login_required(login_url=LOGIN)
@require_POST
def interest_add(request: HttpRequest) -> HttpResponse:
    """Add one interest (from the search page) to the learner's current picks."""
    listener = serving_services.learner_listener(request.user)
    form = InterestAddForm(request.POST)
    if not form.is_valid():
        return _error_page(
            request, title="Nothing to add", message="Choose an artist, tag or instrument to add.", status=400
        )
    entity_id = form.cleaned_data["entity_id"]
    try:
        with get_store() as store:
            entities, problems = selectors.interest_picks_resolve([entity_id], store=store)
            if problems:
                return _error_page(request, title="Cannot add this interest", message=problems[0], status=400)
            ids = [i.entity_id for i in listener.interests.all()]
            serving_services.interests_set(listener, [*ids, entity_id])
            _instrument_from_picks(request, store)
    except StoreUnavailableError as exc:
        return _store_unavailable(request, exc)
    except UnknownEntityError as exc:
        return _error_page(request, title="Cannot add this interest", message=exc.message, status=400)
    messages.success(request, f"Added {entities[0].name} to your interests.")
    return redirect(safe_next(request, request.POST.get("next"), reverse("learn:onboarding")))


def _instrument_from_picks(request: HttpRequest, store: KnowledgeGraphStore) -> None:
    """A picked tag that names an instrument ("piano") becomes the learner's instrument when they have none."""
    from curriculum.services import profile_instruments_from_picks

    stored = profile_instruments_from_picks(request.user, store=store)
    if stored:
        names = [entity.name for entity in store.get_entities(stored).values()]
        messages.info(
            request,
            f"We set your instrument to {', '.join(sorted(names))} from your picks; "
            "change it under “I play” on the Learn page.",
        )


# --- recommendations ------------------------------------------------------------------------


@login_required(login_url=LOGIN)
@require_GET
def for_you(request: HttpRequest) -> HttpResponse:
    listener = serving_services.learner_listener(request.user)
    filters = CourseFilterForm(request.GET)
    context: dict = {
        "filters": filters,
        "interests": list(listener.interests.all()),
        "music": [],
        "courses": [],
        **_pieces_context(request, listener),
    }
    if not filters.is_valid():
        context["error"] = " ".join(str(e) for errs in filters.errors.values() for e in errs)
        return render(request, "learn/for_you.html", context, status=400)
    level = filters.cleaned_data["level"] or None
    try:
        music = serving_selectors.recommendations_for_listener(listener, kind="music", k=MUSIC_K)
        courses = serving_selectors.recommendations_for_listener(listener, kind="course", k=COURSE_K, level=level)
    except NoServingModelError as exc:
        context["no_model"] = NO_MODEL_TEXT
        pieces.log_operator_hint("No recommender model is served", f"{exc.message} (`make demo` trains one)")
        return render(request, "learn/for_you.html", context, status=503)
    except StoreUnavailableError as exc:
        return _store_unavailable(request, exc)
    except LeitmotifError as exc:
        context["error"] = exc.message
        return render(request, "learn/for_you.html", context, status=400)
    context["music"] = selectors.recommendation_cards(music)
    context["courses"] = selectors.recommendation_cards(courses)
    return render(request, "learn/for_you.html", context)


def _pieces_context(request: HttpRequest, listener: Listener) -> dict:
    """The "Pieces to play" of the signed-in learner: works for their instrument that their taste points to.

    Independent of the recommender model, so it shows even while no model is published; an unreachable
    graph only leaves the section empty.
    """
    from curriculum.selectors import learner_settings

    learner = learner_settings(request.user)
    try:
        with get_store() as store:
            chosen = pieces.pieces_to_play(listener, instruments=learner.instruments, store=store)
    except StoreUnavailableError as exc:
        pieces.log_operator_hint("For you without pieces to play", exc.message)
        chosen = []
    return {"pieces": chosen, "has_instrument": bool(learner.instruments)}


@login_required(login_url=LOGIN)
@require_POST
def interaction(request: HttpRequest) -> HttpResponse:
    """Record a like/skip/enroll, then go back to the page the button was on."""
    form = InteractionForm(request.POST)
    if not form.is_valid():
        message = " ".join(str(e) for errs in form.errors.values() for e in errs)
        return _error_page(request, title="That click could not be recorded", message=message, status=400)
    data = form.cleaned_data
    artist = get_object_or_404(Artist, pk=data["artist"]) if data["artist"] else None
    course = get_object_or_404(Course, pk=data["course"]) if data["course"] else None
    listener = serving_services.learner_listener(request.user)
    try:
        serving_services.interaction_record(listener, kind=data["kind"], artist=artist, course=course)
    except LeitmotifError as exc:
        return _error_page(request, title="That click could not be recorded", message=exc.message, status=400)
    target = artist.name if artist else course.title  # type: ignore[union-attr]
    verb = {
        Interaction.Kind.LIKE: "You liked",
        Interaction.Kind.SKIP: "You skipped",
        Interaction.Kind.ENROLL: "You enrolled in",
    }[data["kind"]]
    messages.success(request, f"{verb} {target}. Your recommendations are updated.")
    return redirect(safe_next(request, data["next"], reverse("learn:for_you")))


# --- artist and course pages ----------------------------------------------------------------


def _listener_or_none(request: HttpRequest):
    return serving_services.learner_listener(request.user) if request.user.is_authenticated else None


@require_GET
def artist_detail(request: HttpRequest, pk: int) -> HttpResponse:
    artist = get_object_or_404(Artist, pk=pk)
    try:
        with get_store() as store:
            picture = selectors.neighbourhood_picture(artist.entity_id, store=store)
            tags = selectors.artist_tags(artist, store=store)
            works = pieces.works_of_artist(artist, store=store)
    except StoreUnavailableError as exc:
        return _store_unavailable(request, exc)
    context = {
        "artist": artist,
        "works": works,
        "picture": picture,
        "tags": tags,
        "listeners": selectors.artist_listener_count(artist),
        "plays": selectors.artist_total_plays(artist),
        "last": selectors.last_interaction(_listener_or_none(request), artist=artist),
    }
    return render(request, "learn/artist_detail.html", context)


@require_GET
def course_detail(request: HttpRequest, pk: int) -> HttpResponse:
    course = get_object_or_404(Course, pk=pk)
    try:
        with get_store() as store:
            picture = selectors.neighbourhood_picture(course.entity_id, store=store)
    except StoreUnavailableError as exc:
        return _store_unavailable(request, exc)
    context = {
        "course": course,
        "picture": picture,
        "last": selectors.last_interaction(_listener_or_none(request), course=course),
    }
    return render(request, "learn/course_detail.html", context)


# --- search and history ---------------------------------------------------------------------


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    if not form.is_valid():
        return render(request, "learn/search.html", {"form": form, "results": None}, status=400)
    query = form.cleaned_data["q"]
    results = None
    if query:
        instruments: tuple[str, ...] = ()
        if request.user.is_authenticated and is_learner(request.user):
            from curriculum.selectors import learner_settings

            instruments = learner_settings(request.user).instruments
        try:
            with get_store() as store:
                results = selectors.catalog_search(query, store=store, instruments=instruments)
        except StoreUnavailableError as exc:
            return _store_unavailable(request, exc)
    return render(request, "learn/search.html", {"form": form, "results": results})


@login_required(login_url=LOGIN)
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """Only ever the signed-in learner's own history: no user id is taken from the request."""
    listener = serving_services.learner_listener(request.user)
    context = {
        "entries": serving_selectors.listener_history(listener),
        "interests": list(listener.interests.all()),
    }
    return render(request, "learn/history.html", context)


@login_required(login_url=LOGIN)
@require_GET
def ask(request: HttpRequest) -> HttpResponse:
    """Plain-English requests: how the request was understood (correctable) and the explained answer.

    Corrections come back as query parameters: ``drop`` (an understood item's value, repeatable),
    ``level`` and ``kind``. Nothing the learner types is an error; an empty box shows examples.
    """
    from recommender.understanding.service import ask as ask_request

    text = (request.GET.get("q") or "").strip()
    context: dict = {"q": text, "examples": ASK_EXAMPLES, "levels": ASK_LEVELS}
    if not text:
        return render(request, "learn/ask.html", context)
    listener = serving_services.learner_listener(request.user)
    drop = request.GET.getlist("drop")
    level = request.GET.get("level")
    kind = request.GET.get("kind")
    try:
        answer = ask_request(listener, text, k=MUSIC_K, drop=drop, level=level, kind=kind)
    except NoServingModelError as exc:
        context["no_model"] = NO_MODEL_TEXT
        pieces.log_operator_hint("No recommender model is served", f"{exc.message} (`make demo` trains one)")
        return render(request, "learn/ask.html", context, status=503)
    except StoreUnavailableError as exc:
        return _store_unavailable(request, exc)
    except RecommendationRequestError:  # a request of only common words: say what to write instead
        context["request_error"] = (
            "Your request has only common words. Name an artist, a genre, a mood, an instrument, a level or "
            "something to learn, for example “calm piano music for a beginner”."
        )
        return render(request, "learn/ask.html", context, status=400)
    context.update(
        answer=answer,
        parsed=answer.parsed,
        drop=drop,
        chips=selectors.understanding_chips(answer.parsed, text=text, drop=drop, level=level, kind=kind),
        music=selectors.recommendation_cards(answer.music),
        courses=selectors.recommendation_cards(answer.courses[:COURSE_K]),
    )
    return render(request, "learn/ask.html", context)


ASK_EXAMPLES = (
    "something like Chopin for a beginner pianist",
    "upbeat rock to practise power chords",
    "chill electronic music like Boards of Canada",
    "jazz improvisation course for intermediate players",
)
ASK_LEVELS = (("", "any level"), ("Beginner", "Beginner"), ("Intermediate", "Intermediate"), ("Expert", "Expert"))


# --- settings: the learner's data rights ----------------------------------------------------------


def _settings_page(request: HttpRequest, *, opt_out_form=None, delete_form=None, status: int = 200) -> HttpResponse:
    state = privacy_selectors.training_opt_out_state(request.user)
    context = {
        "summary": privacy_selectors.learner_data_summary(request.user),
        "state": state,
        "state_message": opt_out_message(state),
        "is_learner": is_learner(request.user),
        "opt_out_form": opt_out_form or TrainingOptOutForm(initial={"training_opt_out": state.training_opt_out}),
        "delete_form": delete_form or AccountDeleteForm(),
    }
    return render(request, "learn/settings.html", context, status=status)


@login_required(login_url=LOGIN)
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    """Download my data, the training opt-out, delete my account (``action`` says which form was sent)."""
    if request.method == "GET":
        return _settings_page(request)
    action = request.POST.get("action")
    if action == "training":
        form = TrainingOptOutForm(request.POST)
        form.is_valid()  # a missing box means "not opted out": the form is always valid
        try:
            state = privacy_services.training_opt_out_set(
                request.user, form.cleaned_data["training_opt_out"], channel=DataRightsEvent.Channel.WEB
            )
        except NotALearnerError as exc:
            messages.warning(request, exc.message)
        else:
            messages.success(request, opt_out_message(state))
        return redirect("learn:settings")
    if action == "delete":
        delete_form = AccountDeleteForm(request.POST)
        if not delete_form.is_valid():
            return _settings_page(request, delete_form=delete_form, status=400)
        try:
            receipt = privacy_services.learner_account_delete(
                request.user,
                password_confirmation=delete_form.cleaned_data["password"],
                request=request,
                channel=DataRightsEvent.Channel.WEB,
            )
        except privacy_services.PasswordConfirmationError as exc:
            delete_form.add_error("password", exc.message)
            return _settings_page(request, delete_form=delete_form, status=429 if exc.locked else 400)
        except NotALearnerError as exc:
            messages.warning(request, exc.message)
            return redirect("learn:settings")
        logout(request)
        context = {"message": deletion_message(trained_row_masked=receipt.trained_row_masked), "receipt": receipt}
        return render(request, "learn/settings_deleted.html", context)
    return _error_page(
        request,
        title="Unknown settings action",
        message="Use the buttons on the settings page: save the training choice, or delete the account.",
        status=400,
    )


@login_required(login_url=LOGIN)
@require_GET
def settings_download(request: HttpRequest) -> HttpResponse:
    """Everything the platform holds about the signed-in account, as a JSON file (audited)."""
    export = privacy_services.learner_data_export_deliver(request.user, channel=DataRightsEvent.Channel.WEB)
    return export_download_response(export)
