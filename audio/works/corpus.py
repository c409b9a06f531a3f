"""The music21 corpus: which works are loaded (the stratified, seeded selection) and reading their scores.

Why strata: the core corpus is dominated by a few collections (thousands of Essen folk songs, hundreds
of Bach chorales). Each stratum (:data:`STRATA`) is sampled on its own, shuffled with its own seed, and
the strata are interleaved round-robin, so ``--limit 24`` still spans every stratum and the same seed
always selects the same works.
"""

from __future__ import annotations

import functools
import random
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio.works.facts import SkipWork
from audio.works.tables import COMPOSERS
from core.errors import ConfigurationError
from kg.schema import words

DEFAULT_SEED = 0
#: Prefix of the ``source`` of every relation read from a score (``music21:<corpus path>[#<number>]``).
MUSIC21_SOURCE_PREFIX = "music21:"


@dataclass(frozen=True)
class Stratum:
    """One slice of the corpus sampled on its own.

    ``kind``: ``"files"`` (each file is a work; an ABC file holding several voices is merged) or
    ``"tunes"`` (each numbered tune of a collection file is a work). ``composer``: key of
    :data:`COMPOSERS`, ``"by-directory"`` (the corpus directory names the composer), ``"by-name"`` (match
    the score's composer metadata; only matching works are selected) or ``None`` (traditional).
    """

    key: str
    directories: tuple[str, ...]
    quota: int
    composer: str | None
    collection: tuple[str, str] | None  # (slug, name)
    default_form: str | None
    kind: str = "files"
    include: str = r".*"
    exclude: str | None = None
    #: Title built from the path ("String quartet Op. 18 No. 1, movement 1") instead of the metadata.
    title_prefix: str | None = None
    #: The ABC ``R:`` (rhythm) field names the dance form (reel, jig...). Not so in the Essen collection,
    #: whose ``R:`` holds a German function/theme ("Ballade, Kampf").
    abc_rhythm_is_form: bool = False


STRATA: tuple[Stratum, ...] = (
    Stratum(
        "bach",
        ("bach",),
        50,
        "bach",
        ("bach-chorales", "J. S. Bach: four-part chorales"),
        "chorale",
        include=r"^bach/bwv\d+(\.\d+)?\.mxl$",
        exclude=r"^bach/bwv846\.",
        title_prefix="Chorale",
    ),
    Stratum(
        "palestrina",
        ("palestrina",),
        40,
        "palestrina",
        ("palestrina-masses", "Palestrina: masses"),
        "mass",
        include=r"\.krn$",
    ),
    Stratum(
        "monteverdi",
        ("monteverdi",),
        30,
        "monteverdi",
        ("monteverdi-madrigals", "Monteverdi: madrigals, books 3-5"),
        "madrigal",
        include=r"\.mxl$",
        title_prefix="Madrigal",
    ),
    Stratum(
        "trecento",
        ("trecento",),
        16,
        "by-name",
        ("trecento", "Trecento and Ars nova polyphony (PMFC)"),
        None,
        include=r"\.xml$",
    ),
    Stratum(
        "josquin",
        ("josquin",),
        8,
        "josquin",
        ("josquin", "Josquin des Prez: chansons and motets"),
        "chanson",
        include=r"\.abc$",
    ),
    Stratum(
        "haydn",
        ("haydn",),
        9,
        "haydn",
        ("haydn-quartets", "Haydn: string quartets"),
        "string-quartet",
        include=r"\.mxl$",
        title_prefix="String quartet",
    ),
    Stratum(
        "mozart",
        ("mozart",),
        16,
        "mozart",
        ("mozart-quartets", "Mozart: string quartets and a sonata"),
        "string-quartet",
        include=r"\.mxl$",
        title_prefix="String quartet",
    ),
    Stratum(
        "beethoven",
        ("beethoven",),
        12,
        "beethoven",
        ("beethoven-quartets", "Beethoven: string quartets"),
        "string-quartet",
        include=r"^beethoven/opus\d+no\d+/movement\d+\.mxl$",
        title_prefix="String quartet",
    ),
    Stratum(
        "schumann",
        ("schumann_robert", "schumann_clara"),
        11,
        "by-directory",
        None,
        None,
        include=r"\.(mxl|xml)$",
        exclude=r"dichterliebe_no2\.xml$",
    ),  # the same song as opus48no2.mxl
    Stratum(
        "single-works",
        (
            "beach",
            "chopin",
            "ciconia",
            "corelli",
            "cpebach",
            "handel",
            "joplin",
            "schubert",
            "verdi",
            "weber",
            "webern",
            "schoenberg",
            "johnson_j_r",
            "liliuokalani",
            "lusitano",
        ),
        16,
        "by-directory",
        None,
        None,
        include=r"\.(mxl|xml|musicxml|krn)$",
    ),
    Stratum(
        "essen",
        ("essenFolksong",),
        30,
        None,
        ("essen-folksongs", "Essen Folksong Collection"),
        "folk-song",
        kind="tunes",
    ),
    Stratum(
        "ryans",
        ("ryansMammoth",),
        30,
        None,
        ("ryans-mammoth", "Ryan's Mammoth Collection (1883)"),
        None,
        abc_rhythm_is_form=True,
    ),
    Stratum(
        "oneills",
        ("oneills1850",),
        25,
        None,
        ("oneills-1850", "O'Neill's Music of Ireland: 1850 melodies (1903)"),
        "air",
        kind="tunes",
        abc_rhythm_is_form=True,
    ),
    Stratum(
        "airds",
        ("airdsAirs",),
        15,
        None,
        ("airds-airs", "Aird's Selection of Scotch, English, Irish and Foreign Airs (1782-1803)"),
        "air",
        kind="tunes",
        abc_rhythm_is_form=True,
    ),
    Stratum(
        "nottingham",
        ("nottingham-dataset",),
        10,
        None,
        ("nottingham", "Nottingham Music Database"),
        "reel",
        kind="tunes",
        abc_rhythm_is_form=True,
    ),
)
STRATA_BY_KEY = {stratum.key: stratum for stratum in STRATA}


@dataclass(frozen=True)
class WorkRef:
    """One work of the corpus: a file, or a numbered tune inside a collection file."""

    corpus_path: str
    number: int | None
    stratum: str

    @property
    def label(self) -> str:
        return f"{self.corpus_path}#{self.number}" if self.number is not None else self.corpus_path

    @property
    def slug(self) -> str:
        """Stable and readable, from the path (``bach/bwv1.6.mxl`` -> ``bach-bwv1-6``), never from a title."""
        stem = re.sub(r"\.[a-z]+$", "", self.corpus_path.lower())
        base = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")
        return f"{base}-{self.number}" if self.number is not None else base

    @property
    def source(self) -> str:
        return f"{MUSIC21_SOURCE_PREFIX}{self.label}"


class _LazyMetadata:
    """A metadata-bundle entry whose metadata is unpickled only when asked for.

    Why lazy: the core corpus bundle has 15,000 entries and unpickling each one's metadata costs
    milliseconds; selection needs it only for the few strata that match composers by name.
    """

    __slots__ = ("_entry",)

    def __init__(self, entry: Any):
        self._entry = entry

    def __getattr__(self, name: str) -> Any:
        return getattr(self._entry.metadata, name, None)


@functools.lru_cache(maxsize=1)
def _corpus_entries() -> tuple[tuple[str, int | None, Any], ...]:
    """(corpus path, number, metadata) of the works in the strata's directories, from music21's metadata bundle.

    Cached per process: the installed corpus does not change while we run.
    """
    from music21 import corpus

    directories = {d for stratum in STRATA for d in stratum.directories}
    entries = []
    bundle = corpus.corpora.CoreCorpus().metadataBundle
    # MetadataBundle has no __iter__: iterating falls back to __getitem__, which copies all 15,000
    # entries per item (minutes). Its entry dict is read directly, with the slow way as a fallback
    # (spelt ``iter(bundle)`` so the type checker sees the __getitem__ protocol the loop would use anyway).
    for entry in getattr(bundle, "_metadataEntries", {}).values() or iter(bundle):
        path = str(entry.sourcePath)
        if path.split("/")[0] not in directories:
            continue
        number = entry.number
        entries.append((path, int(number) if number not in (None, "") else None, _LazyMetadata(entry)))
    return tuple(entries)


def composer_from_metadata_name(text: str | None) -> str | None:
    """Key of :data:`COMPOSERS` whose alias occurs (whole words) in a score's composer field."""
    if not text:
        return None
    folded = " ".join(words(text))
    for key, composer in COMPOSERS.items():
        for alias in (composer.name, *composer.aliases):
            if re.search(rf"\b{re.escape(' '.join(words(alias)))}\b", folded):
                return key
    return None


def _candidate_composer(stratum: Stratum, path: str, metadata) -> str | None:
    if stratum.composer == "by-directory":
        return path.split("/")[0]
    if stratum.composer == "by-name":
        return composer_from_metadata_name(getattr(metadata, "composer", None))
    return stratum.composer


def _stratum_candidates(
    stratum: Stratum, entries: Sequence[tuple[str, int | None, Any]], wanted: set[str] | None
) -> list[WorkRef]:
    """The stratum's works, sorted; with ``wanted``, only those of a wanted stratum, composer or directory."""
    include, exclude = re.compile(stratum.include), re.compile(stratum.exclude) if stratum.exclude else None
    chosen: dict[tuple[str, int | None], WorkRef] = {}
    for path, number, metadata in entries:
        directory = path.split("/")[0]
        if directory not in stratum.directories or not include.search(path):
            continue
        if exclude is not None and exclude.search(path):
            continue
        if stratum.kind == "tunes":
            if number is None:
                continue
        else:
            number = None
        composer = _candidate_composer(stratum, path, metadata)
        if stratum.composer == "by-name" and composer is None:
            continue  # only works whose composer the table knows
        if wanted is not None and not ({stratum.key, directory.lower(), composer or ""} & wanted):
            continue
        chosen[(path, number)] = WorkRef(path, number, stratum.key)
    return sorted(chosen.values(), key=lambda ref: (ref.corpus_path, ref.number or 0))


def selectable_names() -> list[str]:
    """What ``--composers`` accepts: stratum keys, composer keys and corpus directory names."""
    names = {*STRATA_BY_KEY, *COMPOSERS, *(d.lower() for s in STRATA for d in s.directories)}
    return sorted(names)


def select_works(
    *,
    limit: int | None = None,
    composers: Sequence[str] | None = None,
    seed: int = DEFAULT_SEED,
    entries: Sequence[tuple[str, int | None, Any]] | None = None,
) -> list[WorkRef]:
    """The deterministic, stratified selection (see the module doc).

    ``composers`` keeps the works of the named strata (``bach``, ``essen``), composers (``mozart``,
    ``landini``) or corpus directories (``essenfolksong``); each stratum still takes at most its quota.
    """
    wanted: set[str] | None = None
    if composers:
        wanted = {name.strip().lower() for name in composers if name.strip()}
        unknown = sorted(wanted - set(selectable_names()))
        if unknown:
            raise ConfigurationError(
                f"unknown composer or collection {', '.join(unknown)}; choose from: {', '.join(selectable_names())}."
            )
    entries = _corpus_entries() if entries is None else entries
    queues: list[list[WorkRef]] = []
    for stratum in STRATA:
        candidates = _stratum_candidates(stratum, entries, wanted)
        random.Random(f"{seed}:{stratum.key}").shuffle(candidates)
        queues.append(candidates[: stratum.quota])
    ordered: list[WorkRef] = []
    for round_index in range(max((len(q) for q in queues), default=0)):
        ordered.extend(queue[round_index] for queue in queues if round_index < len(queue))
    return ordered[:limit] if limit is not None else ordered


def corpus_file(corpus_path: str) -> Path:
    from music21 import corpus

    found = corpus.getWork(corpus_path)
    path = Path(found[0] if isinstance(found, list) else found)
    if not path.is_file():
        raise SkipWork(f"the corpus file {corpus_path} is missing")
    return path


def parse_score(ref: WorkRef):
    """The music21 Score of ``ref`` (several voices written as separate ABC tunes are merged into parts)."""
    from music21 import corpus, stream

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = (
            corpus.parse(ref.corpus_path, number=ref.number)
            if ref.number is not None
            else corpus.parse(ref.corpus_path)
        )
        if isinstance(parsed, stream.Opus):
            scores = list(parsed.scores)
            if not scores:
                raise SkipWork("the file holds no score")
            parsed = scores[0] if len(scores) == 1 else parsed.mergeScores()
    if not isinstance(parsed, stream.Score):
        wrapper = stream.Score()
        wrapper.insert(0, parsed)
        parsed = wrapper
    if not parsed.flatten().notes:
        raise SkipWork("the score has no notes")
    return parsed
