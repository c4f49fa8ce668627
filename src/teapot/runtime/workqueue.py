"""A rate-limited, de-duplicating work queue (client-go's ``workqueue`` semantics on asyncio).

Why: level-triggered controllers must never reconcile one object twice at the same time, must
collapse bursts of events into one reconcile, and must retry failures without hammering the API
server or an Ironic conductor. The rules, as in client-go:

* a key queued twice before a worker takes it is processed once (``dirty`` set);
* a key re-added *while being processed* is processed again after :meth:`done` — never twice
  concurrently (``processing`` set);
* :meth:`add_after` delays an add (requeue-after); the earliest pending time for a key wins;
* :meth:`add_rate_limited` delays by ``max(per-key exponential back-off, overall token bucket)``;
  :meth:`forget` resets the key's back-off after a success.

The overall token bucket only paces *retries*, exactly like client-go's default controller rate
limiter: fresh events are never throttled, so a 1,000-host fleet's normal traffic flows freely
while a storm of failures is spread out.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from teapot.runtime import metrics
from teapot.runtime.ratelimit import BackoffPolicy, ItemBackoff, TokenBucket

K = TypeVar("K", bound=Hashable)


class QueueShutDown(Exception):
    """Raised by :meth:`WorkQueue.get` once the queue is shut down."""


@dataclass(frozen=True, slots=True)
class QueueOptions:
    #: per-key back-off; client-go's default is 5 ms doubling to 1,000 s.
    backoff: BackoffPolicy = field(default_factory=lambda: BackoffPolicy(base=0.005, cap=300.0, jitter=0.1))
    #: overall retry rate (tokens/s, <= 0 = unlimited) and burst.
    retry_qps: float = 50.0
    retry_burst: int = 300


class WorkQueue(Generic[K]):
    def __init__(self, name: str, options: QueueOptions = QueueOptions()):
        self.name = name
        self.options = options
        self._backoff = ItemBackoff(options.backoff)
        self._bucket = TokenBucket(options.retry_qps, options.retry_burst)
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: dict[K, float] = {}
        self._added_at: dict[K, float] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._waiting: dict[K, float] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._seq = 0
        # The handle and the time it was armed for: uvloop's call_at returns a plain Handle (no
        # .when()) for a time already past, so the time is kept here rather than asked of the handle.
        self._timer: asyncio.Handle | None = None
        self._timer_when = 0.0
        self._shutting_down = False
        self._depth = metrics.WORKQUEUE_DEPTH.labels(name)
        self._adds = metrics.WORKQUEUE_ADDS.labels(name)
        self._retries = metrics.WORKQUEUE_RETRIES.labels(name)
        self._queue_time = metrics.WORKQUEUE_QUEUE_DURATION.labels(name)
        self._work_time = metrics.WORKQUEUE_WORK_DURATION.labels(name)

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    @property
    def pending_delayed(self) -> int:
        return len(self._waiting)

    def processing(self, key: K) -> bool:
        return key in self._processing

    # --- adding ----------------------------------------------------------------------------
    def add(self, key: K) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._adds.inc()
        self._dirty.add(key)
        self._added_at.setdefault(key, time.monotonic())
        if key in self._processing:
            return  # re-queued by done()
        self._queue.append(key)
        self._depth.set(len(self._queue))
        self._wake_one()

    def add_after(self, key: K, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        if key in self._waiting and self._waiting[key] <= when:
            return
        self._waiting[key] = when
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, key))
        self._arm_timer(loop)

    def add_rate_limited(self, key: K) -> float:
        """Re-add after the key's back-off (or the overall bucket's pace, if slower); returns the delay."""
        self._retries.inc()
        delay = max(self._backoff.when(key), self._bucket.reserve())
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        self._backoff.forget(key)

    def num_requeues(self, key: K) -> int:
        return self._backoff.failures(key)

    # --- consuming -------------------------------------------------------------------------
    async def get(self) -> K:
        while not self._queue:
            if self._shutting_down:
                raise QueueShutDown(self.name)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._getters:
                    self._getters.remove(waiter)
                elif waiter.done() and not waiter.cancelled() and self._queue:
                    self._wake_one()  # pass the wake-up on
                raise
        key = self._queue.popleft()
        self._depth.set(len(self._queue))
        now = time.monotonic()
        self._queue_time.observe(now - self._added_at.pop(key, now))
        self._processing[key] = now
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        started = self._processing.pop(key, None)
        if started is not None:
            self._work_time.observe(time.monotonic() - started)
        if key in self._dirty and not self._shutting_down:
            self._queue.append(key)
            self._depth.set(len(self._queue))
            self._wake_one()

    def update_unfinished_metrics(self) -> None:
        now = time.monotonic()
        ages = [now - started for started in self._processing.values()]
        metrics.WORKQUEUE_UNFINISHED_WORK.labels(self.name).set(sum(ages))
        metrics.WORKQUEUE_LONGEST_RUNNING.labels(self.name).set(max(ages, default=0.0))

    def shutdown(self) -> None:
        """Stop handing out keys: every current and future :meth:`get` raises :class:`QueueShutDown`."""
        self._shutting_down = True
        self._queue.clear()
        self._dirty.clear()
        self._waiting.clear()
        self._heap.clear()
        self._depth.set(0)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    # --- internals -------------------------------------------------------------------------
    def _wake_one(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _arm_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._heap:
            return
        first = self._heap[0][0]
        if self._timer is not None:
            if self._timer_when <= first:
                return
            self._timer.cancel()
        self._timer = loop.call_at(first, self._fire)
        self._timer_when = first

    def _fire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._heap and self._heap[0][0] <= now:
            when, _, key = heapq.heappop(self._heap)
            if self._waiting.get(key) == when:
                del self._waiting[key]
                self.add(key)
        self._arm_timer(loop)
