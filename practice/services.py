"""Writes of the practice app: accept a recording, analyse it, store the feedback, move the learner's mastery.

Why a recording is judged *before* a session exists (decode, length, noise, and whether it is the
piece at all): a learner who uploads the wrong file or a silent one must hear it at once as a clear 4xx,
not find a failed session later; nothing is stored for it. What follows (note transcription, scoring,
sentences, mastery) is :func:`analyse_session`, a plain function the job runner calls
(:mod:`practice.jobs`), so a command, a task queue or a test runs the same code.

Mastery moves through :func:`curriculum.services.mastery_from_practice` (the curriculum's own write, which
validates the concept against the graph): each practised concept moves :data:`MASTERY_RATE` of the way
from its current value toward the session's score for it, so one bad day does not erase a mastered
concept and one good take does not master it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.services import is_learner
from audio.features import load_audio
from catalog.models import Work
from core.errors import AudioInputError, LeitmotifError, NotALearnerError
from practice import feedback as practice_feedback
from practice.analysis import Analysis, analyse_performance, check_recording
from practice.models import PracticeFeedback, PracticeSession
from practice.reference import PRACTICE_SUBDIR, Reference, load_reference, reference_samples

logger = logging.getLogger(__name__)

MASTERY_RATE = 0.3
NOT_A_LEARNER = (
    "Practice feedback is for learners: staff, curator and API-client accounts have no practice history. "
    "Sign in with a learner account."
)

Progress = Callable[[float, str], None]


def require_practising_learner(user: Any) -> None:
    if not is_learner(user):
        raise NotALearnerError(NOT_A_LEARNER)


def _decode(raw: bytes, *, name: str) -> tuple[np.ndarray, int]:
    rate = int(settings.AUDIO_SAMPLE_RATE)
    clip = load_audio(raw, name=name, sample_rate=rate, allow_truncated=False)
    return np.asarray(clip.samples, dtype=np.float32), rate


def recording_check(raw: bytes, *, work: Work, name: str) -> tuple[Reference, float]:
    """Every refusal a learner can fix, before anything is stored; (the work's reference, recording seconds)."""
    from practice.analysis import WRONG_PIECE_COST, align

    samples, rate = _decode(raw, name=name)
    reference = load_reference(work)
    check_recording(samples, rate, reference_seconds=reference.seconds, name=name)
    alignment = align(reference_samples(reference), samples, rate)
    if alignment.cost > WRONG_PIECE_COST:
        raise AudioInputError(
            f"this does not sound like {work.title!r}: the recording could not be followed along the score. "
            "Check that you picked the right piece and start from its first bar, then record again.",
            path=name,
        )
    return reference, len(samples) / rate


def recording_path(session_user_id: int, sha256: str, suffix: str) -> Path:
    return Path(PRACTICE_SUBDIR) / str(session_user_id) / f"{sha256}{suffix}"


def recordings_delete(user_id: int) -> int:
    """Remove every stored recording of ``user_id`` (their folder under the artifacts); the number of files removed.

    Called after the account's rows are deleted and committed (privacy), so a failed deletion never leaves
    rows that point at missing recordings.
    """
    import shutil

    folder = Path(settings.LEITMOTIF_ARTIFACTS_DIR) / PRACTICE_SUBDIR / str(int(user_id))
    if not folder.is_dir():
        return 0
    removed = sum(1 for path in folder.rglob("*") if path.is_file())
    shutil.rmtree(folder, ignore_errors=True)
    return removed


def session_create(user: Any, *, work: Work, raw: bytes, name: str) -> PracticeSession:
    """Check the recording (:func:`recording_check`), store it by checksum and queue its analysis."""
    from audio.cache import atomic_write_bytes
    from audio.features import sniff_format

    require_practising_learner(user)
    limit = int(settings.AUDIO_MAX_UPLOAD_BYTES)
    if len(raw) > limit:
        raise AudioInputError(
            f"the file is {len(raw) / 1e6:.1f} MB, more than the {limit / 1e6:.1f} MB accepted; record the excerpt only.",
            path=name,
        )
    _, seconds = recording_check(raw, work=work, name=name)
    sha256 = hashlib.sha256(raw).hexdigest()
    suffix = f".{sniff_format(raw) or 'audio'}"
    relative = recording_path(user.pk, sha256, suffix)
    atomic_write_bytes(Path(settings.LEITMOTIF_ARTIFACTS_DIR) / relative, raw)
    return PracticeSession.objects.create(
        user=user,
        work=work,
        audio_path=str(relative),
        audio_sha256=sha256,
        original_name=name[:255],
        duration_seconds=round(seconds, 3),
    )


def _progress_writer(session_id: int, extra: Progress | None) -> Progress:
    def write(fraction: float, stage: str) -> None:
        PracticeSession.objects.filter(pk=session_id).update(
            progress=round(min(max(fraction, 0.0), 1.0), 3), stage=stage[:64]
        )
        if extra is not None:
            extra(fraction, stage)

    return write


def claim_session(session_id: int) -> bool:
    """Mark a queued session as running; ``False`` when another runner took it first."""
    return bool(
        PracticeSession.objects.filter(pk=session_id, status=PracticeSession.Status.QUEUED).update(
            status=PracticeSession.Status.RUNNING, progress=0.05, stage="starting"
        )
    )


def analyse_session(session_id: int, progress: Progress | None = None) -> PracticeSession:
    """Analyse one queued session to the end: feedback stored and mastery moved, or the error recorded."""
    if not claim_session(session_id):
        return PracticeSession.objects.get(pk=session_id)
    session = PracticeSession.objects.select_related("work", "user").get(pk=session_id)
    report = _progress_writer(session_id, progress)
    try:
        report(0.1, "preparing the score")
        raw = (Path(settings.LEITMOTIF_ARTIFACTS_DIR) / session.audio_path).read_bytes()
        if hashlib.sha256(raw).hexdigest() != session.audio_sha256:
            raise AudioInputError(
                "the stored recording changed since it was uploaded; upload it again.", path=session.original_name
            )
        samples, rate = _decode(raw, name=session.original_name or "recording")
        reference = load_reference(session.work)
        analysis = analyse_performance(
            reference,
            reference_samples(reference),
            samples,
            rate,
            name=session.original_name or "recording",
            progress=report,
        )
        feedback_write(session, analysis)
        session.status = PracticeSession.Status.SUCCEEDED
        session.error_code, session.error = "", ""
    except LeitmotifError as exc:
        session.status, session.error_code, session.error = PracticeSession.Status.FAILED, exc.code, exc.message
    except Exception as exc:  # recorded, never raised into a worker loop
        logger.exception("practice session %s failed", session_id)
        session.status, session.error_code, session.error = (
            PracticeSession.Status.FAILED,
            "E000",
            f"{type(exc).__name__}: {exc}",
        )
    session.progress, session.stage, session.finished_at = 1.0, "done", timezone.now()
    session.save(update_fields=["status", "error_code", "error", "progress", "stage", "finished_at", "updated_at"])
    return session


def feedback_write(session: PracticeSession, analysis: Analysis) -> PracticeFeedback:
    """Sentences, concepts (mastery moved), next step; one feedback row per session."""
    sentences, families = practice_feedback.feedback_sentences(analysis, title=session.work.title)
    concepts = practice_feedback.practised_concepts(analysis, families)
    with transaction.atomic():
        concepts, next_step = _curriculum_update(session, concepts, analysis, families)
        overall = float(np.mean(list(analysis.dimensions.values()))) if analysis.dimensions else 0.0
        row, _ = PracticeFeedback.objects.update_or_create(
            session=session,
            defaults={
                "dimensions": analysis.dimensions,
                "note_errors": [e.to_dict() for e in analysis.errors],
                "bars": [b.to_dict() for b in analysis.bars],
                "figures": analysis.figures,
                "sentences": sentences,
                "concepts": concepts,
                "next_step": next_step,
                "overall": round(overall, 3),
            },
        )
    return row


def _curriculum_update(
    session: PracticeSession, concepts: list[dict[str, Any]], analysis: Analysis, families: list[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Move mastery of the practised concepts that the graph holds; pick the next step through the curriculum."""
    from curriculum.graph import curriculum_graph
    from curriculum.selectors import learner_mastery, next_steps
    from curriculum.services import mastery_from_practice
    from kg.stores import get_store

    user = session.user
    with get_store() as store:
        graph = curriculum_graph(store)
        states = learner_mastery(user, graph=graph)
        updated = []
        for item in concepts:
            if item["concept_id"] not in graph:
                continue
            node = graph.concept(item["concept_id"])
            before = states[node.id].mastery if node.id in states else 0.0
            after = round(before + MASTERY_RATE * (item["score"] - before), 4)
            mastery_from_practice(user, node.id, mastery=after, session_id=session.pk, graph=graph)
            updated.append({**item, "name": node.name, "mastery_before": round(before, 4), "mastery_after": after})
        steps = next_steps(user, store=store, graph=graph, limit=5) if graph.concepts else []
    focus = {c["concept_id"] for c in updated if c["focus"]}
    chosen = None
    for step in steps:
        if step.concept.id in focus or focus & set(step.concept.prerequisites):
            chosen = step
            break
    chosen = chosen or (steps[0] if steps else None)
    weakest = min(analysis.dimensions, key=lambda d: analysis.dimensions[d]) if analysis.dimensions else None
    flagged_bars = sorted({e.bar for e in analysis.errors if e.kind != "extra"})[:6]
    next_step: dict[str, Any] = {
        "practice_again": (
            f"Play {practice_feedback.bar_span(flagged_bars)} slowly three times, then the whole excerpt."
            if flagged_bars
            else "Play the excerpt once more a little faster, or pick the next piece."
        ),
        "weakest_dimension": weakest,
    }
    if chosen is not None:
        next_step.update(
            {
                "concept_id": chosen.concept.id,
                "name": chosen.concept.name,
                "explanation": chosen.explanation,
                "courses": [{"title": c.title, "url": c.url} for c in chosen.courses[:3]],
                "artists": [{"name": a.name, "reason": a.reason} for a in chosen.artists[:3]],
            }
        )
    return updated, next_step
