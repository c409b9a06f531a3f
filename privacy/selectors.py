"""Reads of a learner's data rights: everything the platform holds about one account, and what models still hold.

:func:`learner_data_export` gathers every row that references the user or their ``Listener`` — found by
following every foreign key to ``AUTH_USER_MODEL`` and to ``Listener`` (``tests/privacy`` checks that no
model referencing either is left out, so a new one fails the test until it is exported and deleted):

============================  =====================================================================
section                       rows
============================  =====================================================================
``account``                   ``auth.User`` (never the password hash) and its groups
``profile``                   ``curriculum.LearnerProfile`` (level, instruments)
``listener``                  ``catalog.Listener`` (with the training opt-out)
``interests``                 ``catalog.Interest`` (onboarding picks)
``listens``                   ``catalog.Listen`` (play counts)
``interactions``              ``catalog.Interaction`` (listen/like/skip/enroll/complete events)
``progress``                  courses enrolled in and completed (derived from the interactions)
``mastery``                   ``curriculum.ConceptMastery``
``tag_assignments``           ``catalog.TagAssignment`` (Last.FM listeners' tags)
``friendships``               ``catalog.Friendship`` both ways (the other side as a listener id)
``ingestion_jobs``            ``ingestion.IngestionJob`` submitted, with their documents' names and hashes
``api_tokens``                ``authtoken.Token``: created time and ``abcd…`` (never the key)
``login_records``             django-axes attempts, failures and logins recorded for the username
``curation``                  ``kg.CurationEvent`` (actor) and ``ingestion.ExtractedFact`` (decided by)
``admin_log``                 ``admin.LogEntry``
``models``                    recommender artifacts that hold a trained user row for the listener
``data_rights_events``        this account's own audit trail (exports, opt-outs)
============================  =====================================================================

Why the recommender artifacts are listed: a learner who was in a training run has a user row in that
model (see :mod:`privacy.services` for how it is forgotten); that is data the platform holds too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.contrib.admin.models import LogEntry
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework.authtoken.models import Token

from catalog.models import Friendship, Interaction, Interest, Listen, Listener, TagAssignment
from core.errors import LeitmotifError
from curriculum.models import ConceptMastery, LearnerProfile
from ingestion.models import ExtractedFact, IngestionJob, SourceDocument
from jobs.models import Job
from kg.models import CurationEvent
from practice.models import PracticeSession
from privacy.models import DataRightsEvent, ForgottenListener

EXPORT_SCHEMA = "leitmotif.learner-data-export"
EXPORT_SCHEMA_VERSION = 1
#: Characters of an API token shown in the export (the rest is never revealed).
TOKEN_PREFIX_CHARS = 4
_SUBJECT_SALT = "leitmotif.privacy.subject"
#: Every model with a foreign key to the user or to their ``Listener``: exported here and deleted (or, for a
#: curator's graph edits and reviews, kept without the author) by :func:`privacy.services.learner_account_delete`.
#: ``tests/privacy`` fails when a model referencing either is missing, so a new one cannot be forgotten.
COVERED_MODELS = frozenset(
    {
        "admin.LogEntry",
        "authtoken.Token",
        "catalog.Listener",
        "catalog.Listen",
        "catalog.TagAssignment",
        "catalog.Friendship",
        "catalog.Interaction",
        "catalog.Interest",
        "curriculum.LearnerProfile",
        "curriculum.ConceptMastery",
        "ingestion.IngestionJob",
        "ingestion.ExtractedFact",
        "jobs.Job",
        "practice.PracticeSession",
        "kg.CurationEvent",
    }
)


def subject_reference(user_id: int) -> str:
    """The opaque reference the audit trail uses for a user: HMAC-SHA256 of the id under the secret key.

    The same user always gets the same reference (so one subject's events can be read together), but the
    reference names nobody: recovering the id needs the site's secret key and a guess.
    """
    return salted_hmac(_SUBJECT_SALT, str(int(user_id)), algorithm="sha256").hexdigest()


def masked_token_key(key: str) -> str:
    """``abcd…``: enough to tell one's tokens apart, useless to authenticate with."""
    return f"{key[:TOKEN_PREFIX_CHARS]}…" if key else ""


def _when(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _artist(artist: Any) -> dict[str, Any] | None:
    if artist is None:
        return None
    return {"id": artist.pk, "name": artist.name, "entity_id": artist.entity_id}


def _course(course: Any) -> dict[str, Any] | None:
    if course is None:
        return None
    return {"id": course.pk, "title": course.title, "entity_id": course.entity_id}


# --- the export ----------------------------------------------------------------------------------------


def learner_data_export(user: Any) -> dict[str, Any]:
    """Everything the platform holds about ``user``, as JSON-ready data (see the module docstring).

    ``counts`` says how many rows of each model the export holds (the audit trail records only those
    numbers). Reads only: nothing is created for an account without a listener or a profile.
    """
    listener = Listener.objects.filter(user=user).first()
    counts: dict[str, int] = {"auth.User": 1}

    def counted(label: str, rows: list[Any]) -> list[Any]:
        if rows:
            counts[label] = counts.get(label, 0) + len(rows)
        return rows

    profile = LearnerProfile.objects.filter(user=user).first()
    if profile is not None:
        counts["curriculum.LearnerProfile"] = 1
    if listener is not None:
        counts["catalog.Listener"] = 1
    interactions = _interactions(listener)
    export: dict[str, Any] = {
        "schema": EXPORT_SCHEMA,
        "schema_version": EXPORT_SCHEMA_VERSION,
        "generated_at": timezone.now().isoformat(),
        "account": _account(user),
        "profile": _profile(profile),
        "listener": _listener(listener),
        "interests": counted("catalog.Interest", _interests(listener)),
        "listens": counted("catalog.Listen", _listens(listener)),
        "interactions": counted("catalog.Interaction", interactions),
        "progress": _progress(interactions),
        "mastery": counted("curriculum.ConceptMastery", _mastery(user)),
        "tag_assignments": counted("catalog.TagAssignment", _tag_assignments(listener)),
        "friendships": counted("catalog.Friendship", _friendships(listener)),
        "ingestion_jobs": counted("ingestion.IngestionJob", _ingestion_jobs(user)),
        "practice_sessions": counted("practice.PracticeSession", _practice_sessions(user)),
        "background_jobs": counted("jobs.Job", _background_jobs(user)),
        "api_tokens": counted("authtoken.Token", _tokens(user)),
        "login_records": _login_records(user, counted),
        "curation": {
            "graph_changes": counted("kg.CurationEvent", _curation_events(user)),
            "reviewed_facts": counted("ingestion.ExtractedFact", _reviewed_facts(user)),
        },
        "admin_log": counted("admin.LogEntry", _admin_log(user)),
        "models": {
            "trained_user_rows": [
                {"artifact": held.artifact, "published": held.published}
                for held in artifacts_with_trained_rows([listener.pk] if listener is not None else [])
            ],
        },
        "data_rights_events": counted("privacy.DataRightsEvent", _own_events(user)),
        "notes": [
            "The password is never exported (only whether one is set); API tokens are shown as their first "
            f"{TOKEN_PREFIX_CHARS} characters.",
            "Ingested documents are listed by name and content hash: their text belongs to the shared knowledge base.",
            "models.trained_user_rows lists recommender models that were trained with your listening.",
        ],
    }
    export["counts"] = dict(sorted(counts.items()))
    return export


def _account(user: Any) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.get_username(),
        "email": getattr(user, "email", ""),
        "first_name": getattr(user, "first_name", ""),
        "last_name": getattr(user, "last_name", ""),
        "date_joined": _when(getattr(user, "date_joined", None)),
        "last_login": _when(getattr(user, "last_login", None)),
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "has_password": user.has_usable_password(),
    }


def _profile(profile: LearnerProfile | None) -> dict[str, Any] | None:
    if profile is None:
        return None
    return {
        "level": profile.level,
        "instruments": list(profile.instruments or []),
        "created_at": _when(profile.created_at),
        "updated_at": _when(profile.updated_at),
    }


def _listener(listener: Listener | None) -> dict[str, Any] | None:
    if listener is None:
        return None
    return {
        "id": listener.pk,
        "lastfm_id": listener.lastfm_id,
        "training_opt_out": listener.training_opt_out,
        "created_at": _when(listener.created_at),
        "updated_at": _when(listener.updated_at),
    }


def _interests(listener: Listener | None) -> list[dict[str, Any]]:
    if listener is None:
        return []
    return [
        {"entity_id": i.entity_id, "name": i.name, "entity_type": i.entity_type, "created_at": _when(i.created_at)}
        for i in Interest.objects.filter(listener=listener).order_by("name", "entity_id")
    ]


def _listens(listener: Listener | None) -> list[dict[str, Any]]:
    if listener is None:
        return []
    return [
        {
            "artist": _artist(row.artist),
            "play_count": row.play_count,
            "created_at": _when(row.created_at),
            "updated_at": _when(row.updated_at),
        }
        for row in Listen.objects.filter(listener=listener).select_related("artist").order_by("artist__name", "pk")
    ]


def _interactions(listener: Listener | None) -> list[dict[str, Any]]:
    if listener is None:
        return []
    return [
        {
            "id": row.pk,
            "kind": row.kind,
            "artist": _artist(row.artist),
            "course": _course(row.course),
            "created_at": _when(row.created_at),
        }
        for row in Interaction.objects.filter(listener=listener)
        .select_related("artist", "course")
        .order_by("created_at", "id")
    ]


def _progress(interactions: list[dict[str, Any]]) -> dict[str, Any]:
    """Courses enrolled in and completed, from the event log (mastery rows are under ``mastery``)."""
    enrolled: dict[int, dict[str, Any]] = {}
    completed: dict[int, dict[str, Any]] = {}
    for event in interactions:  # oldest first
        course = event["course"]
        if course is None:
            continue
        target = completed if event["kind"] == Interaction.Kind.COMPLETE else enrolled
        target.setdefault(course["id"], {"course": course, "at": event["created_at"]})
    return {
        "courses_enrolled": list(enrolled.values()),
        "courses_completed": list(completed.values()),
    }


def _mastery(user: Any) -> list[dict[str, Any]]:
    return [
        {
            "concept_id": row.concept_id,
            "mastery": row.mastery,
            "source": row.source,
            "evidence": row.evidence,
            "created_at": _when(row.created_at),
            "updated_at": _when(row.updated_at),
        }
        for row in ConceptMastery.objects.filter(user=user).order_by("concept_id")
    ]


def _tag_assignments(listener: Listener | None) -> list[dict[str, Any]]:
    if listener is None:
        return []
    return [
        {
            "artist": _artist(row.artist),
            "tag": {"id": row.tag.pk, "name": row.tag.name, "entity_id": row.tag.entity_id},
            "tagged_on": _when(row.tagged_on),
        }
        for row in TagAssignment.objects.filter(listener=listener).select_related("artist", "tag").order_by("pk")
    ]


def _friendships(listener: Listener | None) -> list[dict[str, Any]]:
    if listener is None:
        return []
    rows = Friendship.objects.filter(Q(listener=listener) | Q(friend=listener)).order_by("pk")
    return [
        {
            "direction": "yours" if row.listener_id == listener.pk else "theirs",
            "other_listener_id": row.friend_id if row.listener_id == listener.pk else row.listener_id,
            "created_at": _when(row.created_at),
        }
        for row in rows
    ]


def _ingestion_jobs(user: Any) -> list[dict[str, Any]]:
    jobs = list(IngestionJob.objects.filter(submitted_by=user).order_by("created_at"))
    documents: dict[Any, list[dict[str, Any]]] = {}
    for doc in SourceDocument.objects.filter(job__in=jobs).order_by("created_at", "pk"):
        documents.setdefault(doc.job_id, []).append(
            {"name": doc.name, "title": doc.title, "sha256": doc.sha256, "created_at": _when(doc.created_at)}
        )
    return [
        {
            "id": str(job.pk),
            "status": job.status,
            "origin": job.origin,
            "created_at": _when(job.created_at),
            "started_at": _when(job.started_at),
            "finished_at": _when(job.finished_at),
            "options": job.options,
            "summary": job.summary,
            "error": job.error,
            # what is still waiting to be read (emptied when the job is done)
            "payload": job.payload,
            "documents": documents.get(job.pk, []),
        }
        for job in jobs
    ]


def _background_jobs(user: Any) -> list[dict[str, Any]]:
    """The background tasks the account started (ingestion, analysis …): what ran, when and how it ended."""
    return [
        {
            "id": str(job.pk),
            "task": job.task_name,
            "status": job.status,
            "attempts": job.attempts,
            "created_at": _when(job.created_at),
            "finished_at": _when(job.finished_at),
            "error": job.error,
        }
        for job in Job.objects.filter(submitted_by=user).order_by("created_at")
    ]


def _practice_sessions(user: Any) -> list[dict[str, Any]]:
    """Each recording the learner uploaded (by checksum: the file itself is theirs to download from the session) and its feedback."""
    rows = []
    for session in PracticeSession.objects.filter(user=user).select_related("work").order_by("created_at", "pk"):
        feedback = getattr(session, "feedback", None)
        rows.append(
            {
                "id": session.pk,
                "work": session.work.title,
                "created_at": _when(session.created_at),
                "status": session.status,
                "original_name": session.original_name,
                "duration_seconds": session.duration_seconds,
                "audio_sha256": session.audio_sha256,
                "feedback": None
                if feedback is None
                else {
                    "overall": feedback.overall,
                    "dimensions": feedback.dimensions,
                    "note_errors": feedback.note_errors,
                    "sentences": feedback.sentences,
                    "concepts": feedback.concepts,
                    "next_step": feedback.next_step,
                },
            }
        )
    return rows


def _tokens(user: Any) -> list[dict[str, Any]]:
    return [
        {"key": masked_token_key(token.key), "created": _when(token.created)}
        for token in Token.objects.filter(user=user)
    ]


def axes_models() -> list[Any]:
    """django-axes' per-username record models (empty when axes is not installed)."""
    from django.apps import apps

    if not apps.is_installed("axes"):
        return []
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    return [AccessAttempt, AccessFailureLog, AccessLog]


def _login_records(user: Any, counted: Any) -> dict[str, list[dict[str, Any]]]:
    records: dict[str, list[dict[str, Any]]] = {}
    for model in axes_models():
        rows = []
        for row in model.objects.filter(username=user.get_username()).order_by("attempt_time", "pk"):
            entry = {
                "at": _when(row.attempt_time),
                "ip_address": row.ip_address,
                "user_agent": row.user_agent,
                "path": row.path_info,
            }
            for extra in ("failures_since_start", "locked_out", "logout_time"):
                if hasattr(row, extra):
                    value = getattr(row, extra)
                    entry[extra] = _when(value) if isinstance(value, datetime) else value
            rows.append(entry)
        records[model._meta.model_name] = counted(model._meta.label, rows)
    return records


def _curation_events(user: Any) -> list[dict[str, Any]]:
    return [
        {"action": row.action, "target": row.target, "source": row.source, "at": _when(row.at)}
        for row in CurationEvent.objects.filter(actor=user).order_by("at", "pk")
    ]


def _reviewed_facts(user: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": row.pk,
            "triple": [row.head_entity_id, row.relation_type, row.tail_entity_id],
            "status": row.status,
            "decided_at": _when(row.decided_at),
            "note": row.note,
        }
        for row in ExtractedFact.objects.filter(decided_by=user).order_by("decided_at", "pk")
    ]


def _admin_log(user: Any) -> list[dict[str, Any]]:
    return [
        {
            "at": _when(row.action_time),
            "action": {1: "add", 2: "change", 3: "delete"}.get(row.action_flag, str(row.action_flag)),
            "object": row.object_repr,
            "model": row.content_type.model if row.content_type is not None else None,
            "message": row.get_change_message(),
        }
        for row in LogEntry.objects.filter(user=user).select_related("content_type").order_by("action_time", "pk")
    ]


def _own_events(user: Any) -> list[dict[str, Any]]:
    return [
        {"action": row.action, "channel": row.channel, "at": _when(row.at), "counts": row.counts}
        for row in DataRightsEvent.objects.filter(subject=subject_reference(user.pk)).order_by("at", "pk")
    ]


def learner_data_summary(user: Any) -> list[tuple[str, int]]:
    """What the settings page lists before the download: rows held per kind of data (cheap counts only)."""
    listener = Listener.objects.filter(user=user).first()
    return [
        ("Onboarding interests", _count(Interest, listener)),
        ("Artists listened to", _count(Listen, listener)),
        ("Recorded events (listen, like, skip, enroll, complete)", _count(Interaction, listener)),
        ("Learner profile", LearnerProfile.objects.filter(user=user).count()),
        ("Concept mastery entries", ConceptMastery.objects.filter(user=user).count()),
        ("Ingestion jobs submitted", IngestionJob.objects.filter(submitted_by=user).count()),
        ("API tokens", Token.objects.filter(user=user).count()),
    ]


def _count(model: Any, listener: Listener | None) -> int:
    return model.objects.filter(listener=listener).count() if listener is not None else 0


# --- training opt-out -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingOptOutState:
    """The learner's choice and what it means now.

    ``applies``: the account has a listening history (a listener) that training could use;
    ``in_published_model``: the model serving now was trained with their listening (it keeps it until
    the next retrain, which leaves them out when they opted out).
    """

    training_opt_out: bool
    applies: bool
    in_published_model: bool


def training_opt_out_state(user: Any) -> TrainingOptOutState:
    listener = Listener.objects.filter(user=user).only("pk", "training_opt_out").first()
    if listener is None:
        return TrainingOptOutState(training_opt_out=False, applies=False, in_published_model=False)
    in_published = any(held.published for held in artifacts_with_trained_rows([listener.pk], published_only=True))
    return TrainingOptOutState(
        training_opt_out=listener.training_opt_out, applies=True, in_published_model=in_published
    )


# --- what the recommender artifacts still hold ------------------------------------------------------------


@dataclass(frozen=True)
class HeldRows:
    """A recommender artifact holding trained user rows of some of the listeners asked about."""

    artifact: str
    path: Path
    published: bool
    listener_ids: tuple[int, ...]


def _published_path() -> Path | None:
    from recommender.serving.model_holder import published_artifact

    try:
        path = published_artifact()
    except LeitmotifError:
        return None
    return path.resolve() if path is not None else None


def _artifact_user_ids(path: Path) -> set[int] | None:
    """Listener pks with a user row in the artifact at ``path`` (``None``: unreadable, so assume it may hold any)."""
    from core.artifacts import read_json
    from recommender.training import USER_IDS_FILE

    try:
        ids = read_json(path / USER_IDS_FILE)
        return {int(pk) for pk in ids}
    except (LeitmotifError, TypeError, ValueError):
        return None


def artifacts_with_trained_rows(listener_ids: Iterable[int], *, published_only: bool = False) -> list[HeldRows]:
    """Every recommender artifact on disk (published first) that holds a trained row of one of ``listener_ids``.

    An artifact whose id map cannot be read is reported as holding all of them: when in doubt, mask.
    """
    wanted = {int(pk) for pk in listener_ids}
    if not wanted:
        return []
    from recommender.serving.model_holder import artifact_list

    published = _published_path()
    paths: list[Path] = [] if published is None else [published]
    if not published_only:
        paths += [p.resolve() for p in artifact_list() if p.resolve() != published]
    held: list[HeldRows] = []
    for path in paths:
        ids = _artifact_user_ids(path)
        found = wanted if ids is None else wanted & ids
        if found:
            held.append(
                HeldRows(artifact=path.name, path=path, published=path == published, listener_ids=tuple(sorted(found)))
            )
    return held


def forgotten_listener_ids() -> set[int]:
    """Listener ids whose trained user rows must never be used again (deleted accounts; see :mod:`privacy.models`).

    This is the mask serving consults when it loads a model (see the report to the lead / ``privacy.apps``).
    """
    return set(ForgottenListener.objects.values_list("listener_id", flat=True))


@dataclass(frozen=True)
class ForgettingStatus:
    """Whether every deleted learner is out of every model: ``pending`` lists the artifacts that still hold rows."""

    published: str | None
    masked: int
    pending: list[HeldRows]

    @property
    def retrain_needed(self) -> bool:
        return any(held.published for held in self.pending)


def forgetting_status() -> ForgettingStatus:
    masked = forgotten_listener_ids()
    published = _published_path()
    return ForgettingStatus(
        published=published.name if published is not None else None,
        masked=len(masked),
        pending=artifacts_with_trained_rows(masked),
    )
