"""From measured errors to words a learner can act on, and to the curriculum concepts they exercise.

Why every sentence names bars and notes: "bars 5–7 rushed" tells the learner where to put the
metronome; "work on your timing" does not. Praise comes first and is earned (a dimension scored at least
:data:`GOOD`), problems are phrased as what to do next, and at most :data:`MAX_PROBLEMS` are named so a
session never reads as a list of faults.

Each kind of error maps to concepts of ``curriculum/data/curriculum.json`` (:data:`CONCEPTS`):
timing → rhythm and note values (steady pulse and subdivision), tempo → metre, wrong notes on sharps
and flats → key signatures and accidentals, other wrong or missed notes → reading notes, dynamics and
articulation → dynamics and articulation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kg.schema.ids import CONCEPT_PREFIX
from practice.analysis import Analysis, NoteError

GOOD = 0.85
MAX_PROBLEMS = 4

#: Dimension (or error family) -> curriculum concept slugs it exercises, most specific first.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "pitch": ("notes-and-staff", "sight-reading"),
    "accidentals": ("key-signatures", "steps-and-accidentals"),
    "rhythm_timing": ("rhythm", "note-values"),
    "tempo_stability": ("metre", "rhythm"),
    "dynamics": ("dynamics-and-articulation",),
    "articulation": ("dynamics-and-articulation",),
    "expression": ("dynamics-and-articulation",),
}

LABELS = {
    "pitch": "pitch",
    "rhythm_timing": "rhythm and timing",
    "tempo_stability": "steady tempo",
    "dynamics": "dynamics",
    "articulation": "articulation",
    "expression": "expression",
}


def concept_id(slug: str) -> str:
    return f"{CONCEPT_PREFIX}{slug}"


def bar_span(numbers: Sequence[int]) -> str:
    """``[5, 6, 7]`` -> "bars 5–7", ``[6]`` -> "bar 6", ``[2, 5]`` -> "bars 2 and 5"."""
    ordered = sorted(set(numbers))
    if len(ordered) == 1:
        return f"bar {ordered[0]}"
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"bars {ordered[0]}–{ordered[-1]}"
    return "bars " + ", ".join(map(str, ordered[:-1])) + f" and {ordered[-1]}"


def _runs(numbers: Sequence[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return runs


def _tempo_problems(analysis: Analysis) -> list[tuple[float, str, str]]:
    from practice.analysis import BAR_TEMPO_TOLERANCE

    problems = []
    for direction, test in (
        ("rushed", lambda r: r < 1 - BAR_TEMPO_TOLERANCE),
        ("dragged", lambda r: r > 1 + BAR_TEMPO_TOLERANCE),
    ):
        flagged = {b.number: b for b in analysis.bars if b.tempo_ratio is not None and test(b.tempo_ratio)}
        for run in _runs(list(flagged)):
            readings = [flagged[n] for n in run]
            shift_ms = sum((b.end - b.start) * (1 - 1 / b.tempo_ratio) for b in readings if b.tempo_ratio) / len(
                readings
            )
            percent = abs(sum(1 - (b.tempo_ratio or 1) for b in readings) / len(readings)) * 100
            text = (
                f"{bar_span(run).capitalize()} {direction}: each bar about {abs(shift_ms) * 1000:.0f} ms "
                f"{'short' if direction == 'rushed' else 'long'} ({percent:.0f}% {'faster' if direction == 'rushed' else 'slower'} "
                "than your own pulse). Play them with a metronome at your tempo, then without."
            )
            problems.append((percent / 10, "tempo_stability", text))
    if abs(analysis.drift) >= 0.1:
        word = "slowed down" if analysis.drift > 0 else "sped up"
        problems.append(
            (
                abs(analysis.drift) * 10,
                "tempo_stability",
                f"Over the excerpt you {word} by about {abs(analysis.drift) * 100:.0f}%: count one bar before you start "
                "and keep that count in mind to the end.",
            )
        )
    return problems


def _note_problems(errors: Sequence[NoteError]) -> list[tuple[float, str, str]]:
    problems = []
    wrong = [e for e in errors if e.kind == "wrong"]
    for error in wrong[:3]:
        family = "accidentals" if error.altered or _is_accidental_slip(error) else "pitch"
        hint = " — check the key signature" if family == "accidentals" else ""
        problems.append((3.0, family, f"{error.expected} in bar {error.bar} played as {error.played}{hint}."))
    if len(wrong) > 3:
        problems.append((2.0, "pitch", f"{len(wrong) - 3} more wrong notes in {bar_span([e.bar for e in wrong[3:]])}."))
    missed = [e for e in errors if e.kind == "missed"]
    if missed:
        names = ", ".join(f"{e.expected} (bar {e.bar})" for e in missed[:3])
        more = f" and {len(missed) - 3} more" if len(missed) > 3 else ""
        problems.append((2.0 + 0.2 * len(missed), "pitch", f"Missed notes: {names}{more}."))
    extra = [e for e in errors if e.kind == "extra"]
    if len(extra) >= 2:
        problems.append(
            (
                1.0 + 0.1 * len(extra),
                "pitch",
                f"{len(extra)} notes not in the score, in {bar_span([e.bar for e in extra])}.",
            )
        )
    timing = [e for e in errors if e.kind in ("early", "late")]
    for run in _runs([e.bar for e in timing]):
        in_run = [e for e in timing if e.bar in run]
        mean = sum(e.deviation_ms or 0.0 for e in in_run) / len(in_run)
        if len(in_run) >= 2 or abs(mean) >= 100:
            word = "late" if mean > 0 else "early"
            problems.append(
                (
                    abs(mean) / 50,
                    "rhythm_timing",
                    f"In {bar_span(run)} notes came {abs(mean):.0f} ms {word} on average: count the subdivisions "
                    "(“one-and-two-and”) through these bars.",
                )
            )
    return problems


def _is_accidental_slip(error: NoteError) -> bool:
    """F# played as F: a semitone off on the same letter is a key-signature or accidental slip."""
    if not error.expected or not error.played:
        return False
    return error.expected[0] == error.played[0] and error.expected[:-1] != error.played[:-1]


def _level_problems(analysis: Analysis) -> list[tuple[float, str, str]]:
    from practice.analysis import BAR_LEVEL_DB

    problems = []
    for direction, test in (("louder", lambda d: d > BAR_LEVEL_DB), ("softer", lambda d: d < -BAR_LEVEL_DB)):
        flagged = [b.number for b in analysis.bars if b.level_db is not None and test(b.level_db)]
        for run in _runs(flagged):
            problems.append(
                (
                    1.5,
                    "dynamics",
                    f"{bar_span(run).capitalize()} were much {direction} than the score asks, compared with the rest.",
                )
            )
    contrast = float(analysis.figures.get("dynamic_contrast_ratio", 1.0))
    if contrast < 0.5:
        problems.append((1.0, "expression", "Your dynamics stayed flat: let the loud and soft passages differ more."))
    ratio = float(analysis.figures.get("articulation_ratio", 1.0))
    if ratio < 0.55:
        problems.append(
            (1.0, "articulation", "Notes were cut short: hold each one for its full value unless marked staccato.")
        )
    elif ratio > 1.8:
        problems.append(
            (1.0, "articulation", "Notes ran into each other: lift slightly between notes that are not slurred.")
        )
    return problems


def feedback_sentences(analysis: Analysis, *, title: str) -> tuple[list[str], list[str]]:
    """(sentences in reading order, families of the problems named), kind first, then at most four problems."""
    problems = _tempo_problems(analysis) + _note_problems(analysis.errors) + _level_problems(analysis)
    problems.sort(key=lambda item: -item[0])
    strong = [LABELS[d] for d, v in analysis.dimensions.items() if v >= GOOD]
    sentences = []
    matched, judged = analysis.matched, max(analysis.notes_judged, 1)
    if strong:
        sentences.append(
            f"Well played: {matched} of the {judged} notes I could check were right, and your "
            f"{_join(strong)} {'was' if len(strong) == 1 else 'were'} good."
        )
    else:
        sentences.append(f"Thank you for playing {title}: {matched} of the {judged} notes I could check were right.")
    if not problems:
        sentences.append(
            "I heard no clear problem in this excerpt: try it a little faster, or move on to the next piece."
        )
    named = problems[:MAX_PROBLEMS]
    sentences += [text for _, _, text in named]
    return sentences, list(dict.fromkeys(family for _, family, _ in named))


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" and {items[-1]}"


def practised_concepts(analysis: Analysis, families: Sequence[str]) -> list[dict[str, Any]]:
    """Concepts the session gives evidence about, with the score that evidence carries (0..1).

    Every dimension is evidence (a clean performance shows a concept is mastered, not just that nothing
    went wrong); a problem family named in the feedback adds its more specific concepts (accidentals ->
    key signatures).
    """
    scores: dict[str, tuple[float, str]] = {}
    for dimension, value in analysis.dimensions.items():
        for slug in CONCEPTS[dimension][:1]:
            previous = scores.get(slug)
            if previous is None or value < previous[0]:
                scores[slug] = (value, dimension)
    if "accidentals" in families:
        for slug in CONCEPTS["accidentals"]:
            scores[slug] = (analysis.dimensions["pitch"], "pitch")
    for family in families:
        if family in CONCEPTS and family != "accidentals":
            for slug in CONCEPTS[family]:
                scores.setdefault(slug, (analysis.dimensions.get(family, 1.0), family))
    return [
        {
            "concept_id": concept_id(slug),
            "slug": slug,
            "dimension": dimension,
            "score": round(value, 3),
            "focus": dimension in families or (slug in CONCEPTS["accidentals"] and "accidentals" in families),
        }
        for slug, (value, dimension) in scores.items()
    ]
