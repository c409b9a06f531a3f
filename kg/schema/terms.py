"""The shared term lists: instruments, concepts and genres, with their names in every language the data uses.

Why in :mod:`kg`: these lists decide which ``leitmotif:instrument:*`` and ``leitmotif:concept:*``
entities exist and what they are called. The course loader matches titles with them, the works loader
reads part names with them and the curriculum checks its instruments against them; owned by one
loader, the others would depend on a loader to know the graph's vocabulary.

Why a curated vocabulary and not "every tag whose name appears in a title": Last.FM tags are free
text. ``love``, ``fun``, ``seen live`` or ``french`` occur in course titles and in the tag list, but a
course titled "Fall in love with the Trombone" is not about the tag ``love``; only the genres of
:data:`GENRES` are linked.

Decision on keyboards: ``keyboard``/``keyboards``/``teclado`` map to **piano** (loose). The catalogue's
keyboard courses teach the same keys, chords and reading as its piano courses (several titles say
"Piano & Keyboard"), and Last.FM has a ``piano`` tag but no usable ``keyboard`` one. ``keys`` alone is
not mapped: in these titles it means tonal keys ("Play a Song in 12 Keys"). Synthesizers are their own
instrument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kg.schema.ids import instrument_entity_id
from kg.schema.types import INSTRUMENT_TYPE
from kg.stores.base import EntityRecord

#: Confidence of a synonym or hint (``keyboard`` -> piano, ``songs`` -> repertoire) instead of the name.
LOOSE_CONFIDENCE = 0.7
#: Confidence of an instrument only hinted at by a technique ("Barre Chords" -> guitar).
HINT_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Term:
    """One thing to recognise: ``phrases`` are its names (confidence 1.0), ``loose`` its synonyms/hints."""

    name: str
    phrases: tuple[str, ...]
    loose: tuple[str, ...] = ()
    #: Words that suggest this term only when the title names no term of its kind at all
    #: ("Barre Chords" is a guitar course, "Barre Chords on Ukulele" is not).
    hints: tuple[str, ...] = ()


#: Instruments by slug. Names in English, Spanish, Portuguese, German, Italian, French and Japanese
#: because the catalogue has courses in all of them.
INSTRUMENTS: Mapping[str, Term] = {
    "guitar": Term(
        "Guitar",
        (
            "guitar",
            "guitars",
            "guitarist",
            "guitarists",
            "acoustic guitar",
            "electric guitar",
            "classical guitar",
            "slide guitar",
            "fingerstyleguitar",
            "guitarra",
            "guitarras",
            "guitarrista",
            "guitarristas",
            "gitarre",
            "chitarra",
            "violao",
            "ギター",
            "アコギ",
        ),
        hints=(
            "fingerpicking",
            "finger picking",
            "fingerstyle",
            "travis picking",
            "barre chords",
            "power chords",
            "alternate picking",
            "sweep picking",
            "fretboard",
            "caged",
            "chugging",
        ),
    ),
    "bass": Term(
        "Bass",
        (
            "bass",
            "bass guitar",
            "bass guitars",
            "electric bass",
            "double bass",
            "upright bass",
            "walking bass",
            "slap bass",
            "contrabajo",
            "contrabaixo",
            "bajo electrico",
            "ベース",
        ),
    ),
    "piano": Term(
        "Piano",
        ("piano", "pianos", "pianist", "pianists", "pianoforte", "klavier", "ピアノ"),
        loose=("keyboard", "keyboards", "teclado", "pianish"),
    ),
    "harmonica": Term(
        "Harmonica", ("harmonica", "harmonicas", "armonica", "mundharmonika", "blues harp", "chromatic harmonica")
    ),
    "drums": Term(
        "Drums",
        (
            "drum",
            "drums",
            "drumming",
            "drummer",
            "drummers",
            "drumset",
            "drum set",
            "drum kit",
            "bateria",
            "bass drum",
            "double bass drum",
            "ドラム",
        ),
        loose=("pedal duplo",),
    ),
    "voice": Term("Voice", ("singing", "sing", "singer", "singers", "voice", "vocals")),
    "violin": Term("Violin", ("violin", "violins", "violinist"), loose=("fiddle", "fiddles")),
    "viola": Term("Viola", ("viola",)),
    "cello": Term("Cello", ("cello", "cellos", "violoncello")),
    "flute": Term("Flute", ("flute", "flutes", "flauta", "flauta transversal", "carnatic flute")),
    "recorder": Term("Recorder", ("recorder", "flauta dulce")),
    "tin-whistle": Term("Tin whistle", ("tin whistle", "penny whistle")),
    "ukulele": Term("Ukulele", ("ukulele", "ukuleles", "ukelele", "uke", "ウクレレ")),
    "saxophone": Term("Saxophone", ("saxophone", "saxophones", "sax", "saxofon", "saxophonist")),
    "trumpet": Term("Trumpet", ("trumpet", "trumpets", "trompeta")),
    "trombone": Term("Trombone", ("trombone", "trombones")),
    "clarinet": Term("Clarinet", ("clarinet", "clarinets", "clarinete")),
    "french-horn": Term("French horn", ("french horn", "horn")),
    "euphonium": Term("Euphonium", ("euphonium",)),
    "tuba": Term("Tuba", ("tuba",)),
    "oboe": Term("Oboe", ("oboe", "oboist")),
    "bassoon": Term("Bassoon", ("bassoon",)),
    "accordion": Term("Accordion", ("accordion", "acordeon")),
    "banjo": Term("Banjo", ("banjo", "tenor banjo")),
    "mandolin": Term("Mandolin", ("mandolin",)),
    "bouzouki": Term("Bouzouki", ("bouzouki",)),
    "oud": Term("Oud", ("oud",)),
    "bajo-sexto": Term("Bajo sexto", ("bajo sexto",)),
    "harp": Term("Harp", ("harp",)),
    "jaw-harp": Term("Jaw harp", ("jews harp", "jaw harp")),
    "bagpipes": Term("Bagpipes", ("bagpipe", "bagpipes")),
    "didgeridoo": Term("Didgeridoo", ("didgeridoo",)),
    "percussion": Term("Percussion", ("percussion", "percusion", "percusiones", "congas", "bongos", "maracas")),
    "djembe": Term("Djembe", ("djembe",)),
    "cajon": Term("Cajon", ("cajon",)),
    "tabla": Term("Tabla", ("tabla",)),
    "darbuka": Term("Darbuka", ("darbuka", "darbouka", "dounbek", "doumbek")),
    "bodhran": Term("Bodhran", ("bodhran",)),
    "pandeiro": Term("Pandeiro", ("pandeiro",)),
    "castanets": Term("Castanets", ("castanets", "castanuelas")),
    "spoons": Term("Spoons", ("spoons", "spoon playing")),
    "asalato": Term("Asalato", ("asalato", "アサラト")),
    "synthesizer": Term("Synthesizer", ("synth", "synths", "synthesizer", "synthesizers", "sintetizadores")),
}

#: Phrases that must not count as any instrument (they are consumed before shorter matches).
INSTRUMENT_BLOCKERS = (
    "drum and bass",
    "drum n bass",
    "singer songwriter",
    "singer songwriters",
    "harp and soul",
    "indian drums",  # the tabla, which those titles name as well
)

#: Concepts by slug.
CONCEPTS: Mapping[str, Term] = {
    "chords": Term(
        "Chords",
        ("chord", "chords", "power chords", "barre chords", "chord progressions", "acordes"),
    ),
    "scales": Term(
        "Scales and modes",
        ("scale", "scales", "pentatonic", "escalas", "pentatonicas", "pentatonica", "modes", "modal", "whole tone"),
    ),
    "arpeggios": Term("Arpeggios", ("arpeggio", "arpeggios", "arpegios")),
    "improvisation": Term(
        "Improvisation",
        ("improvise", "improvisation", "improvising", "improv", "improvisar", "improvisacion", "soloing"),
        loose=("jam", "jamming", "jammin"),
    ),
    "music-theory": Term(
        "Music theory",
        ("theory", "music theory", "harmony", "circle of fifths", "circle of 5ths", "teoria"),
    ),
    "ear-training": Term("Ear training", ("ear training", "by ear", "de oido", "por oido")),
    "sight-reading": Term(
        "Sight-reading",
        (
            "sight reading",
            "read music",
            "reading music",
            "sheet music",
            "read sheet music",
            "read and write music",
            "lectura",
            "partituras",
            "notation",
            "written music",
        ),
        loose=("reading",),
    ),
    "songwriting": Term(
        "Songwriting",
        ("songwriting", "songwriter", "songwriters", "write songs", "write music", "composing", "composition"),
    ),
    "technique": Term(
        "Technique",
        (
            "technique",
            "techniques",
            "tecnica",
            "hand coordination",
            "alternate picking",
            "sweep picking",
            "legato",
            "tapping",
            "bending",
            "circular breathing",
            "exercises",
            "ejercicios",
        ),
        loose=("coordination",),
    ),
    "rhythm": Term(
        "Rhythm",
        (
            "rhythm",
            "rhythms",
            "ritmo",
            "ritmos",
            "ritmica",
            "strumming",
            "strum",
            "strums",
            "groove",
            "grooves",
            "timing",
        ),
    ),
    "fingerpicking": Term(
        "Fingerpicking",
        ("fingerpicking", "finger picking", "fingerstyle", "fingerstyleguitar", "travis picking"),
    ),
    "fretboard": Term("Fretboard", ("fretboard", "caged")),
    "licks-and-riffs": Term("Licks, riffs and fills", ("lick", "licks", "riff", "riffs", "fills", "runs")),
    "repertoire": Term(
        "Repertoire (songs and pieces)",
        ("pieces", "tunes", "piezas", "canciones"),
        loose=("song", "songs"),
    ),
    "teaching": Term("Teaching music", ("teaching", "music educators", "educators", "ensenando")),
}
#: "no reading", "no notation required": the course promises *not* to need the concept.
CONCEPT_BLOCKERS = ("rhythm and blues", "no reading", "no notation", "no written music")

#: Curated genres: each names the Last.FM tags it stands for (normalised names; a tag whose name folds
#: to one of them is that genre) and optional title-only hints. Left out on purpose: moods and
#: judgements (love, fun, beautiful), places and languages (french, irish, british), "seen live",
#: "acoustic", "instrumental", "christmas" (a theme), "dance" and "world" (verbs/adjectives in titles:
#: "Let your Hands dance", "World's Fastest Piano Method").
GENRES: Mapping[str, Term] = {
    "rock": Term("rock", ("rock",)),
    "pop": Term("pop", ("pop",)),
    "jazz": Term("jazz", ("jazz",), loose=("jazzy",)),
    "blues": Term("blues", ("blues", "ブルース"), loose=("boogie woogie",)),
    "classical": Term("classical", ("classical", "classical music")),
    "folk": Term("folk", ("folk",)),
    "country": Term("country", ("country",), loose=("nashville",)),
    "metal": Term("metal", ("metal",)),
    "heavy metal": Term("heavy metal", ("heavy metal",)),
    "punk": Term("punk", ("punk",)),
    "punk rock": Term("punk rock", ("punk rock",)),
    "soul": Term("soul", ("soul",)),
    "funk": Term("funk", ("funk",)),
    "reggae": Term("reggae", ("reggae",)),
    "ska": Term("ska", ("ska",)),
    "gospel": Term("gospel", ("gospel",)),
    "christian": Term("christian", ("christian", "worship"), loose=("cristiana", "cristiano")),
    "christian rock": Term("christian rock", ("christian rock",)),
    "bluegrass": Term("bluegrass", ("bluegrass",)),
    "rockabilly": Term("rockabilly", ("rockabilly",)),
    "rock and roll": Term("rock and roll", ("rock and roll", "rock n roll")),
    "swing": Term("swing", ("swing",)),
    "bossa nova": Term("bossa nova", ("bossa nova",)),
    "latin": Term("latin", ("latin",), loose=("latino", "latinos", "latina", "latinas")),
    "flamenco": Term("flamenco", ("flamenco",), loose=("flamenca",)),
    "samba": Term("samba", ("samba",)),
    "salsa": Term("salsa", ("salsa",)),
    "disco": Term("disco", ("disco",)),
    "electronic": Term("electronic", ("electronic", "electronica"), loose=("edm",)),
    "world music": Term("world music", ("world music",)),
    "new age": Term("new age", ("new age",)),
    "celtic": Term("celtic", ("celtic",), loose=("irish", "scottish")),
    "blues rock": Term("blues rock", ("blues rock",)),
    "classic rock": Term("classic rock", ("classic rock",)),
    "hard rock": Term("hard rock", ("hard rock",)),
    "soft rock": Term("soft rock", ("soft rock",)),
    "pop rock": Term("pop rock", ("pop rock",)),
    "progressive rock": Term("progressive rock", ("progressive rock",)),
    "surf rock": Term("surf rock", ("surf rock",)),
    "delta blues": Term("delta blues", ("delta blues",)),
    "electric blues": Term("electric blues", ("electric blues",)),
    "rhythm and blues": Term("rhythm and blues", ("rhythm and blues", "rnb", "r and b")),
    "hip hop": Term("hip hop", ("hip hop",)),
    "rap": Term("rap", ("rap",)),
    "jazz fusion": Term("jazz fusion", ("jazz fusion",)),
    "smooth jazz": Term("smooth jazz", ("smooth jazz",)),
    "acid jazz": Term("acid jazz", ("acid jazz",)),
    "bebop": Term("bebop", ("bebop",)),
    "big band": Term("big band", ("big band",)),
    "modern country": Term("modern country", ("modern country",)),
    "singer-songwriter": Term("singer-songwriter", ("singer songwriter", "singer songwriters")),
}
#: "Swing Low" (a spiritual) is a song title, not the genre; "HARP&SOUL" is a brand.
GENRE_BLOCKERS = ("swing low", "harp and soul")

#: Words that may stand around an instrument in a tag name that is still "about" that instrument
#: ("acoustic guitar", "jazz piano", "guitar virtuoso"); any other word (female vocalists, drum
#: machine, piano led indie) keeps the tag from being linked.
INSTRUMENT_TAG_MODIFIERS = frozenset(
    {"acoustic", "electric", "classical", "jazz", "blues", "rock", "slide", "solo", "virtuoso", "virtuosos"}
)


def term_aliases(term: Term) -> tuple[str, ...]:
    """English single-word names other than the display name, for search ("guitars", "fiddle")."""
    name = term.name.casefold()
    return tuple(
        phrase
        for phrase in dict.fromkeys((*term.phrases, *term.loose))
        if phrase.isascii() and phrase.casefold() != name and " " not in phrase and len(phrase) > 3
    )


def instrument_record(slug: str, term: Term) -> EntityRecord:
    """The one record of an instrument entity, whichever loader writes it.

    Why one builder: the course loader and the works loader both create instruments; built alike, a
    second loader's upsert of the same instrument is "unchanged" instead of each undoing the other.
    """
    return EntityRecord(
        id=instrument_entity_id(slug),
        type=INSTRUMENT_TYPE,
        name=term.name,
        aliases=term_aliases(term),
        properties={"slug": slug},
    )
