"""The shared checks behind every training config: good values pass, each bad kind names the field."""

from __future__ import annotations

import dataclasses

import pytest

from core.config_checks import (
    is_finite_number,
    require_bool,
    require_choice,
    require_choices,
    require_int,
    require_known_keys,
    require_number,
    require_positive_number,
    require_settings_object,
)
from core.errors import ConfigurationError


def test_good_values_pass_and_are_returned():
    assert require_int("epochs", 1, minimum=1) == 1
    assert require_int("depth", 16, minimum=1, maximum=16) == 16
    assert require_number("dropout", 0.0, low=0.0, high=0.9) == 0.0
    assert require_number("dropout", 0.9, low=0.0, high=0.9) == 0.9
    assert require_number("ratio", 1, low=0.0, high=2.0) == 1  # an int is a number
    assert require_positive_number("learning_rate", 1e-9) == 1e-9
    assert require_bool("early_stopping", False) is False
    assert require_choice("loss", "softplus", ("marginranking", "softplus")) == "softplus"
    assert require_choices("side field(s)", ["era", "form"], ("composer", "era", "form")) == ("era", "form")
    assert require_choices("weak_sources", [], ("mention_swap",)) == ()


@pytest.mark.parametrize(
    ("value", "maximum", "message"),
    [
        (0, None, "epochs must be an integer of at least 1, got 0."),
        (True, None, "epochs must be an integer of at least 1, got True."),  # a bool is not a count
        (2.0, None, "epochs must be an integer of at least 1, got 2.0."),
        ("3", None, "epochs must be an integer of at least 1, got '3'."),
        (10_001, 10_000, "epochs must be an integer of at least 1 and at most 10,000, got 10001."),
    ],
)
def test_require_int_refuses_non_integers_and_values_out_of_bounds(value, maximum, message):
    with pytest.raises(ConfigurationError) as caught:
        require_int("epochs", value, minimum=1, maximum=maximum)
    assert caught.value.message == message


def test_require_int_takes_a_prefix_and_a_config_s_own_wording():
    with pytest.raises(
        ConfigurationError, match=r"^\[E001\] NER config: seed must be a non-negative integer, got -1\.$"
    ):
        require_int("seed", -1, minimum=0, prefix="NER config: ", expected="a non-negative integer")


@pytest.mark.parametrize(
    ("value", "low_inclusive", "high_inclusive", "interval"),
    [
        (-0.1, True, True, "[0.0, 0.5]"),
        (0.6, True, True, "[0.0, 0.5]"),
        (0.0, False, True, "(0.0, 0.5]"),  # excluded low end
        (0.5, True, False, "[0.0, 0.5)"),  # excluded high end
        (float("nan"), True, True, "[0.0, 0.5]"),
        (float("inf"), True, True, "[0.0, 0.5]"),
        (False, True, True, "[0.0, 0.5]"),
        ("0.1", True, True, "[0.0, 0.5]"),
        (None, True, True, "[0.0, 0.5]"),
    ],
)
def test_require_number_refuses_non_numbers_and_values_outside_the_interval(
    value, low_inclusive, high_inclusive, interval
):
    with pytest.raises(ConfigurationError) as caught:
        require_number(
            "validation_fraction", value, low=0.0, high=0.5, low_inclusive=low_inclusive, high_inclusive=high_inclusive
        )
    assert caught.value.message == f"validation_fraction must be a number in {interval}, got {value!r}."


def test_require_number_without_an_upper_bound_says_so():
    assert require_number("lambda_kg", 1e6, low=0.0) == 1e6
    with pytest.raises(ConfigurationError, match=r"lambda_kg must be a finite number >= 0, got -1\.$"):
        require_number("lambda_kg", -1, low=0.0)
    with pytest.raises(ConfigurationError, match=r"temperature must be a finite number > 0, got 0\.$"):
        require_number("temperature", 0, low=0.0, low_inclusive=False)
    with pytest.raises(ConfigurationError, match="a finite number >= 0, got inf"):
        require_number("weight_decay", float("inf"), low=0.0)


@pytest.mark.parametrize("value", [0, -1e-3, float("nan"), float("inf"), True, "1e-3", None])
def test_require_positive_number_refuses_zero_negative_non_finite_and_non_numbers(value):
    with pytest.raises(ConfigurationError) as caught:
        require_positive_number("learning_rate", value)
    assert caught.value.message == f"learning_rate must be a positive finite number, got {value!r}."


@pytest.mark.parametrize("value", ["yes", 1, 0, None])
def test_require_bool_refuses_anything_but_true_or_false(value):
    with pytest.raises(ConfigurationError) as caught:
        require_bool("include_interactions", value)
    assert caught.value.message == f"include_interactions must be true or false, got {value!r}."


@pytest.mark.parametrize("value", ["hinge", None, 3, ["softplus"]])
def test_require_choice_names_the_field_the_value_and_the_choices(value):
    with pytest.raises(ConfigurationError) as caught:
        require_choice("loss", value, ("marginranking", "softplus"), hint=" Leave it unset for the model default.")
    assert caught.value.message == (
        f"Unknown loss {value!r}; choose one of: marginranking, softplus. Leave it unset for the model default."
    )


def test_require_choices_names_every_unknown_value_and_continues_a_prefix_in_lower_case():
    with pytest.raises(ConfigurationError) as caught:
        require_choices("weak_sources", ["wikipedia", "mention_swap", "news"], ("mention_swap",), prefix="NER config: ")
    assert (
        caught.value.message == "NER config: unknown weak_sources ['wikipedia', 'news']; choose one of: mention_swap."
    )


def test_is_finite_number():
    assert is_finite_number(0) and is_finite_number(-2.5)
    assert not any(is_finite_number(v) for v in (True, float("nan"), float("-inf"), "1", None))


@dataclasses.dataclass(frozen=True)
class _Settings:
    epochs: int = 1
    lambda_kg: float = 2.0


def test_require_settings_object_refuses_anything_but_a_mapping_with_the_right_article():
    assert require_settings_object({"epochs": 2}, what="KGE") == {"epochs": 2}
    with pytest.raises(ConfigurationError) as caught:
        require_settings_object([1, 2], what="KGE")
    assert caught.value.message == "A KGE config must be a JSON object, got list."
    with pytest.raises(ConfigurationError) as caught:
        require_settings_object("epochs=2", what="audio encoder")
    assert caught.value.message == "An audio encoder config must be a JSON object, got str."


def test_require_known_keys_names_the_unknown_keys_and_the_allowed_ones():
    require_known_keys({"epochs": 3}, _Settings, what="recommender")
    with pytest.raises(ConfigurationError) as caught:
        require_known_keys(["lamda_kg", "epochs", "dim"], _Settings, what="recommender")
    assert caught.value.message == "Unknown recommender config key(s) dim, lamda_kg; allowed: epochs, lambda_kg."
