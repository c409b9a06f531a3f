"""What the load knows about one work: the facts read from its score, the prepared (rendered) work, why a
work is skipped, and how a key and a metre are named (``B♭ major``, ``b-flat-major``, ``6-8``).

Why a module of their own: every step of the load passes these along (analysis makes them, the caches
store them, the graph records and catalogue rows are built from them), so they sit below all of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from audio.works.concepts import ScoreConcepts


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
        if not self.key_tonic:
            return ""
        assert self.key_mode is not None  # analysis._find_key gives tonic and mode together, or neither
        return key_display_name(self.key_tonic, self.key_mode)

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


def key_display_name(tonic: str, mode: str) -> str:
    """``B-`` + ``major`` -> ``B♭ major``."""
    return f"{tonic[0].upper()}{tonic[1:].replace('-', '♭').replace('#', '♯')} {mode}"


def key_slug(tonic: str, mode: str) -> str:
    """``B-`` + ``major`` -> ``b-flat-major`` (ASCII, unambiguous)."""
    accidentals = "".join("-flat" if ch == "-" else "-sharp" for ch in tonic[1:])
    return f"{tonic[0].lower()}{accidentals}-{mode.lower()}"


def metre_slug(metre: str) -> str:
    return metre.replace("/", "-")


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
    #: The curriculum concepts its score exercises (:mod:`.concepts`); None when not looked for (tests).
    concepts: ScoreConcepts | None = None
