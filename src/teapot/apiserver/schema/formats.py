"""String ``format`` checkers for the formats kube-apiserver validates in CRDs.

Why it exists: kube validates ``format`` with go-openapi's strfmt registry (RFC 3339 date-times,
Go durations, Go's IP/CIDR/MAC parsers, a fixed set of regexes). No Python library reproduces
that registry, so this module hand-writes each checker as a small predicate, using the standard
library (``ipaddress``, ``datetime``, ``base64``) and the regexes strfmt itself uses where it can.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import re
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

_UUID: Final = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_UUID3: Final = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_UUID4: Final = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
_UUID5: Final = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
_HOSTNAME: Final = re.compile(
    r"^([a-zA-Z0-9]((-?[a-zA-Z0-9]{0,62})?)|([a-zA-Z0-9](([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.)){1,}([a-zA-Z]){2,63})$"
)
_EMAIL: Final = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+$")
_MAC: Final = re.compile(
    r"^(?:[0-9a-fA-F]{2}(?:[:-][0-9a-fA-F]{2}){5}|[0-9a-fA-F]{2}(?:[:-][0-9a-fA-F]{2}){7}"
    r"|[0-9a-fA-F]{2}(?:[:-][0-9a-fA-F]{2}){19}"
    r"|[0-9a-fA-F]{4}(?:\.[0-9a-fA-F]{4}){2}|[0-9a-fA-F]{4}(?:\.[0-9a-fA-F]{4}){3}"
    r"|[0-9a-fA-F]{4}(?:\.[0-9a-fA-F]{4}){9})$"
)
_ISBN10: Final = re.compile(r"^(?:[0-9]{9}X|[0-9]{10})$")
_ISBN13: Final = re.compile(r"^(?:[0-9]{13})$")
_CREDITCARD: Final = re.compile(
    r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}"
    r"|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11})$"
)
_SSN: Final = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$")
_HEXCOLOR: Final = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_RGBCOLOR: Final = re.compile(
    r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,"
    r"\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$"
)
_BSON: Final = re.compile(r"^[0-9a-fA-F]{24}$")
_DATETIME: Final = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$"
)
_GO_DURATION: Final = re.compile(
    r"^[-+]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))*$"
)
_SCALA_DURATION: Final = re.compile(
    r"^[-+]?\d+\s*(ns|nano|nanos|nanosecond|nanoseconds|us|micro|micros|microsecond|microseconds"
    r"|ms|milli|millis|millisecond|milliseconds|s|sec|secs|second|seconds|m|min|mins|minute|minutes"
    r"|h|hr|hour|hours|d|day|days|w|wk|week|weeks)$"
)


def _date(value: str) -> bool:
    if len(value) != 10:
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _datetime(value: str) -> bool:
    m = _DATETIME.match(value)
    if m is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        dt.datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    return second <= 60


def _duration(value: str) -> bool:
    return value == "0" or bool(_GO_DURATION.match(value)) or bool(_SCALA_DURATION.match(value))


def _ipv4(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _ipv6(value: str) -> bool:
    try:
        ipaddress.ip_address(value)  # Go's net.ParseIP accepts both families for "ipv6"
    except ValueError:
        return False
    return ":" in value or _ipv4(value)


def _cidr(value: str) -> bool:
    if "/" not in value:
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _uri(value: str) -> bool:
    # Go's url.ParseRequestURI: an absolute URI, or an absolute path.
    if not value or any(c in value for c in " \t\n"):
        return False
    if value.startswith("/"):
        return True
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return bool(parts.scheme)


def _byte(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _isbn10(value: str) -> bool:
    digits = value.replace("-", "").replace(" ", "")
    if not _ISBN10.match(digits):
        return False
    total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits))
    return total % 11 == 0


def _isbn13(value: str) -> bool:
    digits = value.replace("-", "").replace(" ", "")
    if not _ISBN13.match(digits):
        return False
    total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(digits))
    return total % 10 == 0


def _creditcard(value: str) -> bool:
    return bool(_CREDITCARD.match(re.sub(r"[^0-9]", "", value)))


def _regex(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda value: pattern.match(value) is not None


CHECKERS: Final[dict[str, Callable[[str], bool]]] = {
    "bsonobjectid": _regex(_BSON),
    "uri": _uri,
    "email": _regex(_EMAIL),
    "hostname": lambda v: len(v) <= 255 and _HOSTNAME.match(v) is not None,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "cidr": _cidr,
    "mac": _regex(_MAC),
    "uuid": _regex(_UUID),
    "uuid3": _regex(_UUID3),
    "uuid4": _regex(_UUID4),
    "uuid5": _regex(_UUID5),
    "isbn": lambda v: _isbn10(v) or _isbn13(v),
    "isbn10": _isbn10,
    "isbn13": _isbn13,
    "creditcard": _creditcard,
    "ssn": _regex(_SSN),
    "hexcolor": _regex(_HEXCOLOR),
    "rgbcolor": _regex(_RGBCOLOR),
    "byte": _byte,
    "password": lambda v: True,
    "date": _date,
    "duration": _duration,
    "datetime": _datetime,
}


def check(normalized_format: str, value: str) -> bool:
    """True if ``value`` satisfies the (normalised) format; unknown formats always pass."""
    checker = CHECKERS.get(normalized_format)
    return True if checker is None else checker(value)
