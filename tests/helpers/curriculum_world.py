"""The curriculum world of the learning-path, page and API tests: a small catalog around the real curriculum.

:func:`build_curriculum_world` makes tags, artists (with listeners: Ramones most, so popularity is well
defined), instruments and courses whose titles name concepts, and loads the real curriculum file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from catalog.models import Artist, Course, Listen, Listener
from curriculum.graph import curriculum_cache_clear
from curriculum.loader import DEFAULT_CURRICULUM_PATH, curriculum_load
from kg.schema import concept_entity_id
from kg.stores import EntityRecord, RelationRecord

C = concept_entity_id
TAGS = {"jazz": 83, "blues": 829, "punk": 181, "classical": 545}
ARTISTS = {
    "jazz": ["Thelonious Monk", "Bill Evans", "Chet Baker"],
    "blues": ["Buddy Guy", "Son House", "Elmore James"],
    "punk": ["Ramones", "Dead Kennedys", "The Hives", "Bad Religion"],
    "classical": ["Glenn Gould"],
}
COURSES = [
    # title, level
    ("Getting Started with Power Chords", "beginner"),
    ("Intervals and Triads Made Easy", "beginner"),
    ("Seventh Chords for Jazz Guitar", "intermediate"),
    ("Power Chords and Seventh Chords Combo", "all"),
    ("12 Bar Blues Guitar", "beginner"),
    ("Music Theory for Everyone", "beginner"),
]
PASSWORD = "a-long-learner-pass-42"


@dataclass
class CurriculumWorld:
    artists: dict[str, Artist] = field(default_factory=dict)
    courses: dict[str, Course] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def build_curriculum_world(store) -> CurriculumWorld:
    """Tags, artists (with listeners: Ramones most, so popularity is well defined), instruments, courses, the real curriculum."""
    world = CurriculumWorld()
    entities = [
        EntityRecord(id=f"leitmotif:instrument:{slug}", type="Instrument", name=slug.capitalize())
        for slug in ("guitar", "piano", "drums", "bass")
    ]
    relations = []
    number = 1
    for tag_name, tag_number in TAGS.items():
        world.tags[tag_name] = f"lastfm:tag:{tag_number}"
        entities.append(EntityRecord(id=world.tags[tag_name], type="Tag", name=tag_name))
        for name in ARTISTS[tag_name]:
            artist = Artist.objects.create(lastfm_id=number, name=name, entity_id=f"lastfm:artist:{number}")
            world.artists[name] = artist
            entities.append(EntityRecord(id=artist.entity_id, type="Artist", name=name))
            relations.append(
                RelationRecord(
                    head=artist.entity_id, type="HAS_TAG", tail=world.tags[tag_name], properties={"count": 5}
                )
            )
            number += 1
    unlinked = Artist.objects.create(lastfm_id=number, name="Nobody In Particular", entity_id=f"lastfm:artist:{number}")
    world.artists[unlinked.name] = unlinked
    entities.append(EntityRecord(id=unlinked.entity_id, type="Artist", name=unlinked.name))
    for index, (title, level) in enumerate(COURSES, start=1):
        course = Course.objects.create(
            udemy_id=index, title=title, level=level, subscribers=100 * index, entity_id=f"udemy:course:{index}"
        )
        world.courses[title] = course
        entities.append(EntityRecord(id=course.entity_id, type="Course", name=title, properties={"level": level}))
    store.upsert_entities(entities)
    store.upsert_relations(relations)
    # listeners: Ramones 4, Dead Kennedys 3, The Hives 2, Bad Religion 1 ...
    for names in ARTISTS.values():
        for rank, name in enumerate(names):
            for i in range(len(names) - rank):
                listener, _ = Listener.objects.get_or_create(lastfm_id=1000 + i)
                Listen.objects.create(listener=listener, artist=world.artists[name], play_count=10)
    curriculum_load(DEFAULT_CURRICULUM_PATH, store=store, progress=False)
    # the course loader's link of the theory course to the coarse concept
    store.upsert_relations(
        [
            RelationRecord(
                head=world.courses["Music Theory for Everyone"].entity_id,
                type="TEACHES_CONCEPT",
                tail=C("music-theory"),
                source="udemy-courses/name-matching",
                properties={"matched": "music theory"},
            ),
        ]
    )
    curriculum_cache_clear()
    return world
