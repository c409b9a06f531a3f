"""Learning paths and next steps on the real curriculum: prerequisites always respected, adaptive to progress.

The headline check, :func:`test_every_path_over_the_whole_graph_respects_prerequisites`, plans a path to
every concept (and every instrument and tag) of the real curriculum file, loaded into the sql store,
for many learner states and every level, and asserts zero prerequisite violations. The path selector
also runs on both graph backends (:func:`test_the_path_selector_runs_on_both_backends`).

:func:`tests.helpers.curriculum_world.build_curriculum_world` makes a small catalog (artists with tags, courses
whose titles name concepts, instruments) around the real curriculum; the page and API tests reuse it.
"""

from __future__ import annotations

import random

import pytest
from django.contrib.auth import get_user_model

from catalog.models import Interaction
from core.errors import LearningPathError
from curriculum import paths, selectors, services
from curriculum.graph import curriculum_cache_clear, curriculum_graph_read
from curriculum.loader import DEFAULT_CURRICULUM_PATH, curriculum_load
from curriculum.models import ConceptMastery
from curriculum.selectors import Goal, LearnerSettings
from curriculum.vocabulary import LEVELS
from kg.stores import RelationRecord
from recommender.serving.services import interaction_record, learner_listener
from tests.helpers.curriculum_world import PASSWORD, C


@pytest.fixture
def learner(db):
    user = get_user_model().objects.create_user(username="ada", password=PASSWORD)
    learner_listener(user)
    return user


def master(user, graph, *slugs: str) -> None:
    for slug in slugs:
        services.mastery_set(user, C(slug), mastery=1.0, graph=graph)


def foundations_of(graph, slug: str) -> list[str]:
    """Every prerequisite of a concept, transitively (slugs)."""
    found: set[str] = set()
    stack = [C(slug)]
    while stack:
        for p in graph.concepts[stack.pop()].prerequisites:
            if p not in found:
                found.add(p)
                stack.append(p)
    return sorted(p.rsplit(":", 1)[1] for p in found)


# --- the whole graph ---------------------------------------------------------------------------------


def _learner_states(graph, rng: random.Random) -> list[set[str]]:
    """Empty, everything, random subsets (prerequisite-inconsistent on purpose) and prerequisite-closed subsets."""
    ids = sorted(graph.concepts)
    states = [set(), set(ids)]
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.9):
        states.append(set(rng.sample(ids, int(len(ids) * fraction))))
    for fraction in (0.2, 0.5, 0.8):
        closed: set[str] = set()
        for concept_id in rng.sample(ids, int(len(ids) * fraction)):
            stack = [concept_id]
            while stack:
                node = stack.pop()
                if node not in closed:
                    closed.add(node)
                    stack.extend(graph.concepts[node].prerequisites)
        states.append(closed)
    return states


def _assert_level_aware(graph, order: list[str]) -> None:
    """A harder step comes before an easier one only when the easier one was not ready yet (the greedy rule)."""
    position = {c: i for i, c in enumerate(order)}
    for i, earlier in enumerate(order):
        for later in order[i + 1 :]:
            if graph.concepts[later].level_rank < graph.concepts[earlier].level_rank:
                blockers = [p for p in graph.concepts[later].prerequisites if position.get(p, -1) >= i]
                assert blockers, f"{later} was ready before {earlier} but placed after it"


def test_every_path_over_the_whole_graph_respects_prerequisites(sql_store):
    curriculum_load(DEFAULT_CURRICULUM_PATH, store=sql_store, progress=False)
    graph = curriculum_graph_read(store=sql_store)
    rng = random.Random(7)
    states = _learner_states(graph, rng)
    instrument_ids = sorted({i for node in graph.concepts.values() for i in node.instruments})
    checked = 0
    for level in LEVELS:
        learner = LearnerSettings(level=level, instruments=(), instruments_from="none", has_profile=True)
        goals = [
            selectors.goal_resolve(concept_id, graph=graph, store=sql_store, learner=learner)
            for concept_id in sorted(graph.concepts)
        ]
        goals += [
            Goal(
                kind="instrument",
                entity_id=i,
                name=i,
                type="Instrument",
                targets=graph.concepts_for_instrument(i),
                reason="",
            )
            for i in instrument_ids
        ]
        for goal in goals:
            for mastered in states:
                mastery = dict.fromkeys(mastered, 1.0)
                path = selectors.learning_path_for(
                    graph, goal, mastery=mastery, threshold=0.7, learner_level_rank=learner.level_rank
                )
                order = [step.concept.id for step in path.steps]
                assert paths.path_violations(graph, order, mastered) == [], (goal.entity_id, sorted(mastered)[:5])
                assert set(order) == paths.prerequisite_closure(graph, goal.targets, mastered)
                for step in path.steps:
                    assert step.ready_now == all(p in mastered for p in step.concept.prerequisites)
                    for link in step.builds_on:
                        assert link.status == "mastered" or int(link.status) < step.position
                _assert_level_aware(graph, order)
                checked += 1
    assert checked >= 3 * len(graph.concepts) * len(states)


def test_paths_are_stable_and_stop_at_mastered_concepts(sql_store):
    curriculum_load(DEFAULT_CURRICULUM_PATH, store=sql_store, progress=False)
    graph = curriculum_graph_read(store=sql_store)
    fresh = paths.learning_order(graph, [C("seventh-chords")], set())
    assert fresh == [
        C(s)
        for s in ("notes-and-staff", "steps-and-accidentals", "major-scale", "intervals", "triads", "seventh-chords")
    ]
    assert paths.learning_order(graph, [C("seventh-chords")], set()) == fresh
    # knowing triads is taken as knowing what it rests on: only the goal is left
    assert paths.learning_order(graph, [C("seventh-chords")], {C("triads")}) == [C("seventh-chords")]
    assert paths.learning_order(graph, [C("seventh-chords")], {C("seventh-chords")}) == []
    assert paths.path_violations(graph, [C("triads"), C("intervals")], set())  # a wrong order is caught


# --- both backends ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_path_selector_runs_on_both_backends(graph_store):
    curriculum_load(DEFAULT_CURRICULUM_PATH, store=graph_store, progress=False)
    user = get_user_model().objects.create_user(username="both", password=PASSWORD)
    path = selectors.learning_path(user, C("seventh-chords"), store=graph_store)
    assert [s.concept.id for s in path.steps][-3:] == [C("intervals"), C("triads"), C("seventh-chords")]
    assert path.steps[0].ready_now and not path.steps[-1].ready_now and path.steps[-1].is_target
    graph = selectors.curriculum_graph(graph_store)
    master(user, graph, "triads")
    adapted = selectors.learning_path(user, C("seventh-chords"), store=graph_store)
    assert [s.concept.id for s in adapted.steps] == [C("seventh-chords")]
    assert [ref.id for ref in adapted.mastered_prerequisites] == [C("triads")]
    with pytest.raises(LearningPathError, match="not in the knowledge graph"):
        selectors.learning_path(user, "leitmotif:concept:no-such-thing", store=graph_store)


# --- next steps -------------------------------------------------------------------------------------------


def test_a_new_beginner_gets_starting_points_only(world, learner, sql_store):
    steps = selectors.next_steps(learner, store=sql_store, limit=20)
    assert steps
    for step in steps:
        assert step.concept.prerequisites == () and step.concept.level == "beginner"
        assert "needs no other concept first" in step.explanation


def test_next_steps_respect_prerequisites_for_any_progress(world, learner, sql_store):
    graph = selectors.curriculum_graph(sql_store)
    rng = random.Random(3)
    learner_settings = selectors.learner_settings(learner)
    for mastered in _learner_states(graph, rng):
        mastery = dict.fromkeys(mastered, 1.0)
        for concept_id in selectors.next_step_candidates(
            graph, mastery=mastery, threshold=0.7, learner=learner_settings
        ):
            node = graph.concepts[concept_id]
            assert concept_id not in mastered and all(p in mastered for p in node.prerequisites)
            assert node.level == "beginner"


def test_next_steps_build_on_progress_and_explain_it(world, learner, sql_store):
    graph = selectors.curriculum_graph(sql_store)
    master(learner, graph, *foundations_of(graph, "intervals"))
    steps = {s.concept.id: s for s in selectors.next_steps(learner, store=sql_store, limit=20)}
    intervals = steps[C("intervals")]
    assert intervals.explanation.startswith("You marked Major scales as mastered; Intervals builds on it.")
    assert [ref.id for ref in intervals.builds_on] == [C("major-scale")]
    assert {
        "kind": "prerequisite_mastered",
        "concept": C("major-scale"),
        "source": "self",
        "evidence": "",
    } in intervals.facts
    assert [c.title for c in intervals.courses][:1] == ["Intervals and Triads Made Easy"]
    assert C("major-scale") not in steps and C("triads") not in steps  # mastered / not yet unlocked


def test_level_gates_next_steps(world, learner, sql_store):
    graph = selectors.curriculum_graph(sql_store)
    master(learner, graph, *foundations_of(graph, "seventh-chords"))
    beginner = {s.concept.id for s in selectors.next_steps(learner, store=sql_store, limit=20)}
    assert C("seventh-chords") not in beginner
    services.profile_update(learner, store=sql_store, level="intermediate")
    intermediate = {s.concept.id for s in selectors.next_steps(learner, store=sql_store, limit=20)}
    assert C("seventh-chords") in intermediate


def test_instruments_keep_other_instruments_skills_out(world, learner, sql_store):
    graph = selectors.curriculum_graph(sql_store)
    master(learner, graph, "chords", "rhythm")
    services.profile_update(learner, store=sql_store, instruments=["leitmotif:instrument:drums"])
    steps = {s.concept.id for s in selectors.next_steps(learner, store=sql_store, limit=20)}
    assert C("drum-rudiments") in steps and C("power-chords") not in steps
    services.profile_update(learner, store=sql_store, instruments=["leitmotif:instrument:guitar"])
    steps = {s.concept.id for s in selectors.next_steps(learner, store=sql_store, limit=20)}
    assert C("power-chords") in steps and C("drum-rudiments") not in steps
    with pytest.raises(LearningPathError, match="is not an instrument"):
        services.profile_update(learner, store=sql_store, instruments=["lastfm:tag:83"])


def test_courses_far_from_reach_need_allow_stretch(world, learner, sql_store):
    graph = selectors.curriculum_graph(sql_store)
    master(learner, graph, "chords")
    step = next(
        s for s in selectors.next_steps(learner, store=sql_store, limit=20) if s.concept.id == C("power-chords")
    )
    titles = [c.title for c in step.courses]
    assert "Getting Started with Power Chords" in titles
    assert (
        "Power Chords and Seventh Chords Combo" not in titles
    )  # it also teaches seventh chords: triads are far from mastered
    stretched = next(
        s
        for s in selectors.next_steps(learner, store=sql_store, limit=20, allow_stretch=True)
        if s.concept.id == C("power-chords")
    )
    combo = next(c for c in stretched.courses if c.title == "Power Chords and Seventh Chords Combo")
    assert combo.within_reach is False and combo.readiness == 0.0
    assert stretched.courses[0].within_reach  # reachable ones first


def test_music_prefers_what_the_learner_listens_to_then_popularity(world, learner, sql_store):
    graph = selectors.curriculum_graph(sql_store)
    master(learner, graph, "chords")
    interaction_record(learner.listener, kind="like", artist=world.artists["The Hives"])
    step = next(
        s for s in selectors.next_steps(learner, store=sql_store, limit=20) if s.concept.id == C("power-chords")
    )
    assert [(a.name, a.basis) for a in step.artists] == [
        ("The Hives", "history"),
        ("Ramones", "popularity"),
        ("Dead Kennedys", "popularity"),
    ]
    assert (
        "Here is one artist you listen to, tagged punk — music where Power chords is prominent: The Hives."
        in step.explanation
    )
    assert "the most-listened artists tagged punk are Ramones and Dead Kennedys" in step.explanation


def test_completing_a_course_masters_what_it_teaches_and_moves_on(world, learner, sql_store):
    graph = selectors.curriculum_graph(sql_store)
    master(learner, graph, "chords")
    result = services.lesson_complete(learner, world.courses["Getting Started with Power Chords"], graph=graph)
    assert result.raised == ((C("power-chords"), 0.8),)
    state = selectors.learner_mastery(learner, graph=graph)[C("power-chords")]
    assert (state.mastery, state.source, state.evidence) == (0.8, "lesson", "Getting Started with Power Chords")
    steps = {s.concept.id: s for s in selectors.next_steps(learner, store=sql_store, limit=20)}
    assert C("power-chords") not in steps
    assert Interaction.objects.filter(listener=learner.listener, kind="complete").count() == 1
    # saying "not yet" does not erase the finished course
    services.mastery_set(learner, C("power-chords"), mastery=0.0, graph=graph)
    assert selectors.learner_mastery(learner, graph=graph)[C("power-chords")].mastery == 0.8


def test_a_completion_recorded_elsewhere_counts_too(world, learner, sql_store):
    graph = selectors.curriculum_graph(sql_store)
    interaction_record(learner.listener, kind="complete", course=world.courses["Intervals and Triads Made Easy"])
    states = selectors.learner_mastery(learner, graph=graph)
    assert states[C("intervals")].mastery == 0.8 and states[C("triads")].courses == ("Intervals and Triads Made Easy",)
    assert not ConceptMastery.objects.filter(user=learner).exists()


def test_quiz_grades_and_sets_mastery(world, learner, sql_store):
    graph = selectors.curriculum_graph(sql_store)
    quiz = graph.concepts[C("intervals")].quiz
    right = [q["answer"] for q in quiz]
    result = services.quiz_grade(learner, C("intervals"), answers=right, graph=graph)
    assert (result.correct, result.total, result.mastery) == (len(quiz), len(quiz), 1.0)
    wrong = [(q["answer"] + 1) % len(q["choices"]) for q in quiz]
    wrong[0] = right[0]
    result = services.quiz_grade(learner, C("intervals"), answers=wrong, graph=graph)
    assert result.mastery == pytest.approx(1 / len(quiz))
    row = ConceptMastery.objects.get(user=learner, concept_id=C("intervals"))
    assert row.source == "quiz" and row.evidence == f"1/{len(quiz)}"
    with pytest.raises(LearningPathError, match="answer all"):
        services.quiz_grade(learner, C("intervals"), answers=[0], graph=graph)
    with pytest.raises(LearningPathError, match="has no quiz"):
        services.quiz_grade(learner, C("teaching"), answers=[], graph=graph)
    with pytest.raises(LearningPathError, match="not a concept of the curriculum"):
        services.mastery_set(learner, "leitmotif:concept:nope", mastery=1.0, graph=graph)
    with pytest.raises(LearningPathError, match="from 0"):
        services.mastery_set(learner, C("intervals"), mastery=1.5, graph=graph)


# --- goals and paths -----------------------------------------------------------------------------------------


def test_the_path_adapts_to_progress(world, learner, sql_store):
    graph = selectors.curriculum_graph(sql_store)
    first = [s.concept.id for s in selectors.learning_path(learner, C("seventh-chords"), store=sql_store).steps]
    assert first[0] == C("notes-and-staff") and len(first) == 6
    master(learner, graph, "notes-and-staff", "steps-and-accidentals")
    second = selectors.learning_path(learner, C("seventh-chords"), store=sql_store)
    assert [s.concept.id for s in second.steps] == first[2:]
    assert second.steps[0].ready_now and second.steps[0].why.startswith("Prerequisite of Intervals (step 2).")
    services.lesson_complete(learner, world.courses["Intervals and Triads Made Easy"], graph=graph)
    master(learner, graph, "major-scale")
    third = selectors.learning_path(learner, C("seventh-chords"), store=sql_store)
    assert [s.concept.id for s in third.steps] == [C("seventh-chords")]
    assert third.steps[0].why == "Goal: Seventh chords. Builds on Triads (mastered)."
    master(learner, graph, "seventh-chords")
    assert selectors.learning_path(learner, C("seventh-chords"), store=sql_store).complete


def test_every_kind_of_goal_resolves(world, learner, sql_store):
    punk = selectors.learning_path(learner, world.tags["punk"], store=sql_store)
    assert punk.goal.kind == "tag" and C("power-chords") in punk.goal.targets
    ramones = selectors.learning_path(learner, world.artists["Ramones"].entity_id, store=sql_store)
    assert ramones.goal.kind == "artist" and ramones.goal.reason == "Ramones is tagged punk"
    assert [s.concept.id for s in ramones.steps][-1] == C("power-chords")
    guitar = selectors.learning_path(learner, "leitmotif:instrument:guitar", store=sql_store)
    assert guitar.goal.kind == "instrument" and all(
        selectors.curriculum_graph(sql_store).concepts[t].level == "beginner" for t in guitar.goal.targets
    )
    course = selectors.learning_path(
        learner, world.courses["Intervals and Triads Made Easy"].entity_id, store=sql_store
    )
    assert set(course.goal.targets) == {C("intervals"), C("triads")}
    umbrella = selectors.learning_path(learner, C("scales"), store=sql_store)
    assert (
        C("major-scale") in umbrella.goal.targets and C("modes") not in umbrella.goal.targets
    )  # parts up to the learner's level
    with pytest.raises(LearningPathError, match="has no link to the curriculum yet.*Pick a concept"):
        selectors.learning_path(learner, world.artists["Nobody In Particular"].entity_id, store=sql_store)
    with pytest.raises(LearningPathError, match="No goal given"):
        selectors.learning_path(learner, "  ", store=sql_store)


def test_path_resources_assume_the_earlier_steps_are_done(world, learner, sql_store):
    services.profile_update(learner, store=sql_store, level="intermediate")
    path = selectors.learning_path(learner, C("seventh-chords"), store=sql_store)
    seventh = path.steps[-1]
    assert "Seventh Chords for Jazz Guitar" in [c.title for c in seventh.courses]
    theory = next(s for s in path.steps if s.concept.id == C("intervals"))
    assert any(c.title == "Music Theory for Everyone" and c.via == "Music theory" for c in theory.courses)


def test_a_prerequisite_cycle_added_by_hand_is_reported(world, learner, sql_store):
    sql_store.upsert_relations(
        [RelationRecord(head=C("seventh-chords"), type="PREREQUISITE_OF", tail=C("triads"), source="curator")]
    )
    curriculum_cache_clear()
    with pytest.raises(
        LearningPathError,
        match=r"form a cycle.*Triads → Seventh chords → Triads|form a cycle.*Seventh chords → Triads → Seventh chords",
    ):
        selectors.learning_path(learner, C("seventh-chords"), store=sql_store)


def test_bad_arguments_are_refused(world, learner, sql_store):
    with pytest.raises(LearningPathError, match="limit must be"):
        selectors.next_steps(learner, store=sql_store, limit=0)
    with pytest.raises(LearningPathError, match="threshold"):
        selectors.next_steps(learner, store=sql_store, threshold=2)
    with pytest.raises(LearningPathError, match="allow_stretch"):
        selectors.learning_path(learner, C("triads"), store=sql_store, allow_stretch="yes")
