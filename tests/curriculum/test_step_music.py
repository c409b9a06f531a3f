"""A learning step offers works whose score exercises its concept (``Work -EXERCISES_CONCEPT-> Concept``).

The curriculum world of :mod:`tests.helpers.curriculum_world` plus four catalogue works linked to concepts
the way ``load_works`` links them (a detector's sentence in ``how``, a difficulty signal on the work).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from catalog.models import Work
from curriculum import selectors
from curriculum.services import profile_update
from kg.schema import EXERCISES_CONCEPT
from kg.stores import EntityRecord, RelationRecord
from learning_platform.learn import pieces
from recommender.serving.services import learner_listener
from tests.helpers.curriculum_world import PASSWORD, C

PIANO, VIOLIN = "leitmotif:instrument:piano", "leitmotif:instrument:violin"
#: slug -> (title, instrumentation, notes per beat, concept, confidence, how)
WORKS = {
    "busy-piano-etude": ("Busy Piano Etude", ["piano"], 4.0, "notes-and-staff", 0.9, "arpeggio figures: 40% of notes"),
    "easy-piano-air": ("Easy Piano Air", ["piano"], 1.0, "notes-and-staff", 0.6, "arpeggio figures: 16% of notes"),
    "violin-duo": ("Violin Duo", ["violin"], 0.5, "notes-and-staff", 1.0, "arpeggio figures: 50% of notes"),
    "quartet": (
        "A Quartet",
        ["violin", "viola", "cello"],
        2.0,
        "notes-and-staff",
        0.7,
        "arpeggio figures: 20% of notes",
    ),
    "broken-chords": ("Broken Chords", ["piano"], 2.0, "arpeggios", 0.8, "arpeggio figures: 34% of notes"),
}


def _link_works(store, works=WORKS) -> dict[str, Work]:
    rows = {}
    entities, relations = [], []
    for slug, (title, instrumentation, density, concept, confidence, how) in works.items():
        entity_id = f"leitmotif:work:{slug}"
        rows[slug] = Work.objects.create(
            slug=slug,
            title=title,
            composer_name="Someone",
            instrumentation=instrumentation,
            voices=instrumentation,
            corpus_path=f"test/{slug}.xml",
            audio_path=f"works/{slug}.flac",
            entity_id=entity_id,
            duration_seconds=30.0,
        )
        entities.append(EntityRecord(id=entity_id, type="Work", name=title, properties={"notes_per_beat": density}))
        relations.append(
            RelationRecord(
                head=entity_id,
                type=EXERCISES_CONCEPT,
                tail=C(concept),
                source=f"music21:test/{slug}.xml",
                confidence=confidence,
                properties={"how": how, "detector": "arpeggio-figures.v1"},
            )
        )
    store.upsert_entities(entities)
    store.upsert_relations(relations)
    return rows


def _user(name: str, *, instruments=None, level=None, store=None):
    user = get_user_model().objects.create_user(username=name, password=PASSWORD)
    learner_listener(user)
    if instruments is not None or level is not None:
        profile_update(user, store=store, instruments=instruments, level=level)
    return user


def test_works_for_a_concept_prefer_the_learners_instrument_then_easier_pieces(world, sql_store):
    _link_works(sql_store)
    found = selectors.concept_works(C("notes-and-staff"), store=sql_store, instruments=[PIANO], level_rank=0)
    assert [w.title for w in found] == ["Easy Piano Air", "Busy Piano Etude", "Violin Duo"]
    assert found[0].for_instrument and not found[2].for_instrument
    assert found[0].how == "arpeggio figures: 16% of notes" and found[0].notes_per_beat == 1.0
    # advanced learners get the clearest examples first
    advanced = selectors.concept_works(C("notes-and-staff"), store=sql_store, instruments=[VIOLIN], level_rank=2)
    assert [w.title for w in advanced] == ["Violin Duo", "A Quartet", "Busy Piano Etude"]
    assert selectors.concept_works(C("triads"), store=sql_store, instruments=[PIANO]) == []


def test_a_work_without_a_catalogue_row_is_left_out(world, sql_store):
    _link_works(sql_store)
    Work.objects.filter(slug="easy-piano-air").delete()
    found = selectors.concept_works(C("notes-and-staff"), store=sql_store, instruments=[PIANO])
    assert "Easy Piano Air" not in [w.title for w in found]


def test_my_learning_lists_pieces_to_play_for_a_step_with_links_to_the_work_pages(world, sql_store, client):
    rows = _link_works(sql_store)
    user = _user("ada", instruments=[PIANO], store=sql_store)
    client.force_login(user)
    html = client.get("/learn/").content.decode()
    step = html[html.index('data-concept="leitmotif:concept:notes-and-staff"') :]
    step = step[: step.index('<div class="actions">')]
    assert "Pieces to play" in step and f'href="/works/{rows["easy-piano-air"].pk}/"' in step
    assert "for your instrument" in step and "arpeggio figures: 16% of notes" in step
    assert "No music in our catalogue is linked to this concept yet." not in step
    [next_step] = [s for s in selectors.next_steps(user, store=sql_store) if s.concept.id == C("notes-and-staff")]
    assert [w.title for w in next_step.works][:2] == ["Easy Piano Air", "Busy Piano Etude"]
    assert {
        "kind": "exercised_by",
        "work": "leitmotif:work:easy-piano-air",
        "how": "arpeggio figures: 16% of notes",
    } in (next_step.facts)


def test_without_linked_works_the_step_keeps_its_honest_message(world, sql_store, client):
    user = _user("bea", instruments=[PIANO], store=sql_store)
    client.force_login(user)
    html = client.get("/learn/").content.decode()
    step = html[html.index('data-concept="leitmotif:concept:notes-and-staff"') :]
    step = step[: step.index('<div class="actions">')]
    assert "Pieces to play" not in step
    assert "No music in our catalogue is linked to this concept yet." in step


def test_a_path_step_lists_its_works(world, sql_store, client):
    rows = _link_works(sql_store)
    user = _user("cy", instruments=[PIANO], store=sql_store)
    client.force_login(user)
    html = client.get(f"/learn/path/?goal={C('arpeggios')}").content.decode()
    step = html[html.index(f'data-concept="{C("arpeggios")}"') :]
    assert "Pieces to play" in step and f'href="/works/{rows["broken-chords"].pk}/"' in step
    path = selectors.learning_path(user, C("arpeggios"), store=sql_store)
    by_concept = {s.concept.id: [w.title for w in s.works] for s in path.steps}
    assert by_concept[C("arpeggios")] == ["Broken Chords"] and by_concept.get(C("triads")) == []


def test_pieces_to_play_offers_a_work_that_exercises_a_next_step(world, sql_store):
    _link_works(sql_store)
    user = _user("dee", instruments=[PIANO], store=sql_store)
    listener = learner_listener(user)
    concepts = pieces.next_concepts(listener, store=sql_store)
    assert C("notes-and-staff") in concepts and C("arpeggios") not in concepts  # triads not mastered yet
    found = pieces.pieces_to_play(listener, instruments=[PIANO], store=sql_store)
    titles = [p.work.title for p in found]
    assert "Broken Chords" not in titles and "Violin Duo" not in titles  # not a next step / not for piano
    assert titles[:2] == ["Busy Piano Etude", "Easy Piano Air"]
    assert found[0].reason.startswith("Scored for piano · exercises Notes, staff and clefs, a next step for you: ")
