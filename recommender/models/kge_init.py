"""Start the joint model's entity/relation tables from a pretrained KGE artifact (matched by id).

Why separate from the training loop: it is one of two ways a network gets its starting weights (the
other is :mod:`.warm_start`), it runs before any optimisation step, and its errors are about the
artifact the user picked, not about training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from core.errors import ConfigurationError
from recommender.base import ItemSideInfo
from recommender.models.config import JointConfig
from recommender.models.network import JointNetwork

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kg.embeddings.artifacts import KgeArtifact


def initialise_from_kge_(
    network: JointNetwork, artifact: KgeArtifact, *, side_info: ItemSideInfo, config: JointConfig, model: str
) -> dict[str, Any]:
    """Copy the artifact's vectors of entities/relations that also exist in this graph (matched by id); returns counts.

    The rest of each table keeps its fresh initialisation. ``model`` names the recommender in errors.
    """
    net = network
    assert net.entities is not None and net.relations is not None
    alias = artifact.config.spec.alias
    if alias != config.kg_interaction:
        raise ConfigurationError(
            f"{model}: the KGE artifact {artifact.path} holds {alias} vectors but kg_interaction is "
            f"{config.kg_interaction!r}; set kg_interaction={alias!r} or pick a {config.kg_interaction} artifact."
        )
    width = net.entities.embedding_dim
    if artifact.entity_embeddings.shape[1] != width:
        raise ConfigurationError(
            f"{model}: the KGE artifact {artifact.path} has {artifact.entity_embeddings.shape[1]}-wide vectors but "
            f"graph_dim={config.graph_dim} needs {width}; set graph_dim={artifact.config.embedding_dim}."
        )
    counts: dict[str, Any] = {"artifact": str(artifact.path)}
    for label, table, ids, source, mapping in (
        ("entities", net.entities, side_info.entity_ids, artifact.entity_embeddings, artifact.entity_to_id),
        (
            "relations",
            net.relations,
            side_info.relation_types,
            artifact.relation_embeddings,
            artifact.relation_to_id,
        ),
    ):
        rows = [(k, mapping[name]) for k, name in enumerate(ids) if name in mapping]
        if rows:
            ours, theirs = (torch.as_tensor(x, dtype=torch.long) for x in zip(*rows, strict=True))
            with torch.no_grad():
                table.weight[ours] = torch.from_numpy(source)[theirs]
        counts[label] = {"initialised": len(rows), "total": len(ids)}
    if counts["entities"]["initialised"] == 0:
        raise ConfigurationError(
            f"{model}: none of the graph's {len(side_info.entity_ids)} entities is in the KGE artifact "
            f"{artifact.path}; it was trained on a different graph. Retrain it with `python manage.py train_kge`."
        )
    return counts
