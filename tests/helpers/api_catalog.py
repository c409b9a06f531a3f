"""The tiny catalog the REST API tests run on: five artists, three tags, two courses, two instruments.

The same rows in the database and in the graph (sql store of the test database), so that the catalog
endpoints (``/artists/``, ``/courses/``) and the graph endpoints (``/entities/``) answer about the
same things. ``tests/kg/conftest.py`` builds its ``catalog`` fixture with it.
"""

from __future__ import annotations

from typing import Any

from catalog.models import Artist, Course, Listen, Listener, Tag, TagAssignment
from kg.stores import EntityRecord, KnowledgeGraphStore, RelationRecord


def api_catalog_create(store: KnowledgeGraphStore) -> dict[str, Any]:
    """Five artists, three tags, two courses, two Last.FM listeners; the same in the graph ``store``."""
    names = ["Alpha Blues", "Beta Blues", "Gamma Jazz", "Delta Jazz", "Epsilon Rock"]
    artists = [
        Artist.objects.create(lastfm_id=i + 1, name=n, entity_id=f"lastfm:artist:{i + 1}", kgcn_entity=100 + i)
        for i, n in enumerate(names)
    ]
    tags = {
        n: Tag.objects.create(lastfm_id=i + 1, name=n, entity_id=f"lastfm:tag:{i + 1}")
        for i, n in enumerate(["blues", "jazz", "rock"])
    }
    lastfm = [Listener.objects.create(lastfm_id=1000 + i) for i in range(2)]
    for listener in lastfm:
        for artist, tag in zip(artists, ["blues", "blues", "jazz", "jazz", "rock"]):
            Listen.objects.create(listener=listener, artist=artist, play_count=10)
            TagAssignment.objects.create(listener=listener, artist=artist, tag=tags[tag])
    courses = [
        Course.objects.create(
            udemy_id=1, title="Blues Guitar for Beginners", level="beginner", entity_id="udemy:course:1"
        ),
        Course.objects.create(udemy_id=2, title="Jazz Piano Masterclass", level="expert", entity_id="udemy:course:2"),
    ]
    entities = [EntityRecord(id=a.entity_id, type="Artist", name=a.name) for a in artists]
    entities += [EntityRecord(id=t.entity_id, type="Tag", name=t.name) for t in tags.values()]
    entities += [
        EntityRecord(id=c.entity_id, type="Course", name=c.title, properties={"level": c.level}) for c in courses
    ]
    entities += [
        EntityRecord(id="leitmotif:instrument:guitar", type="Instrument", name="guitar"),
        EntityRecord(id="leitmotif:instrument:piano", type="Instrument", name="piano"),
    ]
    store.upsert_entities(entities)
    relations = [
        RelationRecord(head=a.entity_id, type="HAS_TAG", tail=tags[t].entity_id)
        for a, t in zip(artists, ["blues", "blues", "jazz", "jazz", "rock"])
    ]
    relations += [
        RelationRecord(head="udemy:course:1", type="TEACHES_INSTRUMENT", tail="leitmotif:instrument:guitar"),
        RelationRecord(head="udemy:course:1", type="COVERS_TAG", tail="lastfm:tag:1"),
        RelationRecord(head="udemy:course:2", type="TEACHES_INSTRUMENT", tail="leitmotif:instrument:piano"),
        RelationRecord(head="udemy:course:2", type="COVERS_TAG", tail="lastfm:tag:2"),
    ]
    store.upsert_relations(relations)
    return {"artists": artists, "tags": tags, "courses": courses, "lastfm": lastfm}
