"""Celery tasks of the recommender: the periodic retrain and refresh (celery beat, ``CELERY_BEAT_SCHEDULE``).

Thin wrappers (see :mod:`jobs.tasks` for the job row, retries and limits): ``recommender.refresh_models``
calls :func:`recommender.refresh.models_refresh`; ``recommender.retrain`` runs the one-shot
``retrain_recommender`` command, whose options are its interface. Both are idempotent in effect: with
``only_if_new_*`` (what beat sends) a second run with nothing new does nothing, and a failed run leaves
the published model untouched. They replace the ``--every`` loops of the commands in the compose stack.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from jobs.tasks import JobContext, JobFailure, job_task
from kg.embeddings.training import limit_torch_threads
from recommender.refresh import models_refresh

#: Training can take hours on small machines; one retry (a later attempt may find the store back).
_SOFT_LIMIT, _HARD_LIMIT = 4 * 3600, 4 * 3600 + 300


@job_task(
    name="recommender.refresh_models", max_retries=1, backoff=300.0, soft_time_limit=_SOFT_LIMIT, time_limit=_HARD_LIMIT
)
def refresh_models(
    job: JobContext,
    *,
    only_if_new_facts: bool = True,
    kge_epochs: int | None = None,
    rec_epochs: int | None = None,
    refresh_kge: bool = True,
    publish: bool = True,
) -> dict[str, Any]:
    """Warm-start the embeddings and the recommender after new graph facts, then publish."""
    limit_torch_threads()
    outcome = models_refresh(
        backend=settings.KG_BACKEND,
        only_if_new_facts=only_if_new_facts,
        kge_epochs=kge_epochs,
        rec_epochs=rec_epochs,
        refresh_kge=refresh_kge,
        publish=publish,
        log=lambda message: job.progress(job.job.progress, message),
    )
    return {
        "refreshed": outcome.refreshed,
        "message": outcome.message,
        "kge_artifact": str(outcome.kge_artifact) if outcome.kge_artifact else None,
        "recommender_artifact": str(outcome.recommender_artifact) if outcome.recommender_artifact else None,
        "published": str(outcome.published) if outcome.published else None,
    }


@job_task(name="recommender.retrain", max_retries=1, backoff=300.0, soft_time_limit=_SOFT_LIMIT, time_limit=_HARD_LIMIT)
def retrain(
    job: JobContext,
    *,
    only_if_new_interactions: bool = True,
    from_checkpoint: str | None = None,
    epochs: int | None = None,
    publish: bool = True,
) -> dict[str, Any]:
    """Retrain the recommender on the current catalog (learners' events included) and publish it."""
    args = ["--no-progress"]
    if only_if_new_interactions:
        args.append("--only-if-new-interactions")
    if from_checkpoint:
        args += ["--from-checkpoint", from_checkpoint]
    if epochs is not None:
        args += ["--epochs", str(int(epochs))]
    if not publish:
        args.append("--no-publish")
    return {"output": _command("retrain_recommender", args)}


def _command(name: str, args: list[str]) -> str:
    """Run a one-shot management command; its refusal (bad option, missing data) fails the job without retries."""
    out = io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=out)
    except CommandError as exc:
        raise JobFailure(f"{name}: {exc}", result={"output": out.getvalue()[-4000:]}) from None
    return out.getvalue()[-4000:]
