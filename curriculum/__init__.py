"""Curriculum (app label ``curriculum``): concepts, prerequisites, learner progress, learning paths and next
steps, with their pages and REST API. Layer: above :mod:`recommender` (next steps link music), beside :mod:`audio`.
"""
