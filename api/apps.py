from django.apps import AppConfig


class ApiConfig(AppConfig):
    """Shared REST plumbing (error envelope, permissions, pagination, throttling) and API client accounts."""

    name = "api"
    label = "api"
