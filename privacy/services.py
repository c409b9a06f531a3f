"""Writes of a learner's data rights: an audited export, deleting the account and all of it, the training opt-out.

**Deleting an account** (:func:`learner_account_delete`) removes, in one transaction, the user and every row
that references them or their ``Listener`` (the same models :func:`privacy.selectors.learner_data_export`
lists): listens, interactions, interests, tag assignments, friendships, the listener itself (its foreign
key to the user is ``SET_NULL``, so deleting the user alone would leave the listening behind), profile,
mastery, API tokens, ingestion jobs they submitted (their documents stay in the shared knowledge base,
detached from the job), django-axes login records for the username, and admin log entries. Graph edits
and fact reviews they made as a curator stay, without the actor (the foreign key is ``SET_NULL``): the
graph's history must stay readable. One :class:`~privacy.models.DataRightsEvent` records how many rows of
each model went, under an opaque subject reference, and nothing else.

**How the recommender forgets them.** Serving reads a learner's history from the database on every
request (:mod:`recommender.serving.selectors`), and its process caches hold items, courses and the graph,
never a learner. So:

* a learner who signed up after the published model was trained is *fold-in only*: the model has no row
  for them, and once their rows are deleted nothing served can use or show them;
* a learner who was in the last training has a *trained user row* inside the published artifact (an id
  embedding and a copy of their history and behaviour features, next to their listener id in
  ``user_ids.json``), and their listening shaped the co-listening statistics. A checksummed artifact is
  not edited in place; instead the row is **masked** until a retrain without them is published:
  a :class:`~privacy.models.ForgottenListener` entry names the listener id, this process drops the id
  from the loaded model's user index at once (nothing can look the row up again), serving applies the
  mask whenever it loads a model (``privacy.apps`` registers it), and the next retrain leaves them out by
  construction (their listens are gone from the catalog). :func:`forgotten_listeners_prune` drops a mask
  entry once no artifact on disk holds the row; :func:`privacy.selectors.forgetting_status` says which
  artifacts still do (``python manage.py privacy_forgetting``).

The training opt-out (:func:`training_opt_out_set`) is a flag on the learner's ``Listener``;
:meth:`recommender.data.InteractionDataset.from_catalog` leaves opted-out listeners out, so it is honoured
by the next retrain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.auth import authenticate, get_user_model
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest

from accounts.services import is_learner
from catalog.models import Friendship, Interaction, Interest, Listen, Listener, TagAssignment
from core.errors import NotALearnerError
from curriculum.models import ConceptMastery, LearnerProfile
from ingestion.models import IngestionJob
from jobs.models import Job
from practice.models import PracticeSession
from privacy import selectors
from privacy.models import DataRightsEvent, ForgottenListener

logger = logging.getLogger(__name__)

STAFF_DELETE_REFUSED = (
    "Staff, curator and API-client accounts are removed by an administrator in the admin (Users), not from the "
    "learner settings: their graph edits and reviews must stay attributable until then."
)
NOT_A_LEARNER_OPT_OUT = (
    "Only learner accounts have a listening history that could train the recommender; this staff, curator or "
    "API-client account has nothing to opt out of."
)


class PasswordConfirmationError(Exception):
    """The current password was missing or wrong (``locked``: too many wrong passwords, try again later)."""

    def __init__(self, message: str, *, locked: bool = False, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.locked = locked
        self.retry_after = retry_after


def _audit(
    action: str, *, user_id: int, channel: str, counts: dict[str, int] | None = None, details: dict | None = None
) -> DataRightsEvent:
    return DataRightsEvent.objects.create(
        action=action,
        channel=channel,
        subject=selectors.subject_reference(user_id),
        counts=counts or {},
        details=details or {},
    )


# --- export ------------------------------------------------------------------------------------------------


def learner_data_export_deliver(user: Any, *, channel: str = DataRightsEvent.Channel.OTHER) -> dict[str, Any]:
    """:func:`privacy.selectors.learner_data_export`, recorded in the audit trail (counts only)."""
    export = selectors.learner_data_export(user)
    _audit(DataRightsEvent.Action.EXPORT, user_id=user.pk, channel=channel, counts=export["counts"])
    return export


# --- deletion ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletionReceipt:
    """What went: rows per model, whether a trained model row is masked until the next retrain, the audit id."""

    deleted: dict[str, int]
    anonymised: dict[str, int]
    trained_row_masked: bool
    artifacts: list[str] = field(default_factory=list)
    audit_event: int | None = None

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def _password_confirmed(user: Any, password: str, request: HttpRequest | None) -> None:
    """Raise :class:`PasswordConfirmationError` unless ``password`` is the user's current one.

    With a request, the check goes through :func:`django.contrib.auth.authenticate`, so django-axes counts a
    wrong password against (username, address) exactly as on the login form, and refuses even the right one
    once the lockout starts: a stolen session cannot guess its way to deleting the account.
    """
    if not isinstance(password, str) or password == "":
        raise PasswordConfirmationError("Type your current password to confirm that you want to delete the account.")
    if request is None:
        if user.check_password(password):
            return
        raise PasswordConfirmationError("That is not your current password; nothing was deleted.")
    confirmed = authenticate(request, username=user.get_username(), password=password)
    if getattr(request, "axes_locked_out", False):
        # Answer it here (an API envelope, a form message) instead of axes' HTML lockout page.
        setattr(request, "axes_locked_out", False)  # noqa: B010 - an attribute axes adds to the request
        from django.conf import settings

        cooloff = getattr(settings, "AXES_COOLOFF_TIME", None)
        seconds = int(cooloff.total_seconds()) if cooloff is not None else None
        minutes = f" in {max(1, (seconds or 60) // 60)} minutes" if seconds else " later"
        raise PasswordConfirmationError(
            f"Too many wrong passwords: try again{minutes}. Nothing was deleted.", locked=True, retry_after=seconds
        )
    if confirmed is None or confirmed.pk != user.pk:
        raise PasswordConfirmationError("That is not your current password; nothing was deleted.")


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for label, n in counts.items():
        if n:
            total[label] = total.get(label, 0) + n


def learner_account_delete(
    user: Any,
    *,
    password_confirmation: str | None,
    request: HttpRequest | None = None,
    channel: str = DataRightsEvent.Channel.OTHER,
) -> DeletionReceipt:
    """Delete ``user`` and everything theirs in one transaction, after confirming their current password.

    Refusals: a staff, curator or API-client account → :class:`~core.errors.NotALearnerError` (an
    administrator removes those); a missing or wrong password → :class:`PasswordConfirmationError` (audited
    as ``delete_refused``; nothing changes). See the module docstring for what is deleted and how the
    published model forgets the learner.
    """
    if not is_learner(user):
        raise NotALearnerError(STAFF_DELETE_REFUSED)
    try:
        _password_confirmed(user, password_confirmation or "", request)
    except PasswordConfirmationError as exc:
        _audit(
            DataRightsEvent.Action.DELETE_REFUSED,
            user_id=user.pk,
            channel=channel,
            details={"reason": "locked" if exc.locked else ("missing" if not password_confirmation else "wrong")},
        )
        raise

    user_id = user.pk
    User = get_user_model()
    deleted: dict[str, int] = {}
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        listener = Listener.objects.filter(user=user).first()
        held = selectors.artifacts_with_trained_rows([listener.pk]) if listener is not None else []
        anonymised = {
            "kg.CurationEvent": user.curationevent_set.count(),
            "ingestion.ExtractedFact": user.extractedfact_set.count(),
        }
        if listener is not None:
            for queryset in (
                Interaction.objects.filter(listener=listener),
                Interest.objects.filter(listener=listener),
                Listen.objects.filter(listener=listener),
                TagAssignment.objects.filter(listener=listener),
                Friendship.objects.filter(Q(listener=listener) | Q(friend=listener)),
                Listener.objects.filter(pk=listener.pk),
            ):
                _add(deleted, queryset.delete()[1])
        _add(deleted, IngestionJob.objects.filter(submitted_by=user).delete()[1])
        _add(deleted, PracticeSession.objects.filter(user=user).delete()[1])  # and their feedback
        _add(deleted, Job.objects.filter(submitted_by=user).delete()[1])
        _add(deleted, LearnerProfile.objects.filter(user=user).delete()[1])
        _add(deleted, ConceptMastery.objects.filter(user=user).delete()[1])
        _add(deleted, LogEntry.objects.filter(user=user).delete()[1])
        for model in selectors.axes_models():
            _add(deleted, model.objects.filter(username=user.get_username()).delete()[1])
        _add(deleted, User.objects.filter(pk=user_id).delete()[1])  # token, groups, permissions cascade
        if held and listener is not None:
            ForgottenListener.objects.get_or_create(listener_id=listener.pk)
        event = _audit(
            DataRightsEvent.Action.DELETE,
            user_id=user_id,
            channel=channel,
            counts=dict(sorted(deleted.items())),
            details={
                "anonymised": {label: n for label, n in anonymised.items() if n},
                "trained_row_masked": bool(held),
                "artifacts": [h.artifact for h in held],
                "published_model_held_row": any(h.published for h in held),
            },
        )
        if held and listener is not None:
            listener_id = listener.pk
            transaction.on_commit(lambda: unload_trained_rows([listener_id]))
        transaction.on_commit(lambda: _practice_recordings_delete(user_id))
    return DeletionReceipt(
        deleted=dict(sorted(deleted.items())),
        anonymised={label: n for label, n in anonymised.items() if n},
        trained_row_masked=bool(held),
        artifacts=[h.artifact for h in held],
        audit_event=event.pk,
    )


def _practice_recordings_delete(user_id: int) -> None:
    from practice.services import recordings_delete

    recordings_delete(user_id)


def unload_trained_rows(listener_ids: Iterable[int]) -> None:
    """Make this process's loaded model forget the trained rows of ``listener_ids`` (no lookup can reach them).

    A model loaded later (another process, a reload) drops them through the persisted mask
    (:func:`privacy.selectors.forgotten_listener_ids`, registered with :mod:`recommender.serving.masks`).
    """
    from recommender.serving.model_holder import model_holder

    model_holder().forget_listeners([int(pk) for pk in listener_ids])


def forgotten_listeners_prune() -> int:
    """Drop mask entries whose rows no recommender artifact on disk holds any more; returns how many went.

    Run after a retrain without the deleted learners is published and the older artifacts are removed.
    """
    masked = selectors.forgotten_listener_ids()
    still_held: set[int] = set()
    for held in selectors.artifacts_with_trained_rows(masked):
        still_held.update(held.listener_ids)
    gone = masked - still_held
    if gone:
        ForgottenListener.objects.filter(listener_id__in=gone).delete()
    return len(gone)


# --- training opt-out --------------------------------------------------------------------------------------


def training_opt_out_set(
    user: Any, opted_out: bool, *, channel: str = DataRightsEvent.Channel.OTHER
) -> selectors.TrainingOptOutState:
    """Record the learner's choice to keep (``True``) or allow (``False``) their listening out of training.

    Learners only (:class:`~core.errors.NotALearnerError` otherwise). Audited when the choice changes. The
    next retrain honours it (:meth:`recommender.data.InteractionDataset.from_catalog`); the model serving now
    keeps what it was trained with until then, and recommendations stay personal either way (serving folds
    the learner's own history in at request time).
    """
    if not isinstance(opted_out, bool):
        raise TypeError(f"opted_out must be True or False, got {opted_out!r}.")
    if not is_learner(user):
        raise NotALearnerError(NOT_A_LEARNER_OPT_OUT)
    from recommender.serving.services import learner_listener

    with transaction.atomic():
        listener = learner_listener(user)
        listener = Listener.objects.select_for_update().get(pk=listener.pk)
        if listener.training_opt_out != opted_out:
            listener.training_opt_out = opted_out
            listener.save(update_fields=["training_opt_out", "updated_at"])
            _audit(
                DataRightsEvent.Action.TRAINING_OPT_OUT if opted_out else DataRightsEvent.Action.TRAINING_OPT_IN,
                user_id=user.pk,
                channel=channel,
            )
    return selectors.training_opt_out_state(user)
