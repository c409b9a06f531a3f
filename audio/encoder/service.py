"""Cold start from a recording: predict its vector, name the likely composer/era/form, find works it sounds like.

Two stages: (1) the trained encoder maps the clip's log-mel crops (plus whatever side information
the caller knows) to a vector in the target space — the mean over ``eval_crops`` evenly spaced crops,
so the same clip always gives the same answer; (2) that vector is placed among graph entities (KGE
relation scores) and works (cosine) by :mod:`.neighbours`.

Also the one write: :func:`create_uploaded_work` turns an upload into a catalogue ``Work`` and a graph
``Work`` entity whose provenance is ``audio-upload:<sha256>``. Predicted composer/era/form are stored
as properties of that entity (``predicted``), not as relations: a guess must not become a graph fact
without a curator. A composer the uploader *names* and the graph knows becomes a ``COMPOSED`` relation
with the same provenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from django.conf import settings
from django.db import transaction

from audio.cache import atomic_write_bytes, cached_features
from audio.encoder.artifacts import LoadedEncoder, load_audio_encoder
from audio.encoder.dataset import side_values
from audio.encoder.neighbours import cosine, rank_entities, shared_facts, sounds_like_explanation
from audio.encoder.training import side_batch
from audio.features import AudioSource, MelConfig, crops_for, read_source_bytes, sniff_format

UPLOAD_SOURCE_PREFIX = "audio-upload:"
UPLOADS_SUBDIR = "works/uploads"


@dataclass(frozen=True)
class EntityGuess:
    entity_id: str
    name: str
    type: str
    score: float
    rank: int


@dataclass(frozen=True)
class SimilarWork:
    entity_id: str
    pk: int | None
    slug: str
    title: str
    composer: str | None
    era: str | None
    form: str | None
    similarity: float
    explanation: str


@dataclass(frozen=True)
class ColdStartResult:
    sha256: str
    duration_seconds: float
    truncated: bool
    notes: tuple[str, ...]
    vector: np.ndarray = field(repr=False)
    neighbours: Mapping[str, list[EntityGuess]]
    similar_works: list[SimilarWork]
    encoder_version: str
    variant: str
    target: str
    feature_cache_hit: bool

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["vector"] = [round(float(x), 6) for x in self.vector]
        data["notes"] = list(self.notes)
        return data


def encoder_mel_config(encoder: LoadedEncoder) -> MelConfig:
    return MelConfig(**encoder.saved_config["mel"])


def predict_vector(encoder: LoadedEncoder, mel: np.ndarray, side: Mapping[str, Any] | None = None) -> np.ndarray:
    """The encoder's vector for a full-clip log-mel: mean over the config's fixed evaluation crops."""
    crops = crops_for(mel, encoder_mel_config(encoder))
    side = dict(side or {})
    batch = {
        "mel": torch.from_numpy(np.ascontiguousarray(crops)),
        "side": side_batch(encoder.vocabulary, [side] * len(crops)),
    }
    with torch.no_grad():
        return encoder.model.predict(batch).mean(dim=0).numpy().astype(np.float32)


def likely_entities(encoder: LoadedEncoder, vector: np.ndarray, *, k: int = 5) -> dict[str, list[EntityGuess]]:
    reference = encoder.reference
    guesses: dict[str, list[EntityGuess]] = {}
    for field_name in reference.fields:
        ids, matrix, relation, work_is_head = reference.candidates(field_name)
        ranked = rank_entities(
            reference.scoring,
            candidate_ids=ids,
            candidates=matrix,
            relation=relation,
            vector=vector,
            vector_is_head=work_is_head,
            k=k,
        )
        guesses[field_name] = [
            EntityGuess(
                entry.entity_id,
                reference.entities.get(entry.entity_id, {}).get("name", entry.entity_id),
                reference.entities.get(entry.entity_id, {}).get("type", ""),
                entry.score,
                entry.rank,
            )
            for entry in ranked
        ]
    return guesses


def similar_works(
    encoder: LoadedEncoder,
    vector: np.ndarray,
    *,
    facts: Mapping[str, str | None],
    facts_predicted: bool = False,
    exclude: Sequence[str] = (),
    k: int = 5,
) -> list[SimilarWork]:
    """Works whose target vectors are closest (cosine) to ``vector``, each with a "sounds like" explanation."""
    ids, matrix = encoder.reference.work_matrix
    if not ids:
        return []
    similarity = cosine(matrix, vector)
    excluded = set(exclude)
    order = [
        i for i in sorted(range(len(ids)), key=lambda i: (-float(similarity[i]), ids[i])) if ids[i] not in excluded
    ][:k]
    found = []
    for index in order:
        info = encoder.reference.works[ids[index]]
        shared = shared_facts(facts, info)
        if shared and facts_predicted:
            shared += " (facts of the upload predicted)"
        found.append(
            SimilarWork(
                ids[index],
                info.get("pk"),
                info.get("slug", ""),
                info.get("title", ids[index]),
                info.get("composer"),
                info.get("era"),
                info.get("form"),
                round(float(similarity[index]), 4),
                sounds_like_explanation(info.get("title", ids[index]), float(similarity[index]), shared),
            )
        )
    return found


def cold_start(
    source: AudioSource,
    *,
    name: str | None = None,
    side: Mapping[str, Any] | None = None,
    k: int = 5,
    encoder: LoadedEncoder | None = None,
) -> ColdStartResult:
    """Analyse a recording (validated; :class:`AudioInputError` for bad audio) and place it in the space."""
    encoder = encoder or load_audio_encoder()
    found = cached_features(source, encoder_mel_config(encoder), name=name)
    given = {key: value for key, value in (side or {}).items() if value}
    vector = predict_vector(encoder, found.mel, given)
    neighbours = likely_entities(encoder, vector, k=k)
    facts = {
        name_: given.get(name_) or (neighbours[name_][0].name if neighbours.get(name_) else None)
        for name_ in ("composer", "era", "form")
    }
    predicted = any(not given.get(name_) for name_ in ("era", "form"))
    return ColdStartResult(
        sha256=found.info["sha256"],
        duration_seconds=float(found.info.get("duration_seconds", 0.0)),
        truncated=bool(found.info.get("truncated")),
        notes=tuple(found.info.get("notes") or ()),
        vector=vector,
        neighbours=neighbours,
        similar_works=similar_works(encoder, vector, facts=facts, facts_predicted=predicted, k=k),
        encoder_version=encoder.version,
        variant=encoder.config.variant,
        target=encoder.config.target,
        feature_cache_hit=found.hit,
    )


def sounds_like_work(work, *, k: int = 5, encoder: LoadedEncoder | None = None) -> list[SimilarWork]:
    """Works a catalogue work sounds like: its *audio's* predicted vector against the other works' vectors.

    The work's own side information is used like an upload's would be; the work itself is excluded.
    """
    encoder = encoder or load_audio_encoder()
    path = Path(settings.LEITMOTIF_CACHE_DIR) / work.audio_path
    found = cached_features(path, encoder_mel_config(encoder))
    side = side_values(work)
    vector = predict_vector(encoder, found.mel, side)
    return similar_works(encoder, vector, facts=side, exclude=[work.entity_id], k=k)


@dataclass(frozen=True)
class CreatedWork:
    work: Any
    created: bool
    entity_id: str
    source: str


def create_uploaded_work(
    data: bytes,
    *,
    result: ColdStartResult,
    title: str | None = None,
    composer: str | None = None,
    display_name: str | None = None,
    store=None,
) -> CreatedWork:
    """A catalogue Work and graph entity for an analysed upload (idempotent per recording hash).

    Called only after :func:`cold_start` validated the recording, so nothing is written for bad audio.
    Order: the recording is saved under ``LEITMOTIF_CACHE_DIR/works/uploads/`` (atomic rename), then the
    graph entity (validated first), then the catalogue row in a transaction.
    """
    from django.utils.text import slugify

    from catalog.models import Work
    from kg.schema import COMPOSED, PERSON_TYPE, WORK_TYPE, work_entity_id
    from kg.services import graph_upsert
    from kg.stores import get_store
    from kg.stores.base import EntityRecord, RelationRecord

    sha = result.sha256
    source = f"{UPLOAD_SOURCE_PREFIX}{sha}"
    slug = f"upload-{sha[:16]}"
    existing = Work.objects.filter(slug=slug).first()
    if existing is not None:
        return CreatedWork(existing, False, existing.entity_id, source)
    raw, _display = read_source_bytes(data, name=display_name)
    extension = sniff_format(raw) or "bin"
    relative = f"{UPLOADS_SUBDIR}/{sha}.{extension}"
    entity_id = work_entity_id(slug)
    title = (title or "").strip()[:500] or f"Uploaded recording {sha[:8]}"
    composer = (composer or "").strip()[:255]
    predicted = {
        name: [{"id": g.entity_id, "name": g.name, "score": g.score} for g in guesses[:3]]
        for name, guesses in result.neighbours.items()
    }
    entity = EntityRecord(
        id=entity_id,
        type=WORK_TYPE,
        name=title,
        properties={
            "slug": slug,
            "source": source,
            "audio_sha256": sha,
            "audio_path": relative,
            "duration_seconds": result.duration_seconds,
            "composer": composer or None,
            "predicted": predicted,
            "encoder": result.encoder_version,
        },
    ).validate()
    atomic_write_bytes(Path(settings.LEITMOTIF_CACHE_DIR) / relative, raw)
    own_store = store is None
    store = store or get_store()
    try:
        relations = []
        if composer:
            people = [
                p
                for p in store.search_entities(composer, types=[PERSON_TYPE], limit=5)
                if p.name.casefold() == composer.casefold()
            ]
            if people:
                relations.append(
                    RelationRecord(
                        head=people[0].id,
                        type=COMPOSED,
                        tail=entity_id,
                        source=source,
                        confidence=1.0,
                        properties={"how": "named by the uploader"},
                    ).validate()
                )
        with transaction.atomic():
            graph_upsert(store=store, entities=[entity], relations=relations, description="Audio upload")
            work = Work.objects.create(
                slug=slugify(slug),
                title=title,
                composer_name=composer,
                corpus_path="",
                audio_path=relative,
                audio_sha256=sha,
                duration_seconds=result.duration_seconds,
                entity_id=entity_id,
            )
    finally:
        if own_store:
            store.close()
    return CreatedWork(work, True, entity_id, source)
