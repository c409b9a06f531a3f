"""The picture of a session: the bars along the performance's time, with the problems marked where they happened.

Plain data for an inline SVG (percent positions, a colour class per kind), computed here so the template
stays a loop and the page needs no drawing library.
"""

from __future__ import annotations

from typing import Any

from practice.analysis import BAR_LEVEL_DB, BAR_TEMPO_TOLERANCE

MARK_LABELS = {
    "wrong": "wrong note",
    "missed": "missed note",
    "extra": "extra note",
    "early": "early",
    "late": "late",
}


def timeline(feedback: Any, *, duration: float) -> dict[str, Any]:
    """Bars (x, width, class, label) and marks (x, row, class, title) on a 0–100 scale of the recording."""
    end = max([duration] + [float(b["end"]) for b in feedback.bars]) or 1.0

    def x(seconds: float) -> float:
        return round(100.0 * max(0.0, min(seconds, end)) / end, 2)

    bars = []
    for bar in feedback.bars:
        ratio, level = bar.get("tempo_ratio"), bar.get("level_db")
        css = "ok"
        if ratio is not None and ratio < 1 - BAR_TEMPO_TOLERANCE:
            css = "rushed"
        elif ratio is not None and ratio > 1 + BAR_TEMPO_TOLERANCE:
            css = "dragged"
        elif level is not None and abs(level) > BAR_LEVEL_DB:
            css = "level"
        bars.append(
            {
                "x": x(bar["start"]),
                "width": max(round(x(bar["end"]) - x(bar["start"]), 2), 0.3),
                "css": css,
                "number": bar["bar"],
                "title": f"bar {bar['bar']}" + ("" if css == "ok" else f": {css}"),
            }
        )
    marks = []
    rows = {"wrong": 0, "missed": 0, "extra": 1, "early": 2, "late": 2}
    for error in feedback.note_errors:
        kind = error["kind"]
        detail = ""
        if kind == "wrong":
            detail = f" {error.get('expected')} → {error.get('played')}"
        elif kind == "missed":
            detail = f" {error.get('expected')}"
        elif kind == "extra":
            detail = f" {error.get('played')}"
        elif error.get("deviation_ms") is not None:
            detail = f" {abs(error['deviation_ms']):.0f} ms"
        marks.append(
            {
                "x": max(x(error["time"]) - 0.45, 0.0),
                "y": 29 + 11 * rows.get(kind, 0),
                "css": kind,
                "title": f"bar {error['bar']}: {MARK_LABELS.get(kind, kind)}{detail}",
            }
        )
    return {"bars": bars, "marks": marks, "seconds": round(end, 1)}
