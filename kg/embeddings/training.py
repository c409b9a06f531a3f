"""Train TransE/ComplEx with PyKEEN and evaluate them by filtered link prediction.

Why PyKEEN's pipeline rather than a hand-written loop: it gives seeded, well-tested sLCWA training
(negative sampling, constraints, regularisers) and the standard rank-based evaluation, so our numbers
mean what the literature's numbers mean.

Evaluation protocol (what every metric here is): for each test triple both the head and the tail are
ranked against all entities ("both" sides), ties get the mean rank ("realistic"), and every other
known true triple of training, validation and test is removed from the candidates ("filtered",
Bordes et al. 2013). MRR and Hits@k therefore lie in [0, 1].

Cost and sampling: filtered ranking scores every evaluated triple against every entity, so it grows
with triples × entities (on a Last.FM-shaped graph four times the real size, 17,012 test triples against
47,589 entities, it did not finish in 12 minutes on the shared machine). An evaluation set larger than
``config.evaluation_max_triples`` (default 5,000, above every real test set here) is therefore replaced
by a seeded uniform sample of that size; the filter still holds every known triple of every part, the
sampled ones included, so each sampled triple gets exactly the rank it gets in a full evaluation. The
metrics record ``sampled`` and the set's full size.

Exported vectors: TransE gives real (n × dim) arrays. ComplEx vectors are complex; they are exported
as real (n × 2·dim) arrays holding the real parts in columns ``[:dim]`` and the imaginary parts in
``[dim:]``, which keeps dot products meaningful for downstream code that only knows real numbers.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from pykeen.evaluation import RankBasedEvaluator
from pykeen.models import ERModel, Model, model_resolver
from pykeen.nn.modules import ComplExInteraction, TransEInteraction
from pykeen.pipeline import pipeline
from pykeen.stoppers import EarlyStopper
from pykeen.triples import CoreTriplesFactory
from pykeen.utils import set_random_seed

from core.errors import ConfigurationError
from kg.embeddings.config import KgeConfig
from kg.embeddings.triples import KgeSplit, split_labeled_triples

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kg.embeddings.warm_start import KgeWarmStart

#: The machine has 2 cores shared with other jobs; more threads only add contention.
MAX_TORCH_THREADS = 2
#: Rank type reported everywhere (see module docstring).
RANK_SIDE = "both"
RANK_TYPE = "realistic"


@dataclass(frozen=True)
class LinkPredictionMetrics:
    """Filtered rank-based metrics on one evaluation set (both sides, realistic ranks)."""

    mrr: float
    hits_at_1: float
    hits_at_3: float
    hits_at_10: float
    #: Number of evaluated triples (each one is ranked twice, once per side).
    num_triples: int
    protocol: str = "filtered, both sides, realistic ranks"
    #: True when ``num_triples`` is a seeded sample of a larger set (see ``KgeConfig.evaluation_max_triples``).
    sampled: bool = False
    #: Size of the whole evaluation set the triples were drawn from (``num_triples`` when not sampled).
    set_triples: int | None = None
    #: Seed of the sample (``None`` when every triple was evaluated).
    sample_seed: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_pykeen(cls, results, *, evaluated: EvaluationSet) -> LinkPredictionMetrics:
        def metric(name: str) -> float:
            return float(results.get_metric(f"{RANK_SIDE}.{RANK_TYPE}.{name}"))

        return cls(
            mrr=metric("inverse_harmonic_mean_rank"),
            hits_at_1=metric("hits_at_1"),
            hits_at_3=metric("hits_at_3"),
            hits_at_10=metric("hits_at_10"),
            num_triples=evaluated.factory.num_triples,
            sampled=evaluated.sampled,
            set_triples=evaluated.set_triples,
            sample_seed=evaluated.sample_seed,
        )


@dataclass(frozen=True)
class EvaluationSet:
    """The triples actually ranked for one evaluation set: all of it, or a seeded sample (see :func:`evaluation_set`)."""

    factory: CoreTriplesFactory
    #: Size of the whole set.
    set_triples: int
    sampled: bool
    sample_seed: int | None
    #: The whole set's triples when sampled: they stay in the filter (they are known true triples).
    unsampled_triples: torch.Tensor | None = field(default=None, repr=False)


def evaluation_set(factory: CoreTriplesFactory, *, config: KgeConfig) -> EvaluationSet:
    """``factory`` itself if it has at most ``config.evaluation_max_triples`` triples (or the cap is 0), else a sample.

    The sample is ``evaluation_max_triples`` triples drawn uniformly without replacement with
    ``numpy.random.default_rng(config.seed)``, kept in their original order, so the same config and
    set always give the same sample.
    """
    cap = config.evaluation_max_triples
    total = factory.num_triples
    if cap == 0 or total <= cap:
        return EvaluationSet(factory=factory, set_triples=total, sampled=False, sample_seed=None)
    rows = np.sort(np.random.default_rng(config.seed).choice(total, size=cap, replace=False))
    sample = CoreTriplesFactory.create(
        mapped_triples=factory.mapped_triples[torch.from_numpy(rows)],
        num_entities=factory.num_entities,
        num_relations=factory.num_relations,
    )
    return EvaluationSet(
        factory=sample,
        set_triples=total,
        sampled=True,
        sample_seed=config.seed,
        unsampled_triples=factory.mapped_triples,
    )


@dataclass
class FullFilterEarlyStopper(EarlyStopper):
    """PyKEEN's early stopper, filtering ``additional_filter_triples`` too (the whole validation set when sampled).

    Why: PyKEEN's stopper filters the training triples and the triples it evaluates; when it evaluates
    a sample of the validation set, the validation triples left out of the sample are still known true
    triples and must stay in the filter, or the sampled triples' ranks would differ from a full run's.
    """

    additional_filter_triples: torch.Tensor | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.additional_filter_triples is not None:
            # The stopper reads ``training_triples_factory`` only as its filter (``should_stop``).
            training = self.training_triples_factory
            self.training_triples_factory = CoreTriplesFactory.create(
                mapped_triples=torch.cat([training.mapped_triples, self.additional_filter_triples]),
                num_entities=training.num_entities,
                num_relations=training.num_relations,
            )


@dataclass(frozen=True)
class KgeResult:
    """A trained model with its exported vectors, id maps and evaluation.

    ``evaluations["test"]`` is the held-out test split; callers may ask for more named evaluation sets
    (e.g. the de-duplicated benchmark test). ``entity_embeddings[entity_to_id[label]]`` is the vector of
    ``label``.
    """

    config: KgeConfig
    model: Model
    entity_to_id: Mapping[str, int]
    relation_to_id: Mapping[str, int]
    entity_embeddings: np.ndarray
    relation_embeddings: np.ndarray
    evaluations: Mapping[str, LinkPredictionMetrics]
    split_sizes: Mapping[str, int]
    dropped: Mapping[str, int] = field(default_factory=dict)
    epoch_losses: tuple[float, ...] = ()
    epochs_trained: int = 0
    #: Wall time of PyKEEN's pipeline: training plus the test evaluation (not the extra test sets).
    training_seconds: float = 0.0
    #: The split trained and evaluated on (saved with the artifact so a later warm start can reuse it).
    split: KgeSplit | None = field(default=None, repr=False)
    #: With early stopping: the validation triples it ranked (``num_triples``, ``sampled``, ``set_triples``).
    early_stopping_validation: Mapping[str, Any] | None = None

    @property
    def metrics(self) -> LinkPredictionMetrics:
        return self.evaluations["test"]

    def metrics_dict(self) -> dict:
        """What ``metrics.json`` of an artifact holds."""
        return {
            "evaluations": {name: m.to_dict() for name, m in self.evaluations.items()},
            "split": dict(self.split_sizes),
            "dropped": dict(self.dropped),
            "training": {
                "epochs_trained": self.epochs_trained,
                "seconds": round(self.training_seconds, 3),
                "epoch_losses": list(self.epoch_losses),
                **(
                    {"early_stopping_validation": dict(self.early_stopping_validation)}
                    if self.early_stopping_validation is not None
                    else {}
                ),
            },
        }


def kge_train(
    *,
    triples: np.ndarray,
    config: KgeConfig,
    progress: bool = False,
    interaction_triples: np.ndarray | None = None,
) -> KgeResult:
    """Split labeled ``triples`` (seeded, shared id maps), train ``config.model`` and evaluate on the test part.

    ``interaction_triples`` (user → artist ``INTERACTS`` edges built by the caller) are only accepted
    with ``config.include_interactions`` and are added to training only (see
    :func:`~kg.embeddings.triples.split_labeled_triples`).
    """
    has_interactions = interaction_triples is not None and len(interaction_triples) > 0
    if config.include_interactions and not has_interactions:
        raise ConfigurationError(
            "include_interactions is on but no interaction triples were given; load listening data first or turn it off."
        )
    if has_interactions and not config.include_interactions:
        raise ConfigurationError(
            "Interaction triples were given but include_interactions is off; set it in the config to use them."
        )
    split = split_labeled_triples(
        triples=triples,
        ratios=config.split_ratios,
        seed=config.seed,
        extra_training_triples=interaction_triples if has_interactions else None,
    )
    return kge_train_on_split(split=split, config=config, progress=progress)


def kge_train_on_split(
    *,
    split: KgeSplit,
    config: KgeConfig,
    progress: bool = False,
    extra_test_sets: Mapping[str, CoreTriplesFactory] | None = None,
    warm_start: KgeWarmStart | None = None,
) -> KgeResult:
    """Train on ``split.training`` (early stopping on validation if configured) and evaluate on its test part.

    Each of ``extra_test_sets`` (same id maps) is evaluated with the same filter (train + valid + test).
    ``warm_start`` (see :mod:`kg.embeddings.warm_start`) starts the rows its parent knew from the parent's
    trained vectors instead of the model's initialisation; ``split`` must then extend the parent's id maps.
    """
    limit_torch_threads()
    set_random_seed(config.seed)
    model = build_model(
        config=config, num_entities=split.training.num_entities, num_relations=split.training.num_relations
    )
    if warm_start is not None:
        warm_start.apply_(model)
    started = time.perf_counter()
    testing = evaluation_set(split.testing, config=config)
    # Validation is only evaluated by the early stopper; without it, the whole set is only a filter.
    validation = evaluation_set(split.validation, config=config) if config.early_stopping else None
    # PyKEEN filters the test evaluation with training + the validation factory + the evaluated triples;
    # a sampled part's other triples are added here, so the filter is always train + valid + test in full.
    evaluation_filter = [
        evaluated.unsampled_triples
        for evaluated in (testing, validation)
        if evaluated is not None and evaluated.unsampled_triples is not None
    ]
    # The early stopper keeps its best weights in a file; a private temporary folder keeps PyKEEN from
    # leaving checkpoint files under the user's home when training runs to the last epoch.
    with tempfile.TemporaryDirectory(prefix="kge-stopper-") as stopper_dir:
        stopper_kwargs: dict[str, Any] = {}
        if config.early_stopping:
            assert validation is not None
            stopper_kwargs = dict(
                stopper=FullFilterEarlyStopper if validation.sampled else "early",
                stopper_kwargs=dict(
                    frequency=config.early_stopping_frequency,
                    patience=config.early_stopping_patience,
                    metric="inverse_harmonic_mean_rank",
                    evaluation_batch_size=config.evaluation_batch_size,
                    best_model_path=Path(stopper_dir) / "best-model.pt",
                    use_tqdm=progress,
                    **({"additional_filter_triples": validation.unsampled_triples} if validation.sampled else {}),
                ),
            )
        evaluation_kwargs: dict[str, Any] = dict(use_tqdm=progress)
        if evaluation_filter:
            evaluation_kwargs["additional_filter_triples"] = evaluation_filter
        result = pipeline(
            training=split.training,
            validation=validation.factory if validation is not None else split.validation,
            testing=testing.factory,
            model=model,
            training_loop="slcwa",
            negative_sampler="basic",
            negative_sampler_kwargs=dict(num_negs_per_pos=config.negatives_per_positive),
            optimizer="adam",
            optimizer_kwargs=dict(lr=config.learning_rate),
            training_kwargs=dict(
                num_epochs=config.epochs,
                batch_size=config.batch_size,
                use_tqdm=progress,
                use_tqdm_batch=False,
                pin_memory=False,
            ),
            evaluator=RankBasedEvaluator,
            evaluator_kwargs=dict(filtered=True, batch_size=config.evaluation_batch_size),
            evaluation_kwargs=evaluation_kwargs,
            random_seed=config.seed,
            device="cpu",
            **stopper_kwargs,
        )
    training_seconds = time.perf_counter() - started
    evaluations = {"test": LinkPredictionMetrics.from_pykeen(result.metric_results, evaluated=testing)}
    known = [split.training.mapped_triples, split.validation.mapped_triples, split.testing.mapped_triples]
    for name, factory in (extra_test_sets or {}).items():
        evaluations[name] = kge_evaluate(
            model=result.model, testing=factory, filter_triples=known, config=config, progress=progress
        )
    entity_embeddings, relation_embeddings = export_embeddings(result.model)
    return KgeResult(
        config=config,
        model=result.model,
        entity_to_id=dict(split.entity_to_id),
        relation_to_id=dict(split.relation_to_id),
        entity_embeddings=entity_embeddings,
        relation_embeddings=relation_embeddings,
        evaluations=evaluations,
        split_sizes=split.sizes(),
        dropped=dict(split.dropped),
        epoch_losses=tuple(float(loss) for loss in result.losses),
        epochs_trained=len(result.losses),
        training_seconds=training_seconds,
        split=split,
        early_stopping_validation=None
        if validation is None
        else {
            "num_triples": validation.factory.num_triples,
            "sampled": validation.sampled,
            "set_triples": validation.set_triples,
            "sample_seed": validation.sample_seed,
        },
    )


def kge_evaluate(
    *,
    model: Model,
    testing: CoreTriplesFactory,
    filter_triples: list[torch.Tensor],
    config: KgeConfig,
    progress: bool = False,
) -> LinkPredictionMetrics:
    """Filtered both-side realistic MRR/Hits@k of ``model`` on ``testing`` (``testing`` itself is filtered too).

    At most ``config.evaluation_max_triples`` of ``testing`` are ranked (see :func:`evaluation_set`); all of
    ``testing`` stays in the filter.
    """
    limit_torch_threads()
    evaluated = evaluation_set(testing, config=config)
    if evaluated.unsampled_triples is not None:
        filter_triples = [*filter_triples, evaluated.unsampled_triples]
    evaluator = RankBasedEvaluator(filtered=True, batch_size=config.evaluation_batch_size)
    results = evaluator.evaluate(
        model=model,
        mapped_triples=evaluated.factory.mapped_triples,
        additional_filter_triples=filter_triples,
        batch_size=config.evaluation_batch_size,
        use_tqdm=progress,
    )
    return LinkPredictionMetrics.from_pykeen(results, evaluated=evaluated)


def build_model(*, config: KgeConfig, num_entities: int, num_relations: int) -> Model:
    """The untrained PyKEEN model a config describes (also used to reload a saved state dict)."""
    shape_only = CoreTriplesFactory.create(
        mapped_triples=torch.empty((0, 3), dtype=torch.long), num_entities=num_entities, num_relations=num_relations
    )
    model = model_resolver.make(
        config.spec.pykeen_model,
        triples_factory=shape_only,
        embedding_dim=config.embedding_dim,
        loss=config.loss,
        random_seed=config.seed,
        **config.spec.model_kwargs,
    )
    # The interactions are stateless, so these swaps change neither the state dict nor any score, only
    # the speed of ranking all entities (evaluation).
    if type(model.interaction) is TransEInteraction and not model.interaction.power_norm:
        model.interaction = RankAllTransEInteraction(p=model.interaction.p)
    elif type(model.interaction) is ComplExInteraction:
        model.interaction = RankAllComplExInteraction()
    return model


def _ranks_all_tails(h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> bool:
    """Shapes PyKEEN uses to score a batch of (h, r) against every entity: (b,1,d), (b,1,d), (1,n,d)."""
    return (
        h.ndim == r.ndim == t.ndim == 3
        and t.shape[0] == 1
        and h.shape[1] == r.shape[1] == 1
        and h.shape[0] == r.shape[0]
    )


def _ranks_all_heads(h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> bool:
    """Shapes PyKEEN uses to score a batch of (r, t) against every entity: (1,n,d), (b,1,d), (b,1,d)."""
    return (
        h.ndim == r.ndim == t.ndim == 3
        and h.shape[0] == 1
        and r.shape[1] == t.shape[1] == 1
        and r.shape[0] == t.shape[0]
    )


class RankAllTransEInteraction(TransEInteraction):
    """TransE scores ``−‖h + r − t‖_p``, computed with ``torch.cdist`` when one side is ranked against all entities.

    Why: PyKEEN's TransE materialises a (batch × entities × dim) tensor to score every candidate, which on
    the 32k-entity DBpedia graph costs ~9× more time than ``cdist`` (measured on this 2-core machine) and
    dominated the benchmark. Any other shape (training batches) uses PyKEEN's own code unchanged.
    """

    def forward(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if _ranks_all_tails(h, r, t):
            return -torch.cdist((h + r)[:, 0, :], t[0], p=self.p, compute_mode="donot_use_mm_for_euclid_dist")
        if _ranks_all_heads(h, r, t):  # ‖h + r − t‖ = ‖h − (t − r)‖
            return -torch.cdist((t - r)[:, 0, :], h[0], p=self.p, compute_mode="donot_use_mm_for_euclid_dist")
        return super().forward(h=h, r=r, t=t)


class RankAllComplExInteraction(ComplExInteraction):
    """ComplEx scores ``Re(<h, r, conj(t)>)``, computed as two real matrix products when ranking against all entities.

    Why: PyKEEN evaluates the complex three-way ``einsum`` with broadcasting, which is several times slower
    on CPU than BLAS matrix products of the real and imaginary parts. Other shapes use PyKEEN's code.
    """

    def forward(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if _ranks_all_tails(h, r, t):  # Re(hr · conj(t)) = hr.re · t.re + hr.im · t.im
            hr = (h * r)[:, 0, :]
            return hr.real @ t[0].real.T + hr.imag @ t[0].imag.T
        if _ranks_all_heads(h, r, t):  # Re(h · q) with q = r · conj(t): h.re · q.re − h.im · q.im
            q = (r * torch.conj(t))[:, 0, :]
            return q.real @ h[0].real.T - q.imag @ h[0].imag.T
        return super().forward(h=h, r=r, t=t)


@torch.no_grad()
def export_embeddings(model: Model) -> tuple[np.ndarray, np.ndarray]:
    """Entity and relation vectors as float32 numpy arrays (complex → ``[real | imaginary]`` columns)."""
    assert isinstance(model, ERModel)  # every registered model (TransE, ComplEx) is an ERModel
    return _representation_array(model.entity_representations[0]), _representation_array(
        model.relation_representations[0]
    )


def _representation_array(representation) -> np.ndarray:
    values = representation(indices=None).detach().cpu()
    if values.is_complex():
        values = torch.cat([values.real, values.imag], dim=-1)
    return np.ascontiguousarray(values.numpy().astype(np.float32))


def limit_torch_threads() -> None:
    """Use at most two intra-op threads (see :data:`MAX_TORCH_THREADS`); a caller's lower setting (e.g. 1) is kept."""
    wanted = max(1, min(MAX_TORCH_THREADS, os.cpu_count() or 1))
    if torch.get_num_threads() > wanted:
        torch.set_num_threads(wanted)
