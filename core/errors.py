"""One catalogue of numbered, searchable errors (in the spirit of spaCy's ``Errors.E097``).

Every error a user can meet carries a code and a message that says what to fix. Management
commands turn a :class:`LeitmotifError` into a one-line ``CommandError`` (no traceback wall); the
API maps it to a 4xx response.
"""

from __future__ import annotations


class LeitmotifError(Exception):
    """Base class: ``code`` is stable and searchable, ``message`` says what to do."""

    code: str = "E000"

    def __init__(self, message: str):
        super().__init__(f"[{self.code}] {message}")
        self.message = message


class ConfigurationError(LeitmotifError):
    code = "E001"


class UnknownBackendError(ConfigurationError):
    code = "E002"


class StoreUnavailableError(LeitmotifError):
    """The graph backend cannot be reached (server down, wrong address or credentials)."""

    code = "E003"


class UnknownEntityError(LeitmotifError):
    """An operation named entity ids that are not in the graph."""

    code = "E004"


class InvalidGraphDataError(LeitmotifError):
    """An entity or relation is malformed (empty id, bad relation type, confidence out of range...)."""

    code = "E005"


class DataFileError(LeitmotifError):
    """A data file is missing or malformed; the message names the file and line."""

    code = "E006"

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


class NoServingModelError(LeitmotifError):
    """No recommender model is published (or the published one cannot be loaded and none was loaded before)."""

    code = "E020"


class RecommendationRequestError(ConfigurationError):
    """A recommendation request with a bad kind, k, level or filter; the message says what to send instead."""

    code = "E021"


class InteractionInputError(ConfigurationError):
    """An event names a kind or target that does not fit (e.g. ``enroll`` on an artist)."""

    code = "E022"


class NotALearnerError(LeitmotifError):
    """A staff, curator or API-client account asked for something only a learner has (a listening history).

    Why refuse rather than create one: such an account's clicks would go into retraining as if a learner
    had made them.
    """

    code = "E023"


# --- text ingestion (E030-E039) -------------------------------------------------------------------


class DocumentInputError(DataFileError):
    """A document handed to ingestion cannot be read as text: empty, binary, wrong encoding, too large, bad JSONL."""

    code = "E030"


class ModelArtifactError(LeitmotifError):
    """A trained NER/relation/audio model artifact is missing, incomplete or from an incompatible version."""

    code = "E031"


class IngestionJobError(LeitmotifError):
    """An ingestion job request is malformed or names a job that does not exist."""

    code = "E032"


# --- audio (E040-E049) ---------------------------------------------------------------------------


class AudioInputError(DataFileError):
    """A recording is empty, not audio, truncated, silent, too long or in an unsupported format."""

    code = "E040"


class AudioRenderError(LeitmotifError):
    """A score could not be rendered to audio (FluidSynth or the SoundFont missing, score unreadable)."""

    code = "E041"


# --- learning experience (E050-E059) --------------------------------------------------------------


class LearningPathError(ConfigurationError):
    """A learning goal, progress update or curriculum file is invalid (unknown concept, cycle, bad level)."""

    code = "E050"


# --- curation (E060-E069) --------------------------------------------------------------------------


class CurationError(LeitmotifError):
    """A curator action cannot be applied (merge into itself, fact already decided, correction names a bad type)."""

    code = "E060"
