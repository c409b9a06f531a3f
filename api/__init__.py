"""Shared REST plumbing (app label ``api``): one error envelope and exception handler, the OpenAPI error
tables, permissions, pagination, throttling, the health and not-found endpoints, and API client accounts.

Each app keeps its own ``api.py``/``api/`` (views, serializers, routes) and imports this package; the
routes are stacked by :mod:`learning_platform.api_urls`, at the top of the map, so this package stays low.
Layer: above :mod:`catalog` and :mod:`accounts`, below :mod:`kg`.
"""
