"""Labeled triples → PyKEEN triples factories, with train/validation/test splits that share one id map.

Why one id map for every split: a test triple is only rankable if its head, relation and tail have
trained vectors, and filtered ranking compares ids across splits. PyKEEN's ``TriplesFactory.split``
(``method="cleanup"`` by default) keeps the maps shared and moves triples into training until every
entity and relation of the evaluation parts also occurs in training. Benchmarks that come with a fixed
split instead build the maps from training and drop evaluation triples naming anything unseen,
counting what was dropped (never silently).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from pykeen.triples import TriplesFactory

from core.errors import InvalidGraphDataError


@dataclass(frozen=True)
class KgeSplit:
    """Training/validation/testing factories over one shared entity and relation id map.

    ``dropped`` counts evaluation triples removed while building the split, by reason, so reports can
    say exactly what was evaluated.
    """

    training: TriplesFactory
    validation: TriplesFactory
    testing: TriplesFactory
    dropped: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for part in (self.validation, self.testing):
            if part.entity_to_id != self.training.entity_to_id or part.relation_to_id != self.training.relation_to_id:
                raise InvalidGraphDataError(
                    "All parts of a KGE split must share the training entity and relation id maps."
                )

    @property
    def entity_to_id(self) -> Mapping[str, int]:
        return self.training.entity_to_id

    @property
    def relation_to_id(self) -> Mapping[str, int]:
        return self.training.relation_to_id

    def sizes(self) -> dict[str, int]:
        return {
            "training": self.training.num_triples,
            "validation": self.validation.num_triples,
            "testing": self.testing.num_triples,
            "entities": self.training.num_entities,
            "relations": self.training.num_relations,
        }


def as_labeled_triples(triples: np.ndarray | Iterable, *, what: str = "triples") -> np.ndarray:
    """Check and normalise an (n × 3) array of non-empty ``(head, relation, tail)`` strings.

    Verbatim duplicates are dropped (first occurrence kept): a repeated fact would only be counted
    twice by the loss and could land on both sides of a split.
    """
    if isinstance(triples, np.ndarray) and triples.dtype.kind == "U":
        array = triples
    else:
        array = np.asarray(triples if isinstance(triples, np.ndarray) else list(triples), dtype=object)
        if array.size and not all(isinstance(value, str) for value in array.flat):
            bad = next(
                i for i, row in enumerate(array.reshape(len(array), -1)) if not all(isinstance(v, str) for v in row)
            )
            raise InvalidGraphDataError(
                f"{what} row {bad}: every head, relation and tail must be a string, got {tuple(array[bad])!r}."
            )
    if array.size == 0:
        return np.empty((0, 3), dtype=str)
    if array.ndim != 2 or array.shape[1] != 3:
        raise InvalidGraphDataError(
            f"{what} must be an (n × 3) array of (head, relation, tail), got shape {array.shape}."
        )
    array = array.astype(str)
    blank = (np.char.str_len(np.char.strip(array)) == 0).any(axis=1)
    if blank.any():
        bad = int(np.flatnonzero(blank)[0])
        raise InvalidGraphDataError(
            f"{what} row {bad}: head, relation and tail must be non-empty, got {tuple(array[bad])!r}."
        )
    unique_rows = list(dict.fromkeys(map(tuple, array.tolist())))
    return np.asarray(unique_rows, dtype=str)


def split_labeled_triples(
    *,
    triples: np.ndarray,
    ratios: tuple[float, float, float],
    seed: int,
    extra_training_triples: np.ndarray | None = None,
) -> KgeSplit:
    """Hold out validation/test triples at random (seeded) from ``triples``.

    ``extra_training_triples`` (e.g. user–artist interactions) join the id maps and the training part
    only: evaluation stays pure link prediction on the knowledge graph, so metrics with and without
    them remain comparable.
    """
    kg = as_labeled_triples(triples)
    if len(kg) == 0:
        raise InvalidGraphDataError("There are no triples to train on; load a graph first.")
    extra = as_labeled_triples(
        extra_training_triples if extra_training_triples is not None else [], what="extra training triples"
    )
    everything = np.concatenate([kg, extra]) if len(extra) else kg
    root = TriplesFactory.from_labeled_triples(everything)
    kg_part = root.clone_and_exchange_triples(mapped_triples=root.mapped_triples[: len(kg)])
    try:
        training, validation, testing = kg_part.split(list(ratios), random_state=seed)
    except ValueError as exc:  # PyKEEN refuses ratios that leave a part empty
        raise InvalidGraphDataError(
            f"Cannot split {len(kg)} triples with ratios {list(ratios)}: {exc}. Use a larger graph."
        ) from exc
    for name, part in (("validation", validation), ("test", testing)):
        if part.num_triples == 0:
            raise InvalidGraphDataError(
                f"Splitting {len(kg)} triples with ratios {list(ratios)} leaves the {name} part empty; "
                "use a larger graph or larger evaluation ratios."
            )
    if len(extra):
        training = training.clone_and_exchange_triples(
            mapped_triples=torch.cat([training.mapped_triples, root.mapped_triples[len(kg) :]])
        )
    return KgeSplit(training=training, validation=validation, testing=testing)


def split_from_labeled_parts(*, training: np.ndarray, validation: np.ndarray, testing: np.ndarray) -> KgeSplit:
    """Factories for a fixed benchmark split; id maps come from training (sorted labels, so stable).

    Repeated rows within a part are kept once, and evaluation triples naming an entity or relation
    that training never mentions are dropped (they cannot be ranked); ``dropped`` counts both.
    """
    train = as_labeled_triples(training, what="training triples")
    if len(train) == 0:
        raise InvalidGraphDataError("The training part of the split is empty.")
    training_factory = TriplesFactory.from_labeled_triples(train)
    dropped: dict[str, int] = {"training_repeated": len(training) - len(train)}
    parts = []
    for name, labeled in (("validation", validation), ("testing", testing)):
        rows = as_labeled_triples(labeled, what=f"{name} triples")
        dropped[f"{name}_repeated"] = len(labeled) - len(rows)
        seen = np.array(
            [
                h in training_factory.entity_to_id
                and r in training_factory.relation_to_id
                and t in training_factory.entity_to_id
                for h, r, t in rows
            ],
            dtype=bool,
        )
        dropped[f"{name}_unseen_in_training"] = int((~seen).sum())
        kept = rows[seen] if len(rows) else rows
        if len(kept) == 0:
            raise InvalidGraphDataError(
                f"The {name} part of the split has no triple whose entities and relation occur in training."
            )
        parts.append(
            TriplesFactory.from_labeled_triples(
                kept, entity_to_id=training_factory.entity_to_id, relation_to_id=training_factory.relation_to_id
            )
        )
    return KgeSplit(training=training_factory, validation=parts[0], testing=parts[1], dropped=dropped)


def deduplicated_split(split: KgeSplit) -> KgeSplit:
    """The same split with evaluation triples that training already (nearly) states removed.

    Drops every validation/test triple whose ``(head, tail)`` pair appears in training under any
    relation (this covers verbatim copies of training triples, and the near-duplicate relations of the
    DBpedia music graph such as ``associatedBand``/``associatedMusicalArtist``), then repeated triples
    within each evaluation part. Training is unchanged, so one trained model is evaluated on both.
    """
    num_entities = split.training.num_entities
    train = split.training.mapped_triples
    train_pairs = np.unique(train[:, 0].numpy().astype(np.int64) * num_entities + train[:, 2].numpy())
    train_keys = {tuple(row) for row in train.tolist()}
    dropped = dict(split.dropped)
    parts = []
    for name, part in (("validation", split.validation), ("testing", split.testing)):
        mapped = part.mapped_triples
        pairs = mapped[:, 0].numpy().astype(np.int64) * num_entities + mapped[:, 2].numpy()
        pair_in_training = np.isin(pairs, train_pairs)
        dropped[f"{name}_verbatim_in_training"] = sum(tuple(row) in train_keys for row in mapped.tolist())
        dropped[f"{name}_pair_in_training"] = int(pair_in_training.sum())
        kept = mapped[torch.from_numpy(~pair_in_training)]
        _, first = np.unique(kept.numpy(), axis=0, return_index=True)
        dropped[f"{name}_repeated"] = dropped.get(f"{name}_repeated", 0) + int(len(kept) - len(first))
        kept = kept[torch.from_numpy(np.sort(first))]
        if len(kept) == 0:
            raise InvalidGraphDataError(f"De-duplication removed every {name} triple; nothing is left to evaluate.")
        parts.append(part.clone_and_exchange_triples(mapped_triples=kept))
    return KgeSplit(training=split.training, validation=parts[0], testing=parts[1], dropped=dropped)
