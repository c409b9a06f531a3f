"""The job record: what was asked of the task queue and what became of it.

Why a row of our own and not Celery's result backend: results in Redis expire and say nothing about
who asked, and the API and admin must answer "what happened to my job?" days later. The row's id is the
Celery task id, so a log line, a broker message and the row name the same thing.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from core.db import TimeStampedModel


class Job(TimeStampedModel):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        RETRYING = "retrying"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    #: Statuses from which a worker may (re)start the job; a finished job is never run again.
    STARTABLE = (Status.QUEUED, Status.RETRYING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task_name = models.CharField(max_length=200, db_index=True)
    arguments = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=1)
    progress = models.FloatField(default=0.0, help_text="0 to 1")
    progress_message = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0.0) & models.Q(progress__lte=1.0), name="job_progress_0_to_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} {self.pk} ({self.status})"
