from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "learning_platform.catalog"
    label = "catalog"
