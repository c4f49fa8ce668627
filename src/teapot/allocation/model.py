"""Plain values the allocation domain reasons about.

Why this module exists: controllers build these frozen dataclasses from Kubernetes objects
(BareMetalHost, HostClass, Tenant, Reservation, HostClaim) and hand them to the domain; the domain
never sees a raw dict or a Kubernetes type. Everything here is immutable and hashable so decisions
are reproducible and values can be cached and compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from functools import cached_property

Labels = tuple[tuple[str, str], ...]
Resources = tuple[tuple[str, int], ...]


def labels_of(mapping: Mapping[str, str]) -> Labels:
    """Canonical (sorted) immutable form of a label mapping."""
    return tuple(sorted(mapping.items()))


def resources_of(mapping: Mapping[str, int]) -> Resources:
    """Canonical (sorted) immutable form of a resource mapping (e.g. cpu, memory_gib, gpu)."""
    return tuple(sorted(mapping.items()))


class Band(StrEnum):
    """Priority band of a binding; a higher band may pre-empt a lower one."""

    PREEMPTIBLE = "preemptible"
    ON_DEMAND = "on-demand"
    RESERVED = "reserved"

    @property
    def rank(self) -> int:
        return _BAND_RANK[self]


_BAND_RANK = {Band.PREEMPTIBLE: 0, Band.ON_DEMAND: 1, Band.RESERVED: 2}


class Operator(StrEnum):
    """Label selector operators (Kubernetes node-affinity vocabulary)."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"
    GT = "Gt"
    LT = "Lt"


def _as_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class LabelRequirement:
    """One selector term; ``Gt``/``Lt`` compare integers and never match a non-integer label."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.operator in (Operator.GT, Operator.LT) and (
            len(self.values) != 1 or _as_int(self.values[0]) is None
        ):
            raise ValueError(f"{self.operator} on {self.key!r} needs exactly one integer value")
        if self.operator in (Operator.IN, Operator.NOT_IN) and not self.values:
            raise ValueError(f"{self.operator} on {self.key!r} needs at least one value")

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        op = self.operator
        if op is Operator.IN:
            return value is not None and value in self.values
        if op is Operator.NOT_IN:
            return value is None or value not in self.values
        if op is Operator.EXISTS:
            return value is not None
        if op is Operator.DOES_NOT_EXIST:
            return value is None
        number = _as_int(value)
        bound = int(self.values[0])
        if number is None:
            return False
        return number > bound if op is Operator.GT else number < bound

    def describe(self) -> str:
        op = self.operator
        if op is Operator.IN:
            return (
                f"{self.key}={self.values[0]}"
                if len(self.values) == 1
                else f"{self.key} in ({','.join(self.values)})"
            )
        if op is Operator.NOT_IN:
            return (
                f"{self.key}!={self.values[0]}"
                if len(self.values) == 1
                else f"{self.key} notin ({','.join(self.values)})"
            )
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return f"!{self.key}"
        return f"{self.key}{'>' if op is Operator.GT else '<'}{self.values[0]}"


@dataclass(frozen=True)
class Requirements:
    """What a request needs: every label term holds and every resource meets its minimum."""

    labels: tuple[LabelRequirement, ...] = ()
    minimums: Resources = ()

    def matches(self, labels: Mapping[str, str], resources: Mapping[str, int]) -> bool:
        return all(term.matches(labels) for term in self.labels) and all(
            resources.get(name, 0) >= amount for name, amount in self.minimums
        )

    def describe(self) -> str:
        parts = [term.describe() for term in self.labels]
        parts += [f"{name}>={amount}" for name, amount in self.minimums]
        return ", ".join(parts) if parts else "any host"


class Level(Enum):
    """Topology levels. Region..rack are nested (a rack sits in one row, ...); PDU crosses them."""

    REGION = 0
    ZONE = 1
    ROOM = 2
    ROW = 3
    RACK = 4
    PDU = 5

    @property
    def nested(self) -> bool:
        return self is not Level.PDU

    @property
    def noun(self) -> str:
        return self.name.lower() if self is not Level.PDU else "PDU"


@dataclass(frozen=True)
class Topology:
    """Where a host sits. Domain keys of nested levels are path prefixes, so names may repeat."""

    region: str = "default"
    zone: str = "default"
    room: str = "default"
    row: str = "default"
    rack: str = "default"
    pdu: str = "default"

    def domain(self, level: Level) -> str:
        if level is Level.PDU:
            return f"{self.region}/pdu/{self.pdu}"
        path = (self.region, self.zone, self.room, self.row, self.rack)
        return "/".join(path[: level.value + 1])


@dataclass(frozen=True)
class Holder:
    """Who holds a host now, in which band, since when (``since`` measures disruption), through
    which reservation, if any, and which claim is already reclaiming it (a pending eviction)."""

    tenant: str
    claim: str
    band: Band
    since: datetime
    reservation: str | None = None
    reclaimed_by: str | None = None


@dataclass(frozen=True)
class Host:
    """One physical machine as the domain sees it (from a BareMetalHost + HardwareData)."""

    name: str
    labels: Labels = ()
    resources: Resources = ()
    topology: Topology = field(default_factory=Topology)
    healthy: bool = True
    price: float | None = None
    holder: Holder | None = None

    @cached_property
    def label_map(self) -> Mapping[str, str]:
        return dict(self.labels)

    @cached_property
    def resource_map(self) -> Mapping[str, int]:
        return dict(self.resources)


@dataclass(frozen=True)
class HostClass:
    """A named hardware class (operator's price list entry). A host's class is the first, by name,
    whose selector matches it."""

    name: str
    selector: Requirements
    price: float | None = None


@dataclass(frozen=True)
class CostModel:
    """Spec cost for hosts without a price: sum of weight x amount over resources."""

    weights: Resources = (("cpu", 10), ("memory_gib", 1), ("gpu", 1000), ("disk_gib", 0))

    def spec_cost(self, resources: Mapping[str, int]) -> float:
        return float(sum(weight * resources.get(name, 0) for name, weight in self.weights))


@dataclass(frozen=True)
class Tenant:
    """Guaranteed minimums and maximums per hardware class, and an optional total maximum."""

    name: str
    guarantees: tuple[tuple[str, int], ...] = ()
    maximums: tuple[tuple[str, int], ...] = ()
    total_maximum: int | None = None
    weight: int = 1

    def guarantee(self, host_class: str) -> int:
        return dict(self.guarantees).get(host_class, 0)

    def maximum(self, host_class: str) -> int | None:
        return dict(self.maximums).get(host_class)


@dataclass(frozen=True)
class Window:
    """A half-open time interval [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Recurrence:
    """A window that repeats: it opens at every instant matching ``cron`` (UTC) for ``duration``."""

    cron: str
    duration: timedelta


@dataclass(frozen=True)
class Reservation:
    """Capacity for a window (or a recurring one); ``guaranteed`` ones go through admission."""

    name: str
    tenant: str
    count: int
    requirements: Requirements = Requirements()
    host_class: str | None = None
    window: Window | None = None
    recurrence: Recurrence | None = None
    guaranteed: bool = True

    def __post_init__(self) -> None:
        if (self.window is None) == (self.recurrence is None):
            raise ValueError(f"reservation {self.name!r} needs exactly one of window or recurrence")
        if self.count < 0:
            raise ValueError("count must be >= 0")


@dataclass(frozen=True)
class Spread:
    """At most ``max_per_domain`` of the claim's hosts in any one domain of ``level``."""

    level: Level
    max_per_domain: int


@dataclass(frozen=True)
class TopologyRule:
    """Spread over several levels at once and/or affinity (all hosts in one domain of a level)."""

    spread: tuple[Spread, ...] = ()
    affinity: Level | None = None


@dataclass(frozen=True)
class Claim:
    """A request for ``count`` hosts (from a HostClaim, or a Reservation being fulfilled)."""

    name: str
    tenant: str
    count: int
    requirements: Requirements = Requirements()
    host_class: str | None = None
    topology: TopologyRule = TopologyRule()
    band: Band = Band.ON_DEMAND
    reservation: str | None = None


@dataclass(frozen=True)
class Explanation:
    """Every decision carries one: a CamelCase ``reason`` for machines, a ``message`` for people."""

    reason: str
    message: str


def humanize(delta: timedelta) -> str:
    """Kubernetes-style short duration: 45s, 2m, 3h, 4d."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def names(items: Iterable[str], limit: int = 4) -> str:
    """'a', 'b' and 3 more."""
    seq = sorted(set(items))
    shown = ", ".join(f"'{item}'" for item in seq[:limit])
    return shown if len(seq) <= limit else f"{shown} and {len(seq) - limit} more"
