"""A learner's practice sessions (one recording of one work) and the feedback on each.

Why the recording is a file under ``LEITMOTIF_ARTIFACTS_DIR/practice/`` with its SHA-256, not a
``FileField`` in MEDIA: the project keeps learner-derived binaries with the other artifacts (one
folder to back up, export and delete), and the checksum lets an analysis prove which bytes it judged.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from catalog.models import Work
from core.db import TimeStampedModel


class PracticeSession(TimeStampedModel):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Analysing"
        SUCCEEDED = "succeeded", "Feedback ready"
        FAILED = "failed", "Could not analyse"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="practice_sessions")
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="practice_sessions")
    #: Relative to ``settings.LEITMOTIF_ARTIFACTS_DIR``.
    audio_path = models.CharField(max_length=500)
    audio_sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255, blank=True)
    duration_seconds = models.FloatField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    #: 0..1 while the analysis runs, with the current stage in words.
    progress = models.FloatField(default=0)
    stage = models.CharField(max_length=64, blank=True)
    #: For a failed session: the catalogue code and the message that says what to do.
    error_code = models.CharField(max_length=8, blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0.0, progress__lte=1.0), name="practice_progress_0_1"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} practising {self.work} ({self.status})"


class PracticeFeedback(TimeStampedModel):
    """The structured result: per-dimension scores, located note errors, bars, sentences, concepts, next step."""

    session = models.OneToOneField(PracticeSession, on_delete=models.CASCADE, related_name="feedback")
    #: ``{"pitch": 0.93, "rhythm_timing": …, "tempo_stability": …, "dynamics": …, "articulation": …, "expression": …}``
    dimensions = models.JSONField(default=dict)
    #: ``[{"kind": "wrong", "bar": 6, "time": 12.3, "expected": "F#4", "played": "F4"}, …]``
    note_errors = models.JSONField(default=list)
    bars = models.JSONField(default=list)
    figures = models.JSONField(default=dict)
    sentences = models.JSONField(default=list)
    #: ``[{"concept_id": …, "name": …, "dimension": …, "mastery_before": …, "mastery_after": …}]``
    concepts = models.JSONField(default=list)
    next_step = models.JSONField(default=dict, blank=True)
    overall = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"feedback on {self.session_id} ({self.overall:.2f})"
