"""Baseline recommenders, each registered under a versioned name (see :mod:`.registry`).

Usage::

    from recommender.baselines import available_models, get_model
    model = get_model("ease", l2=300.0).fit(train, seed=0, context=context)
    scores = model.score(users)
"""

from __future__ import annotations

from recommender.baselines.base import BaselineRecommender
from recommender.baselines.registry import (
    available_models,
    get_model,
    get_model_class,
    model_aliases,
    resolve_model_name,
)

__all__ = [
    "BaselineRecommender",
    "available_models",
    "get_model",
    "get_model_class",
    "model_aliases",
    "resolve_model_name",
]
