"""``OPTIONS`` answers for every API view.

DRF's ``SimpleMetadata`` describes a ``PUT`` by first calling ``view.get_object()``, which asserts that
the view has a queryset. Views that write the caller's own data (``/me/interests/``,
``/learning/profile/``) have none, so ``OPTIONS`` on them was a 500. Here the object check runs only
for views that look objects up; the rest are described from their serializer alone.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import clone_request


def _looks_objects_up(view: Any) -> bool:
    return hasattr(view, "get_object") and (
        getattr(view, "queryset", None) is not None or "get_queryset" in type(view).__dict__
    )


class LeitmotifMetadata(SimpleMetadata):
    def determine_actions(self, request: Any, view: Any) -> dict[str, Any]:
        actions = {}
        for method in {"PUT", "POST"} & set(view.allowed_methods):
            view.request = clone_request(request, method)
            try:
                if hasattr(view, "check_permissions"):
                    view.check_permissions(view.request)
                if method == "PUT" and _looks_objects_up(view):
                    view.get_object()
            except (exceptions.APIException, PermissionDenied, Http404):
                pass
            else:
                actions[method] = self.get_serializer_info(view.get_serializer())
            finally:
                view.request = request
        return actions
