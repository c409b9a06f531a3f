"""Server-side layout of a "local knowledge-graph neighbourhood" picture (an SVG drawn by a template).

Why in Python and not a JavaScript graph library: the pages have no front-end build, the picture is
small (one entity and a dozen neighbours), and a deterministic layout computed here is testable and
looks the same in every browser (the screenshot test relies on that). The template
``learn/_graph.html`` only draws what this module computed, and Django's auto-escaping covers every
name that reaches the SVG.

Layout: the entity sits at the centre; its neighbours sit on an ellipse around it, in the order the
caller chose (grouped by relation type, so edges of one type are next to each other); each edge is a
line between the two circles carrying the relation's words (:mod:`.labels`) read from the centre
outwards: "Isaac Hayes — tagged — soul", and for an edge stored the other way round (an album's
``ARTIST`` edge pointing at the artist) the backward reading ("Isaac Hayes — released — …"); the arrow
head marks that reading direction. Raw relation type names never reach the picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.text import shorten
from learning_platform.learn.labels import entity_type_label, relation_label

WIDTH = 760
HEIGHT = 440
CENTRE_RADIUS = 30
NODE_RADIUS = 13
#: Labels longer than this are cut with an ellipsis (the full name stays in the node's tooltip).
MAX_LABEL = 24
MAX_EDGE_LABEL = 26

#: Fill colour per entity type; anything else is drawn grey.
TYPE_COLOURS: dict[str, str] = {
    "Artist": "#d1495b",
    "Tag": "#00798c",
    "Course": "#edae49",
    "Instrument": "#66a182",
    "Concept": "#8d6cab",
    "Level": "#6c757d",
    "Genre": "#3d5a80",
    "Place": "#9c6644",
    "Album": "#e07a5f",
    "Track": "#e07a5f",
    "Film": "#b5838d",
    "Person": "#7f5539",
}
DEFAULT_COLOUR = "#8d99ae"


@dataclass(frozen=True)
class PictureInput:
    """One neighbour to draw: its entity, how it is joined to the centre, and an optional page link."""

    entity_id: str
    name: str
    type: str
    #: Relation types joining it to the centre, each with its direction seen from the centre ("out"/"in").
    relations: tuple[tuple[str, str], ...]
    url: str | None = None


@dataclass(frozen=True)
class PictureNode:
    entity_id: str
    name: str
    label: str
    type: str
    #: The type as a learner reads it ("Musician" for ``MusicalArtist``).
    type_label: str
    colour: str
    x: float
    y: float
    r: float
    label_x: float
    label_y: float
    anchor: str
    url: str | None
    is_centre: bool


@dataclass(frozen=True)
class PictureEdge:
    x1: float
    y1: float
    x2: float
    y2: float
    #: The relations' words read from the centre outwards ("tagged"), cut to fit the line.
    label: str
    #: Every relation's words on this line, for the tooltip (``label`` may be cut short).
    full_label: str
    label_x: float
    label_y: float
    #: How the edges are stored: one from the centre (centre is the head) and/or one into it. The picture
    #: reads every label from the centre outwards whatever the storage, so these are data, not drawing.
    arrow_out: bool
    arrow_in: bool


@dataclass(frozen=True)
class GraphPicture:
    width: int
    height: int
    centre: PictureNode
    nodes: list[PictureNode]
    edges: list[PictureEdge]
    #: How many edges are drawn and how many the entity has in total.
    shown: int
    total_edges: int
    #: (type label, colour) of every type drawn.
    legend: list[tuple[str, str]]
    #: The neighbours grouped by the words joining them to the centre, for the list under the picture.
    connections: list[tuple[str, list[PictureNode]]]

    @property
    def example(self) -> str:
        """One edge read out ("Isaac Hayes tagged soul"), to show how the labels read."""
        if not self.nodes:
            return ""
        return f"{self.centre.name} {self.edges[0].full_label.split(', ')[0]} {self.nodes[0].name}"

    @property
    def truncated(self) -> bool:
        return self.shown < self.total_edges


def short_label(name: str, limit: int = MAX_LABEL) -> str:
    """``name`` cut to ``limit`` characters (the graph picture's default width)."""
    return shorten(name, limit)


def type_colour(entity_type: str) -> str:
    return TYPE_COLOURS.get(entity_type, DEFAULT_COLOUR)


def edge_words(relations: Sequence[tuple[str, str]]) -> list[str]:
    """The words of each relation read from the centre: ``out`` edges forward, ``in`` edges backward."""
    return list(dict.fromkeys(relation_label(rel, direction) for rel, direction in relations))


def layout_neighbourhood(
    *,
    centre_id: str,
    centre_name: str,
    centre_type: str,
    neighbours: Sequence[PictureInput],
    total_edges: int,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> GraphPicture:
    """Place ``centre`` in the middle and ``neighbours`` evenly on an ellipse around it.

    ``total_edges`` is how many edges the centre really has (the caller draws a subset), so the page
    can say "12 of 245 connections shown". Positions are rounded to 0.1 px to keep the SVG short.
    """
    cx, cy = width / 2, height / 2
    # Leave room for labels: they sit outside the ring, so the ring is smaller than the canvas.
    rx, ry = width / 2 - 150, height / 2 - 55
    centre = PictureNode(
        entity_id=centre_id,
        name=centre_name,
        label=short_label(centre_name, 30),
        type=centre_type,
        type_label=entity_type_label(centre_type),
        colour=type_colour(centre_type),
        x=cx,
        y=cy,
        r=CENTRE_RADIUS,
        label_x=cx,
        label_y=cy + CENTRE_RADIUS + 16,
        anchor="middle",
        url=None,
        is_centre=True,
    )
    nodes: list[PictureNode] = []
    edges: list[PictureEdge] = []
    connections: dict[str, list[PictureNode]] = {}
    n = len(neighbours)
    for i, item in enumerate(neighbours):
        # Start at the top and go clockwise; a half step offset keeps a lone neighbour off the centre label.
        angle = -math.pi / 2 + 2 * math.pi * (i + 0.5) / max(n, 1)
        cos, sin = math.cos(angle), math.sin(angle)
        x, y = cx + rx * cos, cy + ry * sin
        if cos > 0.25:
            anchor, lx, ly = "start", x + NODE_RADIUS + 5, y + 4
        elif cos < -0.25:
            anchor, lx, ly = "end", x - NODE_RADIUS - 5, y + 4
        else:
            anchor, lx = "middle", x
            ly = y - NODE_RADIUS - 6 if sin < 0 else y + NODE_RADIUS + 15
        nodes.append(
            PictureNode(
                entity_id=item.entity_id,
                name=item.name,
                label=short_label(item.name),
                type=item.type,
                type_label=entity_type_label(item.type),
                colour=type_colour(item.type),
                x=round(x, 1),
                y=round(y, 1),
                r=NODE_RADIUS,
                label_x=round(lx, 1),
                label_y=round(ly, 1),
                anchor=anchor,
                url=item.url,
                is_centre=False,
            )
        )
        # The line runs between the circles' rims so arrow heads stay visible.
        dx, dy = x - cx, y - cy
        dist = math.hypot(dx, dy) or 1.0
        ux, uy = dx / dist, dy / dist
        x1, y1 = cx + ux * (CENTRE_RADIUS + 2), cy + uy * (CENTRE_RADIUS + 2)
        x2, y2 = x - ux * (NODE_RADIUS + 2), y - uy * (NODE_RADIUS + 2)
        # Labels sit past the middle of the line, alternating between two distances so the labels of
        # neighbouring edges do not overlap where the lines are still close together.
        t = 0.52 if i % 2 else 0.7
        directions = {direction for _, direction in item.relations}
        words = ", ".join(edge_words(item.relations))
        connections.setdefault(words, []).append(nodes[-1])
        edges.append(
            PictureEdge(
                x1=round(x1, 1),
                y1=round(y1, 1),
                x2=round(x2, 1),
                y2=round(y2, 1),
                label=short_label(words, MAX_EDGE_LABEL),
                full_label=words,
                label_x=round(x1 + (x2 - x1) * t, 1),
                label_y=round(y1 + (y2 - y1) * t - 3, 1),
                arrow_out="out" in directions,
                arrow_in="in" in directions,
            )
        )
    legend_types = dict.fromkeys([centre_type, *(item.type for item in neighbours)])
    legend = [(entity_type_label(entity_type), type_colour(entity_type)) for entity_type in legend_types]
    return GraphPicture(
        width=width,
        height=height,
        centre=centre,
        nodes=nodes,
        edges=edges,
        shown=sum(len(item.relations) for item in neighbours),
        total_edges=max(total_edges, sum(len(item.relations) for item in neighbours)),
        legend=legend,
        connections=list(connections.items()),
    )
