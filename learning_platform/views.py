"""The site's front door (a welcome for visitors and learners) and the curators' data dashboard.

Why two pages: a visitor needs to learn what Leitmotif does and how to start, a signed-in learner
where to continue; entity and relation counts per type are for the people who curate the data, so
they live at ``/dashboard/`` behind a staff/curator check.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from catalog.selectors import catalog_counts
from kg.selectors import graph_overview
from learning_platform.learn import selectors as learn_selectors


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    context = {
        "numbers": learn_selectors.home_numbers(),
        "interests": learn_selectors.home_interests(request.user),
        "is_curator": learn_selectors.is_curator(request.user),
    }
    return render(request, "home.html", context)


@login_required(login_url="learn:login")
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    """Catalogue and graph counts per type, for staff and curators; a learner gets a 403 page saying so."""
    if not learn_selectors.is_curator(request.user):
        return render(
            request,
            "learn/error.html",
            {
                "title": "For curators only",
                "message": "The data dashboard is for Leitmotif's curators and staff. "
                "Your recommendations and learning are on your For you and My learning pages.",
            },
            status=403,
        )
    overview = graph_overview()
    context = {
        "catalog": catalog_counts(),
        "overview": overview,
        "entities_by_type": sorted(
            (overview.stats.entities_by_type if overview.stats else {}).items(), key=lambda kv: (-kv[1], kv[0])
        ),
        "relations_by_type": sorted(
            (overview.stats.relations_by_type if overview.stats else {}).items(), key=lambda kv: (-kv[1], kv[0])
        ),
    }
    return render(request, "dashboard.html", context)
