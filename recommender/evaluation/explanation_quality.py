"""How good the reasons are that a protocol's listeners would read: length, grounding, and what they pass through.

Why measure it: accuracy says nothing about the sentence under each recommendation. A reason that is
three hops long, runs through a film or a placeholder node, leans on a noise tag ("1995", "seen live")
or never mentions what the learner picked is a bad reason even when the artist is right.

The node rules are the ones serving uses (:class:`recommender.explanations.quality.NodeQuality`:
``descriptive`` for noise tags, ``music`` for non-music types, ``named`` for placeholder names), so the
metric and the product agree on what a bad node is. Counted per recommendation shown (each explanation
once):

* ``graph_share``: reasons that cite a graph path; ``hops_1`` … ``hops_3``: shares of those paths by
  length (the sentence's path, the first); ``short_share``: reasons that are a graph path of one or two
  hops or a direct co-listening link ("Listeners who play X also play Y", one relation), over all reasons;
* ``cites_own_share``: reasons that start from the learner's own picks or history (a path's source, or the
  co-listened artist of a fallback);
* ``noise_share``, ``non_music_share``, ``unnamed_share``: reasons with a cited path (any of the up to
  three shown) passing through a noise tag, a non-music node or an unnamed node;
* ``popularity_share``: reasons that fall back to "popular with listeners".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from recommender.explanations.quality import node_quality

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import Explanation, GraphSnapshot

#: Metric names, in report order.
EXPLANATION_METRICS = (
    "n_reasons",
    "graph_share",
    "hops_1",
    "hops_2",
    "hops_3",
    "short_share",
    "cites_own_share",
    "noise_share",
    "non_music_share",
    "unnamed_share",
    "popularity_share",
)


def _cited_source(explanation: Explanation) -> str | None:
    if explanation.paths:
        return str(explanation.paths[0].nodes[0]["id"])
    artist = explanation.evidence.get("artist")
    if isinstance(artist, dict):
        return str(artist.get("id"))
    return None


def explanation_quality(reasons: Iterable[tuple[Explanation, set[str]]], snapshot: GraphSnapshot) -> dict[str, float]:
    """The metrics of the module doc over ``reasons``: pairs (explanation, the learner's own entity ids)."""
    quality = node_quality(snapshot)
    counts: Counter[str] = Counter()
    hops: Counter[int] = Counter()
    n = 0
    for explanation, own in reasons:
        n += 1
        if _cited_source(explanation) in own:
            counts["cites_own"] += 1
        if explanation.basis == "popularity":
            counts["popularity"] += 1
        if explanation.basis == "similar_listeners":
            counts["short"] += 1
        if not explanation.paths:
            continue
        counts["graph"] += 1
        length = len(explanation.paths[0].edges)
        hops[length] += 1
        if length <= 2:
            counts["short"] += 1
        flags = {"noise": False, "non_music": False, "unnamed": False}
        for path in explanation.paths:
            for node in path.nodes[1:-1]:
                index = snapshot.node_index.get(str(node["id"]))
                if index is None:
                    continue
                flags["noise"] |= not bool(quality.descriptive[index])
                flags["non_music"] |= not bool(quality.music[index])
                flags["unnamed"] |= not bool(quality.named[index])
        for name, flagged in flags.items():
            counts[name] += int(flagged)
    graph = counts["graph"]
    share = lambda count, total: round(count / total, 4) if total else 0.0  # noqa: E731
    return {
        "n_reasons": float(n),
        "graph_share": share(graph, n),
        "hops_1": share(hops[1], graph),
        "hops_2": share(hops[2], graph),
        "hops_3": share(hops[3], graph),
        "short_share": share(counts["short"], n),
        "cites_own_share": share(counts["cites_own"], n),
        "noise_share": share(counts["noise"], n),
        "non_music_share": share(counts["non_music"], n),
        "unnamed_share": share(counts["unnamed"], n),
        "popularity_share": share(counts["popularity"], n),
    }


def quality_markdown(title: str, rows: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of :func:`explanation_quality` results, one row per protocol/variant."""
    lines = [f"## {title}", "", "| reasons of | " + " | ".join(EXPLANATION_METRICS) + " |"]
    lines.append("| --- |" + " --- |" * len(EXPLANATION_METRICS))
    for name, metrics in rows.items():
        cells = [f"{int(metrics[m])}" if m == "n_reasons" else f"{metrics[m]:.4f}" for m in EXPLANATION_METRICS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
