"""Readable graph names for the Freebase predicates of the KGCN Last.FM graph (the graph's imported types).

Why a table: the KGCN release keeps Freebase predicate names (``music.artist.origin``) but strips every
label, so the only honest thing we can say about a non-item entity is what kind of thing it is, read
off the predicate it is the tail of. That knowledge is data, kept here as one table; the loader never
branches on predicate names.

Why the names of known predicates are fixed from the table (not derived from whatever was loaded): a
tiny fixture holding only ``film.actor.film`` must name it ``ACTOR_FILM`` exactly as the full data
does, and a new predicate must not rename old ones, otherwise one fact would get two relation types.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from core.errors import InvalidGraphDataError
from kg.stores.base import RELATION_TYPE_PATTERN

#: Entity type given to an entity whose incoming predicates say nothing about its kind.
UNKNOWN_ENTITY_TYPE = "Entity"

#: Freebase predicate -> type of its tail entity (the 60 predicates of the KGCN Last.FM graph).
#: Order matters only for ties (see :func:`infer_tail_entity_type`): earlier rows win.
FREEBASE_TAIL_TYPES: Mapping[str, str] = {
    # music
    "music.artist.origin": "Place",
    "music.artist.album": "Album",
    "music.artist.track": "Track",
    "music.artist.genre": "Genre",
    "music.album.genre": "Genre",
    "music.album.track": "Track",
    "music.album.artist": "MusicalArtist",  # not "Artist": that type means a catalog artist
    "music.musician.instruments_played": "Instrument",
    "music.producer.tracks_produced": "Track",
    # people and places
    "people.person.place_of_birth": "Place",
    "people.person.nationality": "Place",
    "people.person.profession": "Profession",
    "people.deceased_person.place_of_death": "Place",
    "location.location.contained_by": "Place",
    "location.location.time_zone": "TimeZone",
    # film: "<role>.film" predicates point at films, "film.film.<role>" at people or attributes
    "film.actor.film": "Film",
    "film.person_or_entity_appearing_in_film.film": "Film",
    "film.distributor.film": "Film",
    "film.production_company.film": "Film",
    "film.writer.film": "Film",
    "film.director.film": "Film",
    "film.producer.film": "Film",
    "film.editor.film": "Film",
    "film.character.film": "Film",
    "film.cinematographer.film": "Film",
    "film.set_designer.film": "Film",
    "film.film.genre": "Genre",
    "film.film.language": "Language",
    "film.film.country": "Place",
    "film.film.rating": "Rating",
    "film.film.production_company": "Organization",
    "film.film.actor": "Person",
    "film.film.star": "Person",
    "film.film.writer": "Person",
    "film.film.director": "Person",
    "film.film.producer": "Person",
    "film.film.executive_producer": "Person",
    "film.film.editor": "Person",
    "film.film.music": "Person",
    "film.film.art_director": "Person",
    "film.film.cinematographer": "Person",
    # television
    "tv.program.genre": "Genre",
    "tv.program.country_of_origin": "Place",
    "tv.program.regular_cast": "Person",
    "tv.series_episode.writer": "Person",
    "tv.series_episode.director": "Person",
    "tv.actor.starring_roles": "Work",
    "fictional_universe.character.creator": "Person",
    # games
    "games.publisher.games_published": "Game",
    "cvg.publisher.games_published": "Game",
    "games.game.publisher": "Organization",
    "cvg.computer_videogame.publisher": "Organization",
    # awards and events
    "award.nominee.award_nominations": "AwardNomination",
    "award.competitor.award_nominations": "AwardNomination",
    "award.winner.awards_won": "Award",
    "award.competitor.awards_won": "Award",
    "event.agent.performance": "Performance",
    # business and Freebase bookkeeping (keys name anything, so they say nothing about the tail)
    "business.operation.industry": "Industry",
    "type.object.key": UNKNOWN_ENTITY_TYPE,
    "type.object.subject_key": UNKNOWN_ENTITY_TYPE,
}

#: A Freebase predicate: dot-separated lower-case segments (``music.artist.origin``).
FREEBASE_PREDICATE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$")

_TYPE_PRIORITY = {entity_type: rank for rank, entity_type in enumerate(dict.fromkeys(FREEBASE_TAIL_TYPES.values()))}


def _suffix_name(segments: list[str], count: int) -> str:
    return "_".join(segments[-count:]).upper()


def _unique_suffix_names(predicates: list[str], *, taken: frozenset[str] = frozenset()) -> dict[str, str]:
    """Shortest trailing-segment names that are unique among ``predicates`` and avoid ``taken``.

    Every predicate of a colliding group grows by one segment per round, so ``film.actor.film`` and
    ``film.writer.film`` become ``ACTOR_FILM`` and ``WRITER_FILM`` rather than one of them staying ``FILM``.
    """
    segments = {p: p.split(".") for p in predicates}
    used = dict.fromkeys(predicates, 1)
    while True:
        groups: dict[str, list[str]] = defaultdict(list)
        for p in predicates:
            groups[_suffix_name(segments[p], used[p])].append(p)
        clashing = [members for name, members in groups.items() if len(members) > 1 or name in taken]
        if not clashing:
            return {p: _suffix_name(segments[p], used[p]) for p in predicates}
        grown = [p for members in clashing for p in members if used[p] < len(segments[p])]
        if not grown:
            members = sorted(clashing[0])
            raise InvalidGraphDataError(
                f"Predicates {members} cannot be given distinct relation types "
                f"(all of them become {_suffix_name(segments[members[0]], used[members[0]])!r})."
            )
        for p in grown:
            used[p] += 1


#: The stable names of the known predicates, computed once from the table alone.
KNOWN_RELATION_TYPES: Mapping[str, str] = _unique_suffix_names(list(FREEBASE_TAIL_TYPES))


def freebase_relation_types(predicates: Iterable[str]) -> dict[str, str]:
    """Map each predicate to an upper-snake relation type: its last segment, or as many trailing
    segments as it takes to tell it apart from the other predicates.

    ``music.artist.origin`` -> ``ORIGIN``; ``film.actor.film`` -> ``ACTOR_FILM`` (eleven predicates end
    in ``film``); ``cvg.publisher.games_published`` -> ``CVG_PUBLISHER_GAMES_PUBLISHED``. Known
    predicates always keep their name from :data:`KNOWN_RELATION_TYPES`; a predicate missing from the
    table gets a name that collides with none of those.
    """
    wanted = list(dict.fromkeys(predicates))
    for predicate in wanted:
        if not FREEBASE_PREDICATE_PATTERN.match(predicate):
            raise InvalidGraphDataError(
                f"{predicate!r} is not a Freebase predicate (dot-separated lower-case segments such as 'music.artist.origin')."
            )
    unknown = [p for p in wanted if p not in KNOWN_RELATION_TYPES]
    extra = _unique_suffix_names(unknown, taken=frozenset(KNOWN_RELATION_TYPES.values()))
    names = {p: KNOWN_RELATION_TYPES.get(p) or extra[p] for p in wanted}
    for predicate, name in names.items():
        if not RELATION_TYPE_PATTERN.match(name):
            raise InvalidGraphDataError(
                f"Predicate {predicate!r} gives relation type {name!r}, which is not upper snake case of at most 64 characters."
            )
    return names


def infer_tail_entity_type(incoming_predicates: Iterable[str]) -> str:
    """The entity type an anonymous entity gets from the predicates pointing at it.

    The most frequent type wins (an entity that is the tail of ``music.artist.origin`` and
    ``people.person.place_of_birth`` is a ``Place``); ties go to the type listed first in
    :data:`FREEBASE_TAIL_TYPES`; predicates missing from the table count as :data:`UNKNOWN_ENTITY_TYPE`,
    and an unknown type only wins when nothing else is known.
    """
    votes = Counter(FREEBASE_TAIL_TYPES.get(p, UNKNOWN_ENTITY_TYPE) for p in incoming_predicates)
    known = {t: n for t, n in votes.items() if t != UNKNOWN_ENTITY_TYPE}
    if not known:
        return UNKNOWN_ENTITY_TYPE
    return min(known, key=lambda t: (-known[t], _TYPE_PRIORITY.get(t, len(_TYPE_PRIORITY)), t))
