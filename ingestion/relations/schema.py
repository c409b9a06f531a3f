"""The relation types text ingestion may propose for the graph, as data.

Why one table drives everything: the same rows decide which ordered mention pairs are candidates at
training and at inference time (the head's and the tail's NER labels must fit a row), which classes the
classifier may choose for such a pair (the others are masked), and which direction a corpus relation
is turned into. A new relation type is one new row here plus mapping rows in :mod:`.corpus_mapping`.

Directions are head → tail as written into the graph (``artist COMPOSED work``), which is not always the
corpora's direction (FewRel's P86 "composer" has the work as head); the mapping tables normalise that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from ingestion.labels import NER_LABELS

#: The "no relation" class: a candidate pair the text says nothing about (in our schema).
NONE_RELATION = "NONE"


@dataclass(frozen=True)
class RelationType:
    """One graph relation type the extractor can propose.

    ``symmetric``: the relation reads the same both ways (a collaboration); training then labels both
    ordered pairs with it, so the classifier does not have to guess an arbitrary direction.
    """

    name: str
    head_labels: tuple[str, ...]
    tail_labels: tuple[str, ...]
    description: str
    symmetric: bool = False

    def allows(self, head_label: str, tail_label: str) -> bool:
        return head_label in self.head_labels and tail_label in self.tail_labels


RELATION_TYPES: tuple[RelationType, ...] = (
    RelationType(
        "COMPOSED",
        ("ARTIST", "PERSON"),
        ("WORK",),
        "The head wrote the music (or the song) of the work. FewRel P86 'composer' (work → composer, reversed).",
    ),
    RelationType(
        "PERFORMED",
        ("ARTIST", "BAND", "PERSON"),
        ("WORK",),
        "The head performs or recorded the work (its artist, a cover, a guest appearance). FewRel P175 "
        "'performer' (work → performer, reversed); CrossRE 'artifact' between a song/album and its artist.",
    ),
    RelationType(
        "HAS_GENRE",
        ("ARTIST", "BAND", "WORK"),
        ("GENRE",),
        "The head's music belongs to the genre. FewRel P136; CrossRE 'general-affiliation'/'type-of'/'usage' with a genre.",
    ),
    RelationType(
        "INSTRUMENTS_PLAYED",
        ("ARTIST", "PERSON"),
        ("INSTRUMENT",),
        "The head plays the instrument (same name as the Freebase-derived graph relation). FewRel P1303; CrossRE 'usage'.",
    ),
    RelationType(
        "MEMBER_OF",
        ("ARTIST", "PERSON"),
        ("BAND", "ORG"),
        "The head is (or was) a member of the band or organisation. FewRel P463; CrossRE 'part-of' and "
        "'role' marked in_band.",
    ),
    RelationType(
        "SIGNED_TO",
        ("ARTIST", "BAND"),
        ("ORG",),
        "The head is (or was) signed to the record label. FewRel P264 'record label'.",
    ),
    RelationType(
        "VOICE_TYPE",
        ("ARTIST", "PERSON"),
        ("CONCEPT", "MISC"),
        "The head sings in the voice type (soprano, baritone...). FewRel P412.",
    ),
    RelationType(
        "ORIGIN",
        ("ARTIST", "BAND"),
        ("PLACE",),
        "The head comes from, or is based in, the place (same name as the graph's ORIGIN). CrossRE "
        "'physical'/'origin' with a country, 'general-affiliation' marked from-country.",
    ),
    RelationType(
        "WON_AWARD",
        ("ARTIST", "BAND", "WORK", "PERSON"),
        ("AWARD",),
        "The head won the award (a nomination is not enough). CrossRE 'win-defeat' with an award.",
    ),
    RelationType(
        "ASSOCIATED_WITH",
        ("ARTIST", "BAND"),
        ("ARTIST", "BAND"),
        "The two acts are musically associated: they collaborated, performed together, one covered or "
        "influenced the other. CrossRE 'social', 'related-to' and 'role' between acts.",
        symmetric=True,
    ),
)

#: Class order of every classifier: NONE first, then the table's order. Saved in each artifact.
RELATION_LABELS: tuple[str, ...] = (NONE_RELATION, *(relation.name for relation in RELATION_TYPES))

RELATIONS_BY_NAME: Mapping[str, RelationType] = {relation.name: relation for relation in RELATION_TYPES}


@cache
def relations_for_labels(head_label: str, tail_label: str) -> tuple[str, ...]:
    """Relation names (without NONE) whose head and tail labels fit this ordered pair of NER labels."""
    return tuple(relation.name for relation in RELATION_TYPES if relation.allows(head_label, tail_label))


def is_candidate_pair(head_label: str, tail_label: str) -> bool:
    """Whether an ordered mention pair with these labels is worth classifying at all."""
    return bool(relations_for_labels(head_label, tail_label))


def allowed_label_mask(head_label: str, tail_label: str, labels: tuple[str, ...] = RELATION_LABELS) -> list[bool]:
    """For each class of ``labels``: may a pair with these NER labels get it? NONE always may."""
    allowed = set(relations_for_labels(head_label, tail_label)) | {NONE_RELATION}
    return [label in allowed for label in labels]


def schema_problems() -> list[str]:
    """Inconsistencies in the table (checked by the tests): unknown labels, duplicates, bad names."""
    problems: list[str] = []
    names = [relation.name for relation in RELATION_TYPES]
    if len(set(names)) != len(names):
        problems.append(f"duplicate relation names in {names}")
    if NONE_RELATION in names:
        problems.append(f"{NONE_RELATION} is the no-relation class, not a relation type")
    for relation in RELATION_TYPES:
        if not relation.name.isupper() or " " in relation.name:
            problems.append(f"{relation.name}: relation names are upper snake case")
        for label in (*relation.head_labels, *relation.tail_labels):
            if label not in NER_LABELS:
                problems.append(f"{relation.name}: {label!r} is not an NER label of ingestion.labels.NER_LABELS")
        if not relation.head_labels or not relation.tail_labels:
            problems.append(f"{relation.name}: needs at least one head and one tail label")
        if relation.symmetric and set(relation.head_labels) != set(relation.tail_labels):
            problems.append(f"{relation.name}: a symmetric relation needs the same head and tail labels")
        if not relation.description.strip():
            problems.append(f"{relation.name}: description is empty")
    return problems
