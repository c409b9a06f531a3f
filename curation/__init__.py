"""The curator's side of the graph (app label ``curation``, no models): the review queue of extracted
facts (:mod:`curation.review`), graph-edit services (:mod:`curation.services`) and the curator admin
(:mod:`curation.admin`).

Layer: above :mod:`ingestion` (whose extracted facts it reviews) and :mod:`kg`; beside :mod:`recommender`.
"""
