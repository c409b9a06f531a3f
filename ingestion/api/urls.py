"""Routes under ``/api/v1/ingestion/`` (mounted by ``recommender/api/urls.py``)."""
urlpatterns: list = []
