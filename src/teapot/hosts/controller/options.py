"""Tunables of the BareMetalHost controller, and the clock it reads time from.

Why a module of its own: the defaults follow Metal3 (20 hosts (de)provisioning at once, 5 provisioning
retries, back-off of about a minute growing to hours) and tests need to shrink them to seconds, so they
live in one frozen value passed in at wiring time. The clock is a Protocol so unit tests can move time
without sleeping; the controller only ever reads *wall* time because every deadline it keeps is stored
in ``status`` (no state that matters lives in memory, so restarts keep the same back-off).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "HostControllerOptions", "SystemClock", "backoff_delay", "format_time", "parse_time"]


class Clock(Protocol):
    """Where the controller gets "now" from (timestamps in status, back-off deadlines)."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class HostControllerOptions:
    #: Hosts allowed in ``provisioning``/``deprovisioning`` at once (Metal3: 20; 0: no cap).
    max_concurrent_provisioning: int = 20
    #: Virtual-media hosts neither wait for nor take a slot (Metal3's rule).
    virtual_media_exempt: bool = True
    #: Hosts allowed to *start* automated cleaning in ``preparing`` while this many hosts clean
    #: (``preparing`` with cleaning, plus ``deprovisioning``); the rest wait as ``delayed``. Metal3
    #: has no such cap and Ironic's ``max_concurrent_clean`` does not cover ``provide``; without it
    #: a fleet enrolled at once cleans at once and every booted agent's heartbeats slow Ironic for
    #: all of them (bench/hosts.py, 100 hosts, 2 cores: see docs/hosts-benchmark.md). 0: no cap.
    max_concurrent_cleaning: int = 20
    #: Failed provisioning attempts retried before the host waits for a new image (Metal3: 5).
    provisioning_retries: int = 5
    #: Back-off after the first error; doubles per error up to ``backoff_cap`` (Metal3: ~1-2 min … hours).
    backoff_base: float = 60.0
    backoff_cap: float = 4 * 3600.0
    #: Fraction of the delay added as per-host jitter (spreads hosts that failed together).
    backoff_jitter: float = 0.5
    #: How soon to look again while the provisioner is busy and did not say.
    busy_poll: float = 2.0
    #: Busy hosts are polled every ``poll_growth`` times the time in the state, between ``busy_poll`` and this.
    busy_poll_cap: float = 15.0
    poll_growth: float = 0.1
    #: How often a host in a stable state is checked (power drift, node still known).
    stable_poll: float = 120.0
    #: How old that check's view of the node may be: the provisioner answers every stable host
    #: from one listing per this many seconds instead of one request per host (0: always fresh).
    stable_observe_age: float = 30.0
    #: How soon to look again when the provisioning engine itself is unreachable.
    unavailable_poll: float = 5.0
    #: How soon a host waiting for a (de)provisioning or cleaning slot looks again. A host that
    #: gives up a slot wakes the longest waiters at once; this poll is only the safety net.
    delayed_poll: float = 30.0
    #: Failed power-offs tolerated before deletion proceeds anyway (the node is then removed in
    #: maintenance, so a dead BMC cannot block deleting its host).
    delete_power_off_attempts: int = 3
    #: Concurrent reconciles; each mostly waits on the provisioner (Ironic's API). This is also
    #: admission control for Ironic: more workers let more hosts clean at once, and each cleaning
    #: host's agent heartbeats cost Ironic CPU. 100 hosts to available (bench/hosts.py, 2 cores):
    #: 16 workers 255 s, 8 workers 254 s, 4 workers 194 s.
    workers: int = 4


def backoff_delay(options: HostControllerOptions, error_count: int, key: str) -> float:
    """Delay before retrying after *error_count* consecutive errors: exponential, capped, jittered.

    The jitter is a stable function of the host (*key*) and the count, so a restarted controller
    computes the same deadline from ``status.lastUpdated`` while hosts that failed together still
    spread out.
    """
    if error_count <= 0:
        return 0.0
    delay = min(options.backoff_cap, options.backoff_base * 2.0 ** min(error_count - 1, 30))
    digest = hashlib.sha256(f"{key}/{error_count}".encode()).digest()
    fraction = int.from_bytes(digest[:4], "big") / 2**32
    return min(options.backoff_cap, delay * (1.0 + options.backoff_jitter * fraction))


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds (durations of seconds matter for cleaning records)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
