"""Learning-path algorithms on a :class:`~.graph.CurriculumGraph`: pure functions, no database, no store.

Why separate from the selectors: these are the parts with invariants worth testing exhaustively (every
concept as a goal, many learner states: zero prerequisite violations), and they run the same whatever
backend the graph was read from.

Definitions used throughout:

* a concept is **mastered** when the learner's mastery of it reaches the threshold;
* the **path** to a set of target concepts is the prerequisite closure of the targets minus mastered
  concepts, where the closure does not descend through a mastered concept: mastering a concept is
  taken as evidence that its foundations are in place, so a learner who knows *Triads* is not sent
  back to *Intervals* on the way to *Seventh chords*;
* the path is ordered topologically — every step comes after its unmastered prerequisites — and ties
  are broken stably: easier level first, then the concept the rest of the path needs most, then name.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Collection, Iterable, Mapping

from core.errors import LearningPathError
from curriculum.graph import CurriculumGraph


def mastered_set(mastery: Mapping[str, float], threshold: float) -> set[str]:
    return {concept_id for concept_id, value in mastery.items() if value >= threshold}


def prerequisite_closure(graph: CurriculumGraph, targets: Iterable[str], mastered: Collection[str]) -> set[str]:
    """Unmastered targets and every unmastered prerequisite reachable from them without crossing a mastered concept."""
    closure: set[str] = set()
    queue = deque(t for t in targets if t in graph.concepts and t not in mastered)
    while queue:
        concept_id = queue.popleft()
        if concept_id in closure:
            continue
        closure.add(concept_id)
        for prerequisite in graph.concepts[concept_id].prerequisites:
            if prerequisite not in mastered and prerequisite not in closure:
                queue.append(prerequisite)
    return closure


def _descendants_in(graph: CurriculumGraph, concept_ids: Collection[str]) -> dict[str, int]:
    """For each concept, how many concepts of ``concept_ids`` depend on it directly or indirectly (its "unlock" weight)."""
    inside = set(concept_ids)
    weights: dict[str, int] = {}
    for concept_id in inside:
        seen: set[str] = set()
        stack = [d for d in graph.concepts[concept_id].dependents if d in inside]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack.extend(d for d in graph.concepts[node].dependents if d in inside and d not in seen)
        weights[concept_id] = len(seen)
    return weights


def topological_order(graph: CurriculumGraph, concept_ids: Collection[str]) -> list[str]:
    """``concept_ids`` so that each comes after its prerequisites among them (Kahn's algorithm, stable tie-break).

    Among the concepts whose prerequisites are all placed, the next one is the easiest level, then the
    one more of the remaining concepts depend on (so a foundation shared by many comes first), then
    by name and id. A cycle among ``concept_ids`` (possible only when someone added a looping
    ``PREREQUISITE_OF`` edge by hand) raises :class:`LearningPathError` naming it.
    """
    inside = set(concept_ids)
    unknown = inside - set(graph.concepts)
    if unknown:
        raise LearningPathError(f"unknown concept(s) {', '.join(sorted(unknown))} in a path request.")
    weight = _descendants_in(graph, inside)
    waiting = {c: sum(1 for p in graph.concepts[c].prerequisites if p in inside) for c in inside}

    def key(concept_id: str) -> tuple:
        node = graph.concepts[concept_id]
        return (node.level_rank, -weight[concept_id], node.name.casefold(), node.id)

    ready = [(key(c), c) for c, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, concept_id = heapq.heappop(ready)
        order.append(concept_id)
        for dependent in graph.concepts[concept_id].dependents:
            if dependent in waiting and dependent != concept_id:
                waiting[dependent] -= 1
                if waiting[dependent] == 0:
                    heapq.heappush(ready, (key(dependent), dependent))
    if len(order) < len(inside):
        stuck = sorted(inside - set(order))
        cycle = _cycle_among(graph, stuck)
        raise LearningPathError(
            "the curriculum's prerequisites form a cycle, so no order can satisfy them: "
            f"{' → '.join(graph.concepts[c].name for c in cycle)}. A curator must remove one of these "
            "PREREQUISITE_OF links (curator admin) before this path can be planned."
        )
    return order


def _cycle_among(graph: CurriculumGraph, concept_ids: Collection[str]) -> list[str]:
    from curriculum.loader import find_cycle

    inside = set(concept_ids)
    edges = {c: [d for d in graph.concepts[c].dependents if d in inside] for c in inside}
    return find_cycle(edges) or sorted(inside)


def learning_order(graph: CurriculumGraph, targets: Iterable[str], mastered: Collection[str]) -> list[str]:
    """The path to ``targets``: their unmastered prerequisite closure in topological order."""
    return topological_order(graph, prerequisite_closure(graph, targets, mastered))


def path_violations(graph: CurriculumGraph, order: list[str], mastered: Collection[str]) -> list[str]:
    """Every way ``order`` breaks the path rules (empty when valid); used by tests and as a self-check.

    Rules: no concept twice, no mastered concept, each step's prerequisites are mastered or earlier,
    and no unmastered prerequisite of a step is missing from the path.
    """
    problems: list[str] = []
    seen: set[str] = set()
    positions = {concept_id: i for i, concept_id in enumerate(order)}
    for index, concept_id in enumerate(order):
        if concept_id in seen:
            problems.append(f"{concept_id} appears twice")
        seen.add(concept_id)
        if concept_id in mastered:
            problems.append(f"{concept_id} is already mastered")
        for prerequisite in graph.concepts[concept_id].prerequisites:
            if prerequisite in mastered:
                continue
            where = positions.get(prerequisite)
            if where is None:
                problems.append(f"{concept_id} needs {prerequisite}, which is neither mastered nor on the path")
            elif where > index:
                problems.append(
                    f"{concept_id} (step {index + 1}) comes before its prerequisite {prerequisite} (step {where + 1})"
                )
    return problems


def readiness(graph: CurriculumGraph, concept_id: str, mastery: Mapping[str, float], threshold: float) -> float:
    """How far the learner is from being able to start ``concept_id``: 1.0 = every prerequisite mastered.

    The weakest prerequisite decides (a chain is as strong as its weakest link), each counted as its
    mastery over the threshold, capped at 1; a concept with no prerequisites is always ready.
    """
    prerequisites = graph.concepts[concept_id].prerequisites
    if not prerequisites:
        return 1.0
    return min(min(1.0, mastery.get(p, 0.0) / threshold) for p in prerequisites)
