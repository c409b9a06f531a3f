"""Warm-started embeddings: continue from a saved artifact after the graph changed, instead of from scratch.

Why: text ingestion adds a handful of facts at a time; retraining TransE/ComplEx from random vectors for
every batch costs the full epoch budget and throws away what the old vectors already encode. A refresh
keeps every id its parent had (labels keep their row, so old vectors stay where downstream code expects
them), appends the new entities and relations after them, starts the old rows from the parent's trained
vectors and the new rows from the model's normal initialisation, and trains a few epochs on the current
graph.

Why the parent's split is reused: a refreshed model has already seen the parent's training triples, so a
fresh random split of the grown graph would put some of them into the test set and flatter the metrics.
Instead the parent's validation and test triples that still exist stay in validation and test, triples
the parent trained on stay in training, and only *new* triples are split by the configured ratios
(seeded). Evaluation triples whose entity or relation no longer occurs in training move to training
(PyKEEN's "cleanup" rule), and are counted.

Why the vectors are copied from the parent's model state rather than from the exported arrays: the state
holds PyKEEN's own layout (ComplEx stores each complex number as an interleaved (real, imaginary) pair,
whereas the exported arrays are ``[real | imaginary]`` blocks), so copying state rows is exact for both
models. The copy is done through the representation's initializer, because PyKEEN's training loop
re-initialises every parameter when it starts; wrapping the initializer makes that re-initialisation
produce the warm start.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pykeen.triples import TriplesFactory

from core.errors import ConfigurationError, InvalidGraphDataError
from kg.embeddings.artifacts import KgeArtifact, load_kge_artifact, load_kge_model, load_kge_split
from kg.embeddings.config import KgeConfig
from kg.embeddings.training import KgeResult, kge_train_on_split
from kg.embeddings.triples import KgeSplit, as_labeled_triples

#: A refresh trains this share of the from-scratch run's epochs unless told otherwise.
DEFAULT_REFRESH_EPOCH_FRACTION = 0.2
#: Settings a refresh may change; the others define the vector space and must stay the parent's.
REFRESH_OVERRIDABLE = (
    "batch_size",
    "learning_rate",
    "negatives_per_positive",
    "seed",
    "evaluation_batch_size",
    "evaluation_max_triples",
)


@dataclass(frozen=True)
class GraphChange:
    """How the graph a refresh trains on differs from its parent's (interaction triples included when used)."""

    parent_entities: int
    parent_relations: int
    parent_triples: int
    new_entities: int
    new_relations: int
    new_triples: int
    removed_triples: int
    #: Parent entities that no current triple mentions; they keep their row (ids never move).
    entities_without_triples: int

    @property
    def changed(self) -> bool:
        return bool(self.new_entities or self.new_relations or self.new_triples or self.removed_triples)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def extended_id_map(parent: Mapping[str, int], labels: Iterable[str]) -> dict[str, int]:
    """The parent's ids unchanged, then every label it lacks appended in sorted order (stable for equal input)."""
    extended = dict(parent)
    for label in sorted(set(labels) - set(parent)):
        extended[label] = len(extended)
    return extended


class _KeepParentRows:
    """An initializer: the representation's own one first, then the parent's rows over the first ids."""

    def __init__(self, base, parent_rows: torch.Tensor) -> None:
        self.base = base
        self.parent_rows = parent_rows

    def __call__(self, weights: torch.Tensor) -> torch.Tensor:
        weights = self.base(weights)
        rows = self.parent_rows.shape[0]
        with torch.no_grad():
            weights[:rows] = self.parent_rows.view(rows, *weights.shape[1:]).to(weights.dtype)
        return weights


@dataclass(frozen=True, eq=False)
class KgeWarmStart:
    """The parent's trained representation weights (PyKEEN layout) to start a larger model from."""

    parent: KgeArtifact
    entity_weights: torch.Tensor
    relation_weights: torch.Tensor

    @classmethod
    def from_artifact(cls, artifact: KgeArtifact) -> KgeWarmStart:
        model = load_kge_model(artifact)
        return cls(
            parent=artifact,
            entity_weights=_embedding_table(model.entity_representations[0], what="entity").detach().clone(),
            relation_weights=_embedding_table(model.relation_representations[0], what="relation").detach().clone(),
        )

    def apply_(self, model) -> None:
        """Make ``model`` (built for the extended id maps) start from the parent's rows, now and at every reset."""
        for representation, parent_rows, what in (
            (model.entity_representations[0], self.entity_weights, "entity"),
            (model.relation_representations[0], self.relation_weights, "relation"),
        ):
            table = _embedding_table(representation, what=what)
            if parent_rows.shape[0] > table.shape[0] or parent_rows.shape[1:] != table.shape[1:]:
                raise ConfigurationError(
                    f"The parent artifact {self.parent.path} has a {tuple(parent_rows.shape)} {what} table, which does not fit "
                    f"the new model's {tuple(table.shape)}; a refresh must keep the model and embedding_dim of its parent."
                )
            base = representation.initializer
            if isinstance(base, _KeepParentRows):
                base = base.base
            representation.initializer = _KeepParentRows(base, parent_rows)
        model.reset_parameters_()


def _embedding_table(representation, *, what: str) -> torch.Tensor:
    table = getattr(getattr(representation, "_embeddings", None), "weight", None)
    if not isinstance(table, torch.Tensor):
        raise ConfigurationError(
            f"Cannot warm start a {type(representation).__name__} {what} representation; only plain embeddings are supported."
        )
    return table


def warm_start_split(
    *,
    parent: KgeArtifact,
    triples: np.ndarray,
    ratios: tuple[float, float, float],
    seed: int,
    interaction_triples: np.ndarray | None = None,
) -> tuple[KgeSplit, GraphChange]:
    """The split a refresh trains on (see the module docstring) and the graph change it found."""
    parent_parts = load_kge_split(parent)
    kg = as_labeled_triples(triples)
    if len(kg) == 0:
        raise InvalidGraphDataError("There are no triples to train on; load a graph first.")
    extra = as_labeled_triples(
        interaction_triples if interaction_triples is not None else [], what="extra training triples"
    )
    everything = np.concatenate([kg, extra]) if len(extra) else kg
    entity_to_id = extended_id_map(parent.entity_to_id, np.concatenate([everything[:, 0], everything[:, 2]]).tolist())
    relation_to_id = extended_id_map(parent.relation_to_id, everything[:, 1].tolist())

    entity_labels = np.asarray(sorted(parent.entity_to_id, key=parent.entity_to_id.__getitem__), dtype=object)
    relation_labels = np.asarray(sorted(parent.relation_to_id, key=parent.relation_to_id.__getitem__), dtype=object)

    def labelled(ids: np.ndarray) -> set[tuple[str, str, str]]:
        if len(ids) == 0:
            return set()
        return set(
            zip(
                entity_labels[ids[:, 0]].tolist(),
                relation_labels[ids[:, 1]].tolist(),
                entity_labels[ids[:, 2]].tolist(),
            )
        )

    parent_training, parent_validation, parent_testing = (
        labelled(parent_parts[part]) for part in ("training", "validation", "testing")
    )
    parent_all = parent_training | parent_validation | parent_testing

    kg_rows = list(map(tuple, kg.tolist()))
    extra_rows = list(map(tuple, extra.tolist()))
    new_rows = [row for row in kg_rows if row not in parent_all]
    order = np.random.default_rng(seed).permutation(len(new_rows))
    n_testing = int(round(ratios[2] * len(new_rows)))
    n_validation = int(round(ratios[1] * len(new_rows)))
    new_testing = {new_rows[i] for i in order[:n_testing]}
    new_validation = {new_rows[i] for i in order[n_testing : n_testing + n_validation]}

    training: list[tuple[str, str, str]] = []
    validation: list[tuple[str, str, str]] = []
    testing: list[tuple[str, str, str]] = []
    for row in kg_rows:
        if row in parent_validation or row in new_validation:
            validation.append(row)
        elif row in parent_testing or row in new_testing:
            testing.append(row)
        else:
            training.append(row)
    training.extend(extra_rows)

    # cleanup: an evaluation triple is only rankable if its entities and relation have trained vectors
    trained_entities = {h for h, _, _ in training} | {t for _, _, t in training}
    trained_relations = {r for _, r, _ in training}
    dropped: dict[str, int] = {}
    kept_parts = []
    for name, rows in (("validation", validation), ("testing", testing)):
        rankable: list[tuple[str, str, str]] = []
        moved: list[tuple[str, str, str]] = []
        for row in rows:
            known = row[0] in trained_entities and row[2] in trained_entities and row[1] in trained_relations
            (rankable if known else moved).append(row)
        training.extend(moved)
        dropped[f"{name}_moved_to_training"] = len(moved)
        kept_parts.append(rankable)
    for name, rows in zip(("validation", "test"), kept_parts, strict=True):
        if not rows:
            raise InvalidGraphDataError(
                f"The refreshed split has no {name} triple left (the graph changed too much since the parent); "
                "train from scratch with `python manage.py train_kge`."
            )

    def mapped(rows: list[tuple[str, str, str]]) -> torch.Tensor:
        ids = [(entity_to_id[h], relation_to_id[r], entity_to_id[t]) for h, r, t in rows]
        return torch.as_tensor(ids, dtype=torch.long).reshape(-1, 3)

    training_factory = TriplesFactory(
        mapped_triples=mapped(training), entity_to_id=entity_to_id, relation_to_id=relation_to_id
    )
    split = KgeSplit(
        training=training_factory,
        validation=training_factory.clone_and_exchange_triples(mapped_triples=mapped(kept_parts[0])),
        testing=training_factory.clone_and_exchange_triples(mapped_triples=mapped(kept_parts[1])),
        dropped=dropped,
    )
    current = set(kg_rows) | set(extra_rows)
    mentioned = {h for h, _, _ in current} | {t for _, _, t in current}
    change = GraphChange(
        parent_entities=len(parent.entity_to_id),
        parent_relations=len(parent.relation_to_id),
        parent_triples=len(parent_all),
        new_entities=len(entity_to_id) - len(parent.entity_to_id),
        new_relations=len(relation_to_id) - len(parent.relation_to_id),
        new_triples=len(current - parent_all),
        removed_triples=len(parent_all - current),
        entities_without_triples=sum(1 for label in parent.entity_to_id if label not in mentioned),
    )
    return split, change


def scratch_epochs(parent: KgeArtifact) -> int:
    """Epochs of the from-scratch run at the root of ``parent``'s refresh chain (what refresh budgets are a share of)."""
    lineage = parent.manifest.get("warm_start") or {}
    recorded = lineage.get("scratch_epochs") if isinstance(lineage, Mapping) else None
    if isinstance(recorded, int) and not isinstance(recorded, bool) and recorded > 0:
        return recorded
    trained = (
        (parent.metrics.get("training") or {}).get("epochs_trained") if isinstance(parent.metrics, Mapping) else None
    )
    if isinstance(trained, int) and not isinstance(trained, bool) and trained > 0:
        return trained
    return parent.config.epochs


def default_refresh_epochs(parent: KgeArtifact, *, fraction: float = DEFAULT_REFRESH_EPOCH_FRACTION) -> int:
    return max(1, math.ceil(fraction * scratch_epochs(parent)))


@dataclass(frozen=True, eq=False)
class KgeRefresh:
    """A warm-started training run: the result, where it started from and what had changed."""

    result: KgeResult
    parent: KgeArtifact
    change: GraphChange

    def lineage(self) -> dict[str, Any]:
        """What the new artifact's manifest and metrics record about its parent."""
        return {
            "parent": self.parent.path.name,
            "parent_path": str(self.parent.path),
            "parent_config_hash": self.parent.config.config_hash(),
            "graph_change": self.change.to_dict(),
            "epochs": self.result.config.epochs,
            "scratch_epochs": scratch_epochs(self.parent),
            "split": "parent's validation/test kept, new triples split by split_ratios",
            "dropped": dict(self.result.dropped),
        }


def refresh_config(parent: KgeArtifact, *, epochs: int | None = None, **overrides: Any) -> KgeConfig:
    """The parent's config with a refresh budget (default: a share of the scratch epochs) and no early stopping.

    Early stopping is off because a refresh runs a few epochs: it would rarely get to evaluate at all.
    """
    fixed = sorted(set(overrides) - set(REFRESH_OVERRIDABLE))
    if fixed:
        raise ConfigurationError(
            f"A refresh cannot change {', '.join(fixed)} (they define the parent's vector space); "
            f"it may change {', '.join(REFRESH_OVERRIDABLE)}. Train from scratch with `python manage.py train_kge` instead."
        )
    values = parent.config.to_dict()
    values.update({key: value for key, value in overrides.items() if value is not None})
    values["epochs"] = default_refresh_epochs(parent) if epochs is None else epochs
    values["early_stopping"] = False
    return KgeConfig.from_dict(values)


def kge_refresh(
    *,
    parent: KgeArtifact | Path | str,
    triples: np.ndarray,
    interaction_triples: np.ndarray | None = None,
    epochs: int | None = None,
    progress: bool = False,
    **overrides: Any,
) -> KgeRefresh:
    """Warm-start ``parent`` on the current ``triples`` (+ interactions when its config used them) and evaluate.

    Save the outcome with ``save_kge_artifact(result=refresh.result, lineage=refresh.lineage())``.
    """
    artifact = parent if isinstance(parent, KgeArtifact) else load_kge_artifact(parent)
    config = refresh_config(artifact, epochs=epochs, **overrides)
    has_interactions = interaction_triples is not None and len(interaction_triples) > 0
    if config.include_interactions and not has_interactions:
        raise ConfigurationError(
            f"The parent artifact {artifact.path.name} was trained with interaction triples; give them to the refresh "
            "(load listening data first)."
        )
    if has_interactions and not config.include_interactions:
        raise ConfigurationError(
            f"The parent artifact {artifact.path.name} was trained without interaction triples; a refresh cannot add them. "
            "Train from scratch with --include-interactions instead."
        )
    split, change = warm_start_split(
        parent=artifact,
        triples=triples,
        ratios=config.split_ratios,
        seed=config.seed,
        interaction_triples=interaction_triples if has_interactions else None,
    )
    result = kge_train_on_split(
        split=split, config=config, progress=progress, warm_start=KgeWarmStart.from_artifact(artifact)
    )
    return KgeRefresh(result=result, parent=artifact, change=change)
