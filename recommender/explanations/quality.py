"""Which graph nodes make a *descriptive* reason, and which are noise (personal Last.FM tags).

Last.FM tags are free text typed by users. Many are genres, instruments or places ("blues", "piano",
"british"), but many are personal labels: a status ("seen live", "albums i own"), praise ("awesome",
"fuck yeah"), a private list ("raven girls top 20"), a placeholder ("none") or an artist's own name
("madonna" on Madonna). Such a tag is a *true* edge, but "you listen to Girls Aloud, which has tag
"raven girls top 20", and so does Kings of Leon" explains nothing. This module flags those tags with
signals taken from the data itself, not from a hand-made list of good tags:

1. **Stoplist** (:data:`NON_DESCRIPTIVE_TAGS`): a deliberately short list of words that say how a user
   feels about, or what they did with, an artist, not what the music is — placeholders, personal
   status/collection labels and pure praise. Only exact (normalised) names are listed, so "love metal"
   (a genre) is not caught by "love".
2. **Personal phrasing** (:data:`PERSONAL_PATTERN`): first-person words ("my", "i"), favourites and
   numbered lists ("top 20") mark a tag as one user's list; more than :data:`MAX_CATEGORY_WORDS` words
   marks a sentence ("music to listen to by a forest river at night"), not a category.
3. **Negation** (:data:`NEGATION_PATTERN`): "not emo", "not-metal" say what the music is *not*; two
   artists sharing one are not alike for it ("Sufjan Stevens has tag "not-emo" → Modest Mouse has tag
   "not-emo"" was a real explanation before this rule).
4. **An artist's name**: a tag equal (case-insensitively) to the name of an Artist in the graph names
   the artist, it does not describe them.
5. **Dates and favourites**: a tag that is only a year or a date ("1995", "2008", "10/10") or a
   favourites word in any spelling ("fave", "faves", "myfavoritesongs") says when a listener met the
   music or that they like it, not what it is ("electronic → Red Hot Chili Peppers via the tag
   "1995"" was a real onboarding recommendation before this rule). Decades ("80s", "90s") stay: an era
   is a category.
6. **Low support**: a tag carried by fewer than :func:`min_tag_artists` artists (one artist in a
   thousand, never fewer than 2) is one listener's idiosyncrasy rather than a shared category; half of
   the 4,026 Last.FM tags are on a single artist. Relative to the catalogue so a small graph (tests,
   a fresh install) is not judged by the full catalogue's numbers.

**Curated tags are exempt.** A tag that the course loader linked to a course (``COVERS_TAG``) or to an
instrument (``ABOUT_INSTRUMENT``) was matched against a vocabulary of genres and instruments, so it is a
descriptive category whatever the rules above say ("bluegrass" is on 12 artists, "blues guitar" on 4);
the structural scorer also prefers them a little (:data:`CURATED_TAG_BONUS`).

Only ``Tag`` nodes are judged: artists, courses, instruments, concepts and (anonymous) Freebase genres
and places are real entities, not user labels.

**Passable nodes.** Apart from noise, a reason may never pass through a node a learner cannot read as
music (:data:`MUSIC_NODE_TYPES`; films, games, awards, languages are true facts but not about music)
or one known only by a placeholder name ("Film kgcn:3847", or its own id): :attr:`NodeQuality.passable` is False for
both and the path search (:mod:`.paths`) never uses them as intermediates. The same flags drive the
explanation-quality metric (:mod:`recommender.evaluation.explanation_quality`), so what is measured is
what serving avoids. The learner pages' filter (``learning_platform/learn/labels.py``) uses the same set.
"""

from __future__ import annotations

import math
import re

import numpy as np

from core.caches import ProcessCache
from recommender.explanations.snapshot import ANONYMOUS_NAME_PATTERN, GraphSnapshot

TAG_TYPE = "Tag"

#: Exact tag names (lower-case, single spaces) that are never a reason on their own.
NON_DESCRIPTIVE_TAGS: frozenset[str] = frozenset(
    {
        # placeholders
        "none",
        "other",
        "others",
        "misc",
        "unknown",
        "various",
        "all",
        "music",
        # what the listener did or owns
        "seen live",
        "albums i own",
        "check out",
        "to listen",
        "to check out",
        "spotify",
        "owned",
        "want to see live",
        "under 2000 listeners",
        "favorites",
        "favourites",
        "favorite",
        "favourite",
        "fav",
        "favs",
        # how the listener feels about it
        "love",
        "loved",
        "awesome",
        "amazing",
        "beautiful",
        "cool",
        "good",
        "great",
        "best",
        "fuck yeah",
        "sexy",
        "fun",
        "addiction",
        "perfect",
        "brilliant",
        "genius",
        "epic",
        "great lyrics",
        "lovely",
        "nice",
        "love at first listen",
        "wow",
        "legend",
        "legends",
    }
)

#: A year, a date or a score ("1995", "2008", "10/10", "01.02.2009"): when or how much, not what.
DATE_PATTERN = re.compile(r"^[\d\s./:-]+$")

#: Favourites in any spelling, also glued to other words ("fave", "faves", "myfavoritesongs", "favorito").
FAVOURITE_PATTERN = re.compile(r"fav(?:ou?rit|es?\b|s?\b)")

#: Entity types a reason may pass through: music, the catalogue and the curriculum (the learner pages'
#: ``LEARNER_ENTITY_TYPES``). Freebase's films, games, awards, languages, ratings, companies, professions
#: and time zones are true facts but say nothing about the music.
MUSIC_NODE_TYPES: frozenset[str] = frozenset(
    {
        "Artist",
        "Tag",
        "Course",
        "Level",
        "Instrument",
        "Concept",
        "Work",
        "Person",
        "Era",
        "Form",
        "Key",
        "Metre",
        "Collection",
        "Genre",
        "Album",
        "Track",
        "MusicalArtist",
        "Place",
    }
)

#: First-person, favourites and numbered-list wording: one user's private list, not a category.
PERSONAL_PATTERN = re.compile(r"\b(?:my|i|me|favou?rites?|favs?|top ?\d+)\b")

#: A tag that starts with "not" ("not emo", "not-metal") names what the music is not ("nothing …" is not caught).
NEGATION_PATTERN = re.compile(r"^not\b")

#: Genre, instrument and place names are short noun phrases; a longer tag is a sentence.
MAX_CATEGORY_WORDS = 4

#: A tag must be on at least this share of the graph's artists (and on at least 2) to count as shared.
MIN_TAG_ARTIST_SHARE = 0.001

#: Relations by which the course loader marks a tag as a recognised genre/instrument (see module doc).
CURATED_TAG_RELATIONS = ("COVERS_TAG", "ABOUT_INSTRUMENT")

#: Factor the structural scorer applies to curated tags (genres and instruments are the best reasons).
CURATED_TAG_BONUS = 1.5


def normalise_name(name: str) -> str:
    return " ".join(name.lower().split())


def min_tag_artists(n_artists: int) -> int:
    """Fewest artists a tag must be on to count as a shared category (see rule 5 in the module doc)."""
    return max(2, math.ceil(MIN_TAG_ARTIST_SHARE * n_artists))


def tag_name_is_non_descriptive(name: str, artist_names: frozenset[str] | set[str] = frozenset()) -> str | None:
    """Why a tag named ``name`` is not a reason (``"stoplist"``, ``"personal"``, ``"negation"``, ``"artist name"``), or None."""
    key = normalise_name(name)
    if not key or key in NON_DESCRIPTIVE_TAGS:
        return "stoplist"
    if DATE_PATTERN.match(key):
        return "date"
    if FAVOURITE_PATTERN.search(key):
        return "personal"
    if PERSONAL_PATTERN.search(key) or len(key.split()) > MAX_CATEGORY_WORDS:
        return "personal"
    if NEGATION_PATTERN.search(key):
        return "negation"
    if key in artist_names:
        return "artist name"
    return None


class NodeQuality:
    """Per-node flags of one snapshot.

    ``descriptive`` (False for noise tags), ``curated`` (genre/instrument tags), ``music`` (a music,
    catalogue or curriculum type), ``named`` (a real name, not a placeholder) and ``passable`` (music and
    named: a reason may pass through it).
    """

    def __init__(self, snapshot: GraphSnapshot):
        n = snapshot.n_nodes
        types = np.asarray(snapshot.types, dtype=object)
        is_tag = types == TAG_TYPE if n else np.zeros(0, dtype=bool)
        is_artist = types == "Artist" if n else np.zeros(0, dtype=bool)
        if snapshot.benchmark_artists.any():
            # the tag rules count the KGCN-linked artists only: see catalog.selectors.tag_rule_artists
            is_artist = snapshot.benchmark_artists
        self.descriptive = np.ones(n, dtype=bool)
        self.curated = np.zeros(n, dtype=bool)
        self.music = np.fromiter((t in MUSIC_NODE_TYPES for t in snapshot.types), dtype=bool, count=n)
        self.named = np.fromiter(
            (
                bool(name.strip()) and name.strip() != entity_id and not ANONYMOUS_NAME_PATTERN.match(name.strip())
                for name, entity_id in zip(snapshot.names, snapshot.ids)
            ),
            dtype=bool,
            count=n,
        )
        self.passable = self.music & self.named
        self.reasons: dict[int, str] = {}
        if not is_tag.any():
            return
        # Curated: tag end of a COVERS_TAG / ABOUT_INSTRUMENT edge.
        for relation in CURATED_TAG_RELATIONS:
            r = snapshot.relation_index.get(relation)
            if r is None:
                continue
            on = snapshot.rels == r
            self.curated[snapshot.heads[on]] = True
            self.curated[snapshot.tails[on]] = True
        self.curated &= is_tag
        # Support: artists next to each tag (counting each artist once, whatever the relation).
        src = np.repeat(np.arange(n, dtype=np.int64), np.diff(snapshot.indptr))
        artist_side = is_artist[snapshot.adj_nodes] & is_tag[src]
        pairs = np.unique(src[artist_side] * n + snapshot.adj_nodes[artist_side].astype(np.int64))
        support = np.bincount(pairs // n, minlength=n) if len(pairs) else np.zeros(n, dtype=np.int64)
        threshold = min_tag_artists(int(is_artist.sum()))
        artist_names = {normalise_name(snapshot.names[i]) for i in np.flatnonzero(is_artist).tolist()}
        for node in np.flatnonzero(is_tag & ~self.curated).tolist():
            reason = tag_name_is_non_descriptive(snapshot.names[node], artist_names)
            if reason is None and support[node] < threshold:
                reason = f"on fewer than {threshold} artists"
            if reason is not None:
                self.descriptive[node] = False
                self.reasons[node] = reason


#: One entry per snapshot version; a few versions at most are alive at once (the old one while the new loads).
_QUALITY: ProcessCache[str, NodeQuality] = ProcessCache(max_entries=4)


def node_quality(snapshot: GraphSnapshot) -> NodeQuality:
    """The :class:`NodeQuality` of ``snapshot``, computed once per snapshot version (a few ms on the full graph)."""
    return _QUALITY.get(snapshot.version, lambda: NodeQuality(snapshot))
