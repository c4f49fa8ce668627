"""Incremental admission of Tenants' guarantees and guaranteed Reservations, from the API's state.

Why incremental, and why snapshots: a guarantee is a promise. Once admitted it must not be taken
back because somebody else asked for more, so each pass starts from what was admitted before (the
``tenancy.teapot.dev/admitted`` snapshot on each object, i.e. state in the API, not in memory) and
checks only new or changed guarantees against it, oldest first. A refused change leaves the previous
snapshot in force. The same function answers ``teapot whatif`` (nothing is written there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from teapot.allocation import (
    AdmissionDecision,
    AdmissionLedger,
    Conflict,
    Explanation,
    Guarantee,
    Inventory,
    Remove,
    Reservation,
    Tenant,
    Upsert,
    Window,
)
from teapot.tenancy.world import ReservationRecord, TenantRecord

HORIZON = timedelta(days=366)


@dataclass(frozen=True)
class Verdict:
    """The admission state of one Tenant (``name``) or Reservation (``namespace/name``)."""

    kind: str  # "Tenant" | "Reservation"
    name: str
    admitted: bool  # the *current* spec is admitted
    checked: bool  # it was new or changed and was checked in this pass
    explanation: Explanation
    conflicts: tuple[Conflict, ...] = ()
    has_previous: bool = False  # a previously admitted snapshot stays in force


@dataclass(frozen=True)
class AdmissionOutcome:
    verdicts: dict[str, Verdict]  # key: "Tenant/<name>" or "Reservation/<ns>/<name>"
    tenants: dict[str, Tenant]  # effective: admitted guarantees, current maximums
    reservations: dict[str, Reservation]  # effective: admitted guaranteed ones and best-effort ones
    at_risk: AdmissionDecision
    guarantees: dict[str, Guarantee] = field(default_factory=dict)


def _tenant_guarantees(name: str, guarantees: Iterable[tuple[str, int]]) -> list[Guarantee]:
    return Guarantee.for_tenant(Tenant(name, tuple(guarantees)))


def admit(
    inventory: Inventory,
    tenants: Sequence[TenantRecord],
    reservations: Sequence[ReservationRecord],
    now: datetime,
    lead_time: timedelta,
) -> AdmissionOutcome:
    """Admit what fits, oldest first, on top of what was admitted before."""
    horizon = Window(now, now + HORIZON)
    committed: dict[str, Guarantee] = {}
    for t in tenants:
        if t.admitted is not None:
            for g in _tenant_guarantees(t.name, t.admitted):
                committed[g.key] = g
    for r in reservations:
        if r.admitted is not None and r.admitted.guaranteed:
            committed[f"reservation/{r.name}"] = Guarantee.for_reservation(r.admitted, horizon)
    ledger = AdmissionLedger(inventory, horizon, committed.values(), lead_time)
    verdicts: dict[str, Verdict] = {}
    effective_tenants: dict[str, Tenant] = {}

    def try_changes(removes: list[str], upserts: list[Guarantee]) -> AdmissionDecision | None:
        """Apply removes, then upserts; on the first refusal roll everything back (rebuild the
        ledger from ``committed``) and return the refusal."""
        nonlocal ledger
        for key in removes:
            ledger.admit(Remove(key))
        for g in upserts:
            decision = ledger.admit(Upsert(g))
            if not decision.admitted:
                ledger = AdmissionLedger(inventory, horizon, committed.values(), lead_time)
                return decision
        for key in removes:
            committed.pop(key, None)
        for g in upserts:
            committed[g.key] = g
        return None

    for t in sorted(tenants, key=lambda t: t.name):
        wanted = t.spec_tenant.guarantees
        key = f"Tenant/{t.name}"
        if t.admitted == wanted:
            effective_tenants[t.name] = t.effective
            verdicts[key] = Verdict("Tenant", t.name, True, False, _admitted_tenant(t.spec_tenant))
            continue
        new = _tenant_guarantees(t.name, wanted)
        new_keys = {g.key for g in new}
        old_keys = [g.key for g in _tenant_guarantees(t.name, t.admitted or ())]
        refusal = try_changes([k for k in old_keys if k not in new_keys], new)
        if refusal is None:
            effective_tenants[t.name] = Tenant(
                t.name, wanted, t.spec_tenant.maximums, t.spec_tenant.total_maximum, t.spec_tenant.weight
            )
            verdicts[key] = Verdict("Tenant", t.name, True, True, _admitted_tenant(t.spec_tenant))
        else:
            effective_tenants[t.name] = t.effective
            verdicts[key] = Verdict(
                "Tenant",
                t.name,
                False,
                True,
                _refused(refusal, t.admitted is not None),
                refusal.conflicts,
                t.admitted is not None,
            )

    effective_reservations: dict[str, Reservation] = {}
    for r in sorted(reservations, key=lambda r: (r.created, r.name)):
        key = f"Reservation/{r.name}"
        gkey = f"reservation/{r.name}"
        current = r.current
        if current is None:
            if r.admitted is not None:
                effective_reservations[r.name] = r.admitted
            verdicts[key] = Verdict(
                "Reservation",
                r.name,
                False,
                True,
                Explanation("InvalidSpec", r.error or "invalid reservation"),
                has_previous=r.admitted is not None,
            )
            continue
        if not current.guaranteed:
            try_changes([gkey] if gkey in committed else [], [])
            effective_reservations[r.name] = current
            verdicts[key] = Verdict(
                "Reservation",
                r.name,
                True,
                r.admitted != current,
                Explanation(
                    "BestEffort", "best-effort reservation: not guaranteed, served when hosts are free"
                ),
            )
            continue
        if r.admitted == current:
            effective_reservations[r.name] = current
            verdicts[key] = Verdict(
                "Reservation",
                r.name,
                True,
                False,
                Explanation("Admitted", f"{_describe(current)} is guaranteed"),
            )
            continue
        refusal = try_changes([], [Guarantee.for_reservation(current, horizon)])
        if refusal is None:
            effective_reservations[r.name] = current
            verdicts[key] = Verdict(
                "Reservation",
                r.name,
                True,
                True,
                Explanation("Admitted", f"{_describe(current)} is guaranteed"),
            )
        else:
            if r.admitted is not None:
                effective_reservations[r.name] = r.admitted
            verdicts[key] = Verdict(
                "Reservation",
                r.name,
                False,
                True,
                _refused(refusal, r.admitted is not None),
                refusal.conflicts,
                r.admitted is not None,
            )
    return AdmissionOutcome(
        verdicts, effective_tenants, effective_reservations, ledger.at_risk(()), dict(committed)
    )


def _describe(r: Reservation) -> str:
    return f"reservation '{r.name}' ({r.count} x {r.host_class or r.requirements.describe()})"


def _admitted_tenant(t: Tenant) -> Explanation:
    if not t.guarantees:
        return Explanation(
            "Admitted", f"tenant '{t.name}' has no guarantees; it borrows idle hosts as preemptible"
        )
    what = ", ".join(f"{count} x {cls}" for cls, count in t.guarantees)
    return Explanation("Admitted", f"guarantees of tenant '{t.name}' are admitted: {what}")


def _refused(decision: AdmissionDecision, previous: bool) -> Explanation:
    message = decision.explanation.message
    if previous:
        message += "; the previously admitted version stays in force"
    return Explanation(decision.explanation.reason, message)
