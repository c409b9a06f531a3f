"""Reading what a score says: title, composer, era, form, key, metre and the parts' instruments.

How each fact was found is kept with it (``key_source``, ``form_source``), because several are
inferences: a key the score states is taken as is, a key signature alone is completed by the
Krumhansl-Schmuckler key finder, and with neither the key finder decides. Part names are read with the
graph's instrument vocabulary (:func:`kg.schema.instruments_in`) plus :data:`~.tables.EXTRA_INSTRUMENTS`,
so a work scored for violin and a violin course meet at the same ``leitmotif:instrument:violin``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from audio.works.corpus import STRATA_BY_KEY, Stratum, WorkRef, composer_from_metadata_name, corpus_file
from audio.works.facts import PartFacts, SkipWork, WorkFacts
from audio.works.tables import (
    COMPOSERS,
    DEFAULT_PROGRAM,
    EXTRA_INSTRUMENT_MATCHER,
    FORM_MATCHER,
    GM_PROGRAMS,
    MASS_SECTIONS,
    PART_NAME_SYNONYMS,
    PATH_FORMS,
    PATH_TITLES,
    PLACEHOLDER_INSTRUMENT_CLASSES,
    VOICE_INSTRUMENT_CLASSES,
    VOICE_PART_WORDS,
    VOICE_SLUG,
)
from kg.schema import LOOSE_CONFIDENCE, instruments_in, words

#: Bump when what is read from a score changes: every work is then analysed again (not re-rendered).
ANALYSIS_VERSION = 3


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
    """Instrument slugs named by a part or instrument name: the shared vocabulary, then the extra ones."""
    if not text:
        return ()
    extra_matches = EXTRA_INSTRUMENT_MATCHER.find(text)
    remaining = f" {' '.join(words(text))} "
    for match in extra_matches:  # "bass clarinet" must not also count as a bass
        remaining = remaining.replace(f" {match.matched} ", " ")
    # Names and synonyms of the shared vocabulary, not its technique hints (those need a title).
    found = [m.target for m in instruments_in(remaining) if m.confidence >= LOOSE_CONFIDENCE]
    synonyms = [PART_NAME_SYNONYMS[w] for w in remaining.split() if w in PART_NAME_SYNONYMS]
    return tuple(dict.fromkeys([*(m.target for m in extra_matches), *found, *synonyms]))


def part_facts(part) -> PartFacts:
    """Name, instruments and rendering program of one part (see "Voices" in the :mod:`audio.works` doc)."""
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
        composer_key = composer_from_metadata_name(getattr(metadata, "composer", None))
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
