"""The Django project and the learner's web pages: settings, URL composition (pages and
``/api/v1/`` in :mod:`learning_platform.api_urls`), WSGI/ASGI, the home page, and :mod:`learning_platform.learn`.

Layer: the top of the map; it may import every package, and nothing imports it.
"""
