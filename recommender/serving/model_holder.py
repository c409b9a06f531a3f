"""The serving model: loaded once per process, swapped atomically when a new trained version is published.

Publishing is a pointer file, ``<artifacts>/recommender/PUBLISHED``, holding the name of one artifact
directory (written by :func:`recommender.training.recommender_train`). :func:`model_publish` verifies the
artifact completely (checksums, weights fit the config) *before* it writes the pointer, and writes it
by write-temp-then-``os.replace``, so a reader sees the old pointer or the new one, never half of one.

:class:`ModelHolder` is what requests ask. Each call costs one ``os.stat`` of the pointer: while its
(inode, size, mtime) stay the same the loaded model is returned as is. When the pointer moved, the
request that notices loads the new artifact *completely* (weights, id maps, item table, fold-in
statistics) outside the lock readers use, and only then replaces the reference in one assignment —
Python reference assignment is atomic, so a concurrent request gets either the old
:class:`ServingModel` or the new one, never a half-built one. Other requests meanwhile keep serving
the old model instead of queueing behind the load. A corrupt artifact never replaces a good one: the
failure is logged, remembered (so it is not retried on every request) and the old model keeps serving.

Several processes (gunicorn workers, Celery workers) each hold their own copy and each notices the new
pointer on its own next request; nothing is shared between them but the pointer file. The stamp a
process compares is the pointer's *content* plus its (inode, mtime), so a reused inode number with the
same size and timestamp can never hide a new publication. A load that fails for any reason (a corrupt
artifact, but also an unexpected error such as a database hiccup while warming) keeps the old model
serving and never turns the request that noticed the change into an error; an unexpected failure is
retried after :data:`RETRY_SECONDS`, a project error only when the pointer moves again.
:func:`served_model_name` tells a response which model answered it (the ``X-Leitmotif-Model-Version``
header of ``docker/gunicorn.conf.py``).

Why a pointer and not "the newest directory": training writes artifacts that may be worse than the one
serving (a failed experiment, a smaller run); someone, or the retrain job after its checks, decides
which one serves.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import DataFileError, LeitmotifError, NoServingModelError
from recommender.serving.masks import masked_listener_ids
from recommender.training import (
    MANIFEST_FILE,
    TrainedRecommender,
    load_trained_recommender,
    recommender_artifacts_dir,
)

logger = logging.getLogger(__name__)

#: Name of the pointer file inside the recommender artifacts directory.
PUBLISHED_POINTER = "PUBLISHED"
#: Seconds before a load that failed with an unexpected (non-project) error is tried again.
RETRY_SECONDS = 5.0

_SERVED = threading.local()


def served_model_name() -> str | None:
    """Name of the model :meth:`ModelHolder.current` last returned in this thread (``None`` since :func:`served_model_forget`)."""
    return getattr(_SERVED, "name", None)


def served_model_forget() -> None:
    """Start a new request: :func:`served_model_name` is ``None`` until the request asks for the model."""
    _SERVED.name = None


@dataclass(frozen=True, eq=False)
class ServingModel:
    """A fully loaded, read-only model plus the lookups a request needs (built before it is published in-process).

    ``item_index`` maps an Artist pk to the model's item index, ``user_index`` a Listener pk to the
    user index it had at training time (learners who signed up later are not in it);
    ``item_has_tags`` is the training data's "artist has tags" flag the fold-in behaviour features need.
    """

    name: str
    path: Path
    trained: TrainedRecommender
    item_index: dict[int, int]
    user_index: dict[int, int]
    item_has_tags: np.ndarray
    loaded_at: float = field(default_factory=time.time)

    @property
    def model(self):
        return self.trained.model

    @property
    def item_ids(self) -> np.ndarray:
        return self.trained.item_ids


def serving_model_build(path: Path) -> ServingModel:
    """Load and verify the artifact at ``path`` and warm every cache, so the first request is as fast as the rest."""
    trained = load_trained_recommender(path)
    item_ids = np.asarray(trained.item_ids, dtype=np.int64)
    user_ids = np.asarray(trained.user_ids, dtype=np.int64)
    item_index = {int(pk): i for i, pk in enumerate(item_ids)}
    user_index = {int(pk): u for u, pk in enumerate(user_ids)}
    for forgotten in masked_listener_ids():  # deleted learners: their trained rows are never served
        user_index.pop(forgotten, None)
    has_tags = _item_has_tags(item_ids)
    model = trained.model
    # warm the item table and the fold-in statistics once, here, instead of inside the first request
    model.score_history([np.zeros(0, dtype=np.int64)], user_indices=[None], item_has_tags=has_tags)
    return ServingModel(
        name=Path(path).name,
        path=Path(path),
        trained=trained,
        item_index=item_index,
        user_index=user_index,
        item_has_tags=has_tags,
    )


def serving_model_from_trained(trained: TrainedRecommender, *, name: str) -> ServingModel:
    """A :class:`ServingModel` around a model trained in this process (never published, nothing on disk).

    Why: the onboarding evaluation trains on a user-level split and must then score its held-out
    learners through the very serving code a signed-up learner meets (:func:`.music_ranking.music_scores`),
    which reads a ``ServingModel``; saving and publishing an evaluation model would replace the product's.
    """
    item_ids = np.asarray(trained.item_ids, dtype=np.int64)
    has_tags = _item_has_tags(item_ids)
    trained.model.score_history([np.zeros(0, dtype=np.int64)], user_indices=[None], item_has_tags=has_tags)
    return ServingModel(
        name=name,
        path=Path(name),
        trained=trained,
        item_index={int(pk): i for i, pk in enumerate(item_ids)},
        user_index={int(pk): u for u, pk in enumerate(np.asarray(trained.user_ids, dtype=np.int64))},
        item_has_tags=has_tags,
    )


def _item_has_tags(item_ids: np.ndarray) -> np.ndarray:
    """Whether each item (Artist pk) has a tag assignment: the same flag ``build_side_info`` gave training."""
    from catalog.models import TagAssignment

    tagged = set(
        TagAssignment.objects.filter(artist_id__in=[int(x) for x in item_ids])
        .values_list("artist_id", flat=True)
        .distinct()
    )
    return np.fromiter((int(pk) in tagged for pk in item_ids), dtype=bool, count=len(item_ids))


# --- publishing -------------------------------------------------------------------------------------


def published_pointer_path(directory: Path | str | None = None) -> Path:
    return recommender_artifacts_dir(directory) / PUBLISHED_POINTER


def artifact_list(directory: Path | str | None = None) -> list[Path]:
    """Complete artifact directories (those with a manifest), oldest first (names start with a UTC timestamp)."""
    root = recommender_artifacts_dir(directory)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST_FILE).is_file()]
    return sorted(found, key=lambda p: p.name)


def model_publish(artifact: Path | str | None = None, *, directory: Path | str | None = None) -> Path:
    """Verify ``artifact`` (default: the newest complete one) and point ``PUBLISHED`` at it; returns its path.

    The artifact is fully loaded first (checksums, config, weights), so a corrupt one is refused
    with a ``DataFileError`` and the pointer keeps naming the model that serves now. Every process's
    :class:`ModelHolder` notices the new pointer on its next request.
    """
    root = recommender_artifacts_dir(directory)
    if artifact is None:
        candidates = artifact_list(root)
        if not candidates:
            raise DataFileError(
                "no trained recommender artifact to publish; train one with `python manage.py train_recommender`.",
                path=str(root),
            )
        path = candidates[-1]
    else:
        path = Path(artifact)
        if not path.is_absolute() and not path.exists() and (root / path).exists():
            path = root / path
    path = path.resolve()
    load_trained_recommender(path)  # raises DataFileError naming the bad file
    # the pointer holds the directory name when the artifact lives in the artifacts folder (the folder
    # can then move as a whole), otherwise its absolute path
    target = path.name if path.parent == root.resolve() else str(path)
    root.mkdir(parents=True, exist_ok=True)
    pointer = root / PUBLISHED_POINTER
    temporary = root / f".{PUBLISHED_POINTER}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(target + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, pointer)
    finally:
        if temporary.exists():
            temporary.unlink()
    logger.info("published recommender artifact %s", path)
    return path


def published_artifact(directory: Path | str | None = None) -> Path | None:
    """The artifact ``PUBLISHED`` names, or ``None`` when nothing is published."""
    pointer = published_pointer_path(directory)
    try:
        content = pointer.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DataFileError(
            f"cannot read the published-model pointer ({exc}); publish again with `python manage.py publish_model`.",
            path=str(pointer),
        ) from exc
    return _artifact_named(pointer, content)


def _artifact_named(pointer: Path, content: bytes) -> Path:
    """The artifact directory the pointer's ``content`` names: one UTF-8 directory name, nothing else."""
    try:
        text = content.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"cannot read the published-model pointer ({exc}); publish again with `python manage.py publish_model`.",
            path=str(pointer),
        ) from exc
    if not text or "\n" in text:
        raise DataFileError(
            "the published-model pointer must hold one artifact directory name; publish again with `python manage.py publish_model`.",
            path=str(pointer),
        )
    return pointer.parent / text


# --- the per-process holder -------------------------------------------------------------------------


class ModelHolder:
    """Hands out the published :class:`ServingModel`, reloading it when ``PUBLISHED`` changes (see the module docstring)."""

    def __init__(self, directory: Path | str | None = None, *, clock=time.monotonic) -> None:
        #: ``None``: resolve ``<artifacts>/recommender`` on every check (settings may change, e.g. in tests).
        self._directory = directory
        self._clock = clock
        self._model: ServingModel | None = None
        self._seen: tuple | None = None  # pointer stamp the current state was decided for
        # (pointer stamp, message, retry after (clock) or None: only when the pointer moves) of the last failed load
        self._failure: tuple[tuple | None, str, float | None] | None = None
        self._load_lock = threading.Lock()

    def current(self) -> ServingModel:
        """The model to serve now; ``NoServingModelError`` if none is published or the published one is unusable."""
        model = self._current()
        _SERVED.name = model.name
        return model

    def _current(self) -> ServingModel:
        stamp = self._stamp()
        model = self._model
        if stamp == self._seen and model is not None:
            return model
        if model is not None:
            # someone is already loading the new version: keep serving the old one meanwhile
            if not self._load_lock.acquire(blocking=False):
                return model
        else:
            self._load_lock.acquire()
        try:
            return self._refresh(stamp)
        finally:
            self._load_lock.release()

    def _refresh(self, stamp: tuple | None) -> ServingModel:
        if stamp == self._seen and self._model is not None:  # another thread finished the same load
            return self._model
        if self._failure is not None and self._failure[0] == stamp:
            retry_at = self._failure[2]
            if retry_at is None or self._clock() < retry_at:
                return self._keep_or_raise(self._failure[1])
        if stamp is None:
            if self._model is not None:
                logger.warning("the published-model pointer disappeared; still serving %s", self._model.name)
                self._seen = stamp
                return self._model
            raise NoServingModelError(
                "no recommender model is published; run `python manage.py train_recommender` and then `python manage.py publish_model`."
            )
        try:
            path = self._artifact_of(stamp)
            if self._model is not None and path.resolve() == self._model.path.resolve():
                self._seen = stamp
                self._failure = None
                return self._model
            started = time.perf_counter()
            model = serving_model_build(path)
        except LeitmotifError as exc:
            message = f"the published recommender artifact cannot be loaded: {exc.message}"
            logger.error("%s%s", message, f"; still serving {self._model.name}" if self._model is not None else "")
            self._failure = (stamp, message, None)
            return self._keep_or_raise(message)
        except Exception as exc:
            # Not the artifact's fault (a database that went away while warming, memory, a bug): a request
            # that happened to notice the new pointer must not fail while a good model is loaded. Try again later.
            if self._model is None:
                raise
            message = f"loading the published recommender failed ({type(exc).__name__}: {exc})"
            logger.exception("%s; still serving %s, retrying in %.0f s", message, self._model.name, RETRY_SECONDS)
            self._failure = (stamp, message, self._clock() + RETRY_SECONDS)
            return self._model
        logger.info(
            "process %d serving recommender %s (loaded in %.2fs)",
            os.getpid(),
            model.name,
            time.perf_counter() - started,
        )
        self._model = model  # the swap: one reference assignment
        self._seen = stamp
        self._failure = None
        return model

    def _keep_or_raise(self, message: str) -> ServingModel:
        if self._model is not None:
            return self._model
        raise NoServingModelError(f"{message} Publish a good artifact with `python manage.py publish_model`.")

    def _stamp(self) -> tuple | None:
        """``(pointer path, inode, mtime, content)`` of ``PUBLISHED``, or ``None`` when nothing is published.

        The content is part of the stamp (one small read per request): an inode number reused by the next
        ``os.replace`` within the file system's timestamp granularity would otherwise hide a publication.
        """
        pointer = published_pointer_path(self._directory)
        try:
            with open(pointer, "rb") as handle:
                info = os.fstat(handle.fileno())
                content = handle.read(4097)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if self._model is not None:  # a passing error (permissions being fixed, NFS): keep what serves
                logger.warning("cannot read the published-model pointer (%s); still serving %s", exc, self._model.name)
                return self._seen
            raise DataFileError(
                f"cannot read the published-model pointer ({exc}); publish again with `python manage.py publish_model`.",
                path=str(pointer),
            ) from exc
        return (str(pointer), info.st_ino, info.st_mtime_ns, content)

    @staticmethod
    def _artifact_of(stamp: tuple) -> Path:
        """The artifact directory the pointer content in ``stamp`` names (the same rules as :func:`published_artifact`)."""
        return _artifact_named(Path(stamp[0]), stamp[3])

    def forget_listeners(self, listener_ids: list[int]) -> None:
        """Drop the trained rows of ``listener_ids`` from the loaded model now (a learner deleted their account).

        Models loaded later drop them through :func:`~recommender.serving.masks.masked_listener_ids`.
        """
        with self._load_lock:
            if self._model is not None:
                for pk in listener_ids:
                    self._model.user_index.pop(int(pk), None)

    def reset(self) -> None:
        """Forget the loaded model (tests; a process that must reload from scratch)."""
        with self._load_lock:
            self._model = None
            self._seen = None
            self._failure = None


_HOLDER = ModelHolder()


def model_holder() -> ModelHolder:
    """The process-wide holder every request uses."""
    return _HOLDER


def serving_model() -> ServingModel:
    """Shortcut: the model the process serves now (``NoServingModelError`` when none is published)."""
    return _HOLDER.current()
