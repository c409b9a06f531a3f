"""Request-rate limits (rates from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``, set by environment).

* ``user``: every authenticated caller (``API_THROTTLE_USER``, default 1200/minute);
* ``anon``: unauthenticated callers of the public endpoints (``API_THROTTLE_ANON``);
* ``interactions``: writes of learner events (``API_THROTTLE_INTERACTIONS``), tighter because each one
  is a database write that the next recommendation call reads.

Why subclasses: DRF's throttles copy the rates into a class attribute at import time, so a rate
changed in settings later (a test, a reloaded configuration) would be ignored; these read the current
setting on every request. Counts live in Django's cache (per process with the default local-memory
cache: with several server workers the effective limit is per worker unless a shared cache is set).
"""

from __future__ import annotations

from typing import cast

from rest_framework import throttling
from rest_framework.settings import api_settings


class _CurrentRates:
    scope: str | None

    def get_rate(self) -> str | None:
        # The stubs type the rates as numbers; DRF's are "N/period" strings (or None for no limit).
        rates = cast("dict[str | None, str | None]", api_settings.DEFAULT_THROTTLE_RATES)
        return rates.get(self.scope)


class UserThrottle(_CurrentRates, throttling.UserRateThrottle):
    scope = "user"


class AnonThrottle(_CurrentRates, throttling.AnonRateThrottle):
    scope = "anon"


class InteractionThrottle(_CurrentRates, throttling.UserRateThrottle):
    """Counts only writes (POST/PUT/PATCH/DELETE) by authenticated users."""

    scope = "interactions"

    def allow_request(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS") or not request.user.is_authenticated:
            return True
        return super().allow_request(request, view)
