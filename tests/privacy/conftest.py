"""A small world for the data-rights tests: two taste groups in the catalog and the sql graph, and learners.

``world`` builds the catalog and graph (no model); ``published`` trains a tiny joint model on it (a second
or two) and publishes it into the test's own artifacts folder; ``learner`` is a signed-up learner with a
bit of everything (profile, interests, listening, events, mastery, an ingestion job, a login record).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from catalog.models import Artist, Course, Interaction, Interest, Listen, Listener, Tag, TagAssignment
from kg.stores import EntityRecord, RelationRecord
from tests.helpers.recommender_data import TINY as TINY_MODEL

PASSWORD = "a-long-learner-pass-42"
#: The shared tiny model, trained for two epochs (use_content=True).
TINY = {**TINY_MODEL, "epochs": 2, "patience": 2, "use_content": True}
GROUPS = {
    "blues": ["B.B. King", "Muddy Waters", "Howlin' Wolf", "Buddy Guy", "Albert King"],
    "classical": ["Glenn Gould", "Martha Argerich", "Lang Lang", "Yuja Wang", "Mitsuko Uchida"],
}


@dataclass
class World:
    artists: dict[str, Artist] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)
    courses: list[Course] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    group_of: dict[int, int] = field(default_factory=dict)


@pytest.fixture(autouse=True)
def _fast_hashing_and_fresh_serving(settings):
    from recommender.explanations import invalidate_snapshots
    from recommender.serving.model_holder import model_holder
    from recommender.serving.selectors import snapshot_forget

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.KG_BACKEND = "sql"
    model_holder().reset()
    invalidate_snapshots()
    snapshot_forget()
    yield
    model_holder().reset()
    invalidate_snapshots()
    snapshot_forget()


@pytest.fixture
def world(sql_store) -> World:
    world = World()
    entities: list[EntityRecord] = []
    relations: list[RelationRecord] = []
    number = 0
    for g, (tag_name, names) in enumerate(GROUPS.items()):
        tag = Tag.objects.create(lastfm_id=800 + g, name=tag_name, entity_id=f"lastfm:tag:{800 + g}")
        world.tags[tag_name] = tag
        entities.append(EntityRecord(id=tag.entity_id, type="Tag", name=tag_name))
        for name in names:
            number += 1
            artist = Artist.objects.create(
                lastfm_id=number, name=name, entity_id=f"lastfm:artist:{number}", kgcn_entity=number
            )
            world.artists[name] = artist
            world.group_of[artist.pk] = g
            entities.append(EntityRecord(id=artist.entity_id, type="Artist", name=name))
            relations.append(RelationRecord(head=artist.entity_id, type="HAS_TAG", tail=tag.entity_id))
        course = Course.objects.create(
            udemy_id=9000 + g, title=f"{tag_name.title()} for Beginners", entity_id=f"udemy:course:{9000 + g}"
        )
        world.courses.append(course)
        entities.append(EntityRecord(id=course.entity_id, type="Course", name=course.title))
        relations.append(RelationRecord(head=course.entity_id, type="COVERS_TAG", tail=tag.entity_id))
    sql_store.upsert_entities(entities)
    sql_store.upsert_relations(relations)
    lastfm_user = 0
    for names in GROUPS.values():
        for i in range(4):
            lastfm_user += 1
            listener = Listener.objects.create(lastfm_id=lastfm_user)
            world.listeners.append(listener)
            for j in range(4):
                artist = world.artists[names[(i + j) % len(names)]]
                Listen.objects.create(listener=listener, artist=artist, play_count=5 + i + j)
    first = world.listeners[0]
    TagAssignment.objects.create(listener=first, artist=world.artists["B.B. King"], tag=world.tags["blues"])
    return world


def train_and_publish(world: World, store, *, publish: bool = True) -> Path:
    """Train the tiny joint model on the catalog as it is now (opt-outs honoured by ``from_catalog``) and publish it."""
    import torch

    from recommender.data import InteractionDataset
    from recommender.models.config import JointConfig
    from recommender.serving.model_holder import model_publish
    from recommender.training import recommender_artifacts_dir, recommender_train

    torch.set_num_threads(1)
    dataset = InteractionDataset.from_catalog(store=store)
    content = np.stack([np.eye(len(GROUPS))[world.group_of[int(pk)]] for pk in dataset.item_ids])
    trained = recommender_train(
        dataset=dataset,
        config=JointConfig(**TINY),
        seed=0,
        content_embeddings=content,
        output_dir=recommender_artifacts_dir(),
    )
    if publish:
        model_publish(trained.path)
    return trained.path


@pytest.fixture
def published(world, sql_store) -> Path:
    return train_and_publish(world, sql_store)


def make_learner(username: str = "ada", *, email: str = "ada@example.org"):
    from recommender.serving.services import learner_listener

    user = get_user_model().objects.create_user(username, email=email, password=PASSWORD)
    return user, learner_listener(user)


@pytest.fixture
def learner(world):
    """A learner with a profile, interests, listening, events, mastery, a submitted ingestion job and login records."""
    from axes.models import AccessAttempt, AccessLog

    from curriculum.models import ConceptMastery, LearnerProfile
    from ingestion.models import IngestionJob

    user, listener = make_learner()
    blues = world.artists["B.B. King"]
    LearnerProfile.objects.create(user=user, level="intermediate", instruments=["leitmotif:instrument:guitar"])
    Interest.objects.create(listener=listener, entity_id=world.tags["blues"].entity_id, name="blues", entity_type="Tag")
    Listen.objects.create(listener=listener, artist=blues, play_count=3)
    Interaction.objects.create(listener=listener, kind="listen", artist=blues)
    Interaction.objects.create(listener=listener, kind="like", artist=world.artists["Buddy Guy"])
    Interaction.objects.create(listener=listener, kind="enroll", course=world.courses[0])
    Interaction.objects.create(listener=listener, kind="complete", course=world.courses[0])
    ConceptMastery.objects.create(user=user, concept_id="leitmotif:concept:blues-scale", mastery=0.6, source="quiz")
    IngestionJob.objects.create(submitted_by=user, origin="api", payload=[{"name": "notes.txt", "text": "B.B. King"}])
    for model in (AccessAttempt, AccessLog):
        extra = {"get_data": "", "post_data": "", "failures_since_start": 1} if model is AccessAttempt else {}
        model.objects.create(
            username=user.username,
            ip_address="192.0.2.7",
            user_agent="test-agent",
            http_accept="*/*",
            path_info="/login/",
            **extra,
        )
    return user
