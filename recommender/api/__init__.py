"""Leitmotif's REST API (Django REST framework), versioned under ``/api/v1/``.

Layout: ``serializers`` (small input/output shapes), ``views`` (thin: validate, call a selector or a
service, shape), ``permissions`` (learners, read-only clients, staff), ``filters`` (django-filter),
``pagination``, ``throttling``, ``exceptions`` (one error envelope), ``urls``. Business logic lives in
:mod:`recommender.serving` and the catalog/graph selectors.
"""
