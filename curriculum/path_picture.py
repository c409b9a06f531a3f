"""Server-side layout of a learning path as a layered picture (an SVG drawn by ``curriculum/_path_graph.html``).

Why layered, left to right, and not the ring of :mod:`learning_platform.learn.graph_picture`: a path is a
DAG whose direction matters — prerequisites on the left, the goal on the right — so each concept sits
in the column of its longest chain of prerequisites, and every edge points rightwards. Within a
column, concepts are ordered by the average row of their prerequisites (one barycentre pass), which
keeps most edges short and uncrossed; ties follow the path order, so the layout is deterministic and
testable. Names are cut with :func:`~core.text.shorten`.

Nodes are coloured by state: mastered (the starting points the path builds on), ready now (every
prerequisite mastered), later, and the goal's concepts are outlined.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from core.text import shorten
from curriculum.graph import CurriculumGraph
from curriculum.selectors import LearningPath

COLUMN_WIDTH = 190
ROW_HEIGHT = 64
MARGIN_X = 90
MARGIN_Y = 40
NODE_RADIUS = 11
MIN_WIDTH = 520
MIN_HEIGHT = 160
MAX_LABEL = 24

STATE_COLOURS: dict[str, str] = {
    "mastered": "#2a9d8f",
    "ready": "#e76f51",
    "later": "#8d99ae",
}
STATE_NAMES: dict[str, str] = {
    "mastered": "Mastered",
    "ready": "Ready to start",
    "later": "Later on the path",
}


@dataclass(frozen=True)
class PathNode:
    concept_id: str
    name: str
    label: str
    state: str
    colour: str
    is_target: bool
    #: Position on the path (None for a mastered starting point).
    step: int | None
    x: float
    y: float
    r: float
    label_y: float
    #: Baseline of the tick or step number drawn inside the circle.
    mark_y: float


@dataclass(frozen=True)
class PathEdge:
    #: SVG path data of a curve from the prerequisite's right side to the dependent's left side.
    d: str
    head: str
    tail: str
    mastered: bool


@dataclass(frozen=True)
class PathPicture:
    width: int
    height: int
    nodes: list[PathNode]
    edges: list[PathEdge]
    legend: list[tuple[str, str]]


def layout_path(graph: CurriculumGraph, path: LearningPath) -> PathPicture | None:
    """Place the path's steps and the mastered concepts they build on in columns; ``None`` for an empty path."""
    if not path.steps:
        return None
    step_of = {step.concept.id: step for step in path.steps}
    mastered = [ref.id for ref in path.mastered_prerequisites if ref.id in graph.concepts]
    drawn = list(mastered) + [step.concept.id for step in path.steps]
    inside = set(drawn)
    order = {concept_id: index for index, concept_id in enumerate(drawn)}

    column: dict[str, int] = {}
    for concept_id in drawn:  # mastered starting points in column 0, then the steps in topological order
        before = (
            [column[p] for p in graph.concepts[concept_id].prerequisites if p in inside]
            if concept_id in step_of
            else []
        )
        column[concept_id] = (max(before) + 1) if before else 0
    columns: dict[int, list[str]] = defaultdict(list)
    for concept_id in drawn:
        columns[column[concept_id]].append(concept_id)
    row: dict[str, float] = {}
    for index in sorted(columns):
        members = columns[index]

        def barycentre(concept_id: str) -> float:
            parents = [row[p] for p in graph.concepts[concept_id].prerequisites if p in row]
            return sum(parents) / len(parents) if parents else float(order[concept_id])

        members.sort(key=lambda c: (barycentre(c), order[c]))
        for position, concept_id in enumerate(members):
            row[concept_id] = float(position)

    tallest = max(len(members) for members in columns.values())
    width = max(MIN_WIDTH, 2 * MARGIN_X + COLUMN_WIDTH * (len(columns) - 1))
    height = max(MIN_HEIGHT, 2 * MARGIN_Y + ROW_HEIGHT * tallest)
    positions: dict[str, tuple[float, float]] = {}
    for index, members in columns.items():
        # centre each column vertically so short columns do not hug the top
        offset = (height - ROW_HEIGHT * (len(members) - 1)) / 2
        for concept_id in members:
            x = MARGIN_X + COLUMN_WIDTH * index if len(columns) > 1 else width / 2
            positions[concept_id] = (round(x, 1), round(offset + ROW_HEIGHT * row[concept_id], 1))

    targets = set(path.goal.targets)
    nodes = []
    for concept_id in drawn:
        node = graph.concepts[concept_id]
        step = step_of.get(concept_id)
        state = "mastered" if step is None else ("ready" if step.ready_now else "later")
        x, y = positions[concept_id]
        nodes.append(
            PathNode(
                concept_id=concept_id,
                name=node.name,
                label=shorten(node.name, MAX_LABEL),
                state=state,
                colour=STATE_COLOURS[state],
                is_target=concept_id in targets,
                step=step.position if step else None,
                x=x,
                y=y,
                r=NODE_RADIUS,
                label_y=round(y + NODE_RADIUS + 14, 1),
                mark_y=round(y + 4, 1),
            )
        )
    edges = []
    for concept_id in drawn:
        for prerequisite in graph.concepts[concept_id].prerequisites:
            if prerequisite not in inside or (prerequisite not in step_of and concept_id not in step_of):
                continue  # an edge between two mastered starting points is not part of the path
            (x1, y1), (x2, y2) = positions[prerequisite], positions[concept_id]
            x1, x2 = x1 + NODE_RADIUS + 2, x2 - NODE_RADIUS - 4
            bend = max(30.0, (x2 - x1) / 2)
            d = f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
            edges.append(PathEdge(d=d, head=prerequisite, tail=concept_id, mastered=prerequisite not in step_of))
    present = {n.state for n in nodes}
    legend = [
        (STATE_NAMES[state], STATE_COLOURS[state]) for state in ("mastered", "ready", "later") if state in present
    ]
    return PathPicture(width=int(width), height=int(height), nodes=nodes, edges=edges, legend=legend)
