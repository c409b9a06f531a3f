"""Configuration of the joint ``L = L_rec + λ·L_kg`` recommender (:mod:`recommender.models.joint`).

Why a frozen, JSON-serialisable dataclass (like :class:`kg.embeddings.config.KgeConfig`): the config is
saved inside every artifact and its hash names the artifact directory, so "which settings produced
this model?" has one exact answer, and a saved run can be repeated from its ``config.json`` alone.
Every value is checked at construction, so a bad value fails at once with the field's name instead
of minutes later as a NaN loss.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from core.config_checks import (
    require_bool,
    require_choice,
    require_int,
    require_known_keys,
    require_number,
    require_settings_object,
)
from core.errors import ConfigurationError

#: Recommendation losses: full softmax over all items, a sampled softmax over the batch's items plus
#: uniformly drawn negatives (for catalogues too large for a full softmax per step), ``auto`` (the
#: default: the full softmax up to ``full_softmax_max_items`` items, the sampled one above), or BPR
#: with one sampled negative.
REC_LOSSES: tuple[str, ...] = ("auto", "softmax", "sampled_softmax", "bpr")
SIMILARITIES: tuple[str, ...] = ("dot", "cosine")
#: Item-item terms of the neighbourhood part (:mod:`recommender.models.neighbourhood`), each with its own learned weight.
NEIGHBOURHOOD_TERMS: tuple[str, ...] = ("cosine", "ease", "cosine+ease")
#: Knowledge-graph interaction functions (PyKEEN's ``TransEInteraction`` / ``ComplExInteraction``).
KG_INTERACTIONS: tuple[str, ...] = ("transe", "complex")


@dataclass(frozen=True)
class JointConfig:
    """Every setting of one training run; the defaults are the ones tuned on Protocol T *validation* (seed 0).

    Architecture: ``*_dim`` sizes of the item parts (id, graph entity, content projection), the
    ``hidden_dim`` of the fusion MLPs and the shared ``embedding_dim`` of the two towers' outputs.
    Ablations: ``use_graph`` / ``use_content`` drop an item part (and its parameters), ``use_attention``
    replaces attention pooling of the history by a plain mean, ``use_neighbourhood`` drops the
    neighbourhood term, ``lambda_kg = 0`` drops the KG loss.

    Tuning notes (Protocol T *validation* Recall@10 on Last.FM, seed 0): the neighbourhood term is what
    lifts the model past item-KNN/EASE (0.183 without it); cosine/τ=0.1 beat raw dot products (0.285 vs
    0.222); λ mattered little (0.288–0.300 for λ ∈ [0, 10]; 2 chosen); the model peaks after 2–5
    epochs, hence strong dropout and short patience. ``tower_loss_weight=1`` costs ~0.01 validation
    Recall@10 against 0 but triples how well cold items are ranked among themselves (Recall@10 0.25 vs
    0.09 among the 385 held-out items of the cold-start split, seed 0; that split has no cold
    validation part, so this number is not an untouched estimate) — a product choice, since new
    artists must be recommendable.

    What did *not* beat the cosine neighbourhood (same protocol, seed 0; default 0.2896 / NDCG@10
    0.1753, best epoch 4; reference on the same validation: item-KNN 0.2737, EASE λ=200 0.2759,
    EASE λ=50 0.2792; epoch-to-epoch noise of one run is ±0.005):
    ``neighbourhood_terms="cosine+ease"`` (exact leave-one-out EASE, λ=100, ``ease_weight_init=5``)
    0.2691; ``"ease"`` alone (init 6) 0.2646; ``cosine+ease`` with init 1 and
    ``neighbourhood_weight_lr=20`` 0.2668, and the cosine alone with ``neighbourhood_weight_lr=20``
    0.2740 — given freedom, training *lowers* the neighbourhood weights (to 0.40 cosine / 0.02 EASE)
    because the id-bearing towers fit the training pairs, while validation wants them higher, so the
    slow default rate acts as a useful prior. Adding ``β·EASE`` (λ ∈ {50, 100, 200}, β ∈ {1..8}) and
    extra cosine to a trained default model's scores after the fact: 0.2816–0.2901, i.e. no gain beyond
    noise. ``average_epochs`` 2/3/5/all: 0.2879/0.2844/0.2853/0.2853 (the single best epoch is
    selected on the same validation, so its 0.2896 is optimistic; still no evidence for averaging).
    These options stay available (off by default) for other data.

    Cold items (``cold_neighbours``, ``cold_transfer_scale``): 11 % of Protocol T test pairs (246 of
    2,216, seed 0) are items no training user played, which the towers alone never ranked into a
    top 10. Lending each such item the cosine columns of its k most similar seen items by tags + KG
    links was tuned on the same validation (seed 0; base 0.2901): k ∈ {1, 3, 5, 10} × scale ∈ {1, 1.5,
    2, 3} gave 0.2870–0.2973 for scale ≤ 2 and fell to 0.267–0.285 at 3; k=5, scale 1.5 (0.2949) sits
    in the flat middle. Neighbours by the towers' own id-free vectors or by MiniLM text alone did
    worse (0.2898–0.2929). Larger scales rank held-out cold items higher (cold-start Recall@10 0.14 at
    1.5, 0.31 at 3, seed 0) at the cost of warm accuracy; the scale is chosen on Protocol T, where cold
    and warm items compete in their natural proportion. Also lending to *rare* seen items (borrowed
    column × β·s/(s + popularity), s ∈ {0.5..5}, β ∈ {0.25..1}) moved validation by −0.0003 to +0.002,
    inside the noise, so it was not adopted.

    Ensemble (``ensemble_members``): on the seed-0 split, three networks trained with different seeds
    scored validation Recall@10 0.2949 / 0.2933 / 0.2933 alone, 0.2990 for the first two together
    and 0.2984 for all three. The members' *test* recall differed by up to 0.015 (0.2895 to 0.3040),
    so one network's figure is partly the luck of its seed. Three members were chosen because averaging
    removes most of that seed-to-seed spread, at three times the training time (about 3 CPU minutes)
    and three forward passes per serving request.
    """

    # --- architecture -----------------------------------------------------------------------------
    embedding_dim: int = 64
    id_dim: int = 64
    graph_dim: int = 64
    content_dim: int = 64
    hidden_dim: int = 128
    behaviour_dim: int = 16
    attention_dim: int = 32
    #: Longest history fed to the attention pooling per user (longer ones keep a seeded random subset).
    max_history: int = 64
    use_graph: bool = True
    use_attention: bool = True
    use_content: bool = True
    #: Average each item's KG neighbours' entity vectors into its graph part (one hop, KGCN-style).
    graph_neighbours: bool = True
    #: Add ``w · Σ_{j∈history} cos(j, i)`` to the score (Koren 2008; see :mod:`.neighbourhood`).
    use_neighbourhood: bool = True
    #: Scale that term per user and item, ``w·exp(g_u + g_i)``, with gates learned by the towers (how
    #: far to trust co-listening evidence for this user and this item).
    neighbourhood_gates: bool = False
    #: Shrinkage of that item-item cosine (pulls similarities backed by few co-listeners towards 0).
    neighbourhood_shrink: float = 5.0
    #: Which item-item evidence the neighbourhood sums over the history: ``cosine`` (the shrunk
    #: co-listening cosine above), ``ease`` (EASE's closed-form weights, Steck 2019, which explain each
    #: item by *all* others jointly and so discount redundant co-listens), or ``cosine+ease`` (both,
    #: each with its own learned weight). Both are left-one-out in training (:mod:`.neighbourhood`).
    neighbourhood_terms: str = "cosine"
    #: L2 of the EASE term's closed-form solve (the EASE baseline's ``l2``; higher = smoother weights).
    ease_l2: float = 100.0
    #: Starting value of the EASE term's learned weight. EASE sums are ~6× smaller than the cosine's
    #: on Last.FM (mean top-10 score 0.14 vs 0.89 at λ=100) and scalar weights move little in the
    #: 2–5 epochs training lasts, so the start decides the mix more than the optimiser does.
    ease_weight_init: float = 5.0
    #: Learning-rate multiplier of the neighbourhood terms' scalar weights (1 = the shared rate). A
    #: handful of scalars can take larger steps than millions of embedding entries; this lets training
    #: actually find the mix of towers, cosine and EASE within the few epochs it runs.
    neighbourhood_weight_lr: float = 1.0
    #: Items without training interactions borrow the cosine-neighbourhood columns of this many most
    #: similar seen items by tags + KG links (:func:`.neighbourhood.cold_transfer_matrix`; 0 = off).
    #: Without it they can only enter a list through the towers, which never beat a warm item's
    #: neighbourhood evidence (cold-start Recall@10 was 0.0000).
    cold_neighbours: int = 5
    #: Multiplier of the borrowed column (1 = as much as the neighbours' own evidence).
    cold_transfer_scale: float = 1.5

    # --- objective --------------------------------------------------------------------------------
    rec_loss: str = "auto"
    #: ``rec_loss="auto"``: the largest catalogue trained with the full softmax. The KGCN subset (3,846
    #: artists, where every default above was tuned) stays on it; the full HetRec catalogue (17,632)
    #: and larger use the sampled softmax, whose step cost does not grow with the catalogue. On
    #: Protocol T validation (seed 0, one network) the sampled softmax scored Recall@10 0.3016 / NDCG@10
    #: 0.1909 against the full softmax's 0.3062 / 0.1926, with a third of the CPU time (22 s vs 66 s
    #: for the whole evaluate command).
    full_softmax_max_items: int = 8192
    #: ``rec_loss="sampled_softmax"`` only: seen items drawn uniformly per step as extra negatives. The
    #: step's candidate set is these plus every target and history item of the batch (in-batch
    #: negatives, which are drawn by popularity); logits are corrected by ``log Q(i)``, the expected
    #: count of item ``i`` in a candidate set (Bengio & Senécal 2008; Yi et al. 2019), so the sampled
    #: loss estimates the full one. Why: the full softmax runs the item tower and a softmax over every
    #: item in every step, so an epoch costs pairs × items and grows with the square of the data.
    sampled_negatives: int = 2048
    #: Whether items without any training interaction take part in the softmax as negatives. Off: such
    #: items carry no evidence either way (they are new, or all their listens were held out), and
    #: always treating them as negatives teaches the graph/content parts to push each cold item away
    #: from exactly the users it suits.
    unseen_items_as_negatives: bool = False
    #: Weight of a second L_rec on the towers' logits alone (without the neighbourhood term), so the
    #: towers stay a complete recommender: for cold items, which have no neighbours, they are all there is.
    tower_loss_weight: float = 1.0
    #: ``dot``: score = user·item + bias; ``cosine``: both vectors L2-normalised first (bounded logits,
    #: so the temperature alone sets how peaked the softmax is).
    similarity: str = "cosine"
    #: Softmax temperature: logits are ``score / temperature``.
    temperature: float = 0.1
    kg_interaction: str = "transe"
    lambda_kg: float = 2.0
    #: Margin of TransE's ranking loss (ComplEx uses softplus and ignores it).
    kg_margin: float = 1.0
    kg_negatives: int = 2
    #: KG triples per optimisation step; 0 = spread all triples evenly over an epoch's steps.
    kg_batch_size: int = 0

    # --- regularisation ---------------------------------------------------------------------------
    dropout: float = 0.4
    #: Share of history items hidden from the attention pooling in each training step (augmentation).
    history_dropout: float = 0.2
    #: Probability of hiding an item's id embedding in training, so graph + content learn to stand alone
    #: (what cold-start items rely on: they always score without an id embedding).
    item_id_dropout: float = 0.5
    weight_decay: float = 1e-5

    # --- optimisation -----------------------------------------------------------------------------
    epochs: int = 30
    batch_size: int = 1024
    learning_rate: float = 2e-3
    #: Epochs without a better validation Recall@10 before training stops (best weights are kept).
    patience: int = 3
    #: Keep the element-wise mean of the weights of the ``average_epochs`` epochs with the best
    #: validation Recall@10 instead of the single best epoch (1 = best epoch only). Validation recall
    #: jumps by ±0.005 from one epoch to the next, so the best epoch is partly luck; averaging
    #: neighbouring solutions (as in stochastic weight averaging) smooths that out at no serving cost.
    average_epochs: int = 1
    #: Networks trained with different seeds on the same inputs; scores are the mean of their per-user
    #: standardised scores (:func:`.scoring.combine_member_scores`). Training and scoring cost grow linearly.
    ensemble_members: int = 3
    #: One network instead of ``ensemble_members`` when the training split holds more user–item pairs
    #: than this (0 = always the ensemble). Why: the ensemble buys about +0.004 validation Recall@10 on
    #: the KGCN population (~34k training pairs) at three times the training time, and larger
    #: catalogues — the full HetRec one (~74k pairs), 16× Last.FM (~270k) — would not fit ``make
    #: demo``'s 20 minutes or the 30-minute training budget of the growth curve with three networks.
    #: A cost rule, not a quality one: whether the ensemble would still help there was not measured.
    ensemble_max_train_pairs: int = 60_000
    #: Validation users scored after each epoch for early stopping (a seeded sample; 0 = all). Scoring
    #: all of them costs users × items per epoch, which grows with the square of the data; 5,000 users
    #: (more than Last.FM has, so nothing changes there) measure Recall@10 to about ±0.01.
    max_validation_users: int = 5000

    def __post_init__(self) -> None:
        for name in (
            "embedding_dim",
            "id_dim",
            "graph_dim",
            "content_dim",
            "hidden_dim",
            "behaviour_dim",
            "attention_dim",
            "max_history",
            "kg_negatives",
            "epochs",
            "batch_size",
            "patience",
            "average_epochs",
            "ensemble_members",
        ):
            require_int(name, getattr(self, name), minimum=1)
        require_int("kg_batch_size", self.kg_batch_size, minimum=0)
        require_int("sampled_negatives", self.sampled_negatives, minimum=1)
        require_int("full_softmax_max_items", self.full_softmax_max_items, minimum=0)
        require_int("max_validation_users", self.max_validation_users, minimum=0)
        require_int("ensemble_max_train_pairs", self.ensemble_max_train_pairs, minimum=0)
        require_int("cold_neighbours", self.cold_neighbours, minimum=0)
        for name in (
            "use_graph",
            "use_attention",
            "use_content",
            "graph_neighbours",
            "use_neighbourhood",
            "neighbourhood_gates",
            "unseen_items_as_negatives",
        ):
            require_bool(name, getattr(self, name))
        for name, choices in (
            ("rec_loss", REC_LOSSES),
            ("similarity", SIMILARITIES),
            ("kg_interaction", KG_INTERACTIONS),
            ("neighbourhood_terms", NEIGHBOURHOOD_TERMS),
        ):
            value = getattr(self, name)
            object.__setattr__(
                self, name, require_choice(name, value.strip().lower() if isinstance(value, str) else value, choices)
            )
        positive = (
            "temperature",
            "kg_margin",
            "learning_rate",
            "neighbourhood_shrink",
            "ease_l2",
            "neighbourhood_weight_lr",
        )
        non_negative = ("lambda_kg", "weight_decay", "tower_loss_weight", "ease_weight_init", "cold_transfer_scale")
        probabilities = ("dropout", "history_dropout", "item_id_dropout")
        for name in positive:
            require_number(name, getattr(self, name), low=0.0, low_inclusive=False)
        for name in non_negative:
            require_number(name, getattr(self, name), low=0.0)
        for name in probabilities:
            require_number(name, getattr(self, name), low=0.0, high=1.0, high_inclusive=False)
        for name in (*positive, *non_negative, *probabilities):
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.rec_loss == "sampled_softmax" and self.uses_ease_neighbourhood:
            raise ConfigurationError(
                "rec_loss='sampled_softmax' is for catalogues too large for dense item × item matrices; "
                "EASE's weights are one, so use neighbourhood_terms='cosine' with it (or rec_loss='softmax')."
            )

    def members_for(self, train_pairs: int) -> int:
        """How many networks a training split of ``train_pairs`` pairs trains (see ``ensemble_max_train_pairs``)."""
        if 0 < self.ensemble_max_train_pairs < train_pairs:
            return 1
        return self.ensemble_members

    def rec_loss_for(self, n_items: int) -> str:
        """The loss a catalogue of ``n_items`` trains with: ``auto`` resolved (see ``full_softmax_max_items``).

        With the EASE term (dense item × item weights) ``auto`` keeps the full softmax at any size.
        """
        if self.rec_loss != "auto":
            return self.rec_loss
        if n_items > self.full_softmax_max_items and not self.uses_ease_neighbourhood:
            return "sampled_softmax"
        return "softmax"

    @property
    def uses_cosine_neighbourhood(self) -> bool:
        return self.use_neighbourhood and "cosine" in self.neighbourhood_terms.split("+")

    @property
    def uses_ease_neighbourhood(self) -> bool:
        return self.use_neighbourhood and "ease" in self.neighbourhood_terms.split("+")

    @property
    def uses_cold_transfer(self) -> bool:
        """Borrowed columns need the cosine neighbourhood (they are its columns) and a positive k and scale."""
        return self.uses_cosine_neighbourhood and self.cold_neighbours > 0 and self.cold_transfer_scale > 0

    @property
    def uses_kg_loss(self) -> bool:
        """The KG term exists only when the graph part exists and has a positive weight."""
        return self.use_graph and self.lambda_kg > 0

    def with_overrides(self, **changes: Any) -> JointConfig:
        """A copy with ``changes`` applied (and checked); unknown names are refused with the valid ones."""
        require_known_keys(changes, type(self), what="recommender")
        return replace(self, **changes)

    # --- serialisation ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JointConfig:
        return cls().with_overrides(**dict(require_settings_object(data, what="recommender")))

    def config_hash(self) -> str:
        """Short stable digest of every setting (names artifact directories; equal configs, equal hash)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
