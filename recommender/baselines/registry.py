"""Registry of baseline recommenders, chosen by versioned name (``baseline.ease.v1``) or short alias (``ease``).

Why versioned names: a changed default or algorithm that alters results gets a new name instead of
silently changing an old one, so a stored experiment always says exactly which model produced it
(the same convention as ``kg.store.*.v1`` and ``kge.*.v1``). Models are imported lazily, so asking for
EASE never loads torch or PyKEEN.

The table is a :class:`core.registry.VersionedRegistry`, the resolver shared by every choose-by-name
component (stores, product models, audio-encoder variants), rather than PyKEEN's ``class_resolver``,
which normalises names by stripping suffixes and knows neither versioned names nor numbered errors.
"""

from __future__ import annotations

from typing import Any

from core.errors import ConfigurationError
from core.registry import VersionedRegistry, import_object
from recommender.baselines.base import BaselineRecommender

#: versioned name (alias) -> "module:Class", imported on first use.
BASELINES: VersionedRegistry[str] = VersionedRegistry("baseline model")
BASELINES.register(
    "baseline.most_popular.v1", "recommender.baselines.most_popular:MostPopular", aliases=("most_popular",)
)
BASELINES.register("baseline.user_knn.v1", "recommender.baselines.user_knn:UserKNN", aliases=("user_knn",))
BASELINES.register("baseline.item_knn.v1", "recommender.baselines.item_knn:ItemKNN", aliases=("item_knn",))
BASELINES.register("baseline.ease.v1", "recommender.baselines.ease:EASE", aliases=("ease",))
BASELINES.register("baseline.bpr_mf.v1", "recommender.baselines.bpr_mf:BPRMF", aliases=("bpr_mf",))
BASELINES.register("baseline.wmf.v1", "recommender.baselines.wmf:WMF", aliases=("wmf",))
BASELINES.register("baseline.neumf.v1", "recommender.baselines.neumf:NeuMF", aliases=("neumf",))
BASELINES.register("baseline.wide_deep.v1", "recommender.baselines.wide_deep:WideAndDeep", aliases=("wide_deep",))
BASELINES.register(
    "baseline.content_tags.v1", "recommender.baselines.content_tags:ContentTags", aliases=("content_tags",)
)
BASELINES.register("baseline.kge_only.v1", "recommender.baselines.kge_only:KGEOnly", aliases=("kge_only",))


def available_models() -> list[str]:
    """Versioned names of every registered baseline, sorted."""
    return BASELINES.names()


def model_aliases() -> dict[str, str]:
    """Short alias -> versioned name."""
    return BASELINES.aliases()


def resolve_model_name(name: str) -> str:
    """Turn ``ease`` / ``EASE`` / ``baseline.ease.v1`` into the versioned name, or explain the choices."""
    return BASELINES.resolve(name)


def get_model_class(name: str) -> type[BaselineRecommender]:
    """The class registered as ``name`` (imported now)."""
    versioned = BASELINES.resolve(name)
    cls = import_object(BASELINES.get(versioned))
    # The class states its own name so reports print it even when built directly; keep both in sync.
    assert cls.name == versioned and cls.alias in BASELINES.aliases_of(versioned), (cls, versioned)
    return cls


def get_model(name: str, **params: Any) -> BaselineRecommender:
    """Build the baseline ``name`` with hyper-parameters ``params`` (unset ones take the class defaults)."""
    cls = get_model_class(name)
    allowed = cls.parameter_names()
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigurationError(
            f"{cls.name} has no parameter(s) {', '.join(map(repr, unknown))}; "
            f"its parameters are: {', '.join(allowed) if allowed else '(none)'}."
        )
    return cls(**params)
