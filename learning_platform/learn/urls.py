"""Learner pages, included at the site root after the home page (names under the ``learn:`` namespace)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from learning_platform.learn import views, works

app_name = "learn"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="learn/login.html", next_page="learn:for_you", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="home"), name="logout"),
    path("onboarding/", views.onboarding, name="onboarding"),
    path("interests/add/", views.interest_add, name="interest_add"),
    path("for-you/", views.for_you, name="for_you"),
    path("interactions/", views.interaction, name="interaction"),
    path("artists/<int:pk>/", views.artist_detail, name="artist"),
    path("courses/<int:pk>/", views.course_detail, name="course"),
    path("works/<int:pk>/", works.work_detail, name="work"),
    path("works/<int:pk>/recording", works.work_audio, name="work_audio"),
    path("search/", views.search, name="search"),
    path("history/", views.history, name="history"),
    path("ask/", views.ask, name="ask"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/my-data.json", views.settings_download, name="settings_download"),
]
