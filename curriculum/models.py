"""Learner progress: a profile (level, instruments) and mastery per curriculum concept.

Why concepts are referenced by graph entity id and not by a foreign key: the curriculum lives in the
knowledge graph (sql or Neo4j behind the store interface), not in these tables. A mastery row whose
concept was later removed from the graph is simply ignored by the selectors, never an error.

Completed courses are not copied here: a ``complete`` :class:`~catalog.models.Interaction`
(recorded from any page or the API) counts at read time toward the concepts the course teaches (see
:func:`.selectors.learner_mastery`); :func:`.services.lesson_complete` also writes a ``lesson`` row so
the learner's progress page can say where a mastery came from.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from core.db import TimeStampedModel


class LearnerProfile(TimeStampedModel):
    class Level(models.TextChoices):
        BEGINNER = "beginner", "Beginner"
        INTERMEDIATE = "intermediate", "Intermediate"
        ADVANCED = "advanced", "Advanced"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="learner_profile")
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.BEGINNER)
    #: Instrument entity ids (``leitmotif:instrument:guitar``), in the order the learner gave them.
    instruments = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.level})"


class ConceptMastery(models.Model):
    """How well a learner knows one concept (0 = not at all, 1 = fully), and the latest evidence for it."""

    class Source(models.TextChoices):
        SELF_ASSESSED = "self", "Self-assessed"
        QUIZ = "quiz", "Quiz"
        LESSON = "lesson", "Completed lesson"
        PRACTICE = "practice", "Practice feedback"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="concept_mastery")
    #: Graph entity id of the concept, e.g. ``leitmotif:concept:intervals``.
    concept_id = models.CharField(max_length=255)
    mastery = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    source = models.CharField(max_length=16, choices=Source.choices)
    #: For a lesson: the course entity id that taught it; for a quiz: "2/3"; for practice: "practice session <id>".
    evidence = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name_plural = "concept mastery"
        constraints = [
            models.UniqueConstraint(fields=["user", "concept_id"], name="unique_mastery_per_concept"),
            models.CheckConstraint(
                condition=models.Q(mastery__gte=0.0, mastery__lte=1.0), name="mastery_between_0_and_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.concept_id} {self.mastery:.2f} ({self.source})"
