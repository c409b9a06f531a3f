"""The curator admin: graph entities and relations (:mod:`curation.admin.graph`) and the review queue of
extracted facts (:mod:`curation.admin.review`). Django's admin autodiscovery imports this package."""

from curation.admin import graph, review

__all__ = ["graph", "review"]
