"""The versioned REST API, mounted at ``/api/v1/`` by ``learning_platform/urls.py``.

Composition lives here, at the top of the map, so that :mod:`api` (the shared plumbing every app's API
imports) stays a low layer: each app owns its routes and this module only stacks them, in the order
the OpenAPI schema lists them.
"""

from django.urls import include, path, re_path

from api import views as api_views

app_name = "api"

urlpatterns = [
    path("health/", api_views.HealthView.as_view(), name="health"),
    path("", include("recommender.api.urls")),
    path("", include("kg.api.urls")),
    path("ingestion/", include("ingestion.api.urls")),
    path("audio", include("audio.api_urls")),
    path("learning/", include("curriculum.api_urls")),
    path("me/data/", include("privacy.api_urls")),
    path("practice/", include("practice.api_urls")),
    path("jobs/", include("jobs.api_urls")),
    # Last: anything else under /api/v1/ is a 404 in the error envelope.
    re_path(r"^(?P<unmatched>.*)$", api_views.api_not_found, name="not-found"),
]
