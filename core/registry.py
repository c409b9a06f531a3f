"""Versioned registries: interchangeable components chosen by name, in the spirit of spaCy's ``registry``.

Graph stores, baseline recommenders, Leitmotif's own recommenders and audio-encoder variants are each
chosen by a name that a setting, a command-line flag or an experiment config carries. Every one of them
is a :class:`VersionedRegistry`, so they all resolve names the same way:

* an entry is registered under a **versioned name** (``kg.store.sql.v1``, ``baseline.ease.v1``) plus
  short **aliases** people type (``sql``, ``ease``). A change that alters results gets a new versioned
  name instead of silently changing an old one, so a saved artifact or report that records the name
  always says exactly which component produced it; old names keep resolving;
* a name is looked up case-insensitively, with surrounding spaces ignored and ``-`` read as ``_``
  (``Item-KNN`` is ``item_knn``); anything but a string is simply an unknown name, never a crash;
* an unknown name raises a numbered :class:`~core.errors.ConfigurationError` (or the subclass the
  registry names) that lists the choices, so the fix is in the message.

Why not ``catalogue`` (spaCy) or ``class_resolver`` (PyKEEN): the first is about entry-point plugins and
function registration, the second normalises names by stripping suffixes and knows neither versioned
names nor this project's numbered errors. What Leitmotif needs is the small table below.

Entries are whatever a registry holds (``T``): a class, a spec dataclass, or a ``"module:attr"`` string
that :func:`import_object` imports on first use, so resolving a name never loads torch or the Neo4j driver.
Layer: :mod:`core` (imports nothing of ours but :mod:`core.errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import import_module
from typing import Any, Generic, Literal, TypeVar

from core.errors import ConfigurationError, LeitmotifError

T = TypeVar("T")

#: How an "unknown name" message lists the choices: ``"aliases and names"`` → ``ease (baseline.ease.v1)``,
#: ``"aliases"`` → ``ease`` (what people type), ``"names"`` → the registered names themselves.
ChoiceListing = Literal["aliases and names", "aliases", "names"]


def normalize_name(name: object) -> str:
    """The lookup key of ``name``: ``" Item-KNN "`` → ``"item_knn"``; a non-string → ``""`` (an unknown name).

    Why fold ``-`` into ``_``: command-line users write ``item-knn``, Python identifiers say ``item_knn``.
    """
    return name.strip().lower().replace("-", "_") if isinstance(name, str) else ""


def import_object(path: str) -> Any:
    """The object named ``"package.module:Attr.attr"``, importing the module now.

    Why entries are often such strings: importing a store or a model class can pull in torch or a
    database driver, which only the caller that actually builds it should pay for.
    """
    module_name, colon, attributes = path.partition(":")
    if not colon or not module_name or not attributes:
        raise ConfigurationError(f"{path!r} is not an import path of the form 'package.module:attribute'.")
    obj: Any = import_module(module_name)
    for attribute in attributes.split("."):
        obj = getattr(obj, attribute)
    return obj


class VersionedRegistry(Generic[T]):
    """Entries of one kind (``kind``, e.g. ``"baseline model"``) by versioned name, with short aliases.

    ``error`` is the :class:`~core.errors.LeitmotifError` subclass raised for an unknown name (a
    ``ConfigurationError`` unless a caller needs a more specific code). The message reads
    ``"Unknown <kind> <name>; <choose>: <choices><hint>."``, where ``listing`` says how the choices are
    written (see :data:`ChoiceListing`) and ``hint`` is extra text such as ``" (set KG_BACKEND ...)"``.

    ``includes`` are other registries whose entries this one also resolves, looked up live in order
    after this registry's own: a registry of "every model an experiment can run" is the union of the
    baselines and the product models without copying either.
    """

    def __init__(
        self,
        kind: str,
        *,
        error: type[LeitmotifError] = ConfigurationError,
        listing: ChoiceListing = "aliases and names",
        choose: str = "choose one of",
        hint: str = "",
        includes: Sequence[VersionedRegistry[Any]] = (),
        normalize: Callable[[object], str] = normalize_name,
    ) -> None:
        self.kind = kind
        self.error = error
        self.listing = listing
        self.choose = choose
        self.hint = hint
        self.includes: tuple[VersionedRegistry[Any], ...] = tuple(includes)
        self.normalize = normalize
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}  # alias -> versioned name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kind!r}, names={self.names()!r})"

    # --- registering ---------------------------------------------------------------------------

    def register(self, name: str, entry: T, *, aliases: Iterable[str] = ()) -> T:
        """Add ``entry`` under the versioned ``name`` and each alias in ``aliases``; returns ``entry``.

        Names must already be in lookup form (lower case, ``_`` not ``-``) so that they resolve to
        themselves, and none may be taken (as a name or an alias, here or in an included registry): a
        name that silently pointed somewhere new would break every artifact that recorded it.
        """
        aliases = tuple(aliases)
        for key in (name, *aliases):
            if not isinstance(key, str) or not key or self.normalize(key) != key:
                raise ConfigurationError(
                    f"{self.kind} name {key!r} must be a non-empty lower-case name in lookup form "
                    f"(e.g. {self.normalize(key) or 'name.v1'!r})."
                )
            if self._find(key) is not None:
                raise ConfigurationError(f"{self.kind} name {key!r} is registered twice.")
        if len(set(aliases)) != len(aliases) or name in aliases:
            raise ConfigurationError(f"{self.kind} {name!r} lists an alias twice: {', '.join(aliases)}.")
        self._entries[name] = entry
        for alias in aliases:
            self._aliases[alias] = name
        return entry

    # --- resolving -----------------------------------------------------------------------------

    def resolve(self, name: object) -> str:
        """The versioned name that ``name`` (a versioned name or an alias, any case) stands for.

        Raises ``self.error`` listing the choices when nothing matches.
        """
        resolved = self._find(self.normalize(name))
        if resolved is None:
            raise self.unknown(name)
        return resolved

    def get(self, name: object) -> T:
        """The entry registered as ``name`` (resolved like :meth:`resolve`)."""
        versioned = self.resolve(name)
        return self._owner(versioned)._entries[versioned]

    def unknown(self, name: object) -> LeitmotifError:
        """The error for an unknown ``name``: what was asked for and every choice."""
        return self.error(f"Unknown {self.kind} {name!r}; {self.choose}: {self.choices()}{self.hint}.")

    def choices(self) -> str:
        """The choices as the "unknown name" message lists them (see :data:`ChoiceListing`)."""
        aliases = self.aliases()
        without_alias = [name for name in self.names() if name not in aliases.values()]
        if self.listing == "names":
            shown = self.names()
        elif self.listing == "aliases":
            shown = [*aliases, *without_alias]
        else:
            shown = [f"{alias} ({name})" for alias, name in aliases.items()] + without_alias
        return ", ".join(shown)

    # --- listing -------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every versioned name, own and included, sorted (so listings never depend on import order)."""
        names = set(self._entries)
        for included in self.includes:
            names.update(included.names())
        return sorted(names)

    def aliases(self) -> dict[str, str]:
        """Alias -> versioned name of every alias, own and included, sorted by alias."""
        aliases: dict[str, str] = {}
        for included in reversed(self.includes):
            aliases.update(included.aliases())
        aliases.update(self._aliases)
        return dict(sorted(aliases.items()))

    def aliases_of(self, name: object) -> tuple[str, ...]:
        """The aliases of the entry ``name`` resolves to, in registration order."""
        versioned = self.resolve(name)
        owner = self._owner(versioned)
        return tuple(alias for alias, target in owner._aliases.items() if target == versioned)

    def __contains__(self, name: object) -> bool:
        """True for a registered versioned name exactly as registered (aliases and other spellings: no)."""
        return isinstance(name, str) and any(name in registry._entries for registry in self._chain())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    # --- internals -----------------------------------------------------------------------------

    def _chain(self) -> Iterator[VersionedRegistry[Any]]:
        yield self
        for included in self.includes:
            yield from included._chain()

    def _find(self, key: str) -> str | None:
        for registry in self._chain():
            resolved = registry._aliases.get(key, key)
            if resolved in registry._entries:
                return resolved
        return None

    def _owner(self, versioned: str) -> VersionedRegistry[Any]:
        return next(registry for registry in self._chain() if versioned in registry._entries)
