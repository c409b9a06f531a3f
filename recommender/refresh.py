"""Refresh the graph embeddings and the recommender from their checkpoints after new graph facts.

What a refresh does (:func:`models_refresh`): notice that the graph changed since the last refresh,
warm-start the newest KGE artifact on the current graph (:mod:`kg.embeddings.warm_start`), warm-start
the *published* recommender on the current catalog and graph (new entities take the refreshed KGE
vectors when they fit), publish the result through the same atomic pointer as every other model, and
record what it did in a stamp file, ``<artifacts>/refresh_state.json``.

How a change is noticed: the stamp holds the graph's state at the last complete refresh — entity and
relation counts (with a digest of the relation counts per type, so a removal plus an addition of
another type still shows) and the newest :class:`~kg.models.CurationEvent` id. Every write through the
curation, API and ingestion paths appends such an event (text ingestion's carry the source
``ingestion:<document hash>``); bulk loaders that bypass the audit trail still move the counts. Before the
first refresh there is no stamp, so the events newer than the published model are what counts.

Why stages are recorded: a refresh that fails after the embeddings were saved (say, the recommender
could not load its text encoder) must not retrain the embeddings on the next attempt. Each finished
stage records the graph state it was done for; a later run for the same state reuses it, so the worker
can simply try again. With ``only_if_new_facts`` (always in the worker) a run with nothing new does
nothing and says so; without it a refresh is forced.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from core.artifacts import read_json
from core.errors import ConfigurationError, DataFileError

REFRESH_STATE_FILE = "refresh_state.json"
STATE_FORMAT = "leitmotif.refresh-state.v1"


@dataclass(frozen=True)
class GraphState:
    """What the graph looks like now, cheaply: counts, a per-type digest and the newest audit event."""

    entities: int
    relations: int
    relations_by_type_digest: str
    last_event_id: int
    events: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> GraphState | None:
        try:
            return cls(**{key: data[key] for key in cls.__dataclass_fields__})
        except (KeyError, TypeError):
            return None


@dataclass(frozen=True)
class FactChange:
    """How the graph moved since the last refresh (or, before the first one, since the published model)."""

    changed: bool
    events: int
    ingestion_events: int
    entity_delta: int
    relation_delta: int
    since: str

    def describe(self) -> str:
        if not self.changed:
            return f"no graph change since {self.since}"
        parts = [f"{self.events:,} graph change event(s) ({self.ingestion_events:,} from text ingestion)"]
        if self.entity_delta or self.relation_delta:
            parts.append(f"{self.entity_delta:+,} entities, {self.relation_delta:+,} relations")
        return f"{'; '.join(parts)} since {self.since}"


@dataclass(frozen=True)
class RefreshOutcome:
    refreshed: bool
    message: str
    change: FactChange
    kge_artifact: Path | None = None
    kge_summary: Mapping[str, Any] = field(default_factory=dict)
    recommender_artifact: Path | None = None
    published: Path | None = None
    validation: Mapping[str, float] = field(default_factory=dict)


# --- graph state and the stamp ------------------------------------------------------------------------


def graph_state(store) -> GraphState:
    from django.db.models import Count, Max

    from kg.models import CurationEvent

    stats = store.stats()
    events = CurationEvent.objects.aggregate(last=Max("id"), n=Count("id"))
    by_type = json.dumps(sorted(stats.relations_by_type.items()), separators=(",", ":"))
    return GraphState(
        entities=int(stats.entities),
        relations=int(stats.relations),
        relations_by_type_digest=hashlib.sha256(by_type.encode("utf-8")).hexdigest()[:16],
        last_event_id=int(events["last"] or 0),
        events=int(events["n"] or 0),
    )


def refresh_state_path(directory: Path | str | None = None) -> Path:
    from kg.embeddings.artifacts import artifacts_root

    return (Path(directory) if directory is not None else artifacts_root()) / REFRESH_STATE_FILE


def refresh_state_read(directory: Path | str | None = None) -> dict[str, Any]:
    """The stamp (an empty dict before the first refresh); a broken stamp is a clear error, never silently ignored."""
    path = refresh_state_path(directory)
    if not path.is_file():
        return {}
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise DataFileError(
            f"not a {STATE_FORMAT} refresh stamp; delete it and run `python manage.py refresh_models` again.",
            path=str(path),
        )
    return data


def refresh_state_write(state: Mapping[str, Any], directory: Path | str | None = None) -> None:
    """Write the stamp atomically (temp file, fsync, rename): a reader sees the old stamp or the new one."""
    path = refresh_state_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(json.dumps({**state, "format": STATE_FORMAT}, indent=2, sort_keys=True, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def fact_change(now: GraphState, stamp: Mapping[str, Any], *, published_at: datetime | None) -> FactChange:
    """Compare the graph now with the stamp's (or, without one, count the audit events after ``published_at``)."""
    from ingestion.graph_writes import INGESTION_SOURCE_PREFIX
    from kg.models import CurationEvent

    recorded = GraphState.from_dict(stamp.get("graph")) if stamp else None
    if recorded is not None:
        events = CurationEvent.objects.filter(id__gt=recorded.last_event_id)
        since = (
            f"the last refresh ({stamp['refreshed_at']})"
            if stamp.get("refreshed_at")
            else f"the first check ({stamp.get('checked_at', 'unknown time')})"
        )
        entity_delta, relation_delta = now.entities - recorded.entities, now.relations - recorded.relations
        moved = (entity_delta, relation_delta) != (
            0,
            0,
        ) or now.relations_by_type_digest != recorded.relations_by_type_digest
    elif published_at is not None:
        events = CurationEvent.objects.filter(at__gt=published_at)
        since = f"the published model was trained ({published_at.isoformat(timespec='seconds')})"
        entity_delta = relation_delta = 0
        moved = False
    else:
        events = CurationEvent.objects.all()
        since = "the beginning"
        entity_delta = relation_delta = 0
        moved = False
    count = events.count()
    ingestion = events.filter(source__startswith=INGESTION_SOURCE_PREFIX).count()
    return FactChange(
        changed=bool(count or moved),
        events=count,
        ingestion_events=ingestion,
        entity_delta=entity_delta,
        relation_delta=relation_delta,
        since=since,
    )


# --- the refresh ------------------------------------------------------------------------------------


def models_refresh(
    *,
    backend: str,
    only_if_new_facts: bool = False,
    kge_epochs: int | None = None,
    rec_epochs: int | None = None,
    kge_model: str | None = None,
    refresh_kge: bool = True,
    publish: bool = True,
    kge_dir: Path | str | None = None,
    recommender_dir: Path | str | None = None,
    progress: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> RefreshOutcome:
    """Refresh embeddings then recommender from their checkpoints and publish (see the module docstring).

    ``kge_epochs`` / ``rec_epochs`` default to a fifth of the from-scratch budgets; ``kge_model`` picks
    which embedding artifact to refresh (default: the newest of any model); ``refresh_kge=False`` leaves
    the embeddings alone. Raises a :class:`LeitmotifError` when there is nothing to start from.
    """
    from kg.embeddings.artifacts import latest_artifact, list_kge_artifacts, load_kge_artifact
    from kg.stores import get_store
    from recommender.serving.model_holder import model_publish, published_artifact, published_pointer_path

    for name, value in (("kge_epochs", kge_epochs), ("rec_epochs", rec_epochs)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigurationError(f"{name} must be a whole number of epochs >= 1, got {value!r}.")
    stamp = refresh_state_read()
    parent_path = published_artifact(recommender_dir)
    if parent_path is None:
        raise DataFileError(
            "no recommender is published, so there is no checkpoint to refresh; train and publish one first "
            "(`python manage.py retrain_recommender` or `make train`).",
            path=str(published_pointer_path(recommender_dir)),
        )
    stages = tqdm(total=4, desc="refresh models", unit="stage", disable=not progress)
    try:
        stages.set_postfix_str("graph")
        with get_store(backend) as store:
            now = graph_state(store)
            published_at = _created_at(parent_path)
            change = fact_change(now, stamp, published_at=published_at)
            stages.update()
            if only_if_new_facts and not change.changed:
                if not stamp:  # the first check records the baseline later count changes are measured against
                    refresh_state_write(
                        {
                            "graph": now.to_dict(),
                            "refreshed_at": None,
                            "baseline_only": True,
                            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
                        }
                    )
                return RefreshOutcome(refreshed=False, message=f"Nothing to do: {change.describe()}.", change=change)
            log(f"Refreshing: {change.describe()}.")

            stages.set_postfix_str("embeddings")
            kge_path, kge_summary = None, {}
            if refresh_kge:
                done = _stage_done(stamp, "kge", now)
                if done is not None:
                    kge_path, kge_summary = done, {"reused": True}
                    log(f"Embeddings already refreshed for this graph: {kge_path.name}.")
                else:
                    found = (
                        latest_artifact(kge_model, directory=kge_dir)
                        if kge_model
                        else next(reversed(list_kge_artifacts(None, directory=kge_dir)), None)
                    )
                    if found is None:
                        log(
                            "No KGE checkpoint to refresh (train one with `python manage.py train_kge --model transe`); refreshing the recommender only."
                        )
                    else:
                        kge_path, kge_summary = _refresh_embeddings(
                            load_kge_artifact(found),
                            store=store,
                            epochs=kge_epochs,
                            directory=kge_dir,
                            progress=progress,
                            log=log,
                        )
                        stamp = {**stamp, "kge": {"artifact": str(kge_path), "graph": now.to_dict()}}
                        refresh_state_write(stamp)
            stages.update()

            stages.set_postfix_str("recommender")
            done = _stage_done(stamp, "recommender", now)
            if done is not None:
                rec_path = done
                log(f"Recommender already refreshed for this graph: {rec_path.name}.")
                validation: dict[str, float] = {}
            else:
                rec_path, validation = _refresh_recommender(
                    parent_path,
                    store=store,
                    epochs=rec_epochs,
                    kge_artifact=kge_path,
                    directory=recommender_dir,
                    progress=progress,
                    log=log,
                )
                stamp = {**stamp, "recommender": {"artifact": str(rec_path), "graph": now.to_dict()}}
                refresh_state_write(stamp)
            stages.update()

        stages.set_postfix_str("publish")
        published = model_publish(rec_path, directory=recommender_dir) if publish else None
        refreshed_at = datetime.now(UTC).isoformat(timespec="seconds")
        stamp = {
            **stamp,
            "graph": now.to_dict(),
            "refreshed_at": refreshed_at,
            "baseline_only": False,
            "published": str(published) if published is not None else None,
        }
        refresh_state_write(stamp)
        stages.update()
    finally:
        stages.close()
    return RefreshOutcome(
        refreshed=True,
        message=f"Refreshed: {change.describe()}.",
        change=change,
        kge_artifact=kge_path,
        kge_summary=kge_summary,
        recommender_artifact=rec_path,
        published=published,
        validation=validation,
    )


def _stage_done(stamp: Mapping[str, Any], stage: str, now: GraphState) -> Path | None:
    """The artifact an unfinished refresh's stage produced for exactly this graph state, if it still exists.

    Once a refresh finished for this state, a new run (forced, without ``only_if_new_facts``) trains again.
    """
    if not stamp or (stamp.get("refreshed_at") and GraphState.from_dict(stamp.get("graph")) == now):
        return None
    record = stamp.get(stage)
    if not isinstance(record, Mapping) or GraphState.from_dict(record.get("graph")) != now:
        return None
    path = Path(str(record.get("artifact", "")))
    return path if path.is_dir() else None


def _created_at(path: Path) -> datetime | None:
    record = read_json(path / "config.json")
    try:
        return datetime.fromisoformat(record["created_at"])
    except (KeyError, TypeError, ValueError):
        return None


def _refresh_embeddings(
    parent, *, store, epochs: int | None, directory, progress: bool, log
) -> tuple[Path, dict[str, Any]]:
    from kg.embeddings.artifacts import save_kge_artifact
    from kg.embeddings.sources import interaction_triples_from_catalog, triples_from_store
    from kg.embeddings.warm_start import kge_refresh

    triples = triples_from_store(store=store, progress=progress)
    interactions = None
    if parent.config.include_interactions:
        interactions = interaction_triples_from_catalog(artist_entity_ids=set(triples[:, 0]) | set(triples[:, 2]))
    refresh = kge_refresh(
        parent=parent, triples=triples, interaction_triples=interactions, epochs=epochs, progress=progress
    )
    path = save_kge_artifact(result=refresh.result, directory=directory, lineage=refresh.lineage())
    metrics = refresh.result.metrics
    change = refresh.change
    log(
        f"Embeddings {parent.path.name} → {path.name}: +{change.new_entities:,} entities, +{change.new_relations:,} relations, "
        f"+{change.new_triples:,}/-{change.removed_triples:,} triples; {refresh.result.config.epochs} warm epochs in "
        f"{refresh.result.training_seconds:.1f} s; test MRR {metrics.mrr:.4f}, Hits@10 {metrics.hits_at_10:.4f}."
    )
    return path, {"parent": parent.path.name, "graph_change": change.to_dict(), "test": metrics.to_dict()}


def _refresh_recommender(
    parent_path: Path, *, store, epochs: int | None, kge_artifact: Path | None, directory, progress: bool, log
) -> tuple[Path, dict[str, float]]:
    from kg.embeddings.artifacts import load_kge_artifact
    from recommender.training import (
        load_trained_recommender,
        product_dataset,
        recommender_train,
        refresh_epochs_default,
    )

    parent = load_trained_recommender(parent_path)
    config = parent.config.with_overrides(epochs=refresh_epochs_default(parent) if epochs is None else epochs)
    dataset = product_dataset(store=store)
    kge_for_new_entities = None
    if kge_artifact is not None and config.use_graph:
        artifact = load_kge_artifact(kge_artifact)
        width = config.graph_dim * (2 if config.kg_interaction == "complex" else 1)
        if artifact.config.spec.alias == config.kg_interaction and artifact.entity_embeddings.shape[1] == width:
            kge_for_new_entities = kge_artifact
        else:
            log(
                f"The refreshed {artifact.config.spec.alias} embeddings (width {artifact.entity_embeddings.shape[1]}) do not fit the "
                f"recommender's {config.kg_interaction} graph table (width {width}); its new entities start from random vectors."
            )
    trained = recommender_train(
        dataset=dataset,
        config=config,
        seed=parent.seed,
        progress=progress,
        kge_artifact=kge_for_new_entities,
        output_dir=directory,
        warm_start_from=parent,
    )
    summary = trained.metrics["training"].get("warm_start") or {}
    validation = {
        key: float(value) for key, value in trained.metrics["validation"].items() if isinstance(value, (int, float))
    }
    entities = summary.get("entities") or {}
    assert trained.path is not None  # recommender_train saves by default
    log(
        f"Recommender {parent_path.name} → {trained.path.name}: {config.epochs} warm epochs; "
        f"{entities.get('from_parent', 0):,}/{entities.get('total', 0):,} entity rows from the parent; validation recall@10 "
        f"{summary.get('validation_recall@10_at_start', float('nan')):.4f} at start → {validation.get('recall@10', float('nan')):.4f}."
    )
    return trained.path, validation
