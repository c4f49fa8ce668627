"""One allocation pass over the whole world, as a pure function: records in, intents out.

Why pure: the controller's hard part — who gets which host, who is reclaimed when, what every
status says — must be testable without an API server and must give the same answer on every
replica and after every restart (level-triggered). :func:`plan` reads only its arguments; the
controller (``controller.py``) executes the returned :class:`Plan` with optimistic concurrency.

Order of a pass:

1. admission (``admission.admit``): which guarantees are in force;
2. hosts of deleted or vanished claims are released (the finalizer waits for this);
3. claims promised a reclaimed host are put first;
4. bands of reservation-backed bindings follow their windows (``Allocator.band_changes``);
5. claims are decided by band (reserved first), then age: keep / bind / release / evict; an
   eviction whose stored deadline has passed is carried out (the host is released with a promise);
6. reclaim marks nobody asks for any more are cleared.

A released host is held by the ``(cleaning)`` pseudo-claim until the host controller has cleaned
it, so no host is ever released and re-bound in one write.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from teapot.allocation import (
    Allocator,
    Band,
    ClaimDecision,
    Explanation,
    Holder,
    HostClass,
    Inventory,
    Policy,
    Tenant,
    occurrences,
)
from teapot.allocation import (
    Window as DomainWindow,
)
from teapot.tenancy.admission import AdmissionOutcome, admit
from teapot.tenancy.options import TenancyOptions
from teapot.tenancy.world import (
    CLEANING,
    ClaimRecord,
    HostRecord,
    ReservationRecord,
    TenantRecord,
    format_time,
)


@dataclass(frozen=True)
class Binding:
    claim: ClaimRecord
    band: Band
    since: datetime
    reservation: str | None


@dataclass(frozen=True)
class Reclaim:
    by: str  # namespace/name of the reclaiming claim
    at: datetime
    reason: str


@dataclass(frozen=True)
class HostIntent:
    """The desired holder state of one BareMetalHost (``binding=None``: free it)."""

    host: str
    binding: Binding | None
    reclaim: Reclaim | None = None


@dataclass(frozen=True)
class EventIntent:
    kind: str  # HostClaim | Tenant | Reservation
    key: str  # namespace/name or name
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class ClaimView:
    """What a claim's status is written from."""

    record: ClaimRecord
    tenant_known: bool
    decision: ClaimDecision | None
    hosts: tuple[str, ...]  # hosts it holds after this pass
    reclaims: Mapping[str, Reclaim]  # of its hosts being taken back by others
    explanation: Explanation


@dataclass(frozen=True)
class Plan:
    hosts: tuple[HostIntent, ...]
    claims: tuple[ClaimView, ...]
    admission: AdmissionOutcome
    inventory: Inventory
    add_finalizers: tuple[ClaimRecord, ...]
    remove_finalizers: tuple[ClaimRecord, ...]
    events: tuple[EventIntent, ...]
    requeue_after: float
    host_classes: tuple[HostClass, ...] = field(default=())


def _order(record: ClaimRecord) -> tuple[int, str, str]:
    return (-record.claim.band.rank, record.created, record.claim.name)


def borrowed_shares(inventory: Inventory, tenants: Mapping[str, Tenant]) -> dict[str, float]:
    """Each tenant's borrowed hosts (held above its guarantees, always pre-emptible) per unit of
    ``Tenant.weight``. A tenant missing from *tenants* has weight 1."""
    borrowed: Counter[str] = Counter()
    for host in inventory.holders():
        holder = host.holder
        if holder is not None and holder.tenant and holder.band is Band.PREEMPTIBLE:
            borrowed[holder.tenant] += 1
    return {
        name: count / max(1, tenants[name].weight if name in tenants else 1)
        for name, count in borrowed.items()
    }


def fair_order(shares: Mapping[str, float]) -> Callable[[ClaimRecord], tuple[int, float, str, str]]:
    """Claims in a band are served in order of their tenant's borrowed share / weight (lowest first,
    then oldest): when tenants compete for idle hosts, the one that has borrowed least relative to
    its weight goes first — Kueue's fair-sharing order, applied per pass."""

    def key(record: ClaimRecord) -> tuple[int, float, str, str]:
        return (
            -record.claim.band.rank,
            shares.get(record.claim.tenant, 0.0),
            record.created,
            record.claim.name,
        )

    return key


def plan(
    hosts: Sequence[HostRecord],
    host_classes: Sequence[HostClass],
    tenants: Sequence[TenantRecord],
    reservations: Sequence[ReservationRecord],
    claims: Sequence[ClaimRecord],
    now: datetime,
    options: TenancyOptions = TenancyOptions(),
) -> Plan:
    ours = [h for h in hosts if not h.foreign]
    records = {h.host.name: h for h in ours}
    inventory = Inventory([h.host for h in ours], host_classes)
    outcome = admit(inventory, tenants, reservations, now, options.lead_time)
    allocator = Allocator(
        inventory,
        outcome.tenants.values(),
        outcome.reservations.values(),
        Policy(options.lead_time, options.grace_period),
    )
    claims = _with_reservation_bands(claims, reservations)
    by_claim = {c.claim.name: c for c in claims}
    live = {name for name, c in by_claim.items() if not c.deleting and c.claim.tenant}
    intents: dict[str, HostIntent] = {}
    events: list[EventIntent] = []
    wakeups: list[datetime] = []

    def hold_for_cleaning(name: str, promise: Reclaim | None = None) -> None:
        """A released host is cleaned before anyone else gets it: never released and re-bound in
        one write (the host controller must deprovision it in between)."""
        if inventory.hosts[name].holder is None:
            inventory.bind(name, Holder("", CLEANING, Band.RESERVED, now))
        intents[name] = HostIntent(name, None, promise)

    def release(name: str, promise: Reclaim | None = None) -> None:
        inventory.release(name)
        hold_for_cleaning(name, promise)

    # 2. hosts of deleted, vanished, replaced or tenant-less claims
    for record in ours:
        consumer = record.consumer
        if consumer is None:
            continue
        owner = by_claim.get(consumer.claim)
        if owner is None or consumer.claim not in live or (consumer.uid and consumer.uid != owner.uid):
            release(record.host.name)

    # 3. claims that were promised hosts taken back for them decide first (see step 5)
    due_reclaimers: set[str] = {r.promised_to for r in ours if r.promised_to and r.promised_to in live}

    # 4. bands follow reservation windows
    for change in allocator.band_changes(now):
        h = inventory.hosts[change.host]
        assert h.holder is not None
        owner = by_claim[h.holder.claim]
        inventory.release(change.host)
        holder = replace(h.holder, band=change.new)
        inventory.bind(change.host, holder)
        intents[change.host] = HostIntent(
            change.host,
            Binding(owner, change.new, holder.since, holder.reservation),
            _reclaim_of(records, h.name),
        )
        events.append(
            EventIntent(
                "HostClaim", owner.claim.name, "Normal", change.explanation.reason, change.explanation.message
            )
        )

    # 5. claims
    views: list[ClaimView] = []
    evictions: dict[str, Reclaim] = {}
    add_finalizers: list[ClaimRecord] = []
    remove_finalizers: list[ClaimRecord] = []
    decisions: dict[str, ClaimDecision] = {}
    fair = fair_order(borrowed_shares(inventory, outcome.tenants))
    for cr in sorted(claims, key=lambda c: (c.claim.name not in due_reclaimers, *fair(c))):
        name = cr.claim.name
        if cr.deleting:
            if cr.has_finalizer and not inventory.held_by_claim(name) and not _still_consumed(ours, name):
                remove_finalizers.append(cr)
            continue
        if not cr.has_finalizer:
            add_finalizers.append(cr)
        if not cr.claim.tenant:
            continue
        decision = _within_class_guarantee(allocator.decide(cr.claim, now), cr, allocator)
        decisions[name] = decision
        for assignment in decision.bind:
            intents[assignment.host] = HostIntent(
                assignment.host, Binding(cr, assignment.band, now, cr.claim.reservation)
            )
        due: list[tuple[str, Reclaim, str]] = []
        for eviction in decision.evict:
            marked = _reclaim_of(records, eviction.host)
            same = marked is not None and marked.by == name
            deadline = marked.at if marked is not None and same else eviction.deadline
            reclaim = Reclaim(name, deadline, eviction.explanation.message)
            if deadline <= now:
                # the grace period is over and the claim still wants the host: take it now; the
                # claim binds it once it is cleaned (and decides first until then)
                due.append((eviction.host, reclaim, eviction.claim))
                continue
            evictions[eviction.host] = reclaim
            wakeups.append(deadline)
            if not same:
                events.append(
                    EventIntent(
                        "HostClaim", eviction.claim, "Warning", "Preempted", eviction.explanation.message
                    )
                )
        allocator.apply(decision, cr.claim, now)
        for host in decision.release:
            hold_for_cleaning(host)
        for host, reclaim, victim in due:
            release(host, reclaim)
            events.append(
                EventIntent(
                    "HostClaim",
                    victim,
                    "Warning",
                    "Reclaimed",
                    f"host '{host}' was taken back by claim '{name}'",
                )
            )
        if decision.bind:
            bound = ", ".join(a.host for a in decision.bind)
            events.append(EventIntent("HostClaim", name, "Normal", "Bound", f"bound {bound}"))

    # evictions and stale marks: the desired reclaim state of every held host
    for record in ours:
        h = inventory.hosts[record.host.name]
        if h.holder is None or (h.name in intents and intents[h.name].binding is None):
            continue
        want = evictions.get(h.name)
        have = _reclaim_of(records, h.name)
        if want != have or (h.name in intents and intents[h.name].reclaim != want):
            current = intents.get(h.name)
            binding = (
                current.binding
                if current is not None
                else Binding(by_claim[h.holder.claim], h.holder.band, h.holder.since, h.holder.reservation)
            )
            intents[h.name] = HostIntent(h.name, binding, want)

    for cr in sorted(claims, key=_order):
        if cr.deleting:
            continue
        held = tuple(inventory.held_by_claim(cr.claim.name))
        reclaims = {h: evictions[h] for h in held if h in evictions}
        maybe = decisions.get(cr.claim.name)
        views.append(
            ClaimView(
                cr,
                bool(cr.claim.tenant),
                maybe,
                held,
                reclaims,
                _claim_explanation(cr, maybe, held, reclaims),
            )
        )

    wakeups += _window_wakeups(outcome, options.lead_time, now)
    future = [w for w in wakeups if w > now]
    requeue = min([(w - now).total_seconds() for w in future] + [options.resync.total_seconds()])
    return Plan(
        tuple(intents[k] for k in sorted(intents)),
        tuple(views),
        outcome,
        inventory,
        tuple(add_finalizers),
        tuple(remove_finalizers),
        tuple(events),
        max(0.2, requeue),
        tuple(host_classes),
    )


def _within_class_guarantee(
    decision: ClaimDecision, record: ClaimRecord, allocator: Allocator
) -> ClaimDecision:
    """Work around ``Allocator._assign`` counting guaranteed room over all classes together: a claim
    matching two classes could get its requested band on a host of a class where its tenant has no
    guarantee left, and such a host could then not be reclaimed by that class's guaranteed tenants.
    Here every new binding outside a reservation gets the claim's band exactly when it is within the
    tenant's remaining guarantee *for the host's class*; the rest is borrowed, i.e. ``preemptible``."""
    claim = record.claim
    if claim.reservation is not None and claim.reservation in allocator.reservations:
        return decision
    if claim.band is Band.PREEMPTIBLE or not decision.bind:
        return decision
    inventory = allocator.inventory
    tenant = allocator.tenants.get(claim.tenant)
    usage = dict(inventory.usage(claim.tenant))
    for host in decision.release:
        cls = inventory.host_class(host)
        usage[cls] = usage.get(cls, 0) - 1
    fixed = []
    for assignment in decision.bind:
        cls = inventory.host_class(assignment.host)
        room = (tenant.guarantee(cls) if tenant is not None and cls is not None else 0) - usage.get(cls, 0)
        band = claim.band if room > 0 else Band.PREEMPTIBLE
        usage[cls] = usage.get(cls, 0) + 1
        fixed.append(replace(assignment, band=band))
    return replace(decision, bind=tuple(fixed))


def _with_reservation_bands(
    claims: Sequence[ClaimRecord], reservations: Sequence[ReservationRecord]
) -> list[ClaimRecord]:
    """A claim made through a reservation gets the reservation's band (``spec.band``, default
    ``reserved``) when that is higher: the reservation is what the tenant was promised."""
    bands = {r.name: r.band for r in reservations}
    out = []
    for c in claims:
        band = bands.get(c.claim.reservation or "")
        if band is not None and band.rank > c.claim.band.rank:
            c = replace(c, claim=replace(c.claim, band=band))
        out.append(c)
    return out


def _still_consumed(hosts: Sequence[HostRecord], claim: str) -> bool:
    """Hosts released in this very pass still name the claim in the API until the write lands;
    the finalizer goes only once the API shows none."""
    return any(h.consumer is not None and h.consumer.claim == claim for h in hosts)


def _reclaim_of(records: Mapping[str, HostRecord], name: str) -> Reclaim | None:
    record = records.get(name)
    if record is None or record.host.holder is None or record.host.holder.reclaimed_by is None:
        return None
    if record.reclaim_at is None:
        return None
    return Reclaim(record.host.holder.reclaimed_by, record.reclaim_at, record.reclaim_reason)


def _claim_explanation(
    record: ClaimRecord,
    decision: ClaimDecision | None,
    held: tuple[str, ...],
    reclaims: Mapping[str, Reclaim],
) -> Explanation:
    count = record.claim.count
    if not record.claim.tenant:
        return Explanation(
            "NoTenant",
            f"0 of {count} bound: namespace '{record.namespace}' belongs to no Tenant; "
            "an operator must list it in a Tenant's spec.namespaces",
        )
    if reclaims:
        first = min(reclaims.values(), key=lambda r: r.at)
        hosts = ", ".join(f"'{h}'" for h in sorted(reclaims))
        # an absolute time, not "in 40s": the status must not change on every pass
        return Explanation(
            "Preempted",
            f"{len(held)} of {count} bound; {len(reclaims)} of them ({hosts}) will be taken back at "
            f"{format_time(first.at)} by claim '{first.by}': {first.reason}",
        )
    if decision is None:
        return Explanation("Pending", f"{len(held)} of {count} bound")
    return decision.explanation


def _window_wakeups(outcome: AdmissionOutcome, lead_time: timedelta, now: datetime) -> list[datetime]:
    """Instants at which the allocation changes without any object changing: a guaranteed window
    entering its lead time, opening, closing."""
    out: list[datetime] = []
    horizon = DomainWindow(now - timedelta(days=1), now + timedelta(days=8))
    for reservation in outcome.reservations.values():
        for window in occurrences(reservation, horizon)[:4]:
            out += [window.start - lead_time, window.start, window.end]
    return out


def next_window(record: ReservationRecord, now: datetime) -> DomainWindow | None:
    """The active or next window of a reservation (its current spec), if any within a year."""
    reservation = record.current
    if reservation is None:
        return None
    if reservation.window is not None:
        return reservation.window if reservation.window.end > now else None
    assert reservation.recurrence is not None
    horizon = DomainWindow(now - reservation.recurrence.duration, now + timedelta(days=366))
    for window in occurrences(reservation, horizon):
        if window.end > now:
            return window
    return None
