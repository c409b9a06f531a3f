from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from learning_platform import views

admin.site.site_header = "Leitmotif curator admin"
admin.site.site_title = "Leitmotif"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("", include("learning_platform.learn.urls")),
    path("learn/", include("curriculum.urls")),
    path("practice/", include("practice.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("learning_platform.api_urls")),
    # OpenAPI 3 schema and Swagger UI (assets served locally from drf-spectacular-sidecar).
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
