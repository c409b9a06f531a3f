"""Answering a parsed request with explained recommendations that honour what it asks.

Why constraints *and* seeds: "calm piano music to practise arpeggios" names facts the answer must keep
(calm music, music with piano) and taste to steer by (arpeggios, the learner's history). Factual
constraints (:mod:`.constraints`: a genre or mood tag, an instrument, "like X" for music; instrument,
level, genre, concept for courses) are hard filters over the graph; everything named also seeds the
ranking for this one answer (the learner's history still counts). A constraint that too few items
satisfy together with the others is relaxed with a note, so an over-specific request still gets an
answer — and the page says which part was relaxed. Concepts steer music softly (a re-ranking on the
unit) rather than filter it: few artists are tagged with a technique.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from catalog.models import Listener
from core.errors import LeitmotifError
from recommender.understanding.constraints import Constraint, ranking_mood, request_constraints, satisfied
from recommender.understanding.parse import ParsedRequest, parsed_entities

#: Parser level -> course level value.
COURSE_LEVELS = {"Beginner": "beginner", "Intermediate": "intermediate", "Expert": "expert"}
#: Fewest artists / courses that must satisfy the kept constraints together, else the next one is relaxed.
#: Chosen on the validation half of the requests protocol (``benchmarks/nl_requests.py --tune``: the
#: largest minimum whose share of items satisfying every constraint reaches 0.85; 3, 5 and 10 gave
#: 0.70, 0.64 and 0.57 for music): a short list that honours the request beats a full one that does not.
MIN_MUSIC_CANDIDATES = 1
MIN_COURSE_CANDIDATES = 1
#: Items fetched when some constraints are checked after ranking (the serving layer's largest k).
FETCH_K = 100
#: Order in which constraints are kept (first = kept longest); the rest are relaxed first.
MUSIC_PRIORITY = ("genre", "instrument", "mood", "like")
COURSE_PRIORITY = ("instrument", "level", "concept")


@dataclass
class RequestAnswer:
    parsed: ParsedRequest
    music: list[Any] = field(default_factory=list)
    courses: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The constraints each list was filtered by (after relaxing), for the page and the requests protocol.
    music_constraints: list[Constraint] = field(default_factory=list)
    course_constraints: list[Constraint] = field(default_factory=list)

    @property
    def primary(self) -> str:
        return self.parsed.kind


def answer_request(listener: Listener, parsed: ParsedRequest, *, k: int = 10) -> RequestAnswer:
    """Music and courses for ``parsed`` (primary kind first in ``parsed.kind``), explained, never raising for
    what the request says: unknown words and impossible constraints become notes."""
    from kg.stores import get_store
    from recommender.serving.selectors import graph_snapshot, recommendations_for_listener

    answer = RequestAnswer(parsed=parsed)
    snapshot = graph_snapshot()
    wanted = request_constraints(parsed, snapshot, store=get_store())
    seeds = parsed_entities(parsed, ("artist", "work", "genre", "instrument", "concept")) + wanted.extra_seeds
    concepts = parsed_entities(parsed, ("concept",))
    moods = parsed.moods
    if parsed.unknown:
        answer.notes.append(f"Not understood: {', '.join(parsed.unknown)} (answered from the rest of the request).")
    if parsed.truncated:
        answer.notes.append("Only the first 300 characters of the request were read.")
    answer.notes.extend(wanted.notes)

    # "like X" asks for others than X: the named artists are no candidates
    named = {snapshot.node_index[e] for e in parsed_entities(parsed, ("artist",)) if e in snapshot.node_index}
    music_kept = _keep(
        wanted.music, MUSIC_PRIORITY, snapshot, "Artist", MIN_MUSIC_CANDIDATES, answer.notes, "music", exclude=named
    )
    answer.music_constraints = music_kept
    music_options: dict[str, Any] = {"seeds": list(dict.fromkeys(seeds))}
    if concepts:
        music_options["unit"] = concepts
    ranking_moods = [m for m in dict.fromkeys(ranking_mood(mood) for mood in moods) if m is not None]
    if ranking_moods:
        music_options["mood"] = ranking_moods
    answer.music = _filtered(
        lambda **o: recommendations_for_listener(listener, kind="music", **o),
        music_options,
        music_kept,
        snapshot,
        k=k,
        notes=answer.notes,
        what="music",
    )

    course_kept = _keep(
        wanted.courses, COURSE_PRIORITY, snapshot, "Course", MIN_COURSE_CANDIDATES, answer.notes, "courses"
    )
    answer.course_constraints = course_kept
    course_options: dict[str, Any] = {"seeds": list(dict.fromkeys(seeds))}
    level = next((c for c in course_kept if c.kind == "level"), None)
    if level is not None:
        course_options["level"] = COURSE_LEVELS[level.label]
    answer.courses = _filtered(
        lambda **o: recommendations_for_listener(listener, kind="course", **o),
        course_options,
        [c for c in course_kept if c.kind != "level"],
        snapshot,
        k=k,
        notes=answer.notes,
        what="courses",
    )
    return answer


def _keep(
    constraints: Sequence[Constraint],
    priority: Sequence[str],
    snapshot: Any,
    item_type: str,
    minimum: int,
    notes: list[str],
    what: str,
    *,
    exclude: set[int] | frozenset[int] = frozenset(),
) -> list[Constraint]:
    """The constraints kept as filters: in ``priority`` order, each kept while at least ``minimum`` items of
    ``item_type`` satisfy it together with those kept before it; the others are relaxed with a note."""
    ordered = sorted(constraints, key=lambda c: priority.index(c.kind) if c.kind in priority else len(priority))
    kept: list[Constraint] = []
    candidates: set[int] | None = None
    for constraint in ordered:
        satisfying = _satisfying_nodes(snapshot, constraint, item_type) - exclude
        together = satisfying if candidates is None else candidates & satisfying
        if len(together) >= minimum:
            kept.append(constraint)
            candidates = together
        else:
            notes.append(
                ("Too little music matches " if what == "music" else f"Too few {what} match ")
                + _describe(constraint)
                + (f" together with {', '.join(_describe(c) for c in kept)}" if kept else "")
                + f", so that part was relaxed for {what}."
            )
    return kept


def _filtered(
    call: Callable[..., list[Any]],
    options: dict[str, Any],
    constraints: Sequence[Constraint],
    snapshot: Any,
    *,
    k: int,
    notes: list[str],
    what: str,
) -> list[Any]:
    """The top ``k`` that satisfy ``constraints``: one single-tag constraint goes to the ranking as ``tag``,
    the most selective other one as ``near`` (any of its targets), the rest are checked after ranking
    on a deeper list. If the ranking fails for the filters, the request's options are relaxed as before."""
    options = dict(options)
    rest = list(constraints)
    single = next((c for c in rest if len(c.targets) == 1 and c.kind in {"genre"}), None)
    if single is not None:
        options["tag"] = next(iter(single.targets))
        rest.remove(single)
    if rest:
        nearest = min(rest, key=lambda c: len(c.targets))
        options["near"] = sorted(nearest.targets)
        rest.remove(nearest)
    options["k"] = FETCH_K if rest else k
    results = _relaxing(call, options, order=("tag", "near", "unit", "mood", "level"), notes=notes, what=what)
    if rest:
        matching = [r for r in results if satisfied(rest, snapshot, r.entity_id)]
        # Some item satisfies every kept constraint (``_keep``), but maybe none among the best ranked: then
        # an empty list would answer a sensible request ("fast metal drumming") with nothing, so the
        # checked constraints are relaxed from the lowest priority up, and the note says which.
        while not matching and rest:
            dropped = rest.pop()
            notes.append(
                f"None of the best {what} for the rest of the request also matched {_describe(dropped)}, "
                f"so that part was relaxed for {what}."
            )
            matching = [r for r in results if satisfied(rest, snapshot, r.entity_id)] if rest else list(results)
        results = matching
    return [dataclasses.replace(result, rank=rank) for rank, result in enumerate(results[:k], start=1)]


def _satisfying_nodes(snapshot: Any, constraint: Constraint, item_type: str) -> set[int]:
    from recommender.understanding.constraints import _neighbours

    found: set[int] = set()
    for target in constraint.targets:
        node = snapshot.node_index.get(target)
        if node is not None:
            found.update(n for n in _neighbours(snapshot, node, constraint.relations) if snapshot.types[n] == item_type)
    return found


def _describe(constraint: Constraint) -> str:
    if constraint.kind == "like":
        return f'"{constraint.label}"'
    return f'the {constraint.kind} "{constraint.label}"'


def _relaxing(call, options: dict[str, Any], *, order: tuple[str, ...], notes: list[str], what: str) -> list[Any]:
    """Call with every option; while the list is empty, drop the options in ``order`` one at a time."""
    options = dict(options)
    while True:
        try:
            results = call(**options)
        except LeitmotifError as exc:
            if exc.code in {"E020", "E003"}:  # no model published / store down: the caller shows that
                raise
            results = []
        if results:
            return results
        droppable = [name for name in order if name in options]
        if not droppable:
            return []
        dropped = droppable[0]
        notes.append(f"No {what} matched every part of the request; ignored the {_OPTION_WORDS[dropped]} for {what}.")
        options.pop(dropped)


_OPTION_WORDS = {
    "tag": "genre",
    "unit": "concepts",
    "mood": "mood",
    "near": "instrument/concept",
    "level": "level",
}
