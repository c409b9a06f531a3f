"""The ``catalog.Work`` rows of the loaded works (compare-and-write, one transaction).

Why compare first: ``updated_at`` must move only when a value really changed, so a re-run reports every
row unchanged. Rows of works this run did not load are left alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from audio.works.facts import PreparedWork
from audio.works.tables import ERAS, FORMS
from catalog.models import Work
from kg.schema import work_entity_id
from kg.stores.base import UpsertResult

_WORK_FIELDS = (
    "title",
    "composer_name",
    "era",
    "form",
    "key",
    "metre",
    "instrumentation",
    "voices",
    "collection",
    "corpus_path",
    "corpus_number",
    "audio_path",
    "audio_sha256",
    "duration_seconds",
    "entity_id",
)


def _work_values(work: PreparedWork) -> tuple:
    facts = work.facts
    return (
        facts.title,
        facts.composer_name,
        ERAS[facts.era].name if facts.era else "",
        FORMS[facts.form].name if facts.form else "",
        facts.key_name,
        facts.metre or "",
        facts.instrumentation,
        facts.voices,
        facts.collection[1] if facts.collection else "",
        facts.corpus_path,
        facts.number,
        work.audio_path,
        work.audio_sha256,
        work.duration_seconds,
        work_entity_id(facts.slug),
    )


def works_catalog_write(*, works: Sequence[PreparedWork]) -> UpsertResult:
    """Compare-and-write ``catalog.Work`` rows keyed by slug in one transaction (untouched rows stay put)."""
    now = timezone.now()
    with transaction.atomic():
        existing = {row[0]: (row[1], tuple(row[2:])) for row in Work.objects.values_list("slug", "pk", *_WORK_FIELDS)}
        to_create, to_update, unchanged = [], [], 0
        for work in works:
            values = _work_values(work)
            found = existing.get(work.facts.slug)
            if found is None:
                to_create.append(Work(slug=work.facts.slug, **dict(zip(_WORK_FIELDS, values))))
            elif found[1] != values:
                to_update.append(
                    Work(pk=found[0], slug=work.facts.slug, updated_at=now, **dict(zip(_WORK_FIELDS, values)))
                )
            else:
                unchanged += 1
        Work.objects.bulk_create(to_create, batch_size=500)
        if to_update:
            Work.objects.bulk_update(to_update, [*_WORK_FIELDS, "updated_at"], batch_size=500)
    return UpsertResult(created=len(to_create), updated=len(to_update), unchanged=unchanged)
