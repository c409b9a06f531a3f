"""Why an item is recommended, in words: graph paths when there are any, an honest fallback otherwise.

Paths come from :mod:`recommender.explanations` (≤ 3 edges from the listener's sources to the item).
When no path exists, the fallback names its basis: ``similar_listeners`` citing the listener's artist
with the strongest co-listening link to the item (the very term the model adds, see
:mod:`recommender.models.neighbourhood`), ``similar_content`` for an artist nobody has played yet (the
known artist whose co-listening it borrows, and the listener's artist linked to that one), or
``popularity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from catalog.models import Artist
from recommender.serving.artist_rows import model_artists

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import Explanation, GraphSnapshot
    from recommender.serving.model_holder import ServingModel

#: Artists of the listener used as explanation sources (the most important ones; more only slow the path search).
MAX_EXPLANATION_SOURCES = 12
#: Caps on the path search per recommended item (shorter paths are enumerated first, so the caps only
#: drop long alternatives): with the search's defaults (2,000 candidates, 20 per node) explaining ten
#: artists of a Last.FM listener took 30–50 ms, with these 10–20 ms, and the cited paths stayed the same
#: in the listeners we compared (``benchmarks/serving_latency.py``).
EXPLAIN_MAX_CANDIDATES = 100
EXPLAIN_PER_NODE_LIMIT = 10


def explain_paths(
    snapshot: GraphSnapshot, *, sources: Sequence[str], targets: Sequence[str], roles: dict[str, str]
) -> dict[str, Explanation]:
    """Path explanations of ``targets`` from ``sources`` (those in the snapshot), by target entity id."""
    from recommender.explanations import explain_many

    known_sources = list(dict.fromkeys(s for s in sources if s in snapshot.node_index))
    known_targets = [t for t in targets if t in snapshot.node_index]
    if not known_sources or not known_targets:
        return {}
    return explain_many(
        snapshot,
        sources=known_sources,
        targets=known_targets,
        source_roles={s: roles[s] for s in known_sources if s in roles},
        max_candidates=EXPLAIN_MAX_CANDIDATES,
        per_node_limit=EXPLAIN_PER_NODE_LIMIT,
    )


def music_fallback(
    serving: ServingModel, artist: Artist, item: int, history: np.ndarray, *, similar_only: bool = False
) -> Explanation | None:
    """No graph path: cite the listener's artist most co-listened with this one, else the artist's popularity.

    ``similar_only`` returns None instead of the popularity fallback (a weak graph path is kept then).
    """
    from recommender.explanations import Explanation

    model = serving.model
    ((source_index, strength),) = model.strongest_co_listeners(history, [item])
    if source_index is not None:
        source_pk = int(serving.item_ids[source_index])
        source = model_artists(serving, [source_pk]).get(source_pk)
        if source is not None:
            return Explanation.fallback(
                artist.entity_id,
                "similar_listeners",
                f"Listeners who play {source.name} also play {artist.name}.",
                evidence={"artist": {"id": source.entity_id, "name": source.name}, "similarity": round(strength, 4)},
            )
    if similar_only:
        return None
    listeners = 0
    if model.inputs.item_popularity.shape == (model.n_items,):
        listeners = int(model.inputs.item_popularity[item])
        if listeners == 0:
            return new_artist_explanation(serving, artist, item, history)
    return popularity_explanation(artist.entity_id, artist.name, listeners, what="listeners")


def new_artist_explanation(serving: ServingModel, artist: Artist, item: int, history: np.ndarray) -> Explanation:
    """An artist no training listener played: name the known artist it resembles (whose co-listening it borrows)."""
    from recommender.explanations import Explanation

    lenders = serving.model.cold_item_lenders(item, history)
    new_here = f"{artist.name} is new to Leitmotif listeners"
    lender = source = None
    if lenders:
        lender_index, weight, source_index = lenders[0]
        pks = [int(serving.item_ids[i]) for i in (lender_index, source_index) if i is not None]
        rows = model_artists(serving, pks)
        lender, source = rows.get(pks[0]), rows.get(pks[1]) if len(pks) > 1 else None
    if lender is None:
        return Explanation.fallback(
            artist.entity_id, "similar_content", f"{new_here}; it is suggested from its tags and graph links."
        )
    evidence: dict[str, Any] = {"resembles": {"id": lender.entity_id, "name": lender.name}, "weight": round(weight, 4)}
    if source is None:
        sentence = f"{new_here}; it resembles {lender.name} in tags and graph links."
    else:
        sentence = (
            f"{new_here}; it resembles {lender.name}, and listeners who play {source.name} also play {lender.name}."
        )
        evidence["artist"] = {"id": source.entity_id, "name": source.name}
    return Explanation.fallback(artist.entity_id, "similar_content", sentence, evidence=evidence)


def popularity_explanation(entity_id: str, name: str, count: int, *, what: str) -> Explanation:
    """The last resort: say the item is popular, with the count (``what`` = ``listeners`` or ``subscribers``)."""
    from recommender.explanations import Explanation

    if what == "subscribers":
        sentence = f"{name} is one of the most taken courses ({count:,} subscribers)."
    else:
        sentence = f"{name} is popular with Leitmotif listeners ({count:,} {what})."
    return Explanation.fallback(entity_id, "popularity", sentence, evidence={what: int(count)})
