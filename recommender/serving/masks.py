"""Listeners whose trained user rows serving must never use (a deleted learner whose listening a published
model was trained on).

Why a registry of providers: the list is kept by :mod:`privacy`, a layer above serving that serving may not
import; privacy registers a function returning the ids at start-up (``PrivacyConfig.ready``) and every model
serving loads drops those rows (:func:`recommender.serving.model_holder.serving_model_build`). The next
retrain leaves the learner out entirely, because their listening is deleted with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

_PROVIDERS: list[Callable[[], Iterable[int]]] = []


def listener_mask_register(provider: Callable[[], Iterable[int]]) -> None:
    """Add ``provider`` (called at every model load) to the sources of masked listener ids (idempotent)."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def masked_listener_ids() -> set[int]:
    """Every listener id some provider says must not be served from a trained row."""
    return {int(pk) for provider in _PROVIDERS for pk in provider()}
