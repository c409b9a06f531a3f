"""The export as a file download, shared by the API (``?download=true``) and the settings page."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.utils import timezone


def export_download_response(export: dict[str, Any]) -> HttpResponse:
    """``leitmotif-my-data-YYYY-MM-DD.json`` as an attachment, never cached by the browser or a proxy."""
    response = HttpResponse(
        json.dumps(export, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="leitmotif-my-data-{timezone.now():%Y-%m-%d}.json"'
    response["Cache-Control"] = "no-store"
    return response
