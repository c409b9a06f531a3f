"""Practice pages, included at ``/practice/`` (names under the ``practice:`` namespace)."""

from django.urls import path

from practice import views

app_name = "practice"

urlpatterns = [
    path("", views.practice_page, name="practice"),
    path("works/<int:pk>/reference", views.reference_audio, name="reference"),
    path("sessions/<int:pk>/", views.session_page, name="session"),
]
