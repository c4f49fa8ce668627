"""The reconcile loop: informer events → keys → work queue → N workers → ``reconcile(key)``.

Why: this is controller-runtime's contract, which every Teapot controller implements —
``reconcile(key) -> Result`` reads the world (from informer caches), takes one step, writes status.
It is level-triggered: events only say *which* key to look at, never *what* changed, so a missed
or merged event is harmless and a restart converges. Watches on owned or related resources map
their objects to the key of the object to reconcile (:func:`owner_mapper`).

Outcomes: an exception → error metric and a rate-limited requeue (per-key exponential back-off);
``Result(requeue_after=s)`` → back-off reset and a delayed requeue; ``Result(requeue=True)`` → a
rate-limited requeue without an error; ``Result()`` → done, back-off reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from teapot.runtime import metrics
from teapot.runtime.informer import FuncHandler, SharedInformer
from teapot.runtime.resources import KubeObject, ObjectKey
from teapot.runtime.workqueue import QueueOptions, QueueShutDown, WorkQueue

log = logging.getLogger(__name__)

#: Maps a watched object to the keys of the objects that must be reconciled because of it.
Mapper = Callable[[KubeObject], Iterable[ObjectKey]]
#: Decides whether an update (old, new) is worth a reconcile; adds and deletes always are.
UpdateFilter = Callable[[KubeObject, KubeObject], bool]


@dataclass(frozen=True, slots=True)
class Result:
    requeue_after: float | None = None
    requeue: bool = False


class Reconciler(Protocol):
    async def reconcile(self, key: ObjectKey) -> Result: ...


def self_mapper(obj: KubeObject) -> list[ObjectKey]:
    """The object itself (a controller's primary resource)."""
    return [ObjectKey.of(obj)]


def owner_mapper(
    api_group: str, kind: str, *, controller_only: bool = True, owner_namespaced: bool = True
) -> Mapper:
    """Keys of the object's owners of ``kind`` in ``api_group`` ("" for core), from ownerReferences.

    With ``controller_only`` only the managing owner (``controller: true``) counts, as in
    controller-runtime's ``EnqueueRequestForOwner(..., OnlyControllerOwner())``.
    """

    def mapper(obj: KubeObject) -> list[ObjectKey]:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "") if owner_namespaced else ""
        keys = []
        for ref in meta.get("ownerReferences") or []:
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            if ref.get("kind") != kind or group != api_group:
                continue
            if controller_only and not ref.get("controller"):
                continue
            keys.append(ObjectKey(namespace, str(ref.get("name", ""))))
        return keys

    return mapper


def generation_changed(old: KubeObject, new: KubeObject) -> bool:
    """Update filter: only spec changes (``metadata.generation``) or deletion starting."""
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    return bool(
        old_meta.get("generation") != new_meta.get("generation")
        or old_meta.get("deletionTimestamp") != new_meta.get("deletionTimestamp")
    )


@dataclass(frozen=True, slots=True)
class ControllerOptions:
    workers: int = 4
    queue: QueueOptions = field(default_factory=QueueOptions)
    #: On stop, in-flight reconciles get this long to finish before they are cancelled.
    grace_period: float = 10.0


class Controller:
    def __init__(self, name: str, reconciler: Reconciler, options: ControllerOptions = ControllerOptions()):
        self.name = name
        self.reconciler = reconciler
        self.options = options
        self.queue: WorkQueue[ObjectKey] = WorkQueue(name, options.queue)
        self._informers: list[SharedInformer] = []
        self._active = metrics.ACTIVE_WORKERS.labels(name)
        self._latency = metrics.RECONCILE_TIME.labels(name)
        self._errors = metrics.RECONCILE_ERRORS.labels(name)
        metrics.MAX_CONCURRENT_RECONCILES.labels(name).set(options.workers)
        for result in ("success", "error", "requeue", "requeue_after"):
            metrics.RECONCILE_TOTAL.labels(name, result)

    def watch(
        self,
        informer: SharedInformer,
        mapper: Mapper = self_mapper,
        update_filter: UpdateFilter | None = None,
    ) -> None:
        """Enqueue ``mapper(obj)`` for every add, (filtered) update and delete the informer sees."""

        def enqueue(obj: KubeObject) -> None:
            for key in mapper(obj):
                self.queue.add(key)

        def on_update(old: KubeObject, new: KubeObject) -> None:
            if update_filter is None or update_filter(old, new):
                enqueue(new)

        self._informers.append(informer)
        informer.add_handler(FuncHandler(add=enqueue, update=on_update, delete=enqueue))

    async def run(self) -> None:
        """Wait for the watched caches, then reconcile until cancelled; stops gracefully."""
        for informer in self._informers:
            informer.start()  # no-op if the factory started it
        await asyncio.gather(*(i.wait_for_sync() for i in self._informers))
        workers = [
            asyncio.create_task(self._worker(), name=f"{self.name} worker {n}")
            for n in range(self.options.workers)
        ]
        try:
            while True:
                self.queue.update_unfinished_metrics()
                await asyncio.sleep(1.0)
        finally:
            self.queue.shutdown()
            _, pending = await asyncio.wait(workers, timeout=self.options.grace_period)
            for task in pending:
                task.cancel()
            for task in workers:
                with contextlib.suppress(asyncio.CancelledError, QueueShutDown):
                    await task

    def _requeue(self, key: ObjectKey, result: Result) -> None:
        if result.requeue_after is not None and result.requeue_after > 0:
            self.queue.forget(key)
            self.queue.add_after(key, result.requeue_after)
            metrics.RECONCILE_TOTAL.labels(self.name, "requeue_after").inc()
        elif result.requeue:
            self.queue.add_rate_limited(key)
            metrics.RECONCILE_TOTAL.labels(self.name, "requeue").inc()
        else:
            self.queue.forget(key)
            metrics.RECONCILE_TOTAL.labels(self.name, "success").inc()

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()  # raises QueueShutDown to end the worker
            self._active.inc()
            started = time.perf_counter()
            try:
                result = await self.reconciler.reconcile(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                self._errors.inc()
                metrics.RECONCILE_TOTAL.labels(self.name, "error").inc()
                delay = self.queue.add_rate_limited(key)
                log.exception("%s: reconcile %s failed; retrying in %.3fs", self.name, key, delay)
            else:
                try:
                    self._requeue(key, result)
                except Exception:
                    # A worker must never die of its own bookkeeping (a dead worker is a silent stall:
                    # uvloop once made the timer code raise here). Retry the key later instead.
                    log.exception("%s: requeueing %s failed; retrying it", self.name, key)
                    self.queue.add(key)
            finally:
                self._latency.observe(time.perf_counter() - started)
                self._active.dec()
                self.queue.done(key)
