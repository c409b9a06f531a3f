"""Entity id prefixes and the functions that build ids from them.

Why one place: an id is how two loaders meet at the same entity (a violin course and a work scored for
violin both point at ``leitmotif:instrument:violin``) and how a reader recognises a kind of entity by
its id alone; a prefix typed twice is a link that silently stops joining.
"""

from __future__ import annotations

#: Last.FM artists and tags, by their HetRec ids.
ARTIST_PREFIX = "lastfm:artist:"
TAG_PREFIX = "lastfm:tag:"
#: Anonymous entities of the KGCN Freebase sub-graph, by their KGCN integer id.
KGCN_PREFIX = "kgcn:"
#: Udemy courses, by course id.
COURSE_PREFIX = "udemy:course:"
#: Leitmotif's own vocabulary: ``leitmotif:<kind>:<slug>``.
LEVEL_PREFIX = "leitmotif:level:"
INSTRUMENT_PREFIX = "leitmotif:instrument:"
CONCEPT_PREFIX = "leitmotif:concept:"
WORK_PREFIX = "leitmotif:work:"
PERSON_PREFIX = "leitmotif:person:"
ERA_PREFIX = "leitmotif:era:"
FORM_PREFIX = "leitmotif:form:"
KEY_PREFIX = "leitmotif:key:"
METRE_PREFIX = "leitmotif:metre:"
COLLECTION_PREFIX = "leitmotif:collection:"


def artist_entity_id(lastfm_id: int) -> str:
    return f"{ARTIST_PREFIX}{lastfm_id}"


def tag_entity_id(lastfm_id: int) -> str:
    return f"{TAG_PREFIX}{lastfm_id}"


def kgcn_entity_id(kgcn_entity: int) -> str:
    return f"{KGCN_PREFIX}{kgcn_entity}"


def course_entity_id(udemy_id: int) -> str:
    return f"{COURSE_PREFIX}{udemy_id}"


def level_entity_id(level: str) -> str:
    return f"{LEVEL_PREFIX}{level}"


def instrument_entity_id(slug: str) -> str:
    return f"{INSTRUMENT_PREFIX}{slug}"


def concept_entity_id(slug: str) -> str:
    return f"{CONCEPT_PREFIX}{slug}"


def work_entity_id(slug: str) -> str:
    return f"{WORK_PREFIX}{slug}"


def person_entity_id(slug: str) -> str:
    return f"{PERSON_PREFIX}{slug}"


def era_entity_id(slug: str) -> str:
    return f"{ERA_PREFIX}{slug}"


def form_entity_id(slug: str) -> str:
    return f"{FORM_PREFIX}{slug}"


def key_entity_id(slug: str) -> str:
    return f"{KEY_PREFIX}{slug}"


def metre_entity_id(slug: str) -> str:
    return f"{METRE_PREFIX}{slug}"


def collection_entity_id(slug: str) -> str:
    return f"{COLLECTION_PREFIX}{slug}"
