"""The task-queue tests' fixtures: a real Redis broker and Celery worker (:mod:`tests.helpers.task_queue`)."""

from tests.helpers.task_queue import celery_worker, redis_broker, wait_for  # noqa: F401
