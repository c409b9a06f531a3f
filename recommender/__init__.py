"""Recommendation: evaluation protocols and baselines, the joint ``L_rec + λ·L_kg`` model, training and
refresh, re-ranking, graph-path explanations, serving (published model, fold-in), plain-English
requests (:mod:`recommender.understanding`) and the catalogue/recommendation REST API.

Layer: above :mod:`ingestion` (its NER and linker read requests) and :mod:`kg`; beside :mod:`curation`.
"""
