"""Plain records shared by the readers, the trainer and the inference API.

Why character offsets everywhere (not corpus tokens): ingestion hands the extractor raw sentences and
the NER stage's character spans. Training data is turned into the same form (tokens joined by single
spaces), so one tokenizer (spaCy's blank English) sees training and inference text alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ingestion.relations.schema import NONE_RELATION, is_candidate_pair


@dataclass(frozen=True)
class MentionSpan:
    """An entity mention: ``sentence[start:end]``, with an NER label of :data:`ingestion.labels.NER_LABELS`."""

    start: int
    end: int
    label: str

    def overlaps(self, other: MentionSpan) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class RelationPrediction:
    """``mentions[head] -relation-> mentions[tail]``.

    ``confidence`` is calibrated (the expected precision of such a prediction, see
    :mod:`ingestion.relations.calibration`); ``probability`` is the model's temperature-scaled softmax.
    """

    head: int
    tail: int
    relation: str
    confidence: float
    probability: float = 0.0


@dataclass(frozen=True)
class AnnotatedSentence:
    """A sentence with its mentions and gold relations in our schema.

    ``relations`` maps an ordered pair of mention indices to its relation; candidate pairs missing from it
    are NONE, except the ``excluded`` pairs: the corpus relates them in a way our schema does not model,
    so they are neither a positive nor a NONE example.
    """

    id: str
    source: str
    text: str
    mentions: tuple[MentionSpan, ...]
    relations: Mapping[tuple[int, int], str] = field(default_factory=dict)
    excluded: frozenset[tuple[int, int]] = frozenset()
    #: Pairs whose label came from distant supervision (graph triples), for reporting.
    distant: frozenset[tuple[int, int]] = frozenset()

    def candidate_pairs(self) -> list[tuple[int, int]]:
        """Ordered pairs of non-overlapping mentions whose labels fit some relation of the schema."""
        return candidate_pairs(self.mentions)

    def labelled_pairs(self) -> list[tuple[int, int, str]]:
        """Every training/evaluation example of this sentence: ``(head, tail, relation or NONE)``."""
        pairs = [(h, t) for h, t in self.candidate_pairs() if (h, t) not in self.excluded]
        return [(h, t, self.relations.get((h, t), NONE_RELATION)) for h, t in pairs]


def candidate_pairs(mentions: tuple[MentionSpan, ...] | list[MentionSpan]) -> list[tuple[int, int]]:
    """Ordered pairs ``(head, tail)`` to classify: distinct, non-overlapping, labels allowed by the schema."""
    pairs: list[tuple[int, int]] = []
    for h, head in enumerate(mentions):
        for t, tail in enumerate(mentions):
            if h != t and not head.overlaps(tail) and is_candidate_pair(head.label, tail.label):
                pairs.append((h, t))
    return pairs
