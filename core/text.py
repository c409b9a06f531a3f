"""Small text helpers shared by pages and pictures of every app."""

from __future__ import annotations


def shorten(name: str, limit: int) -> str:
    """``name`` with runs of white space folded, cut to ``limit`` characters with an ellipsis.

    Why: labels on the SVG pictures (artist neighbourhoods, learning paths) must not run into each other.
    """
    name = " ".join(name.split())
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"
