"""Getting data in: the Last.FM and Udemy loaders (:mod:`ingestion.loaders`), and the text pipeline
(documents, spaCy NER, entity linking, the BiLSTM relation extractor, jobs and their REST API).

Layer: above :mod:`kg`; below :mod:`curation` (which reviews what this extracts) and :mod:`recommender`.
"""
