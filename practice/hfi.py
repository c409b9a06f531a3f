"""HFI, Harmonious Feedback Integration: from one session's detections to what is worth saying.

Three parts, all plain functions over small dataclasses (no Django, no torch):

1. **Propagation between feedback dimensions** (:data:`DEPENDENCIES`, :func:`propagate`). A problem in
   one dimension explains part of what is heard in another: uneven timing makes the tempo sound unsteady,
   flat dynamics, an unsteady tempo and clipped articulation make a performance sound inexpressive, missed
   or extra notes disturb the rhythm. Each edge ``cause -> effect`` has a weight ``w`` (how much of the
   effect the cause can explain). :func:`propagate` computes, for each dimension, the part of its problem
   probability explained by its causes, ``explained(d) = 1 - prod_c (1 - w_cd * p_c)`` (noisy-OR), and
   the residual ``own(d) = p_d * (1 - explained(d))``: a dimension whose problem is mostly explained is
   said as a consequence of its cause ("the tempo wobbles because the timing is uneven"), not as a
   second, separate problem.
2. **Adaptive state per learner** (:class:`FeedbackState`, :func:`update_state`): per dimension an
   exponential moving estimate of the problem probability whose rate adapts to how much evidence there
   is (``alpha = max(alpha_min, 1 / (sessions + 1))``: the first sessions move the estimate a lot, later
   ones less), a confidence that grows with the sessions seen, how often the point was said, and its
   status: ``open``, ``fixed`` (announced once), or ``ok``.
3. **Reward and selection** (:func:`session_reward`, :func:`feedback_points`): the reward of a session is
   the drop of the summed estimates (weighted by level) from the previous state, so it is positive when
   the learner improved. :func:`feedback_points` returns what to say: new problems, problems still
   there (more specific each time they are repeated: first the dimension, then the bars, then the
   notes when the detections carry them), and fixed points, announced as fixed exactly once and never
   repeated as problems unless they clearly come back (the detection *and* the smoothed estimate agree
   over ``comeback_sessions`` sessions), which keeps a single false detection from re-raising them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import ConfigurationError
from practice.synthesis import FEEDBACK_DIMENSIONS

#: cause -> effect: weight (the share of the effect the cause can explain). Documented in the module doc.
DEPENDENCIES: dict[tuple[str, str], float] = {
    ("rhythm", "tempo"): 0.6,
    ("tempo", "rhythm"): 0.3,
    ("pitch", "rhythm"): 0.3,
    ("articulation", "rhythm"): 0.2,
    ("dynamics", "expression"): 0.6,
    ("tempo", "expression"): 0.4,
    ("articulation", "expression"): 0.4,
    ("rhythm", "expression"): 0.2,
}
MESSAGES: dict[str, str] = {
    "pitch": "some notes are wrong, missing or added",
    "rhythm": "the note timing is uneven",
    "tempo": "the tempo is not steady",
    "dynamics": "the dynamics are flat",
    "articulation": "the notes are cut short",
    "expression": "the playing sounds inexpressive",
}
FIXED_MESSAGES: dict[str, str] = {
    "pitch": "fixed: the notes are right now",
    "rhythm": "fixed: the note timing is even now",
    "tempo": "fixed: the tempo is steady now",
    "dynamics": "fixed: the dynamics are shaped now",
    "articulation": "fixed: the notes are held for their length now",
    "expression": "fixed: the playing is expressive now",
}


@dataclass(frozen=True)
class Detection:
    """One session's finding for one dimension: problem probability, level (0-2), where (bars) and what."""

    probability: float
    level: int = 0
    bars: tuple[int, ...] = ()
    details: tuple[str, ...] = ()


def _check_dimension(name: str) -> None:
    if name not in FEEDBACK_DIMENSIONS:
        raise ConfigurationError(f"unknown feedback dimension {name!r}; choose from: {', '.join(FEEDBACK_DIMENSIONS)}.")


def propagate(probabilities: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """Per dimension: ``p`` (as given), ``explained`` (noisy-OR of its causes), ``own`` and the main ``cause``."""
    for name in probabilities:
        _check_dimension(name)
    result: dict[str, dict[str, Any]] = {}
    for effect in FEEDBACK_DIMENSIONS:
        p = float(probabilities.get(effect, 0.0))
        unexplained = 1.0
        best_cause, best_share = None, 0.0
        for (cause, target), weight in DEPENDENCIES.items():
            if target != effect:
                continue
            share = weight * float(probabilities.get(cause, 0.0))
            unexplained *= 1.0 - share
            if share > best_share:
                best_cause, best_share = cause, share
        explained = 1.0 - unexplained
        result[effect] = {
            "p": p,
            "explained": round(explained, 4),
            "own": round(p * (1.0 - explained), 4),
            "cause": best_cause,
        }
    return result


@dataclass
class DimensionState:
    estimate: float = 0.0
    sessions: int = 0
    times_said: int = 0
    status: str = "ok"  # "ok" | "open" | "fixed"
    #: Consecutive sessions in which a fixed point was detected again (see ``comeback_sessions``).
    comeback: int = 0
    level: int = 0

    @property
    def confidence(self) -> float:
        """Grows with evidence: 0 before any session, 0.5 after one, 0.75 after two, ..."""
        return 1.0 - 0.5**self.sessions


@dataclass
class FeedbackState:
    """A learner's feedback state across sessions (serialisable with :meth:`to_dict`)."""

    dimensions: dict[str, DimensionState] = field(
        default_factory=lambda: {name: DimensionState() for name in FEEDBACK_DIMENSIONS}
    )
    session: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session, "dimensions": {k: dataclasses.asdict(v) for k, v in self.dimensions.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeedbackState:
        dimensions = {name: DimensionState(**values) for name, values in dict(data.get("dimensions", {})).items()}
        for name in FEEDBACK_DIMENSIONS:
            dimensions.setdefault(name, DimensionState())
        return cls(dimensions=dimensions, session=int(data.get("session", 0)))


@dataclass(frozen=True)
class HFIConfig:
    #: Smallest update rate of the moving estimate (later sessions).
    alpha_min: float = 0.5
    #: A dimension is a problem when this session's probability and the updated estimate both reach it.
    threshold: float = 0.5
    #: Below this share of own (unexplained) problem, a dimension is said as a consequence of its cause.
    own_share: float = 0.5
    #: Sessions a fixed point must be detected in a row before it is raised again.
    comeback_sessions: int = 2


@dataclass(frozen=True)
class FeedbackPoint:
    dimension: str
    status: str  # "new" | "still wrong" | "came back" | "fixed"
    message: str
    level: int = 0
    specificity: int = 1  # 1 dimension, 2 + bars, 3 + notes
    bars: tuple[int, ...] = ()
    details: tuple[str, ...] = ()
    because_of: str | None = None


def update_state(
    state: FeedbackState, detections: Mapping[str, Detection], config: HFIConfig | None = None
) -> FeedbackState:
    """The state after one session (a new object; ``state`` is not changed)."""
    config = config or HFIConfig()
    new = FeedbackState.from_dict(state.to_dict())
    new.session = state.session + 1
    for name in FEEDBACK_DIMENSIONS:
        found = detections.get(name)
        if found is None:
            continue
        dim = new.dimensions[name]
        alpha = max(config.alpha_min, 1.0 / (dim.sessions + 1))
        dim.estimate = round((1 - alpha) * dim.estimate + alpha * float(found.probability), 6)
        dim.sessions += 1
        dim.level = int(found.level)
    return new


def session_reward(before: FeedbackState, after: FeedbackState) -> float:
    """Improvement from one session to the next: the summed drop of the problem estimates (> 0: better)."""
    return round(sum(before.dimensions[n].estimate - after.dimensions[n].estimate for n in FEEDBACK_DIMENSIONS), 6)


def feedback_points(
    state: FeedbackState, detections: Mapping[str, Detection], config: HFIConfig | None = None
) -> tuple[list[FeedbackPoint], FeedbackState]:
    """What to say after this session, and the new state (statuses, times said) to keep for the next one.

    See the module doc for the rules. Points are ordered: problems by own (unexplained) probability,
    then fixed points.
    """
    config = config or HFIConfig()
    for name in detections:
        _check_dimension(name)
    new = update_state(state, detections, config)
    propagated = propagate({name: found.probability for name, found in detections.items()})
    problems: list[tuple[float, FeedbackPoint]] = []
    fixed: list[FeedbackPoint] = []
    for name in FEEDBACK_DIMENSIONS:
        found = detections.get(name)
        if found is None:
            continue
        dim = new.dimensions[name]
        previous = state.dimensions[name].status
        detected = found.probability >= config.threshold and dim.estimate >= config.threshold
        if previous == "fixed":
            dim.comeback = dim.comeback + 1 if found.probability >= config.threshold else 0
            if dim.comeback >= config.comeback_sessions and dim.estimate >= config.threshold:
                status = "came back"
            else:
                continue  # fixed stays fixed: not repeated as a problem
        elif detected:
            status = "still wrong" if previous == "open" else "new"
        else:
            if previous == "open":
                dim.status, dim.comeback = "fixed", 0
                fixed.append(FeedbackPoint(name, "fixed", FIXED_MESSAGES[name]))
            continue
        dim.status = "open"
        dim.comeback = 0
        specificity = min(3, 1 + dim.times_said)
        if specificity >= 2 and not found.bars:
            specificity = 1
        if specificity == 3 and not found.details:
            specificity = 2
        message = MESSAGES[name]
        flow = propagated[name]
        because = flow["cause"] if flow["p"] > 0 and flow["own"] < config.own_share * flow["p"] else None
        if because is not None:
            message += f", mostly because {MESSAGES[because]}"
        if specificity >= 2:
            message += f" (bars {', '.join(str(b + 1) for b in found.bars[:6])})"
        if specificity == 3:
            message += ": " + "; ".join(found.details[:3])
        dim.times_said += 1
        problems.append(
            (
                float(flow["own"]),
                FeedbackPoint(
                    name,
                    status,
                    message,
                    level=int(found.level),
                    specificity=specificity,
                    bars=tuple(found.bars) if specificity >= 2 else (),
                    details=tuple(found.details) if specificity == 3 else (),
                    because_of=because,
                ),
            )
        )
    problems.sort(key=lambda item: -item[0])
    return [point for _, point in problems] + fixed, new


def detections_from_levels(
    probabilities: Mapping[str, Sequence[float]], *, bars: Mapping[str, Sequence[int]] | None = None
) -> dict[str, Detection]:
    """Detections from per-dimension level probabilities (good, some, many), e.g. the HFN's output."""
    found = {}
    for name, probs in probabilities.items():
        _check_dimension(name)
        values = [float(p) for p in probs]
        level = max(range(len(values)), key=values.__getitem__)
        found[name] = Detection(
            probability=round(1.0 - values[0], 4), level=level, bars=tuple((bars or {}).get(name, ()))
        )
    return found
