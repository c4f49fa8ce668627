"""Claims end to end through the domain: quota, borrowing, pre-emption, topology, stability."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from itertools import combinations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teapot.allocation import (
    Allocator,
    Band,
    Claim,
    Holder,
    Host,
    HostClass,
    Inventory,
    LabelRequirement,
    Level,
    Operator,
    Policy,
    Recurrence,
    Requirements,
    Reservation,
    Spread,
    Tenant,
    Topology,
    TopologyRule,
    labels_of,
)
from teapot.allocation.calendar import utc

NOW = utc(2026, 5, 1, 12)
GPU = Requirements((LabelRequirement("gpu", Operator.IN, ("nvidia-a100",)),))
CLASSES = [HostClass("a100", GPU, 10.0), HostClass("std", Requirements(), 1.0)]


def fleet(gpus: int = 8, std: int = 8, racks: int = 4) -> Inventory:
    hosts = [
        Host(
            f"g{i:02d}",
            labels_of({"gpu": "nvidia-a100"}),
            topology=Topology(row=f"row{i % 2}", rack=f"r{i % racks}", pdu=f"p{i % 3}"),
        )
        for i in range(gpus)
    ]
    hosts += [
        Host(
            f"s{i:02d}",
            labels_of({"cores": str(16 * (1 + i % 3))}),
            topology=Topology(row=f"row{i % 2}", rack=f"r{i % racks}", pdu=f"p{i % 3}"),
        )
        for i in range(std)
    ]
    return Inventory(hosts, CLASSES)


def run(allocator: Allocator, claim: Claim) -> None:
    decision = allocator.decide(claim, NOW)
    allocator.apply(decision, claim, NOW)


def test_cheapest_matching_hosts_and_borrowing_is_preemptible() -> None:
    allocator = Allocator(fleet(), [Tenant("physics", guarantees=(("a100", 2),))])
    claim = Claim("physics/job", "physics", 3, GPU)
    decision = allocator.decide(claim, NOW)
    assert [(a.host, a.band) for a in decision.bind] == [
        ("g00", Band.ON_DEMAND),
        ("g01", Band.ON_DEMAND),
        ("g02", Band.PREEMPTIBLE),
    ]
    assert decision.explanation.reason == "Bound"
    assert "1 borrowed as preemptible above the guarantee of tenant 'physics'" in decision.explanation.message
    cheap = allocator.decide(Claim("x/any", "x", 2, Requirements()), NOW)
    assert [a.host for a in cheap.bind] == ["s00", "s01"]  # std hosts cost 1, gpu hosts 10


def test_rerunning_on_an_unchanged_world_changes_nothing() -> None:
    allocator = Allocator(fleet(), [Tenant("t")])
    claim = Claim("t/c", "t", 4, GPU, topology=TopologyRule((Spread(Level.RACK, 1),)))
    first = allocator.decide(claim, NOW)
    assert allocator.decide(claim, NOW) == first  # deterministic
    allocator.apply(first, claim, NOW)
    again = allocator.decide(claim, NOW)
    assert again.kept == tuple(a.host for a in first.bind) and again.bind == () and again.release == ()


def test_reclaiming_a_guarantee_preempts_borrowers_with_grace() -> None:
    tenants = [Tenant("physics", guarantees=(("a100", 2),)), Tenant("bio", guarantees=(("a100", 6),))]
    allocator = Allocator(fleet(), tenants, policy=Policy(grace_period=timedelta(minutes=2)))
    run(allocator, Claim("physics/job", "physics", 5, GPU))  # 2 guaranteed + 3 borrowed
    bio = Claim("bio/train", "bio", 6, GPU)
    decision = allocator.decide(bio, NOW)
    assert decision.explanation.reason == "Preempting"
    assert (
        decision.explanation.message
        == "3 of 6 bound; 3 more are lent to tenant 'physics' and will be reclaimed in 2m"
    )
    assert {e.host for e in decision.evict} == {"g02", "g03", "g04"}  # the borrowed ones, never g00/g01
    assert all(
        e.deadline == NOW + timedelta(minutes=2) and e.band is Band.PREEMPTIBLE for e in decision.evict
    )
    # the controller releases the victims at the deadline; the next decision binds them
    allocator.apply(decision, bio, NOW)
    for eviction in decision.evict:
        allocator.inventory.release(eviction.host)
    final = allocator.decide(bio, NOW + timedelta(minutes=2))
    assert final.bound == 6 and final.evict == ()


def test_preemptible_claims_never_preempt_and_explain_why() -> None:
    allocator = Allocator(fleet(gpus=2, std=0), [Tenant("a"), Tenant("b")])
    run(allocator, Claim("a/x", "a", 2, GPU, band=Band.PREEMPTIBLE))
    decision = allocator.decide(Claim("b/y", "b", 1, GPU), NOW)  # no guarantee: borrowing only
    assert decision.evict == () and decision.pending == 1
    assert decision.explanation.reason == "InsufficientCapacity"
    assert "0 free healthy hosts with gpu=nvidia-a100; 2 held by other claims" in decision.explanation.message


def test_quota_maximums_are_enforced() -> None:
    allocator = Allocator(fleet(), [Tenant("t", maximums=(("a100", 3),), total_maximum=5)])
    run(allocator, Claim("t/a", "t", 6, GPU))
    assert Counter(allocator.inventory.usage("t"))["a100"] == 3
    decision = allocator.decide(Claim("t/b", "t", 4, Requirements()), NOW)
    assert len(decision.bind) == 2  # total maximum 5
    assert decision.explanation.reason == "QuotaExceeded"
    assert "at most 5 hosts in total" in decision.explanation.message


def test_spread_and_affinity_explanations() -> None:
    allocator = Allocator(fleet(gpus=8, std=0, racks=2), [Tenant("t")])
    spread = allocator.decide(
        Claim("t/s", "t", 6, GPU, topology=TopologyRule((Spread(Level.RACK, 2),)), band=Band.PREEMPTIBLE), NOW
    )
    assert len(spread.bind) == 4
    assert spread.explanation.reason == "TopologyConstrained"
    assert spread.explanation.message == (
        "4 of 6 bound: only 2 racks have free hosts with gpu=nvidia-a100 (at most 2 per rack)"
    )
    affinity = allocator.decide(
        Claim("t/a", "t", 5, GPU, topology=TopologyRule(affinity=Level.RACK), band=Band.PREEMPTIBLE), NOW
    )
    assert affinity.explanation.message == (
        "4 of 5 bound: no rack has 5 free hosts with gpu=nvidia-a100 (all in one rack); the fullest has 4"
    )


def test_no_matching_hosts() -> None:
    allocator = Allocator(fleet(), [Tenant("t")])
    req = Requirements((LabelRequirement("cores", Operator.GT, ("128",)),))
    decision = allocator.decide(Claim("t/big", "t", 1, req), NOW)
    assert decision.explanation.reason == "NoMatchingHosts"
    assert decision.explanation.message == "0 of 1 bound: no host has cores>128"


def test_lead_time_withholds_hosts_from_preemptible_use_and_window_end_downgrades() -> None:
    nightly = Reservation("ml/nightly", "ml", 2, GPU, recurrence=Recurrence("0 22 * * *", timedelta(hours=4)))
    allocator = Allocator(fleet(gpus=3, std=0), [Tenant("ml"), Tenant("batch")], [nightly])
    soon = utc(2026, 5, 1, 21, 50)
    batch = allocator.decide(Claim("batch/x", "batch", 3, GPU, band=Band.PREEMPTIBLE), soon)
    assert [a.host for a in batch.bind] == ["g02"]
    assert "2 withheld for reservation 'ml/nightly' starting in 10m" in batch.explanation.message
    claim = Claim("ml/run", "ml", 2, GPU, band=Band.RESERVED, reservation="ml/nightly")
    at_start = utc(2026, 5, 1, 22)
    decision = allocator.decide(claim, at_start)
    assert [(a.host, a.band) for a in decision.bind] == [("g00", Band.RESERVED), ("g01", Band.RESERVED)]
    allocator.apply(decision, claim, at_start)
    assert allocator.band_changes(utc(2026, 5, 1, 23)) == []
    changes = allocator.band_changes(utc(2026, 5, 2, 2, 1))
    assert [(c.host, c.new) for c in changes] == [("g00", Band.PREEMPTIBLE), ("g01", Band.PREEMPTIBLE)]
    assert changes[0].explanation.reason == "ReservationEnded"


def test_unhealthy_hosts_are_replaced() -> None:
    inventory = fleet(gpus=3, std=0)
    allocator = Allocator(inventory, [Tenant("t")])
    claim = Claim("t/c", "t", 2, GPU)
    run(allocator, claim)
    inventory.set_health("g00", False)
    decision = allocator.decide(claim, NOW)
    assert decision.kept == ("g01",) and decision.release == ("g00",)
    assert [a.host for a in decision.bind] == ["g02"]


# -- invariants under random sequences ------------------------------------------------------------

claims = st.builds(
    lambda tenant, count, kind, band, k: (tenant, count, kind, band, k),
    st.sampled_from(["a", "b", "c"]),
    st.integers(1, 6),
    st.sampled_from(["gpu", "any", "spread", "pdu", "affinity"]),
    st.sampled_from(list(Band)),
    st.integers(1, 2),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    guarantees=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    maxima=st.tuples(st.integers(2, 8), st.integers(2, 8), st.integers(3, 12)),
    sequence=st.lists(claims, min_size=1, max_size=8),
)
def test_invariants_hold_under_random_claims(
    guarantees: tuple[int, int, int],
    maxima: tuple[int, int, int],
    sequence: list[tuple[str, int, str, Band, int]],
) -> None:
    tenants = [
        Tenant("a", guarantees=(("a100", guarantees[0]),), maximums=(("a100", maxima[0]),)),
        Tenant("b", guarantees=(("a100", guarantees[1]),), total_maximum=maxima[2]),
        Tenant("c", guarantees=(("a100", guarantees[2]),), maximums=(("std", maxima[1]),)),
    ]
    by_name = {t.name: t for t in tenants}
    inventory = fleet(gpus=6, std=6, racks=3)
    allocator = Allocator(inventory, tenants)
    for i, (tenant, count, kind, band, k) in enumerate(sequence):
        requirements = GPU if kind != "any" else Requirements()
        rule = {
            "spread": TopologyRule((Spread(Level.RACK, k), Spread(Level.ROW, k + 1))),
            "pdu": TopologyRule((Spread(Level.RACK, k), Spread(Level.PDU, k))),
            "affinity": TopologyRule(affinity=Level.RACK),
        }.get(kind, TopologyRule())
        claim = Claim(f"{tenant}/c{i}", tenant, count, requirements, topology=rule, band=band)
        decision = allocator.decide(claim, NOW)
        chosen = [a.host for a in decision.bind] + [e.host for e in decision.evict]
        assert len(set(chosen)) == len(chosen)
        assert all(inventory.hosts[h].holder is None for h in (a.host for a in decision.bind))
        assert all(inventory.hosts[e.host].holder is not None for e in decision.evict)
        # nobody is pushed below a guarantee by pre-emption, and only lower bands are taken
        taken = Counter((e.tenant, inventory.host_class(e.host)) for e in decision.evict)
        for (victim, host_class), n in taken.items():
            assert victim != tenant
            held = inventory.usage(victim).get(host_class, 0)
            assert held - n >= by_name[victim].guarantee(host_class or "")
        assert all(e.band.rank < band.rank for e in decision.evict)
        allocator.apply(decision, claim, NOW)
        for eviction in decision.evict:
            inventory.release(eviction.host)
        allocator.apply(allocator.decide(claim, NOW), claim, NOW)
        hosts = [inventory.hosts[h] for h in allocator.inventory.held_by_claim(claim.name)]
        # spread and affinity always hold for what the claim holds
        for spread in rule.spread:
            per = Counter(h.topology.domain(spread.level) for h in hosts)
            assert max(per.values(), default=0) <= spread.max_per_domain
        if rule.affinity is not None:
            assert len({h.topology.domain(rule.affinity) for h in hosts}) <= 1
        assert len(hosts) <= count
        # nobody above a maximum
        for t in tenants:
            usage = inventory.usage(t.name)
            for host_class, maximum in t.maximums:
                assert usage.get(host_class, 0) <= maximum
            if t.total_maximum is not None:
                assert sum(usage.values()) <= t.total_maximum
    # every host has at most one holder and the per-claim index agrees with the hosts
    holding = sorted(h.name for h in inventory.holders())
    claims_seen = {h.holder.claim for h in inventory.holders() if h.holder is not None}
    assert holding == sorted(n for c in claims_seen for n in inventory.held_by_claim(c))


def test_holder_since_breaks_ties_toward_newest_victim() -> None:
    inventory = Inventory(
        [
            Host(
                "old",
                labels_of({"gpu": "nvidia-a100"}),
                holder=Holder("lender", "lender/a", Band.PREEMPTIBLE, NOW - timedelta(days=3)),
            ),
            Host(
                "new",
                labels_of({"gpu": "nvidia-a100"}),
                holder=Holder("lender", "lender/b", Band.PREEMPTIBLE, NOW - timedelta(hours=1)),
            ),
        ],
        CLASSES,
    )
    allocator = Allocator(inventory, [Tenant("owner", guarantees=(("a100", 1),)), Tenant("lender")])
    decision = allocator.decide(Claim("owner/x", "owner", 1, GPU), NOW)
    assert [e.host for e in decision.evict] == ["new"]  # least work lost


def test_affinity_with_preemption_stays_in_one_rack_and_moves_fewest() -> None:
    lent = Holder("lender", "lender/x", Band.PREEMPTIBLE, NOW)
    hosts = [
        Host(
            f"g0{i}",
            labels_of({"gpu": "nvidia-a100"}),
            topology=Topology(rack=f"r{i % 2}"),
            holder=None if i == 1 else lent,
        )
        for i in range(4)
    ]  # r0: g00, g02 (both lent); r1: g01 (free), g03 (lent)
    allocator = Allocator(
        Inventory(hosts, CLASSES), [Tenant("owner", guarantees=(("a100", 2),)), Tenant("lender")]
    )
    owner = allocator.decide(
        Claim("owner/y", "owner", 2, GPU, topology=TopologyRule(affinity=Level.RACK)), NOW
    )
    assert [a.host for a in owner.bind] == ["g01"] and [e.host for e in owner.evict] == ["g03"]
    assert owner.explanation.reason == "Preempting"


@st.composite
def priced_fleets(draw: st.DrawFn) -> list[Host]:
    size = draw(st.integers(1, 9))
    return [
        Host(
            f"h{i}",
            labels_of({"gpu": "nvidia-a100"} if draw(st.booleans()) else {}),
            topology=Topology(
                row=f"row{draw(st.integers(0, 1))}",
                rack=f"r{draw(st.integers(0, 2))}",
                pdu=f"p{draw(st.integers(0, 1))}",
            ),
            price=float(draw(st.integers(1, 5))),
        )
        for i in range(size)
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hosts=priced_fleets(),
    count=st.integers(1, 5),
    rack_k=st.integers(1, 2),
    row_k=st.integers(1, 3),
    pdu=st.booleans(),
    gpu_only=st.booleans(),
    affinity=st.sampled_from([None, Level.RACK, Level.ROW]),
)
def test_claim_cost_equals_brute_force_optimum(
    hosts: list[Host], count: int, rack_k: int, row_k: int, pdu: bool, gpu_only: bool, affinity: Level | None
) -> None:
    spread = [Spread(Level.RACK, rack_k), Spread(Level.ROW, row_k)] + ([Spread(Level.PDU, 1)] if pdu else [])
    requirements = GPU if gpu_only else Requirements()
    allocator = Allocator(Inventory(hosts, CLASSES), [Tenant("t")])
    rule = TopologyRule(tuple(spread), affinity)
    decision = allocator.decide(Claim("t/c", "t", count, requirements, topology=rule), NOW)
    eligible = [h for h in hosts if requirements.matches(h.label_map, h.resource_map)]

    def ok(subset: tuple[Host, ...]) -> bool:
        if affinity is not None and len({h.topology.domain(affinity) for h in subset}) > 1:
            return False
        return all(
            max(Counter(h.topology.domain(s.level) for h in subset).values(), default=0) <= s.max_per_domain
            for s in spread
        )

    best_size, best_cost = 0, 0.0
    for size in range(min(count, len(eligible)), 0, -1):
        costs = [sum(h.price or 0.0 for h in s) for s in combinations(eligible, size) if ok(s)]
        if costs:
            best_size, best_cost = size, min(costs)
            break
    chosen = [allocator.inventory.hosts[a.host] for a in decision.bind]
    assert ok(tuple(chosen))
    assert len(chosen) == best_size
    assert sum(h.price or 0.0 for h in chosen) == best_cost
    if affinity is None:
        assert decision.solver == ("ilp" if pdu else "greedy")  # PDU crosses racks and rows


def test_a_pending_eviction_is_not_taken_twice() -> None:
    tenants = [
        Tenant("lender"),
        Tenant("a", guarantees=(("a100", 1),)),
        Tenant("b", guarantees=(("a100", 1),)),
    ]
    lent = Holder("lender", "lender/x", Band.PREEMPTIBLE, NOW)
    inventory = Inventory(
        [Host(f"g0{i}", labels_of({"gpu": "nvidia-a100"}), holder=lent) for i in range(2)], CLASSES
    )
    allocator = Allocator(inventory, tenants)
    first = Claim("a/x", "a", 1, GPU)
    decision = allocator.decide(first, NOW)
    assert [e.host for e in decision.evict] == ["g00"]
    allocator.apply(decision, first, NOW)
    assert inventory.hosts["g00"].holder == replace(lent, reclaimed_by="a/x")
    # the same claim decides the same again; another claim takes a different victim
    assert allocator.decide(first, NOW).evict == decision.evict
    assert [e.host for e in allocator.decide(Claim("b/y", "b", 1, GPU), NOW).evict] == ["g01"]
