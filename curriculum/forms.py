"""Forms of the curriculum pages: they check the shape of the input; the graph checks happen in services."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import forms

from curriculum.vocabulary import LEVEL_NAMES, LEVELS

MAX_ID_LENGTH = 255
MAX_QUERY_LENGTH = 100


class ProfileForm(forms.Form):
    level = forms.ChoiceField(choices=[(level, LEVEL_NAMES[level]) for level in LEVELS], label="My level")
    instruments = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple, label="I play")

    def __init__(self, *args: Any, instruments: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["instruments"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = list(instruments)


class MasteryForm(forms.Form):
    """A self-assessment from a button: "I know this" (mastered) or "Not yet" (reset)."""

    ACTIONS: Mapping[str, float] = {"mastered": 1.0, "reset": 0.0}

    concept_id = forms.CharField(max_length=MAX_ID_LENGTH, strip=True)
    action = forms.ChoiceField(choices=[("mastered", "I know this"), ("reset", "Not yet")])
    next = forms.CharField(required=False, max_length=2000)

    @property
    def mastery(self) -> float:
        return self.ACTIONS[self.cleaned_data["action"]]


class LessonForm(forms.Form):
    course = forms.IntegerField(min_value=1, error_messages={"invalid": "Give the course's number (its id)."})
    next = forms.CharField(required=False, max_length=2000)


class PathForm(forms.Form):
    goal = forms.CharField(required=False, max_length=MAX_ID_LENGTH, strip=True)
    allow_stretch = forms.BooleanField(required=False, label="Also show courses beyond my reach")


class GoalSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=MAX_QUERY_LENGTH,
        strip=True,
        label="Find an artist",
        error_messages={"max_length": f"Search for at most {MAX_QUERY_LENGTH} characters."},
    )


class QuizForm(forms.Form):
    """One radio group per question of a concept's quiz (choices by index)."""

    def __init__(self, *args: Any, quiz: Sequence[Mapping[str, Any]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for number, question in enumerate(quiz):
            self.fields[f"q{number}"] = forms.TypedChoiceField(
                label=str(question.get("question", "")),
                choices=[(str(i), choice) for i, choice in enumerate(question.get("choices", []))],
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": "Pick one answer."},
            )

    def answers(self) -> list[int]:
        return [self.cleaned_data[name] for name in sorted(self.fields, key=lambda n: int(n[1:]))]
