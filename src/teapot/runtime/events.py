"""Event recording: core/v1 Events about objects, written in the background, repeats aggregated.

Why: Events are the history a person reads with ``kubectl describe`` ("why did my host go to
error?"). They are best-effort by Kubernetes' own rules, so recording must never slow or fail a
reconcile: :meth:`EventRecorder.event` only enqueues, a background task writes, and a full buffer
or a failed write is dropped and counted (``teapot_events_dropped_total``). Repeats of the same
(object, type, reason, message) bump ``count``/``lastTimestamp`` on the existing Event instead of
creating new ones, as client-go's EventCorrelator does, so a retry loop cannot flood the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from teapot.runtime import metrics
from teapot.runtime.client import ApiError, ObjectClient
from teapot.runtime.conditions import rfc3339
from teapot.runtime.resources import EVENTS, KubeObject

log = logging.getLogger(__name__)

EventType = Literal["Normal", "Warning"]
_MAX_MESSAGE = 1024


@dataclass(frozen=True, slots=True)
class EventSource:
    component: str
    instance: str = socket.gethostname()


@dataclass(frozen=True, slots=True)
class InvolvedObject:
    api_version: str
    kind: str
    name: str
    namespace: str
    uid: str
    resource_version: str

    @classmethod
    def of(cls, obj: KubeObject) -> InvolvedObject:
        meta = obj.get("metadata") or {}
        return cls(
            str(obj.get("apiVersion", "")),
            str(obj.get("kind", "")),
            str(meta.get("name", "")),
            str(meta.get("namespace") or ""),
            str(meta.get("uid") or ""),
            str(meta.get("resourceVersion") or ""),
        )

    def to_dict(self) -> dict[str, str]:
        out = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        for key, value in (
            ("namespace", self.namespace),
            ("uid", self.uid),
            ("resourceVersion", self.resource_version),
        ):
            if value:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class _Pending:
    involved: InvolvedObject
    type: EventType
    reason: str
    message: str


@dataclass(slots=True)
class _Written:
    namespace: str
    name: str
    count: int


class EventRecorder:
    def __init__(
        self, client: ObjectClient, source: EventSource, *, buffer: int = 1000, cache_size: int = 4096
    ):
        self.client = client
        self.source = source
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=buffer)
        self._cache: OrderedDict[tuple[str, str, str, str, str, str], _Written] = OrderedDict()
        self._cache_size = cache_size
        self._task: asyncio.Task[None] | None = None

    def event(self, obj: KubeObject, type_: EventType, reason: str, message: str) -> None:
        """Record an event about ``obj``; returns at once (the write happens in the background)."""
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        try:
            self._queue.put_nowait(_Pending(InvolvedObject.of(obj), type_, reason, message))
        except asyncio.QueueFull:
            metrics.EVENTS_DROPPED.labels("buffer_full").inc()
        if self._task is None:
            self.start()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event recorder")

    async def flush(self) -> None:
        """Wait until every event recorded so far has been written (or dropped)."""
        await self._queue.join()

    async def stop(self, flush_timeout: float = 2.0) -> None:
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), flush_timeout)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            pending = await self._queue.get()
            try:
                await self._write(pending)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.EVENTS_DROPPED.labels("write_failed").inc()
                log.warning("event %s/%s not written: %s", pending.involved.name, pending.reason, exc)
            finally:
                self._queue.task_done()

    async def _write(self, pending: _Pending) -> None:
        involved = pending.involved
        identity = involved.uid or f"{involved.kind}/{involved.namespace}/{involved.name}"
        key = (identity, involved.kind, involved.namespace, pending.type, pending.reason, pending.message)
        now = rfc3339()
        known = self._cache.get(key)
        if known is not None:
            try:
                await self.client.patch(
                    EVENTS, known.name, {"count": known.count + 1, "lastTimestamp": now}, known.namespace
                )
                known.count += 1
                self._cache.move_to_end(key)
                return
            except ApiError as exc:
                if not exc.not_found:
                    raise
                del self._cache[key]
        namespace = involved.namespace or "default"
        body: KubeObject = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{involved.name}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": involved.to_dict(),
            "reason": pending.reason,
            "message": pending.message,
            "type": pending.type,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": self.source.component, "host": self.source.instance},
            "reportingComponent": self.source.component,
            "reportingInstance": self.source.instance,
        }
        created = await self.client.create(EVENTS, body, namespace)
        self._cache[key] = _Written(namespace, str(created["metadata"]["name"]), 1)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
