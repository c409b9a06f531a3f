"""Train the product recommender on a Protocol T split and save it as a versioned artifact.

Layout: ``<artifacts root>/recommender/<alias>-<UTC timestamp>-<hash>/`` holding

* ``config.json`` – model name, the full :class:`~recommender.models.config.JointConfig`, the seed, the
  split's config, dataset sizes and fingerprint, where the content vectors and the KGE initialisation
  came from, and for a warm start its parent (``warm_start``);
* ``metrics.json`` – validation metrics (test metrics only when asked for, for reporting), the
  training history (losses per epoch, validation Recall@10 per epoch, best epoch);
* ``user_ids.json`` / ``item_ids.json`` – catalog id of every user/item index (Listener/Artist pks);
* ``model_state.pt`` / ``model_inputs.npz`` / ``graph_ids.json`` – weights, fixed inputs and the entity/relation
  ids of the graph tables (:mod:`recommender.models.joint`);
* ``manifest.json`` – format version and a SHA-256 of every file.

Why the same conventions as the KGE artifacts (:mod:`kg.embeddings.artifacts`): write-then-rename
means an interrupted save leaves only a hidden ``.partial`` directory, and the checksums make a
half-copied or edited artifact fail loudly at load time instead of serving wrong recommendations.
Test metrics are off by default so tuning loops cannot look at them by accident.

Warm start (``warm_start_from``): the new model starts from a previous artifact's weights, matched by
catalog id for users and items and by entity id for the graph tables (:mod:`recommender.models.warm_start`),
and trains a few epochs instead of the full budget. Its validation metrics are untouched by the parent
only when the interactions are unchanged (``same_interactions_as_parent`` in ``config.json``): Protocol T
is a seeded per-user split, so with the same data and seed the parent and the refresh hold out exactly
the same pairs, while changed interactions re-draw the split and may put pairs the parent trained on
into validation.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from core.artifacts import new_artifact_directory
from core.artifacts import read_json as _read_json
from core.artifacts import sha256_file as _sha256
from core.artifacts import write_json as _write_json
from core.errors import ConfigurationError, DataFileError, LeitmotifError
from recommender.content import DEFAULT_TEXT_ENCODER, TextEncoder, item_content_embeddings
from recommender.data import InteractionDataset
from recommender.evaluation.evaluator import evaluate_topk
from recommender.evaluation.splits import TopKSplit, protocol_t_split
from recommender.models.config import JointConfig
from recommender.models.joint import JointKGRecommender
from recommender.models.warm_start import JointWarmStart, rows_by_id

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kg.stores.base import KnowledgeGraphStore

ARTIFACT_FORMAT = "leitmotif.recommender.v1"
#: A warm-started run trains this share of the from-scratch run's epochs unless told otherwise.
DEFAULT_REFRESH_EPOCH_FRACTION = 0.2
RECOMMENDER_SUBDIR = "recommender"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
USER_IDS_FILE = "user_ids.json"
ITEM_IDS_FILE = "item_ids.json"
MANIFEST_FILE = "manifest.json"
_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"


@dataclass(frozen=True, eq=False)
class TrainedRecommender:
    """A fitted model with its id maps and metrics; ``split`` is only kept in the training process."""

    model: JointKGRecommender
    config: JointConfig
    seed: int
    user_ids: np.ndarray
    item_ids: np.ndarray
    metrics: dict[str, Any]
    path: Path | None = None
    split: TopKSplit | None = field(default=None, repr=False)

    @property
    def validation_metrics(self) -> dict[str, float]:
        return self.metrics["validation"]


def product_dataset(*, store: KnowledgeGraphStore) -> InteractionDataset:
    """What the served model trains on: ``settings.RECOMMENDER_POPULATION`` (every catalog artist by default).

    One place for the train, retrain and refresh paths, so the model a learner meets and the model a
    refresh warm-starts always cover the same artists. A catalog without listens raises
    :class:`~core.errors.ConfigurationError` saying what to load.
    """
    from django.conf import settings

    try:
        return InteractionDataset.from_catalog(store=store, population=settings.RECOMMENDER_POPULATION)
    except ValueError as exc:
        raise ConfigurationError(f"{exc} Run `python manage.py load_lastfm` first.") from None


def recommender_artifacts_dir(directory: Path | str | None = None) -> Path:
    """``directory`` if given, else ``<artifacts root>/recommender`` (root shared with the KGE artifacts)."""
    if directory is not None:
        return Path(directory)
    from kg.embeddings.artifacts import artifacts_root

    return artifacts_root() / RECOMMENDER_SUBDIR


def recommender_train(
    *,
    dataset: InteractionDataset,
    config: JointConfig | None = None,
    seed: int = 0,
    progress: bool = False,
    content_embeddings: np.ndarray | None = None,
    content_encoder: str | TextEncoder | None = DEFAULT_TEXT_ENCODER,
    audio_embeddings: np.ndarray | None = None,
    kge_artifact: Path | str | None = None,
    evaluate_test: bool = False,
    output_dir: Path | str | None = None,
    save: bool = True,
    warm_start_from: Path | str | TrainedRecommender | None = None,
) -> TrainedRecommender:
    """Split ``dataset`` by Protocol T (``seed``), train, evaluate on validation and save an artifact.

    Content vectors (when ``config.use_content``): ``content_embeddings`` if given, else the text
    encoder ``content_encoder`` (a name, or an object with ``encode``) over catalog names + tags, cached
    on disk. ``kge_artifact`` is a KGE artifact directory whose vectors initialise the entity table.
    ``warm_start_from`` (an artifact directory or a loaded model) starts every weight whose id and shape
    it knows from that model (see the module docstring); ``config.epochs`` is then the refresh budget
    (:func:`refresh_epochs_default`). ``evaluate_test`` adds test metrics for *reporting*; never use them
    to choose settings.
    """
    config = JointConfig() if config is None else config
    if not isinstance(config, JointConfig):
        raise ConfigurationError(f"config must be a JointConfig, got {type(config).__name__}.")
    if not isinstance(dataset, InteractionDataset):
        raise ConfigurationError(f"dataset must be an InteractionDataset, got {type(dataset).__name__}.")
    if config.use_graph and dataset.side_info is None:
        raise ConfigurationError(
            "use_graph needs the dataset's knowledge-graph side information; build it with "
            "InteractionDataset.from_catalog(store=...) or set use_graph=False (--no-graph)."
        )
    stages = tqdm(total=5, desc="train recommender", unit="stage", disable=not progress)
    try:
        stages.set_postfix_str("split")
        try:
            split = protocol_t_split(dataset, seed=seed)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from exc
        stages.update()

        stages.set_postfix_str("content")
        content_source: dict[str, Any] | None = None
        if config.use_content:
            content_embeddings, content_source = _content_vectors(
                dataset=dataset, given=content_embeddings, encoder=content_encoder, progress=progress
            )
        else:
            content_embeddings = None
        stages.update()

        stages.set_postfix_str("fit")
        artifact = None
        if kge_artifact is not None:
            from kg.embeddings.artifacts import load_kge_artifact

            artifact = load_kge_artifact(kge_artifact)
        warm_start, lineage = None, None
        if warm_start_from is not None:
            parent = (
                warm_start_from
                if isinstance(warm_start_from, TrainedRecommender)
                else load_trained_recommender(warm_start_from)
            )
            warm_start = joint_warm_start(parent=parent, dataset=dataset, config=config)
            lineage = {
                "parent": parent.path.name if parent.path is not None else None,
                "parent_path": str(parent.path) if parent.path is not None else None,
                "scratch_epochs": recommender_scratch_epochs(parent),
                "epochs": config.epochs,
                "same_interactions_as_parent": _parent_fingerprint(parent) == dataset_fingerprint(dataset),
            }
        model = JointKGRecommender(
            config,
            content_embeddings=content_embeddings,
            audio_embeddings=audio_embeddings,
            kge_artifact=artifact,
            warm_start=warm_start,
        )
        model.fit(split.train_binary(), seed=seed, context=split.training_context(side_info=dataset.side_info))
        stages.update()

        stages.set_postfix_str("evaluate")
        metrics: dict[str, Any] = {}
        parts = ("validation", "test") if evaluate_test else ("validation",)
        for part in parts:
            result = evaluate_topk(model, split, part=part, progress=progress)
            metrics[part] = result.metrics
            metrics[f"{part}_details"] = result.details
        metrics["training"] = model.describe()
        stages.update()

        stages.set_postfix_str("save")
        trained = TrainedRecommender(
            model=model,
            config=model.config,  # what was trained (e.g. one network above ensemble_max_train_pairs)
            seed=seed,
            user_ids=dataset.user_ids.copy(),
            item_ids=dataset.item_ids.copy(),
            metrics=metrics,
            split=split,
        )
        if save:
            description = {
                "dataset": {
                    "n_users": dataset.n_users,
                    "n_items": dataset.n_items,
                    "n_interactions": dataset.n_interactions,
                    "fingerprint": dataset_fingerprint(dataset),
                },
                "split": split.config,
                "content": content_source,
                "audio_dim": None if audio_embeddings is None else int(np.asarray(audio_embeddings).shape[1]),
                "kge_artifact": str(artifact.path) if artifact is not None else None,
            }
            if lineage is not None:
                description["warm_start"] = lineage
            path = save_trained_recommender(trained, description=description, directory=output_dir)
            trained = replace(trained, path=path)
        stages.update()
    finally:
        stages.close()
    return trained


def joint_warm_start(
    *, parent: TrainedRecommender, dataset: InteractionDataset, config: JointConfig | None = None
) -> JointWarmStart:
    """Which parent row every user, item, entity and relation of ``dataset`` starts from (matched by id).

    Entities are matched by entity id when the parent stored its graph ids; a parent saved before that
    only tells which entity each of its items was, so then only item entities are matched.
    """
    if (
        config is not None
        and config.use_graph
        and parent.config.use_graph
        and config.kg_interaction != parent.config.kg_interaction
    ):
        raise ConfigurationError(
            f"The parent model uses {parent.config.kg_interaction} graph vectors but kg_interaction is {config.kg_interaction!r}; "
            f"a warm start needs the same interaction (set kg_interaction={parent.config.kg_interaction!r}) or train from scratch."
        )
    user_rows = rows_by_id(parent.user_ids, dataset.user_ids)
    item_rows = rows_by_id(parent.item_ids, dataset.item_ids)
    entity_rows = relation_rows = None
    matching = None
    side_info = dataset.side_info
    if side_info is not None and parent.config.use_graph:
        graph_ids = parent.model.graph_ids
        if graph_ids is not None:
            entity_rows = rows_by_id(graph_ids["entities"], side_info.entity_ids)
            relation_rows = rows_by_id(graph_ids["relations"], side_info.relation_types)
            matching = "entity ids"
        else:
            entity_rows = np.full(len(side_info.entity_ids), -1, dtype=np.int64)
            known = item_rows >= 0
            parent_item_entity = np.asarray(parent.model.inputs.item_entity, dtype=np.int64)
            entity_rows[np.asarray(side_info.item_entity)[known]] = parent_item_entity[item_rows[known]]
            matching = "item entities only"
    return JointWarmStart(
        parent_state={key: value.detach().clone() for key, value in parent.model.network.state_dict().items()},
        member_states=tuple(
            {key: value.detach().clone() for key, value in network.state_dict().items()}
            for network in parent.model.networks()[1:]
        ),
        user_rows=user_rows,
        item_rows=item_rows,
        entity_rows=entity_rows,
        relation_rows=relation_rows,
        parent=parent.path.name if parent.path is not None else "",
        entity_matching=matching,
    )


def recommender_scratch_epochs(parent: TrainedRecommender) -> int:
    """Epoch budget of the from-scratch run at the root of ``parent``'s refresh chain."""
    record = _read_json(parent.path / CONFIG_FILE) if parent.path is not None else {}
    recorded = (record.get("warm_start") or {}).get("scratch_epochs") if isinstance(record, dict) else None
    if isinstance(recorded, int) and not isinstance(recorded, bool) and recorded > 0:
        return recorded
    return parent.config.epochs


def refresh_epochs_default(parent: TrainedRecommender, *, fraction: float = DEFAULT_REFRESH_EPOCH_FRACTION) -> int:
    return max(1, math.ceil(fraction * recommender_scratch_epochs(parent)))


def dataset_fingerprint(dataset: InteractionDataset) -> str:
    """Digest of who interacted with what (ids and the binary matrix): equal digests, equal Protocol T splits per seed."""
    matrix = sp.csr_matrix(dataset.matrix)
    matrix.sort_indices()
    digest = hashlib.sha256()
    for array in (dataset.user_ids, dataset.item_ids, matrix.indptr, matrix.indices):
        values = np.asarray(array)
        if np.issubdtype(values.dtype, np.integer):
            digest.update(np.ascontiguousarray(values, dtype=np.int64).tobytes())
        else:
            digest.update(json.dumps(values.tolist(), default=str).encode("utf-8"))
        digest.update(b"|")
    return digest.hexdigest()[:16]


def _parent_fingerprint(parent: TrainedRecommender) -> str | None:
    if parent.path is None:
        return None
    record = _read_json(parent.path / CONFIG_FILE)
    return ((record.get("dataset") or {}).get("fingerprint")) if isinstance(record, dict) else None


def joint_model_for_dataset(
    *,
    dataset: InteractionDataset,
    kge_artifact: Path | str | None = None,
    content_encoder: str = DEFAULT_TEXT_ENCODER,
    **config_overrides: Any,
) -> JointKGRecommender:
    """An unfitted joint model for ``dataset``, as the experiment runner builds it (``--params`` JSON).

    ``config_overrides`` are :class:`JointConfig` fields (``{"lambda_kg": 0, "use_graph": false}``);
    content vectors come from the cached text encoder, and ``kge_artifact`` (a ``train_kge`` directory)
    initialises the entity table, exactly as :func:`recommender_train` does, so an evaluate run and a
    train_recommender run of the same config train the same model.
    """
    config = JointConfig().with_overrides(**config_overrides)
    content = None
    if config.use_content:
        content, _ = _content_vectors(dataset=dataset, given=None, encoder=content_encoder, progress=False)
    artifact = None
    if kge_artifact is not None:
        from kg.embeddings.artifacts import load_kge_artifact

        artifact = load_kge_artifact(kge_artifact)
    return JointKGRecommender(config, content_embeddings=content, kge_artifact=artifact)


def _content_vectors(
    *, dataset: InteractionDataset, given: np.ndarray | None, encoder: str | TextEncoder | None, progress: bool
) -> tuple[np.ndarray, dict[str, Any]]:
    if given is not None:
        array = np.asarray(given)
        return array, {"source": "given", "dim": int(array.shape[1]) if array.ndim == 2 else None}
    if encoder is None:
        raise ConfigurationError(
            "use_content is on but neither content_embeddings nor a content_encoder was given; "
            "pass one of them or set use_content=False (--no-content)."
        )
    if isinstance(encoder, str):
        vectors = item_content_embeddings(
            item_ids=dataset.item_ids, side_info=dataset.side_info, encoder_name=encoder, progress=progress
        )
        name = encoder
    else:
        vectors = item_content_embeddings(
            item_ids=dataset.item_ids,
            side_info=dataset.side_info,
            encoder=encoder,
            encoder_name=type(encoder).__name__,
            progress=progress,
        )
        name = type(encoder).__name__
    return vectors, {
        "source": "text encoder",
        "encoder": name,
        "dim": int(vectors.shape[1]),
        "text": "artist name + top tags",
    }


# --- artifacts ------------------------------------------------------------------------------------


def save_trained_recommender(
    trained: TrainedRecommender,
    *,
    description: dict[str, Any] | None = None,
    directory: Path | str | None = None,
    now: datetime | None = None,
) -> Path:
    """Write ``trained`` as a new artifact directory (see the module docstring) and return its path."""
    directory = recommender_artifacts_dir(directory)
    created = (now or datetime.now(UTC)).astimezone(UTC)
    config_record = {
        "format": ARTIFACT_FORMAT,
        "model": JointKGRecommender.name,
        "config": trained.config.to_dict(),
        "seed": trained.seed,
        **(description or {}),
    }
    digest = hashlib.sha256(json.dumps(config_record, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:12]
    name = f"{JointKGRecommender.alias}-{created.strftime(_TIMESTAMP_FORMAT)}-{digest}"
    with new_artifact_directory(directory, name) as partial:
        _write_json(partial / CONFIG_FILE, {**config_record, "created_at": created.isoformat()})
        _write_json(partial / METRICS_FILE, trained.metrics)
        _write_json(partial / USER_IDS_FILE, trained.user_ids.tolist())
        _write_json(partial / ITEM_IDS_FILE, trained.item_ids.tolist())
        files = [CONFIG_FILE, METRICS_FILE, USER_IDS_FILE, ITEM_IDS_FILE, *trained.model.save_weights(partial)]
        _write_json(
            partial / MANIFEST_FILE,
            {
                "format": ARTIFACT_FORMAT,
                "created_at": created.isoformat(),
                "sha256": {filename: _sha256(partial / filename) for filename in files},
            },
        )
    return directory / name


def load_trained_recommender(path: Path | str) -> TrainedRecommender:
    """Load and verify an artifact written by :func:`recommender_train`; any missing or altered file → ``DataFileError``."""
    path = Path(path)
    if not path.is_dir():
        raise DataFileError(
            "recommender artifact directory not found; train one with `python manage.py train_recommender`.",
            path=str(path),
        )
    manifest = _read_json(path / MANIFEST_FILE)
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != ARTIFACT_FORMAT
        or not isinstance(manifest.get("sha256"), dict)
    ):
        raise DataFileError(
            f"not a {ARTIFACT_FORMAT} artifact manifest; retrain with `python manage.py train_recommender`.",
            path=str(path / MANIFEST_FILE),
        )
    for filename, expected in manifest["sha256"].items():
        file_path = path / filename
        if not file_path.is_file():
            raise DataFileError(
                "artifact file is missing; the artifact is incomplete, retrain it.", path=str(file_path)
            )
        if _sha256(file_path) != expected:
            raise DataFileError(
                "checksum does not match the manifest; the file is corrupt or was edited, retrain it.",
                path=str(file_path),
            )
    record = _read_json(path / CONFIG_FILE)
    if not isinstance(record, dict) or record.get("model") != JointKGRecommender.name:
        raise DataFileError(
            f"config.json must describe a {JointKGRecommender.name} model.", path=str(path / CONFIG_FILE)
        )
    try:
        config = JointConfig.from_dict(record.get("config", {}))
    except LeitmotifError as exc:
        raise DataFileError(f"invalid config: {exc.message}", path=str(path / CONFIG_FILE)) from exc
    model = JointKGRecommender.load_weights(path, config=config)
    user_ids = np.asarray(_read_json(path / USER_IDS_FILE))
    item_ids = np.asarray(_read_json(path / ITEM_IDS_FILE))
    if user_ids.shape != (model.n_users,) or item_ids.shape != (model.n_items,):
        raise DataFileError(
            f"id maps list {user_ids.shape[0]} users / {item_ids.shape[0]} items but the model has {model.n_users} / {model.n_items}.",
            path=str(path),
        )
    return TrainedRecommender(
        model=model,
        config=config,
        seed=int(record.get("seed", 0)),
        user_ids=user_ids,
        item_ids=item_ids,
        metrics=_read_json(path / METRICS_FILE),
        path=path,
    )
