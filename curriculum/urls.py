"""Learner web pages of the curriculum (mounted at ``/learn/`` by ``learning_platform/urls.py``)."""

from django.urls import path

from curriculum import views

app_name = "curriculum"

urlpatterns = [
    path("", views.my_learning, name="my_learning"),
    path("goals/", views.goals, name="goals"),
    path("path/", views.path, name="path"),
    path("quiz/", views.quiz, name="quiz"),
    path("profile/", views.profile, name="profile"),
    path("mastery/", views.mastery, name="mastery"),
    path("lessons/complete/", views.lesson, name="lesson_complete"),
]
