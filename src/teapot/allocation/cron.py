"""A small five-field cron matcher for recurring reservations.

Why hand-written instead of ``croniter``: the domain needs one thing only — every start instant of
a five-field UTC expression inside a bounded horizon — and it needs it typed and fast for thousands
of reservations. croniter ships no type information (mypy strict would need an ignore), walks one
occurrence at a time through timezone arithmetic, and has had maintenance gaps. The matcher below
expands a day at a time (365 day checks per year of horizon) and supports the standard syntax:
``*``, ``a``, ``a-b``, ``*/n``, ``a-b/n``, lists, month and weekday names, and the Vixie rule that
when both day-of-month and day-of-week are restricted a day matching either one fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}


def _parse_field(text: str, low: int, high: int, aliases: dict[str, int]) -> frozenset[int]:
    result: set[int] = set()
    for part in text.lower().split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step <= 0:
                raise ValueError(f"cron step must be positive: {text!r}")
        if part == "*":
            first, last = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            first, last = _value(a, aliases), _value(b, aliases)
        else:
            first = _value(part, aliases)
            last = high if step > 1 else first
        if not (low <= first <= high and low <= last <= high) or first > last:
            raise ValueError(f"cron field {text!r} out of range {low}-{high}")
        result.update(range(first, last + 1, step))
    return frozenset(result)


def _value(text: str, aliases: dict[str, int]) -> int:
    if text in aliases:
        return aliases[text]
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"bad cron value {text!r}") from None


@dataclass(frozen=True)
class CronSchedule:
    """A parsed expression; ``7`` is accepted for Sunday."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_restricted: bool
    weekday_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        fields = expression.split()
        if len(fields) != 5:
            raise ValueError(f"cron expression needs 5 fields, got {expression!r}")
        minute, hour, dom, month, dow = fields
        weekdays = _parse_field(dow, 0, 7, _DAYS)
        return cls(
            minutes=_parse_field(minute, 0, 59, {}),
            hours=_parse_field(hour, 0, 23, {}),
            days=_parse_field(dom, 1, 31, {}),
            months=_parse_field(month, 1, 12, _MONTHS),
            weekdays=frozenset(d % 7 for d in weekdays),
            day_restricted=not dom.startswith("*"),
            weekday_restricted=not dow.startswith("*"),
        )

    def matches_day(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        dom_ok = day.day in self.days
        dow_ok = (day.isoweekday() % 7) in self.weekdays
        if self.day_restricted and self.weekday_restricted:
            return dom_ok or dow_ok
        return dom_ok and dow_ok

    def between(self, start: datetime, end: datetime, limit: int = 50_000) -> list[datetime]:
        """Every matching instant in [start, end), in order (UTC). Raises past ``limit``."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        times = sorted((h, m) for h in self.hours for m in self.minutes)
        found: list[datetime] = []
        while day < end:
            if self.matches_day(day):
                for hour, minute in times:
                    instant = day.replace(hour=hour, minute=minute)
                    if start <= instant < end:
                        found.append(instant)
                if len(found) > limit:
                    raise ValueError(f"cron expression fires more than {limit} times in the horizon")
            day += timedelta(days=1)
        return found
