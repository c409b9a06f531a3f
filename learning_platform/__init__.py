"""The Django project and the learner's web pages: settings, URL composition (pages and
``/api/v1/`` in :mod:`learning_platform.api_urls`), WSGI/ASGI, the home page, and :mod:`learning_platform.learn`.

Layer: the top of the map; it may import every package, and nothing imports it.

The Celery app is imported here so that it is the current app in every process that loads Django (web,
commands, tests) and ``shared_task`` tasks bind to it.
"""

from learning_platform.celery import app as celery_app

__all__ = ["celery_app"]
