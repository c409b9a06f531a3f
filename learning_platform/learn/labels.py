"""How the learner pages word the graph: relation labels, entity type names, recommendation sources.

Why one table: a learner meets relations in many places (the path chips of a recommendation, the
neighbourhood picture of an artist or course, a learning path) and must read the same words in each.
The REST API keeps the raw relation types and scores; only pages read through this module.

Every relation has two readings, so a page can follow an edge either way and still read as a phrase:

* ``forward`` reads from head to tail: ``Muddy Waters`` *tagged* ``blues``;
* ``backward`` reads from tail to head: ``blues`` *tag of* ``Muddy Waters``.

A relation type missing from the table reads "related to" both ways (never its raw name), so a new
loader cannot leak ``SOME_NEW_TYPE`` onto a page; ``tests/learning_platform/test_learner_text.py``
checks that every type the schema and the text extractor know has a row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from recommender.explanations.quality import MUSIC_NODE_TYPES


@dataclass(frozen=True)
class RelationLabel:
    #: ``head <forward> tail``.
    forward: str
    #: ``tail <backward> head``.
    backward: str


FALLBACK_LABEL = RelationLabel("related to", "related to")

#: Every relation type a learner can meet, by where it comes from.
RELATION_LABELS: Mapping[str, RelationLabel] = {
    # Last.FM tags and the course graph (kg.schema.types).
    "SAME_AS": RelationLabel("is listed as", "is the composer"),
    "HAS_TAG": RelationLabel("tagged", "tag of"),
    "COVERS_TAG": RelationLabel("covers", "covered by"),
    "HAS_LEVEL": RelationLabel("at level", "level of"),
    "TEACHES_INSTRUMENT": RelationLabel("teaches", "taught in"),
    "TEACHES_CONCEPT": RelationLabel("teaches", "taught in"),
    "ABOUT_INSTRUMENT": RelationLabel("about", "topic of"),
    # The curriculum.
    "PREREQUISITE_OF": RelationLabel("leads to", "builds on"),
    "PART_OF": RelationLabel("part of", "includes"),
    "ASSOCIATED_TAG": RelationLabel("heard in", "features"),
    "FOR_INSTRUMENT": RelationLabel("for", "skill for"),
    # Works of the music21 corpus.
    "COMPOSED": RelationLabel("composed", "composed by"),
    "IN_ERA": RelationLabel("from the era", "era of"),
    "HAS_FORM": RelationLabel("in the form", "form of"),
    "IN_KEY": RelationLabel("in the key of", "key of"),
    "IN_METRE": RelationLabel("in the metre", "metre of"),
    "SCORED_FOR": RelationLabel("scored for", "plays in"),
    "IN_COLLECTION": RelationLabel("in the collection", "includes"),
    "EXERCISES_CONCEPT": RelationLabel("exercises", "practised in"),
    "LIVED_IN_ERA": RelationLabel("lived in the era", "era of"),
    # Relations proposed by text ingestion (ingestion.relations.schema).
    "PERFORMED": RelationLabel("performed", "performed by"),
    "HAS_GENRE": RelationLabel("genre", "genre of"),
    "MEMBER_OF": RelationLabel("member of", "has member"),
    "SIGNED_TO": RelationLabel("signed to", "label of"),
    "VOICE_TYPE": RelationLabel("sings as", "voice of"),
    "WON_AWARD": RelationLabel("won", "won by"),
    "ASSOCIATED_WITH": RelationLabel("associated with", "associated with"),
    # Freebase predicates of the KGCN Last.FM graph (kg.schema.freebase); the head is the artist.
    "ORIGIN": RelationLabel("comes from", "home of"),
    "ALBUM": RelationLabel("released", "album by"),
    "ARTIST": RelationLabel("by", "released"),
    "ARTIST_TRACK": RelationLabel("recorded", "recorded by"),
    "ARTIST_GENRE": RelationLabel("plays", "played by"),
    "ALBUM_GENRE": RelationLabel("has albums in", "genre of albums by"),
    "ALBUM_TRACK": RelationLabel("has the track", "track on"),
    "INSTRUMENTS_PLAYED": RelationLabel("plays", "played by"),
    "TRACKS_PRODUCED": RelationLabel("produced", "produced by"),
    "PLACE_OF_BIRTH": RelationLabel("born in", "birthplace of"),
    "PLACE_OF_DEATH": RelationLabel("died in", "place of death of"),
    "NATIONALITY": RelationLabel("nationality", "nationality of"),
    "PROFESSION": RelationLabel("works as", "profession of"),
    "CONTAINED_BY": RelationLabel("in", "contains"),
    "TIME_ZONE": RelationLabel("time zone", "time zone of"),
    "ACTOR_FILM": RelationLabel("acted in", "starring"),
    "PERSON_OR_ENTITY_APPEARING_IN_FILM_FILM": RelationLabel("appears in", "featuring"),
    "DISTRIBUTOR_FILM": RelationLabel("distributed", "distributed by"),
    "PRODUCTION_COMPANY_FILM": RelationLabel("produced", "produced by"),
    "WRITER_FILM": RelationLabel("wrote", "written by"),
    "DIRECTOR_FILM": RelationLabel("directed", "directed by"),
    "PRODUCER_FILM": RelationLabel("produced", "produced by"),
    "EDITOR_FILM": RelationLabel("edited", "edited by"),
    "CHARACTER_FILM": RelationLabel("appears in", "featuring"),
    "CINEMATOGRAPHER_FILM": RelationLabel("filmed", "filmed by"),
    "SET_DESIGNER_FILM": RelationLabel("designed the sets of", "sets by"),
    "FILM_GENRE": RelationLabel("genre", "genre of"),
    "LANGUAGE": RelationLabel("in the language", "language of"),
    "COUNTRY": RelationLabel("from", "country of"),
    "RATING": RelationLabel("rated", "rating of"),
    "PRODUCTION_COMPANY": RelationLabel("made by", "made"),
    "ACTOR": RelationLabel("starring", "acted in"),
    "STAR": RelationLabel("starring", "starred in"),
    "FILM_WRITER": RelationLabel("written by", "wrote"),
    "FILM_DIRECTOR": RelationLabel("directed by", "directed"),
    "PRODUCER": RelationLabel("produced by", "produced"),
    "EXECUTIVE_PRODUCER": RelationLabel("produced by", "produced"),
    "EDITOR": RelationLabel("edited by", "edited"),
    "MUSIC": RelationLabel("music by", "wrote the music for"),
    "ART_DIRECTOR": RelationLabel("art direction by", "art director of"),
    "CINEMATOGRAPHER": RelationLabel("filmed by", "filmed"),
    "PROGRAM_GENRE": RelationLabel("genre", "genre of"),
    "COUNTRY_OF_ORIGIN": RelationLabel("from", "country of"),
    "REGULAR_CAST": RelationLabel("starring", "appears in"),
    "SERIES_EPISODE_WRITER": RelationLabel("written by", "wrote"),
    "SERIES_EPISODE_DIRECTOR": RelationLabel("directed by", "directed"),
    "STARRING_ROLES": RelationLabel("starred in", "starring"),
    "CREATOR": RelationLabel("created by", "created"),
    "GAMES_PUBLISHER_GAMES_PUBLISHED": RelationLabel("published", "published by"),
    "CVG_PUBLISHER_GAMES_PUBLISHED": RelationLabel("published", "published by"),
    "GAME_PUBLISHER": RelationLabel("published by", "published"),
    "COMPUTER_VIDEOGAME_PUBLISHER": RelationLabel("published by", "published"),
    "NOMINEE_AWARD_NOMINATIONS": RelationLabel("nominated for", "nominee"),
    "COMPETITOR_AWARD_NOMINATIONS": RelationLabel("nominated for", "nominee"),
    "WINNER_AWARDS_WON": RelationLabel("won", "won by"),
    "COMPETITOR_AWARDS_WON": RelationLabel("won", "won by"),
    "PERFORMANCE": RelationLabel("performed", "performed by"),
    "INDUSTRY": RelationLabel("in the industry", "industry of"),
    "KEY": RelationLabel("related to", "related to"),
    "SUBJECT_KEY": RelationLabel("related to", "related to"),
}

#: Relations of Freebase's film, television, games, awards and bookkeeping predicates: their other end is
#: never a music entity a learner page shows (a film, a game, a nomination, a time zone …).
NON_MUSIC_RELATION_TYPES: frozenset[str] = frozenset(
    {
        "ACTOR_FILM",
        "PERSON_OR_ENTITY_APPEARING_IN_FILM_FILM",
        "DISTRIBUTOR_FILM",
        "PRODUCTION_COMPANY_FILM",
        "WRITER_FILM",
        "DIRECTOR_FILM",
        "PRODUCER_FILM",
        "EDITOR_FILM",
        "CHARACTER_FILM",
        "CINEMATOGRAPHER_FILM",
        "SET_DESIGNER_FILM",
        "FILM_GENRE",
        "LANGUAGE",
        "COUNTRY",
        "RATING",
        "PRODUCTION_COMPANY",
        "ACTOR",
        "STAR",
        "FILM_WRITER",
        "FILM_DIRECTOR",
        "PRODUCER",
        "EXECUTIVE_PRODUCER",
        "EDITOR",
        "MUSIC",
        "ART_DIRECTOR",
        "CINEMATOGRAPHER",
        "PROGRAM_GENRE",
        "COUNTRY_OF_ORIGIN",
        "REGULAR_CAST",
        "SERIES_EPISODE_WRITER",
        "SERIES_EPISODE_DIRECTOR",
        "STARRING_ROLES",
        "CREATOR",
        "GAMES_PUBLISHER_GAMES_PUBLISHED",
        "CVG_PUBLISHER_GAMES_PUBLISHED",
        "GAME_PUBLISHER",
        "COMPUTER_VIDEOGAME_PUBLISHER",
        "NOMINEE_AWARD_NOMINATIONS",
        "COMPETITOR_AWARD_NOMINATIONS",
        "WINNER_AWARDS_WON",
        "COMPETITOR_AWARDS_WON",
        "WON_AWARD",
        "PERFORMANCE",
        "PROFESSION",
        "INDUSTRY",
        "TIME_ZONE",
        "KEY",
        "SUBJECT_KEY",
    }
)

#: The relations a neighbourhood picture reads from the store. Why a list and not "everything, then
#: filter": the store returns edges ordered by relation type, so an artist with 900 film edges
#: (``ACTOR_FILM`` sorts first) would fill the fetch before its first ``HAS_TAG``. A new relation type
#: appears in pictures once it has words in :data:`RELATION_LABELS`.
LEARNER_RELATION_TYPES: frozenset[str] = frozenset(RELATION_LABELS) - NON_MUSIC_RELATION_TYPES

_BACKWARD = frozenset({"backward", "in"})


def relation_label(relation_type: str, direction: str = "forward") -> str:
    """The words for ``relation_type`` walked ``forward``/``out`` (head → tail) or ``backward``/``in``."""
    label = RELATION_LABELS.get(relation_type, FALLBACK_LABEL)
    return label.backward if direction in _BACKWARD else label.forward


# --- entity types -------------------------------------------------------------------------------

#: Entity types a learner page may show: music, the catalogue and the curriculum. Freebase's films,
#: games, awards, languages, ratings, companies and time zones are true facts, but not about music.
#: One list with the explanation path search, so a page never shows a node a reason could not pass through.
LEARNER_ENTITY_TYPES: frozenset[str] = MUSIC_NODE_TYPES

#: Names shown for entity types (legend, tooltips); others are split at capitals ("AwardNomination" → "Award nomination").
ENTITY_TYPE_LABELS: Mapping[str, str] = {"MusicalArtist": "Musician"}

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def entity_type_label(entity_type: str) -> str:
    if entity_type in ENTITY_TYPE_LABELS:
        return ENTITY_TYPE_LABELS[entity_type]
    return _CAMEL_BOUNDARY.sub(" ", entity_type).capitalize() if entity_type else "Item"


#: Placeholder names the loaders give anonymous entities (``Film kgcn:3847``, ``Genre kgcn:99``).
PLACEHOLDER_NAME = re.compile(r"^\s*\w+\s+kgcn:\d+\s*$", re.IGNORECASE)


def is_placeholder_name(name: str, entity_id: str = "") -> bool:
    """``True`` for a name that is only a stand-in: empty, the entity's id, or a ``<Type> kgcn:<n>`` placeholder."""
    stripped = (name or "").strip()
    return not stripped or stripped == entity_id or bool(PLACEHOLDER_NAME.match(stripped))


def anonymous_mention(entity_type: str) -> str:
    """How a path names an entity it has no name for: "a film", "an album" (never its placeholder)."""
    words = entity_type_label(entity_type).lower()
    return f"{'an' if words[:1] in 'aeiou' else 'a'} {words}"


# --- where a recommendation comes from ------------------------------------------------------------

#: Explanation bases (``recommender.explanations``) in words; a basis missing here is not shown.
SOURCE_LABELS: Mapping[str, str] = {
    "graph": "Linked to what you like",
    "your_interests": "From your picks",
    "similar_listeners": "Listeners like you",
    "popularity": "Popular on Leitmotif",
    "similar_content": "Like artists you play",
}


#: For graph explanations: where the cited path starts, by the listener's role towards its first node
#: (the roles of ``recommender.explanations.rendering.ROLE_OPENINGS``).
GRAPH_SOURCE_BY_ROLE: Mapping[str, str] = {
    "interest": "From your picks",
    "request": "From what you asked for",
    "listen": "From your listening",
    "like": "From artists you liked",
    "enroll": "From courses you enrolled in",
    "complete": "From courses you completed",
    "engaged": "Linked to what you like",
}


def source_label(basis: str, role: str = "") -> str:
    """Where a recommendation comes from, in words; ``role`` refines a graph basis (the path's starting point)."""
    if basis == "graph" and role in GRAPH_SOURCE_BY_ROLE:
        return GRAPH_SOURCE_BY_ROLE[role]
    return SOURCE_LABELS.get(basis, "")
