"""Leitmotif's own recommenders (the product model), registered by versioned name.

Usage::

    from recommender.models import get_recommender
    from recommender.models.config import JointConfig
    model = get_recommender("leitmotif", config=JointConfig(lambda_kg=0.1), content_embeddings=vectors)
    model.fit(train, seed=0, context=context)

Why this package only re-exports the registry: Django imports ``<app>.models`` at start-up, so
anything heavy here (torch, PyKEEN) would slow down every management command; the model classes are
imported on first use.
"""

from __future__ import annotations

from recommender.models.registry import (
    available_recommenders,
    get_recommender,
    get_recommender_class,
    resolve_recommender_name,
)

__all__ = ["available_recommenders", "get_recommender", "get_recommender_class", "resolve_recommender_name"]
