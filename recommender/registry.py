"""One place to build any recommender by name: the baselines and Leitmotif's own models.

Why a thin layer over :mod:`recommender.baselines.registry`: experiments name models the same way
whether they are baselines or the product model, and the product model needs the dataset (its
content embeddings and graph) to be built, which a baseline does not.
"""

from __future__ import annotations

from typing import Any

from core.errors import ConfigurationError
from recommender.base import Recommender
from recommender.baselines import registry as baselines
from recommender.data import InteractionDataset
from recommender.models import registry as product_models


def available_recommenders() -> dict[str, str]:
    """Alias -> versioned name of every model an experiment can run."""
    return dict(sorted({**baselines.model_aliases(), **product_models.model_aliases()}.items()))


def resolve_recommender_name(name: str) -> str:
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else ""
    key = product_models.model_aliases().get(key, key)
    if key in product_models.available_recommenders():
        return key
    try:
        return baselines.resolve_model_name(key)
    except ConfigurationError:
        choices = ", ".join(available_recommenders())
        raise ConfigurationError(f"Unknown model {name!r}; choose from: {choices}.") from None


def build_recommender(name: str, *, dataset: InteractionDataset, params: dict[str, Any] | None = None) -> Recommender:
    """A fresh, unfitted model ``name`` with hyper-parameters ``params`` (defaults for the rest)."""
    versioned = resolve_recommender_name(name)
    params = dict(params or {})
    if versioned in product_models.available_recommenders():
        return product_models.build_for_dataset(versioned, dataset=dataset, params=params)
    return baselines.get_model(versioned, **params)
