"""Music-domain named-entity recognition for text ingestion (a spaCy pipeline trained here).

Ingestion uses :func:`load_ner_model` and the returned :class:`NerModel`; training is
``python manage.py train_ner`` (:func:`ner_train_and_save`). See the README section "NER model".
"""

from __future__ import annotations

from ingestion.ner.config import NerTrainingConfig, config_from_json
from ingestion.ner.model import Mention, NerModel, Sentence, load_ner_model

__all__ = ["Mention", "NerModel", "NerTrainingConfig", "Sentence", "config_from_json", "load_ner_model"]
