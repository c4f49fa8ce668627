"""One allocation pass as a pure function: bindings, pre-emption, admission, windows, deletion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from teapot.tenancy import keys
from teapot.tenancy.options import TenancyOptions
from teapot.tenancy.status import host_class_counts
from teapot.tenancy.world import meta
from tests.tenancy.objects import Cluster, bmh, claim, host_class, reservation, tenant

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAST = TenancyOptions(lead_time=timedelta(seconds=30), grace_period=timedelta(seconds=10))


def world() -> Cluster:
    """Two classes: 4 cheap hosts in two racks, 2 big ones."""
    return Cluster(
        hosts=[
            bmh("s1", rack="r1"),
            bmh("s2", rack="r1"),
            bmh("s3", rack="r2"),
            bmh("s4", rack="r2"),
            bmh("b1", rack="r1", cls="big", cores=64),
            bmh("b2", rack="r2", cls="big", cores=64),
        ],
        classes=[host_class("small", 1.0), host_class("big", 5.0)],
        tenants=[
            tenant("physics", ["physics"], {"small": 2}),
            tenant("bio", ["bio"], {"small": 2}),
        ],
        options=FAST,
    )


def test_claim_binds_cheapest_hosts_and_writes_consumer_ref() -> None:
    c = world()
    c.claims.append(claim("physics", "job", 2, image={"url": "http://img/os.qcow2"}))
    p = c.step(T0)
    holders = c.holders()
    assert sorted(holders) == ["s1", "s2"]  # cheapest first, ties by name
    host = c.host("s1")
    assert host["spec"]["consumerRef"] == {
        "apiVersion": "teapot.dev/v1alpha1",
        "kind": "HostClaim",
        "name": "job",
        "namespace": "physics",
        "uid": "u-physics-job",
    }
    assert host["spec"]["image"] == {"url": "http://img/os.qcow2"} and host["spec"]["online"] is True
    assert meta(host)["labels"][keys.TENANT_LABEL] == "physics"
    assert meta(host)["annotations"][keys.BAND] == "on-demand"
    assert [r.name for r in p.add_finalizers] == ["job"]
    status = c.claim("physics", "job")["status"]
    assert (status["phase"], status["bound"], status["reason"]) == ("Bound", 2, "Bound")
    assert {h["name"] for h in status["hosts"]} == {"s1", "s2"}
    assert status["conditions"][0]["type"] == "Bound" and status["conditions"][0]["status"] == "True"
    # level-triggered and stable: a second pass on the written world changes nothing
    again = c.step(T0 + timedelta(seconds=1))
    assert again.hosts == () and again.add_finalizers == ()


def test_claim_is_ready_when_its_hosts_are_provisioned_and_says_which_are_not() -> None:
    c = world()
    c.claims.append(claim("physics", "job", 2, image={"url": "http://img/os.qcow2"}))
    c.step(T0)
    status = c.claim("physics", "job")["status"]
    ready = next(x for x in status["conditions"] if x["type"] == "Ready")
    assert status["ready"] == 0 and ready["status"] == "False" and ready["reason"] == "HostsNotReady"
    assert ready["message"] == "0 of 2 ready (available: s1, s2)"
    # the host controller moves the hosts on; the next pass reports it
    c.host("s1")["status"]["provisioning"]["state"] = "provisioned"
    c.host("s2")["status"]["provisioning"]["state"] = "provisioning"
    c.step(T0 + timedelta(seconds=1))
    status = c.claim("physics", "job")["status"]
    assert status["ready"] == 1 and {h["name"]: h["state"] for h in status["hosts"]} == {
        "s1": "provisioned",
        "s2": "provisioning",
    }
    assert "1 of 2 ready (provisioning: s2)" in status["conditions"][-1]["message"]
    c.host("s2")["status"]["provisioning"]["state"] = "provisioned"
    c.step(T0 + timedelta(seconds=2))
    status = c.claim("physics", "job")["status"]
    ready = next(x for x in status["conditions"] if x["type"] == "Ready")
    assert (status["ready"], ready["status"], ready["message"]) == (2, "True", "all 2 host(s) provisioned")
    # a claim without an image is ready as soon as its hosts are bound and available
    c.claims.append(claim("bio", "plain", 1))
    c.step(T0 + timedelta(seconds=3))
    assert c.claim("bio", "plain")["status"]["ready"] == 1


def test_borrower_is_preempted_when_owner_reclaims_guarantee() -> None:
    c = world()
    c.tenants[1]["spec"]["guarantees"] = []  # bio has no guarantee: everything it holds is borrowed
    c.tenants[0]["spec"]["guarantees"] = [{"hostClass": "small", "count": 3}]
    c.claims.append(claim("bio", "batch", 4, requirements={"hostClass": "small"}))
    c.step(T0)
    assert set(c.holders()) == {"s1", "s2", "s3", "s4"}
    assert meta(c.host("s1"))["annotations"][keys.BAND] == "preemptible"

    c.claims.append(
        claim("physics", "job", 3, requirements={"hostClass": "small"}, created="2026-01-02T00:00:00Z")
    )
    p = c.step(T0 + timedelta(seconds=1))
    reclaimed = {h: meta(c.host(h))["annotations"] for h in ("s1", "s2", "s3", "s4")}
    marked = sorted(h for h, a in reclaimed.items() if a.get(keys.RECLAIMED_BY) == "physics/job")
    assert len(marked) == 3
    deadline = reclaimed[marked[0]][keys.RECLAIM_AT]
    assert deadline == "2026-03-01T12:00:11Z"  # now + grace period
    assert any(e.reason == "Preempted" and e.key == "bio/batch" for e in p.events)
    victim = c.claim("bio", "batch")["status"]
    assert victim["phase"] == "Preempting" and victim["reason"] == "Preempted"
    assert sum(1 for h in victim["hosts"] if h.get("reclaimAt") == deadline) == 3
    winner = c.claim("physics", "job")["status"]
    assert winner["reason"] == "Preempting" and "tenant 'bio'" in winner["message"]

    # before the deadline nothing moves, and the deadline does not slide
    c.step(T0 + timedelta(seconds=5))
    assert meta(c.host(marked[0]))["annotations"][keys.RECLAIM_AT] == deadline
    assert all(c.holders()[h] == "bio/batch" for h in marked)

    # at the deadline the hosts are released and re-bound to the reclaiming claim
    c.step(T0 + timedelta(seconds=12))
    c.step(T0 + timedelta(seconds=13))
    holders = c.holders()
    assert sorted(h for h, owner in holders.items() if owner == "physics/job") == marked
    assert c.claim("physics", "job")["status"]["phase"] == "Bound"
    batch = c.claim("bio", "batch")["status"]
    assert batch["bound"] == 1 and batch["phase"] == "PartiallyBound"


def test_over_commitment_is_refused_with_min_cut_explanation_and_previous_stays() -> None:
    c = world()
    c.step(T0)
    assert all(t["status"]["phase"] == "Admitted" for t in c.tenants)
    # bio asks for 3 small hosts on top of physics' 2: only 4 exist
    c.tenants[1]["spec"]["guarantees"] = [{"hostClass": "small", "count": 3}]
    c.tenants[1]["metadata"]["generation"] = 2
    p = c.step(T0 + timedelta(seconds=1))
    status = c.tenants[1]["status"]
    assert status["phase"] == "Refused"
    assert status["reason"] == "GuaranteesOverCommitted"
    assert "short by 1 host" in status["message"] and "'physics'" in status["message"]
    assert "previously admitted version stays in force" in status["message"]
    assert p.admission.tenants["bio"].guarantee("small") == 2
    assert c.tenants[0]["status"]["phase"] == "Admitted"


def test_reservation_window_arrives() -> None:
    c = world()
    start = T0 + timedelta(minutes=1)
    c.reservations.append(
        reservation(
            "physics",
            "night",
            2,
            start.isoformat(),
            (start + timedelta(minutes=10)).isoformat(),
            requirements={"hostClass": "big"},
        )
    )
    p = c.step(T0)
    r = c.reservations[0]["status"]
    assert r["phase"] == "Admitted" and r["nextWindow"]["start"] == "2026-03-01T12:01:00Z"
    assert p.requeue_after == 30  # wake at window start minus lead time
    # a borrower may not take the hosts once the window is within the lead time
    c.claims.append(claim("bio", "grab", 2, band="preemptible", requirements={"hostClass": "big"}))
    c.step(T0 + timedelta(seconds=40))
    assert "bio/grab" not in c.holders().values()
    assert "withheld for reservation 'physics/night'" in c.claim("bio", "grab")["status"]["message"]
    c.claims.append(
        claim("physics", "use", 2, reservationRef={"name": "night"}, requirements={"hostClass": "big"})
    )
    c.step(start + timedelta(seconds=1))
    assert c.reservations[0]["status"]["phase"] == "Active"
    assert sorted(h for h, o in c.holders().items() if o == "physics/use") == ["b1", "b2"]
    assert meta(c.host("b1"))["annotations"][keys.BAND] == "reserved"
    # after the window the hosts stay, as preemptible
    c.step(start + timedelta(minutes=11))
    assert meta(c.host("b1"))["annotations"][keys.BAND] == "preemptible"
    assert c.reservations[0]["status"]["phase"] == "Expired"


def test_deleted_claim_releases_hosts_before_finalizer_goes() -> None:
    c = world()
    c.claims.append(claim("physics", "job", 2, image={"url": "http://img"}))
    c.step(T0)
    c.claim("physics", "job")["metadata"]["deletionTimestamp"] = "2026-03-01T12:00:05Z"
    p = c.step(T0 + timedelta(seconds=5))
    assert p.remove_finalizers == ()  # the API still shows the hosts bound
    assert c.holders() == {} and "image" not in c.host("s1")["spec"]
    assert keys.TENANT_LABEL not in meta(c.host("s1"))["labels"]
    p = c.step(T0 + timedelta(seconds=6))
    assert [r.name for r in p.remove_finalizers] == ["job"]
    assert c.claims == []


def test_quota_and_no_tenant() -> None:
    c = world()
    c.tenants[0]["spec"]["maxTotal"] = 3
    c.claims.append(claim("physics", "big", 5))
    c.claims.append(claim("elsewhere", "lost", 1))
    c.step(T0)
    status = c.claim("physics", "big")["status"]
    assert status["bound"] == 3 and status["reason"] == "QuotaExceeded"
    lost = c.claim("elsewhere", "lost")["status"]
    assert lost["reason"] == "NoTenant" and "belongs to no Tenant" in lost["message"]


def test_failed_host_puts_guarantee_at_risk() -> None:
    c = world()
    c.step(T0)
    for name in ("s1", "s2"):
        c.host(name)["status"]["errorType"] = "power management error"
    c.step(T0 + timedelta(seconds=1))
    statuses = [t["status"] for t in c.tenants]
    assert any(s["reason"] == "GuaranteeAtRisk" for s in statuses)
    risk = [cond for s in statuses for cond in s["conditions"] if cond["type"] == "GuaranteesAtRisk"]
    assert any(cond["status"] == "True" and "short by 2" in cond["message"] for cond in risk)


def test_vanished_claim_and_replaced_uid_release_hosts() -> None:
    c = world()
    c.claims.append(claim("physics", "job", 1))
    c.step(T0)
    assert c.holders() == {"s1": "physics/job"}
    c.claims[0]["metadata"]["uid"] = "another"  # deleted and re-created under the same name
    c.step(T0 + timedelta(seconds=1))
    c.step(T0 + timedelta(seconds=2))
    # the old binding is released (s1 is cleaned first); the new claim gets the next cheapest host
    assert c.holders() == {"s2": "physics/job"}
    assert c.host("s2")["spec"]["consumerRef"]["uid"] == "another"
    c.claims.clear()
    c.step(T0 + timedelta(seconds=3))
    assert c.holders() == {}


def test_released_host_is_cleaned_before_anyone_else_gets_it() -> None:
    c = world()
    c.claims.append(claim("physics", "job", 1, requirements={"hostClass": "small"}))
    c.step(T0)
    c.host("s1")["status"]["provisioning"]["state"] = "provisioned"  # the host controller's work
    c.claims[0]["spec"]["count"] = 0
    c.claims.append(
        claim("bio", "next", 4, requirements={"hostClass": "small"}, created="2026-01-02T00:00:00Z")
    )
    p = c.step(T0 + timedelta(seconds=1))
    # never released and re-bound in one write: s1 is freed, the others go to bio
    assert next(i for i in p.hosts if i.host == "s1").binding is None
    assert c.holders() == {"s2": "bio/next", "s3": "bio/next", "s4": "bio/next"}
    c.step(T0 + timedelta(seconds=2))
    assert "s1" not in c.holders()  # still "provisioned": being deprovisioned and cleaned
    c.host("s1")["status"]["provisioning"]["state"] = "deprovisioning"
    c.step(T0 + timedelta(seconds=3))
    assert "s1" not in c.holders()
    c.host("s1")["status"]["provisioning"]["state"] = "available"
    c.step(T0 + timedelta(seconds=4))
    assert c.holders()["s1"] == "bio/next"


def test_host_class_counts() -> None:
    c = world()
    c.host("s4")["status"]["errorType"] = "provisioning error"
    c.claims.append(claim("physics", "job", 1, requirements={"hostClass": "small"}))
    c.step(T0)
    counts = host_class_counts(c.plan(T0 + timedelta(seconds=1)))
    assert counts == {
        "small": {"hosts": 4, "healthy": 3, "free": 2},
        "big": {"hosts": 2, "healthy": 2, "free": 2},
    }


def test_band_follows_the_guarantee_of_the_hosts_class() -> None:
    c = world()
    c.tenants[1]["spec"]["guarantees"] = [{"hostClass": "big", "count": 1}]
    c.claims.append(claim("bio", "any", 5))  # matches both classes; guarantee only for big
    c.step(T0)
    bands = {h: meta(c.host(h))["annotations"][keys.BAND] for h in c.holders()}
    # the 4 cheap hosts are borrowed (bio has no small guarantee); the big one is within it
    assert bands == {
        "s1": "preemptible",
        "s2": "preemptible",
        "s3": "preemptible",
        "s4": "preemptible",
        "b1": "on-demand",
    }
    # so physics can reclaim its 2 small hosts from bio
    c.claims.append(
        claim("physics", "job", 2, requirements={"hostClass": "small"}, created="2026-01-02T00:00:00Z")
    )
    c.step(T0 + timedelta(seconds=1))
    c.step(T0 + timedelta(seconds=12))
    c.step(T0 + timedelta(seconds=13))
    assert sum(1 for o in c.holders().values() if o == "physics/job") == 2


def test_reclaim_is_dropped_when_the_reclaimer_no_longer_needs_the_host() -> None:
    c = world()
    c.tenants[1]["spec"]["guarantees"] = []
    c.claims.append(claim("bio", "batch", 4, requirements={"hostClass": "small"}))
    c.step(T0)
    c.claims.append(
        claim("physics", "job", 2, requirements={"hostClass": "small"}, created="2026-01-02T00:00:00Z")
    )
    c.step(T0 + timedelta(seconds=1))
    marked = [h for h in c.holders() if keys.RECLAIMED_BY in meta(c.host(h))["annotations"]]
    assert len(marked) == 2
    c.claim("physics", "job")["spec"]["count"] = 0  # before the deadline
    c.step(T0 + timedelta(seconds=20))
    assert all(o == "bio/batch" for o in c.holders().values()) and len(c.holders()) == 4
    assert not any(keys.RECLAIMED_BY in meta(c.host(h))["annotations"] for h in c.holders())
    assert c.claim("bio", "batch")["status"]["phase"] == "Bound"


def _weighted_world(weights: dict[str, int]) -> Cluster:
    """Six small hosts, no guarantees in that class: everything the tenants get there is borrowed."""
    return Cluster(
        hosts=[bmh(f"s{i}", rack=f"r{i % 2}") for i in range(1, 7)],
        classes=[host_class("small", 1.0)],
        tenants=[tenant(name, [name], weight=w) for name, w in weights.items()],
        options=FAST,
    )


@pytest.mark.parametrize(
    ("weights", "first"),
    [
        ({"physics": 1, "bio": 1}, "physics"),  # equal shares (2 each): the older claim wins
        ({"physics": 1, "bio": 3}, "bio"),  # bio's 2 borrowed hosts are a smaller share of its weight
    ],
)
def test_weight_decides_which_tenant_borrows_idle_hosts_first(weights: dict[str, int], first: str) -> None:
    c = _weighted_world(weights)
    c.claims.append(claim("physics", "a", 2, created="2026-01-01T00:00:00Z"))
    c.claims.append(claim("bio", "b", 2, created="2026-01-01T00:00:01Z"))
    c.step(T0)
    assert sorted(c.holders().values()) == ["bio/b", "bio/b", "physics/a", "physics/a"]
    # both now borrow 2; two idle hosts left and both tenants ask for two more
    c.claims.append(claim("physics", "more", 2, created="2026-01-01T00:01:00Z"))
    c.claims.append(claim("bio", "more", 2, created="2026-01-01T00:01:01Z"))
    c.step(T0 + timedelta(seconds=1))
    winners = {v for v in c.holders().values() if v.endswith("/more")}
    assert winners == {f"{first}/more"}
    loser = "bio" if first == "physics" else "physics"
    assert c.claim(loser, "more")["status"]["phase"] == "Pending"
