"""Turn a graph path into one readable sentence and a structured dict.

Every step of a sentence states one stored fact the way it is stored (``Muse has tag "alternative"``
even when the path walks from the tag to Muse), so a reader can check each claim, and the structured
form says which way each edge was walked (``direction``: ``forward`` = from head to tail).

Wording rules:

* the opening names the source by the listener's relation to it, from ``source_roles``
  (``listen`` → "You listen to", ``enroll`` → "You enrolled in", ``interest`` → "You picked" …);
* a relation type reads through :data:`RELATION_PHRASES`, falling back to the lower-cased type
  (``DISTRIBUTOR_FILM`` → "distributor film"), never to a made-up verb;
* titles and tags are quoted (``"alternative"``, ``"Blues Guitar Improvisation"``), people and places
  are not;
* an anonymous KGCN node is never printed by its placeholder name: the first mention is "a film",
  later ones "that film".
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.errors import ConfigurationError
from recommender.explanations.paths import GraphPath
from recommender.explanations.snapshot import GraphSnapshot

#: How a stored edge ``head -TYPE-> tail`` reads: "<head> <phrase> <tail>".
RELATION_PHRASES: Mapping[str, str] = {
    # Last.FM and the courses graph (interface 1).
    "HAS_TAG": "has tag",
    "COVERS_TAG": "covers",
    "TEACHES_INSTRUMENT": "teaches",
    "TEACHES_CONCEPT": "teaches",
    "HAS_LEVEL": "is at level",
    "ABOUT_INSTRUMENT": "is about",
    # Freebase relation types of the KGCN graph (head is always the artist).
    "ORIGIN": "comes from",
    "PLACE_OF_BIRTH": "was born in",
    "PLACE_OF_DEATH": "died in",
    "INSTRUMENTS_PLAYED": "plays",
    "ALBUM_GENRE": "has albums in the genre",
    "ARTIST_GENRE": "plays the genre",
    "FILM_GENRE": "has films in the genre",
    "PROGRAM_GENRE": "has programmes in the genre",
    "ACTOR_FILM": "acted in",
    "PERSON_OR_ENTITY_APPEARING_IN_FILM_FILM": "appears in",
    "DIRECTOR_FILM": "directed",
    "WRITER_FILM": "wrote",
    "PRODUCER_FILM": "produced",
    "EDITOR_FILM": "edited",
    "ALBUM": "released",
    "ARTIST_TRACK": "recorded",
    "TRACKS_PRODUCED": "produced",
    "ALBUM_TRACK": "has the track",
    "PROFESSION": "works as",
    "LANGUAGE": "sings in",
    "WINNER_AWARDS_WON": "won",
    "COMPETITOR_AWARDS_WON": "competed for",
    "NOMINEE_AWARD_NOMINATIONS": "was nominated for",
    "COMPETITOR_AWARD_NOMINATIONS": "competed for",
    "CONTAINED_BY": "is in",
    "COUNTRY": "is from",
    "COUNTRY_OF_ORIGIN": "comes from",
    "NATIONALITY": "has the nationality",
    "PERFORMANCE": "gave",
}

#: The opening of a sentence by the listener's relation to the source (Interaction kinds included).
ROLE_OPENINGS: Mapping[str, str] = {
    "listen": "You listen to",
    "like": "You liked",
    "enroll": "You enrolled in",
    "complete": "You completed",
    "interest": "You picked",
    "request": "You asked for",
    "engaged": "You engaged with",
}
_ROLE_ALIASES: Mapping[str, str] = {
    "listened": "listen",
    "liked": "like",
    "enrolled": "enroll",
    "completed": "complete",
    "picked": "interest",
    "interests": "interest",
    "engaged_with": "engaged",
    "engaged with": "engaged",
    "asked": "request",
}
DEFAULT_ROLE = "engaged"

#: Entity types whose names are titles or labels, quoted in sentences.
QUOTED_TYPES = frozenset({"Tag", "Course", "Album", "Track", "Film", "Game", "Performance", "Award", "Concept"})

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def resolve_role(role: object) -> str:
    """The canonical role for ``role`` (``"listened"`` → ``"listen"``); a clear error for unknown roles."""
    key = role.strip().lower() if isinstance(role, str) else ""
    key = _ROLE_ALIASES.get(key, key)
    if key not in ROLE_OPENINGS:
        raise ConfigurationError(
            f"Unknown source role {role!r}; choose one of: {', '.join(ROLE_OPENINGS)} (or leave it out for 'engaged')."
        )
    return key


def check_source_roles(source_roles: Mapping[str, str] | None) -> dict[str, str]:
    """``source id -> canonical role``; refuses a non-mapping or an unknown role before any work."""
    if source_roles is None:
        return {}
    if not isinstance(source_roles, Mapping):
        raise ConfigurationError(f"source_roles must map entity ids to roles, got {type(source_roles).__name__}.")
    return {str(entity_id): resolve_role(role) for entity_id, role in source_roles.items()}


def relation_phrase(relation_type: str) -> str:
    return RELATION_PHRASES.get(relation_type) or relation_type.lower().replace("_", " ")


def type_words(entity_type: str) -> str:
    """``AwardNomination`` → ``award nomination``."""
    return _CAMEL_BOUNDARY.sub(" ", entity_type).lower()


def _article(words: str) -> str:
    return "an" if words[:1] in "aeiou" else "a"


class _Mentions:
    """Names nodes in one sentence; anonymous nodes become "a film", then "that film"."""

    def __init__(self, snapshot: GraphSnapshot):
        self.snapshot = snapshot
        self.seen: set[int] = set()

    def __call__(self, node: int) -> str:
        snapshot = self.snapshot
        if snapshot.anonymous[node]:
            words = type_words(snapshot.types[node])
            text = f"that {words}" if node in self.seen else f"{_article(words)} {words}"
        elif snapshot.types[node] in QUOTED_TYPES:
            text = f'"{snapshot.names[node]}"'
        else:
            text = snapshot.names[node]
        self.seen.add(node)
        return text


def path_sentence(snapshot: GraphSnapshot, path: GraphPath, *, role: str = DEFAULT_ROLE) -> str:
    """``You listen to Radiohead → Radiohead has tag "alternative" → Muse has tag "alternative".``"""
    mention = _Mentions(snapshot)
    parts = [f"{ROLE_OPENINGS[resolve_role(role)]} {mention(path.nodes[0])}"]
    for edge in path.edges:
        head, tail = int(snapshot.heads[edge]), int(snapshot.tails[edge])
        head_text = mention(head)
        parts.append(f"{head_text} {relation_phrase(snapshot.relation_types[snapshot.rels[edge]])} {mention(tail)}")
    sentence = " → ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def node_dict(snapshot: GraphSnapshot, node: int) -> dict[str, str]:
    return {"id": snapshot.ids[node], "name": snapshot.names[node], "type": snapshot.types[node]}


def edge_dicts(snapshot: GraphSnapshot, path: GraphPath) -> list[dict[str, str]]:
    """Each edge as stored (``head``/``tail`` ids) plus the way the path walks it."""
    out = []
    for step, edge in enumerate(path.edges):
        out.append(
            {
                "type": snapshot.relation_types[snapshot.rels[edge]],
                "direction": "forward" if path.forward(snapshot, step) else "backward",
                "head": snapshot.ids[snapshot.heads[edge]],
                "tail": snapshot.ids[snapshot.tails[edge]],
            }
        )
    return out
