"""The joint model's weights and fixed inputs on disk: one state dict per ensemble member, inputs, graph ids.

The artifact directory around these files (config, id maps, manifest with checksums) is written by
:mod:`recommender.training`; this module only knows the model's own files. **The file names and the
state-dict keys are a format**: published artifacts are loaded by them, so they never change —
``model_state.pt`` for member 0 (the name single-model artifacts always used), ``model_state_<k>.pt``
for the others, ``model_inputs.npz`` (:meth:`JointInputs.save`) and ``graph_ids.json`` (absent from
artifacts written before warm starts existed). Weights are plain tensors loaded with
``weights_only=True``: nothing here pickles a class, so moving code between modules cannot break loading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from core.artifacts import read_json, write_json
from core.errors import DataFileError
from recommender.models.config import JointConfig
from recommender.models.inputs import JointInputs
from recommender.models.network import JointNetwork

MODEL_STATE_FILE = "model_state.pt"
MODEL_INPUTS_FILE = "model_inputs.npz"
#: Entity ids and relation types behind the rows of the entity/relation tables (what a warm start matches
#: by); artifacts written before warm starts existed lack it.
GRAPH_IDS_FILE = "graph_ids.json"


def member_state_file(member: int) -> str:
    """Weights file of ensemble member ``member``; member 0 keeps the single model's name, so older artifacts load."""
    return MODEL_STATE_FILE if member == 0 else f"model_state_{member}.pt"


@dataclass(frozen=True, eq=False)
class SavedWeights:
    """What :func:`load_weights` reads back: the fixed inputs, one network per member (in eval mode), graph ids."""

    inputs: JointInputs
    networks: list[JointNetwork]
    graph_ids: dict[str, list[str]] | None


def save_weights(
    directory: Path,
    *,
    networks: Sequence[JointNetwork],
    inputs: JointInputs,
    graph_ids: dict[str, list[str]] | None,
) -> list[str]:
    """Write each member's weights, the fixed inputs and (when known) the graph ids; returns the file names written."""
    written = []
    for member, network in enumerate(networks):
        name = member_state_file(member)
        torch.save({k: v.detach().cpu() for k, v in network.state_dict().items()}, Path(directory) / name)
        written.append(name)
    inputs.save(Path(directory) / MODEL_INPUTS_FILE)
    written.append(MODEL_INPUTS_FILE)
    if graph_ids is not None:
        write_json(Path(directory) / GRAPH_IDS_FILE, graph_ids)
        written.append(GRAPH_IDS_FILE)
    return written


def load_weights(directory: Path, *, config: JointConfig) -> SavedWeights:
    """Read :func:`save_weights` output for ``config`` (which says how many members there are); corrupt → ``DataFileError``."""
    directory = Path(directory)
    inputs = JointInputs.load(directory / MODEL_INPUTS_FILE)
    networks = []
    for member in range(config.ensemble_members):
        state_path = directory / member_state_file(member)
        try:
            network = JointNetwork(config=config, inputs=inputs)
            network.load_state_dict(torch.load(state_path, map_location="cpu", weights_only=True))
        except (RuntimeError, OSError, ValueError) as exc:
            raise DataFileError(
                f"model state does not fit config.json ({exc}); the artifact is corrupt, retrain it.",
                path=str(state_path),
            ) from exc
        network.eval()
        networks.append(network)
    return SavedWeights(
        inputs=inputs, networks=networks, graph_ids=read_graph_ids(directory / GRAPH_IDS_FILE, inputs=inputs)
    )


def read_graph_ids(path: Path, *, inputs: JointInputs) -> dict[str, list[str]] | None:
    """The entity/relation ids of a saved model (``None`` for artifacts written before they were stored)."""
    if not path.is_file():
        return None
    data = read_json(path)
    ok = isinstance(data, dict) and all(
        isinstance(data.get(key), list) and all(isinstance(x, str) for x in data[key])
        for key in ("entities", "relations")
    )
    if not ok or len(data["entities"]) != inputs.n_entities or len(data["relations"]) != inputs.n_relations:
        raise DataFileError(
            f"must list the model's {inputs.n_entities} entity ids and {inputs.n_relations} relation types; the artifact is corrupt, retrain it.",
            path=str(path),
        )
    return {"entities": data["entities"], "relations": data["relations"]}
