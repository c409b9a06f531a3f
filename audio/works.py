"""A catalogue of real works with sound: scores of the music21 corpus, rendered with FluidSynth.

What a load does (``python manage.py load_works``):

1. **Select** a deterministic, seeded sample of the music21 core corpus, stratified by composer and
   collection (:data:`STRATA`): Bach chorales, Palestrina mass movements, Monteverdi madrigals, trecento
   polyphony, Josquin, string quartets of Haydn, Mozart, Beethoven and Schumann, single works of other
   composers, and tunes from folk collections (Essen, Ryan's Mammoth, O'Neill's, Aird's, Nottingham).
   Each stratum is shuffled with its own seed and the strata are interleaved round-robin, so
   ``--limit 24`` still spans every stratum.
2. **Read what each score says** (:func:`analyse_score`): title and composer from its metadata, the
   Humdrum reference records or the ABC header, else from the corpus path; key, metre and the parts'
   instruments from the notation. How each fact was found is kept in the Work entity's properties
   (``key_source``, ``form_source``), because several are inferences.
3. **Render** the first ``--seconds`` to audio (:mod:`audio.render`) into
   ``<LEITMOTIF_CACHE_DIR>/works/``, the file named by a hash of everything that determines it (score
   bytes, number, seconds, sample rate, programs, FluidSynth version and SoundFont, music21 version),
   so a re-run renders nothing. What was read from a score is cached too (``works/analysis/``, keyed by
   the score bytes and :data:`ANALYSIS_VERSION`), so a re-run parses nothing either, and a better
   analysis re-reads the scores without re-rendering them. ``--prune-audio`` deletes renders no
   catalogue row refers to any more.
4. **Write** the ``catalog.Work`` rows (compare-and-write, one transaction) and the graph through
   :func:`kg.services.graph_upsert`.

Graph (entity ids ``leitmotif:<kind>:<slug>``)::

    Person -COMPOSED-> Work -IN_ERA-> Era          Person -LIVED_IN_ERA-> Era
                       Work -HAS_FORM-> Form       Work -IN_KEY-> Key       Work -IN_METRE-> Metre
                       Work -SCORED_FOR-> Instrument                       Work -IN_COLLECTION-> Collection

Relations read from a score carry ``source="music21:<corpus path>"`` (``#<number>`` appended for a tune
inside a collection file). ``LIVED_IN_ERA`` comes from the composer table below, so its source is
:data:`COMPOSER_TABLE_SOURCE`. ``IN_KEY`` has confidence 1.0 when the score states the key and the
key-finding correlation when music21 inferred it.

Where knowledge is data, not branches: composers with dates and eras (:data:`COMPOSERS`), eras with
dates (:data:`ERAS`), forms (:data:`FORMS`) and the few works whose form no file states
(:data:`PATH_FORMS`). Instruments are recognised with the course loader's vocabulary
(:func:`ingestion.loaders.courses.instruments_in`) so a work scored for violin and a violin course meet
at the same ``leitmotif:instrument:violin`` entity; instruments that vocabulary lacks (organ, bass
clarinet...) are in :data:`EXTRA_INSTRUMENTS`.

Decisions worth knowing:

* Folk tunes get no composer (their ABC ``C:`` field, when present, names a source or an arranger more
  often than a composer; it is kept as ``attributed_to``) and no era.
* Voices: a part whose name is a voice part (Soprano, Canto, Bassus, Triplum...) is a voice unless the
  score names a real instrument for it; many files carry placeholders ("Piano" on a madrigal's voices,
  "Instrument 1" on chorale voices). Voices are rendered with General MIDI "Choir Aahs".
* Parts whose instrument nobody names (an ABC melody) are scored for nothing and rendered on the piano.
* Key: the key the score states (MusicXML ``<mode>``, ABC ``K:``, Humdrum ``*G:mix``) is taken as is
  (``key_source="score"``); with only a key signature, the mode (major or relative minor) is chosen by
  the Krumhansl-Schmuckler key finder (``"signature+krumhansl"``); with neither, the key finder decides
  (``"krumhansl"``).
* Entities other loaders may already hold are merged, not overwritten: an existing Instrument is reused
  untouched; an existing Person, Era, Form, Key, Metre or Collection keeps its name and gains our
  aliases and properties. So a second run changes nothing, and the course loader's instruments are
  left as it wrote them.
* A score that fails to parse, has no notes in the excerpt or fails to render is skipped with its
  reason; nothing of it is written. A missing FluidSynth or SoundFont stops the run before any write.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
import string
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from tqdm.auto import tqdm

from audio import render as audio_render
from audio.cache import atomic_write_bytes
from catalog.models import Work
from core.artifacts import sha256_file
from core.errors import AudioRenderError, ConfigurationError
from ingestion.loaders.courses import (
    INSTRUMENT_ENTITY_TYPE,
    INSTRUMENTS,
    LOOSE_CONFIDENCE,
    PhraseMatcher,
    Term,
    instrument_entity_id,
    instruments_in,
    words,
)
from ingestion.loaders.courses import (
    term_aliases as instrument_aliases,
)
from kg.services import GraphUpsertReport, graph_upsert
from kg.stores.base import EntityRecord, KnowledgeGraphStore, RelationRecord, UpsertResult

#: Bump when what is read from a score changes: every work is then analysed again (not re-rendered).
ANALYSIS_VERSION = 3
DEFAULT_SECONDS = 30.0
DEFAULT_SEED = 0
WORKS_SUBDIR = "works"
COMPOSER_TABLE_SOURCE = "leitmotif:composer-table"

WORK_TYPE, PERSON_TYPE, ERA_TYPE, FORM_TYPE = "Work", "Person", "Era", "Form"
KEY_TYPE, METRE_TYPE, COLLECTION_TYPE = "Key", "Metre", "Collection"
COMPOSED, IN_ERA, HAS_FORM, IN_KEY = "COMPOSED", "IN_ERA", "HAS_FORM", "IN_KEY"
IN_METRE, SCORED_FOR, IN_COLLECTION, LIVED_IN_ERA = "IN_METRE", "SCORED_FOR", "IN_COLLECTION", "LIVED_IN_ERA"
#: Relations of a work this loader owns; its stale ones (source ``music21:...``) are removed on re-run.
WORK_RELATION_TYPES = (COMPOSED, IN_ERA, HAS_FORM, IN_KEY, IN_METRE, SCORED_FOR, IN_COLLECTION)


def work_entity_id(slug: str) -> str:
    return f"leitmotif:work:{slug}"


def person_entity_id(slug: str) -> str:
    return f"leitmotif:person:{slug}"


def era_entity_id(slug: str) -> str:
    return f"leitmotif:era:{slug}"


def form_entity_id(slug: str) -> str:
    return f"leitmotif:form:{slug}"


def key_entity_id(slug: str) -> str:
    return f"leitmotif:key:{slug}"


def metre_entity_id(slug: str) -> str:
    return f"leitmotif:metre:{slug}"


def collection_entity_id(slug: str) -> str:
    return f"leitmotif:collection:{slug}"


# --- data tables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Era:
    name: str
    start_year: int
    end_year: int


#: Conventional periods of Western art music; the overlaps are real (a style did not stop in a year).
ERAS: Mapping[str, Era] = {
    "medieval": Era("Medieval", 500, 1400),
    "renaissance": Era("Renaissance", 1400, 1600),
    "baroque": Era("Baroque", 1600, 1750),
    "classical": Era("Classical", 1730, 1820),
    "romantic": Era("Romantic", 1800, 1910),
    "modern": Era("Modern (20th century)", 1900, 2000),
}


@dataclass(frozen=True)
class Composer:
    """``eras``: the first is the era of the corpus' works by this composer, all are LIVED_IN_ERA."""

    name: str
    born: int | None
    died: int | None
    eras: tuple[str, ...]
    #: How scores name them (matched whole-word, case- and accent-insensitively).
    aliases: tuple[str, ...] = ()
    #: True when the years are "circa" (most medieval and Renaissance dates).
    approximate_dates: bool = False


#: Keys are the corpus directory names, where the corpus has one; trecento composers are matched by name.
COMPOSERS: Mapping[str, Composer] = {
    "vitry": Composer("Philippe de Vitry", 1291, 1361, ("medieval",), ("philippe de vitry", "vitry")),
    "landini": Composer("Francesco Landini", 1325, 1397, ("medieval",), ("francesco landini", "landini"), True),
    "jacopo": Composer("Jacopo da Bologna", None, None, ("medieval",), ("jacopo da bologna",)),
    "gherardello": Composer("Gherardello da Firenze", 1320, 1363, ("medieval",), ("gherardello",), True),
    "lorenzo": Composer("Lorenzo da Firenze", None, 1372, ("medieval",), ("lorenzo",)),
    "ciconia": Composer("Johannes Ciconia", 1370, 1412, ("medieval",), ("johannes ciconia", "ciconia"), True),
    "josquin": Composer(
        "Josquin des Prez", 1450, 1521, ("renaissance",), ("josquin", "josquin des prez", "josquin de pre"), True
    ),
    "palestrina": Composer("Giovanni Pierluigi da Palestrina", 1525, 1594, ("renaissance",), ("palestrina",), True),
    "lusitano": Composer("Vicente Lusitano", 1520, None, ("renaissance",), ("vicente lusitano",), True),
    "monteverdi": Composer(
        "Claudio Monteverdi", 1567, 1643, ("renaissance", "baroque"), ("claudio monteverdi", "monteverdi")
    ),
    "corelli": Composer("Arcangelo Corelli", 1653, 1713, ("baroque",), ("arcangelo corelli", "corelli")),
    "bach": Composer("Johann Sebastian Bach", 1685, 1750, ("baroque",), ("j s bach", "bach, johann sebastian")),
    "handel": Composer("George Frideric Handel", 1685, 1759, ("baroque",), ("handel",)),
    "cpebach": Composer("Carl Philipp Emanuel Bach", 1714, 1788, ("classical", "baroque"), ("c p e bach",)),
    "haydn": Composer("Joseph Haydn", 1732, 1809, ("classical",), ("haydn",)),
    "mozart": Composer("Wolfgang Amadeus Mozart", 1756, 1791, ("classical",), ("w a mozart", "mozart")),
    "beethoven": Composer(
        "Ludwig van Beethoven", 1770, 1827, ("classical", "romantic"), ("beethoven", "l van beethoven")
    ),
    "weber": Composer("Carl Maria von Weber", 1786, 1826, ("romantic",), ("weber",)),
    "schubert": Composer("Franz Schubert", 1797, 1828, ("romantic", "classical"), ("schubert",)),
    "chopin": Composer("Frédéric Chopin", 1810, 1849, ("romantic",), ("chopin", "chopin, frederic")),
    "schumann_robert": Composer("Robert Schumann", 1810, 1856, ("romantic",), ("robert schumann",)),
    "verdi": Composer("Giuseppe Verdi", 1813, 1901, ("romantic",), ("verdi",)),
    "schumann_clara": Composer("Clara Schumann", 1819, 1896, ("romantic",), ("clara schumann",)),
    "liliuokalani": Composer("Liliʻuokalani", 1838, 1917, ("romantic",), ("liliuokalani",)),
    "beach": Composer("Amy Beach", 1867, 1944, ("romantic", "modern"), ("amy beach",)),
    "joplin": Composer("Scott Joplin", 1868, 1917, ("romantic", "modern"), ("joplin",), True),
    "johnson_j_r": Composer("J. Rosamond Johnson", 1873, 1954, ("modern",), ("rosamond johnson",)),
    "schoenberg": Composer("Arnold Schoenberg", 1874, 1951, ("modern",), ("schoenberg",)),
    "webern": Composer("Anton Webern", 1883, 1945, ("modern",), ("webern",)),
}

#: Forms and genres by slug (display names). Only these are linked; anything else leaves the form empty.
FORMS: Mapping[str, Term] = {
    "chorale": Term("Chorale", ("chorale", "choral")),
    "mass": Term("Mass", ("missa", "mass", "kyrie", "gloria", "credo", "sanctus", "benedictus", "agnus", "agnus dei")),
    "madrigal": Term("Madrigal", ("madrigal", "madrigale")),
    "motet": Term("Motet", ("motet", "motetto")),
    "chanson": Term("Chanson", ("chanson",)),
    "ballata": Term("Ballata", ("ballata",)),
    "caccia": Term("Caccia", ("caccia",)),
    "canon": Term("Canon", ("canon",)),
    "string-quartet": Term("String quartet", ("string quartet", "quartet")),
    "piano-trio": Term("Piano trio", ("piano trio",)),
    "sonata": Term("Sonata", ("sonata", "sonatina")),
    "concertino": Term("Concertino", ("concertino",)),
    "prelude": Term("Prelude", ("prelude",)),
    "aria": Term("Aria", ("aria",)),
    "lied": Term("Lied", ("lied",)),
    "song": Term("Song", ("song",)),
    "hymn": Term("Hymn", ("hymn",)),
    "mazurka": Term("Mazurka", ("mazurka",)),
    "polonaise": Term("Polonaise", ("polonaise",)),
    "rag": Term("Rag", ("rag", "ragtime")),
    "piano-piece": Term("Piano piece", ("piano piece", "klavierstuck")),
    "folk-song": Term("Folk song", ("folk song", "folksong")),
    "air": Term("Air", ("air", "aire")),
    "reel": Term("Reel", ("reel", "reels")),
    "jig": Term("Jig", ("jig", "jigs", "double jig", "single jig")),
    "slip-jig": Term("Slip jig", ("slip jig", "slipjig")),
    "hornpipe": Term("Hornpipe", ("hornpipe", "hornpipes")),
    "clog": Term("Clog dance", ("clog",)),
    "strathspey": Term("Strathspey", ("strathspey",)),
    "highland-fling": Term("Highland fling", ("highland fling", "fling")),
    "slide": Term("Slide", ("slide",)),
    "polka": Term("Polka", ("polka",)),
    "waltz": Term("Waltz", ("waltz",)),
    "march": Term("March", ("march",)),
    "quickstep": Term("Quickstep", ("quickstep", "quick step")),
    "minuet": Term("Minuet", ("minuet", "menuet")),
    "gavotte": Term("Gavotte", ("gavotte",)),
    "schottische": Term("Schottische", ("schottische",)),
}
FORM_MATCHER = PhraseMatcher.from_terms(FORMS)
#: Sections of the mass ordinary, for the ``mass_section`` property of a mass movement.
MASS_SECTIONS = {
    "kyrie": "Kyrie",
    "gloria": "Gloria",
    "credo": "Credo",
    "sanctus": "Sanctus",
    "benedictus": "Benedictus",
    "agnus": "Agnus Dei",
}

#: Works whose form no file states (titles that are file names, catalogue numbers only). Each is the
#: standard description of the published work.
PATH_FORMS: Mapping[str, str] = {
    "josquin/4vPerIlludAveProlatum.abc": "motet",  # secunda pars of the motet "Benedicta es, caelorum regina"
    "handel/rinaldo/Lascia_chio_pianga.mxl": "aria",
    "verdi/laDonnaEMobile.mxl": "aria",
    "joplin/maple_leaf_rag.mxl": "rag",
    "schubert/Lindenbaum.xml": "lied",
    "schumann_robert/opus48no2.mxl": "lied",  # Dichterliebe, no. 2
    "webern/webern_dormi_jesu_op_16_no_2.mxl": "canon",  # Five Canons on Latin texts, op. 16
    "schoenberg/opus19/movement2.mxl": "piano-piece",  # Six Little Piano Pieces, op. 19
    "schoenberg/opus19/movement6.mxl": "piano-piece",
    "cpebach/h186.mxl": "sonata",
    "mozart/k545/movement1_exposition.mxl": "sonata",
    "schumann_clara/opus17/movement3.xml": "piano-trio",
    "johnson_j_r/lift_every_voice.mxl": "hymn",
    "liliuokalani/aloha_oe.mxl": "song",
    "beach/prayer_of_a_tired_child.musicxml": "song",
}
#: Titles for files whose metadata title is only a file name.
PATH_TITLES: Mapping[str, str] = {
    "handel/rinaldo/Lascia_chio_pianga.mxl": "Lascia ch'io pianga (Rinaldo)",
    "verdi/laDonnaEMobile.mxl": "La donna è mobile (Rigoletto)",
    "joplin/maple_leaf_rag.mxl": "Maple Leaf Rag",
    "schoenberg/opus19/movement2.mxl": "Six Little Piano Pieces, Op. 19, No. 2",
    "schoenberg/opus19/movement6.mxl": "Six Little Piano Pieces, Op. 19, No. 6",
    "cpebach/h186.mxl": "Sonata in A major, H. 186, Wq. 55/4: second movement, Poco adagio",
}

#: Instruments the course vocabulary lacks, with the names scores use (German/Italian included).
EXTRA_INSTRUMENTS: Mapping[str, Term] = {
    "organ": Term("Organ", ("organ", "organo", "orgel")),
    "harpsichord": Term("Harpsichord", ("harpsichord", "cembalo", "clavecin")),
    "bass-clarinet": Term("Bass clarinet", ("bass clarinet", "bassklarinette", "clarinetto basso")),
    "violone": Term("Violone", ("violone",)),
    "lute": Term("Lute", ("lute", "liuto", "laute")),
}
EXTRA_INSTRUMENT_MATCHER = PhraseMatcher.from_terms(EXTRA_INSTRUMENTS)
#: Part names in other languages for instruments the course vocabulary has.
PART_NAME_SYNONYMS: Mapping[str, str] = {
    "violino": "violin",
    "violini": "violin",
    "violine": "violin",
    "bratsche": "viola",
    "violoncelle": "cello",
    "klarinette": "clarinet",
    "clarinetto": "clarinet",
    "flauto": "flute",
    "flote": "flute",
    "oboe": "oboe",
    "fagott": "bassoon",
    "fagotto": "bassoon",
    "corno": "french-horn",
    "horn": "french-horn",
    "tromba": "trumpet",
    "trompete": "trumpet",
    "pianoforte": "piano",
    "klavier": "piano",
    "contrabass": "bass",
    "kontrabass": "bass",
}
#: First words of part names that denote singers (Italian, Latin and medieval voice names included).
VOICE_PART_WORDS = frozenset(
    {
        "soprano",
        "sopran",
        "alto",
        "alt",
        "tenor",
        "tenore",
        "bass",
        "basso",
        "bassus",
        "baritone",
        "bariton",
        "mezzo",
        "canto",
        "cantus",
        "altus",
        "quinto",
        "quintus",
        "sesto",
        "sextus",
        "superius",
        "discantus",
        "triplum",
        "motetus",
        "contratenor",
        "contra",
        "voice",
        "voce",
        "vox",
        "gesang",
        "singstimme",
        "choir",
        "chorus",
        "coro",
        # abbreviations used by editions of early music (PMFC: "C", "T", "Ct"), only for placeholder parts
        "s",
        "a",
        "t",
        "b",
        "c",
        "ct",
    }
)
#: music21 instrument classes that are placeholders, not a statement about the part.
PLACEHOLDER_INSTRUMENT_CLASSES = frozenset(
    {"Instrument", "StringInstrument", "KeyboardInstrument", "Piano", "Choir", "Vocalist"}
)
VOICE_INSTRUMENT_CLASSES = frozenset(
    {"Vocalist", "Choir", "Soprano", "MezzoSoprano", "Alto", "Tenor", "Baritone", "Bass", "Contralto", "Countertenor"}
)
VOICE_SLUG = "voice"
#: General MIDI programs (0-based) per instrument slug; unnamed parts are rendered on the piano (0).
GM_PROGRAMS: Mapping[str, int] = {
    "voice": 52,
    "piano": 0,
    "harpsichord": 6,
    "organ": 19,
    "accordion": 21,
    "guitar": 24,
    "lute": 24,
    "mandolin": 24,
    "bass": 43,
    "violone": 43,
    "violin": 40,
    "viola": 41,
    "cello": 42,
    "harp": 46,
    "trumpet": 56,
    "trombone": 57,
    "tuba": 58,
    "french-horn": 60,
    "saxophone": 65,
    "oboe": 68,
    "bassoon": 70,
    "clarinet": 71,
    "bass-clarinet": 71,
    "flute": 73,
    "recorder": 74,
    "tin-whistle": 78,
    "banjo": 105,
    "bagpipes": 109,
}
DEFAULT_PROGRAM = 0


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


# --- selection -----------------------------------------------------------------------------------


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
        return f"music21:{self.label}"


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
    # entries per item (minutes). Its entry dict is read directly, with the slow way as a fallback.
    for entry in getattr(bundle, "_metadataEntries", {}).values() or bundle:
        path = str(entry.sourcePath)
        if path.split("/")[0] not in directories:
            continue
        number = entry.number
        entries.append((path, int(number) if number not in (None, "") else None, _LazyMetadata(entry)))
    return tuple(entries)


def _composer_from_metadata_name(text: str | None) -> str | None:
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
        return _composer_from_metadata_name(getattr(metadata, "composer", None))
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


# --- reading a score -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PartFacts:
    name: str
    instruments: tuple[str, ...]
    program: int


@dataclass(frozen=True)
class WorkFacts:
    """Everything read from one score; JSON-cached, so a re-run need not parse the score again."""

    slug: str
    corpus_path: str
    number: int | None
    stratum: str
    title: str
    composer_key: str | None
    composer_name: str
    era: str | None
    form: str | None
    form_source: str
    key_tonic: str | None
    key_mode: str | None
    key_source: str
    key_confidence: float
    metre: str | None
    metre_classification: str | None
    parts: tuple[PartFacts, ...]
    collection: tuple[str, str] | None
    quarter_length: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def instrumentation(self) -> list[str]:
        return list(dict.fromkeys(slug for part in self.parts for slug in part.instruments))

    @property
    def voices(self) -> list[str]:
        return [part.name for part in self.parts]

    @property
    def key_name(self) -> str:
        return key_display_name(self.key_tonic, self.key_mode) if self.key_tonic else ""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> WorkFacts:
        values = dict(data)
        values["parts"] = tuple(PartFacts(p["name"], tuple(p["instruments"]), int(p["program"])) for p in data["parts"])
        values["collection"] = tuple(data["collection"]) if data.get("collection") else None
        return cls(**values)


class SkipWork(Exception):
    """This work cannot be loaded; the message is the reason shown in the summary."""


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


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def abc_header(path: Path, number: int | None) -> dict[str, str]:
    """The header fields (``T``, ``R``, ``C``, ``O``...) of tune ``X:number`` (the first tune if None)."""
    fields: dict[str, str] = {}
    inside = False
    for line in _read_text(path).splitlines():
        match = re.match(r"^([A-Za-z]):\s*(.*)$", line)
        if match and match.group(1) == "X":
            if inside:
                break
            inside = number is None or match.group(2).strip() == str(number)
            continue
        if not inside:
            continue
        if match is None:
            if line.strip() and not line.startswith("%"):
                break  # the tune body starts after the header
            continue
        letter, value = match.group(1), match.group(2).strip()
        if letter == "K":
            fields.setdefault("K", value)
            break
        fields.setdefault(letter, value)
    return fields


_HUMDRUM_KEY = re.compile(r"^\*([A-Ga-g])([#-]*):(\w*)$")
_HUMDRUM_MODES = {
    "ion": "major",
    "dor": "dorian",
    "phr": "phrygian",
    "lyd": "lydian",
    "mix": "mixolydian",
    "aeo": "minor",
    "loc": "locrian",
}


def humdrum_header(path: Path) -> dict[str, str]:
    """Reference records (``!!!OPR: ...``) and the stated key (``*G:mix``) of a Humdrum file."""
    fields: dict[str, str] = {}
    for line in _read_text(path).splitlines():
        if line.startswith("!!!") and ":" in line:
            code, _, value = line[3:].partition(":")
            fields.setdefault(code.strip(), value.strip())
        elif line.startswith("*") and "KEY" not in fields:
            match = _HUMDRUM_KEY.match(line.split("\t")[0])
            if match:
                letter, accidentals, mode = match.groups()
                base = "major" if letter.isupper() else "minor"
                fields["KEY"] = (
                    f"{letter.upper()}{accidentals}|{_HUMDRUM_MODES.get(mode[:3].lower(), base) if mode else base}"
                )
    return fields


def key_display_name(tonic: str, mode: str) -> str:
    """``B-`` + ``major`` -> ``B♭ major``."""
    return f"{tonic[0].upper()}{tonic[1:].replace('-', '♭').replace('#', '♯')} {mode}"


def key_slug(tonic: str, mode: str) -> str:
    """``B-`` + ``major`` -> ``b-flat-major`` (ASCII, unambiguous)."""
    accidentals = "".join("-flat" if ch == "-" else "-sharp" for ch in tonic[1:])
    return f"{tonic[0].lower()}{accidentals}-{mode.lower()}"


def metre_slug(metre: str) -> str:
    return metre.replace("/", "-")


def _find_key(score, humdrum: Mapping[str, str]) -> tuple[str | None, str | None, str, float]:
    """(tonic, mode, source, confidence); see the module doc for the order of preference."""
    from music21 import key

    if "KEY" in humdrum:
        tonic, mode = humdrum["KEY"].split("|")
        return tonic, mode, "score", 1.0
    stated = score.recurse().getElementsByClass(key.KeySignature).first()
    if isinstance(stated, key.Key) and stated.mode:
        return stated.tonic.name, stated.mode, "score", 1.0
    try:
        analysed = score.analyze("key.krumhansl")
    except Exception:
        return None, None, "none", 0.0
    candidates = [analysed, *getattr(analysed, "alternateInterpretations", [])]
    if stated is not None:
        allowed = {(stated.asKey("major").tonic.name, "major"), (stated.asKey("minor").tonic.name, "minor")}
        for candidate in candidates:
            if (candidate.tonic.name, candidate.mode) in allowed:
                return candidate.tonic.name, candidate.mode, "signature+krumhansl", _confidence(candidate)
    return analysed.tonic.name, analysed.mode, "krumhansl", _confidence(analysed)


def _confidence(found) -> float:
    value = float(getattr(found, "correlationCoefficient", 0.0) or 0.0)
    return round(min(max(value, 0.0), 1.0), 3)


def _find_metre(score) -> tuple[str | None, str | None, int]:
    from music21 import meter

    signatures = list(score.recurse().getElementsByClass(meter.TimeSignature))
    if not signatures:
        return None, None, 0
    first = signatures[0]
    try:
        classification = first.classification
    except Exception:
        classification = None
    return first.ratioString, classification, len({ts.ratioString for ts in signatures})


def instrument_slugs(text: str) -> tuple[str, ...]:
    """Instrument slugs named by a part or instrument name: the course vocabulary, then the extra ones."""
    if not text:
        return ()
    extra_matches = EXTRA_INSTRUMENT_MATCHER.find(text)
    remaining = f" {' '.join(words(text))} "
    for match in extra_matches:  # "bass clarinet" must not also count as a bass
        remaining = remaining.replace(f" {match.matched} ", " ")
    # Names and synonyms of the course vocabulary, not its technique hints (those need a title).
    found = [m.target for m in instruments_in(remaining) if m.confidence >= LOOSE_CONFIDENCE]
    synonyms = [PART_NAME_SYNONYMS[w] for w in remaining.split() if w in PART_NAME_SYNONYMS]
    return tuple(dict.fromkeys([*(m.target for m in extra_matches), *found, *synonyms]))


def part_facts(part) -> PartFacts:
    """Name, instruments and rendering program of one part (see "Voices" in the module doc)."""
    name = (part.partName or "").strip()
    if name.lower().startswith("musicxml part") or re.fullmatch(r"P\d+", name):
        name = ""  # exporter placeholders, not names
    instrument_object = part.getInstrument(returnDefault=False)
    class_name = type(instrument_object).__name__ if instrument_object is not None else None
    instrument_name = (getattr(instrument_object, "instrumentName", None) or "").strip()
    first_word = (words(name) or ("",))[0]
    placeholder = class_name is None or class_name in PLACEHOLDER_INSTRUMENT_CLASSES
    if (first_word in VOICE_PART_WORDS and placeholder) or class_name in VOICE_INSTRUMENT_CLASSES:
        slugs: tuple[str, ...] = (VOICE_SLUG,)
    else:
        specific = "" if placeholder and class_name != "Piano" else instrument_name
        slugs = instrument_slugs(specific) or instrument_slugs(name)
        if not slugs and class_name == "Piano":
            slugs = ("piano",)
    if slugs:
        program = GM_PROGRAMS.get(slugs[0], DEFAULT_PROGRAM)
    else:
        midi_program = getattr(instrument_object, "midiProgram", None)
        program = int(midi_program) if isinstance(midi_program, int) and 0 <= midi_program < 128 else DEFAULT_PROGRAM
    return PartFacts(name=name, instruments=slugs, program=program)


def _clean_title(text: str | None) -> str | None:
    if not text:
        return None
    text = " ".join(str(text).split())
    if re.search(r"\.(mxl|xml|musicxml|krn|abc|mid)$", text, re.IGNORECASE):
        return None  # a file name, not a title
    text = re.sub(r"^\d+[a-z]?\s*(\(\d+\))?\.\s*", "", text)  # PMFC numbering: "14 (105). "
    text = text.strip(" ,;-")
    if text.endswith(".") and not re.search(r"\b(No|Op|Nr|St|Mr|Mrs|Dr|[A-Z])\.$", text):
        text = text[:-1]  # "Over the Water to Charlie." (but keep "Op." or an initial)
    if text.isupper():  # "THE BANKS OF THE SHANNON" -> "The Banks Of The Shannon"
        text = string.capwords(text.lower())
    return text or None


def _catalogue_title(corpus_path: str) -> str:
    """A title from the path: ``bach/bwv1.6`` -> ``BWV 1.6``; ``opus18no1/movement2`` -> ``Op. 18 No. 1, movement 2``."""
    stem = re.sub(r"\.[a-z]+$", "", corpus_path)
    parts = stem.split("/")[1:]
    pieces: list[str] = []
    for piece in parts:
        if m := re.fullmatch(r"bwv(\d+(?:\.\d+)?)", piece):
            pieces.append(f"BWV {m.group(1)}")
        elif m := re.fullmatch(r"op(?:us)?_?(\d+)(?:_?no?_?(\d+))?", piece):
            pieces.append(f"Op. {m.group(1)}" + (f" No. {m.group(2)}" if m.group(2) else ""))
        elif m := re.fullmatch(r"k(\d+)", piece):
            pieces.append(f"K. {m.group(1)}")
        elif m := re.fullmatch(r"movement(\d+)(?:_(\w+))?", piece):
            pieces.append(f"movement {m.group(1)}" + (f" ({m.group(2)})" if m.group(2) else ""))
        elif m := re.fullmatch(r"madrigal\.(\d+)\.(\d+)", piece):
            pieces.append(f"Book {m.group(1)}, No. {m.group(2)}")
        elif m := re.fullmatch(r"([a-z]+)_op(\d+)n(\d+)", piece):
            pieces.append(f"{m.group(1).capitalize()} Op. {m.group(2)} No. {m.group(3)}")
        else:
            pieces.append(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", piece.replace("_", " ")).strip())
    text = " ".join(pieces)
    return re.sub(r" (movement \d+)", r", \1", text)


def work_title(ref: WorkRef, stratum: Stratum, metadata, header: Mapping[str, str], humdrum: Mapping[str, str]) -> str:
    if ref.corpus_path in PATH_TITLES:
        return PATH_TITLES[ref.corpus_path]
    if stratum.title_prefix:
        return f"{stratum.title_prefix} {_catalogue_title(ref.corpus_path)}"
    if humdrum.get("OPR") and (humdrum.get("OTL") or humdrum.get("OMD")):
        section = humdrum.get("OMD") or humdrum.get("OTL")
        detail = f" ({humdrum['OTL']})" if humdrum.get("OMD") and humdrum.get("OTL") else ""
        return f"{humdrum['OPR']}: {section}{detail}"
    for candidate in (getattr(metadata, "title", None), header.get("T"), getattr(metadata, "movementName", None)):
        title = _clean_title(candidate)
        if title:
            title = re.sub(r"\s+--\s+", " - ", title)
            movement = re.search(r"movement(\d+)", ref.corpus_path)
            if movement and "movement" not in title.lower():
                title = f"{title}, movement {movement.group(1)}"
            return title
    return _catalogue_title(ref.corpus_path)


def _form(
    ref: WorkRef,
    stratum: Stratum,
    title: str,
    header: Mapping[str, str],
    humdrum: Mapping[str, str],
    parts: Sequence[PartFacts],
) -> tuple[str | None, str]:
    if ref.corpus_path in PATH_FORMS:
        return PATH_FORMS[ref.corpus_path], "corpus table"
    if stratum.abc_rhythm_is_form and header.get("R"):
        matches = FORM_MATCHER.find(header["R"])
        if matches:
            return matches[0].target, "abc rhythm field"
    # A title this loader built from the stratum ("Chorale BWV 1.6") says nothing the collection does not.
    own_title = "" if stratum.title_prefix else title
    for text, how in (
        (humdrum.get("OMD", ""), "humdrum movement"),
        (humdrum.get("OTL", ""), "humdrum title"),
        (own_title, "title"),
    ):
        matches = FORM_MATCHER.find(text) if text else []
        if matches:
            return matches[0].target, how
    instruments = sorted(slug for part in parts for slug in part.instruments)
    if len(parts) == 4 and instruments == ["cello", "viola", "violin", "violin"]:
        return "string-quartet", "instrumentation"
    if stratum.default_form:
        return stratum.default_form, "collection"
    return None, "none"


def analyse_score(ref: WorkRef, score) -> WorkFacts:
    """Read title, composer, era, form, key, metre and instrumentation from a parsed score."""
    stratum = STRATA_BY_KEY[ref.stratum]
    path = corpus_file(ref.corpus_path)
    metadata = score.metadata
    header = abc_header(path, ref.number) if path.suffix == ".abc" else {}
    humdrum = humdrum_header(path) if path.suffix == ".krn" else {}
    parts = tuple(part_facts(part) for part in score.parts) or (PartFacts("", (), DEFAULT_PROGRAM),)
    title = work_title(ref, stratum, metadata, header, humdrum)
    extra: dict[str, Any] = {}
    if stratum.composer == "by-directory":
        composer_key: str | None = ref.corpus_path.split("/")[0]
    elif stratum.composer == "by-name":
        composer_key = _composer_from_metadata_name(getattr(metadata, "composer", None))
    else:
        composer_key = stratum.composer
    if composer_key is not None and composer_key not in COMPOSERS:
        raise SkipWork(f"composer {composer_key!r} is not in the composer table")
    if composer_key is None:
        composer_name = "Traditional"
        attributed = header.get("C") or getattr(metadata, "composer", None)
        if attributed:
            extra["attributed_to"] = " ".join(str(attributed).split())
    else:
        composer_name = COMPOSERS[composer_key].name
        if stratum.composer == "by-name":
            extra["composer_as_written"] = " ".join(str(metadata.composer).split())
    era = COMPOSERS[composer_key].eras[0] if composer_key else None
    form, form_source = _form(ref, stratum, title, header, humdrum, parts)
    if form == "mass":
        for text in (humdrum.get("OMD"), humdrum.get("OTL"), title):
            found = next((name for word, name in MASS_SECTIONS.items() if text and word in words(text)), None)
            if found:
                extra["mass_section"] = found
                break
    if header.get("R"):
        extra["abc_rhythm"] = header["R"]
    if header.get("O"):
        extra["origin"] = header["O"]
    if humdrum.get("AGN"):
        extra["humdrum_genre"] = humdrum["AGN"]
    tonic, mode, key_source, key_confidence = _find_key(score, humdrum)
    metre, classification, metres = _find_metre(score)
    if metres > 1:
        extra["time_signatures"] = metres
    return WorkFacts(
        slug=ref.slug,
        corpus_path=ref.corpus_path,
        number=ref.number,
        stratum=ref.stratum,
        title=title[:500],
        composer_key=composer_key,
        composer_name=composer_name,
        era=era,
        form=form,
        form_source=form_source,
        key_tonic=tonic,
        key_mode=mode,
        key_source=key_source,
        key_confidence=key_confidence,
        metre=metre,
        metre_classification=classification,
        parts=parts,
        collection=stratum.collection,
        quarter_length=float(score.highestTime),
        extra=extra,
    )


# --- caches --------------------------------------------------------------------------------------


def works_cache_dir() -> Path:
    return Path(settings.LEITMOTIF_CACHE_DIR) / WORKS_SUBDIR


def _digest(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def analysis_key(ref: WorkRef, score_sha256: str) -> str:
    import music21

    return _digest(
        {
            "score": score_sha256,
            "number": ref.number,
            "stratum": ref.stratum,
            "analysis": ANALYSIS_VERSION,
            "music21": music21.__version__,
        }
    )


def render_key(
    ref: WorkRef,
    score_sha256: str,
    facts: WorkFacts,
    *,
    seconds: float,
    sample_rate: int,
    renderer: audio_render.Renderer,
) -> str:
    """Everything the audio depends on: the score, its number, the programs, the length, the synthesiser.

    Not the analysis version: reading a title better must not re-render the catalogue.
    """
    import music21

    return _digest(
        {
            "score": score_sha256,
            "number": ref.number,
            "seconds": seconds,
            "sample_rate": sample_rate,
            "render": audio_render.RENDER_VERSION,
            "programs": [part.program for part in facts.parts],
            "synth": renderer.identity,
            "music21": music21.__version__,
        }
    )


def _load_cached_facts(path: Path) -> WorkFacts | None:
    if not path.is_file():
        return None
    try:
        return WorkFacts.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable entries are analysed again and overwritten


# --- preparing one work --------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedWork:
    facts: WorkFacts
    audio_path: str  # relative to LEITMOTIF_CACHE_DIR
    audio_sha256: str
    duration_seconds: float
    #: How the renderer handled repeats ("expanded" or "not expanded: <reason>").
    repeats: str
    #: True if the score was analysed now (not read from the analysis cache), and rendered now.
    analysed: bool
    rendered: bool


def prepare_work(ref: WorkRef, *, seconds: float, sample_rate: int, renderer: audio_render.Renderer) -> PreparedWork:
    """Facts and rendered audio of one work, from the caches when possible; :class:`SkipWork` if it cannot be."""
    path = corpus_file(ref.corpus_path)
    score_sha = sha256_file(path)
    analysis = analysis_key(ref, score_sha)
    facts_path = works_cache_dir() / "analysis" / f"{analysis}.json"
    facts = _load_cached_facts(facts_path)
    score = None
    analysed = facts is None
    if facts is None:
        score = parse_score(ref)
        facts = analyse_score(ref, score)
        atomic_write_bytes(
            facts_path,
            (json.dumps(facts.to_json(), sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode("utf-8"),
        )
    key = render_key(ref, score_sha, facts, seconds=seconds, sample_rate=sample_rate, renderer=renderer)
    relative = Path(WORKS_SUBDIR) / f"{facts.slug}-{key[:16]}.flac"
    absolute = Path(settings.LEITMOTIF_CACHE_DIR) / relative
    # The sidecar is written after the audio, so both present means the render completed.
    sidecar = absolute.with_suffix(".json")
    cached = _load_render_sidecar(absolute, sidecar)
    if cached is not None:
        return PreparedWork(
            facts, str(relative), cached["sha256"], cached["duration_seconds"], cached["repeats"], analysed, False
        )
    if score is None:
        score = parse_score(ref)
    try:
        result = audio_render.render_score(
            score,
            programs=[part.program for part in facts.parts],
            renderer=renderer,
            out_path=absolute,
            seconds=seconds,
            sample_rate=sample_rate,
        )
    except AudioRenderError as exc:
        raise SkipWork(exc.message) from None
    record = {
        "sha256": result.sha256,
        "duration_seconds": round(result.duration_seconds, 4),
        "repeats": result.repeats,
        "bytes": absolute.stat().st_size,
    }
    atomic_write_bytes(sidecar, (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))
    return PreparedWork(facts, str(relative), result.sha256, record["duration_seconds"], result.repeats, analysed, True)


def _load_render_sidecar(audio: Path, sidecar: Path) -> dict | None:
    """The recorded result of an earlier render, if its audio is still there and unchanged in size."""
    if not (audio.is_file() and sidecar.is_file()):
        return None
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        if (
            not {"sha256", "duration_seconds", "repeats", "bytes"} <= set(record)
            or audio.stat().st_size != record["bytes"]
        ):
            return None
    except (OSError, ValueError):
        return None
    return record


# --- graph records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphRecords:
    entities: list[EntityRecord]
    relations: list[RelationRecord]


def _person_record(key: str) -> EntityRecord:
    composer = COMPOSERS[key]
    properties: dict[str, Any] = {"occupation": "composer", "corpus_key": key}
    if composer.born is not None:
        properties["born"] = composer.born
    if composer.died is not None:
        properties["died"] = composer.died
    if composer.approximate_dates:
        properties["dates_approximate"] = True
    aliases = tuple(
        dict.fromkeys(a for a in composer.aliases if a.casefold() != composer.name.casefold() and len(a) > 3)
    )
    return EntityRecord(
        id=person_entity_id(slugify(composer.name)),
        type=PERSON_TYPE,
        name=composer.name,
        aliases=aliases,
        properties=properties,
    )


def _instrument_record(slug: str) -> EntityRecord:
    """The same record the course loader writes for its instruments, so either loader may create it."""
    term = INSTRUMENTS.get(slug) or EXTRA_INSTRUMENTS[slug]
    return EntityRecord(
        id=instrument_entity_id(slug),
        type=INSTRUMENT_ENTITY_TYPE,
        name=term.name,
        aliases=instrument_aliases(term),
        properties={"slug": slug},
    )


def work_graph_records(prepared: Sequence[PreparedWork], *, seconds: float, sample_rate: int) -> GraphRecords:
    entities: dict[str, EntityRecord] = {}
    relations: list[RelationRecord] = []

    def add(record: EntityRecord) -> str:
        entities.setdefault(record.id, record)
        return record.id

    for work in prepared:
        facts = work.facts
        ref_source = f"music21:{facts.corpus_path}" + (f"#{facts.number}" if facts.number is not None else "")
        work_id = work_entity_id(facts.slug)
        properties: dict[str, Any] = {
            "slug": facts.slug,
            "composer": facts.composer_name,
            "corpus_path": facts.corpus_path,
            "corpus_number": facts.number,
            "form_source": facts.form_source,
            "key_source": facts.key_source,
            "key_confidence": facts.key_confidence,
            "instrumentation": facts.instrumentation,
            "voices": facts.voices,
            "midi_programs": [part.program for part in facts.parts],
            "audio_path": work.audio_path,
            "audio_sha256": work.audio_sha256,
            "duration_seconds": work.duration_seconds,
            "repeats": work.repeats,
            "rendered_seconds": seconds,
            "sample_rate": sample_rate,
            "score_quarter_length": facts.quarter_length,
            **facts.extra,
        }
        for name, value in (
            ("era", facts.era),
            ("form", facts.form),
            ("key", facts.key_name or None),
            ("metre", facts.metre),
        ):
            if value:
                properties[name] = value
        add(EntityRecord(id=work_id, type=WORK_TYPE, name=facts.title, properties=properties))

        def link(
            relation_type: str, head: str, tail: str, confidence: float = 1.0, source: str = ref_source, **extra: Any
        ) -> None:
            relations.append(
                RelationRecord(
                    head=head, type=relation_type, tail=tail, source=source, confidence=confidence, properties=extra
                )
            )

        if facts.composer_key:
            person_id = add(_person_record(facts.composer_key))
            link(COMPOSED, person_id, work_id)
        if facts.era:
            era = ERAS[facts.era]
            link(
                IN_ERA,
                work_id,
                add(
                    EntityRecord(
                        id=era_entity_id(facts.era),
                        type=ERA_TYPE,
                        name=era.name,
                        properties={"slug": facts.era, "start_year": era.start_year, "end_year": era.end_year},
                    )
                ),
            )
        if facts.form:
            link(
                HAS_FORM,
                work_id,
                add(
                    EntityRecord(
                        id=form_entity_id(facts.form),
                        type=FORM_TYPE,
                        name=FORMS[facts.form].name,
                        properties={"slug": facts.form},
                    )
                ),
                how=facts.form_source,
            )
        if facts.key_tonic and facts.key_mode:
            slug = key_slug(facts.key_tonic, facts.key_mode)
            link(
                IN_KEY,
                work_id,
                add(
                    EntityRecord(
                        id=key_entity_id(slug),
                        type=KEY_TYPE,
                        name=facts.key_name,
                        properties={"slug": slug, "tonic": facts.key_tonic.replace("-", "b"), "mode": facts.key_mode},
                    )
                ),
                confidence=facts.key_confidence,
                how=facts.key_source,
            )
        if facts.metre:
            slug = metre_slug(facts.metre)
            numerator, _, denominator = facts.metre.partition("/")
            metre_properties: dict[str, Any] = {"slug": slug}
            if numerator.isdigit() and denominator.isdigit():
                metre_properties.update(numerator=int(numerator), denominator=int(denominator))
            if facts.metre_classification:
                metre_properties["classification"] = facts.metre_classification
            link(
                IN_METRE,
                work_id,
                add(
                    EntityRecord(
                        id=metre_entity_id(slug), type=METRE_TYPE, name=facts.metre, properties=metre_properties
                    )
                ),
            )
        for slug in facts.instrumentation:
            parts = [part.name for part in facts.parts if slug in part.instruments]
            link(SCORED_FOR, work_id, add(_instrument_record(slug)), parts=parts)
        if facts.collection:
            slug, name = facts.collection
            link(
                IN_COLLECTION,
                work_id,
                add(
                    EntityRecord(
                        id=collection_entity_id(slug),
                        type=COLLECTION_TYPE,
                        name=name,
                        properties={"slug": slug, "corpus": "music21"},
                    )
                ),
            )
    for key in sorted({w.facts.composer_key for w in prepared if w.facts.composer_key}):
        person = _person_record(key)
        for era_slug in COMPOSERS[key].eras:
            era = ERAS[era_slug]
            add(
                EntityRecord(
                    id=era_entity_id(era_slug),
                    type=ERA_TYPE,
                    name=era.name,
                    properties={"slug": era_slug, "start_year": era.start_year, "end_year": era.end_year},
                )
            )
            relations.append(
                RelationRecord(
                    head=person.id, type=LIVED_IN_ERA, tail=era_entity_id(era_slug), source=COMPOSER_TABLE_SOURCE
                )
            )
    return GraphRecords(entities=list(entities.values()), relations=relations)


def merge_with_existing(records: Sequence[EntityRecord], *, store: KnowledgeGraphStore) -> list[EntityRecord]:
    """Records to upsert, respecting entities other loaders made (see the module doc).

    Works are ours and written as built. An existing Instrument is not written at all. Any other
    existing entity keeps its type and name, gains our aliases, and gets our properties on top of its
    own; the merge of a merge is the same record, so re-runs stay unchanged.
    """
    existing = store.get_entities([record.id for record in records])
    merged: list[EntityRecord] = []
    for record in records:
        found = existing.get(record.id)
        if found is None or record.type == WORK_TYPE:
            merged.append(record)
            continue
        if record.type == INSTRUMENT_ENTITY_TYPE:
            continue
        merged.append(
            EntityRecord(
                id=record.id,
                type=found.type,
                name=found.name,
                aliases=tuple(dict.fromkeys([*found.aliases, *(a for a in record.aliases if a != found.name)])),
                properties={**dict(found.properties), **dict(record.properties)},
            )
        )
    return merged


def stale_work_relations(
    *, store: KnowledgeGraphStore, works: Iterable[str], wanted: Iterable[RelationRecord]
) -> list[tuple[str, str, str]]:
    """Relations of these works that this loader wrote earlier (``music21:`` source) and would not write now."""
    wanted_keys = {relation.key for relation in wanted}
    stale: list[tuple[str, str, str]] = []
    for work_id in works:
        for neighbour in store.neighbours(work_id, direction="both", relation_types=list(WORK_RELATION_TYPES)):
            relation = neighbour.relation
            if relation.source.startswith("music21:") and relation.key not in wanted_keys:
                stale.append(relation.key)
    return sorted(set(stale))


# --- catalog -------------------------------------------------------------------------------------

_WORK_FIELDS = (
    "title",
    "composer_name",
    "era",
    "form",
    "key",
    "metre",
    "instrumentation",
    "voices",
    "collection",
    "corpus_path",
    "corpus_number",
    "audio_path",
    "audio_sha256",
    "duration_seconds",
    "entity_id",
)


def _work_values(work: PreparedWork) -> tuple:
    facts = work.facts
    return (
        facts.title,
        facts.composer_name,
        ERAS[facts.era].name if facts.era else "",
        FORMS[facts.form].name if facts.form else "",
        facts.key_name,
        facts.metre or "",
        facts.instrumentation,
        facts.voices,
        facts.collection[1] if facts.collection else "",
        facts.corpus_path,
        facts.number,
        work.audio_path,
        work.audio_sha256,
        work.duration_seconds,
        work_entity_id(facts.slug),
    )


def works_catalog_write(*, works: Sequence[PreparedWork]) -> UpsertResult:
    """Compare-and-write ``catalog.Work`` rows keyed by slug in one transaction (untouched rows stay put)."""
    now = timezone.now()
    with transaction.atomic():
        existing = {row[0]: (row[1], tuple(row[2:])) for row in Work.objects.values_list("slug", "pk", *_WORK_FIELDS)}
        to_create, to_update, unchanged = [], [], 0
        for work in works:
            values = _work_values(work)
            found = existing.get(work.facts.slug)
            if found is None:
                to_create.append(Work(slug=work.facts.slug, **dict(zip(_WORK_FIELDS, values))))
            elif found[1] != values:
                to_update.append(
                    Work(pk=found[0], slug=work.facts.slug, updated_at=now, **dict(zip(_WORK_FIELDS, values)))
                )
            else:
                unchanged += 1
        Work.objects.bulk_create(to_create, batch_size=500)
        if to_update:
            Work.objects.bulk_update(to_update, [*_WORK_FIELDS, "updated_at"], batch_size=500)
    return UpsertResult(created=len(to_create), updated=len(to_update), unchanged=unchanged)


def prune_rendered_audio() -> int:
    """Delete rendered works (and their sidecars) under ``<cache>/works/`` that no ``Work`` row refers to.

    Why only on request: a render with other ``--seconds`` is still a valid cache entry for the next run
    with those settings; pruning is for reclaiming space after render versions changed.
    """
    folder = works_cache_dir()
    if not folder.is_dir():
        return 0
    referenced = {Path(path).name for path in Work.objects.values_list("audio_path", flat=True)}
    removed = 0
    for audio in folder.glob("*.flac"):
        if audio.name not in referenced:
            audio.unlink(missing_ok=True)
            audio.with_suffix(".json").unlink(missing_ok=True)
            removed += 1
    return removed


# --- the service ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorksLoadReport:
    selected: int
    loaded: int
    analysed: int
    analysis_cached: int
    rendered: int
    render_cached: int
    pruned_files: int
    skipped: list[tuple[str, str]]
    catalog: UpsertResult
    graph: GraphUpsertReport
    removed_relations: int
    seconds_of_audio: float
    by_stratum: dict[str, int]
    by_form: dict[str, int]
    by_era: dict[str, int]
    entities_by_type: dict[str, int]
    relations_by_type: dict[str, int]
    backend: str
    elapsed_seconds: float

    @property
    def written(self) -> int:
        return self.catalog.written + self.graph.written + self.removed_relations


def works_load(
    *,
    store: KnowledgeGraphStore,
    limit: int | None = None,
    composers: Sequence[str] | None = None,
    seconds: float = DEFAULT_SECONDS,
    seed: int = DEFAULT_SEED,
    progress: bool = True,
    prune_audio: bool = False,
    prepare: Callable[..., PreparedWork] | None = None,
) -> WorksLoadReport:
    """Select, analyse and render the works, then write the catalogue and the graph.

    Order and why: arguments, the graph store and FluidSynth are checked first, so a bad option, an
    unreachable store or a missing synthesiser fails before anything is rendered or written; each work
    is then prepared on its own (a failure skips only that work, with its reason); the catalogue is
    written in one transaction and the graph in idempotent batches; finally this loader's relations of
    the loaded works that the data no longer supports are removed. With ``prune_audio``, rendered
    files no catalogue row refers to any more (earlier render versions or settings) are deleted.
    """
    started = time.perf_counter()
    if limit is not None and limit < 1:
        raise ConfigurationError(f"--limit must be at least 1, got {limit}.")
    max_seconds = float(settings.AUDIO_MAX_SECONDS)
    if not 1.0 <= seconds <= max_seconds:
        raise ConfigurationError(
            f"--seconds must be between 1 and {max_seconds:g} (settings.AUDIO_MAX_SECONDS), got {seconds:g}."
        )
    sample_rate = int(settings.AUDIO_SAMPLE_RATE)
    store.ping()
    renderer = audio_render.fluidsynth_renderer()
    refs = select_works(limit=limit, composers=composers, seed=seed)
    prepare = prepare or prepare_work
    prepared: list[PreparedWork] = []
    skipped: list[tuple[str, str]] = []
    with tqdm(refs, desc="Works", unit="work", disable=not progress) as bar:
        for ref in bar:
            bar.set_postfix_str(ref.label[-40:], refresh=False)
            try:
                work = prepare(ref, seconds=seconds, sample_rate=sample_rate, renderer=renderer)
            except SkipWork as exc:
                skipped.append((ref.label, str(exc)))
                continue
            except Exception as exc:
                skipped.append((ref.label, f"{type(exc).__name__}: {exc}".splitlines()[0][:300]))
                continue
            prepared.append(work)
    records = work_graph_records(prepared, seconds=seconds, sample_rate=sample_rate)
    entities = merge_with_existing(records.entities, store=store)
    for entity in entities:
        entity.validate()
    for relation in records.relations:
        relation.validate()
    catalog = works_catalog_write(works=prepared)
    graph = graph_upsert(store=store, entities=entities, relations=records.relations, description="Works")
    removed = 0
    work_ids = [work_entity_id(work.facts.slug) for work in prepared]
    for head, relation_type, tail in stale_work_relations(store=store, works=work_ids, wanted=records.relations):
        removed += store.delete_relation(head, relation_type, tail)
    pruned = prune_rendered_audio() if prune_audio else 0
    return WorksLoadReport(
        selected=len(refs),
        loaded=len(prepared),
        analysed=sum(w.analysed for w in prepared),
        analysis_cached=sum(not w.analysed for w in prepared),
        rendered=sum(w.rendered for w in prepared),
        render_cached=sum(not w.rendered for w in prepared),
        pruned_files=pruned,
        skipped=skipped,
        catalog=catalog,
        graph=graph,
        removed_relations=removed,
        seconds_of_audio=round(sum(work.duration_seconds for work in prepared), 1),
        by_stratum=dict(Counter(work.facts.stratum for work in prepared).most_common()),
        by_form=dict(Counter(FORMS[w.facts.form].name if w.facts.form else "(none)" for w in prepared).most_common()),
        by_era=dict(Counter(ERAS[w.facts.era].name if w.facts.era else "(none)" for w in prepared).most_common()),
        entities_by_type=dict(sorted(Counter(e.type for e in records.entities).items())),
        relations_by_type=dict(sorted(Counter(r.type for r in records.relations).items())),
        backend=getattr(store, "registry_name", type(store).__name__),
        elapsed_seconds=round(time.perf_counter() - started, 1),
    )
