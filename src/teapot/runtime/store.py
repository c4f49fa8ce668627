"""The informer cache: objects by ``namespace/name`` plus optional secondary indexes.

Why: controllers read the world from memory, not from the API server, so a reconcile of 1,000
hosts costs no requests until it writes. Secondary indexes (e.g. "hosts by consumer") answer
"which objects relate to this one" without scanning. Single-threaded by design: everything runs
on one asyncio loop, so no locks.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable

from teapot.runtime.resources import KubeObject, ObjectKey

#: Maps an object to the index values it should be found under (none, one or several).
IndexFunc = Callable[[KubeObject], Iterable[str]]

NAMESPACE_INDEX = "namespace"


def index_by_namespace(obj: KubeObject) -> list[str]:
    return [str((obj.get("metadata") or {}).get("namespace") or "")]


def index_by_owner_uid(obj: KubeObject) -> list[str]:
    return [str(ref.get("uid")) for ref in (obj.get("metadata") or {}).get("ownerReferences") or []]


class Store:
    def __init__(self) -> None:
        self._items: dict[ObjectKey, KubeObject] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[ObjectKey]]] = {}
        self.add_indexer(NAMESPACE_INDEX, index_by_namespace)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: ObjectKey | str) -> KubeObject | None:
        return self._items.get(ObjectKey.parse(key) if isinstance(key, str) else key)

    def object_keys(self) -> builtins.list[ObjectKey]:
        return list(self._items)

    def list(self, namespace: str | None = None) -> builtins.list[KubeObject]:
        if namespace is None:
            return list(self._items.values())
        return self.by_index(NAMESPACE_INDEX, namespace)

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        """Add an index; existing objects are indexed at once."""
        if name in self._indexers:
            raise ValueError(f"indexer {name!r} already exists")
        self._indexers[name] = func
        index: dict[str, set[ObjectKey]] = {}
        for key, obj in self._items.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)
        self._indices[name] = index

    def by_index(self, name: str, value: str) -> builtins.list[KubeObject]:
        keys = self._indices[name].get(value, set())
        return [self._items[key] for key in sorted(keys)]

    def upsert(self, obj: KubeObject) -> KubeObject | None:
        """Insert or replace; returns the previous version."""
        key = ObjectKey.of(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name, func in self._indexers.items():
            for value in func(obj):
                self._indices[name].setdefault(value, set()).add(key)
        return old

    def delete(self, key: ObjectKey) -> KubeObject | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def _unindex(self, key: ObjectKey, obj: KubeObject) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
