"""Names shared by the curriculum loader, the graph reader, the selectors and the pages.

Why one module: the loader writes these sources and property keys and every reader looks for exactly
them; keeping the strings in one place means a rename cannot leave a reader behind. The graph's own
names (``CONCEPT_TYPE``, ``PREREQUISITE_OF``...) are owned by :mod:`kg.schema`; the ones the curriculum
reads are re-exported here so its modules name them from one place.

The curriculum lives in the knowledge graph (so curators edit it in the admin and ingestion can add
edges), shaped as:

* ``Concept`` entities ``leitmotif:concept:<slug>`` — the 15 coarse ids of the course loader are reused;
  curriculum data sits under ``properties["curriculum"]`` (level, description, sources, quiz);
* ``concept -PREREQUISITE_OF-> concept`` (prerequisite → dependent);
* ``concept -PART_OF-> concept`` (a narrower concept → its umbrella, e.g. *Major scales* → *Scales and modes*);
* ``concept -ASSOCIATED_TAG-> lastfm:tag:<id>`` (music in which the concept is prominent);
* ``concept -FOR_INSTRUMENT-> leitmotif:instrument:<slug>`` (no such edge = every instrument);
* ``course -TEACHES_CONCEPT-> concept`` (from the course loader and from this app's title matching).
"""

from __future__ import annotations

from collections.abc import Mapping

from kg.schema import ASSOCIATED_TAG, CONCEPT_TYPE, FOR_INSTRUMENT, PART_OF, PREREQUISITE_OF, TEACHES_CONCEPT

__all__ = [
    "ASSOCIATED_TAG",
    "CONCEPT_TYPE",
    "COURSE_LEVEL_RANK",
    "CURRICULUM_PROPERTY",
    "CURRICULUM_RELATION_TYPES",
    "CURRICULUM_SOURCE",
    "FOR_INSTRUMENT",
    "LEVELS",
    "LEVEL_NAMES",
    "LEVEL_RANK",
    "PART_OF",
    "PREREQUISITE_OF",
    "TEACHES_CONCEPT",
    "TITLE_MATCHING_SOURCE",
    "level_rank",
]

#: Every relation type the curriculum reader looks at (one ``neighbours`` call per concept reads them all).
CURRICULUM_RELATION_TYPES: tuple[str, ...] = (PREREQUISITE_OF, PART_OF, ASSOCIATED_TAG, FOR_INSTRUMENT, TEACHES_CONCEPT)

#: Provenance of the links written from the curriculum file.
CURRICULUM_SOURCE = "leitmotif-curriculum"
#: Provenance of course -> concept links found by matching course titles (different from the course
#: loader's ``udemy-courses/name-matching`` so neither loader removes the other's links as stale).
TITLE_MATCHING_SOURCE = "leitmotif-curriculum/title-matching"
#: Key of a concept's properties that holds what the curriculum file says about it.
CURRICULUM_PROPERTY = "curriculum"

LEVELS: tuple[str, ...] = ("beginner", "intermediate", "advanced")
LEVEL_RANK: Mapping[str, int] = {level: rank for rank, level in enumerate(LEVELS)}
LEVEL_NAMES: Mapping[str, str] = {"beginner": "Beginner", "intermediate": "Intermediate", "advanced": "Advanced"}
#: Where a concept without a curriculum level (one a curator or ingestion added) sorts: between
#: beginner and advanced, so it is neither pushed first nor hidden.
UNKNOWN_LEVEL_RANK = 1
#: Catalogue course levels on the curriculum's scale (Udemy's "Expert" is the curriculum's advanced;
#: "All levels" fits every learner, hence ``None``).
COURSE_LEVEL_RANK: Mapping[str, int | None] = {"beginner": 0, "intermediate": 1, "expert": 2, "all": None}


def level_rank(level: str | None) -> int:
    """Rank of a curriculum level; a missing or unknown level ranks in the middle (see :data:`UNKNOWN_LEVEL_RANK`)."""
    return LEVEL_RANK.get(level or "", UNKNOWN_LEVEL_RANK)
