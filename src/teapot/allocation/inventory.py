"""The host inventory, indexed so that no decision scans every host.

Why this module exists: at 100,000 hosts a claim cannot afford to test every host against its
selector. Hosts with identical (hardware class, labels, resources) are interchangeable for every
requirement, so they are grouped into *profiles*; a selector is evaluated once per profile, and
each profile keeps its free healthy hosts sorted by (cost, name) so the cheapest candidates come
first. Admission uses the same profiles as the host equivalence classes of its flow network.

The index is the one mutable object of the domain: ``bind``/``release`` keep it in step with the
decisions a controller applies, so a run of many claims (the throughput benchmark) stays linear.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from teapot.allocation.model import CostModel, Holder, Host, HostClass, Labels, Level, Requirements, Resources


@dataclass(frozen=True)
class Profile:
    """An equivalence class of hosts: same hardware class, labels and resources."""

    index: int
    host_class: str | None
    labels: Labels
    resources: Resources


class Inventory:
    """Hosts, their classes and costs, and a free-host index per profile."""

    def __init__(
        self,
        hosts: Iterable[Host],
        host_classes: Sequence[HostClass] = (),
        cost_model: CostModel = CostModel(),
    ) -> None:
        self.host_classes = tuple(sorted(host_classes, key=lambda c: c.name))
        self.cost_model = cost_model
        self._class_price = {c.name: c.price for c in self.host_classes}
        self.hosts: dict[str, Host] = {}
        self.profiles: list[Profile] = []
        self._profile_key: dict[tuple[str | None, Labels, Resources], int] = {}
        self.profile_of: dict[str, int] = {}
        self.cost: dict[str, float] = {}
        self._members: list[list[str]] = []
        self._free: list[list[tuple[float, str]]] = []
        self._match_cache: dict[tuple[Requirements, str | None], tuple[int, ...]] = {}
        self._by_claim: dict[str, set[str]] = {}
        self._usage: dict[str, Counter[str | None]] = {}
        self._held_in: list[set[str]] = []
        self._by_reservation: Counter[str] = Counter()
        self._domains: dict[str, tuple[str, ...]] = {}
        for host in sorted(hosts, key=lambda h: h.name):
            self._add(host)

    # -- construction -------------------------------------------------------------------------

    def classify(self, host: Host) -> str | None:
        for host_class in self.host_classes:
            if host_class.selector.matches(host.label_map, host.resource_map):
                return host_class.name
        return None

    def _add(self, host: Host) -> None:
        if host.name in self.hosts:
            raise ValueError(f"duplicate host {host.name!r}")
        host_class = self.classify(host)
        key = (host_class, host.labels, host.resources)
        index = self._profile_key.get(key)
        if index is None:
            index = len(self.profiles)
            self._profile_key[key] = index
            self.profiles.append(Profile(index, host_class, host.labels, host.resources))
            self._members.append([])
            self._free.append([])
            self._held_in.append(set())
            self._match_cache.clear()
        self.hosts[host.name] = host
        self.profile_of[host.name] = index
        self._domains[host.name] = tuple(host.topology.domain(level) for level in Level)
        self._members[index].append(host.name)
        price = host.price if host.price is not None else self._class_price.get(host_class or "")
        cost = price if price is not None else self.cost_model.spec_cost(host.resource_map)
        self.cost[host.name] = cost
        if host.holder is not None:
            self._track(host.name, host.holder, +1)
        elif host.healthy:
            bisect.insort(self._free[index], (cost, host.name))

    def _track(self, name: str, holder: Holder, delta: int) -> None:
        host_class = self.host_class(name)
        usage = self._usage.setdefault(holder.tenant, Counter())
        usage[host_class] += delta
        claim = self._by_claim.setdefault(holder.claim, set())
        held = self._held_in[self.profile_of[name]]
        if holder.reservation is not None:
            self._by_reservation[holder.reservation] += delta
        if delta > 0:
            claim.add(name)
            held.add(name)
        else:
            claim.discard(name)
            held.discard(name)

    # -- queries ------------------------------------------------------------------------------

    def domain(self, name: str, level: Level) -> str:
        """The host's domain key at ``level`` (precomputed: placement asks per candidate, and
        computing on first use put string building into the first claim's latency)."""
        return self._domains[name][level.value]

    def host_class(self, name: str) -> str | None:
        return self.profiles[self.profile_of[name]].host_class

    def matching_profiles(self, requirements: Requirements, host_class: str | None = None) -> tuple[int, ...]:
        """Profiles whose hosts satisfy ``requirements`` (and belong to ``host_class`` if given)."""
        key = (requirements, host_class)
        cached = self._match_cache.get(key)
        if cached is None:
            cached = tuple(
                p.index
                for p in self.profiles
                if (host_class is None or p.host_class == host_class)
                and requirements.matches(dict(p.labels), dict(p.resources))
            )
            self._match_cache[key] = cached
        return cached

    def members(self, profile: int) -> Sequence[str]:
        return self._members[profile]

    def free(self, profile: int) -> Sequence[tuple[float, str]]:
        """Free healthy hosts of a profile as (cost, name), cheapest first. Do not mutate."""
        return self._free[profile]

    def free_count(self, profiles: Iterable[int]) -> int:
        return sum(len(self._free[p]) for p in profiles)

    def holders(self) -> Iterator[Host]:
        """Hosts that are currently held by someone."""
        return (h for h in self.hosts.values() if h.holder is not None)

    def held_by_claim(self, claim: str) -> list[str]:
        return sorted(self._by_claim.get(claim, ()))

    def held_in(self, profile: int) -> list[str]:
        """Held hosts of a profile, by name."""
        return sorted(self._held_in[profile])

    def held_for_reservation(self, reservation: str) -> int:
        """How many hosts are held by claims made through ``reservation``."""
        return self._by_reservation[reservation]

    def usage(self, tenant: str) -> Mapping[str | None, int]:
        """Hosts held by ``tenant`` per hardware class."""
        return self._usage.get(tenant, Counter())

    # -- mutation (mirrors decisions the controller applied) ---------------------------------

    def bind(self, name: str, holder: Holder) -> None:
        host = self.hosts[name]
        if host.holder is not None:
            raise ValueError(f"host {name!r} is already held by claim {host.holder.claim!r}")
        self._remove_free(name)
        self.hosts[name] = replace(host, holder=holder)
        self._track(name, holder, +1)

    def mark_reclaimed(self, name: str, claim: str) -> None:
        """Record that ``claim`` is reclaiming the (still held) host ``name``."""
        host = self.hosts[name]
        if host.holder is None:
            raise ValueError(f"host {name!r} is not held; nothing to reclaim")
        self.hosts[name] = replace(host, holder=replace(host.holder, reclaimed_by=claim))

    def release(self, name: str) -> None:
        previous = self.hosts[name].holder
        if previous is None:
            return
        self._track(name, previous, -1)
        host = replace(self.hosts[name], holder=None)
        self.hosts[name] = host
        if host.healthy:
            bisect.insort(self._free[self.profile_of[name]], (self.cost[name], name))

    def set_health(self, name: str, healthy: bool) -> None:
        host = self.hosts[name]
        if host.healthy == healthy:
            return
        self.hosts[name] = replace(host, healthy=healthy)
        if host.holder is None:
            if healthy:
                bisect.insort(self._free[self.profile_of[name]], (self.cost[name], name))
            else:
                self._remove_free(name)

    def _remove_free(self, name: str) -> None:
        free = self._free[self.profile_of[name]]
        position = bisect.bisect_left(free, (self.cost[name], name))
        if position < len(free) and free[position][1] == name:
            del free[position]
