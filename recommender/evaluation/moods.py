"""Moods of artists and learners, from Last.FM tags and the lexicon in ``recommender/data/moods.json``.

Why a lexicon file and not a model: which Last.FM tags "mean" a mood is a judgement (``dark`` is a mood,
``darkwave`` a genre), and a reviewer must be able to read and change that judgement without touching
code. The file also cites where the idea comes from. (``recommender/data/`` has no ``__init__.py`` on
purpose: it holds data only and must not shadow the ``recommender.data`` module.)

Definitions (every function below follows them exactly):

* **Item mood distribution** ``m_i``: for each mood, the number of tag assignments (listeners who gave
  the artist a tag) whose tag is in that mood's list, divided by the artist's total of mood-tag
  assignments. An artist with no mood tag has the zero vector: it has *no mood information*, which is
  not the same as a neutral mood.
* **Learner mood profile** ``p_u``: the mean of ``m_i`` over the learner's items that have mood
  information (each item counts once, whatever its play count, so one heavily played artist does not
  stand for the whole taste), optionally weighted. A learner none of whose items has mood information
  has no profile (zero vector).
* A **mood preference** (the API's ``mood=calm,happy``) is the uniform distribution over the named moods.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from core.errors import ConfigurationError, DataFileError

#: The lexicon shipped with the code.
DEFAULT_LEXICON_PATH = Path(__file__).resolve().parent.parent / "data" / "moods.json"
LEXICON_FORMAT = "leitmotif.mood_lexicon.v1"
_SPACES = re.compile(r"\s+")
_MOOD_NAME = re.compile(r"^[a-z][a-z_]*$")


def fold_tag_name(name: str) -> str:
    """How tag names are compared with the lexicon: lower case, trimmed, inner runs of spaces made one."""
    return _SPACES.sub(" ", str(name).strip().casefold())


@dataclass(frozen=True)
class MoodLexicon:
    """Moods (ordered as in the file) and the folded tag names that express each one."""

    moods: tuple[str, ...]
    labels: dict[str, str]
    tag_mood: dict[str, str]  # folded tag name -> mood
    references: tuple[str, ...]
    path: str

    @property
    def n_moods(self) -> int:
        return len(self.moods)

    def mood_of(self, tag_name: str) -> str | None:
        return self.tag_mood.get(fold_tag_name(tag_name))

    def tag_mood_matrix(self, tag_names: Sequence[str]) -> sp.csr_matrix:
        """(n_tags × n_moods) 0/1 matrix: row ``t`` marks the mood of ``tag_names[t]`` (empty if none)."""
        rows, cols = [], []
        index = {mood: j for j, mood in enumerate(self.moods)}
        for t, name in enumerate(tag_names):
            mood = self.mood_of(name)
            if mood is not None:
                rows.append(t)
                cols.append(index[mood])
        return sp.csr_matrix(
            (
                np.ones(len(rows), dtype=np.float64),
                (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)),
            ),
            shape=(len(tag_names), self.n_moods),
        )

    def preference(self, moods: Iterable[str]) -> np.ndarray:
        """A stated preference as a distribution: uniform over ``moods`` (each must be a lexicon mood)."""
        wanted = list(dict.fromkeys(m.strip().lower() for m in moods if m.strip()))
        unknown = [m for m in wanted if m not in self.moods]
        if unknown or not wanted:
            raise ConfigurationError(
                f"unknown mood {', '.join(map(repr, unknown)) or '(none given)'}; choose from: {', '.join(self.moods)}."
            )
        vector = np.zeros(self.n_moods)
        vector[[self.moods.index(m) for m in wanted]] = 1.0 / len(wanted)
        return vector


def load_mood_lexicon(path: str | Path | None = None) -> MoodLexicon:
    """Read and check a lexicon file (default: the shipped one; cached per path).

    A bad file raises :class:`DataFileError` naming it: unknown format, a mood without tags, a tag in
    two moods (a tag must mean one thing), or a mood name that is not a lower-case word.
    """
    return _load(str(Path(path).resolve() if path is not None else DEFAULT_LEXICON_PATH))


@lru_cache(maxsize=8)
def _load(path: str) -> MoodLexicon:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError("the mood lexicon file does not exist.", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"cannot read the mood lexicon ({exc}).", path=path) from None
    except json.JSONDecodeError as exc:
        raise DataFileError(f"the mood lexicon is not valid JSON ({exc.msg}).", path=path, line=exc.lineno) from None
    if not isinstance(document, dict) or document.get("format") != LEXICON_FORMAT:
        raise DataFileError(f'the mood lexicon must be a JSON object with "format": "{LEXICON_FORMAT}".', path=path)
    moods = document.get("moods")
    if not isinstance(moods, dict) or not moods:
        raise DataFileError(
            'the mood lexicon needs a non-empty "moods" object: {"happy": {"label": ..., "tags": [...]}, ...}.',
            path=path,
        )
    tag_mood: dict[str, str] = {}
    labels: dict[str, str] = {}
    for mood, entry in moods.items():
        if not isinstance(mood, str) or not _MOOD_NAME.match(mood):
            raise DataFileError(f"mood name {mood!r} must be a lower-case word (letters and _).", path=path)
        tags = entry.get("tags") if isinstance(entry, dict) else None
        if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and t.strip() for t in tags):
            raise DataFileError(f'mood {mood!r} needs "tags": a non-empty list of tag names.', path=path)
        labels[mood] = str(entry.get("label") or mood)
        for tag in tags:
            folded = fold_tag_name(tag)
            if tag_mood.get(folded, mood) != mood:
                raise DataFileError(
                    f"tag {tag!r} is listed under both {tag_mood[folded]!r} and {mood!r}; a tag may express one mood only.",
                    path=path,
                )
            tag_mood[folded] = mood
    references = document.get("references") or []
    return MoodLexicon(
        moods=tuple(moods), labels=labels, tag_mood=tag_mood, references=tuple(str(r) for r in references), path=path
    )


def item_mood_distributions(item_tags: sp.spmatrix, tag_names: Sequence[str], lexicon: MoodLexicon) -> np.ndarray:
    """(n_items × n_moods) ``m_i``: mood-tag assignment counts per mood, each row scaled to sum 1 (or all 0).

    ``item_tags[i, t]`` counts the listeners who gave tag ``tag_names[t]`` to item ``i`` (the
    dataset's side information; a 0/1 matrix works too and then counts tags instead of listeners).
    """
    item_tags = sp.csr_matrix(item_tags, dtype=np.float64)
    if item_tags.shape[1] != len(tag_names):
        raise ConfigurationError(
            f"item_tags has {item_tags.shape[1]} tag columns but {len(tag_names)} tag names were given."
        )
    counts = np.asarray((item_tags @ lexicon.tag_mood_matrix(tag_names)).todense(), dtype=np.float64)
    return normalise_rows(counts)


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum; rows summing to 0 stay 0 (no information)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def mood_profile(
    item_moods: np.ndarray, items: Sequence[int] | np.ndarray, weights: Sequence[float] | None = None
) -> np.ndarray:
    """``p_u``: the (weighted) mean mood distribution of ``items`` that have mood information (zeros if none)."""
    item_moods = np.asarray(item_moods, dtype=np.float64)
    items = np.asarray(items, dtype=np.int64)
    w = np.ones(len(items)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != items.shape:
        raise ConfigurationError(f"weights must have one value per item ({len(items)}), got shape {w.shape}.")
    if len(items) == 0:
        return np.zeros(item_moods.shape[1])
    rows = item_moods[items]
    known = rows.sum(axis=1) > 0
    if not known.any() or w[known].sum() <= 0:
        return np.zeros(item_moods.shape[1])
    return (w[known, None] * rows[known]).sum(axis=0) / w[known].sum()


def user_mood_profiles(interactions: sp.spmatrix, item_moods: np.ndarray) -> np.ndarray:
    """(n_users × n_moods) ``p_u`` for every row of a binary user × item matrix (training interactions)."""
    binary = sp.csr_matrix(interactions, dtype=np.float64)
    binary.data[:] = 1.0
    item_moods = np.asarray(item_moods, dtype=np.float64)
    known = (item_moods.sum(axis=1) > 0).astype(np.float64)
    sums = np.asarray(binary @ item_moods)
    counts = np.asarray(binary @ known).ravel()
    return np.divide(sums, counts[:, None], out=np.zeros_like(sums), where=counts[:, None] > 0)
