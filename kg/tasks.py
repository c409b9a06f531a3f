"""Celery task of the knowledge graph: ``kg.train_kge`` trains (or warm-starts) graph embeddings in a worker.

A thin wrapper around the one-shot ``train_kge`` command (see :mod:`jobs.tasks` for the job row, retries and
limits); each run saves a new versioned artifact and never replaces an old one, so a retried or repeated
run cannot damage what is served.
"""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError

from jobs.tasks import JobContext, JobFailure, job_task
from kg.embeddings.training import limit_torch_threads


@job_task(name="kg.train_kge", max_retries=1, backoff=300.0, soft_time_limit=4 * 3600, time_limit=4 * 3600 + 300)
def train_kge(
    job: JobContext, *, model: str | None = None, epochs: int | None = None, from_checkpoint: str | None = None
) -> dict[str, Any]:
    """Train TransE/ComplEx embeddings on the graph (``model``), or refresh one (``from_checkpoint``: a name or "latest")."""
    limit_torch_threads()
    args = ["--no-progress"]
    if model:
        args += ["--model", model]
    if epochs is not None:
        args += ["--epochs", str(int(epochs))]
    if from_checkpoint:
        args += ["--from-checkpoint", from_checkpoint]
    out = io.StringIO()
    try:
        call_command("train_kge", *args, stdout=out, stderr=out)
    except CommandError as exc:
        raise JobFailure(f"train_kge: {exc}", result={"output": out.getvalue()[-4000:]}) from None
    return {"output": out.getvalue()[-4000:]}
