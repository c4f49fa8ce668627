"""Selectors, cron expansion and calendar helpers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from teapot.allocation import (
    Band,
    CronSchedule,
    FixedClock,
    LabelRequirement,
    Operator,
    Recurrence,
    Requirements,
    Reservation,
    Window,
    active_window,
    occurrences,
    reservation_band,
    upcoming,
)
from teapot.allocation.calendar import utc
from teapot.allocation.model import humanize


@pytest.mark.parametrize(
    ("operator", "values", "labels", "expected"),
    [
        (Operator.IN, ("a", "b"), {"k": "b"}, True),
        (Operator.IN, ("a",), {}, False),
        (Operator.NOT_IN, ("a",), {}, True),
        (Operator.NOT_IN, ("a",), {"k": "a"}, False),
        (Operator.EXISTS, (), {"k": ""}, True),
        (Operator.DOES_NOT_EXIST, (), {"k": "x"}, False),
        (Operator.GT, ("31",), {"k": "32"}, True),
        (Operator.GT, ("32",), {"k": "32"}, False),
        (Operator.LT, ("8",), {"k": "4"}, True),
        (Operator.GT, ("1",), {"k": "many"}, False),
    ],
)
def test_label_operators(
    operator: Operator, values: tuple[str, ...], labels: dict[str, str], expected: bool
) -> None:
    assert LabelRequirement("k", operator, values).matches(labels) is expected


def test_requirements_resources_and_description() -> None:
    req = Requirements((LabelRequirement("gpu", Operator.IN, ("nvidia-a100",)),), (("memory_gib", 256),))
    assert req.matches({"gpu": "nvidia-a100"}, {"memory_gib": 512})
    assert not req.matches({"gpu": "nvidia-a100"}, {"memory_gib": 128})
    assert req.describe() == "gpu=nvidia-a100, memory_gib>=256"


def test_invalid_selectors_are_rejected() -> None:
    with pytest.raises(ValueError):
        LabelRequirement("cores", Operator.GT, ("lots",))
    with pytest.raises(ValueError):
        LabelRequirement("gpu", Operator.IN, ())


def test_cron_weekdays_and_steps() -> None:
    schedule = CronSchedule.parse("30 */12 * * mon-fri")
    found = schedule.between(utc(2026, 11, 20), utc(2026, 11, 24))  # Fri 20 .. Mon 23
    assert found == [
        utc(2026, 11, 20, 0, 30),
        utc(2026, 11, 20, 12, 30),
        utc(2026, 11, 23, 0, 30),
        utc(2026, 11, 23, 12, 30),
    ]


def test_cron_day_of_month_or_weekday() -> None:
    schedule = CronSchedule.parse("0 0 1 * sun")  # Vixie: the 1st OR any Sunday
    days = [d.day for d in schedule.between(utc(2026, 11, 1), utc(2026, 12, 2))]
    assert days == [1, 8, 15, 22, 29, 1]


@pytest.mark.parametrize("bad", ["* * * *", "61 * * * *", "*/0 * * * *", "5-1 * * * *", "x * * * *"])
def test_cron_rejects_bad_expressions(bad: str) -> None:
    with pytest.raises(ValueError):
        CronSchedule.parse(bad)


def test_recurring_reservation_windows_and_bands() -> None:
    nightly = Reservation("ns/nightly", "ml", 2, recurrence=Recurrence("0 22 * * *", timedelta(hours=4)))
    windows = occurrences(nightly, Window(utc(2026, 3, 1, 1), utc(2026, 3, 3)))
    # the window that opened the night before still overlaps the horizon start
    assert [w.start for w in windows] == [utc(2026, 2, 28, 22), utc(2026, 3, 1, 22), utc(2026, 3, 2, 22)]
    assert active_window(nightly, utc(2026, 3, 2, 1)) == Window(utc(2026, 3, 1, 22), utc(2026, 3, 2, 2))
    assert reservation_band(nightly, Band.RESERVED, utc(2026, 3, 2, 1)) is Band.RESERVED
    assert reservation_band(nightly, Band.RESERVED, utc(2026, 3, 2, 3)) is Band.PREEMPTIBLE


def test_upcoming_windows_within_lead_time() -> None:
    clock = FixedClock(utc(2026, 3, 1, 21, 40))
    nightly = Reservation("ns/nightly", "ml", 2, recurrence=Recurrence("0 22 * * *", timedelta(hours=4)))
    best_effort = Reservation(
        "ns/be", "ml", 2, window=Window(utc(2026, 3, 1, 21, 50), utc(2026, 3, 2)), guaranteed=False
    )
    assert upcoming([nightly, best_effort], clock.now()) == []  # 20 minutes out
    clock.advance(timedelta(minutes=6))
    assert [(r.name, w.start) for r, w in upcoming([nightly, best_effort], clock.now())] == [
        ("ns/nightly", utc(2026, 3, 1, 22))
    ]


def test_humanize() -> None:
    assert [humanize(timedelta(seconds=s)) for s in (5, 120, 7200, 172800)] == ["5s", "2m", "2h", "2d"]
