"""Target spaces an audio encoder can learn to predict into, chosen by name (``config.target``).

* ``kge`` (default) – the work entity's graph embedding from a PyKEEN artifact (newest artifact of
  ``config.kge_model``, or ``config.kge_artifact``). A predicted vector can then be scored against
  graph entities with the artifact's own relation vectors (TransE: ``-‖h + r − t‖₁``; ComplEx:
  ``Re⟨h, r, t̄⟩``), which is how the cold-start service names likely composers, eras and forms.
* ``wmf`` – WMF (implicit ALS) item factors fitted on the catalog's listening data. Available for
  items that have both audio and interactions. **On this data there are none**: the listened items are
  Last.FM artists, which have no recordings here, and the works with recordings have no listeners, so
  asking for this target raises a :class:`ConfigurationError` that says so before anything is fitted.

The space is copied into the encoder artifact (:class:`ReferenceSpace`: vectors of the works and of
the candidate composers/eras/forms, plus the three relation vectors), so serving a trained encoder
needs neither the KGE artifact nor the graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigurationError, DataFileError, ModelArtifactError

TARGETS: dict[str, str] = {
    "kge": "Work entity vectors of a PyKEEN knowledge-graph embedding artifact (train_kge).",
    "wmf": "WMF item factors of items with listening data (not measurable here: no item has both audio and listens).",
}


def resolve_target(name: str) -> str:
    key = name.strip().lower() if isinstance(name, str) else ""
    if key not in TARGETS:
        raise ConfigurationError(f"Unknown audio encoder target {name!r}; choose one of: {', '.join(TARGETS)}.")
    return key


@dataclass(frozen=True)
class TargetSpace:
    """Vectors by entity id, and how to score a vector against entities through a relation."""

    name: str
    entity_ids: tuple[str, ...]
    vectors: np.ndarray
    #: ``transe``, ``complex`` or ``cosine`` (no relation vectors: plain cosine similarity).
    scoring: str
    relation_vectors: Mapping[str, np.ndarray] = field(default_factory=dict)
    #: Where the space came from (artifact path, model, config hash), recorded in the encoder's config.
    source: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rows", {entity_id: row for row, entity_id in enumerate(self.entity_ids)})

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def has(self, entity_id: str) -> bool:
        return entity_id in self._rows  # type: ignore[attr-defined]

    def vector(self, entity_id: str) -> np.ndarray:
        return self.vectors[self._rows[entity_id]]  # type: ignore[attr-defined]

    def subset(self, entity_ids: list[str]) -> TargetSpace:
        """The same space restricted to ``entity_ids`` (those it has), for saving inside an encoder artifact."""
        kept = [entity_id for entity_id in dict.fromkeys(entity_ids) if self.has(entity_id)]
        vectors = (
            np.stack([self.vector(entity_id) for entity_id in kept]) if kept else np.zeros((0, self.dim), np.float32)
        )
        return TargetSpace(
            self.name,
            tuple(kept),
            vectors.astype(np.float32),
            self.scoring,
            dict(self.relation_vectors),
            dict(self.source),
        )


def load_target_space(config, *, relations: tuple[str, ...], item_ids: list[str]) -> TargetSpace:
    """The target space ``config.target`` names; ``relations`` are the relation vectors wanted for scoring."""
    if config.target == "kge":
        return _kge_space(config, relations=relations)
    return _wmf_space(item_ids=item_ids)


def _kge_space(config, *, relations: tuple[str, ...]) -> TargetSpace:
    from kg.embeddings.artifacts import latest_artifact, load_kge_artifact

    try:
        path = Path(config.kge_artifact) if config.kge_artifact else latest_artifact(config.kge_model)
        artifact = load_kge_artifact(path)
    except DataFileError as exc:
        raise ModelArtifactError(
            f"The KGE target needs a knowledge-graph embedding artifact that includes the works: {exc.message} "
            "(after `python manage.py load_works`, run `python manage.py train_kge --model transe`)."
        ) from exc
    spec = artifact.config.spec
    scoring = "complex" if spec.complex_valued else ("transe" if spec.alias == "transe" else "cosine")
    ordered = sorted(artifact.entity_to_id, key=artifact.entity_to_id.__getitem__)
    relation_vectors = {
        name: artifact.relation_embeddings[artifact.relation_to_id[name]]
        for name in relations
        if name in artifact.relation_to_id
    }
    return TargetSpace(
        name="kge",
        entity_ids=tuple(ordered),
        vectors=artifact.entity_embeddings,
        scoring=scoring,
        relation_vectors=relation_vectors,
        source={
            "kge_artifact": str(artifact.path),
            "kge_model": artifact.config.model,
            "kge_config_hash": artifact.config.config_hash(),
            "kge_created_at": artifact.manifest.get("created_at"),
        },
    )


def _wmf_space(*, item_ids: list[str]) -> TargetSpace:
    """WMF item factors for ``item_ids`` (entity ids of items with audio); refuses when none has listens.

    The overlap is checked before fitting: on the Last.FM data the listened items are artists
    (``lastfm:artist:*``) and the items with audio are works (``leitmotif:work:*``), so nothing overlaps.
    """
    from catalog.models import Artist
    from recommender.base import TrainingContext
    from recommender.baselines.wmf import WMF
    from recommender.data import InteractionDataset

    listened = dict(
        Artist.objects.filter(entity_id__in=item_ids, kgcn_entity__isnull=False).values_list("entity_id", "pk")
    )
    if not listened:
        raise ConfigurationError(
            "The wmf target needs items that have both recordings and listening data, and there are none: the listened "
            "items are Last.FM artists, which have no audio here, and the works with audio have no listeners. "
            "Use --target kge."
        )
    dataset = InteractionDataset.from_catalog()
    model = WMF()
    binary = dataset.matrix.copy()
    binary.data[:] = 1.0
    model.fit(binary, seed=0, context=TrainingContext())
    column = {int(pk): index for index, pk in enumerate(dataset.item_ids)}
    kept = [entity_id for entity_id, pk in listened.items() if pk in column]
    vectors = np.stack([model.item_factors[column[listened[entity_id]]] for entity_id in kept]).astype(np.float32)
    return TargetSpace(name="wmf", entity_ids=tuple(kept), vectors=vectors, scoring="cosine", source={"wmf": WMF.name})
