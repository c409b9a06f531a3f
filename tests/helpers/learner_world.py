"""The learner world of the learner-page tests and the browser test: two taste groups, a catalog, a graph.

:func:`build_world` makes two taste groups — blues guitar and classical piano — with artists, tags,
instruments, courses and listeners, in the catalog and in a graph store; :func:`train_and_publish` trains
the product model on it and publishes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from catalog.models import Artist, Course, Listen, Listener, Tag, TagAssignment
from kg.stores import EntityRecord, RelationRecord
from tests.helpers.recommender_data import TINY

PASSWORD = "a-long-learner-pass-42"

GROUPS = {
    # tag name, instrument, artist names
    "blues": (
        "guitar",
        [
            "B.B. King",
            "Muddy Waters",
            "Howlin' Wolf",
            "John Lee Hooker",
            "Buddy Guy",
            "Albert King",
            "Elmore James",
            "Robert Johnson",
        ],
    ),
    "classical": (
        "piano",
        [
            "Glenn Gould",
            "Martha Argerich",
            "Lang Lang",
            "Yuja Wang",
            "Alfred Brendel",
            "Maurizio Pollini",
            "Mitsuko Uchida",
            "Evgeny Kissin",
        ],
    ),
}
COURSES = [
    # title, level, instrument, tag
    ("Blues Guitar for Beginners", "beginner", "guitar", "blues"),
    ("Slide Guitar Blues Masterclass", "expert", "guitar", "blues"),
    ("Electric Blues Soloing", "intermediate", "guitar", "blues"),
    ("Classical Piano from Scratch", "beginner", "piano", "classical"),
    ("Chopin Nocturnes: Interpretation", "expert", "piano", "classical"),
    ("Piano Technique and Scales", "intermediate", "piano", "classical"),
]


@dataclass
class World:
    artists: dict[str, Artist] = field(default_factory=dict)
    courses: dict[str, Course] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)
    instruments: dict[str, str] = field(default_factory=dict)


def build_world(store, *, listeners_per_group: int = 12) -> World:
    """Catalog rows and graph facts for two taste groups; listeners of a group play most of its artists."""
    world = World()
    entities: list[EntityRecord] = []
    relations: list[RelationRecord] = []
    lastfm_tag_id = 800
    for instrument in ("guitar", "piano"):
        entity_id = f"leitmotif:instrument:{instrument}"
        world.instruments[instrument] = entity_id
        entities.append(EntityRecord(id=entity_id, type="Instrument", name=instrument))
    for level in ("beginner", "intermediate", "expert", "all"):
        entities.append(EntityRecord(id=f"leitmotif:level:{level}", type="Level", name=level))
    artist_number = 1
    for tag_name, (instrument, names) in GROUPS.items():
        lastfm_tag_id += 1
        tag = Tag.objects.create(lastfm_id=lastfm_tag_id, name=tag_name, entity_id=f"lastfm:tag:{lastfm_tag_id}")
        world.tags[tag_name] = tag
        entities.append(EntityRecord(id=tag.entity_id, type="Tag", name=tag_name))
        # the instrument-named tag ("guitar", "piano") links to its instrument, as the course loader does
        lastfm_tag_id += 1
        inst_tag = Tag.objects.create(lastfm_id=lastfm_tag_id, name=instrument, entity_id=f"lastfm:tag:{lastfm_tag_id}")
        world.tags[instrument] = inst_tag
        entities.append(EntityRecord(id=inst_tag.entity_id, type="Tag", name=instrument))
        relations.append(
            RelationRecord(head=inst_tag.entity_id, type="ABOUT_INSTRUMENT", tail=world.instruments[instrument])
        )
        for name in names:
            artist = Artist.objects.create(
                lastfm_id=artist_number,
                name=name,
                entity_id=f"lastfm:artist:{artist_number}",
                kgcn_entity=artist_number,
            )
            artist_number += 1
            world.artists[name] = artist
            entities.append(EntityRecord(id=artist.entity_id, type="Artist", name=name))
            relations.append(
                RelationRecord(head=artist.entity_id, type="HAS_TAG", tail=tag.entity_id, properties={"count": 3})
            )
            relations.append(
                RelationRecord(head=artist.entity_id, type="HAS_TAG", tail=inst_tag.entity_id, properties={"count": 1})
            )
    for number, (title, level, instrument, tag_name) in enumerate(COURSES, start=1):
        course = Course.objects.create(
            udemy_id=1000 + number,
            title=title,
            level=level,
            lectures=10 + number,
            duration_hours=1.5 * number,
            subscribers=100 * number,
            entity_id=f"udemy:course:{1000 + number}",
            subject="Musical Instruments",
        )
        world.courses[title] = course
        entities.append(EntityRecord(id=course.entity_id, type="Course", name=title, properties={"level": level}))
        relations += [
            RelationRecord(head=course.entity_id, type="TEACHES_INSTRUMENT", tail=world.instruments[instrument]),
            RelationRecord(head=course.entity_id, type="COVERS_TAG", tail=world.tags[tag_name].entity_id),
            RelationRecord(head=course.entity_id, type="HAS_LEVEL", tail=f"leitmotif:level:{level}"),
        ]
    store.upsert_entities(entities)
    store.upsert_relations(relations)
    lastfm_user = 1
    for tag_name, (_, names) in GROUPS.items():
        group = [world.artists[n] for n in names]
        for i in range(listeners_per_group):
            listener = Listener.objects.create(lastfm_id=lastfm_user)
            lastfm_user += 1
            # each listener plays 6 of the 8 artists of the group, a different window each time
            for j in range(6):
                artist = group[(i + j) % len(group)]
                Listen.objects.create(listener=listener, artist=artist, play_count=10 + 5 * j + i)
                if i == 0:
                    for tag in (world.tags[tag_name], world.tags[GROUPS[tag_name][0]]):
                        TagAssignment.objects.create(listener=listener, artist=artist, tag=tag)
    return world


def train_and_publish(world: World, store, artifacts_dir) -> None:
    """Train the product model on the world's listeners and publish it, as the serving tests do.

    Content vectors are each artist's taste group (one-hot), so the sentence encoder is not loaded.
    """
    import numpy as np
    import torch

    from recommender.data import InteractionDataset
    from recommender.models.config import JointConfig
    from recommender.serving.model_holder import model_holder, model_publish
    from recommender.serving.selectors import snapshot_forget
    from recommender.training import recommender_train

    torch.set_num_threads(1)
    group_of = {
        a.pk: index for index, (_, (_, names)) in enumerate(GROUPS.items()) for a in (world.artists[n] for n in names)
    }
    dataset = InteractionDataset.from_catalog(store=store)
    content = np.stack([np.eye(len(GROUPS))[group_of[int(pk)]] for pk in dataset.item_ids])
    trained = recommender_train(
        dataset=dataset, config=JointConfig(**TINY), seed=0, content_embeddings=content, output_dir=artifacts_dir
    )
    model_publish(trained.path, directory=artifacts_dir)
    model_holder().reset()
    snapshot_forget()
