"""Knowledge-graph path explanations for recommendations (interface 2 of the serving work).

``current_snapshot()`` gives the in-memory graph, ``explain``/``explain_many`` find, score and render
paths of at most three edges from what a listener engaged with to a recommended item, and
``Explanation.fallback`` states the real basis when no path exists. See each module's docstring:
:mod:`.snapshot` (adjacency arrays, caching), :mod:`.paths` (search and hub caps), :mod:`.scoring`
(scorer registry), :mod:`.rendering` (sentences and JSON), :mod:`.explain` (entry points).
"""

from recommender.explanations.explain import (
    FALLBACK_BASES,
    GRAPH_BASIS,
    NO_PATH_BASIS,
    Explanation,
    ExplanationPath,
    explain,
    explain_many,
    fallback_sentence,
)
from recommender.explanations.paths import GraphPath
from recommender.explanations.scoring import (
    DEFAULT_SCORER,
    KgeScorer,
    PathScorer,
    StructuralScorer,
    available_scorers,
    build_scorer,
    register_scorer,
)
from recommender.explanations.snapshot import GraphSnapshot, current_snapshot, invalidate_snapshots

__all__ = [
    "DEFAULT_SCORER",
    "FALLBACK_BASES",
    "GRAPH_BASIS",
    "NO_PATH_BASIS",
    "Explanation",
    "ExplanationPath",
    "GraphPath",
    "GraphSnapshot",
    "KgeScorer",
    "PathScorer",
    "StructuralScorer",
    "available_scorers",
    "build_scorer",
    "current_snapshot",
    "explain",
    "explain_many",
    "fallback_sentence",
    "invalidate_snapshots",
    "register_scorer",
]
