"""Relation extraction for text ingestion: a BiLSTM over entity-marked sentences (issue 5, step 3).

Public API::

    from ingestion.relations import load_relation_extractor, MentionSpan, RelationPrediction
    extractor = load_relation_extractor()          # newest artifact, or load_relation_extractor(path)
    extractor.version                              # provenance string
    extractor.predict(sentence, [MentionSpan(0, 11, "ARTIST"), ...]) -> list[RelationPrediction]
    extractor.predict_many([(sentence, mentions), ...], batch_size=128)

Train with ``python manage.py train_relations``. The relation schema is :mod:`ingestion.relations.schema`,
the corpus → schema tables :mod:`ingestion.relations.corpus_mapping`.

``load_relation_extractor`` is imported lazily so that reading the schema or the records does not load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ingestion.relations.records import MentionSpan, RelationPrediction
from ingestion.relations.schema import NONE_RELATION, RELATION_LABELS, RELATION_TYPES, RELATIONS_BY_NAME, RelationType

if TYPE_CHECKING:
    from ingestion.relations.extractor import RelationExtractor, load_relation_extractor

__all__ = [
    "MentionSpan",
    "NONE_RELATION",
    "RELATION_LABELS",
    "RELATION_TYPES",
    "RELATIONS_BY_NAME",
    "RelationExtractor",
    "RelationPrediction",
    "RelationType",
    "load_relation_extractor",
]


def __getattr__(name: str) -> Any:
    if name in {"load_relation_extractor", "RelationExtractor"}:
        from ingestion.relations import extractor

        return getattr(extractor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
