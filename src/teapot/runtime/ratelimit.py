"""Rate limiters: per-key exponential back-off and an overall token bucket.

Why hand-written: these are the ~80 lines of client-go's ``workqueue`` rate limiters, and they
must be *pure functions of a clock* so they can be tested with a fake one and shared between the
work queue (sync ``when()``) and the REST client (async ``wait()``). The asyncio rate-limit
libraries on PyPI (aiolimiter, limits) only offer a blocking ``acquire`` on the real clock, which
the queue cannot use: it needs to know *how long* to delay an item, not to block a worker.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> float:
        """Monotonic seconds."""
        ...


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Per-key exponential back-off: ``base * 2**failures`` capped at ``cap``, times a jitter factor
    drawn from ``[1 - jitter, 1]`` (client-go's default is 5 ms → 1000 s without jitter)."""

    base: float = 0.005
    cap: float = 300.0
    jitter: float = 0.1

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        raw = self.cap if failures >= 64 else min(self.cap, self.base * (2.0**failures))
        return raw * (1.0 - self.jitter * rand())


class ItemBackoff:
    """Counts failures per key; :meth:`when` returns the next delay and bumps the count."""

    def __init__(self, policy: BackoffPolicy = BackoffPolicy(), rand: Callable[[], float] = random.random):
        self.policy = policy
        self._rand = rand
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        return self.policy.delay(failures, self._rand)

    def failures(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)


class TokenBucket:
    """A token bucket of ``qps`` tokens/s holding at most ``burst``; ``qps <= 0`` means unlimited.

    :meth:`reserve` takes a token now or in the future and returns how long the caller must wait
    for it, like ``rate.Limiter.Reserve`` in Go: reservations queue up fairly and never fail.
    """

    def __init__(self, qps: float, burst: int, clock: Clock = time.monotonic):
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    @property
    def unlimited(self) -> bool:
        return self.qps <= 0

    def reserve(self) -> float:
        if self.unlimited:
            return 0.0
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    async def wait(self) -> float:
        """Wait for a token; returns the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)
        return delay
