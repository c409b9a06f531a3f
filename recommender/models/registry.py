"""Registry of Leitmotif's own recommenders, chosen by versioned name (``leitmotif.joint.v1``) or alias (``leitmotif``).

Same convention as the baselines (:mod:`recommender.baselines.registry`) and the KGE models, and the
same resolver (:class:`core.registry.VersionedRegistry`): a change that alters results gets a new
versioned name, so a stored experiment always says which model produced it. Classes are imported on
first use, so resolving a name never loads torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.registry import VersionedRegistry, import_object


@dataclass(frozen=True)
class ProductModel:
    """Where a product recommender lives: its class and the builder that prepares it for a dataset.

    Why a builder besides the class: the product model needs what a baseline does not (content vectors,
    a KGE artifact), computed from the dataset; the builder takes ``(dataset=..., **params)``.
    Both are ``"module:attr"`` paths, imported on first use.
    """

    cls: str
    builder: str


PRODUCT_MODELS: VersionedRegistry[ProductModel] = VersionedRegistry("recommender")
PRODUCT_MODELS.register(
    "leitmotif.joint.v1",
    ProductModel(
        cls="recommender.models.joint:JointKGRecommender", builder="recommender.training:joint_model_for_dataset"
    ),
    aliases=("leitmotif",),
)


def available_recommenders() -> list[str]:
    """Versioned names of every registered product recommender, sorted."""
    return PRODUCT_MODELS.names()


def model_aliases() -> dict[str, str]:
    """Alias -> versioned name of every product recommender."""
    return PRODUCT_MODELS.aliases()


def resolve_recommender_name(name: str) -> str:
    """Turn ``leitmotif`` / ``Leitmotif`` / ``leitmotif.joint.v1`` into the versioned name, or list the choices."""
    return PRODUCT_MODELS.resolve(name)


def get_recommender_class(name: str) -> type:
    """The class registered as ``name`` (imported now)."""
    versioned = PRODUCT_MODELS.resolve(name)
    cls = import_object(PRODUCT_MODELS.get(versioned).cls)
    assert cls.name == versioned and cls.alias in PRODUCT_MODELS.aliases_of(versioned), (cls, versioned)
    return cls


def get_recommender(name: str, **kwargs: Any):
    """Build the recommender ``name``; ``kwargs`` go to its constructor (``config=``, ``content_embeddings=`` …)."""
    return get_recommender_class(name)(**kwargs)


def build_for_dataset(name: str, *, dataset, params: dict[str, Any] | None = None):
    """Build ``name`` ready to fit on ``dataset`` (its builder computes content vectors etc.); ``params`` override the config."""
    builder = import_object(PRODUCT_MODELS.get(name).builder)
    return builder(dataset=dataset, **dict(params or {}))
