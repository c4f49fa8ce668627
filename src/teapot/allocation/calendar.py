"""Time: reservation windows, recurrences, lead time and window ends.

Why this module exists: moving a host between tenants takes about 15 minutes (deprovision, clean,
provision), so a guaranteed window must be *anticipated*: its hosts are withheld from new
preemptible use ``lead_time`` before it opens, and admission books each guaranteed window from
``start - lead_time`` so two back-to-back windows of different tenants never make one late.
All instants are timezone-aware UTC; ``now`` is always passed in (the injected clock).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from teapot.allocation.cron import CronSchedule
from teapot.allocation.model import Band, Reservation, Window

DEFAULT_LEAD_TIME = timedelta(minutes=15)


class Clock(Protocol):
    """Where ``now`` comes from; controllers pass a wall clock, tests a fixed one."""

    def now(self) -> datetime: ...


class FixedClock:
    """A clock that only moves when told to (for tests and simulations)."""

    def __init__(self, instant: datetime) -> None:
        self._now = instant

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def occurrences(reservation: Reservation, horizon: Window) -> tuple[Window, ...]:
    """Windows of ``reservation`` that overlap ``horizon`` (not clipped)."""
    if reservation.window is not None:
        return (reservation.window,) if reservation.window.overlaps(horizon) else ()
    assert reservation.recurrence is not None
    duration = reservation.recurrence.duration
    schedule = CronSchedule.parse(reservation.recurrence.cron)
    starts = schedule.between(horizon.start - duration + timedelta(microseconds=1), horizon.end)
    return tuple(Window(start, start + duration) for start in starts)


def active_window(reservation: Reservation, now: datetime) -> Window | None:
    """The window of ``reservation`` containing ``now``, if any."""
    probe = Window(now, now + timedelta(seconds=1))
    for window in occurrences(reservation, probe):
        if window.contains(now):
            return window
    return None


def upcoming(
    reservations: Iterable[Reservation], now: datetime, lead_time: timedelta = DEFAULT_LEAD_TIME
) -> list[tuple[Reservation, Window]]:
    """Guaranteed windows opening within ``lead_time`` of ``now`` (their hosts must be withheld
    from new preemptible use), soonest first."""
    probe = Window(now, now + lead_time + timedelta(seconds=1))
    found: list[tuple[Reservation, Window]] = []
    for reservation in reservations:
        if not reservation.guaranteed:
            continue
        for window in occurrences(reservation, probe):
            if now < window.start <= now + lead_time:
                found.append((reservation, window))
    found.sort(key=lambda item: (item[1].start, item[0].name))
    return found


def reservation_band(reservation: Reservation, requested: Band, now: datetime) -> Band:
    """Band of hosts bound through ``reservation`` at ``now``.

    Inside a guaranteed window the requested band holds. When the window ends the hosts are not
    torn away: the binding drops to ``preemptible``, so the claim keeps its hosts ("extends")
    until something with a better claim needs them, and then it is pre-empted like any borrower.
    """
    if reservation.guaranteed and active_window(reservation, now) is not None:
        return requested
    return Band.PREEMPTIBLE


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Shorthand for a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
