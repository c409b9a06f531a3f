"""What a parsed request demands of the music and courses it gets back, as graph facts that can be checked.

Why one module for both the answer and the requests protocol: the constraint that filters a list and the
check that scores it must be the same graph fact, or the measurement would grade something else than
what the answer does. Every constraint is "the item is linked, by one of these relation types, to one of
these entities" — checked on the serving graph snapshot:

=============  ==========================================  ============================================
constraint     music (an artist …)                         courses (a course …)
=============  ==========================================  ============================================
genre          has the tag (HAS_TAG)                       — (a seed: steers courses softly)
mood           has one of the mood's tags (lexicon)        —
instrument     has a tag about it (tag ABOUT_INSTRUMENT)(*) teaches it (TEACHES_INSTRUMENT)
level          —                                           has that level (HAS_LEVEL)
concept        — (steers music softly, see ``answer``)     teaches it (TEACHES_CONCEPT)
like           shares one of the artist's top tags         —
=============  ==========================================  ============================================

(*) only when the request names the instrument itself ("piano music"): a player word ("for a beginner
pianist") describes the learner, not the music. A genre does not filter courses: most Last.FM genres
are covered by no course; a course's genre tag is a topic to steer by, not a fact the learner named.

A mood word also links a tag in the parser (role ``genre``, source ``lexicon``); that tag is read as
part of the mood, not as a genre. A composer known only from the works catalogue (a Person, e.g.
Mozart) becomes the genre constraint *classical* with a kind note, even when its Last.FM artist is
linked (see the comment in :func:`request_constraints`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.caches import ProcessCache
from kg.schema.types import (
    ABOUT_INSTRUMENT,
    HAS_LEVEL,
    HAS_TAG,
    TEACHES_CONCEPT,
    TEACHES_INSTRUMENT,
)
from recommender.understanding.parse import Lexicon, ParsedRequest, load_lexicon

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import GraphSnapshot

#: Parser level -> the course level entity's id suffix.
LEVEL_ENTITIES = {"Beginner": "beginner", "Intermediate": "intermediate", "Expert": "expert"}
#: An artist's tags that define "like this artist" (its most used ones).
LIKE_TOP_TAGS = 3
#: Tags that say nothing about how music sounds: never used to define "like X".
NOISE_TAGS = frozenset({"seen live", "favorites", "favourites", "favorite", "love", "awesome", "beautiful", "none"})
#: The tag for composers known only from the works catalogue (no Last.FM artist).
COMPOSER_FALLBACK_TAG = "classical"
#: Parser moods (``lexicon.json``) whose re-ranker mood has another name.
PARSER_TO_RANKING_MOOD = {"chill": "calm"}
CONSTRAINT_KINDS = ("genre", "mood", "instrument", "like", "level", "concept")


@dataclass(frozen=True)
class Constraint:
    """One thing the request demands: items of ``applies_to`` linked by ``relations`` to one of ``targets``."""

    kind: str  # genre | mood | instrument | like | level | concept
    applies_to: str  # music | course
    label: str  # what the learner asked for, in words ("piano", "calm", "Beginner", "like Radiohead")
    targets: frozenset[str]  # entity ids
    relations: frozenset[str]

    def satisfied_by(self, snapshot: GraphSnapshot, entity_id: str) -> bool:
        node = snapshot.node_index.get(entity_id)
        if node is None:
            return False
        return bool(self.targets & _linked(snapshot, node, self.relations))


@dataclass
class RequestConstraints:
    """The constraints of one request, per list, and notes for what could not be honoured as asked."""

    music: list[Constraint]
    courses: list[Constraint]
    notes: list[str]
    #: Graph entities that stand in for names not in the catalogue (a composer's fallback tag), as extra seeds.
    extra_seeds: list[str]


def request_constraints(parsed: ParsedRequest, snapshot: GraphSnapshot, *, store=None) -> RequestConstraints:
    """The music and course constraints ``parsed`` understood, as graph facts (see the module docstring).

    ``store`` (a graph store) reads the tag counts that define "like X"; without it the artist's tags in
    the snapshot are used unranked.
    """
    lexicon = load_lexicon()
    tags = tag_nodes_by_name(snapshot)
    music: list[Constraint] = []
    courses: list[Constraint] = []
    notes: list[str] = []
    extra: list[str] = []
    mood_spans = {(u.start, u.end) for u in parsed.of("mood")}
    for item in parsed.of("genre"):
        if item.source == "lexicon" and (item.start, item.end) in mood_spans:
            continue  # the tag a mood word names: part of the mood
        if item.value not in snapshot.node_index:
            continue
        music.append(Constraint("genre", "music", item.name, frozenset({item.value}), frozenset({HAS_TAG})))
    for mood in parsed.moods:
        targets = mood_tag_ids(mood, lexicon, tags)
        if targets:
            music.append(Constraint("mood", "music", mood, targets, frozenset({HAS_TAG})))
    for item in _unique(parsed.of("instrument")):
        node = snapshot.node_index.get(item.value)
        if node is None:
            continue
        courses.append(
            Constraint("instrument", "course", item.name, frozenset({item.value}), frozenset({TEACHES_INSTRUMENT}))
        )
        about = frozenset(snapshot.ids[n] for n in _neighbours(snapshot, node, {ABOUT_INSTRUMENT}))
        # "piano music" describes the music; "for a pianist" (a player word of the lexicon) the learner.
        if about and item.source != "lexicon":
            music.append(Constraint("instrument", "music", item.name, about, frozenset({HAS_TAG})))
    if parsed.level in LEVEL_ENTITIES:
        level_id = f"leitmotif:level:{LEVEL_ENTITIES[parsed.level]}"
        if level_id in snapshot.node_index:
            courses.append(Constraint("level", "course", parsed.level, frozenset({level_id}), frozenset({HAS_LEVEL})))
    for item in _unique(parsed.of("concept")):
        if item.value in snapshot.node_index:
            courses.append(
                Constraint("concept", "course", item.name, frozenset({item.value}), frozenset({TEACHES_CONCEPT}))
            )
    for item in _unique([*parsed.of("artist"), *parsed.of("work")]):
        node = snapshot.node_index.get(item.value)
        if node is None:
            continue
        node_type = snapshot.types[node]
        # A composer of the works catalogue stays on the classical fallback even when the works loader
        # linked their Last.FM artist (SAME_AS): their top tags there ("classic", "composers") also sit
        # on jazz and rock acts, and "like Mozart" then returned Sonny Rollins (seen in the browser walk).
        top = artist_top_tags(snapshot, item.value, store=store) if node_type == "Artist" else []
        if top:
            music.append(Constraint("like", "music", f"like {item.name}", frozenset(top), frozenset({HAS_TAG})))
        elif node_type in {"Person", "Work"} and COMPOSER_FALLBACK_TAG in tags:
            fallback = tags[COMPOSER_FALLBACK_TAG]
            notes.append(
                f"We know too little about who listens to {item.name} yet, so here is {COMPOSER_FALLBACK_TAG} "
                "music instead."
            )
            extra.append(fallback)
            if not any(c.kind == "genre" and fallback in c.targets for c in music):
                music.append(
                    Constraint("genre", "music", COMPOSER_FALLBACK_TAG, frozenset({fallback}), frozenset({HAS_TAG}))
                )
    return RequestConstraints(music=music, courses=courses, notes=notes, extra_seeds=extra)


def satisfied(constraints: Sequence[Constraint], snapshot: GraphSnapshot, entity_id: str) -> bool:
    return all(c.satisfied_by(snapshot, entity_id) for c in constraints)


def ranking_mood(mood: str) -> str | None:
    """The mood of the re-ranker's lexicon (``recommender/data/moods.json``) a parser mood names, if any."""
    from recommender.evaluation.moods import load_mood_lexicon

    name = PARSER_TO_RANKING_MOOD.get(mood, mood)
    return name if name in load_mood_lexicon().moods else None


def mood_tag_ids(mood: str, lexicon: Lexicon, tags: dict[str, str]) -> frozenset[str]:
    """The graph tags of a mood: the request lexicon's tag names for it and the re-ranker's mood tags
    (``recommender/data/moods.json``, the tags EMS/ERS read moods from) that exist in the graph."""
    from recommender.evaluation.moods import load_mood_lexicon

    names = set(lexicon.mood_tags.get(mood, ()))
    ranking = ranking_mood(mood)
    if ranking is not None:
        moods = load_mood_lexicon()
        names |= {name for name, tag_mood in moods.tag_mood.items() if tag_mood == ranking}
    return frozenset(
        tags[" ".join(name.split()).casefold()] for name in names if " ".join(name.split()).casefold() in tags
    )


def artist_top_tags(snapshot: GraphSnapshot, entity_id: str, *, store=None) -> list[str]:
    """The artist's :data:`LIKE_TOP_TAGS` most used tags (by listeners' tag counts), noise tags left out."""
    node = snapshot.node_index.get(entity_id)
    if node is None:
        return []
    counts: dict[str, float] = {}
    if store is not None:
        for neighbour in store.neighbours(entity_id, direction="out", relation_types=[HAS_TAG]):
            counts[neighbour.entity.id] = float(neighbour.relation.properties.get("count", 1) or 1)
    else:
        counts = {snapshot.ids[n]: 1.0 for n in _neighbours(snapshot, node, {HAS_TAG})}
    ranked = sorted(
        (
            e
            for e in counts
            if e in snapshot.node_index and snapshot.names[snapshot.node_index[e]].casefold() not in NOISE_TAGS
        ),
        key=lambda e: (-counts[e], e),
    )
    return ranked[:LIKE_TOP_TAGS]


_TAG_NAMES: ProcessCache[str, dict[str, str]] = ProcessCache()


def tag_nodes_by_name(snapshot: GraphSnapshot) -> dict[str, str]:
    """Folded tag name -> tag entity id (the first by id when two tags share a name), once per snapshot."""

    def build() -> dict[str, str]:
        found: dict[str, str] = {}
        for node in np.flatnonzero(np.asarray(snapshot.types, dtype=object) == "Tag").tolist():
            found.setdefault(" ".join(snapshot.names[node].split()).casefold(), snapshot.ids[node])
        return found

    return _TAG_NAMES.get(snapshot.version, build)


def _neighbours(snapshot: GraphSnapshot, node: int, relations: Iterable[str]) -> list[int]:
    wanted = {snapshot.relation_index[r] for r in relations if r in snapshot.relation_index}
    start, end = int(snapshot.indptr[node]), int(snapshot.indptr[node + 1])
    return [
        int(other)
        for other, edge in zip(snapshot.adj_nodes[start:end].tolist(), snapshot.adj_edges[start:end].tolist())
        if int(snapshot.rels[edge]) in wanted
    ]


def _linked(snapshot: GraphSnapshot, node: int, relations: frozenset[str]) -> set[str]:
    return {snapshot.ids[n] for n in _neighbours(snapshot, node, relations)}


def _unique(items):
    seen: dict[str, object] = {}
    for item in items:
        seen.setdefault(item.value, item)
    return list(seen.values())
