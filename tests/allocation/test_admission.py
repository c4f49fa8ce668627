"""Admission of guarantees: unit cases and a Hall's-theorem oracle under hypothesis."""

from __future__ import annotations

from datetime import timedelta
from itertools import combinations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teapot.allocation import (
    AdmissionLedger,
    Guarantee,
    Host,
    HostClass,
    Inventory,
    LabelRequirement,
    Operator,
    Remove,
    Requirements,
    Reservation,
    Tenant,
    Upsert,
    Window,
    labels_of,
)
from teapot.allocation.calendar import utc

GPU = Requirements((LabelRequirement("gpu", Operator.IN, ("a100",)),))
CLASSES = [HostClass("gpu", GPU, 10.0), HostClass("std", Requirements(), 1.0)]
HORIZON = Window(utc(2026, 3, 1), utc(2026, 3, 11))
LEAD = timedelta(minutes=15)


def fleet(gpus: int, std: int, unhealthy: frozenset[str] = frozenset()) -> Inventory:
    hosts = [Host(f"g{i}", labels_of({"gpu": "a100"}), healthy=f"g{i}" not in unhealthy) for i in range(gpus)]
    hosts += [
        Host(f"s{i}", labels_of({"disk": "ssd" if i % 2 else "hdd"}), healthy=f"s{i}" not in unhealthy)
        for i in range(std)
    ]
    return Inventory(hosts, CLASSES)


def reservation(
    name: str,
    tenant: str,
    count: int,
    start_h: int,
    hours: int,
    host_class: str | None = "gpu",
    requirements: Requirements = Requirements(),
) -> Guarantee:
    start = HORIZON.start + timedelta(hours=start_h)
    res = Reservation(
        name, tenant, count, requirements, host_class, window=Window(start, start + timedelta(hours=hours))
    )
    return Guarantee.for_reservation(res, HORIZON)


def test_refusal_names_competitors_interval_and_shortfall() -> None:
    inventory = fleet(gpus=4, std=4)
    ledger = AdmissionLedger(
        inventory, HORIZON, Guarantee.for_tenant(Tenant("physics", guarantees=(("gpu", 3),)))
    )
    decision = ledger.what_if(Upsert(reservation("ml/train", "ml", 2, 24, 48)))
    assert not decision.admitted
    [conflict] = decision.conflicts
    assert conflict.tenants == ("ml", "physics")
    assert conflict.guarantees == ("reservation/ml/train", "tenant/physics/gpu")
    assert (conflict.available, conflict.needed, conflict.shortfall) == (4, 5, 1)
    assert conflict.window == Window(
        utc(2026, 3, 1, 23, 45), utc(2026, 3, 4)
    )  # booked from start - lead time
    assert decision.explanation.reason == "GuaranteesOverCommitted"
    message = decision.explanation.message
    assert "reservation 'ml/train'" in message and "tenant 'physics'" in message
    assert "4 healthy hosts (gpu: 4)" in message and "short by 1 host" in message
    assert "2026-03-01 23:45" in message


def test_what_if_changes_nothing_and_admit_applies() -> None:
    ledger = AdmissionLedger(fleet(4, 4), HORIZON)
    change = Upsert(reservation("ml/a", "ml", 4, 0, 10))
    assert ledger.what_if(change).admitted
    assert ledger.guarantees == {}
    assert ledger.admit(change).admitted
    assert set(ledger.guarantees) == {"reservation/ml/a"}
    refused = ledger.admit(Upsert(reservation("ml/b", "ml", 1, 5, 1)))
    assert not refused.admitted and set(ledger.guarantees) == {"reservation/ml/a"}
    # a later window of the same size fits: only the touched intervals are re-checked
    assert ledger.admit(Upsert(reservation("ml/b", "ml", 4, 11, 1))).admitted
    assert ledger.admit(Remove("reservation/ml/a")).admitted
    assert set(ledger.guarantees) == {"reservation/ml/b"}


def test_replacing_a_guarantee_frees_its_old_demand() -> None:
    ledger = AdmissionLedger(
        fleet(4, 0), HORIZON, Guarantee.for_tenant(Tenant("physics", guarantees=(("gpu", 3),)))
    )
    assert ledger.admit(Upsert(reservation("ml/a", "ml", 1, 0, 10))).admitted
    assert not ledger.what_if(Upsert(reservation("ml/a", "ml", 2, 0, 10))).admitted
    # shrinking the tenant guarantee makes room for the bigger reservation
    assert ledger.admit(Upsert(Guarantee("tenant/physics/gpu", "physics", 2, host_class="gpu"))).admitted
    assert ledger.admit(Upsert(reservation("ml/a", "ml", 2, 0, 10))).admitted
    assert not ledger.what_if(
        Upsert(Guarantee("tenant/physics/gpu", "physics", 3, host_class="gpu"))
    ).admitted
    assert ledger.what_if(Upsert(reservation("ml/a", "ml", 2, 30, 10))).admitted  # moved: 2 + 2 <= 4
    assert ledger.check().admitted


def test_lead_time_keeps_back_to_back_windows_apart() -> None:
    ledger = AdmissionLedger(fleet(2, 0), HORIZON, [reservation("a/x", "a", 2, 0, 10)])
    # b's window opens exactly when a's ends: the 15-minute move makes it collide
    decision = ledger.what_if(Upsert(reservation("b/y", "b", 2, 10, 5)))
    assert not decision.admitted
    assert decision.conflicts[0].window == Window(utc(2026, 3, 1, 9, 45), utc(2026, 3, 1, 10))
    relaxed = AdmissionLedger(
        fleet(2, 0), HORIZON, [reservation("a/x", "a", 2, 0, 10)], lead_time=timedelta(0)
    )
    assert relaxed.what_if(Upsert(reservation("b/y", "b", 2, 10, 5))).admitted


def test_requirements_split_a_class() -> None:
    ssd = Requirements((LabelRequirement("disk", Operator.IN, ("ssd",)),))
    ledger = AdmissionLedger(
        fleet(0, 4), HORIZON, Guarantee.for_tenant(Tenant("web", guarantees=(("std", 2),)))
    )
    assert ledger.admit(
        Upsert(reservation("db/a", "db", 2, 0, 5, host_class=None, requirements=ssd))
    ).admitted
    # 4 std hosts, 2 of them ssd: web(2 any std) + db(2 ssd) fit, one more ssd does not
    decision = ledger.what_if(Upsert(reservation("db/b", "db", 1, 1, 1, host_class=None, requirements=ssd)))
    assert not decision.admitted
    assert decision.conflicts[0].guarantees == ("reservation/db/a", "reservation/db/b")
    assert (decision.conflicts[0].available, decision.conflicts[0].needed) == (2, 3)


def test_failed_hosts_put_guarantees_at_risk() -> None:
    ledger = AdmissionLedger(
        fleet(3, 2), HORIZON, Guarantee.for_tenant(Tenant("physics", guarantees=(("gpu", 3),)))
    )
    assert ledger.at_risk([]).admitted
    report = ledger.at_risk(["g1"])
    assert not report.admitted
    assert report.explanation.reason == "GuaranteeAtRisk"
    assert report.conflicts[0].tenants == ("physics",)
    assert report.conflicts[0].window == HORIZON
    assert "short by 1 host" in report.explanation.message
    assert ledger.check().admitted  # reporting changed nothing


def test_no_matching_hosts_at_all() -> None:
    ledger = AdmissionLedger(fleet(0, 2), HORIZON)
    decision = ledger.what_if(Upsert(reservation("ml/a", "ml", 1, 0, 5)))
    assert not decision.admitted
    assert decision.conflicts[0].available == 0
    assert "0 healthy hosts (none)" in decision.explanation.message


# -- the oracle: Hall's condition checked directly, instant by instant -----------------------------


def eligible(inventory: Inventory, guarantee: Guarantee) -> set[str]:
    return {
        name
        for name, host in inventory.hosts.items()
        if host.healthy
        and (guarantee.host_class is None or inventory.host_class(name) == guarantee.host_class)
        and guarantee.requirements.matches(host.label_map, host.resource_map)
    }


def hall_holds(inventory: Inventory, guarantees: list[Guarantee], lead: timedelta = LEAD) -> bool:
    instants = {HORIZON.start}
    for g in guarantees:
        for w in g.windows or ():
            instants |= {max(HORIZON.start, w.start - lead), w.end}
    for t in sorted(i for i in instants if HORIZON.start <= i < HORIZON.end):
        active = [
            g for g in guarantees if g.windows is None or any(w.start - lead <= t < w.end for w in g.windows)
        ]
        for size in range(1, len(active) + 1):
            for subset in combinations(active, size):
                union: set[str] = set().union(*(eligible(inventory, g) for g in subset))
                if sum(g.count for g in subset) > len(union):
                    return False
    return True


requirement_choices = st.sampled_from(
    [
        (None, Requirements()),
        ("gpu", Requirements()),
        ("std", Requirements()),
        (None, Requirements((LabelRequirement("disk", Operator.IN, ("ssd",)),))),
        (None, Requirements((LabelRequirement("gpu", Operator.DOES_NOT_EXIST),))),
    ]
)


@st.composite
def guarantees(draw: st.DrawFn) -> Guarantee:
    host_class, requirements = draw(requirement_choices)
    count = draw(st.integers(1, 3))
    index = draw(st.integers(0, 5))  # small: changes often replace an admitted guarantee
    if draw(st.booleans()) and host_class is not None:
        return Guarantee(f"tenant/t{index}/{host_class}", f"t{index}", count, host_class=host_class)
    start = draw(st.integers(0, 200))
    return reservation(
        f"ns/r{index}", f"t{index}", count, start, draw(st.integers(1, 30)), host_class, requirements
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    gpus=st.integers(0, 4),
    std=st.integers(0, 4),
    down=st.sets(st.sampled_from(["g0", "g1", "s0", "s3"]), max_size=2),
    initial=st.lists(guarantees(), max_size=5, unique_by=lambda g: g.key),
)
def test_full_check_agrees_with_hall(gpus: int, std: int, down: set[str], initial: list[Guarantee]) -> None:
    inventory = fleet(gpus, std, frozenset(down))
    ledger = AdmissionLedger(inventory, HORIZON, initial)
    decision = ledger.check()
    assert decision.admitted == hall_holds(inventory, initial)
    for conflict in decision.conflicts:
        assert conflict.shortfall == conflict.needed - conflict.available > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gpus=st.integers(0, 4), std=st.integers(0, 4), changes=st.lists(guarantees(), min_size=1, max_size=6))
def test_admitted_changes_keep_every_guarantee_satisfiable(
    gpus: int, std: int, changes: list[Guarantee]
) -> None:
    inventory = fleet(gpus, std)
    ledger = AdmissionLedger(inventory, HORIZON)
    for guarantee in changes:
        before = dict(ledger.guarantees)
        candidate = [*(g for k, g in before.items() if k != guarantee.key), guarantee]
        decision = ledger.admit(Upsert(guarantee))
        # exact: admitted iff the resulting set satisfies Hall at every instant
        assert decision.admitted == hall_holds(inventory, candidate)
        assert hall_holds(inventory, list(ledger.guarantees.values()))
        if not decision.admitted:
            assert ledger.guarantees == before
            assert decision.conflicts and all(c.shortfall > 0 for c in decision.conflicts)
