"""Routes under ``/api/v1/audio`` (mounted by ``recommender/api/urls.py``)."""
urlpatterns: list = []
