from django.apps import AppConfig


class CurationConfig(AppConfig):
    """The curator's side of the graph: review queue, admin views, graph-edit services; no models of its own."""

    name = "curation"
    label = "curation"
