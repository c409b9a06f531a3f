"""The recommender's REST endpoints under ``/api/v1/``: artists and courses (the catalogue a learner is
recommended from), the learner's ``/me/`` history, interactions, interests, recommendations and plain-English
requests, and ``/users/{id}/`` for staff and read-only clients.

Layout: ``serializers``, ``views`` (thin: validate, call a selector or a service, shape), ``ask``, ``filters``
(django-filter), ``selectors``, ``urls``. The shared plumbing (error envelope, permissions, pagination,
throttling) is :mod:`api`; the graph endpoints are :mod:`kg.api`; :mod:`learning_platform.api_urls` stacks
every app's routes. Business logic lives in :mod:`recommender.serving`.

Why artists and courses are here and not in :mod:`catalog`: their responses use the shared API plumbing
(a layer above catalog) and the course ``?instrument=`` filter reads the graph.
"""
