"""One place to build any recommender by name: the baselines and Leitmotif's own models.

Why a thin layer over :mod:`recommender.baselines.registry`: experiments name models the same way
whether they are baselines or the product model, and the product model needs the dataset (its
content embeddings and graph) to be built, which a baseline does not. :data:`RECOMMENDERS` is a
:class:`core.registry.VersionedRegistry` that includes both registries (looked up live, not copied).
"""

from __future__ import annotations

from typing import Any

from core.registry import VersionedRegistry
from recommender.base import Recommender
from recommender.baselines import registry as baselines
from recommender.data import InteractionDataset
from recommender.models import registry as product_models

#: Every model an experiment can run: the product models first, then the baselines.
RECOMMENDERS: VersionedRegistry[Any] = VersionedRegistry(
    "model",
    listing="aliases",
    choose="choose from",
    includes=(product_models.PRODUCT_MODELS, baselines.BASELINES),
)


def available_recommenders() -> dict[str, str]:
    """Alias -> versioned name of every model an experiment can run."""
    return RECOMMENDERS.aliases()


def resolve_recommender_name(name: str) -> str:
    """Turn any alias or versioned name (``Item-KNN``, ``leitmotif.joint.v1``) into the versioned name."""
    return RECOMMENDERS.resolve(name)


def build_recommender(name: str, *, dataset: InteractionDataset, params: dict[str, Any] | None = None) -> Recommender:
    """A fresh, unfitted model ``name`` with hyper-parameters ``params`` (defaults for the rest)."""
    versioned = resolve_recommender_name(name)
    params = dict(params or {})
    if versioned in product_models.PRODUCT_MODELS:
        return product_models.build_for_dataset(versioned, dataset=dataset, params=params)
    return baselines.get_model(versioned, **params)
