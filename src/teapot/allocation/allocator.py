"""One claim at a time: quota, band, cheapest placement, pre-emption — and why.

Why this module exists: it is the single entry point a HostClaim controller calls. It turns the
world (an ``Inventory`` plus tenants and reservations) and one ``Claim`` into a ``ClaimDecision``
— which hosts to keep, bind, release and reclaim, with a deadline for each reclaim and an
explanation a person can act on. It performs no I/O; ``apply`` only mirrors into the in-memory
index the bindings the controller wrote.

Rules, in order:

1. *Stability*: hosts the claim already holds are kept while healthy and matching; only the
   missing count is placed, and spread/affinity limits count the kept hosts.
2. *Quota*: never above the tenant's maximum per hardware class or in total.
3. *Band*: hosts within the tenant's guarantee (or its active guaranteed reservation) get the
   requested band; anything above is borrowed idle capacity and is always ``preemptible``.
4. *Lead time*: free hosts needed by a guaranteed window opening within ``lead_time`` are withheld
   from claims that would hold any preemptible (borrowed) host.
5. *Pre-emption*: only the within-guarantee part of a claim may reclaim, and only hosts in a lower
   band whose tenant holds more than its guarantee in that class (nobody is pushed below its
   guarantee). Victims minimise (band, hosts moved, disruption) — free hosts first, then the
   lowest band, then the most recently bound (least work lost) — and get ``grace_period``.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from teapot.allocation.calendar import DEFAULT_LEAD_TIME, reservation_band, upcoming
from teapot.allocation.inventory import Inventory
from teapot.allocation.model import (
    Band,
    Claim,
    Explanation,
    Holder,
    Level,
    Reservation,
    Tenant,
    humanize,
    names,
    plural,
)
from teapot.allocation.placement import Candidate, Choice, Family, choose, is_laminar

UNLIMITED = 1 << 30


@dataclass(frozen=True)
class Policy:
    lead_time: timedelta = DEFAULT_LEAD_TIME
    grace_period: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class Assignment:
    """Bind ``host`` to the claim in ``band``."""

    host: str
    band: Band


@dataclass(frozen=True)
class Eviction:
    """Take ``host`` from ``claim`` of ``tenant`` at ``deadline``; then it goes to the claimant."""

    host: str
    tenant: str
    claim: str
    band: Band
    deadline: datetime
    explanation: Explanation


@dataclass(frozen=True)
class ClaimDecision:
    claim: str
    kept: tuple[str, ...]
    bind: tuple[Assignment, ...]
    release: tuple[str, ...]
    evict: tuple[Eviction, ...]
    pending: int
    solver: str
    explanation: Explanation

    @property
    def bound(self) -> int:
        return len(self.kept) + len(self.bind)


@dataclass(frozen=True)
class BandChange:
    """A binding whose band must change because its reservation window opened or ended."""

    host: str
    claim: str
    old: Band
    new: Band
    explanation: Explanation


class Allocator:
    """Decides claims against one inventory. Deterministic: same world, same decision."""

    def __init__(
        self,
        inventory: Inventory,
        tenants: Iterable[Tenant] = (),
        reservations: Iterable[Reservation] = (),
        policy: Policy = Policy(),
    ) -> None:
        self.inventory = inventory
        self.tenants = {t.name: t for t in tenants}
        self.reservations = {r.name: r for r in reservations}
        self.policy = policy

    # -- public ---------------------------------------------------------------------------------

    def decide(self, claim: Claim, now: datetime) -> ClaimDecision:
        inv = self.inventory
        tenant = self.tenants.get(claim.tenant, Tenant(claim.tenant))
        profiles = inv.matching_profiles(claim.requirements, claim.host_class)
        profile_set = set(profiles)
        held = inv.held_by_claim(claim.name)
        usable = sorted(
            (h for h in held if inv.hosts[h].healthy and inv.profile_of[h] in profile_set),
            key=lambda h: (inv.cost[h], h),
        )
        usable_set = set(usable)
        release = [h for h in held if h not in usable_set]
        kept, release = self._keep(claim, usable, release)
        need = claim.count - len(kept)
        if need <= 0:
            return ClaimDecision(
                claim.name,
                tuple(kept),
                (),
                tuple(sorted(release)),
                (),
                0,
                "none",
                Explanation("Bound", f"{claim.count} of {claim.count} bound"),
            )

        usage = Counter(inv.usage(tenant.name))
        for h in release:
            usage[inv.host_class(h)] -= 1
        total_room = UNLIMITED if tenant.total_maximum is None else tenant.total_maximum - sum(usage.values())
        allowed = max(0, min(need, total_room))
        band, headroom, class_room = self._band(claim, tenant, profiles, usage, len(kept), now)
        # a claim that will hold any preemptible host must leave upcoming windows' hosts alone
        withheld = self._withheld(now) if headroom < allowed else {}

        families, used = self._families(claim, tenant, profiles, usage, kept)
        affinity_domain = self._affinity_domain(claim, kept)
        stream = self._free_stream(profiles, withheld, claim, families, affinity_domain)
        if claim.topology.affinity is not None and affinity_domain is None:
            choice = self._affinity(stream, allowed, families, claim.topology.affinity)
        elif affinity_domain is None and len(families) == len(claim.topology.spread) and is_laminar(families):
            choice = self._greedy_free(profiles, withheld, claim, used, allowed)
        else:
            choice = choose(stream, allowed, families, used)
        if len(choice.chosen) < allowed and headroom > 0:
            # free hosts alone fall short: re-solve with victims (free hosts still come first)
            victims = self._victims(claim, band, profiles, class_room)
            if victims:
                stream = self._free_stream(profiles, withheld, claim, families, affinity_domain)
                choice = self._with_victims(
                    stream, victims, families, used, allowed, headroom, class_room, claim, affinity_domain
                )

        bind, evict = self._assign(choice, claim, tenant, band, headroom, usage, now)
        bound = len(kept) + len(bind) + len(evict)
        explanation = self._explain(
            claim, tenant, kept, bind, evict, need, allowed, profiles, withheld, now, band
        )
        return ClaimDecision(
            claim=claim.name,
            kept=tuple(kept),
            bind=tuple(bind),
            release=tuple(sorted(release)),
            evict=tuple(evict),
            pending=claim.count - bound,
            solver=choice.solver,
            explanation=explanation,
        )

    def apply(self, decision: ClaimDecision, claim: Claim, now: datetime) -> None:
        """Mirror a decision the controller wrote: releases, new bindings, and pending evictions
        (marked ``reclaimed_by`` so no other claim picks the same victim; the host itself moves at
        the deadline through ``release`` + a later ``decide``)."""
        for name in decision.release:
            self.inventory.release(name)
        for assignment in decision.bind:
            holder = Holder(claim.tenant, claim.name, assignment.band, now, claim.reservation)
            self.inventory.bind(assignment.host, holder)
        for eviction in decision.evict:
            self.inventory.mark_reclaimed(eviction.host, claim.name)

    def band_changes(self, now: datetime) -> list[BandChange]:
        """Bindings made through a reservation whose band no longer matches its window."""
        changes: list[BandChange] = []
        for host in sorted(self.inventory.holders(), key=lambda h: h.name):
            holder = host.holder
            assert holder is not None
            if holder.reservation is None or holder.reservation not in self.reservations:
                continue
            reservation = self.reservations[holder.reservation]
            target = reservation_band(reservation, Band.RESERVED, now)
            if target != holder.band and (target is Band.PREEMPTIBLE or holder.band is Band.PREEMPTIBLE):
                if target is Band.PREEMPTIBLE:
                    message = (
                        f"the window of reservation '{reservation.name}' has ended; host '{host.name}' stays "
                        f"with claim '{holder.claim}' as preemptible until something needs it"
                    )
                    reason = "ReservationEnded"
                else:
                    message = f"the window of reservation '{reservation.name}' is open; host '{host.name}' is reserved"
                    reason = "ReservationActive"
                changes.append(
                    BandChange(host.name, holder.claim, holder.band, target, Explanation(reason, message))
                )
        return changes

    # -- steps ----------------------------------------------------------------------------------

    def _keep(self, claim: Claim, usable: list[str], release: list[str]) -> tuple[list[str], list[str]]:
        kept = usable[: claim.count]
        release = release + usable[claim.count :]
        affinity = claim.topology.affinity
        if affinity is not None and kept:
            domains = Counter(self.inventory.domain(h, affinity) for h in kept)
            best = min(domains, key=lambda d: (-domains[d], d))
            release += [h for h in kept if self.inventory.domain(h, affinity) != best]
            kept = [h for h in kept if self.inventory.domain(h, affinity) == best]
        limits = [(s.level, s.max_per_domain) for s in claim.topology.spread]
        if limits:
            counts: Counter[tuple[Level, str]] = Counter()
            within: list[str] = []
            for h in kept:
                topo = self.inventory.hosts[h].topology
                if all(counts[(lv, topo.domain(lv))] < k for lv, k in limits):
                    within.append(h)
                    for lv, _ in limits:
                        counts[(lv, topo.domain(lv))] += 1
                else:
                    release.append(h)
            kept = within
        return kept, release

    def _band(
        self,
        claim: Claim,
        tenant: Tenant,
        profiles: Sequence[int],
        usage: Counter[str | None],
        kept: int,
        now: datetime,
    ) -> tuple[Band, int, dict[str, int] | None]:
        """Band for the within-guarantee part, how many more hosts fit within guarantee, and that
        room per hardware class (``None``: any class, as for a reservation-backed claim)."""
        if claim.band is Band.PREEMPTIBLE:
            return Band.PREEMPTIBLE, 0, {}
        reservation = self.reservations.get(claim.reservation or "")
        if reservation is not None:
            band = reservation_band(reservation, claim.band, now)
            room = max(0, reservation.count - kept) if band is not Band.PREEMPTIBLE else 0
            return band, room, None
        classes = {self.inventory.profiles[p].host_class for p in profiles}
        class_room = {c: max(0, tenant.guarantee(c) - usage[c]) for c in classes if c is not None}
        return claim.band, sum(class_room.values()), class_room

    def _withheld(self, now: datetime) -> dict[str, str]:
        """Free hosts withheld for guaranteed windows opening within the lead time."""
        withheld: dict[str, str] = {}
        for reservation, window in upcoming(self.reservations.values(), now, self.policy.lead_time):
            profiles = self.inventory.matching_profiles(reservation.requirements, reservation.host_class)
            have = self.inventory.held_for_reservation(reservation.name)
            wanted = reservation.count - have
            merged = heapq.merge(*(self.inventory.free(p) for p in profiles))
            for _, name in merged:
                if wanted <= 0:
                    break
                if name not in withheld:
                    withheld[name] = (
                        f"reservation '{reservation.name}' starting in {humanize(window.start - now)}"
                    )
                    wanted -= 1
        return withheld

    def _families(
        self,
        claim: Claim,
        tenant: Tenant,
        profiles: Sequence[int],
        usage: Counter[str | None],
        kept: list[str],
    ) -> tuple[list[Family], list[Counter[str]]]:
        families = [Family(s.level.noun, s.max_per_domain, s.level.nested) for s in claim.topology.spread]
        used = [Counter(self.inventory.domain(h, s.level) for h in kept) for s in claim.topology.spread]
        classes = sorted({c for p in profiles if (c := self.inventory.profiles[p].host_class) is not None})
        limits = []
        for c in classes:
            maximum = tenant.maximum(c)
            if maximum is not None:
                limits.append((c, max(0, maximum - usage[c])))
        if limits and (len(classes) > 1 or limits[0][1] < claim.count):
            families.append(Family("class", UNLIMITED, len(classes) == 1, tuple(limits)))
            used.append(Counter())
        return families, used

    def _domains(self, name: str, claim: Claim, families: Sequence[Family]) -> tuple[str, ...]:
        spread = [self.inventory.domain(name, s.level) for s in claim.topology.spread]
        if len(families) > len(spread):
            spread.append(self.inventory.host_class(name) or "")
        return tuple(spread)

    def _affinity_domain(self, claim: Claim, kept: list[str]) -> str | None:
        if claim.topology.affinity is None or not kept:
            return None
        return self.inventory.hosts[kept[0]].topology.domain(claim.topology.affinity)

    def _free_stream(
        self,
        profiles: Sequence[int],
        withheld: dict[str, str],
        claim: Claim,
        families: Sequence[Family],
        affinity_domain: str | None,
    ) -> Iterator[Candidate]:
        inv = self.inventory
        level = claim.topology.affinity
        for cost, name in heapq.merge(*(inv.free(p) for p in profiles)):
            if name in withheld:
                continue
            if (
                affinity_domain is not None
                and level is not None
                and inv.domain(name, level) != affinity_domain
            ):
                continue
            yield Candidate(name, 0, cost, 0.0, self._domains(name, claim, families))

    def _greedy_free(
        self,
        profiles: Sequence[int],
        withheld: dict[str, str],
        claim: Claim,
        used: list[Counter[str]],
        n: int,
    ) -> Choice:
        """The hot path (free hosts, nested spread only): ``placement.choose``'s greedy, inlined so
        that hosts rejected for a full domain cost two dict lookups instead of a ``Candidate``."""
        if n <= 0:
            return Choice((), "none")
        inv = self.inventory
        levels = [s.level for s in claim.topology.spread]
        limits = [s.max_per_domain for s in claim.topology.spread]
        counts = [Counter(u) for u in used]
        chosen: list[Candidate] = []
        for cost, name in heapq.merge(*(inv.free(p) for p in profiles)):
            if name in withheld:
                continue
            domains = tuple(inv.domain(name, level) for level in levels)
            if all(counts[i][d] < limits[i] for i, d in enumerate(domains)):
                for i, d in enumerate(domains):
                    counts[i][d] += 1
                chosen.append(Candidate(name, 0, cost, 0.0, domains))
                if len(chosen) == n:
                    break
        return Choice(tuple(chosen), "greedy")

    def _affinity(
        self, stream: Iterator[Candidate], n: int, families: Sequence[Family], level: Level
    ) -> Choice:
        """Best domain of ``level``: streams candidates cheapest first, one greedy per domain, and
        stops once no unfinished domain can beat the best finished one (lower bound: what it has
        plus the current cost for each missing host). Exact for nested spread inside the domain."""
        if n <= 0:
            return Choice((), "none")
        inv = self.inventory
        if not all(f.nested for f in families):
            pool = list(stream)
            by_domain: dict[str, list[Candidate]] = {}
            for c in pool:
                by_domain.setdefault(inv.domain(c.name, level), []).append(c)
            options = [choose(members, n, families) for _, members in sorted(by_domain.items())]
            best = min(options, key=lambda ch: (-len(ch.chosen), ch.total), default=Choice((), "ilp"))
            return Choice(best.chosen, "ilp")
        states: dict[str, tuple[list[Candidate], list[Counter[str]]]] = {}
        best_choice: list[Candidate] | None = None
        best_cost = float("inf")
        for candidate in stream:
            if best_choice is not None:
                bound = min(
                    (
                        sum(c.cost for c in chosen) + (n - len(chosen)) * candidate.cost
                        for chosen, _ in states.values()
                        if len(chosen) < n
                    ),
                    default=n * candidate.cost,
                )
                if min(bound, n * candidate.cost) >= best_cost:
                    break
            domain = inv.domain(candidate.name, level)
            chosen, counts = states.setdefault(domain, ([], [Counter() for _ in families]))
            if len(chosen) >= n:
                continue
            if all(
                counts[i][d] < f.limit(d)
                for i, (f, d) in enumerate(zip(families, candidate.domains, strict=True))
            ):
                chosen.append(candidate)
                for i, d in enumerate(candidate.domains):
                    counts[i][d] += 1
                if len(chosen) == n:
                    cost = sum(c.cost for c in chosen)
                    if cost < best_cost:
                        best_choice, best_cost = list(chosen), cost
        if best_choice is None:
            # no domain can hold n: the stream was read to the end, so every domain's greedy is
            # final (maximum size, then cheapest, within its domain); take the best of them
            best_choice = min(
                (chosen for chosen, _ in states.values()),
                key=lambda chosen: (-len(chosen), sum(c.cost for c in chosen)),
                default=[],
            )
        return Choice(tuple(best_choice), "greedy")

    def _victims(
        self, claim: Claim, band: Band, profiles: Sequence[int], class_room: dict[str, int] | None
    ) -> list[Candidate]:
        """Hosts in a lower band held by other tenants above their guarantee in that class, in
        classes where the claimant still has guaranteed room."""
        inv = self.inventory
        found: list[Candidate] = []
        for p in profiles:
            host_class = inv.profiles[p].host_class
            if class_room is not None and class_room.get(host_class or "", 0) <= 0:
                continue
            for name in inv.held_in(p):
                host = inv.hosts[name]
                holder = host.holder
                if (
                    holder is None
                    or holder.tenant == claim.tenant
                    or not host.healthy
                    or holder.band.rank >= band.rank
                    or holder.claim == claim.name
                    or holder.reclaimed_by not in (None, claim.name)
                ):
                    continue
                victim = self.tenants.get(holder.tenant, Tenant(holder.tenant))
                if inv.usage(holder.tenant).get(host_class, 0) <= victim.guarantee(host_class or ""):
                    continue
                tier = 1 + holder.band.rank
                found.append(Candidate(name, tier, inv.cost[name], -holder.since.timestamp(), ()))
        found.sort(key=lambda c: c.key)
        return found

    def _with_victims(
        self,
        stream: Iterator[Candidate],
        victims: list[Candidate],
        families: list[Family],
        used: list[Counter[str]],
        allowed: int,
        headroom: int,
        class_room: dict[str, int] | None,
        claim: Claim,
        affinity_domain: str | None,
    ) -> Choice:
        inv = self.inventory
        level = claim.topology.affinity
        if level is not None and affinity_domain is not None:
            victims = [v for v in victims if inv.domain(v.name, level) == affinity_domain]
        protect: list[tuple[str, int]] = []
        surplus: dict[str, int] = {}
        for v in victims:
            holder = inv.hosts[v.name].holder
            assert holder is not None
            host_class = inv.host_class(v.name)
            key = f"{holder.tenant}/{host_class}"
            if key not in surplus:
                tenant = self.tenants.get(holder.tenant, Tenant(holder.tenant))
                surplus[key] = inv.usage(holder.tenant).get(host_class, 0) - tenant.guarantee(
                    host_class or ""
                )
                protect.append((key, surplus[key]))
        all_families = [
            *families,
            Family("victim", UNLIMITED, False, tuple(protect)),
            Family("tier", UNLIMITED, False, (("victim", headroom),)),
            Family(
                "victim-class",
                UNLIMITED,
                False,
                tuple((f"victim/{c}", n) for c, n in (class_room or {}).items()),
            ),
        ]
        tagged = [replace(c, domains=(*c.domains, "free", "free", "free")) for c in stream]
        for v in victims:
            holder = inv.hosts[v.name].holder
            assert holder is not None
            key = f"{holder.tenant}/{inv.host_class(v.name)}"
            victim_class = f"victim/{inv.host_class(v.name)}"
            tagged.append(
                replace(v, domains=(*self._domains(v.name, claim, families), key, "victim", victim_class))
            )
        tagged.sort(key=lambda c: c.key)
        all_used = [*used, Counter(), Counter(), Counter()]
        if level is None or affinity_domain is not None:
            return choose(tagged, allowed, all_families, all_used)
        # affinity with nothing kept yet: solve per domain, keep the best (most hosts, then cost)
        by_domain: dict[str, list[Candidate]] = {}
        for c in tagged:
            by_domain.setdefault(inv.domain(c.name, level), []).append(c)
        options = [
            choose(members, allowed, all_families, all_used) for _, members in sorted(by_domain.items())
        ]
        return min(options, key=lambda ch: (-len(ch.chosen), ch.total), default=Choice((), "none"))

    def _assign(
        self,
        choice: Choice,
        claim: Claim,
        tenant: Tenant,
        band: Band,
        headroom: int,
        usage: Counter[str | None],
        now: datetime,
    ) -> tuple[list[Assignment], list[Eviction]]:
        inv = self.inventory
        deadline = now + self.policy.grace_period
        bind: list[Assignment] = []
        evict: list[Eviction] = []
        left = headroom
        for c in sorted(choice.chosen, key=lambda c: (-c.tier, c.key)):
            if c.tier > 0:
                holder = inv.hosts[c.name].holder
                assert holder is not None
                left -= 1
                message = (
                    f"host '{c.name}' is lent to claim '{holder.claim}' of tenant '{holder.tenant}' as "
                    f"{holder.band}; tenant '{claim.tenant}' reclaims it for claim '{claim.name}' in "
                    f"{humanize(self.policy.grace_period)}"
                )
                evict.append(
                    Eviction(
                        c.name,
                        holder.tenant,
                        holder.claim,
                        holder.band,
                        deadline,
                        Explanation("Preempted", message),
                    )
                )
            else:
                within = left > 0 and band is not Band.PREEMPTIBLE
                if within:
                    left -= 1
                bind.append(Assignment(c.name, band if within else Band.PREEMPTIBLE))
        bind.sort(key=lambda a: (inv.cost[a.host], a.host))
        evict.sort(key=lambda e: e.host)
        return bind, evict

    # -- explanation ----------------------------------------------------------------------------

    def _explain(
        self,
        claim: Claim,
        tenant: Tenant,
        kept: list[str],
        bind: list[Assignment],
        evict: list[Eviction],
        need: int,
        allowed: int,
        profiles: Sequence[int],
        withheld: dict[str, str],
        now: datetime,
        band: Band,
    ) -> Explanation:
        inv = self.inventory
        bound = len(kept) + len(bind)
        what = claim.requirements.describe() if claim.host_class is None else f"class {claim.host_class}"
        if claim.host_class is not None and (claim.requirements.labels or claim.requirements.minimums):
            what += f" with {claim.requirements.describe()}"
        head = f"{bound} of {claim.count} bound"
        borrowed = sum(1 for a in bind if a.band is Band.PREEMPTIBLE and claim.band is not Band.PREEMPTIBLE)
        tail = ""
        if borrowed:
            tail += f"; {borrowed} borrowed as preemptible above the guarantee of tenant '{tenant.name}'"
        if evict:
            lenders = names(e.tenant for e in evict)
            tail += (
                f"; {len(evict)} more {'is' if len(evict) == 1 else 'are'} lent to tenant {lenders} and will be "
                f"reclaimed in {humanize(evict[0].deadline - now)}"
            )
        placed = len(bind) + len(evict)
        if placed >= need:
            reason = "Preempting" if evict else "Bound"
            return Explanation(reason, head + tail)
        if not profiles:
            return Explanation("NoMatchingHosts", f"{head}: no host has {what}{tail}")
        if allowed < need:
            limit = tenant.total_maximum
            return Explanation(
                "QuotaExceeded",
                f"{head}: tenant '{tenant.name}' may hold at most {limit} hosts in total and holds "
                f"{sum(inv.usage(tenant.name).values())}{tail}",
            )
        maxed = [
            c
            for c in {inv.profiles[p].host_class for p in profiles}
            if c is not None
            and tenant.maximum(c) is not None
            and inv.usage(tenant.name).get(c, 0) + placed >= (tenant.maximum(c) or 0)
        ]
        if maxed:
            return Explanation(
                "QuotaExceeded",
                f"{head}: tenant '{tenant.name}' reached its maximum for class {names(maxed)}{tail}",
            )
        free_names = [n for p in profiles for _, n in inv.free(p)]
        free = [n for n in free_names if n not in withheld]
        members = [n for p in profiles for n in inv.members(p)]
        unhealthy = sum(1 for n in members if not inv.hosts[n].healthy)
        holders = [inv.hosts[n].holder for n in members]
        held_other = sum(1 for h in holders if h is not None and h.claim != claim.name)
        if len(free) >= need - len(evict) and (claim.topology.spread or claim.topology.affinity):
            rules = [f"at most {s.max_per_domain} per {s.level.noun}" for s in claim.topology.spread]
            if claim.topology.affinity is not None:
                rules.append(f"all in one {claim.topology.affinity.noun}")
            if claim.topology.affinity is not None:
                level = claim.topology.affinity
                per_domain = Counter(inv.domain(n, level) for n in free)
                fullest = max(per_domain.values(), default=0)
                return Explanation(
                    "TopologyConstrained",
                    f"{head}: no {level.noun} has {need} free hosts with {what} ({'; '.join(rules)}); "
                    f"the fullest has {fullest}{tail}",
                )
            level = claim.topology.spread[0].level
            domains = len({inv.domain(n, level) for n in free})
            return Explanation(
                "TopologyConstrained",
                f"{head}: only {plural(domains, level.noun)} {'has' if domains == 1 else 'have'} free hosts with "
                f"{what} ({'; '.join(rules)}){tail}",
            )
        parts = [f"only {len(free)} free healthy {'host' if len(free) == 1 else 'hosts'} with {what}"]
        if held_other:
            parts.append(f"{held_other} held by other claims")
        if unhealthy:
            parts.append(f"{unhealthy} unhealthy")
        if withheld:
            reasons = sorted({withheld[n] for n in free_names if n in withheld})
            count = sum(1 for n in free_names if n in withheld)
            if count:
                parts.append(f"{count} withheld for {', '.join(reasons)}")
        if band is Band.PREEMPTIBLE and held_other:
            parts.append("a preemptible claim cannot reclaim hosts")
        return Explanation("InsufficientCapacity", f"{head}: {'; '.join(parts)}{tail}")
