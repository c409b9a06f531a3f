from django.apps import AppConfig


class AudioConfig(AppConfig):
    """Audio features, rendering, the works catalogue, the audio encoder and the upload API; no models of its own."""

    name = "audio"
    label = "audio"
