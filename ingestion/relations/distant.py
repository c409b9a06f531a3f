"""Distant supervision: label training mention pairs that the knowledge graph already relates.

The idea (Mintz et al. 2009): if the graph says ``Metallica -HAS_TAG-> thrash metal`` and a training
sentence mentions both, the sentence probably expresses that fact. Only pairs the corpora left as NONE
are relabelled (a gold label always wins), only onto relations whose NER labels fit the pair, and only
in training sentences: the dev split is never touched.

Names are matched exactly (case-insensitive) against entity names and aliases through the store
interface, so it works on either backend and simply adds nothing when the graph is empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ingestion.relations.corpus_mapping import GRAPH_RELATION_MAP
from ingestion.relations.records import AnnotatedSentence
from ingestion.relations.schema import NONE_RELATION, RELATIONS_BY_NAME
from kg.stores.base import KnowledgeGraphStore

#: How many prefix matches to fetch per name; exact matches come first in the store's order.
SEARCH_LIMIT = 25


@dataclass
class DistantReport:
    graph_entities_matched: int = 0
    graph_facts_found: int = 0
    added: Counter = field(default_factory=Counter)
    confirmed_gold: int = 0
    contradicted_gold: int = 0
    by_graph_relation: Counter = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def added_total(self) -> int:
        return sum(self.added.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "graph_entities_matched": self.graph_entities_matched,
            "graph_facts_between_mentioned_names": self.graph_facts_found,
            "added": self.added_total,
            "added_by_relation": dict(sorted(self.added.items())),
            "added_by_graph_relation": dict(sorted(self.by_graph_relation.items())),
            "gold_pairs_confirmed_by_graph": self.confirmed_gold,
            "gold_pairs_with_another_graph_relation": self.contradicted_gold,
            # Enough to rebuild the exact training set without the graph (benchmarks, audits).
            "examples": self.examples,
        }


def _mention_text(sentence: AnnotatedSentence, index: int) -> str:
    mention = sentence.mentions[index]
    return " ".join(sentence.text[mention.start : mention.end].split()).casefold()


def graph_facts_between(names: set[str], store: KnowledgeGraphStore) -> tuple[dict[tuple[str, str], set[str]], int]:
    """``(head name, tail name) → our relation names`` for graph triples joining two of ``names``.

    Returns the facts and how many graph entities carry one of the names.
    """
    entity_names: dict[str, str] = {}
    for name in sorted(names):
        for entity in store.search_entities(name, limit=SEARCH_LIMIT):
            spellings = {entity.name.casefold(), *(alias.casefold() for alias in entity.aliases)}
            if name in spellings:
                entity_names[entity.id] = name
    facts: dict[tuple[str, str], set[str]] = {}
    relation_types = sorted(GRAPH_RELATION_MAP)
    for entity_id, head_name in sorted(entity_names.items()):
        for neighbour in store.neighbours(entity_id, direction="out", relation_types=relation_types):
            tail = neighbour.entity
            spellings = {tail.name.casefold(), *(alias.casefold() for alias in tail.aliases)} & names
            for tail_name in spellings:
                facts.setdefault((head_name, tail_name), set()).add(neighbour.relation.type)
    return facts, len(entity_names)


def apply_distant_supervision(
    sentences: Sequence[AnnotatedSentence], store: KnowledgeGraphStore
) -> tuple[list[AnnotatedSentence], DistantReport]:
    """Relabel NONE candidate pairs of ``sentences`` that a graph triple relates; returns new sentences."""
    report = DistantReport()
    names = {_mention_text(s, i) for s in sentences for i in range(len(s.mentions))}
    names.discard("")
    facts, report.graph_entities_matched = graph_facts_between(names, store)
    report.graph_facts_found = sum(len(v) for v in facts.values())
    if not facts:
        return list(sentences), report
    result: list[AnnotatedSentence] = []
    for sentence in sentences:
        relations = dict(sentence.relations)
        distant = set(sentence.distant)
        for head, tail, gold in sentence.labelled_pairs():
            graph_types = facts.get((_mention_text(sentence, head), _mention_text(sentence, tail)), set())
            head_label, tail_label = sentence.mentions[head].label, sentence.mentions[tail].label
            fitting = sorted(
                (GRAPH_RELATION_MAP[t], t)
                for t in graph_types
                if RELATIONS_BY_NAME[GRAPH_RELATION_MAP[t]].allows(head_label, tail_label)
            )
            if not fitting:
                continue
            relation, graph_type = fitting[0]
            if gold == relation:
                report.confirmed_gold += 1
            elif gold != NONE_RELATION:
                report.contradicted_gold += 1
            else:
                pairs = [(head, tail), (tail, head)] if RELATIONS_BY_NAME[relation].symmetric else [(head, tail)]
                for pair in pairs:
                    if relations.get(pair, NONE_RELATION) == NONE_RELATION:
                        relations[pair] = relation
                        distant.add(pair)
                        report.added[relation] += 1
                        report.by_graph_relation[graph_type] += 1
                        report.examples.append(
                            {"sentence": sentence.id, "head": pair[0], "tail": pair[1], "relation": relation}
                        )
        if distant != set(sentence.distant):
            sentence = replace(sentence, relations=relations, distant=frozenset(distant))
        result.append(sentence)
    return result, report


def apply_recorded_distant_labels(
    sentences: Sequence[AnnotatedSentence], examples: Sequence[dict[str, Any]]
) -> list[AnnotatedSentence]:
    """Re-apply the distant labels a training run recorded (``metrics.json``), without asking the graph."""
    by_sentence: dict[str, list[dict[str, Any]]] = {}
    for example in examples:
        by_sentence.setdefault(example["sentence"], []).append(example)
    result = []
    for sentence in sentences:
        extra = by_sentence.get(sentence.id)
        if extra:
            relations = dict(sentence.relations)
            for example in extra:
                relations[(example["head"], example["tail"])] = example["relation"]
            pairs = frozenset((e["head"], e["tail"]) for e in extra)
            sentence = replace(sentence, relations=relations, distant=sentence.distant | pairs)
        result.append(sentence)
    return result
