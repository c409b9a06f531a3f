"""The works loader's knowledge as data: composers, eras, forms, instruments the shared vocabulary lacks,
part names, voices and General MIDI programs.

Why tables and not branches: what a composer's dates are, which era a style belongs to, what a part
called "Violoncello" or "Triplum" is, or which program renders it are facts, not logic. Kept as data,
a new composer or form is one row, and the code that reads scores (:mod:`.analysis`) and builds the
graph (:mod:`.graph_records`) never branches on a name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kg.schema import PhraseMatcher, Term


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

#: The Last.FM artist (HetRec 2011 ``artists.dat`` id) under which listeners play each composer's music,
#: for ``Person -SAME_AS-> Artist``. Reviewed by hand against ``lastfm-hetrec/artists.dat`` (the name there
#: is in the comment); ``tests/audio/test_works_composer_links.py`` checks every id still names that artist.
#: An explicit table, not name matching: "Sebastian Bach" (7117) is a rock singer, "Eberhard Weber" a jazz
#: bassist, "Janis Joplin" not Scott, "Claude-Michel Schönberg" not Arnold. Misspelt duplicates
#: ("J..S. Bach" 16128, "Wulfgang Amadeus Mozart" 17758, "Fryderyk Chopin" 17988) are left out: each composer
#: links to the one artist most listeners use. Composers absent from the data set (the trecento
#: composers, Palestrina, Lusitano, Weber, Clara Schumann, Liliʻuokalani, Amy Beach, Scott Joplin,
#: J. Rosamond Johnson, Schoenberg, Webern) have no row.
LASTFM_ARTIST_IDS: Mapping[str, int] = {
    "josquin": 1144,  # Josquin des Prez
    "monteverdi": 10889,  # Claudio Monteverdi
    "corelli": 9143,  # Arcangelo Corelli
    "bach": 1123,  # Johann Sebastian Bach
    "handel": 1175,  # Georg Friedrich Händel
    "cpebach": 14361,  # Carl Philipp Emanuel Bach
    "haydn": 15338,  # Franz Joseph Haydn
    "mozart": 1121,  # Wolfgang Amadeus Mozart
    "beethoven": 1130,  # Ludwig van Beethoven
    "schubert": 9271,  # Franz Schubert
    "chopin": 1112,  # Frédéric Chopin
    "schumann_robert": 16334,  # Robert Schumann
    "verdi": 5982,  # Giuseppe Verdi
}
#: The name ``artists.dat`` gives each id of :data:`LASTFM_ARTIST_IDS` (what the review checked).
LASTFM_ARTIST_NAMES: Mapping[int, str] = {
    1144: "Josquin des Prez",
    10889: "Claudio Monteverdi",
    9143: "Arcangelo Corelli",
    1123: "Johann Sebastian Bach",
    1175: "Georg Friedrich Händel",
    14361: "Carl Philipp Emanuel Bach",
    15338: "Franz Joseph Haydn",
    1121: "Wolfgang Amadeus Mozart",
    1130: "Ludwig van Beethoven",
    9271: "Franz Schubert",
    1112: "Frédéric Chopin",
    16334: "Robert Schumann",
    5982: "Giuseppe Verdi",
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

#: Instruments the shared vocabulary (:data:`kg.schema.INSTRUMENTS`) lacks, with the names scores use (German/Italian included).
EXTRA_INSTRUMENTS: Mapping[str, Term] = {
    "organ": Term("Organ", ("organ", "organo", "orgel")),
    "harpsichord": Term("Harpsichord", ("harpsichord", "cembalo", "clavecin")),
    "bass-clarinet": Term("Bass clarinet", ("bass clarinet", "bassklarinette", "clarinetto basso")),
    "violone": Term("Violone", ("violone",)),
    "lute": Term("Lute", ("lute", "liuto", "laute")),
}
EXTRA_INSTRUMENT_MATCHER = PhraseMatcher.from_terms(EXTRA_INSTRUMENTS)
#: Part names in other languages for instruments the shared vocabulary has.
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
