"""Start the joint model from a previously trained one (matched by id) instead of from random weights.

Why by id: a refresh runs on a catalog and graph that grew since the parent was trained, so index ``k``
of a table no longer means the same listener, artist or entity. The caller (:mod:`recommender.training`,
which knows the catalog ids) gives, for every row of the new tables, the parent's row holding the same
id or ``-1`` for an id the parent never saw; those rows keep the new model's initialisation (or the KGE
artifact's vector, which is applied first). Every other parameter — the towers' MLPs, attention,
projections, neighbourhood weights — is copied when its shape is unchanged and left fresh otherwise, and
the summary says which, so a refresh after a config change is visible rather than silently half-warm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

#: State-dict entries whose rows are matched by id: the :class:`JointWarmStart` field mapping them, and
#: the name the summary reports them under.
ROW_MATCHED_TABLES: Mapping[str, tuple[str, str]] = {
    "user_id.weight": ("user_rows", "users"),
    "item_id.weight": ("item_rows", "items"),
    "entities.weight": ("entity_rows", "entities"),
    "relations.weight": ("relation_rows", "relations"),
}


@dataclass(frozen=True, eq=False)
class JointWarmStart:
    """The parent network's weights and, per row of each new id-indexed table, the parent row (``-1``: new)."""

    parent_state: Mapping[str, torch.Tensor]
    user_rows: np.ndarray
    item_rows: np.ndarray
    entity_rows: np.ndarray | None = None
    relation_rows: np.ndarray | None = None
    #: How the parent is named in summaries (its artifact directory).
    parent: str = ""
    #: How entity rows were matched: ``"entity ids"``, ``"item entities only"`` (older parents) or ``None``.
    entity_matching: str | None = None
    #: Weights of the parent's other ensemble members (its member 0 is ``parent_state``).
    member_states: tuple[Mapping[str, torch.Tensor], ...] = ()

    def apply_(self, network: nn.Module, *, member: int = 0) -> dict[str, Any]:
        """Overwrite ``network``'s fresh weights with the parent's where ids and shapes match; returns what was copied.

        Ensemble member ``member`` starts from the parent's member of the same number (cycling when the
        parent had fewer), so an untrained warm-started ensemble scores like its parent ensemble.
        """
        states = (self.parent_state, *self.member_states)
        parent_state = states[member % len(states)]
        state = {key: value.detach().clone() for key, value in network.state_dict().items()}
        summary: dict[str, Any] = {"parent": self.parent, "entity_matching": self.entity_matching}
        copied: list[str] = []
        fresh: list[str] = []
        for key, value in state.items():
            parent = parent_state.get(key)
            matched = ROW_MATCHED_TABLES.get(key)
            if matched is not None:
                field_name, label = matched
                rows = getattr(self, field_name)
                if parent is None or rows is None or parent.shape[1:] != value.shape[1:] or len(rows) > value.shape[0]:
                    summary[label] = {"from_parent": 0, "total": int(value.shape[0])}
                    fresh.append(key)
                    continue
                rows = np.asarray(rows, dtype=np.int64)
                known = (rows >= 0) & (rows < parent.shape[0])
                targets = torch.from_numpy(np.flatnonzero(known))
                value[targets] = parent[torch.from_numpy(rows[known])].to(value.dtype)
                summary[label] = {"from_parent": int(known.sum()), "total": int(value.shape[0])}
            elif parent is not None and parent.shape == value.shape:
                value.copy_(parent)
                copied.append(key)
            else:
                fresh.append(key)
        network.load_state_dict(state)
        summary["other_parameters"] = {"from_parent": len(copied), "fresh": fresh}
        return summary


def rows_by_id(parent_ids: Sequence | np.ndarray, ids: Sequence | np.ndarray) -> np.ndarray:
    """For each id in ``ids``, its position in ``parent_ids`` (``-1`` when the parent did not have it)."""
    position = {value: row for row, value in enumerate(np.asarray(parent_ids).tolist())}
    return np.fromiter((position.get(value, -1) for value in np.asarray(ids).tolist()), dtype=np.int64, count=len(ids))
