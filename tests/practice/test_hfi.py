"""HFI: propagation between dimensions, the adaptive state, the reward, and that fixed points are not repeated."""

from __future__ import annotations

import pytest

from core.errors import ConfigurationError
from practice.hfi import (
    Detection,
    FeedbackState,
    detections_from_levels,
    feedback_points,
    propagate,
    session_reward,
    update_state,
)

CLEAN = {name: Detection(0.05) for name in ("pitch", "rhythm", "tempo", "dynamics", "articulation", "expression")}


def session(**problems: float) -> dict[str, Detection]:
    found = dict(CLEAN)
    for name, probability in problems.items():
        found[name] = Detection(probability, level=2 if probability > 0.8 else 1, bars=(3, 4), details=("bar 4: F#",))
    return found


def test_a_timing_problem_explains_a_tempo_problem():
    flow = propagate({"rhythm": 0.9, "tempo": 0.7, "pitch": 0.0})
    assert flow["tempo"]["cause"] == "rhythm" and flow["tempo"]["explained"] == pytest.approx(0.54)
    assert flow["tempo"]["own"] == pytest.approx(0.7 * (1 - 0.54), abs=1e-4)
    alone = propagate({"tempo": 0.7})
    assert alone["tempo"]["own"] == pytest.approx(0.7) and alone["tempo"]["cause"] is None
    points, _ = feedback_points(FeedbackState(), session(rhythm=0.95, tempo=0.7))
    by_dimension = {p.dimension: p for p in points}
    assert by_dimension["tempo"].because_of == "rhythm" and "because the note timing" in by_dimension["tempo"].message
    assert points[0].dimension == "rhythm"  # the root cause first


def test_noisy_or_combines_several_causes():
    flow = propagate({"dynamics": 1.0, "tempo": 1.0, "expression": 1.0})
    assert flow["expression"]["explained"] == pytest.approx(1 - (1 - 0.6) * (1 - 0.4))
    assert flow["expression"]["cause"] == "dynamics"


def test_state_adapts_and_gains_confidence():
    state = FeedbackState()
    first = update_state(state, session(pitch=0.9))
    assert first.dimensions["pitch"].estimate == pytest.approx(0.9)  # alpha = 1 at the first session
    assert first.dimensions["pitch"].confidence == 0.5
    second = update_state(first, session(pitch=0.1))
    assert second.dimensions["pitch"].estimate == pytest.approx(0.5)  # alpha = max(0.5, 1/2)
    assert second.dimensions["pitch"].confidence == 0.75
    assert state.session == 0 and first.session == 1  # update returns a new state
    assert session_reward(first, second) > 0 and session_reward(second, first) < 0
    assert FeedbackState.from_dict(second.to_dict()) == second


def test_feedback_grows_more_specific_and_fixed_points_are_not_repeated():
    state = FeedbackState()
    points, state = feedback_points(state, session(pitch=0.9, dynamics=0.8))
    assert {(p.dimension, p.status, p.specificity) for p in points} == {("pitch", "new", 1), ("dynamics", "new", 1)}
    points, state = feedback_points(state, session(pitch=0.9, dynamics=0.85))
    assert {(p.dimension, p.status, p.specificity) for p in points} == {
        ("pitch", "still wrong", 2),
        ("dynamics", "still wrong", 2),
    }
    assert "bars 4, 5" in points[0].message
    points, state = feedback_points(state, session(pitch=0.95))  # dynamics fixed
    assert [(p.dimension, p.status) for p in points] == [("pitch", "still wrong"), ("dynamics", "fixed")]
    assert points[0].specificity == 3 and "F#" in points[0].message
    # One false detection of the fixed dimension does not bring it back; the fixed note is not repeated.
    points, state = feedback_points(state, session(pitch=0.9, dynamics=0.7))
    assert [(p.dimension, p.status) for p in points] == [("pitch", "still wrong")]
    points, state = feedback_points(state, session())
    assert [(p.dimension, p.status) for p in points] == [("pitch", "fixed")]
    points, state = feedback_points(state, session())
    assert points == []  # nothing is said twice


def test_a_fixed_problem_that_really_comes_back_is_raised_again():
    state = FeedbackState()
    _, state = feedback_points(state, session(tempo=0.9))
    _, state = feedback_points(state, session())
    assert state.dimensions["tempo"].status == "fixed"
    points, state = feedback_points(state, session(tempo=0.95))
    assert points == []
    points, state = feedback_points(state, session(tempo=0.95))
    assert [(p.dimension, p.status) for p in points] == [("tempo", "came back")]


def test_detections_from_model_probabilities_and_bad_names():
    found = detections_from_levels({"pitch": [0.2, 0.3, 0.5], "tempo": [0.9, 0.05, 0.05]}, bars={"pitch": [1]})
    assert found["pitch"] == Detection(0.8, level=2, bars=(1,))
    assert found["tempo"].level == 0 and found["tempo"].probability == pytest.approx(0.1)
    with pytest.raises(ConfigurationError, match="unknown feedback dimension 'timbre'"):
        propagate({"timbre": 0.5})
    with pytest.raises(ConfigurationError, match="choose from: pitch"):
        feedback_points(FeedbackState(), {"timbre": Detection(0.5)})
