"""Entity linking: map a mention to an entity already in the graph, or propose a new one.

Why this order of evidence: an exact name is the strongest signal, then a curated alias, then the name
after normalisation (accents, punctuation, "The", "&"), and only then a fuzzy match, which must be very
close because a wrong link silently corrupts the graph while a proposed new entity is visible in the
review queue. Every candidate must be type-compatible with the NER label (a GENRE mention never links to
an artist called "Blues"). When several entities share the name, the one whose graph neighbours are
named in the surrounding text wins (context), then the best-connected one (popularity).

The index is built once per linker from the store (names of every linkable entity type) and extended with
the entities this linker proposes, so one name proposed twice in a job gets one id.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from core.errors import UnknownEntityError
from ingestion.documents import INVISIBLE_CHARACTERS
from ingestion.labels import LINKABLE_ENTITY_TYPES, NEW_ENTITY_TYPE
from kg.stores.base import KnowledgeGraphStore

LINKER_VERSION = "leitmotif.linker.v1"

#: Entity id prefix of entities proposed from unlinked mentions.
NEW_ENTITY_PREFIX = "leitmotif:extracted"

#: Placeholder names given by the KGCN import to anonymous Freebase entities ("Genre kgcn:123").
_PLACEHOLDER = re.compile(r"^[A-Z][A-Za-z]* kgcn:\d+$")
#: Types whose multi-word names are also found by their last word ("Chopin", "Bach").
_PEOPLE_TYPES = frozenset({"Person", "MusicalArtist"})
_LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+")
_NON_WORD = re.compile(r"[^\w]+")


def normalise_name(name: str) -> str:
    """Lower-case, accents, punctuation and invisible characters removed, "&" as "and", no leading article."""
    decomposed = unicodedata.normalize("NFKD", name.translate(INVISIBLE_CHARACTERS).replace("&", " and "))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    plain = _NON_WORD.sub(" ", plain).strip()
    return _LEADING_ARTICLE.sub("", plain)


def slugify(name: str) -> str:
    return normalise_name(name).replace(" ", "-")[:120] or "unnamed"


@dataclass(frozen=True)
class LinkCandidate:
    entity_id: str
    entity_type: str
    name: str
    degree: int


@dataclass(frozen=True)
class LinkResult:
    """Where a mention points. ``method`` is exact/alias/normalised/fuzzy, or ``new`` for a proposal."""

    entity_id: str
    entity_type: str
    entity_name: str
    method: str
    score: float
    alternatives: tuple[str, ...] = ()

    @property
    def is_new(self) -> bool:
        return self.method == "new"


@dataclass
class _Index:
    exact: dict[str, list[LinkCandidate]] = field(default_factory=lambda: defaultdict(list))
    alias: dict[str, list[LinkCandidate]] = field(default_factory=lambda: defaultdict(list))
    normalised: dict[str, list[LinkCandidate]] = field(default_factory=lambda: defaultdict(list))
    #: surname -> people and artists with a multi-word name ("bach" -> Johann Sebastian Bach)
    surname: dict[str, list[LinkCandidate]] = field(default_factory=lambda: defaultdict(list))
    #: entity type -> normalised names (for fuzzy matching within compatible types)
    names_by_type: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


class EntityLinker:
    """Links mentions against one graph store; build it once per job (the index load costs ~1 s)."""

    version = LINKER_VERSION

    def __init__(
        self,
        store: KnowledgeGraphStore,
        *,
        fuzzy_threshold: float = 92.0,
        fuzzy_min_length: int = 5,
        context_window: int = 400,
    ) -> None:
        self.store = store
        self.fuzzy_threshold = fuzzy_threshold
        self.fuzzy_min_length = fuzzy_min_length
        self.context_window = context_window
        self._index: _Index | None = None
        self._neighbour_names: dict[str, frozenset[str]] = {}
        #: Ids this linker proposed; a later mention resolving to one is still a proposal ("new").
        self._proposed: set[str] = set()

    # --- index -----------------------------------------------------------------------------

    def _build_index(self) -> _Index:
        types = sorted(
            {t for options in LINKABLE_ENTITY_TYPES.values() for t in options} | set(NEW_ENTITY_TYPE.values())
        )
        degree: Counter[str] = Counter()
        for head, _type, tail in self.store.iter_triples():
            degree[head] += 1
            degree[tail] += 1
        index = _Index()
        for entity in self.store.iter_entities(types=types):
            if not entity.name or _PLACEHOLDER.match(entity.name):
                continue
            candidate = LinkCandidate(entity.id, entity.type, entity.name, degree[entity.id])
            self._add(index, candidate, aliases=entity.aliases)
        return index

    @staticmethod
    def _add(index: _Index, candidate: LinkCandidate, *, aliases: Iterable[str] = ()) -> None:
        index.exact[candidate.name.casefold()].append(candidate)
        keys = {normalise_name(candidate.name)}
        for alias in aliases:
            index.alias[alias.casefold()].append(candidate)
            keys.add(normalise_name(alias))
        for key in keys - {""}:
            index.normalised[key].append(candidate)
            index.names_by_type[candidate.entity_type].append(key)
        words = normalise_name(candidate.name).split()
        if candidate.entity_type in _PEOPLE_TYPES and len(words) >= 2 and len(words[-1]) >= 4:
            index.surname[words[-1]].append(candidate)

    @property
    def index(self) -> _Index:
        if self._index is None:
            self._index = self._build_index()
        return self._index

    # --- linking ---------------------------------------------------------------------------

    def link(self, text: str, label: str, *, context: str = "") -> LinkResult:
        """Link one mention with NER ``label``; ``context`` is the surrounding text used to disambiguate."""
        found = self._lookup(text, label, context=context)
        return found if found is not None else self._propose(" ".join(text.split()), label)

    def _lookup(self, text: str, label: str, *, context: str, exact_only: bool = False) -> LinkResult | None:
        allowed = LINKABLE_ENTITY_TYPES.get(label, ("Entity",))
        surface = " ".join(text.split())
        key = normalise_name(surface)
        for method, table, lookup in (
            ("exact", self.index.exact, surface.casefold()),
            ("alias", self.index.alias, surface.casefold()),
            ("normalised", self.index.normalised, key),
        ):
            candidates = [c for c in table.get(lookup, ()) if c.entity_type in allowed]
            if candidates:
                return self._choose(
                    candidates,
                    allowed=allowed,
                    method=method,
                    score=1.0 if method != "normalised" else 0.95,
                    context=context,
                )
        if exact_only:
            return None
        surname = [c for c in self.index.surname.get(key, ()) if c.entity_type in allowed] if " " not in key else []
        if surname:
            return self._choose(surname, allowed=allowed, method="alias", score=0.85, context=context)
        if len(key) >= self.fuzzy_min_length:
            fuzzy = self._fuzzy(key, allowed)
            if fuzzy is not None:
                candidates, score = fuzzy
                return self._choose(candidates, allowed=allowed, method="fuzzy", score=score, context=context)
        return None

    def find(self, text: str, label: str, *, context: str = "", exact_only: bool = False) -> LinkResult | None:
        """The existing entity a mention names, or ``None`` (never proposes; request understanding uses it).

        ``exact_only`` keeps to exact, alias and normalised names (no surname or fuzzy guess), for
        looking up arbitrary word n-grams.
        """
        return self._lookup(text, label, context=context, exact_only=exact_only)

    def conflicting_types(self, text: str, label: str) -> tuple[str, ...]:
        """Types of graph entities named exactly ``text`` (case, accents and punctuation aside) that a
        mention labelled ``label`` may NOT link to, when no entity of an allowed type has the name.

        Why: the NER model sometimes labels a country as a band ("Croatia"); linking then proposes a new
        band, and a relation like "Croatia HAS_GENRE folk music" follows. When the graph already knows the
        name as another kind of entity (a Place), the label is more likely wrong than the graph, so the
        pipeline keeps such a mention out of relations. Entities proposed by this linker do not count.
        """
        allowed = LINKABLE_ENTITY_TYPES.get(label, ("Entity",))
        surface = " ".join(text.split())
        found = [
            c
            for table, key in ((self.index.exact, surface.casefold()), (self.index.normalised, normalise_name(surface)))
            for c in table.get(key, ())
            if c.entity_id not in self._proposed
        ]
        if not found or any(c.entity_type in allowed for c in found):
            return ()
        return tuple(sorted({c.entity_type for c in found}))

    def _fuzzy(self, key: str, allowed: Sequence[str]) -> tuple[list[LinkCandidate], float] | None:
        best: tuple[str, float] | None = None
        for entity_type in allowed:
            names = self.index.names_by_type.get(entity_type)
            if not names:
                continue
            match = process.extractOne(key, names, scorer=fuzz.ratio, score_cutoff=self.fuzzy_threshold)
            if match is not None and (best is None or match[1] > best[1]):
                best = (match[0], match[1])
        if best is None:
            return None
        candidates = [c for c in self.index.normalised[best[0]] if c.entity_type in allowed]
        return candidates, round(best[1] / 100.0 * 0.9, 4)

    def _choose(
        self, candidates: list[LinkCandidate], *, allowed: Sequence[str], method: str, score: float, context: str
    ) -> LinkResult:
        unique = list({c.entity_id: c for c in candidates}.values())
        if len(unique) > 1:
            context_words = set(normalise_name(context).split())
            unique.sort(
                key=lambda c: (
                    -self._context_overlap(c.entity_id, context_words),
                    allowed.index(c.entity_type),
                    -c.degree,
                    c.entity_id,
                )
            )
        best = unique[0]
        if best.entity_id in self._proposed:
            return LinkResult(
                entity_id=best.entity_id, entity_type=best.entity_type, entity_name=best.name, method="new", score=0.0
            )
        # Popularity enters the confidence only as a tie-breaker signal: a well-connected entity is a
        # slightly safer link than an isolated one of the same name.
        confidence = min(1.0, score * (0.97 + 0.03 * min(1.0, math.log1p(best.degree) / 5)))
        return LinkResult(
            entity_id=best.entity_id,
            entity_type=best.entity_type,
            entity_name=best.name,
            method=method,
            score=round(confidence, 4),
            alternatives=tuple(c.entity_id for c in unique[1:5]),
        )

    def _context_overlap(self, entity_id: str, context_words: set[str]) -> int:
        if not context_words:
            return 0
        if entity_id in self._proposed:
            return 0  # proposed in this job, not in the graph: no neighbours yet
        names = self._neighbour_names.get(entity_id)
        if names is None:
            words: set[str] = set()
            try:
                neighbours = self.store.neighbours(entity_id, limit=200)
            except UnknownEntityError:  # deleted by a curator since the index was built
                neighbours = []
            for neighbour in neighbours:
                if neighbour.entity.name and not _PLACEHOLDER.match(neighbour.entity.name):
                    words.update(w for w in normalise_name(neighbour.entity.name).split() if len(w) > 3)
            names = self._neighbour_names[entity_id] = frozenset(words)
        return len(names & context_words)

    def _propose(self, surface: str, label: str) -> LinkResult:
        entity_type = NEW_ENTITY_TYPE.get(label, "Entity")
        entity_id = f"{NEW_ENTITY_PREFIX}:{entity_type.lower()}:{slugify(surface)}"
        candidate = LinkCandidate(entity_id, entity_type, surface, 0)
        # Later mentions of the same name in this job link to the proposal instead of proposing again.
        if entity_id not in self._proposed:
            self._proposed.add(entity_id)
            self._add(self.index, candidate)
        return LinkResult(entity_id=entity_id, entity_type=entity_type, entity_name=surface, method="new", score=0.0)
