"""REST endpoints of text ingestion (``/api/v1/ingestion/``)."""
