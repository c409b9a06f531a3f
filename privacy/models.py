"""What the data-rights features keep: an audit trail that holds no personal data, and the forgetting mask.

Why the audit never points at the user: the row must outlive the account it describes, and a foreign key
(or a copied username, e-mail, listening row) would keep exactly what the learner asked to remove. A
:class:`DataRightsEvent` holds an opaque subject reference instead (a keyed hash of the user id, see
:func:`privacy.selectors.subject_reference`), the action, when, through which channel, and *counts* of
rows exported or deleted per model, never their content.

Why :class:`ForgottenListener` keeps a listener id at all: a learner who was in the last training has a
trained user row (an id embedding, a copy of their history and behaviour features) inside the published
recommender artifact. That row cannot be edited out of a checksummed artifact without retraining, so it
is masked until a retrain without them is published: serving must never use the row again, and
:func:`privacy.services.forgotten_listeners_prune` drops the mask entry as soon as no artifact on disk
still holds the row. The id is an internal surrogate key, not linked to the audit trail.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class DataRightsEvent(models.Model):
    """One data-rights action (export, deletion, refused deletion, training opt-out/in), without the data."""

    class Action(models.TextChoices):
        EXPORT = "export", "Data exported"
        DELETE = "delete", "Account deleted"
        DELETE_REFUSED = "delete_refused", "Deletion refused (password)"
        TRAINING_OPT_OUT = "training_opt_out", "Opted out of training"
        TRAINING_OPT_IN = "training_opt_in", "Opted back into training"

    class Channel(models.TextChoices):
        API = "api", "REST API"
        WEB = "web", "Settings page"
        OTHER = "other", "Other (code, command)"

    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.OTHER)
    #: Keyed hash of the user id (HMAC-SHA256 with the site's secret key): links one subject's events
    #: without naming them; it cannot be turned back into the id without the key and a guess.
    subject = models.CharField(max_length=64, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    #: Rows per model (``{"catalog.Listen": 12, ...}``): how many were exported or deleted, never which.
    counts = models.JSONField(default=dict, blank=True)
    #: Non-personal facts about the action, e.g. which model artifacts still held a trained row.
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.subject[:12]}…"


class ForgottenListener(models.Model):
    """A deleted listener whose trained user row is still inside a recommender artifact: never use it again."""

    listener_id = models.PositiveBigIntegerField(unique=True)
    forgotten_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["forgotten_at", "listener_id"]

    def __str__(self) -> str:
        return f"listener {self.listener_id} (forgotten {self.forgotten_at:%Y-%m-%d})"
