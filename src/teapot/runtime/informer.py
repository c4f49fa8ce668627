"""Shared informers: list + watch one resource into a :class:`Store` and fan events out.

Why: every controller needs the same "current state of resource X" and the same change
notifications; one informer per resource (shared through :class:`InformerFactory`) means one
list and one watch connection per resource per process, however many controllers look at it.

The loop follows client-go's reflector: list (paginated) → watch from the list's
resourceVersion with ``allowWatchBookmarks`` → on a normal end re-watch from the last version
seen (events or BOOKMARKs) → on 410 Gone (HTTP or ERROR event) re-list and diff against the
cache, so handlers see the adds/updates/deletes they missed → on connection errors back off
exponentially with jitter and re-watch from the last version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
import orjson

from teapot.runtime import metrics
from teapot.runtime.client import ApiError, ObjectClient
from teapot.runtime.ratelimit import BackoffPolicy
from teapot.runtime.resources import KubeObject, ObjectKey, ResourceRef
from teapot.runtime.store import IndexFunc, Store

log = logging.getLogger(__name__)

_LIST_PAGE = 500


class EventHandler(Protocol):
    """Receives cache changes. Called on the event loop in watch order: keep it cheap (enqueue)."""

    def on_add(self, obj: KubeObject) -> None: ...

    def on_update(self, old: KubeObject, new: KubeObject) -> None: ...

    def on_delete(self, obj: KubeObject) -> None: ...


@dataclass(frozen=True, slots=True)
class FuncHandler:
    """An :class:`EventHandler` from plain functions; missing ones ignore the event."""

    add: Callable[[KubeObject], None] | None = None
    update: Callable[[KubeObject, KubeObject], None] | None = None
    delete: Callable[[KubeObject], None] | None = None

    def on_add(self, obj: KubeObject) -> None:
        if self.add:
            self.add(obj)

    def on_update(self, old: KubeObject, new: KubeObject) -> None:
        if self.update:
            self.update(old, new)

    def on_delete(self, obj: KubeObject) -> None:
        if self.delete:
            self.delete(obj)


@dataclass(frozen=True, slots=True)
class InformerOptions:
    namespace: str | None = None
    label_selector: str = ""
    field_selector: str = ""
    #: Re-deliver every cached object as an update this often (0 = never), to heal missed work.
    resync_period: float = 0.0
    #: Server-side watch timeout; randomised up to twice this, like client-go (spreads re-watches).
    watch_timeout: int = 300
    #: Applied to every object before it is cached (e.g. :func:`strip_managed_fields`, to save memory).
    transform: Callable[[KubeObject], KubeObject] | None = None
    backoff: BackoffPolicy = field(default_factory=lambda: BackoffPolicy(base=0.8, cap=30.0, jitter=0.5))


def strip_managed_fields(obj: KubeObject) -> KubeObject:
    """Drop ``metadata.managedFields`` (server-side apply bookkeeping, often half an object's size)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


class _Gone(Exception):
    """The watch's resourceVersion is too old: re-list."""


class SharedInformer:
    def __init__(self, client: ObjectClient, ref: ResourceRef, options: InformerOptions = InformerOptions()):
        self.client = client
        self.ref = ref
        self.options = options
        self.store = Store()
        self.resource_version = ""
        self._handlers: list[EventHandler] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._name = str(ref)

    # --- public ----------------------------------------------------------------------------
    @property
    def has_synced(self) -> bool:
        """True once the first list has been loaded into the cache and delivered to handlers."""
        return self._synced.is_set()

    async def wait_for_sync(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._synced.wait(), timeout)

    def add_handler(self, handler: EventHandler) -> None:
        """Register a handler; if the cache is already loaded it first sees every object as an add."""
        self._handlers.append(handler)
        if self.has_synced:
            for obj in self.store.list():
                self._call(handler.on_add, obj)

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        self.store.add_indexer(name, func)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"informer {self._name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        need_list = True
        failures = 0
        reason = "initial"
        resync = asyncio.create_task(self._resync_loop()) if self.options.resync_period > 0 else None
        try:
            while True:
                try:
                    if need_list:
                        await self._list(reason)
                        need_list = False
                    healthy = await self._watch()
                    failures = 0 if healthy else failures + 1
                    if not healthy:
                        await asyncio.sleep(self.options.backoff.delay(failures))
                except (_Gone, ApiError) as exc:
                    failures += 1
                    if isinstance(exc, _Gone) or exc.gone:
                        need_list, reason = True, "gone"
                        if failures > 1:  # 410 again right after a re-list: don't spin
                            await asyncio.sleep(self.options.backoff.delay(failures))
                        continue
                    need_list = need_list or not self.resource_version
                    reason = "error"
                    log.warning("informer %s: %s; retrying", self._name, exc)
                    await asyncio.sleep(self.options.backoff.delay(failures))
                except (
                    aiohttp.ClientError,
                    TimeoutError,
                    OSError,
                    orjson.JSONDecodeError,
                    ValueError,
                ) as exc:
                    failures += 1
                    reason = "error"
                    log.info("informer %s: connection problem (%r); re-watching", self._name, exc)
                    await asyncio.sleep(self.options.backoff.delay(failures))
        finally:
            if resync is not None:
                resync.cancel()

    # --- list ------------------------------------------------------------------------------
    async def _list(self, reason: str) -> None:
        metrics.INFORMER_RELISTS.labels(self._name, reason).inc()
        items: list[KubeObject] = []
        token = ""
        while True:
            try:
                page = await self.client.list(
                    self.ref,
                    self.options.namespace,
                    label_selector=self.options.label_selector,
                    field_selector=self.options.field_selector,
                    limit=_LIST_PAGE,
                    continue_token=token,
                )
            except ApiError as exc:
                if exc.gone and token:  # continue token expired mid-list: start over
                    items, token = [], ""
                    continue
                raise
            api_version = page.get("apiVersion") or self.ref.api_version
            kind = str(page.get("kind") or "").removesuffix("List") or self.ref.kind
            for item in page.get("items") or []:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(self._transform(item))
            meta = page.get("metadata") or {}
            token = str(meta.get("continue") or "")
            if not token:
                self.resource_version = str(meta.get("resourceVersion") or "")
                break
        self._replace(items)
        self._synced.set()

    def _replace(self, items: list[KubeObject]) -> None:
        seen: set[ObjectKey] = set()
        for obj in items:
            seen.add(ObjectKey.of(obj))
            self._apply_upsert(obj)
        for key in self.store.object_keys():
            if key not in seen:
                old = self.store.delete(key)
                if old is not None:
                    self._dispatch_delete(old)
        metrics.INFORMER_OBJECTS.labels(self._name).set(len(self.store))

    # --- watch -----------------------------------------------------------------------------
    async def _watch(self) -> bool:
        """Watch until the server ends it. Returns False if it ended at once without events
        (a server refusing watches), so the caller backs off instead of spinning."""
        started = time.monotonic()
        received = 0
        timeout = int(self.options.watch_timeout * (1.0 + random.random()))
        async for event in self.client.watch(
            self.ref,
            self.options.namespace,
            resource_version=self.resource_version,
            timeout_seconds=timeout,
            label_selector=self.options.label_selector,
            field_selector=self.options.field_selector,
        ):
            received += 1
            metrics.INFORMER_EVENTS.labels(self._name, event.type).inc()
            self._handle(event.type, event.object)
        return received > 0 or time.monotonic() - started > 1.0

    def _handle(self, kind: str, obj: KubeObject) -> None:
        if kind == "ERROR":
            code = obj.get("code")
            if code == 410 or obj.get("reason") in ("Expired", "Gone"):
                raise _Gone()
            raise ApiError(int(code or 500), str(obj.get("reason") or "WatchError"), obj)
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if kind != "BOOKMARK":
            obj = self._transform(obj)
        if kind in ("ADDED", "MODIFIED"):
            self._apply_upsert(obj)
        elif kind == "DELETED":
            old = self.store.delete(ObjectKey.of(obj))
            self._dispatch_delete(obj if obj.get("metadata") else (old or obj))
        elif kind != "BOOKMARK":
            log.warning("informer %s: unknown watch event type %r", self._name, kind)
        if version:
            self.resource_version = version
        metrics.INFORMER_OBJECTS.labels(self._name).set(len(self.store))

    def _transform(self, obj: KubeObject) -> KubeObject:
        return self.options.transform(obj) if self.options.transform is not None else obj

    # --- dispatch --------------------------------------------------------------------------
    def _apply_upsert(self, obj: KubeObject) -> None:
        old = self.store.upsert(obj)
        for handler in list(self._handlers):
            if old is None:
                self._call(handler.on_add, obj)
            else:
                self._call2(handler.on_update, old, obj)

    def _dispatch_delete(self, obj: KubeObject) -> None:
        for handler in list(self._handlers):
            self._call(handler.on_delete, obj)

    def _call(self, func: Callable[[KubeObject], None], obj: KubeObject) -> None:
        try:
            func(obj)
        except Exception:
            log.exception("informer %s: event handler failed", self._name)

    def _call2(
        self, func: Callable[[KubeObject, KubeObject], None], old: KubeObject, new: KubeObject
    ) -> None:
        try:
            func(old, new)
        except Exception:
            log.exception("informer %s: event handler failed", self._name)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.resync_period)
            if self.has_synced:
                for obj in self.store.list():
                    for handler in list(self._handlers):
                        self._call2(handler.on_update, obj, obj)


class InformerFactory:
    """Hands out one shared informer per (resource, namespace, selectors)."""

    def __init__(self, client: ObjectClient):
        self.client = client
        self._informers: dict[tuple[ResourceRef, str | None, str, str], SharedInformer] = {}
        self._started = False

    def informer(self, ref: ResourceRef, options: InformerOptions = InformerOptions()) -> SharedInformer:
        key = (ref, options.namespace, options.label_selector, options.field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = self._informers[key] = SharedInformer(self.client, ref, options)
            if self._started:
                informer.start()
        return informer

    @property
    def informers(self) -> list[SharedInformer]:
        return list(self._informers.values())

    def start(self) -> None:
        self._started = True
        for informer in self._informers.values():
            informer.start()

    async def wait_for_sync(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(asyncio.gather(*(i.wait_for_sync() for i in self.informers)), timeout)

    async def stop(self) -> None:
        self._started = False
        await asyncio.gather(*(i.stop() for i in self.informers))
