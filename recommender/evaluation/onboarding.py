"""The onboarding protocol: new learners who give only a few picks at sign-up, ranked by every model.

Why a protocol of its own: Protocols T, C, sparsity and cold start all score listeners whose taste the
model trained on. A learner who signs up is new to every model and gives only what the onboarding page
asks for: a few artists, tags and an instrument. This protocol measures exactly that.

Rules (all written into the report's config):

* **User-level split** (seeded): listeners with at least :data:`MIN_ITEMS` artists are eligible to be
  held out; :data:`TEST_USER_FRACTION` of them are *test learners*, :data:`VALIDATION_USER_FRACTION`
  *validation learners*. Their whole rows are left out of training, so no model has seen their taste.
  Every other listener trains (with a per-user 10 % early-stopping part, as Protocol T's validation).
* **Known and held-out items**: each held-out learner's artists are split at random
  (:data:`HELDOUT_FRACTION` held out, at least one). The *known* part plays the learner's training data:
  the picks are drawn from it and only from it, and it is masked from the ranking (a known positive is
  neither a hit nor a miss). Recall@K and NDCG@K count the held-out part.
* **Picks** (:func:`draw_picks`): the :data:`PICK_ARTISTS` known artists with the most plays; the
  :data:`PICK_TAGS` tags that describe the known artists best (each artist's tag shares, weighted by
  log plays), noise tags excluded by the explanation quality rules (a learner picks "electronic",
  not "seen live" or "1995"); and the instrument the graph links to a picked tag (``ABOUT_INSTRUMENT``:
  "piano" → Piano), when there is one. Variant ``tags_only`` gives the same learner's tags and
  instrument without the artists (the hardest sign-up).
* **Genre family** (:func:`genre_family`): the first of the learner's known-part tags (best first) whose
  name contains a family keyword (:data:`GENRE_FAMILIES`, checked in that order, so "heavy metal" is
  metal and "synthpop" electronic); "other" when none does. Metrics are reported overall and per family,
  so a failing genre shows up.
* **Models**: baselines score the picks with their own fold-in (``score_picks``: popularity, item-KNN
  from the picked artists, the tags-and-graph content profile). The product is scored through the
  product's own path: the picks are stored as ``Interest`` rows of a fresh ``Listener`` by
  :func:`recommender.serving.services.interests_set`, read back by
  :func:`recommender.serving.taste.listener_taste` and ranked by
  :func:`recommender.serving.music_ranking.music_scores` on a :class:`ServingModel` around the model
  trained here (everything inside a transaction that is rolled back: the database is left as it was).
* Choices are made on the validation learners (``part="validation"``); the test learners are reported.

Known limitation: item side information (tag counts, the graph's tag edges, the text of top tags) is
built from every listener's tagging, the held-out learners' included. It is shared by every model alike
and holds no listening, but it is not strictly user-level held out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from core.errors import ConfigurationError
from recommender.base import TrainingContext
from recommender.data import InteractionDataset
from recommender.evaluation.evaluator import EvaluationResult, ranking_metrics, top_k_items
from recommender.explanations.quality import tag_name_is_non_descriptive

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import GraphSnapshot
    from recommender.serving.model_holder import ServingModel

PROTOCOL_ONBOARDING = "onboarding"
#: Variants of what a learner gives: artists, tags and instrument; or tags and instrument only.
VARIANTS = ("picks", "tags_only")
MIN_ITEMS = 5
TEST_USER_FRACTION = 0.2
VALIDATION_USER_FRACTION = 0.1
HELDOUT_FRACTION = 0.5
EARLY_STOPPING_FRACTION = 0.1
PICK_ARTISTS = 3
PICK_TAGS = 2
#: A genre family with fewer test learners than this is reported but not judged.
MIN_FAMILY_USERS = 15
#: Genre families and the keywords that assign them, in the order they are tried (see the module doc).
GENRE_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("metal", ("metal", "grindcore", "deathcore", "thrash", "doom")),
    ("classical", ("classical", "baroque", "opera", "orchestral", "composer", "romantic era")),
    ("jazz/blues", ("jazz", "blues", "swing", "bebop")),
    ("hip-hop/r&b", ("hip-hop", "hip hop", "hiphop", "rap", "rnb", "r&b", "soul", "urban")),
    (
        "electronic",
        ("electro", "techno", "house", "trance", "dubstep", "ambient", "idm", "drum and bass", "synth", "industrial"),
    ),
    ("folk/country", ("folk", "country", "singer-songwriter", "acoustic", "bluegrass")),
    ("pop", ("pop", "dance", "disco")),
    ("rock", ("rock", "punk", "indie", "alternative", "grunge", "emo", "new wave", "post-")),
)
OTHER_FAMILY = "other"

_STREAM = 5  # independent of the other protocols' random streams (see splits._STREAM)


@dataclass(frozen=True)
class Learner:
    """One held-out listener as a new learner: their picks (from known items only) and genre family."""

    user: int
    artist_items: tuple[int, ...]
    tag_columns: tuple[int, ...]
    tag_entities: tuple[str, ...]
    instrument_entities: tuple[str, ...]
    family: str

    def entity_ids(self, *, variant: str, artist_entities: Sequence[str]) -> list[str]:
        """The picks as graph entity ids, as a learner sends them to ``PUT /api/v1/me/interests/``."""
        artists = [] if variant == "tags_only" else [str(artist_entities[i]) for i in self.artist_items]
        return artists + list(self.tag_entities) + list(self.instrument_entities)


@dataclass(frozen=True, eq=False)
class OnboardingSplit:
    """A user-level split: ``train`` holds training listeners only; held-out learners have ``known``/``heldout``."""

    seed: int
    config: dict[str, Any]
    train: sp.csr_matrix
    early_stopping: sp.csr_matrix
    known: sp.csr_matrix
    heldout: sp.csr_matrix
    test_users: np.ndarray
    validation_users: np.ndarray
    learners: dict[int, Learner] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return int(self.train.shape[1])

    def users(self, part: str) -> np.ndarray:
        if part not in ("test", "validation"):
            raise ConfigurationError(f"part must be 'test' or 'validation', got {part!r}.")
        return self.test_users if part == "test" else self.validation_users

    def train_binary(self) -> sp.csr_matrix:
        binary = self.train.copy().tocsr()
        binary.data[:] = 1.0
        return binary

    def training_context(self, side_info: Any) -> TrainingContext:
        validation = self.early_stopping.copy().tocsr()
        validation.data[:] = 1.0
        return TrainingContext(side_info=side_info, validation=validation)


def _rows(matrix: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    """``matrix`` with only the rows where ``keep`` is True (the others emptied, shape kept)."""
    return (sp.diags(keep.astype(np.float32)) @ matrix).tocsr()


def _entries_split(
    matrix: sp.csr_matrix, users: np.ndarray, fraction: float, rng: np.random.Generator, *, min_items: int
):
    """Split the entries of ``users``' rows: ``round(fraction · n)`` (at least 1) at random to the second part."""
    first, second = [], []
    for user in users.tolist():
        start, stop = matrix.indptr[user], matrix.indptr[user + 1]
        n = stop - start
        positions = np.arange(start, stop)
        if n < min_items:
            first.append(positions)
            continue
        size = max(1, int(math.floor(fraction * n + 0.5)))
        order = rng.permutation(n)
        second.append(positions[order[:size]])
        first.append(positions[order[size:]])
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)  # noqa: E731
    return cat(first), cat(second)


def _select_entries(matrix: sp.csr_matrix, positions: np.ndarray) -> sp.csr_matrix:
    mask = np.zeros(matrix.nnz, dtype=bool)
    mask[positions] = True
    coo = matrix.tocoo()
    return sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=matrix.shape, dtype=np.float32)


def onboarding_split(
    dataset: InteractionDataset,
    *,
    seed: int,
    tag_entities: Sequence[str] | None = None,
    instrument_of_tag: Mapping[str, str] | None = None,
) -> OnboardingSplit:
    """The seeded user-level split of ``dataset`` and every held-out learner's picks (see the module doc).

    ``tag_entities[t]`` is the graph entity id of side-info tag column ``t`` (tags without one are never
    picked); ``instrument_of_tag`` maps a tag entity id to the instrument entity the graph links it to.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigurationError(f"seed must be a non-negative integer, got {seed!r}.")
    if dataset.side_info is None:
        raise ConfigurationError(
            "the onboarding protocol needs item tags to draw learners' picks; build the dataset with a graph store."
        )
    rng = np.random.default_rng([_STREAM, int(seed)])
    matrix = dataset.matrix.tocsr()
    matrix.sort_indices()
    counts = np.diff(matrix.indptr)
    eligible = np.flatnonzero(counts >= MIN_ITEMS)
    shuffled = rng.permutation(eligible)
    n_test = int(round(TEST_USER_FRACTION * len(eligible)))
    n_validation = int(round(VALIDATION_USER_FRACTION * len(eligible)))
    test_users = np.sort(shuffled[:n_test])
    validation_users = np.sort(shuffled[n_test : n_test + n_validation])
    heldout_users = np.union1d(test_users, validation_users)
    is_train_user = np.ones(dataset.n_users, dtype=bool)
    is_train_user[heldout_users] = False
    train_users = np.flatnonzero(is_train_user & (counts > 0))

    kept, early = _entries_split(matrix, train_users, EARLY_STOPPING_FRACTION, rng, min_items=3)
    known_pos, heldout_pos = _entries_split(matrix, heldout_users, HELDOUT_FRACTION, rng, min_items=MIN_ITEMS)
    known = _select_entries(matrix, known_pos)
    names = list(dataset.side_info.tag_names)
    entities = list(tag_entities) if tag_entities is not None else [""] * len(names)
    learners = {
        int(u): draw_picks(
            known,
            int(u),
            item_tags=dataset.side_info.item_tags,
            tag_names=names,
            tag_entities=entities,
            instrument_of_tag=instrument_of_tag or {},
        )
        for u in heldout_users.tolist()
    }
    config = {
        "protocol": PROTOCOL_ONBOARDING,
        "seed": int(seed),
        "min_items": MIN_ITEMS,
        "test_user_fraction": TEST_USER_FRACTION,
        "validation_user_fraction": VALIDATION_USER_FRACTION,
        "heldout_fraction": HELDOUT_FRACTION,
        "early_stopping_fraction": EARLY_STOPPING_FRACTION,
        "pick_artists": PICK_ARTISTS,
        "pick_tags": PICK_TAGS,
        "n_test_users": int(len(test_users)),
        "n_validation_users": int(len(validation_users)),
        "n_train_users": int(len(train_users)),
        "genre_families": [name for name, _ in GENRE_FAMILIES] + [OTHER_FAMILY],
        "family_rule": "first of the learner's known-part tags (best first) containing a family keyword",
    }
    return OnboardingSplit(
        seed=int(seed),
        config=config,
        train=_select_entries(matrix, kept),
        early_stopping=_select_entries(matrix, early),
        known=known,
        heldout=_select_entries(matrix, heldout_pos),
        test_users=test_users.astype(np.int64),
        validation_users=validation_users.astype(np.int64),
        learners=learners,
    )


def learner_tag_ranking(known: sp.csr_matrix, user: int, item_tags: sp.csr_matrix) -> np.ndarray:
    """Score of every tag for ``user``: Σ over known artists of log(1 + plays) × the tag's share of the artist's tags."""
    row = known[user]
    if row.nnz == 0:
        return np.zeros(item_tags.shape[1])
    tags = sp.csr_matrix(item_tags, dtype=np.float64)[row.indices]
    totals = np.asarray(tags.sum(axis=1)).ravel()
    shares = sp.diags(np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)) @ tags
    return np.asarray(shares.T @ np.log1p(row.data.astype(np.float64))).ravel()


def draw_picks(
    known: sp.csr_matrix,
    user: int,
    *,
    item_tags: sp.csr_matrix,
    tag_names: Sequence[str],
    tag_entities: Sequence[str],
    instrument_of_tag: Mapping[str, str],
) -> Learner:
    """The picks of ``user`` from their *known* items only (see the module doc); ties go to the lower index."""
    row = known[user]
    order = np.lexsort((row.indices, -row.data))
    artists = tuple(int(i) for i in row.indices[order][:PICK_ARTISTS])
    scores = learner_tag_ranking(known, user, item_tags)
    ranked = [int(t) for t in np.lexsort((np.arange(len(scores)), -scores)) if scores[t] > 0]
    describing = [t for t in ranked if tag_name_is_non_descriptive(tag_names[t]) is None]
    picked = [t for t in describing if tag_entities[t]][:PICK_TAGS]
    instruments = tuple(
        dict.fromkeys(instrument_of_tag[tag_entities[t]] for t in picked if tag_entities[t] in instrument_of_tag)
    )
    return Learner(
        user=int(user),
        artist_items=artists,
        tag_columns=tuple(picked),
        tag_entities=tuple(tag_entities[t] for t in picked),
        instrument_entities=instruments[:1],
        family=genre_family([tag_names[t] for t in describing]),
    )


def genre_family(tag_names: Sequence[str]) -> str:
    """The genre family of a learner whose tags are ``tag_names`` (best first); see :data:`GENRE_FAMILIES`."""
    for name in tag_names:
        key = name.lower()
        for family, keywords in GENRE_FAMILIES:
            if any(word in key for word in keywords):
                return family
    return OTHER_FAMILY


# --- scoring and metrics --------------------------------------------------------------------------

#: A model under this protocol: picks in, one score per item out.
PickScorer = Callable[[Learner, str], np.ndarray]


def baseline_scorer(model: Any) -> PickScorer:
    """A fitted baseline with ``score_picks(items, tags)`` as a :data:`PickScorer`."""

    def score(learner: Learner, variant: str) -> np.ndarray:
        items = () if variant == "tags_only" else learner.artist_items
        return np.asarray(model.score_picks(list(items), list(learner.tag_columns)), dtype=np.float64)

    return score


def evaluate_onboarding(
    scorer: PickScorer,
    split: OnboardingSplit,
    *,
    model_name: str,
    variant: str = "picks",
    part: str = "test",
    ks: Sequence[int] = (5, 10, 20),
) -> list[EvaluationResult]:
    """Recall/NDCG… @K of ``scorer`` on ``part``'s learners: one result overall and one per genre family.

    Each learner ranks every item except their known ones (the picks among them); hits are held-out items.
    """
    if variant not in VARIANTS:
        raise ConfigurationError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}.")
    ks = tuple(sorted(set(ks)))
    users = split.users(part)
    if users.size == 0:
        raise ConfigurationError(f"the onboarding split has no {part} learners; the dataset is too small.")
    started = time.perf_counter()
    rows = []
    for user in users.tolist():
        scores = np.array(scorer(split.learners[user], variant), dtype=np.float64)
        if scores.shape != (split.n_items,) or np.isnan(scores).any():
            raise ValueError(f"model {model_name!r} returned {scores.shape} scores (or NaN) for a learner.")
        scores[split.known[user].indices] = -np.inf
        rows.append(scores)
    top = top_k_items(np.vstack(rows), ks[-1])
    relevant = split.heldout[users]
    per_user = ranking_metrics(top, relevant, np.diff(relevant.indptr), ks)
    seconds = time.perf_counter() - started
    families = np.asarray([split.learners[u].family for u in users.tolist()], dtype=object)
    label = PROTOCOL_ONBOARDING if variant == "picks" else f"{PROTOCOL_ONBOARDING}_{variant}"
    results = []
    groups = [(label, np.ones(len(users), dtype=bool))] + [
        (f"{label}/{family}", families == family) for family in sorted(set(families.tolist()))
    ]
    for split_label, mask in groups:
        metrics = {name: float(values[mask].mean()) for name, values in per_user.items()}
        details = {
            "part": part,
            "variant": variant,
            "n_users_evaluated": int(mask.sum()),
            "judged": bool(mask.sum() >= MIN_FAMILY_USERS),
            "candidates": "all items except the learner's known ones (picks included)",
            "score_seconds": round(seconds, 2),
        }
        results.append(
            EvaluationResult(
                model=model_name,
                split=split_label,
                protocol=PROTOCOL_ONBOARDING,
                seed=split.seed,
                metrics=metrics,
                details=details,
                per_user={"user": users[mask], "top_items": top[mask]} if split_label == label else {},
            )
        )
    return results


# --- the product through its serving path ----------------------------------------------------------


class ProductOnboarding:
    """The product for a new learner: ``Interest`` rows → ``listener_taste`` → ``music_scores`` (see module doc)."""

    def __init__(self, serving: ServingModel, snapshot: GraphSnapshot, artist_entities: Sequence[str]):
        self.serving = serving
        self.snapshot = snapshot
        self.artist_entities = list(artist_entities)
        self.last: dict[tuple[int, str], tuple[Any, Any]] = {}

    def taste_and_scores(self, learner: Learner, variant: str) -> tuple[Any, Any]:
        """The learner's ``Taste`` as serving reads it back from the database, and its ``MusicScores``."""
        from django.db import transaction

        from catalog.models import Listener
        from recommender.serving.music_ranking import music_scores
        from recommender.serving.services import interests_set
        from recommender.serving.taste import listener_taste

        with transaction.atomic():
            listener = Listener.objects.create()
            interests_set(listener, learner.entity_ids(variant=variant, artist_entities=self.artist_entities))
            taste = listener_taste(listener)
            scored = music_scores(
                self.serving, self.snapshot, taste, user_index=self.serving.user_index.get(listener.pk)
            )
            transaction.set_rollback(True)
        return taste, scored

    def __call__(self, learner: Learner, variant: str) -> np.ndarray:
        taste, scored = self.taste_and_scores(learner, variant)
        self.last[(learner.user, variant)] = (taste, scored)
        return scored.ranking


def tag_entities_for(tag_names: Sequence[str]) -> list[str]:
    """Graph entity id of each side-info tag name (the lowest-pk ``Tag`` of that name; "" for none)."""
    from catalog.models import Tag

    found: dict[str, str] = {}
    for name, entity_id in (
        Tag.objects.filter(name__in=list(tag_names)).order_by("-pk").values_list("name", "entity_id")
    ):
        found[name] = entity_id
    return [found.get(name, "") for name in tag_names]


def instruments_of_tags(snapshot: GraphSnapshot) -> dict[str, str]:
    """Tag entity id → the instrument entity id the graph links it to by ``ABOUT_INSTRUMENT`` ("piano" → Piano)."""
    relation = snapshot.relation_index.get("ABOUT_INSTRUMENT")
    if relation is None:
        return {}
    out: dict[str, str] = {}
    on = np.flatnonzero(snapshot.rels == relation)
    for edge in on.tolist():
        ends = (int(snapshot.heads[edge]), int(snapshot.tails[edge]))
        tag = next((n for n in ends if snapshot.types[n] == "Tag"), None)
        instrument = next((n for n in ends if snapshot.types[n] == "Instrument"), None)
        if tag is not None and instrument is not None:
            out.setdefault(snapshot.ids[tag], snapshot.ids[instrument])
    return out


# --- the run: split, fit, score, explain, report ----------------------------------------------------


@dataclass(frozen=True)
class OnboardingRun:
    report_dir: Any
    results: list[EvaluationResult]
    explanations: dict[str, dict[str, float]]


def _product_serving(model: Any, dataset: InteractionDataset, *, seed: int, name: str) -> ServingModel:
    from recommender.serving.model_holder import serving_model_from_trained
    from recommender.training import TrainedRecommender

    trained = TrainedRecommender(
        model=model,
        config=model.config,
        seed=seed,
        user_ids=dataset.user_ids.copy(),
        item_ids=dataset.item_ids.copy(),
        metrics={},
    )
    return serving_model_from_trained(trained, name=name)


def onboarding_explanations(
    product: ProductOnboarding,
    split: OnboardingSplit,
    result: EvaluationResult,
    *,
    variant: str,
    k: int = 10,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Explanation quality of the product's top ``k`` for every learner of ``result`` (overall, per family).

    The lists are the ones :func:`evaluate_onboarding` scored; each is explained by
    :func:`recommender.serving.music_ranking.explain_music`, exactly as ``/for-you/`` would explain it.
    """
    from recommender.evaluation.explanation_quality import explanation_quality
    from recommender.evaluation.metrics import NO_ITEM
    from recommender.serving.music_ranking import explain_music

    reasons: dict[str, list[tuple[Any, set[str]]]] = {}
    for user, top in zip(result.per_user["user"].tolist(), result.per_user["top_items"]):
        learner = split.learners[int(user)]
        taste, scored = product.last.get((learner.user, variant)) or product.taste_and_scores(learner, variant)
        chosen = np.asarray([i for i in top[:k].tolist() if i != NO_ITEM], dtype=np.int64)
        own = {e for e, _ in taste.interests} | {e for _, e, _ in taste.artists}
        for recommendation in explain_music(product.serving, product.snapshot, taste, scored, chosen):
            reasons.setdefault(learner.family, []).append((recommendation.explanation, own))
    overall = explanation_quality((r for rows in reasons.values() for r in rows), product.snapshot)
    families = {family: explanation_quality(rows, product.snapshot) for family, rows in sorted(reasons.items())}
    return overall, families


#: Warm listeners whose reasons are measured beside the new learners' (a seeded sample, to stay fast).
WARM_EXPLAINED_USERS = 200


def warm_explanations(
    product: ProductOnboarding,
    split: OnboardingSplit,
    dataset: InteractionDataset,
    *,
    seed: int,
    k: int = 10,
    n_users: int = WARM_EXPLAINED_USERS,
) -> dict[str, float]:
    """Explanation quality for warm listeners, as Protocol T sees them: training history in, top ``k`` beyond it.

    A seeded sample of the split's training listeners (at least :data:`MIN_ITEMS` training artists) is
    ranked by :func:`~recommender.serving.music_ranking.music_scores` from their training history (as
    :func:`~recommender.serving.taste.listener_taste` orders it: least important first, importance
    log(1 + plays)) and their top ``k`` unseen artists explained by ``explain_music``.
    """
    from recommender.evaluation.explanation_quality import explanation_quality
    from recommender.serving.music_ranking import explain_music, music_scores
    from recommender.serving.ranking import top
    from recommender.serving.taste import Taste

    train = split.train.tocsr()
    counts = np.diff(train.indptr)
    candidates = np.flatnonzero(counts >= MIN_ITEMS)
    rng = np.random.default_rng([_STREAM, int(seed), 1])
    users = np.sort(rng.choice(candidates, size=min(n_users, len(candidates)), replace=False))
    entities = product.artist_entities
    reasons = []
    for user in users.tolist():
        row = train[user]
        order = np.lexsort((row.indices, row.data))  # least played first, most important last
        items = row.indices[order]
        artists = [
            (int(dataset.item_ids[i]), entities[i], float(np.log1p(plays)))
            for i, plays in zip(items.tolist(), row.data[order].tolist())
        ]
        taste = Taste(
            artists=artists,
            skipped=set(),
            seen_artists={pk for pk, _, _ in artists},
            courses=[],
            interests=[],
            roles={entity: "listen" for _, entity, _ in artists},
        )
        scored = music_scores(product.serving, product.snapshot, taste, user_index=int(user))
        allowed = np.ones(split.n_items, dtype=bool)
        allowed[items] = False
        chosen = top(scored.ranking, allowed, k)
        own = {entity for _, entity, _ in artists}
        for recommendation in explain_music(product.serving, product.snapshot, taste, scored, chosen):
            reasons.append((recommendation.explanation, own))
    return explanation_quality(reasons, product.snapshot)


def onboarding_run(
    *,
    dataset: InteractionDataset,
    models: Sequence[str],
    seeds: Sequence[int] = (0,),
    ks: Sequence[int] = (5, 10, 20),
    model_params: dict[str, dict[str, Any]] | None = None,
    reports_dir: Any = "reports",
    plots: bool = True,
    progress: bool = True,
    part: str = "test",
) -> OnboardingRun:
    """Fit every model on each seed's user-level split, score the held-out learners' picks, write one report.

    Reported: Recall/NDCG… @K overall and per genre family for both variants (``onboarding`` and
    ``onboarding_tags_only``), and the product's explanation quality (``explanations.json`` and a
    section of ``results.md``). ``part="validation"`` scores the validation learners instead (for choices).
    """
    import json
    from pathlib import Path

    from tqdm.auto import tqdm

    from recommender.evaluation.explanation_quality import quality_markdown
    from recommender.evaluation.report import write_report
    from recommender.explanations import current_snapshot
    from recommender.models.registry import PRODUCT_MODELS
    from recommender.registry import build_recommender, resolve_recommender_name

    if not models:
        raise ConfigurationError(
            "Name at least one model (e.g. --models most_popular item_knn content_tags leitmotif)."
        )
    if not seeds:
        raise ConfigurationError("Name at least one seed.")
    names = [resolve_recommender_name(m) for m in models]
    params = {resolve_recommender_name(k): v for k, v in (model_params or {}).items()}
    unable = [
        name
        for name in names
        if name not in PRODUCT_MODELS
        and not callable(
            getattr(build_recommender(name, dataset=dataset, params=params.get(name)), "score_picks", None)
        )
    ]
    if unable:  # before any training: a typo or an unsupported model fails at once
        raise ConfigurationError(
            f"{', '.join(unable)} cannot score a new learner's picks (no score_picks); the onboarding protocol runs "
            "most_popular, item_knn, content_tags and the product model."
        )
    snapshot = current_snapshot()
    assert dataset.side_info is not None  # from_catalog(store=...) gives it; onboarding_split checks too
    tag_entities = tag_entities_for(dataset.side_info.tag_names)
    instruments = instruments_of_tags(snapshot)
    artist_entities = list(dataset.sources.artist_entity_ids) if dataset.sources is not None else [""] * dataset.n_items
    results: list[EvaluationResult] = []
    explanations: dict[str, dict[str, float]] = {}
    for seed in seeds:
        split = onboarding_split(dataset, seed=seed, tag_entities=tag_entities, instrument_of_tag=instruments)
        for name in tqdm(names, desc=f"onboarding seed {seed}", unit="model", disable=not progress):
            model = build_recommender(name, dataset=dataset, params=params.get(name))
            started = time.perf_counter()
            model.fit(split.train_binary(), seed=seed, context=split.training_context(dataset.side_info))
            fit_seconds = round(time.perf_counter() - started, 2)
            product = None
            if name in PRODUCT_MODELS:
                serving = _product_serving(model, dataset, seed=seed, name=f"onboarding-{name}-seed{seed}")
                product = ProductOnboarding(serving, snapshot, artist_entities)
                scorer: PickScorer = product
            elif callable(getattr(model, "score_picks", None)):
                scorer = baseline_scorer(model)
            else:
                raise ConfigurationError(
                    f"{name} cannot score a new learner's picks (no score_picks); the onboarding protocol runs "
                    "most_popular, item_knn, content_tags and the product model."
                )
            for variant in VARIANTS:
                variant_results = evaluate_onboarding(scorer, split, model_name=name, variant=variant, part=part, ks=ks)
                for result in variant_results:
                    result.details["fit_seconds"] = fit_seconds
                results.extend(variant_results)
                if product is not None:
                    overall, families = onboarding_explanations(product, split, variant_results[0], variant=variant)
                    label = variant_results[0].split
                    explanations[f"{label} seed {seed}"] = overall
                    for family, metrics in families.items():
                        explanations[f"{label}/{family} seed {seed}"] = metrics
            if product is not None:
                explanations[f"warm listeners (Protocol T-style) seed {seed}"] = warm_explanations(
                    product, split, dataset, seed=seed
                )
    config = {
        "protocol": PROTOCOL_ONBOARDING,
        "part": part,
        "models": names,
        "seeds": list(seeds),
        "ks": list(ks),
        "model_params": params,
        "split": {key: value for key, value in split.config.items() if key != "seed"},
        "dataset": {"users": dataset.n_users, "items": dataset.n_items, "interactions": dataset.n_interactions},
    }
    report_dir = Path(write_report(results, config=config, reports_dir=reports_dir, plots=plots))
    if explanations:
        (report_dir / "explanations.json").write_text(json.dumps(explanations, indent=2) + "\n", encoding="utf-8")
        with open(report_dir / "results.md", "a", encoding="utf-8") as handle:
            handle.write("\n" + quality_markdown("Explanation quality (product, top 10 per learner)", explanations))
    return OnboardingRun(report_dir=report_dir, results=results, explanations=explanations)
