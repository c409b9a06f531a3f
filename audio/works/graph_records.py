"""The graph records of the loaded works, and how they meet entities other loaders made.

Graph (entity ids ``leitmotif:<kind>:<slug>``, names from :mod:`kg.schema`)::

    Person -COMPOSED-> Work -IN_ERA-> Era          Person -LIVED_IN_ERA-> Era
                       Work -HAS_FORM-> Form       Work -IN_KEY-> Key       Work -IN_METRE-> Metre
                       Work -SCORED_FOR-> Instrument                       Work -IN_COLLECTION-> Collection
                       Work -EXERCISES_CONCEPT-> Concept   (measured on the score, :mod:`.concepts`)

Relations read from a score carry ``source="music21:<corpus path>"`` (``#<number>`` appended for a tune
inside a collection file). ``LIVED_IN_ERA`` comes from the composer table, so its source is
:data:`COMPOSER_TABLE_SOURCE`. ``IN_KEY`` has confidence 1.0 when the score states the key and the
key-finding correlation when music21 inferred it. ``EXERCISES_CONCEPT`` carries the detector's sentence
(``how``), its name (``detector``) and what it measured; its confidence says how far above the
detector's threshold the measure is. It is written only to concepts the graph already holds (the
curriculum loader makes them), never creating a Concept.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.text import slugify

from audio.works.corpus import MUSIC21_SOURCE_PREFIX
from audio.works.facts import PreparedWork, key_slug, metre_slug
from audio.works.tables import COMPOSERS, ERAS, EXTRA_INSTRUMENTS, FORMS
from kg.schema import (
    COLLECTION_TYPE,
    COMPOSED,
    ERA_TYPE,
    EXERCISES_CONCEPT,
    FORM_TYPE,
    HAS_FORM,
    IN_COLLECTION,
    IN_ERA,
    IN_KEY,
    IN_METRE,
    INSTRUMENT_TYPE,
    INSTRUMENTS,
    KEY_TYPE,
    LIVED_IN_ERA,
    METRE_TYPE,
    PERSON_TYPE,
    SCORED_FOR,
    WORK_TYPE,
    collection_entity_id,
    concept_entity_id,
    era_entity_id,
    form_entity_id,
    instrument_record,
    key_entity_id,
    metre_entity_id,
    person_entity_id,
    work_entity_id,
)
from kg.services import OwnedRelations
from kg.stores.base import EntityRecord, KnowledgeGraphStore, RelationRecord

COMPOSER_TABLE_SOURCE = "leitmotif:composer-table"
#: Relations of a work this loader owns: read from a score (source ``music21:...``). Its stale ones are
#: removed on re-run; ``LIVED_IN_ERA`` (the composer table's) and a curator's links are not.
WORK_RELATIONS = OwnedRelations(
    types=(COMPOSED, IN_ERA, HAS_FORM, IN_KEY, IN_METRE, SCORED_FOR, IN_COLLECTION, EXERCISES_CONCEPT),
    source_prefixes=(MUSIC21_SOURCE_PREFIX,),
)


@dataclass(frozen=True)
class GraphRecords:
    entities: list[EntityRecord]
    relations: list[RelationRecord]


def _person_record(key: str) -> EntityRecord:
    composer = COMPOSERS[key]
    properties: dict[str, Any] = {"occupation": "composer", "corpus_key": key}
    if composer.born is not None:
        properties["born"] = composer.born
    if composer.died is not None:
        properties["died"] = composer.died
    if composer.approximate_dates:
        properties["dates_approximate"] = True
    aliases = tuple(
        dict.fromkeys(a for a in composer.aliases if a.casefold() != composer.name.casefold() and len(a) > 3)
    )
    return EntityRecord(
        id=person_entity_id(slugify(composer.name)),
        type=PERSON_TYPE,
        name=composer.name,
        aliases=aliases,
        properties=properties,
    )


def _instrument_record(slug: str) -> EntityRecord:
    """The record the course loader writes for an instrument too (:func:`kg.schema.instrument_record`).

    Why the same builder: either loader may create an instrument and the other then finds it unchanged.
    Instruments the shared vocabulary lacks (organ, lute...) are named by :data:`~.tables.EXTRA_INSTRUMENTS`.
    """
    return instrument_record(slug, INSTRUMENTS.get(slug) or EXTRA_INSTRUMENTS[slug])


def work_graph_records(
    prepared: Sequence[PreparedWork], *, seconds: float, sample_rate: int, concepts: Collection[str] = ()
) -> GraphRecords:
    """Entities and relations of the works; ``EXERCISES_CONCEPT`` only to the ``concepts`` the graph holds."""
    entities: dict[str, EntityRecord] = {}
    relations: list[RelationRecord] = []

    def add(record: EntityRecord) -> str:
        entities.setdefault(record.id, record)
        return record.id

    for work in prepared:
        facts = work.facts
        ref_source = f"{MUSIC21_SOURCE_PREFIX}{facts.corpus_path}" + (
            f"#{facts.number}" if facts.number is not None else ""
        )
        work_id = work_entity_id(facts.slug)
        properties: dict[str, Any] = {
            "slug": facts.slug,
            "composer": facts.composer_name,
            "corpus_path": facts.corpus_path,
            "corpus_number": facts.number,
            "form_source": facts.form_source,
            "key_source": facts.key_source,
            "key_confidence": facts.key_confidence,
            "instrumentation": facts.instrumentation,
            "voices": facts.voices,
            "midi_programs": [part.program for part in facts.parts],
            "audio_path": work.audio_path,
            "audio_sha256": work.audio_sha256,
            "duration_seconds": work.duration_seconds,
            "repeats": work.repeats,
            "rendered_seconds": seconds,
            "sample_rate": sample_rate,
            "score_quarter_length": facts.quarter_length,
            **facts.extra,
        }
        if work.concepts is not None:
            properties["notes_per_beat"] = work.concepts.notes_per_beat
        for name, value in (
            ("era", facts.era),
            ("form", facts.form),
            ("key", facts.key_name or None),
            ("metre", facts.metre),
        ):
            if value:
                properties[name] = value
        add(EntityRecord(id=work_id, type=WORK_TYPE, name=facts.title, properties=properties))

        def link(
            relation_type: str, head: str, tail: str, confidence: float = 1.0, source: str = ref_source, **extra: Any
        ) -> None:
            relations.append(
                RelationRecord(
                    head=head, type=relation_type, tail=tail, source=source, confidence=confidence, properties=extra
                )
            )

        if facts.composer_key:
            person_id = add(_person_record(facts.composer_key))
            link(COMPOSED, person_id, work_id)
        if facts.era:
            era = ERAS[facts.era]
            link(
                IN_ERA,
                work_id,
                add(
                    EntityRecord(
                        id=era_entity_id(facts.era),
                        type=ERA_TYPE,
                        name=era.name,
                        properties={"slug": facts.era, "start_year": era.start_year, "end_year": era.end_year},
                    )
                ),
            )
        if facts.form:
            link(
                HAS_FORM,
                work_id,
                add(
                    EntityRecord(
                        id=form_entity_id(facts.form),
                        type=FORM_TYPE,
                        name=FORMS[facts.form].name,
                        properties={"slug": facts.form},
                    )
                ),
                how=facts.form_source,
            )
        if facts.key_tonic and facts.key_mode:
            slug = key_slug(facts.key_tonic, facts.key_mode)
            link(
                IN_KEY,
                work_id,
                add(
                    EntityRecord(
                        id=key_entity_id(slug),
                        type=KEY_TYPE,
                        name=facts.key_name,
                        properties={"slug": slug, "tonic": facts.key_tonic.replace("-", "b"), "mode": facts.key_mode},
                    )
                ),
                confidence=facts.key_confidence,
                how=facts.key_source,
            )
        if facts.metre:
            slug = metre_slug(facts.metre)
            numerator, _, denominator = facts.metre.partition("/")
            metre_properties: dict[str, Any] = {"slug": slug}
            if numerator.isdigit() and denominator.isdigit():
                metre_properties.update(numerator=int(numerator), denominator=int(denominator))
            if facts.metre_classification:
                metre_properties["classification"] = facts.metre_classification
            link(
                IN_METRE,
                work_id,
                add(
                    EntityRecord(
                        id=metre_entity_id(slug), type=METRE_TYPE, name=facts.metre, properties=metre_properties
                    )
                ),
            )
        for slug in facts.instrumentation:
            parts = [part.name for part in facts.parts if slug in part.instruments]
            link(SCORED_FOR, work_id, add(_instrument_record(slug)), parts=parts)
        if facts.collection:
            slug, name = facts.collection
            link(
                IN_COLLECTION,
                work_id,
                add(
                    EntityRecord(
                        id=collection_entity_id(slug),
                        type=COLLECTION_TYPE,
                        name=name,
                        properties={"slug": slug, "corpus": "music21"},
                    )
                ),
            )
        for evidence in work.concepts.evidence if work.concepts is not None else ():
            if evidence.concept in concepts:
                link(
                    EXERCISES_CONCEPT,
                    work_id,
                    concept_entity_id(evidence.concept),
                    confidence=evidence.confidence,
                    how=evidence.how,
                    detector=evidence.detector,
                    **evidence.measure,
                )
    for key in sorted({w.facts.composer_key for w in prepared if w.facts.composer_key}):
        person = _person_record(key)
        for era_slug in COMPOSERS[key].eras:
            era = ERAS[era_slug]
            add(
                EntityRecord(
                    id=era_entity_id(era_slug),
                    type=ERA_TYPE,
                    name=era.name,
                    properties={"slug": era_slug, "start_year": era.start_year, "end_year": era.end_year},
                )
            )
            relations.append(
                RelationRecord(
                    head=person.id, type=LIVED_IN_ERA, tail=era_entity_id(era_slug), source=COMPOSER_TABLE_SOURCE
                )
            )
    return GraphRecords(entities=list(entities.values()), relations=relations)


def merge_with_existing(records: Sequence[EntityRecord], *, store: KnowledgeGraphStore) -> list[EntityRecord]:
    """Records to upsert, respecting entities other loaders made (see the :mod:`audio.works` doc).

    Works are ours and written as built. An existing Instrument is not written at all. Any other
    existing entity keeps its type and name, gains our aliases, and gets our properties on top of its
    own; the merge of a merge is the same record, so re-runs stay unchanged.
    """
    existing = store.get_entities([record.id for record in records])
    merged: list[EntityRecord] = []
    for record in records:
        found = existing.get(record.id)
        if found is None or record.type == WORK_TYPE:
            merged.append(record)
            continue
        if record.type == INSTRUMENT_TYPE:
            continue
        merged.append(
            EntityRecord(
                id=record.id,
                type=found.type,
                name=found.name,
                aliases=tuple(dict.fromkeys([*found.aliases, *(a for a in record.aliases if a != found.name)])),
                properties={**dict(found.properties), **dict(record.properties)},
            )
        )
    return merged
