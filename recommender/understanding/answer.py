"""Answering a parsed request with explained recommendations.

Why the request is turned into *seeds* rather than hard filters: "something like Chopin for a beginner
pianist" names taste (Chopin, piano) and constraints (beginner). Taste becomes extra seed entities for
this one answer (the learner's history still counts), the level filters courses, a genre narrows music
when enough of it exists, a mood re-ranks, and concepts condition the list on a unit. A constraint that
would empty a list is dropped with a note instead, so an over-specific request still gets an answer —
and the page says which part was relaxed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog.models import Listener
from core.errors import LeitmotifError
from recommender.understanding.parse import ParsedRequest, parsed_entities

#: Parser level -> course level value.
COURSE_LEVELS = {"Beginner": "beginner", "Intermediate": "intermediate", "Expert": "expert"}


@dataclass
class RequestAnswer:
    parsed: ParsedRequest
    music: list[Any] = field(default_factory=list)
    courses: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def primary(self) -> str:
        return self.parsed.kind


def answer_request(listener: Listener, parsed: ParsedRequest, *, k: int = 10) -> RequestAnswer:
    """Music and courses for ``parsed`` (primary kind first in ``parsed.kind``), explained, never raising for
    what the request says: unknown words and impossible constraints become notes."""
    from recommender.serving.selectors import recommendations_for_listener

    answer = RequestAnswer(parsed=parsed)
    seeds = parsed_entities(parsed, ("artist", "work", "genre", "instrument", "concept"))
    concepts = parsed_entities(parsed, ("concept",))
    genres = [u for u in parsed.of("genre") if u.source != "lexicon"]  # mood words name tags too; they re-rank instead
    moods = parsed.moods
    if parsed.unknown:
        answer.notes.append(f"Not understood: {', '.join(parsed.unknown)} (answered from the rest of the request).")
    if parsed.truncated:
        answer.notes.append("Only the first 300 characters of the request were read.")

    music_options: dict[str, Any] = {"seeds": seeds}
    if concepts:
        music_options["unit"] = concepts
    if moods:
        music_options["mood"] = moods
    if genres:
        music_options["tag"] = genres[0].value
    answer.music = _relaxing(
        lambda **o: recommendations_for_listener(listener, kind="music", k=k, **o),
        music_options,
        order=("tag", "unit", "mood"),
        notes=answer.notes,
        what="music",
    )

    course_options: dict[str, Any] = {"seeds": seeds}
    near = parsed_entities(parsed, ("instrument", "concept"))
    if near:
        course_options["near"] = near
    if parsed.level:
        course_options["level"] = COURSE_LEVELS[parsed.level]
    answer.courses = _relaxing(
        lambda **o: recommendations_for_listener(listener, kind="course", k=k, **o),
        course_options,
        order=("near", "level"),
        notes=answer.notes,
        what="courses",
    )
    return answer


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


_OPTION_WORDS = {"tag": "genre", "unit": "concepts", "mood": "mood", "near": "instrument/concept", "level": "level"}
