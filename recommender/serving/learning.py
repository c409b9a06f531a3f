"""What serving needs for re-ranking and for scoring a returned list: item moods, tags and curriculum links.

Why a module of its own: :mod:`.selectors` ranks and explains; this module turns the request's
``rerank`` / ``unit`` / ``mood`` parameters into checked values and keeps, per published model and
graph snapshot, the item facts the re-rankers (:mod:`recommender.reranking`) and the list metrics
(:mod:`recommender.evaluation.learning_metrics`) read — the same functions offline evaluation uses, so a
list's EMS/ERS in the API means what it means in a report.

Item facts, built once and cached (a request only slices them):

* **artists** — tag-assignment counts per (artist, tag) from the catalog (``TagAssignment``, the same
  counts the model's side information uses) give the tag vectors (diversity) and the mood
  distributions (mood lexicon); curriculum links come from the graph snapshot
  (:func:`~recommender.evaluation.concepts.concept_links_from_snapshot`);
* **courses** — their graph neighbours (tags, instruments, concepts, level) are the feature vector; their
  moods are those of the tags they cover (rarely any: course tags are genres); popularity = subscribers.

Request rules:

* ``rerank`` is ``NAME[:STRENGTH]`` (strength 0–1). Without it, a given ``unit`` means ``unit:0.5``,
  else a given ``mood`` means ``mood:0.5``, else no re-ranking.
* ``unit`` lists concept ids (``leitmotif:concept:<slug>``, comma-separated in the API). Without it,
  EMS and the ``unit`` re-ranker use the learner's own unit (the concepts associated with their most
  frequent curriculum-linked tags); a learner whose artists reach no concept has no unit (EMS ``null``).
* ``mood`` lists moods of the lexicon (``calm,happy``); the preference replaces the learner's mood
  profile (mean mood of their artists) for the ``mood`` re-ranker and for ERS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from core.caches import ProcessCache
from core.errors import ConfigurationError, RecommendationRequestError
from recommender.evaluation import learning_metrics as LM
from recommender.evaluation.concepts import CONCEPT_PREFIX, ConceptLinks, concept_links_from_snapshot
from recommender.evaluation.moods import MoodLexicon, item_mood_distributions, load_mood_lexicon, mood_profile
from recommender.reranking import RerankSpec, parse_rerank

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recommender.explanations import GraphSnapshot
    from recommender.serving.course_table import CourseTable
    from recommender.serving.model_holder import ServingModel

#: Default re-ranking when the request names a unit / a mood but no ``rerank``.
UNIT_DEFAULT_RERANK = "unit:0.5"
MOOD_DEFAULT_RERANK = "mood:0.5"
#: Most concepts one unit may name (a unit is a lesson's worth of concepts, not the whole curriculum).
MAX_UNIT_CONCEPTS = 50


@dataclass(frozen=True)
class ListRequest:
    """The checked ``rerank`` / ``unit`` / ``mood`` of one request."""

    rerank: RerankSpec
    unit: tuple[str, ...] | None  # concept ids as asked (None: the learner's own unit)
    mood: tuple[str, ...] | None


def _split(value: str | Sequence[str] | None, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        parts = [p.strip() for v in value for p in v.split(",")]
    else:
        raise RecommendationRequestError(f"{what} must be text (comma-separated), got {value!r}.")
    parts = [p for p in parts if p]
    if not parts:
        raise RecommendationRequestError(f"{what} is empty: leave it out or name at least one value.")
    return tuple(dict.fromkeys(parts))


def list_request(rerank: str | None, unit: str | Sequence[str] | None, mood: str | Sequence[str] | None) -> ListRequest:
    """Check the three parameters' syntax and the mood names; concept ids are checked against the graph later."""
    units = _split(unit, "unit")
    if units is not None:
        if len(units) > MAX_UNIT_CONCEPTS:
            raise RecommendationRequestError(f"a unit may name at most {MAX_UNIT_CONCEPTS} concepts, got {len(units)}.")
        bad = [c for c in units if not c.startswith(CONCEPT_PREFIX)]
        if bad:
            raise RecommendationRequestError(
                f"unit must list concept ids such as {CONCEPT_PREFIX}scales (comma-separated); {', '.join(map(repr, bad))} "
                f"{'is' if len(bad) == 1 else 'are'} not. Find concept ids with /api/v1/entities/?type=Concept&q=NAME."
            )
    moods = _split(mood, "mood")
    if moods is not None:
        try:
            lexicon().preference(moods)
        except ConfigurationError as exc:
            raise RecommendationRequestError(f"mood: {exc.message}") from None
    if rerank is not None and not isinstance(rerank, str):
        raise RecommendationRequestError(f"rerank must be text such as popularity:0.5, got {rerank!r}.")
    if rerank is None or not rerank.strip():
        rerank = UNIT_DEFAULT_RERANK if units is not None else MOOD_DEFAULT_RERANK if moods is not None else "none"
    try:
        spec = parse_rerank(rerank)
    except ConfigurationError as exc:
        raise RecommendationRequestError(f"rerank: {exc.message}") from None
    return ListRequest(rerank=spec, unit=units, mood=tuple(m.lower() for m in moods) if moods else None)


def lexicon() -> MoodLexicon:
    return load_mood_lexicon()


@dataclass(frozen=True, eq=False)
class ItemFacts:
    """Facts about one kind of item (artists of a model, or the courses of a table), aligned with its index."""

    popularity: np.ndarray
    features: sp.csr_matrix  # L2-normalised
    moods: np.ndarray
    concepts: ConceptLinks

    def unit_indices(self, concept_ids: Sequence[str]) -> np.ndarray:
        try:
            return self.concepts.unit_indices(concept_ids)
        except ConfigurationError as exc:
            raise RecommendationRequestError(
                f"unit: {exc.message} Find concept ids with /api/v1/entities/?type=Concept&q=NAME."
            ) from None

    def scores(
        self, items: Sequence[int] | np.ndarray, *, unit: np.ndarray | None, profile: np.ndarray | None
    ) -> dict[str, Any]:
        """EMS and ERS of a returned list (``None`` where undefined; see the metric definitions)."""
        match = (
            LM.educational_match(items, self.concepts.dense_item_concepts, unit)
            if unit is not None and len(unit)
            else None
        )
        ers = LM.emotional_resonance(items, self.moods, profile)
        return {
            "ems": None if match is None else round(match.ems, 4),
            "ers": None if ers is None else round(ers, 4),
        }


#: Artist facts of the latest (model, snapshot version); the key's strong reference to the model keeps
#: a reused ``id`` from ever matching.
_MUSIC: ProcessCache[tuple[ServingModel, str], ItemFacts] = ProcessCache()
#: Course facts of the latest (course table, snapshot version).
_COURSES: ProcessCache[tuple[CourseTable, str], ItemFacts] = ProcessCache()


def forget() -> None:
    """Drop the cached facts (tests; the selectors' ``snapshot_forget`` calls it)."""
    _MUSIC.clear()
    _COURSES.clear()


def music_facts(serving: ServingModel, snapshot: GraphSnapshot) -> ItemFacts:
    """Artist facts for the published model's items, built once per (model, snapshot)."""
    return _MUSIC.get((serving, snapshot.version), lambda: _build_music_facts(serving, snapshot))


def _build_music_facts(serving: ServingModel, snapshot: GraphSnapshot) -> ItemFacts:
    from django.db.models import Count

    from catalog.models import Artist, TagAssignment

    item_ids = [int(pk) for pk in serving.item_ids]
    index = {pk: i for i, pk in enumerate(item_ids)}
    rows = list(
        TagAssignment.objects.filter(artist_id__in=item_ids)
        .values("artist_id", "tag_id", "tag__name")
        .annotate(n=Count("id"))
        .order_by("tag_id", "artist_id")
    )
    tag_column: dict[int, int] = {}
    tag_names: list[str] = []
    for row in rows:
        if row["tag_id"] not in tag_column:
            tag_column[row["tag_id"]] = len(tag_names)
            tag_names.append(row["tag__name"])
    counts = sp.csr_matrix(
        (
            np.asarray([r["n"] for r in rows], dtype=np.float64),
            (
                np.asarray([index[r["artist_id"]] for r in rows], dtype=np.int64),
                np.asarray([tag_column[r["tag_id"]] for r in rows], dtype=np.int64),
            ),
        ),
        shape=(len(item_ids), len(tag_names)),
    )
    entity_of = dict(Artist.objects.filter(pk__in=item_ids).values_list("pk", "entity_id"))
    model = serving.model
    popularity = np.asarray(getattr(model.inputs, "item_popularity", np.zeros(0)), dtype=np.float64)
    if popularity.shape != (len(item_ids),):
        popularity = np.asarray(counts.getnnz(axis=1), dtype=np.float64)  # no training counts: how widely tagged
    return ItemFacts(
        popularity=popularity,
        features=LM.normalised_features(counts),
        moods=item_mood_distributions(counts, tag_names, lexicon()),
        concepts=concept_links_from_snapshot(snapshot, [entity_of.get(pk, "") for pk in item_ids]),
    )


def course_facts(table: CourseTable, snapshot: GraphSnapshot, adjacency: sp.csr_matrix) -> ItemFacts:
    """Course facts for a course table (:class:`.course_table.CourseTable`), built once per table and snapshot."""
    return _COURSES.get((table, snapshot.version), lambda: _build_course_facts(table, snapshot, adjacency))


def _build_course_facts(table: CourseTable, snapshot: GraphSnapshot, adjacency: sp.csr_matrix) -> ItemFacts:
    entity_ids = [table.rows[int(pk)].entity_id for pk in table.pks]
    concepts = concept_links_from_snapshot(snapshot, entity_ids)
    tag_names = [snapshot.names[snapshot.node_index[t]] for t in concepts.tag_ids]
    features = (
        sp.csr_matrix(adjacency[np.asarray(table.nodes, dtype=np.int64)], dtype=np.float64)
        if len(table.nodes)
        else sp.csr_matrix((0, adjacency.shape[1]))
    )
    return ItemFacts(
        popularity=np.asarray([table.rows[int(pk)].subscribers or 0 for pk in table.pks], dtype=np.float64),
        features=LM.normalised_features(features),
        moods=item_mood_distributions(concepts.item_tags, tag_names, lexicon()),
        concepts=concepts,
    )


def learner_targets(
    request: ListRequest, music: ItemFacts, facts: ItemFacts, history_items: Sequence[int]
) -> tuple[np.ndarray | None, tuple[str, ...], np.ndarray | None]:
    """(unit concept indices or None, the unit's concept ids, mood profile or None) for a learner.

    The learner's own unit and mood profile come from their artists (``history_items``, model item
    indices) through the *artist* facts, also when courses are ranked: taste lives in the listening.
    """
    if request.unit is not None:
        unit = facts.unit_indices(request.unit)
    else:
        own = (
            music.concepts.default_unit_for_items(history_items) if len(history_items) else np.zeros(0, dtype=np.int64)
        )
        if (
            facts is music or facts.concepts.concept_ids == music.concepts.concept_ids
        ):  # one snapshot: one concept order
            unit = own
        else:
            unit = (
                facts.concepts.unit_indices([music.concepts.concept_ids[c] for c in own.tolist()]) if len(own) else own
            )
    ids = facts.concepts.concept_ids
    unit_ids = tuple(ids[c] for c in unit.tolist())
    profile: np.ndarray | None
    if request.mood is not None:
        profile = lexicon().preference(request.mood)
    else:
        profile = mood_profile(music.moods, np.asarray(history_items, dtype=np.int64)) if len(history_items) else None
    if profile is not None and not np.any(profile > 0):
        profile = None
    return (unit if len(unit) else None), unit_ids, profile
