"""Registry of Leitmotif's own recommenders, chosen by versioned name (``leitmotif.joint.v1``) or alias (``leitmotif``).

Same convention as the baselines (:mod:`recommender.baselines.registry`) and the KGE models: a change
that alters results gets a new versioned name, so a stored experiment always says which model
produced it. Classes are imported on first use, so resolving a name never loads torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from core.errors import ConfigurationError

# versioned name -> (alias, "module:Class", "module:builder"); a builder takes (dataset=..., **params)
# and prepares what the class needs besides its config (content vectors, a KGE artifact).
_MODELS: dict[str, tuple[str, str, str]] = {
    "leitmotif.joint.v1": (
        "leitmotif",
        "recommender.models.joint:JointKGRecommender",
        "recommender.training:joint_model_for_dataset",
    ),
}
_ALIASES: dict[str, str] = {alias: name for name, (alias, *_) in _MODELS.items()}


def available_recommenders() -> list[str]:
    """Versioned names of every registered product recommender, sorted."""
    return sorted(_MODELS)


def model_aliases() -> dict[str, str]:
    """Alias -> versioned name of every product recommender."""
    return dict(_ALIASES)


def resolve_recommender_name(name: str) -> str:
    """Turn ``leitmotif`` / ``Leitmotif`` / ``leitmotif.joint.v1`` into the versioned name, or list the choices."""
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else ""
    resolved = _ALIASES.get(key, key)
    if resolved not in _MODELS:
        choices = ", ".join(f"{alias} ({versioned})" for alias, versioned in sorted(_ALIASES.items()))
        raise ConfigurationError(f"Unknown recommender {name!r}; choose one of: {choices}.")
    return resolved


def get_recommender_class(name: str) -> type:
    versioned = resolve_recommender_name(name)
    cls = _import(_MODELS[versioned][1])
    assert cls.name == versioned and cls.alias == _MODELS[versioned][0], (cls, versioned)
    return cls


def get_recommender(name: str, **kwargs: Any):
    """Build the recommender ``name``; ``kwargs`` go to its constructor (``config=``, ``content_embeddings=`` …)."""
    return get_recommender_class(name)(**kwargs)


def build_for_dataset(name: str, *, dataset, params: dict[str, Any] | None = None):
    """Build ``name`` ready to fit on ``dataset`` (its builder computes content vectors etc.); ``params`` override the config."""
    versioned = resolve_recommender_name(name)
    return _import(_MODELS[versioned][2])(dataset=dataset, **dict(params or {}))


def _import(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    return getattr(import_module(module_name), attr)
