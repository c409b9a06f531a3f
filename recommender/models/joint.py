"""Leitmotif's product recommender: a two-tower model trained jointly with a KG embedding, ``L = L_rec + λ·L_kg``.

:class:`JointKGRecommender` (registry name ``leitmotif.joint.v1``) is the one class the rest of the code
uses; it is a thin façade over focused modules, one per concern:

* :mod:`.network` — the torch modules: item tower (id ‖ KG entity + neighbours ‖ content ‖ audio), user
  tower (id ‖ attention-pooled history ‖ behaviour), the score and the KG loss;
* :mod:`.fitting` — the training loop of one ensemble member (objective, early stopping, epoch averaging);
  :mod:`.kge_init` and :mod:`.warm_start` — where a member's starting weights come from;
* :mod:`.scoring` — the neighbourhood terms of stored users and the ensemble mean (:func:`combine_member_scores`);
* :mod:`.fold_in` — scoring an arbitrary history without retraining (serving);
* :mod:`.evidence` — what explanations cite (co-listeners, cold-item lenders);
* :mod:`.persistence` — the weights files of an artifact.

**Score.** ``s(u, i) = (cos(f_user(u), f_item(i)) + b_i + w·n_u(i)) / τ`` (``similarity="dot"`` drops the
normalisation). ``n_u(i)`` is the neighbourhood term of :mod:`.neighbourhood` (Koren 2008): on data
this small, item-to-item co-listening carries signal a 64-dimensional factor model smooths away, and
the learned weight ``w`` lets training decide how much of it to keep (``use_neighbourhood=False`` to
ablate). Items no training user played borrow the neighbourhood columns of their closest seen items
by tags + KG links (``cold_neighbours``; :func:`.neighbourhood.cold_transfer_matrix`), so a new artist
competes with warm ones on the same scale instead of through the towers alone. ``neighbourhood_terms`` can add or swap in EASE's closed-form item-item weights (the EASE
baseline's, with an exact leave-one-out refit in training, own learned weight ``w_e``); on Last.FM
validation it did not beat the cosine (see the tuning notes in :mod:`.config`), so it is off by default. Cosine with a temperature bounds the tower's logits, which on validation both trained more
stably and let the neighbourhood term count (with raw dot products the towers drowned it out).
The architecture is described in :mod:`.network`, the objective in :mod:`.fitting`.

Names other modules import from here (``JointNetwork``, ``combine_member_scores``, the artifact file
names …) are re-exported, so ``from recommender.models.joint import …`` keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import scipy.sparse as sp

from core.errors import ConfigurationError
from recommender.base import TrainingContext
from recommender.baselines.base import BaselineRecommender
from recommender.baselines.torch_utils import TrainingHistory
from recommender.models import evidence, persistence
from recommender.models.config import JointConfig
from recommender.models.fitting import fit_member, member_seed
from recommender.models.fold_in import (
    BehaviourMap,
    FoldInCache,
    History,
    fold_in_rows,
    fold_in_scores,
    pad_rows,
    user_id_rows,
)
from recommender.models.inputs import BEHAVIOUR_FEATURES, JointInputs, build_inputs
from recommender.models.network import ItemSide, JointNetwork, Neighbourhood, UserSide
from recommender.models.persistence import GRAPH_IDS_FILE, MODEL_INPUTS_FILE, MODEL_STATE_FILE, member_state_file
from recommender.models.scoring import combine_member_scores, stored_neighbourhood, stored_user_scores

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kg.embeddings.artifacts import KgeArtifact
    from recommender.models.warm_start import JointWarmStart

__all__ = [
    "GRAPH_IDS_FILE",
    "MODEL_INPUTS_FILE",
    "MODEL_STATE_FILE",
    "ItemSide",
    "JointKGRecommender",
    "JointNetwork",
    "Neighbourhood",
    "UserSide",
    "combine_member_scores",
    "member_state_file",
]


class JointKGRecommender(BaselineRecommender):
    """The product model (registry name ``leitmotif.joint.v1``, alias ``leitmotif``); see the module docstring.

    Build with a :class:`JointConfig` and the frozen item inputs that do not come through
    :class:`TrainingContext`: ``content_embeddings`` (n_items × d, required when ``use_content``),
    ``audio_embeddings`` (optional) and ``kge_artifact`` (a loaded PyKEEN artifact whose vectors
    initialise the entity table; matched by entity id, the rest stays randomly initialised) and
    ``warm_start`` (a :class:`~recommender.models.warm_start.JointWarmStart`: the weights of a previously
    trained model, matched by id, applied after the KGE vectors so the parent's jointly trained rows win).

    After ``fit`` (or :meth:`load_weights`) it holds ``inputs`` (the fixed arrays), ``network`` (member
    0) and the ensemble (:meth:`networks`); the rest is delegated to the modules listed above.
    """

    name: ClassVar[str] = "leitmotif.joint.v1"
    alias: ClassVar[str] = "leitmotif"
    requires_side_info: ClassVar[bool] = False

    network: JointNetwork
    inputs: JointInputs
    history: TrainingHistory

    def __init__(
        self,
        config: JointConfig | None = None,
        *,
        content_embeddings: np.ndarray | None = None,
        audio_embeddings: np.ndarray | None = None,
        kge_artifact: KgeArtifact | None = None,
        warm_start: JointWarmStart | None = None,
    ) -> None:
        config = JointConfig() if config is None else config
        if not isinstance(config, JointConfig):
            raise ConfigurationError(f"{self.name}: config must be a JointConfig, got {type(config).__name__}.")
        self.config = config
        self.content_embeddings = content_embeddings
        self.audio_embeddings = audio_embeddings
        self.kge_artifact = kge_artifact
        self.warm_start = warm_start
        #: How many entity/relation vectors came from ``kge_artifact`` (filled by ``fit``).
        self.kge_initialisation: dict[str, Any] = {}
        #: What came from ``warm_start`` (filled by ``fit``), plus validation Recall@10 before any training step.
        self.warm_start_summary: dict[str, Any] = {}
        #: ``{"entities": [...], "relations": [...]}`` behind the graph tables' rows (filled by ``fit``).
        self.graph_ids: dict[str, list[str]] | None = None
        self._optimise = True
        #: Mean L_rec and L_kg per epoch (filled by ``fit``).
        self.loss_parts: list[dict[str, float]] = []
        self._ensemble: list[JointNetwork] = []
        self._fold_in_cache = FoldInCache()

    # --- declared parameters: the config is the single source ---------------------------------------

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return JointConfig().to_dict()

    def get_params(self) -> dict[str, Any]:
        return self.config.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # --- training (:mod:`.fitting`) -----------------------------------------------------------------

    def initialise(
        self, train: sp.csr_matrix, *, seed: int, context: TrainingContext | None = None
    ) -> JointKGRecommender:
        """``fit`` without a single optimisation step: inputs built, weights initialised (KGE artifact, warm start).

        Why: a warm-started model that has not trained yet must score exactly like its parent on unchanged
        data; this is how that promise is checked, and how a caller inspects a warm start before training.
        """
        self._optimise = False
        try:
            return self.fit(train, seed=seed, context=context)
        finally:
            self._optimise = True

    def _fit(self, train: sp.csr_matrix, *, seed: int, context: TrainingContext) -> None:
        """Build the fixed inputs, then train ``ensemble_members`` networks (member 0 is the single model)."""
        c = self.config
        if c.use_graph and (context.side_info is None or len(context.side_info.entity_ids) == 0):
            raise ConfigurationError(
                f"{self.name}: use_graph needs knowledge-graph side information (context.side_info with entities); "
                "build the dataset with a graph store or set use_graph=False."
            )
        if c.use_content and self.content_embeddings is None:
            raise ConfigurationError(
                f"{self.name}: use_content needs content_embeddings (n_items × d); compute them with "
                "recommender.content.item_content_embeddings or set use_content=False."
            )
        # one stream: the inputs draw from it first (capped histories), then member 0 trains on it
        rng = np.random.default_rng(seed)
        self.inputs = build_inputs(
            train=train,
            side_info=context.side_info,
            content=self.content_embeddings if c.use_content else None,
            audio=self.audio_embeddings,
            cold_items=context.cold_items,
            max_history=c.max_history,
            neighbourhood_shrink=c.neighbourhood_shrink if c.use_neighbourhood else None,
            ease_l2=c.ease_l2 if c.uses_ease_neighbourhood else None,
            cold_neighbours=c.cold_neighbours if c.uses_cold_transfer else 0,
            rng=rng,
            model=self.name,
        )
        self.graph_ids = None
        if context.side_info is not None:
            self.graph_ids = {
                "entities": list(context.side_info.entity_ids),
                "relations": list(context.side_info.relation_types),
            }
        members = c.members_for(int(train.nnz))
        if members != c.ensemble_members:
            # the saved config says what was trained, so the artifact loads and re-runs as it is
            c = self.config = c.with_overrides(ensemble_members=members)
        self._ensemble = []
        trained = []
        for member in range(members):
            seed_of_member = member_seed(seed, member)
            fitted = fit_member(
                train,
                seed=seed_of_member,
                rng=rng if member == 0 else np.random.default_rng(seed_of_member),
                context=context,
                inputs=self.inputs,
                config=c,
                model=self.name,
                kge_artifact=self.kge_artifact,
                warm_start=self.warm_start,
                member=member,
                optimise=self._optimise,
            )
            # the last member that ran an initialisation reports it (kept from earlier fits otherwise)
            if fitted.kge_initialisation is not None:
                self.kge_initialisation = fitted.kge_initialisation
            if fitted.warm_start_summary is not None:
                self.warm_start_summary = fitted.warm_start_summary
            trained.append(fitted)
        first = trained[0]
        self.network, self.history, self.loss_parts, self.averaged_epochs = (
            first.network,
            first.history,
            first.loss_parts,
            first.averaged_epochs,
        )
        self.member_summaries = [
            {"seed": m.seed, "best_epoch": m.history.best_epoch, "validation_recall@10": m.history.validation_recall}
            for m in trained[1:]
        ]
        self._ensemble = [m.network for m in trained]

    # --- scoring (:mod:`.scoring`) ------------------------------------------------------------------

    def networks(self) -> list[JointNetwork]:
        """The trained ensemble, or during training (and for one member) just the network being trained."""
        ensemble = getattr(self, "_ensemble", None) or []
        return ensemble if len(ensemble) > 1 else [self.network]

    def _neighbourhood(self, users: np.ndarray, *, targets: np.ndarray | None = None) -> Neighbourhood | None:
        """The configured neighbourhood terms of ``users``' stored histories; with ``targets``, left-one-out (training)."""
        return stored_neighbourhood(users, inputs=self.inputs, config=self.config, targets=targets)

    def _score_numpy(self, users: np.ndarray) -> np.ndarray:
        return stored_user_scores(self.networks(), users, inputs=self.inputs, config=self.config)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self._score_numpy(users)

    # --- persistence (:mod:`.persistence`; the artifact directory is written by recommender.training) -

    def save_weights(self, directory: Path) -> list[str]:
        """Write the trained weights and fixed inputs into ``directory``; returns the file names written."""
        if not getattr(self, "_fitted", False):
            raise ConfigurationError(f"{self.name}: call fit() before saving the model.")
        return persistence.save_weights(
            Path(directory), networks=self.networks(), inputs=self.inputs, graph_ids=self.graph_ids
        )

    @classmethod
    def load_weights(cls, directory: Path, *, config: JointConfig) -> JointKGRecommender:
        """Rebuild a fitted model from :meth:`save_weights` output and its config; scores equal the saved model's."""
        model = cls(config)
        saved = persistence.load_weights(Path(directory), config=config)
        model.inputs = saved.inputs
        model.network, model._ensemble = saved.networks[0], saved.networks
        model.n_users, model.n_items = model.inputs.n_users, model.inputs.n_items
        model.graph_ids = saved.graph_ids
        model._fitted = True
        return model

    # --- fold-in: score an arbitrary history without retraining (:mod:`.fold_in`; serving) -----------

    def score_history(
        self,
        histories: Sequence[History],
        *,
        user_indices: Sequence[int | None],
        item_has_tags: np.ndarray | None = None,
    ) -> np.ndarray:
        """(len(histories) × n_items) scores of users described by their item histories, without retraining.

        Each user representation is rebuilt from ``histories[b]`` (item indices; duplicates ignored,
        the *last* ``max_history`` distinct items kept, so callers list the most important/recent last):
        attention pooling over the item tower's (cached) vectors, behaviour features recomputed from
        that history (:meth:`behaviour_from_histories`) and the neighbourhood term over it. The user-id
        embedding is used for ``user_indices[b]`` known at training time and is zero for ``None`` (a
        learner who signed up after training — what the towers see for a user without id evidence).

        For a training user whose history is unchanged this reproduces :meth:`score` (up to float32
        rounding; a test checks it), provided ``item_has_tags`` is the training data's "item has tags"
        flag (``side_info.item_tags`` rows with any entry). That flag is the one behaviour input the
        artifact does not store; without it, "has any graph link" stands in for it (on Last.FM every
        tagged artist also has HAS_TAG edges, so only untagged-but-linked artists differ).
        """
        if not getattr(self, "_fitted", False):
            raise ConfigurationError(f"{self.name}: call fit() before score_history().")
        rows = fold_in_rows(histories, n_items=self.n_items, max_history=self.config.max_history, model=self.name)
        user_indices = list(user_indices)
        if len(user_indices) != len(rows):
            raise ConfigurationError(
                f"{self.name}: user_indices has {len(user_indices)} entries but {len(rows)} histories were given; pass one per history (None for new users)."
            )
        if not rows:
            return np.zeros((0, self.n_items), dtype=np.float32)
        padded = pad_rows(rows, n_items=self.n_items)
        known, ids = user_id_rows(user_indices, n_users=self.n_users, model=self.name)
        return fold_in_scores(
            rows,
            padded=padded,
            known=known,
            ids=ids,
            behaviour=self._behaviour_map(item_has_tags).rows(padded),
            networks=self.networks(),
            inputs=self.inputs,
            config=self.config,
            cache=self._fold_in_cache,
        )

    def behaviour_from_histories(
        self, histories: Sequence[History], *, item_has_tags: np.ndarray | None = None
    ) -> np.ndarray:
        """Standardised behaviour features (:data:`BEHAVIOUR_FEATURES`) of arbitrary histories, as training computed them.

        Raw features use the *training* item statistics (popularity, long tail, tags, graph links).
        The standardisation (per-column mean and std over active training users) is not stored in the
        artifact, so it is recovered exactly by regressing the stored ``inputs.behaviour`` on the same
        raw features recomputed from the stored training histories (a linear map per column). An
        empty history gets all zeros, as in training.
        """
        rows = fold_in_rows(histories, n_items=self.n_items, max_history=self.config.max_history, model=self.name)
        return self._behaviour_map(item_has_tags).rows(pad_rows(rows, n_items=self.n_items))

    def _behaviour_map(self, item_has_tags: np.ndarray | None) -> BehaviourMap:
        """The fitted behaviour standardisation for these ``item_has_tags`` flags (cached, :class:`.fold_in.FoldInCache`)."""
        return self._fold_in_cache.behaviour_map(
            self.inputs, max_history=self.config.max_history, item_has_tags=item_has_tags, model=self.name
        )

    # --- explanation evidence (:mod:`.evidence`) ----------------------------------------------------

    def cold_item_lenders(self, item: int, history: np.ndarray) -> list[tuple[int, float, int | None]]:
        """The seen items lending cold ``item`` their co-listening column, with this history's strongest source (:func:`.evidence.cold_item_lenders`)."""
        return evidence.cold_item_lenders(item, history, inputs=self.inputs)

    def strongest_co_listeners(self, history: np.ndarray, items: Sequence[int]) -> list[tuple[int | None, float]]:
        """Per item, the ``history`` item most co-listened with it and that cosine (:func:`.evidence.strongest_co_listeners`)."""
        return evidence.strongest_co_listeners(history, items, inputs=self.inputs)

    # --- reporting ----------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary of what was trained (for metrics.json and the command's output)."""
        history = getattr(self, "history", None)
        return {
            "parameters": int(sum(p.numel() for network in self.networks() for p in network.parameters())),
            "best_epoch": history.best_epoch if history else None,
            "stopped_early": history.stopped_early if history else None,
            "epoch_losses": history.losses if history else [],
            "epoch_loss_parts": self.loss_parts,
            "validation_recall@10": history.validation_recall if history else [],
            "averaged_epochs": getattr(self, "averaged_epochs", []),
            "ensemble_members": len(self.networks()),
            "rec_loss": self.config.rec_loss_for(self.inputs.n_items) if hasattr(self, "inputs") else None,
            "other_members": getattr(self, "member_summaries", []),
            "neighbourhood_weights": {
                name: round(float(weight.detach()), 6)
                for name, weight in (("cosine", self.network.neighbourhood_weight), ("ease", self.network.ease_weight))
                if weight is not None
            },
            "kge_initialisation": self.kge_initialisation,
            "warm_start": self.warm_start_summary,
            "inputs": {
                "max_history": int(self.inputs.history.shape[1]),
                "behaviour_features": list(BEHAVIOUR_FEATURES),
                "unseen_items": int(self.inputs.unseen_items.sum()),
                "kg_triples": int(len(self.inputs.kg_triples)),
                "content_dim": int(self.inputs.content.shape[1]),
                "audio_dim": int(self.inputs.audio.shape[1]),
            },
        }
