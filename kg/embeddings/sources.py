"""Where training triples come from: our graph store, the catalog's listening data, and benchmark files.

Why readers live apart from training: training only ever sees an (n × 3) array of labels (or a
:class:`~kg.embeddings.triples.KgeSplit`), so the same code trains on the product graph, on the KGCN
file and on the DBpedia benchmark, and each reader can be tested on a tiny file of its real format.
File readers validate every line and raise :class:`~core.errors.DataFileError` naming the
file and 1-based line of the first malformed one.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from core.errors import DataFileError
from kg.embeddings.triples import KgeSplit, deduplicated_split, split_from_labeled_parts

#: Relation type of the optional user → artist edges added to training (``--include-interactions``).
INTERACTION_RELATION = "INTERACTS"

DBPEDIA_MUSIC_DIR_NAME = "dbpedia-music-mte10"
DBPEDIA_MUSIC_FILES = {
    "training": "music_mte10-train.tsv.gz",
    "validation": "music_mte10-valid.tsv",
    "testing": "music_mte10-test.tsv",
}
KGCN_KG_FILE = Path("lastfm-kgcn") / "kg.txt"


# --- graph store ----------------------------------------------------------------------------------


def triples_from_store(*, store, progress: bool = False) -> np.ndarray:
    """Every ``(head, type, tail)`` of a :class:`~kg.stores.base.KnowledgeGraphStore` as an (n × 3) str array.

    The store streams triples in a stable order, so the same graph always yields the same array (and
    therefore the same id maps and split for a given seed).
    """
    total = None
    if progress:
        total = store.stats().relations
    return _as_array(
        tqdm(store.iter_triples(), total=total, desc="reading graph triples", unit="triple", disable=not progress)
    )


def interaction_triples_from_catalog(*, artist_entity_ids: set[str] | None = None) -> np.ndarray:
    """``(user:<listener pk>, INTERACTS, <artist entity id>)`` for every catalog listen.

    ``artist_entity_ids`` keeps only artists present in the graph being trained, so interactions link
    users to known entities instead of adding isolated artist nodes. Listener primary keys are used
    because signed-up learners have no Last.FM id.
    """
    from catalog.models import Listen

    # Listeners who opted out of training (their data-rights setting) are left out, as in the recommender.
    rows = (
        Listen.objects.exclude(listener__training_opt_out=True)
        .order_by("listener_id", "artist_id")
        .values_list("listener_id", "artist__entity_id")
    )
    return _as_array(
        (f"user:{listener_id}", INTERACTION_RELATION, entity_id)
        for listener_id, entity_id in rows.iterator(chunk_size=10_000)
        if artist_entity_ids is None or entity_id in artist_entity_ids
    )


# --- KGCN Last.FM graph file --------------------------------------------------------------------


def read_kgcn_triples(path: Path | str) -> np.ndarray:
    """KGCN's ``kg.txt`` (``head<TAB>relation<TAB>tail``, CRLF endings) with labels exactly as given."""
    return _as_array(_read_tab_triples(Path(path), parse=_parse_plain_fields))


def _parse_plain_fields(fields: list[str]) -> tuple[str, str, str] | str:
    if any(not value.strip() for value in fields):
        return "empty head, relation or tail"
    return fields[0], fields[1], fields[2]


# --- DBpedia music benchmark --------------------------------------------------------------------


def read_dbpedia_triples(path: Path | str) -> np.ndarray:
    """One DBpedia music file: ``<subject IRI><TAB>"<predicate IRI>"<TAB><object IRI>``, gzipped or not.

    Labels are the bare IRIs (angle brackets and the quotes around the predicate removed).
    """
    return _as_array(_read_tab_triples(Path(path), parse=_parse_dbpedia_fields))


def dbpedia_music_split(*, directory: Path | str, deduplicated: bool = False) -> KgeSplit:
    """The released train/valid/test split of the DBpedia music graph with shared id maps.

    With ``deduplicated=True`` validation/test triples already implied by training (same (head, tail)
    pair under any relation, verbatim copies, repeats) are removed, as the data README recommends;
    see :func:`~kg.embeddings.triples.deduplicated_split`.
    """
    directory = Path(directory)
    parts = {}
    for name, filename in DBPEDIA_MUSIC_FILES.items():
        path = directory / filename
        if not path.is_file():
            raise DataFileError(
                f"Missing DBpedia music benchmark file {filename!r}; expected {', '.join(DBPEDIA_MUSIC_FILES.values())} "
                f"in {directory} (see shared/data/README.md, section 6).",
                path=str(path),
            )
        parts[name] = read_dbpedia_triples(path)
    split = split_from_labeled_parts(**parts)
    return deduplicated_split(split) if deduplicated else split


_IRI = re.compile(r"<[^<>\s]+>")
_QUOTED_IRI = re.compile(r'"<[^<>\s]+>"')


def _parse_dbpedia_fields(fields: list[str]) -> tuple[str, str, str] | str:
    subject, predicate, obj = fields
    if not _IRI.fullmatch(subject):
        return f"subject must be an IRI in angle brackets, got {subject!r}"
    if not _QUOTED_IRI.fullmatch(predicate):
        return f'predicate must be an IRI in angle brackets wrapped in double quotes ("<...>"), got {predicate!r}'
    if not _IRI.fullmatch(obj):
        return f"object must be an IRI in angle brackets, got {obj!r}"
    return subject[1:-1], predicate[2:-2], obj[1:-1]


# --- shared helpers ------------------------------------------------------------------------------


def _as_array(rows) -> np.ndarray:
    """(n × 3) str array, also for n = 0 (``np.asarray([])`` would have shape (0,))."""
    materialised = list(rows)
    if not materialised:
        return np.empty((0, 3), dtype=str)
    return np.asarray(materialised, dtype=str)


def _read_tab_triples(path: Path, *, parse) -> Iterator[tuple[str, str, str]]:
    """Yield parsed triples from a (optionally gzipped) three-column TSV; blank lines are skipped."""
    if not path.is_file():
        raise DataFileError("File not found.", path=str(path))
    opener = gzip.open if path.suffix == ".gz" else open
    line_number = 0
    try:
        # Binary lines decoded one by one, so a bad byte is reported on its own line (text mode decodes
        # ahead in chunks and would blame an earlier line).
        with opener(path, "rb") as handle:
            for line_number, raw in enumerate(handle, start=1):
                try:
                    line = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as exc:
                    raise DataFileError(
                        f"not valid UTF-8 ({exc.reason} at byte {exc.start})", path=str(path), line=line_number
                    ) from exc
                if not line.strip():
                    continue
                fields = line.split("\t")
                if len(fields) != 3:
                    raise DataFileError(
                        f"expected 3 tab-separated fields (head, relation, tail), found {len(fields)}: {line[:200]!r}",
                        path=str(path),
                        line=line_number,
                    )
                parsed = parse(fields)
                if isinstance(parsed, str):
                    raise DataFileError(parsed, path=str(path), line=line_number)
                yield parsed
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError; EOFError = truncated gzip
        raise DataFileError(
            f"cannot be read: {exc}", path=str(path), line=line_number + 1 if line_number else None
        ) from exc
