"""Reads behind the learner pages: onboarding candidates, search, neighbourhood pictures, card shapes.

Why a module of its own: the views stay thin (parse input, call one function, render), and each
function here takes the graph store as an argument, so tests drive them with a small real store.
Recommendations and history themselves come from :mod:`recommender.serving.selectors`; this module
only turns them into what a template can draw.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.db.models.functions import Lower
from django.urls import reverse

from accounts.services import CURATOR_GROUP
from catalog.models import Artist, Course, Interaction, Interest, Listener, Tag, Work
from catalog.selectors import tag_rule_artists
from core.errors import UnknownEntityError
from kg.schema import COURSE_TYPE, PERSON_TYPE, TEACHES_INSTRUMENT, WORK_TYPE
from kg.stores import EntityRecord, KnowledgeGraphStore, Neighbour, search_match_rank
from learning_platform.learn.graph_picture import GraphPicture, PictureInput, layout_neighbourhood
from learning_platform.learn.labels import (
    LEARNER_ENTITY_TYPES,
    LEARNER_RELATION_TYPES,
    anonymous_mention,
    is_placeholder_name,
    relation_label,
    source_label,
)
from learning_platform.learn.pieces import WorkLink, work_link
from recommender.explanations.quality import CURATED_TAG_RELATIONS, min_tag_artists, tag_name_is_non_descriptive
from recommender.explanations.rendering import ROLE_OPENINGS

#: Entity types a learner may pick during onboarding (seeds for cold-start recommendations).
INTEREST_TYPES: tuple[str, ...] = ("Artist", "Tag", "Instrument")
#: Fewer picks than this still work, but the page says more picks give better reasons.
SUGGESTED_PICKS = 3
MAX_PICKS = 50
MAX_QUERY_LENGTH = 100
#: Neighbours drawn around an entity: more than this and labels collide.
PICTURE_NEIGHBOURS = 14
#: Edges read from the store before choosing the ones to draw (a popular tag has thousands).
PICTURE_FETCH_LIMIT = 400
#: How a pick of an artist outside the model's KGCN subset will count, said next to it on the onboarding page.
NOT_IN_MODEL_TAGGED = " · recommends through its tags"
NOT_IN_MODEL_UNTAGGED = " · too little data to steer recommendations yet"
#: Matches read from the store before they are ranked for a person (see :func:`entities_ranked_search`).
SEARCH_CANDIDATES = 200
_SUGGESTIONS_CACHE_KEY = "learn:onboarding-suggestions:v2"
_SUGGESTIONS_TTL = 600


@dataclass(frozen=True)
class Candidate:
    """Something a learner can pick as an interest."""

    entity_id: str
    name: str
    type: str
    detail: str = ""


@dataclass(frozen=True)
class OnboardingSuggestions:
    artists: list[Candidate]
    tags: list[Candidate]
    instruments: list[Candidate]

    @property
    def groups(self) -> list[tuple[str, list[Candidate]]]:
        return [("Popular artists", self.artists), ("Popular tags", self.tags), ("Instruments", self.instruments)]


def is_named(entity: EntityRecord) -> bool:
    """``False`` for the anonymous KGCN entities whose "name" is only a placeholder (``Place kgcn:4057``)."""
    return entity.properties.get("named", True) is not False


def display_name(entity: EntityRecord) -> str:
    return entity.name if is_named(entity) else f"unnamed {entity.type.lower()}"


def is_presentable(entity: EntityRecord) -> bool:
    """Whether a learner page may show ``entity``: it has a real name and is about music or learning.

    Anonymous KGCN entities (``Film kgcn:3847``), names that are only an id, and Freebase's films,
    games, awards and the like (see :data:`~learning_platform.learn.labels.LEARNER_ENTITY_TYPES`) are
    true facts of the graph, but a learner can do nothing with "unnamed film" seven times over.
    """
    return is_named(entity) and not is_placeholder_name(entity.name, entity.id) and entity.type in LEARNER_ENTITY_TYPES


def noise_tag_ids(tags: Iterable[EntityRecord], *, exempt: Iterable[str] = ()) -> set[str]:
    """Ids of the tags among ``tags`` that describe nothing ("seen live", "awesome", "my top 20", one listener's tag).

    The rules are the recommender's (:mod:`recommender.explanations.quality`): its stoplist, personal or
    negated wording, an artist's own name, and a tag given to fewer artists than
    :func:`~recommender.explanations.quality.min_tag_artists` (counted in the catalogue's KGCN-linked
    artists, see :func:`catalog.selectors.tag_rule_artists`; a tag the catalogue does not know is not judged on support).
    Tags in ``exempt`` (linked to a course or an instrument, so matched against the genre and
    instrument vocabulary) are always kept.
    """
    keep = set(exempt)
    candidates = {t.id: t for t in tags if t.type == "Tag" and t.id not in keep}
    if not candidates:
        return set()
    names = {t.name.strip().lower() for t in candidates.values()}
    artists = tag_rule_artists()
    artist_names = set(
        artists.annotate(lower_name=Lower("name")).filter(lower_name__in=names).values_list("lower_name", flat=True)
    )
    noisy = {i for i, t in candidates.items() if tag_name_is_non_descriptive(t.name, artist_names)}
    support = dict(
        Tag.objects.filter(entity_id__in=[i for i in candidates if i not in noisy])
        .annotate(
            artists=Count("assignments__artist", distinct=True, filter=Q(assignments__artist__in=artists.values("pk")))
        )
        .values_list("entity_id", "artists")
    )
    if support:
        threshold = min_tag_artists(artists.count())
        noisy |= {entity_id for entity_id, n in support.items() if n < threshold}
    return noisy


def presentable_neighbours(neighbours: Sequence[Neighbour]) -> list[Neighbour]:
    """``neighbours`` without placeholder or non-music entities and without noise tags (see above)."""
    shown = [n for n in neighbours if is_presentable(n.entity)]
    curated = {n.entity.id for n in shown if n.relation.type in CURATED_TAG_RELATIONS}
    noisy = noise_tag_ids((n.entity for n in shown), exempt=curated)
    return [n for n in shown if n.entity.id not in noisy]


def onboarding_suggestions(*, store: KnowledgeGraphStore, limit: int = 12) -> OnboardingSuggestions:
    """Popular artists (of the model's KGCN-linked ones) and tags from the catalog, plus the graph's instruments.

    Why cached for a few minutes: the popularity counts scan the listening and tagging tables, and
    they do not change while a learner clicks through onboarding.
    """
    cached = cache.get(_SUGGESTIONS_CACHE_KEY)
    if cached is not None:
        return cached
    # The model's artists (KGCN-linked): the twelve most listened artists of the whole catalogue (Lady
    # Gaga, Britney Spears …) are all outside it and would only steer through their tags.
    artists = [
        Candidate(entity_id=a.entity_id, name=a.name, type="Artist", detail=f"{a.listeners} listeners")
        for a in tag_rule_artists()
        .annotate(listeners=Count("listens"))
        .filter(listeners__gt=0)
        .order_by("-listeners", "name")[:limit]
    ]
    # The most used tags include "seen live" and "favorites": fetch a few more and keep the descriptive ones.
    tags = [
        Candidate(entity_id=t.entity_id, name=t.name, type="Tag", detail=f"{t.uses} artists tagged")
        for t in Tag.objects.annotate(uses=Count("assignments__artist", distinct=True))
        .filter(uses__gt=0)
        .order_by("-uses", "name")[: limit * 3]
        if tag_name_is_non_descriptive(t.name) is None
    ][:limit]
    instruments = [
        Candidate(entity_id=e.id, name=e.name, type="Instrument")
        for e in store.iter_entities(types=["Instrument"])
        if is_named(e)
    ][: limit * 2]
    # Only keep picks that really are in the graph: interests_set refuses anything else.
    found = store.get_entities([c.entity_id for c in artists + tags])
    suggestions = OnboardingSuggestions(
        artists=[c for c in artists if c.entity_id in found],
        tags=[c for c in tags if c.entity_id in found],
        instruments=sorted(instruments, key=lambda c: c.name.lower()),
    )
    cache.set(_SUGGESTIONS_CACHE_KEY, suggestions, _SUGGESTIONS_TTL)
    return suggestions


def entity_popularity(entity_ids: Iterable[str]) -> dict[str, int]:
    """Listeners of each artist and artists of each tag among ``entity_ids`` (from the catalog; others absent)."""
    ids = list(set(entity_ids))
    popularity: dict[str, int] = dict(
        Artist.objects.filter(entity_id__in=ids).annotate(n=Count("listens")).values_list("entity_id", "n")
    )
    popularity.update(
        Tag.objects.filter(entity_id__in=ids)
        .annotate(n=Count("assignments__artist", distinct=True))
        .values_list("entity_id", "n")
    )
    return popularity


def _person_rank(query: str, name: str, aliases: Iterable[str], popularity: int) -> tuple[int, int, str]:
    rank = search_match_rank(query, name, aliases)
    return (rank if rank is not None else 99, -popularity, name.casefold())


def entities_ranked_search(
    query: str, *, store: KnowledgeGraphStore, types: Sequence[str] | None, limit: int
) -> list[EntityRecord]:
    """Graph entities matching ``query``, ranked for a person rather than by the store's name order.

    The store finds the matches (case and accents ignored, aliases included) and ranks exact, prefix,
    word start, substring, ties by name. With the whole HetRec catalogue that puts "Bachelor Girl"
    before Johann Sebastian Bach and "Camper Van Beethoven" before Ludwig van Beethoven, so the first
    :data:`SEARCH_CANDIDATES` matches are re-ranked here: exact, then the query as whole words of the
    name (:func:`~kg.stores.search_match_rank`), then prefix, word start, substring; ties by
    popularity (an artist's listeners, a tag's artists), then by name.
    """
    found = store.search_entities(query, types=list(types) if types else None, limit=max(limit, SEARCH_CANDIDATES))
    popularity = entity_popularity(e.id for e in found)
    found.sort(key=lambda e: (*_person_rank(query, e.name, e.aliases, popularity.get(e.id, 0)), e.id))
    return found[:limit]


def interest_candidates_search(query: str, *, store: KnowledgeGraphStore, limit: int = 30) -> list[Candidate]:
    """Artists, tags and instruments matching ``query``, best match and most popular first.

    Every HetRec artist can be picked, also the ones outside the KGCN subset the model is trained on
    (Chopin, Mozart). The detail says how many listeners or artists stand behind each pick and, for
    such an artist, how it will count: through its tags, or (with no tags) not yet at all.
    """
    entities = [e for e in entities_ranked_search(query, store=store, types=INTEREST_TYPES, limit=limit) if is_named(e)]
    popularity = entity_popularity(e.id for e in entities)
    outside_model = dict(
        Artist.objects.filter(entity_id__in=[e.id for e in entities if e.type == "Artist"], kgcn_entity__isnull=True)
        .annotate(tagged=Count("tag_assignments"))
        .values_list("entity_id", "tagged")
    )
    candidates = []
    for e in entities:
        count = popularity.get(e.id)
        detail = ""
        if count is not None and e.type == "Artist":
            detail = f"{count} listener{'s' if count != 1 else ''}"
            if e.id in outside_model:
                detail += NOT_IN_MODEL_TAGGED if outside_model[e.id] else NOT_IN_MODEL_UNTAGGED
        elif count is not None and e.type == "Tag":
            detail = f"{count} artist{'s' if count != 1 else ''} tagged"
        candidates.append(Candidate(entity_id=e.id, name=e.name, type=e.type, detail=detail))
    # A tag no listener gave to a catalogue artist ("bach", "beethoven": only on artist ids missing from
    # artists.dat) goes after the rest, however exactly it matches: it reaches no artist by its tags.
    unused = {e.id for e in entities if e.type == "Tag" and popularity.get(e.id) == 0}
    return [c for c in candidates if c.entity_id not in unused] + [c for c in candidates if c.entity_id in unused]


def interest_picks_resolve(
    entity_ids: Sequence[str], *, store: KnowledgeGraphStore
) -> tuple[list[EntityRecord], list[str]]:
    """The graph entities behind ``entity_ids`` and one message per id that cannot be an interest."""
    found = store.get_entities(entity_ids)
    problems: list[str] = []
    entities: list[EntityRecord] = []
    for entity_id in entity_ids:
        entity = found.get(entity_id)
        if entity is None:
            problems.append(f"{entity_id!r} is not in the knowledge graph; pick from the search results.")
        elif entity.type not in INTEREST_TYPES:
            problems.append(
                f"{entity.name!r} is a {entity.type}; interests are {', '.join(INTEREST_TYPES).lower()}s only."
            )
        else:
            entities.append(entity)
    return entities, problems


# --- search ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResults:
    query: str
    artists: list[Artist] = field(default_factory=list)
    courses: list[Course] = field(default_factory=list)
    tags: list[Candidate] = field(default_factory=list)
    works: list[WorkLink] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.artists or self.courses or self.tags or self.works)


def courses_search(
    query: str, *, store: KnowledgeGraphStore, instruments: Sequence[str] = (), limit: int = 20
) -> list[Course]:
    """Catalogue courses whose title matches ``query``, ranked like artists and works.

    Candidates are the catalogue's case-insensitive substring matches of the title plus the graph's
    Course matches (accents ignored: "violao" finds "Violão"). Ranked by
    :func:`~kg.stores.search_match_rank` of the title (exact, whole words, prefix, word start, inside a
    word: "piano" lists "Piano Chords" before "Pianoforte"), then courses teaching one of the learner's
    ``instruments`` (entity ids), then most subscribers, then title.
    """
    hits = store.search_entities(query, types=[COURSE_TYPE], limit=SEARCH_CANDIDATES)
    aliases = {e.id: e.aliases for e in hits}
    pks = set(Course.objects.filter(title__icontains=query).values_list("pk", flat=True)[:SEARCH_CANDIDATES])
    pks.update(Course.objects.filter(entity_id__in=list(aliases)).values_list("pk", flat=True))
    mine: set[str] = set()
    for instrument in dict.fromkeys(instruments):
        try:
            taught_by = store.neighbours(instrument, direction="in", relation_types=[TEACHES_INSTRUMENT])
        except UnknownEntityError:  # an instrument a curator removed: it simply matches nothing
            continue
        mine.update(n.entity.id for n in taught_by)

    def key(course: Course) -> tuple[int, bool, int, str, int]:
        rank = search_match_rank(query, course.title, aliases.get(course.entity_id, ()))
        return (
            rank if rank is not None else 99,
            course.entity_id not in mine,
            -course.subscribers,
            course.title.casefold(),
            course.pk,
        )

    return sorted(Course.objects.filter(pk__in=pks), key=key)[:limit]


def artists_search(query: str, *, store: KnowledgeGraphStore, limit: int = 20) -> list[Artist]:
    """Catalog artists matching ``query``: best match first, then most listeners, then name.

    Candidates are the graph's matches (accents and aliases: "chopin", "Frederic Chopin" and "szopen"
    once merged) plus the catalog's case-insensitive substring matches (an artist the graph does not
    hold yet), ranked by :func:`~kg.stores.search_match_rank` so "bach" lists Johann Sebastian Bach
    (whole word, 31 listeners) before Sebastian Bach (4) and both before "Bachman-Turner Overdrive".
    Each artist carries ``listeners`` (its number of Last.FM listeners).
    """
    hits = store.search_entities(query, types=["Artist"], limit=SEARCH_CANDIDATES)
    aliases = {e.id: e.aliases for e in hits}
    pks = set(Artist.objects.filter(name__icontains=query).values_list("pk", flat=True)[:SEARCH_CANDIDATES])
    pks.update(Artist.objects.filter(entity_id__in=list(aliases)).values_list("pk", flat=True))
    artists: list[Artist] = list(Artist.objects.filter(pk__in=pks).annotate(listeners=Count("listens")))
    artists.sort(
        key=lambda a: (*_person_rank(query, a.name, aliases.get(a.entity_id, ()), getattr(a, "listeners", 0)), a.pk)
    )
    return artists[:limit]


def works_search(query: str, *, store: KnowledgeGraphStore, limit: int = 20) -> list[WorkLink]:
    """Catalogue works whose title or composer matches ``query``, best match first.

    Candidates are the catalogue's case-insensitive substring matches of the title or the composer's
    name, plus the graph's matches (accents and aliases ignored: "dvorak" finds Dvořák's works, a
    composer's other spellings find theirs): works by id, composers (``Person``) by name or alias.
    Each work ranks by the better of its title's and its composer's
    :func:`~kg.stores.search_match_rank` (so "bach" lists Bach's works before "Bachianas Brasileiras"),
    a title match before a composer match of the same rank; ties by composer, then title.
    """
    hits = store.search_entities(query, types=[WORK_TYPE, PERSON_TYPE], limit=SEARCH_CANDIDATES)
    work_ids = [e.id for e in hits if e.type == WORK_TYPE]
    # A composer's name as the catalogue writes it -> the spellings the graph knows for them.
    composer_aliases: dict[str, tuple[str, ...]] = {}
    for person in (e for e in hits if e.type == PERSON_TYPE):
        for spelling in (person.name, *person.aliases):
            composer_aliases[spelling] = (person.name, *person.aliases)
    title_aliases = {e.id: e.aliases for e in hits if e.type == WORK_TYPE}
    pks = set(Work.objects.filter(title__icontains=query).values_list("pk", flat=True)[:SEARCH_CANDIDATES])
    pks.update(Work.objects.filter(composer_name__icontains=query).values_list("pk", flat=True)[:SEARCH_CANDIDATES])
    pks.update(
        Work.objects.filter(Q(entity_id__in=work_ids) | Q(composer_name__in=list(composer_aliases))).values_list(
            "pk", flat=True
        )[:SEARCH_CANDIDATES]
    )

    def key(work: Work) -> tuple[int, int, str, str, int]:
        by_title = search_match_rank(query, work.title, title_aliases.get(work.entity_id, ()))
        by_composer = (
            search_match_rank(query, work.composer_name, composer_aliases.get(work.composer_name, ()))
            if work.composer_name
            else None
        )
        ranks = [(r, source) for source, r in enumerate((by_title, by_composer)) if r is not None]
        rank, source = min(ranks) if ranks else (99, 2)
        return (rank, source, work.composer_name.casefold(), work.title.casefold(), work.pk)

    works = sorted(Work.objects.filter(pk__in=pks), key=key)
    return [work_link(w) for w in works[:limit]]


def catalog_search(
    query: str, *, store: KnowledgeGraphStore, limit: int = 20, instruments: Sequence[str] = ()
) -> SearchResults:
    """Artists, courses, works, tags and instruments matching ``query``.

    Artists: :func:`artists_search` (every HetRec artist, best match then most listened). Courses:
    :func:`courses_search` (the same match ranking; the learner's ``instruments`` break ties). Works:
    :func:`works_search` (title or composer). Tags, instruments and concepts: the graph's search,
    re-ranked by :func:`entities_ranked_search`.
    """
    query = " ".join(query.split())
    if not query:
        return SearchResults(query="")
    artists = artists_search(query, store=store, limit=limit)
    courses = courses_search(query, store=store, instruments=instruments, limit=limit)
    tags = [
        Candidate(entity_id=e.id, name=e.name, type=e.type)
        for e in entities_ranked_search(query, store=store, types=["Tag", "Instrument", "Concept"], limit=limit)
        if is_named(e)
    ]
    works = works_search(query, store=store, limit=limit)
    return SearchResults(query=query, artists=artists, courses=courses, tags=tags, works=works)


# --- pages of one artist or course ----------------------------------------------------------


def catalog_urls(entity_ids: Iterable[str]) -> dict[str, str]:
    """Page address of every artist or course among ``entity_ids`` (other entities have no page)."""
    ids = list(set(entity_ids))
    urls: dict[str, str] = {}
    for pk, entity_id in Artist.objects.filter(entity_id__in=ids).values_list("pk", "entity_id"):
        urls[entity_id] = reverse("learn:artist", args=[pk])
    for pk, entity_id in Course.objects.filter(entity_id__in=ids).values_list("pk", "entity_id"):
        urls[entity_id] = reverse("learn:course", args=[pk])
    return urls


def choose_neighbours(neighbours: Sequence[Neighbour], limit: int) -> list[tuple[EntityRecord, list[tuple[str, str]]]]:
    """Up to ``limit`` distinct neighbours, taken round-robin over relation types.

    Why round-robin: the store orders edges by relation type, so simply cutting the list would show
    27 ``HAS_TAG`` edges and hide the one ``ORIGIN`` or ``TEACHES_INSTRUMENT`` edge that says most.
    Within a type, edges with a higher ``count`` property (how often a tag was given) come first, then
    named entities before anonymous KGCN placeholders. Several edges to one
    neighbour are drawn as one line carrying every relation type.
    """
    by_entity: dict[str, list[tuple[str, str]]] = defaultdict(list)
    entities: dict[str, EntityRecord] = {}
    weight: dict[str, float] = defaultdict(float)
    groups: dict[str, list[str]] = defaultdict(list)
    for n in neighbours:
        if n.entity.id not in entities:
            groups[n.relation.type].append(n.entity.id)
        entities[n.entity.id] = n.entity
        by_entity[n.entity.id].append((n.relation.type, n.direction))
        count = n.relation.properties.get("count", 0)
        weight[n.entity.id] += float(count) if isinstance(count, (int, float)) else 0.0
    for ids in groups.values():
        # The most used first where the edge counts uses (an artist's most given tags), then named before anonymous.
        ids.sort(key=lambda i: (-weight[i], not is_named(entities[i]), entities[i].name.lower(), i))
    chosen: list[str] = []
    seen: set[str] = set()
    queues = [list(ids) for _, ids in sorted(groups.items())]
    while len(chosen) < limit and any(queues):
        for queue in queues:
            while queue and queue[0] in seen:
                queue.pop(0)
            if queue and len(chosen) < limit:
                entity_id = queue.pop(0)
                seen.add(entity_id)
                chosen.append(entity_id)
    # Draw grouped by relation type so edges of one type sit side by side on the ring.
    chosen.sort(key=lambda i: (by_entity[i][0][0], entities[i].name.lower(), i))
    return [(entities[i], by_entity[i]) for i in chosen]


def neighbourhood_picture(
    entity_id: str, *, store: KnowledgeGraphStore, limit: int = PICTURE_NEIGHBOURS
) -> GraphPicture | None:
    """The picture of ``entity_id`` and up to ``limit`` neighbours; ``None`` if the entity is not in the graph."""
    entity = store.get_entity(entity_id)
    if entity is None:
        return None
    # What a learner cannot use (placeholders, films, noise tags) is left out before choosing, so the
    # slots go to real neighbours and "n of m connections" counts only what could be shown.
    fetched = store.neighbours(
        entity_id, direction="both", relation_types=sorted(LEARNER_RELATION_TYPES), limit=PICTURE_FETCH_LIMIT
    )
    neighbours = presentable_neighbours(fetched)
    chosen = choose_neighbours(neighbours, limit)
    urls = catalog_urls(e.id for e, _ in chosen)
    inputs = [
        PictureInput(entity_id=e.id, name=display_name(e), type=e.type, relations=tuple(rels), url=urls.get(e.id))
        for e, rels in chosen
    ]
    return layout_neighbourhood(
        centre_id=entity.id,
        centre_name=display_name(entity),
        centre_type=entity.type,
        neighbours=inputs,
        total_edges=len(neighbours),
    )


def artist_tags(artist: Artist, *, store: KnowledgeGraphStore, limit: int = 15) -> list[Candidate]:
    """The artist's descriptive tags from the graph, most used first (the HAS_TAG edge keeps how often it was given)."""
    if store.get_entity(artist.entity_id) is None:
        return []
    edges = store.neighbours(artist.entity_id, direction="out", relation_types=["HAS_TAG"], limit=PICTURE_FETCH_LIMIT)
    edges = sorted(
        presentable_neighbours(edges),
        key=lambda n: (-int(n.relation.properties.get("count", 1) or 1), n.entity.name.lower()),
    )
    return [Candidate(entity_id=n.entity.id, name=n.entity.name, type=n.entity.type) for n in edges[:limit]]


def artist_listener_count(artist: Artist) -> int:
    return artist.listens.count()


def artist_total_plays(artist: Artist) -> int:
    return int(artist.listens.aggregate(total=Sum("play_count"))["total"] or 0)


def last_interaction(
    listener: Listener | None, *, artist: Artist | None = None, course: Course | None = None
) -> Interaction | None:
    """The learner's latest like/skip of ``artist`` or enrolment in ``course`` (to show the button state)."""
    if listener is None:
        return None
    target = Q(artist=artist) if artist is not None else Q(course=course)
    return Interaction.objects.filter(target, listener=listener).order_by("-created_at", "-id").first()


# --- recommendation cards -------------------------------------------------------------------


@dataclass(frozen=True)
class Chip:
    """One piece of an explanation path: an entity (``kind='node'``) or a relation between two."""

    kind: str
    #: What the page shows: an entity's name, or a relation's words read from the previous node to the
    #: next ("tagged" forward, "tag of" backward; see :mod:`.labels`), never the raw relation type.
    label: str
    type: str = ""
    #: For relations: "→" when the edge points from the previous node to the next, else "←".
    arrow: str = ""
    #: For relations: the stored relation type (``HAS_TAG``), kept for code, not shown to learners.
    relation: str = ""


@dataclass(frozen=True)
class RecommendationCard:
    """What a recommendation card draws. No score: the rank says the order, ``source`` says where it comes from."""

    rank: int
    kind: str
    entity_id: str
    title: str
    url: str
    artist: Artist | None
    course: Course | None
    sentence: str
    basis: str
    paths: list[list[Chip]]
    subtitle: str = ""
    #: Where the recommendation comes from, in words ("From your picks"); empty when there is nothing to say.
    source: str = ""


def _value(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def path_chips(path: Any) -> list[Chip]:
    """An explanation path (nodes and edges) as alternating entity and relation chips."""
    nodes = list(_value(path, "nodes", []) or [])
    edges = list(_value(path, "edges", []) or [])
    chips: list[Chip] = []
    for index, node in enumerate(nodes):
        name, entity_type = str(_value(node, "name", "") or ""), str(_value(node, "type", ""))
        if is_placeholder_name(name, str(_value(node, "id", ""))):
            name = anonymous_mention(entity_type)  # "a film", never "Film kgcn:3847" or an id
        chips.append(Chip(kind="node", label=name, type=entity_type))
        if index < len(edges):
            edge = edges[index]
            forward = (
                _value(edge, "head") == _value(node, "id")
                if _value(edge, "head")
                else _value(edge, "direction") != "backward"
            )
            relation = str(_value(edge, "type", ""))
            chips.append(
                Chip(
                    kind="edge",
                    label=relation_label(relation, "forward" if forward else "backward"),
                    arrow="→" if forward else "←",
                    relation=relation,
                )
            )
    return chips


def duration_text(hours: float | None) -> str:
    """A course length as a learner reads it: "41 min", "1.5 h" (never "0.683333 h")."""
    if not hours:
        return "length not given"
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    return f"{round(hours, 1):g} h"


def sentence_role(sentence: str) -> str:
    """The listener's role towards the start of a graph explanation, read off its opening ("You picked …" → ``interest``)."""
    for role, opening in ROLE_OPENINGS.items():
        if sentence.startswith(f"{opening} "):
            return role
    return ""


def recommendation_cards(recommendations: Iterable[Any]) -> list[RecommendationCard]:
    """Serving's ``Recommendation`` objects as cards: title, link, reason sentence and path chips."""
    cards: list[RecommendationCard] = []
    for rec in recommendations:
        explanation = rec.explanation
        paths = [path_chips(p) for p in (_value(explanation, "paths", []) or [])]
        if rec.course is not None:
            course = rec.course
            title, url = course.title, reverse("learn:course", args=[course.pk])
            subtitle = (
                f"{course.get_level_display()} · {course.lectures} lectures · {duration_text(course.duration_hours)}"
            )
        elif rec.artist is not None:
            title, url, subtitle = rec.artist.name, reverse("learn:artist", args=[rec.artist.pk]), ""
        else:  # pragma: no cover - serving always attaches the catalog row
            title, url, subtitle = rec.entity_id, "", ""
        sentence = str(_value(explanation, "sentence", "") or "")
        basis = str(_value(explanation, "basis", "") or "")
        cards.append(
            RecommendationCard(
                rank=rec.rank,
                kind=rec.kind,
                entity_id=rec.entity_id,
                title=title,
                url=url,
                artist=rec.artist,
                course=rec.course,
                sentence=sentence,
                basis=basis,
                paths=[p for p in paths if p],
                subtitle=subtitle,
                source=source_label(basis, sentence_role(sentence)),
            )
        )
    return cards


@dataclass(frozen=True)
class UnderstandingChip:
    """One understood piece of a request, with the link that asks again without it."""

    role: str
    text: str
    name: str
    source: str
    remove_url: str


def understanding_chips(
    parsed: Any, *, text: str, drop: Sequence[str], level: str | None, kind: str | None
) -> list[UnderstandingChip]:
    """Chips for "how we understood your request"; each links to the same request with that piece dropped.

    A mood word ("calm") is also linked by the parser to the Last.FM tag of the same word (role
    ``genre``, source ``lexicon``, the mood's span); the recommender reads that tag as part of the mood
    (:mod:`recommender.understanding.constraints`), so it gets no chip of its own, and removing the mood
    drops it too (otherwise the tag would come back as a genre).
    """
    base = {"q": text, **({"level": level} if level is not None else {}), **({"kind": kind} if kind else {})}
    moods = [item for item in parsed.understood if item.role == "mood"]
    # The tag each mood word names: same span, linked by the lexicon.
    mood_tags: dict[tuple[int, int], list[str]] = defaultdict(list)
    folded_in: set[int] = set()
    for item in parsed.understood:
        if (
            item.role == "genre"
            and item.source == "lexicon"
            and any((m.start, m.end) == (item.start, item.end) for m in moods)
        ):
            mood_tags[(item.start, item.end)].append(item.value)
            folded_in.add(id(item))
    chips = []
    for item in parsed.understood:
        if item.role == "kind" or id(item) in folded_in:
            continue
        dropped = [item.value, *(mood_tags.get((item.start, item.end), []) if item.role == "mood" else [])]
        params = list(base.items()) + [("drop", d) for d in dict.fromkeys((*drop, *dropped))]
        if item.role == "level":
            params = [(k, v) for k, v in params if k not in {"level", "drop"} or (k == "drop" and v != item.value)] + [
                ("level", "")
            ]
        chips.append(
            UnderstandingChip(
                role=item.role,
                text=item.text,
                name=item.name,
                source=item.source,
                remove_url=f"{reverse('learn:ask')}?{urlencode(params)}",
            )
        )
    return chips


# --- who sees what --------------------------------------------------------------------------------


def is_curator(user: Any) -> bool:
    """Staff, superusers and members of the curator group: they see the data dashboard and the admin link."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser:
        return True
    return bool(user.groups.filter(name=CURATOR_GROUP).exists())


@dataclass(frozen=True)
class HomeNumbers:
    artists: int
    courses: int


def home_numbers() -> HomeNumbers:
    """The two counts the welcome page quotes (what there is to discover), from the catalogue."""
    return HomeNumbers(artists=Artist.objects.count(), courses=Course.objects.count())


def home_interests(user: Any, *, limit: int = 8) -> list[Interest]:
    """The signed-in learner's first picks, for "because you like …" on the welcome page (none for visitors)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(Interest.objects.filter(listener__user=user).order_by("name")[:limit])
