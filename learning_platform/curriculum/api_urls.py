"""Routes under ``/api/v1/learning/`` (mounted by ``recommender/api/urls.py``)."""
urlpatterns: list = []
