"""Forms of the learner pages: they validate input and name what to fix; the work happens in services."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from catalog.models import Course, Interaction
from learning_platform.learn.selectors import MAX_PICKS, MAX_QUERY_LENGTH


class SignupForm(UserCreationForm):
    """Username and password twice, checked by the project's password validators."""

    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class SearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=MAX_QUERY_LENGTH,
        strip=True,
        label="Search",
        error_messages={"max_length": f"Search for at most {MAX_QUERY_LENGTH} characters."},
    )


class InterestPicksForm(forms.Form):
    """The complete set of picks (the onboarding page posts every checked box, old and new)."""

    entity_id = forms.MultipleChoiceField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Choices come from the graph, which is too large to list: accept any id here, and let the
        # view resolve them against the store (interest_picks_resolve) with a message per bad id.
        field = self.fields["entity_id"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.valid_value = lambda value: True  # type: ignore[method-assign]

    def clean_entity_id(self) -> list[str]:
        ids = [i.strip() for i in self.cleaned_data["entity_id"] if i and i.strip()]
        ids = list(dict.fromkeys(ids))
        if len(ids) > MAX_PICKS:
            raise forms.ValidationError(f"Pick at most {MAX_PICKS} interests (you picked {len(ids)}).")
        for entity_id in ids:
            if len(entity_id) > 255:
                raise forms.ValidationError(f"{entity_id[:40]!r}… is not an entity id (too long).")
        return ids


class InterestAddForm(forms.Form):
    """One pick added from the search page."""

    entity_id = forms.CharField(max_length=255, strip=True)


class InteractionForm(forms.Form):
    """A like/skip of an artist or an enrolment in a course, posted by a button on any page."""

    LEARNER_KINDS = (
        (Interaction.Kind.LIKE, "Like"),
        (Interaction.Kind.SKIP, "Skip"),
        (Interaction.Kind.ENROLL, "Enroll"),
    )

    kind = forms.ChoiceField(
        choices=LEARNER_KINDS,
        error_messages={"invalid_choice": "kind must be one of like, skip or enroll (got %(value)s)."},
    )
    artist = forms.IntegerField(required=False, min_value=1)
    course = forms.IntegerField(required=False, min_value=1)
    next = forms.CharField(required=False, max_length=2000)

    def clean(self):
        data = super().clean()
        assert data is not None  # Form.clean() returns cleaned_data
        kind, artist, course = data.get("kind"), data.get("artist"), data.get("course")
        if kind is None:
            return data
        if kind == Interaction.Kind.ENROLL:
            if course is None or artist is not None:
                raise forms.ValidationError("enroll needs a course id and no artist id.")
        elif artist is None or course is not None:
            raise forms.ValidationError(f"{kind} needs an artist id and no course id.")
        return data


class CourseFilterForm(forms.Form):
    """Optional filters of the "For you" page (an unknown level is a form error, not a crash)."""

    level = forms.ChoiceField(
        required=False,
        choices=[("", "Any level"), *Course.Level.choices],
        error_messages={
            "invalid_choice": "level must be one of beginner, intermediate, expert or all (got %(value)s)."
        },
    )
