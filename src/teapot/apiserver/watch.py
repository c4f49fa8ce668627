"""Watch fan-out: a bounded in-memory history per resource and a queue per watcher.

Why it exists: kube-apiserver serves watches from a watch cache so that thousands of watchers cost
little and a watch can resume from a recent resourceVersion. This is the same idea: every committed
write is published once as a ``WatchEvent`` carrying the serialized object plus the labels and
selectable fields needed to filter it, so delivering it to N watchers parses nothing. A watch that
asks for a revision older than the retained history gets ``410 Gone`` and re-lists, exactly as
client-go expects. History is memory-only: after a restart only watches from the current revision on
are served, which is kube's behaviour after a watch-cache re-initialisation.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from teapot.apiserver.errors import gone
from teapot.apiserver.selectors import EVERYTHING, NO_FIELDS, FieldSelector, Selector

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"
BOOKMARK = "BOOKMARK"
ERROR = "ERROR"


@dataclass(frozen=True)
class WatchEvent:
    rv: int
    type: str
    namespace: str
    name: str
    labels: Mapping[str, str]
    fields: Mapping[str, str]
    data: bytes
    old_labels: Mapping[str, str] | None = None
    old_fields: Mapping[str, str] | None = None


@dataclass(eq=False)
class Watcher:
    """One client's watch: its filter and the queue its HTTP stream drains."""

    resource: str
    namespace: str | None = None
    labels: Selector = EVERYTHING
    fields: FieldSelector = NO_FIELDS
    capacity: int = 10_000
    queue: asyncio.Queue[WatchEvent | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False
    closed: bool = False

    def _matches(
        self, namespace: str, labels: Mapping[str, str] | None, fields: Mapping[str, str] | None
    ) -> bool:
        if labels is None or fields is None:
            return False
        if self.namespace is not None and namespace != self.namespace:
            return False
        return self.labels.matches(labels) and self.fields.matches(fields)

    def translate(self, ev: WatchEvent) -> str | None:
        """The event type this watcher should see for ``ev`` (kube's filtered-watch transitions)."""
        new = self._matches(ev.namespace, ev.labels, ev.fields)
        if ev.type == ADDED:
            return ADDED if new else None
        if ev.type == DELETED:
            return DELETED if new else None
        old = self._matches(ev.namespace, ev.old_labels, ev.old_fields)
        if new and old:
            return MODIFIED
        if new:
            return ADDED
        if old:
            return DELETED
        return None

    def offer(self, ev: WatchEvent) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= self.capacity:
            # A watcher that cannot keep up is closed; the client re-watches from its last revision.
            self.overflowed = True
            self.close()
            return
        self.queue.put_nowait(ev)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


class WatchHub:
    """Publishes committed changes to watchers and keeps a bounded replay history per resource."""

    def __init__(self, start_rv: int, history: int = 5_000) -> None:
        self._start_rv = start_rv
        self._history_size = history
        self._history: dict[str, deque[WatchEvent]] = {}
        self._floor: dict[str, int] = {}  # oldest revision a watch may resume from, per resource
        self._watchers: dict[str, set[Watcher]] = {}

    @property
    def watcher_count(self) -> int:
        return sum(len(s) for s in self._watchers.values())

    def watcher_counts(self) -> dict[str, int]:
        """Registered watchers per resource key (resources without watchers are left out)."""
        return {key: len(ws) for key, ws in self._watchers.items() if ws}

    def publish(self, resource: str, ev: WatchEvent) -> None:
        hist = self._history.get(resource)
        if hist is None:
            hist = self._history[resource] = deque()
        if len(hist) >= self._history_size:
            evicted = hist.popleft()
            self._floor[resource] = evicted.rv
        hist.append(ev)
        for w in self._watchers.get(resource, ()):
            w.offer(ev)

    def subscribe(
        self,
        resource: str,
        *,
        since_rv: int | None,
        namespace: str | None = None,
        labels: Selector = EVERYTHING,
        fields: FieldSelector = NO_FIELDS,
    ) -> Watcher:
        """Register a watcher; replay retained events after ``since_rv`` (None: only new events)."""
        w = Watcher(resource, namespace, labels, fields)
        if since_rv is not None:
            floor = self._floor.get(resource, self._start_rv)
            if since_rv < floor:
                raise gone(f"too old resource version: {since_rv} ({floor})")
            for ev in self._history.get(resource, ()):
                if ev.rv > since_rv:
                    w.offer(ev)
        self._watchers.setdefault(resource, set()).add(w)
        return w

    def unsubscribe(self, w: Watcher) -> None:
        self._watchers.get(w.resource, set()).discard(w)
        w.close()

    def close_all(self) -> None:
        for ws in self._watchers.values():
            for w in list(ws):
                w.close()
        self._watchers.clear()
