"""The Celery application: one task queue for all background work (ingestion jobs, audio analysis, retraining,
refresh, graph-embedding training), configured from the ``CELERY_*`` Django settings.

Run a worker and the scheduler (``docker/compose.yaml`` services ``worker`` and ``beat``)::

    celery -A learning_platform worker --loglevel=INFO --concurrency=1
    celery -A learning_platform beat --loglevel=INFO

Without ``CELERY_BROKER_URL`` the settings make every task run eagerly in the calling process (the
zero-setup first run needs no Redis); with it, the web process only queues messages. Tasks live in each
app's ``tasks.py`` and are found by autodiscovery; the job-row bookkeeping they share is :mod:`jobs.tasks`.
"""

from __future__ import annotations

import os

from celery import Celery  # type: ignore[import-untyped]

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")

app = Celery("leitmotif")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
