"""Registry of baseline recommenders, chosen by versioned name (``baseline.ease.v1``) or short alias (``ease``).

Why versioned names: a changed default or algorithm that alters results gets a new name instead of
silently changing an old one, so a stored experiment always says exactly which model produced it
(the same convention as ``kg.store.*.v1`` and ``kge.*.v1``). Models are imported lazily, so asking for
EASE never loads torch or PyKEEN.

Why not ``class_resolver`` (what PyKEEN uses): it normalises names by stripping suffixes and does not
know versioned names or this project's numbered errors; the table below is all the resolving we need.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from core.errors import ConfigurationError
from recommender.baselines.base import BaselineRecommender

# versioned name -> (alias, "module:Class"), imported on first use.
_MODELS: dict[str, tuple[str, str]] = {
    "baseline.most_popular.v1": ("most_popular", "recommender.baselines.most_popular:MostPopular"),
    "baseline.user_knn.v1": ("user_knn", "recommender.baselines.user_knn:UserKNN"),
    "baseline.item_knn.v1": ("item_knn", "recommender.baselines.item_knn:ItemKNN"),
    "baseline.ease.v1": ("ease", "recommender.baselines.ease:EASE"),
    "baseline.bpr_mf.v1": ("bpr_mf", "recommender.baselines.bpr_mf:BPRMF"),
    "baseline.wmf.v1": ("wmf", "recommender.baselines.wmf:WMF"),
    "baseline.neumf.v1": ("neumf", "recommender.baselines.neumf:NeuMF"),
    "baseline.wide_deep.v1": ("wide_deep", "recommender.baselines.wide_deep:WideAndDeep"),
    "baseline.content_tags.v1": ("content_tags", "recommender.baselines.content_tags:ContentTags"),
    "baseline.kge_only.v1": ("kge_only", "recommender.baselines.kge_only:KGEOnly"),
}
_ALIASES: dict[str, str] = {alias: name for name, (alias, _) in _MODELS.items()}


def available_models() -> list[str]:
    """Versioned names of every registered baseline, sorted."""
    return sorted(_MODELS)


def model_aliases() -> dict[str, str]:
    """Short alias -> versioned name."""
    return dict(sorted(_ALIASES.items()))


def resolve_model_name(name: str) -> str:
    """Turn ``ease`` / ``EASE`` / ``baseline.ease.v1`` into the versioned name, or explain the choices."""
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else ""
    resolved = _ALIASES.get(key, key)
    if resolved not in _MODELS:
        choices = ", ".join(f"{alias} ({versioned})" for alias, versioned in model_aliases().items())
        raise ConfigurationError(f"Unknown baseline model {name!r}; choose one of: {choices}.")
    return resolved


def get_model_class(name: str) -> type[BaselineRecommender]:
    versioned = resolve_model_name(name)
    module_name, _, class_name = _MODELS[versioned][1].partition(":")
    cls = getattr(import_module(module_name), class_name)
    # The class states its own name so reports print it even when built directly; keep both in sync.
    assert cls.name == versioned and cls.alias == _MODELS[versioned][0], (cls, versioned)
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
