"""One generic name → object registry, used for models, datasets, benchmarks and protocols.

Entries are added with :meth:`Registry.add` or the :meth:`Registry.register` decorator and
taken out again with :meth:`Registry.remove` (:meth:`Registry.temporarily` does both around a
block, e.g. in a test). Third-party packages add
entries lazily through the entry-point group ``lkbench.<kind>`` (e.g. ``lkbench.datasets``):
the entry point's target is imported only when its name is first looked up, so plugins do
not slow down ``import lkbench``.
"""
from __future__ import annotations

import difflib
from contextlib import contextmanager
from importlib import metadata
from typing import Callable, Generic, Iterator, TypeVar

from .errors import LkbenchError, UnknownNameError

T = TypeVar("T")


def did_you_mean(name: str, choices: "list[str] | tuple[str, ...]", what: str) -> str:
    """``unknown <what> 'name'; did you mean 'x'? available: a, b, c`` — shared wording."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ";"
    return f"unknown {what} {name!r}{hint} available: {', '.join(sorted(choices)) or '(none)'}"


class Registry(Generic[T]):
    """A named collection of objects of one kind.

    Args:
        kind: plural noun used in messages and in the entry-point group ``lkbench.<kind>``.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self.noun = kind[:-1] if kind.endswith("s") else kind  # "models" -> "model" in messages
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._plugins_scanned = False
        self._lazy: dict[str, metadata.EntryPoint] = {}

    # -- adding -------------------------------------------------------------------------
    def _check_new(self, name: str) -> None:
        if not isinstance(name, str) or not name or name != name.strip() or "/" in name:
            raise LkbenchError(f"invalid {self.noun} name {name!r}: use a non-empty string "
                               "without surrounding spaces or '/'")
        if name in self._items or name in self._aliases:
            raise LkbenchError(f"{self.noun} {name!r} is already registered; pick another name")

    def add(self, name: str, obj: T, *, aliases: tuple[str, ...] = ()) -> T:
        """Register ``obj`` under ``name`` (and ``aliases``); a taken name is an error."""
        self._check_new(name)
        for a in aliases:
            self._check_new(a)
        self._items[name] = obj
        for a in aliases:
            self._aliases[a] = name
        return obj

    def register(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator form of :meth:`add`: ``@REG.register("name")``."""
        def deco(obj: T) -> T:
            return self.add(name, obj, aliases=aliases)
        return deco

    def remove(self, name: str) -> T:
        """Take ``name`` (or the entry an alias of it names) out, with all its aliases.

        Returns:
            the removed object.

        Raises:
            UnknownNameError: nothing registered under ``name``.
        """
        canonical = self.resolve(name)
        for a in self.aliases_of(canonical):
            del self._aliases[a]
        return self._items.pop(canonical)

    @contextmanager
    def temporarily(self, name: str, obj: T, *, aliases: tuple[str, ...] = ()) -> Iterator[T]:
        """``with REG.temporarily("name", obj):`` — registered inside the block only (removed on
        exit, also when the block raises)."""
        self.add(name, obj, aliases=aliases)
        try:
            yield obj
        finally:
            self.remove(name)

    # -- plugins ------------------------------------------------------------------------
    @property
    def group(self) -> str:
        return f"lkbench.{self.kind}"

    def _scan_plugins(self) -> None:
        if self._plugins_scanned:
            return
        self._plugins_scanned = True
        for ep in metadata.entry_points(group=self.group):
            if ep.name not in self._items and ep.name not in self._aliases:
                self._lazy[ep.name] = ep

    def _load_plugin(self, name: str) -> T:
        ep = self._lazy.pop(name)
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must say which one
            raise LkbenchError(f"could not load {self.noun} plugin {name!r} from entry point "
                               f"{ep.value!r} (group {self.group}): {exc}") from exc
        return self.add(name, obj)

    # -- lookup -------------------------------------------------------------------------
    def resolve(self, name: str) -> str:
        """Canonical name for ``name`` or an alias of it."""
        self._scan_plugins()
        if name in self._aliases:
            return self._aliases[name]
        if name in self._items:
            return name
        if name in self._lazy:
            self._load_plugin(name)
            return name
        raise UnknownNameError(did_you_mean(name, self.names(include_aliases=True),
                                            self.noun))

    def get(self, name: str) -> T:
        """The object registered as ``name``; unknown names raise :class:`UnknownNameError`."""
        return self._items[self.resolve(name)]

    def in_order(self) -> list[tuple[str, T]]:
        """``(name, object)`` of every entry in registration order (plugins load, last)."""
        self._scan_plugins()
        for name in list(self._lazy):
            self._load_plugin(name)
        return list(self._items.items())

    def names(self, *, include_aliases: bool = False) -> list[str]:
        """Sorted registered names (plugins included, not loaded)."""
        self._scan_plugins()
        out = set(self._items) | set(self._lazy)
        if include_aliases:
            out |= set(self._aliases)
        return sorted(out)

    def aliases_of(self, name: str) -> list[str]:
        return sorted(a for a, n in self._aliases.items() if n == name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self._scan_plugins()
        return name in self._items or name in self._aliases or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
