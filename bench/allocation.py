"""Benchmark of the allocation domain (issue 4, part 4): one JSON line per scenario.

Scenarios (each runs in its own process so ``peak_rss_mib`` is that scenario's own peak):

- ``admission``: 10,000 hosts in 40 classes, 1,000 tenants with guarantees, 2,000 guaranteed
  reservations over one year (5 % of them weekly recurring). ``full_ms`` = full check,
  ``incremental_ms`` = median what-if of adding one week-long reservation,
  ``incremental_tenant_ms`` = median what-if of changing one tenant's always-on guarantee.
- ``placement``: one 16-host claim spread at most 1 per rack among 100,000 hosts
  (``p50_ms``, ``p99_ms`` over decisions, each applied so the world keeps changing).
- ``throughput``: mixed claims (class, trait selectors, rack spread, rack affinity) at 10,000
  hosts until 80 % of them are bound (``hosts_per_s``).

Wall-clock keys are the targets; ``*_cpu_*`` companions (process CPU time) and ``load_1m`` show how
much of a number is contention on a shared machine.

Usage: ``python bench/allocation.py [--quick] [--only SCENARIO]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta

from teapot.allocation import (
    AdmissionLedger,
    Allocator,
    Band,
    Claim,
    Guarantee,
    Host,
    HostClass,
    Inventory,
    LabelRequirement,
    Level,
    Operator,
    Recurrence,
    Requirements,
    Reservation,
    Spread,
    Tenant,
    Topology,
    TopologyRule,
    Upsert,
    Window,
    labels_of,
    resources_of,
)
from teapot.allocation.calendar import utc

START = utc(2027, 1, 1)
YEAR = Window(START, START + timedelta(days=365))
CLASSES = 40
PER_RACK = 40


def _load() -> float:
    """1-minute load average: the machine is shared, so numbers come with their contention."""
    return round(os.getloadavg()[0], 2)


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _class_selector(index: int) -> Requirements:
    return Requirements((LabelRequirement("teapot.dev/class", Operator.IN, (f"c{index:02d}",)),))


def _fleet(count: int, classes: int = CLASSES) -> tuple[list[Host], list[HostClass]]:
    """Racks of 40 identical hosts; rack r holds class r % classes; 25 racks per row."""
    host_classes = [HostClass(f"c{c:02d}", _class_selector(c), price=float(10 + c)) for c in range(classes)]
    hosts: list[Host] = []
    for i in range(count):
        rack = i // PER_RACK
        c = rack % classes
        labels = {"teapot.dev/class": f"c{c:02d}", "cores": str(16 * (1 + c % 8))}
        if c % 5 == 0:
            labels["gpu"] = "nvidia-a100"
        topology = Topology(
            region="eu",
            zone=f"z{rack // 500}",
            room="r1",
            row=f"row{rack // 25}",
            rack=f"rack{rack:05d}",
            pdu=f"pdu{rack // 2}",
        )
        hosts.append(
            Host(f"host-{i:06d}", labels_of(labels), resources_of({"cpu": 16 * (1 + c % 8)}), topology)
        )
    return hosts, host_classes


def admission(quick: bool) -> dict[str, object]:
    rng = random.Random(4)
    scale = 20 if quick else 1
    classes = 10 if quick else CLASSES  # quick: 500 hosts fill only 12 racks of 40
    hosts, host_classes = _fleet(10_000 // scale, classes)
    inventory = Inventory(hosts, host_classes)
    capacity = 10_000 // scale // classes
    tenants = []
    for t in range(1_000 // scale):
        c = rng.randrange(classes)
        tenants.append(
            Tenant(f"t{t:04d}", guarantees=((f"c{c:02d}", rng.randint(1, max(1, capacity // 60))),))
        )
    guarantees = [g for t in tenants for g in Guarantee.for_tenant(t)]
    for r in range(2_000 // scale):
        c = rng.randrange(classes)
        start = START + timedelta(hours=rng.randrange(365 * 24 - 24 * 14))
        requirements = (
            _class_selector(c) if r % 4 else Requirements((LabelRequirement("gpu", Operator.EXISTS),))
        )
        if r % 20 == 0:
            reservation = Reservation(
                f"ns/r{r}",
                f"t{r % len(tenants):04d}",
                rng.randint(1, 4 // scale or 1),
                requirements,
                recurrence=Recurrence(f"0 {rng.randrange(24)} * * {rng.randrange(7)}", timedelta(hours=8)),
            )
        else:
            end = start + timedelta(hours=rng.randint(1, 24 * 14))
            reservation = Reservation(
                f"ns/r{r}",
                f"t{r % len(tenants):04d}",
                rng.randint(1, 6 // scale or 1),
                requirements,
                window=Window(start, end),
            )
        guarantees.append(Guarantee.for_reservation(reservation, YEAR))
    t0 = time.perf_counter()
    ledger = AdmissionLedger(inventory, YEAR, guarantees)
    build_ms = (time.perf_counter() - t0) * 1000
    t0, c0 = time.perf_counter(), time.process_time()
    full = ledger.check()
    full_ms, full_cpu_ms = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
    incremental: list[float] = []
    incremental_cpu: list[float] = []
    for i in range(21):
        c = rng.randrange(classes)
        start = START + timedelta(hours=rng.randrange(365 * 24 - 24 * 7))
        new = Reservation(
            f"ns/new{i}", "t0000", 2, _class_selector(c), window=Window(start, start + timedelta(days=7))
        )
        t0, c0 = time.perf_counter(), time.process_time()
        ledger.what_if(Upsert(Guarantee.for_reservation(new, YEAR)))
        incremental.append((time.perf_counter() - t0) * 1000)
        incremental_cpu.append((time.process_time() - c0) * 1000)
    tenant_changes: list[float] = []
    for i in range(5):
        change = Tenant(
            tenants[i].name, guarantees=((tenants[i].guarantees[0][0], tenants[i].guarantees[0][1] + 1),)
        )
        t0 = time.perf_counter()
        ledger.what_if(Upsert(Guarantee.for_tenant(change)[0]))
        tenant_changes.append((time.perf_counter() - t0) * 1000)
    return {
        "scenario": "admission",
        "hosts": len(hosts),
        "classes": classes,
        "tenants": len(tenants),
        "reservations": 2_000 // scale,
        "intervals": full.intervals_checked,
        "satisfiable": full.admitted,
        "build_ms": round(build_ms, 1),
        "full_ms": round(full_ms, 1),
        "incremental_ms": round(statistics.median(incremental), 2),
        "incremental_max_ms": round(max(incremental), 2),
        "full_cpu_ms": round(full_cpu_ms, 1),
        "incremental_cpu_ms": round(statistics.median(incremental_cpu), 2),
        "incremental_tenant_ms": round(statistics.median(tenant_changes), 1),
        "peak_rss_mib": _peak_rss_mib(),
        "load_1m": _load(),
    }


def placement(quick: bool) -> dict[str, object]:
    rng = random.Random(5)
    count = 4_000 if quick else 100_000
    classes = 4 if quick else CLASSES
    hosts, host_classes = _fleet(count, classes)
    t0 = time.perf_counter()
    inventory = Inventory(hosts, host_classes)
    build_s = time.perf_counter() - t0
    # a long-lived controller keeps this index for its lifetime: move it out of the cyclic GC's
    # way, or every full collection walks ~10^6 objects and lands in the tail latency
    gc.collect()
    gc.freeze()
    allocator = Allocator(inventory, [Tenant(f"t{i}") for i in range(10)])
    rule = TopologyRule((Spread(Level.RACK, 1),))
    samples: list[float] = []
    cpu: list[float] = []
    now = START
    for i in range(20 if quick else 300):
        claim = Claim(f"ns/c{i}", f"t{i % 10}", 16, _class_selector(rng.randrange(classes)), topology=rule)
        t0, c0 = time.perf_counter(), time.process_time()
        decision = allocator.decide(claim, now)
        samples.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        assert decision.pending == 0, decision.explanation
        allocator.apply(decision, claim, now)
    samples.sort()
    cpu.sort()
    return {
        "scenario": "placement",
        "hosts": count,
        "claims": len(samples),
        "build_s": round(build_s, 2),
        "p50_ms": round(samples[len(samples) // 2], 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
        "p99_cpu_ms": round(cpu[min(len(cpu) - 1, int(len(cpu) * 0.99))], 3),
        "peak_rss_mib": _peak_rss_mib(),
        "load_1m": _load(),
    }


def throughput(quick: bool) -> dict[str, object]:
    rng = random.Random(6)
    count = 2_000 if quick else 10_000
    hosts, host_classes = _fleet(count)
    inventory = Inventory(hosts, host_classes)
    tenants = [Tenant(f"t{i}", guarantees=((f"c{i % CLASSES:02d}", 5),)) for i in range(50)]
    allocator = Allocator(inventory, tenants)
    now = START
    placed = claims = pending = 0
    target = int(count * 0.8)
    kinds: dict[str, int] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    while placed < target and claims < count:
        kind = rng.choice(["class", "class", "trait", "trait", "spread", "affinity"])
        size = rng.randint(1, 16)
        if kind == "class":
            requirements = _class_selector(rng.randrange(CLASSES))
            topology = TopologyRule()
        elif kind == "trait":
            requirements = Requirements(
                (
                    LabelRequirement("cores", Operator.GT, (str(16 * rng.randint(1, 6)),)),
                    LabelRequirement("gpu", Operator.DOES_NOT_EXIST),
                )
            )
            topology = TopologyRule()
        elif kind == "spread":
            requirements = Requirements((LabelRequirement("gpu", Operator.IN, ("nvidia-a100",)),))
            topology = TopologyRule((Spread(Level.RACK, 2), Spread(Level.ROW, 8)))
        else:
            requirements = _class_selector(rng.randrange(CLASSES))
            topology = TopologyRule(affinity=Level.RACK)
            size = rng.randint(1, 8)
        claim = Claim(
            f"ns/c{claims}",
            f"t{claims % 50}",
            size,
            requirements,
            topology=topology,
            band=Band.ON_DEMAND if claims % 3 else Band.PREEMPTIBLE,
        )
        decision = allocator.decide(claim, now)
        allocator.apply(decision, claim, now)
        placed += len(decision.bind)
        pending += decision.pending
        kinds[kind] = kinds.get(kind, 0) + 1
        claims += 1
    elapsed, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return {
        "scenario": "throughput",
        "hosts": count,
        "claims": claims,
        "claim_kinds": kinds,
        "hosts_placed": placed,
        "hosts_pending": pending,
        "seconds": round(elapsed, 3),
        "hosts_per_s": round(placed / elapsed),
        "hosts_per_cpu_s": round(placed / cpu_s),
        "claims_per_s": round(claims / elapsed),
        "peak_rss_mib": _peak_rss_mib(),
        "load_1m": _load(),
    }


SCENARIOS = {"admission": admission, "placement": placement, "throughput": throughput}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--only", choices=sorted(SCENARIOS), help="run one scenario in this process")
    args = parser.parse_args(argv)
    if args.only:
        print(json.dumps(SCENARIOS[args.only](args.quick)), flush=True)
        return 0
    for name in SCENARIOS:
        command = [sys.executable, __file__, "--only", name] + (["--quick"] if args.quick else [])
        result = subprocess.run(command, check=True, capture_output=True, text=True)
        sys.stdout.write(result.stdout)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
