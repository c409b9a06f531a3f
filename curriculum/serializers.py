"""Input and output serializers of ``/api/v1/learning/``: inputs say what to fix, outputs only shape selector data."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from curriculum.graph import ConceptNode, CurriculumGraph
from curriculum.selectors import DEFAULT_NEXT_STEPS, MAX_NEXT_STEPS, LearnerSettings, MasteryState
from curriculum.services import MAX_PROFILE_INSTRUMENTS
from curriculum.vocabulary import LEVELS

MAX_ID_LENGTH = 255


# --- inputs -------------------------------------------------------------------------------------


class ProfileInputSerializer(serializers.Serializer):
    level = serializers.ChoiceField(
        choices=LEVELS,
        required=False,
        error_messages={"invalid_choice": f'level must be one of {", ".join(LEVELS)}, got "{{input}}".'},
    )
    instruments = serializers.ListField(
        child=serializers.CharField(max_length=MAX_ID_LENGTH),
        required=False,
        max_length=MAX_PROFILE_INSTRUMENTS,
        help_text="Instrument entity ids, e.g. leitmotif:instrument:guitar (replaces the list).",
        error_messages={
            "max_length": f"name at most {MAX_PROFILE_INSTRUMENTS} instruments.",
            "not_a_list": "instruments must be a list of instrument ids.",
        },
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                'send level and/or instruments, e.g. {"level": "intermediate", "instruments": ["leitmotif:instrument:guitar"]}.'
            )
        return attrs


class MasteryInputSerializer(serializers.Serializer):
    concept_id = serializers.CharField(
        max_length=MAX_ID_LENGTH, help_text="Concept entity id, e.g. leitmotif:concept:intervals."
    )
    mastery = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        help_text="Self-assessment from 0 (not at all) to 1 (fully).",
        error_messages={
            "invalid": "mastery must be a number from 0 to 1.",
            "min_value": "mastery must be at least 0.",
            "max_value": "mastery must be at most 1 (fully mastered).",
        },
    )


class NextStepsQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        default=DEFAULT_NEXT_STEPS,
        min_value=1,
        max_value=MAX_NEXT_STEPS,
        help_text=f"How many next steps (1–{MAX_NEXT_STEPS}).",
        error_messages={
            "invalid": f"limit must be a whole number from 1 to {MAX_NEXT_STEPS}.",
            "min_value": "limit must be at least 1.",
            "max_value": f"limit must be at most {MAX_NEXT_STEPS}.",
        },
    )
    allow_stretch = serializers.BooleanField(
        default=False,
        help_text="Also list courses whose concepts' prerequisites are far from mastered.",
        error_messages={"invalid": "allow_stretch must be true or false."},
    )


class PathQuerySerializer(serializers.Serializer):
    goal = serializers.CharField(
        max_length=MAX_ID_LENGTH,
        help_text="Entity id of the goal: a concept, an instrument, a tag, a course or an artist (or another entity linked to artists).",
        error_messages={
            "required": "goal is required: an entity id such as leitmotif:concept:seventh-chords or leitmotif:instrument:guitar.",
            "blank": "goal must not be blank: give an entity id such as leitmotif:concept:seventh-chords.",
        },
    )
    allow_stretch = serializers.BooleanField(
        default=False, error_messages={"invalid": "allow_stretch must be true or false."}
    )


class ConceptsQuerySerializer(serializers.Serializer):
    level = serializers.ChoiceField(
        choices=LEVELS,
        required=False,
        error_messages={"invalid_choice": f'level must be one of {", ".join(LEVELS)}, got "{{input}}".'},
    )
    instrument = serializers.CharField(
        required=False, max_length=MAX_ID_LENGTH, help_text="Keep concepts that fit this instrument id."
    )


# --- outputs ------------------------------------------------------------------------------------


class ConceptRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    level = serializers.CharField(allow_null=True)


class TagRefSerializer(serializers.Serializer):
    id = serializers.CharField(source="tag_id")
    name = serializers.CharField()


class SourceSerializer(serializers.Serializer):
    ref = serializers.CharField(required=False)
    title = serializers.CharField()
    publisher = serializers.CharField()
    authors = serializers.CharField(required=False)
    url = serializers.CharField(required=False)
    section = serializers.CharField(required=False)
    grade = serializers.CharField(required=False)


class ConceptSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    level = serializers.CharField(allow_null=True)
    description = serializers.CharField()
    prerequisites = serializers.ListField(child=serializers.CharField())
    dependents = serializers.ListField(child=serializers.CharField())
    part_of = serializers.ListField(child=serializers.CharField(), source="broader")
    parts = serializers.ListField(child=serializers.CharField(), source="narrower")
    tags = TagRefSerializer(many=True)
    instruments = serializers.ListField(child=serializers.CharField(), help_text="Empty: every instrument.")
    courses = serializers.IntegerField(source="courses_count", help_text="Courses linked by TEACHES_CONCEPT.")
    sources = SourceSerializer(many=True)
    has_quiz = serializers.BooleanField()


def concept_data(node: ConceptNode) -> dict[str, Any]:
    return {
        "id": node.id,
        "name": node.name,
        "level": node.level,
        "description": node.description,
        "prerequisites": list(node.prerequisites),
        "dependents": list(node.dependents),
        "broader": list(node.broader),
        "narrower": list(node.narrower),
        "tags": list(node.tags),
        "instruments": list(node.instruments),
        "courses_count": len(node.courses),
        "sources": [dict(s) for s in node.sources],
        "has_quiz": bool(node.quiz),
    }


class InstrumentRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class ProfileSerializer(serializers.Serializer):
    level = serializers.CharField()
    instruments = InstrumentRefSerializer(many=True)
    instruments_from = serializers.CharField(
        help_text=(
            "profile, interests (picked instruments, until a profile names instruments), tags (picked tags whose "
            "name is an instrument's, e.g. 'piano') or none."
        )
    )


def profile_data(learner: LearnerSettings, names: dict[str, str]) -> dict[str, Any]:
    return {
        "level": learner.level,
        "instruments": [{"id": i, "name": names.get(i, i)} for i in learner.instruments],
        "instruments_from": learner.instruments_from,
    }


class MasterySerializer(serializers.Serializer):
    concept = ConceptRefSerializer()
    mastery = serializers.FloatField()
    mastered = serializers.BooleanField()
    # A field named like Field.source: DRF's metaclass moves declared fields off the class.
    source = serializers.CharField(help_text="self, quiz or lesson: the latest evidence.")  # type: ignore[assignment]
    evidence = serializers.CharField(help_text="The completed course's title, or the quiz score.")
    courses = serializers.ListField(
        child=serializers.CharField(), help_text="Completed courses that teach the concept."
    )
    updated_at = serializers.DateTimeField(allow_null=True)


def mastery_data(state: MasteryState, graph: CurriculumGraph, threshold: float) -> dict[str, Any]:
    node = graph.concepts[state.concept_id]
    return {
        "concept": {"id": node.id, "name": node.name, "level": node.level},
        "mastery": state.mastery,
        "mastered": state.mastery >= threshold,
        "source": state.source,
        "evidence": state.evidence,
        "courses": list(state.courses),
        "updated_at": state.updated_at,
    }


class MasteryListSerializer(serializers.Serializer):
    threshold = serializers.FloatField(help_text="Mastery from which a concept counts as mastered.")
    results = MasterySerializer(many=True)


class CourseResourceSerializer(serializers.Serializer):
    course_id = serializers.CharField(help_text="Course entity id.")
    pk = serializers.IntegerField(allow_null=True, help_text="Catalog id (/api/v1/courses/{pk}/).")
    title = serializers.CharField()
    level = serializers.CharField()
    confidence = serializers.FloatField(help_text="Confidence of the TEACHES_CONCEPT link.")
    matched = serializers.CharField(help_text="Title words that matched the concept.")
    via = serializers.CharField(help_text="Empty, or the umbrella concept the course names instead.")
    readiness = serializers.FloatField(help_text="1.0: every prerequisite of what the course teaches is mastered.")
    within_reach = serializers.BooleanField()
    subscribers = serializers.IntegerField()
    url = serializers.CharField()


class ArtistResourceSerializer(serializers.Serializer):
    entity_id = serializers.CharField()
    pk = serializers.IntegerField(allow_null=True, help_text="Catalog id (/api/v1/artists/{pk}/).")
    name = serializers.CharField()
    tag = serializers.CharField(help_text="The associated tag that links the artist to the concept.")
    basis = serializers.CharField(help_text="history (you listen to it), recommender (published model) or popularity.")
    score = serializers.FloatField()
    reason = serializers.CharField()


class NextStepSerializer(serializers.Serializer):
    concept = ConceptRefSerializer()
    description = serializers.CharField(source="concept.description")
    score = serializers.FloatField()
    builds_on = ConceptRefSerializer(many=True)
    explanation = serializers.CharField()
    courses = CourseResourceSerializer(many=True)
    artists = ArtistResourceSerializer(many=True)
    tags = TagRefSerializer(many=True)
    facts = serializers.ListField(child=serializers.DictField(), help_text="The graph facts behind the explanation.")


class NextStepsSerializer(serializers.Serializer):
    level = serializers.CharField()
    threshold = serializers.FloatField()
    results = NextStepSerializer(many=True)


class StepLinkSerializer(serializers.Serializer):
    concept = ConceptRefSerializer()
    status = serializers.CharField(help_text="mastered, or the position of that step on the path.")


class PathStepSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    concept = ConceptRefSerializer()
    is_target = serializers.BooleanField()
    ready_now = serializers.BooleanField(help_text="Every prerequisite is mastered already.")
    builds_on = StepLinkSerializer(many=True)
    needed_for = StepLinkSerializer(many=True)
    why = serializers.CharField()
    courses = CourseResourceSerializer(many=True)


class GoalSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="concept, instrument, tag, course, artist or entity.")
    entity_id = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()
    targets = serializers.ListField(child=serializers.CharField())
    reason = serializers.CharField()


class LearningPathSerializer(serializers.Serializer):
    goal = GoalSerializer()
    complete = serializers.BooleanField(help_text="True when every target is mastered already.")
    threshold = serializers.FloatField()
    steps = PathStepSerializer(many=True)
    mastered_prerequisites = ConceptRefSerializer(many=True)
    mastered_targets = ConceptRefSerializer(many=True)
