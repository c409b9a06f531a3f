"""The request-understanding entry point used by the page and the API: one parser per process, corrections.

Why cached: the NER model (~0.5 s to load) and the link index (~1 s to build over the graph) are read
once and reused; the index is rebuilt when it is older than :data:`PARSER_MAX_AGE_SECONDS`, so entities
curators add become understandable without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings

from catalog.models import Listener
from core.caches import ProcessCache
from core.errors import ModelArtifactError, RecommendationRequestError
from ingestion.linking import EntityLinker
from kg.stores import get_store
from recommender.understanding.answer import COURSE_LEVELS, RequestAnswer, answer_request
from recommender.understanding.parse import ParsedRequest, RequestParser

logger = logging.getLogger(__name__)

PARSER_MAX_AGE_SECONDS = 600.0
KINDS = ("music", "course")
#: One parser per (graph backend, artifacts folder): only the latest is kept, rebuilt once it is
#: :data:`PARSER_MAX_AGE_SECONDS` old.
_PARSERS: ProcessCache[str, RequestParser] = ProcessCache(recheck_seconds=PARSER_MAX_AGE_SECONDS)


def request_parser() -> RequestParser:
    """The shared parser; without a trained NER model it still works from the lexicon and the graph."""
    return _PARSERS.get(f"{settings.KG_BACKEND}:{settings.LEITMOTIF_ARTIFACTS_DIR}", _build_parser)


def _build_parser() -> RequestParser:
    try:
        from ingestion.ner import load_ner_model

        ner = load_ner_model()
    except ModelArtifactError:
        logger.warning("No trained NER model: requests are understood from the lexicon and graph names only.")
        ner = None
    from catalog.selectors import tag_rule_artist_entity_ids

    linker = EntityLinker(get_store())
    return RequestParser(ner=ner, linker=linker, reference_artists=tag_rule_artist_entity_ids)


def parser_forget() -> None:
    """Drop the shared parser: the next request loads the NER model and builds the link index again."""
    _PARSERS.clear()


def parse_request(
    text: str, *, drop: Iterable[str] = (), level: str | None = None, kind: str | None = None
) -> ParsedRequest:
    """Parse ``text`` and apply the learner's corrections.

    ``drop`` removes understood items by value (an entity id, or a level/mood name); ``level`` replaces the
    level (``""`` clears it); ``kind`` forces music or courses. Bad correction values are ignored rather
    than refused: the page sends them from its own controls, and a stale link must still show an answer.
    """
    parsed = request_parser().parse(text)
    dropped = {str(value) for value in drop}
    if dropped:
        parsed.understood = [u for u in parsed.understood if u.value not in dropped]
    if level is not None:
        parsed.understood = [u for u in parsed.understood if u.role != "level"]
        if level in COURSE_LEVELS:
            from recommender.understanding.parse import Understood

            parsed.understood.append(Understood("level", level, 0, 0, level, level, 1.0, "correction"))
    if kind in KINDS:
        parsed.kind_override = kind
    return parsed


def ask(
    listener: Listener,
    text: str,
    *,
    k: int = 10,
    drop: Iterable[str] = (),
    level: str | None = None,
    kind: str | None = None,
) -> RequestAnswer:
    """Answer ``text`` for ``listener``; a request of only common words ("the and of") is refused with
    :class:`RecommendationRequestError` (a 400 from the API): there is nothing to answer from, and
    popular music would pretend otherwise. Unknown words are not refused (they may be names the graph
    lacks): they are answered from the rest and reported."""
    drop = list(drop)
    parsed = parse_request(text, drop=drop, level=level, kind=kind)
    if not parsed.understood and not parsed.unknown and not drop:
        raise RecommendationRequestError(
            f"q has only common words ({parsed.text!r}): name an artist, a genre, a mood, an instrument, a level "
            "or something to learn, e.g. ?q=calm piano music for a beginner."
        )
    return answer_request(listener, parsed, k=k)
