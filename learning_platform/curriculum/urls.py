"""Learner web pages of the curriculum (mounted at ``/learn/`` by ``learning_platform/urls.py``)."""
app_name = "curriculum"
urlpatterns: list = []
