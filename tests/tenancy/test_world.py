"""Kubernetes objects → allocation domain values (pure, fast)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from teapot.allocation import Band, Level, Operator
from teapot.api import tenancy as api
from teapot.tenancy import keys
from teapot.tenancy.world import (
    claim_of,
    host_of,
    parse_duration,
    parse_time,
    records_of,
    requirements_of,
    reservation_record_of,
    tenant_of,
)
from tests.tenancy.objects import bmh, claim, host_class, reservation, tenant

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_host_traits_resources_topology_and_health() -> None:
    record = host_of(bmh("h1", rack="r7", cores=32, gpu=2), {}, NOW)
    host = record.host
    assert host.name == "h1"
    assert host.resource_map == {"cpu": 32, "memory_gib": 64, "gpu": 2}
    assert host.topology.rack == "r7" and host.topology.region == "eu" and host.topology.room == "default"
    assert host.topology.domain(Level.RACK) == "eu/z1/default/row1/r7"
    # topology and tenancy labels are not traits (they would split equivalence classes)
    assert all(not k.startswith(("topology.", "tenancy.")) for k, _ in host.labels)
    assert ("class", "small") in host.labels
    assert host.healthy and host.holder is None and not record.foreign


@pytest.mark.parametrize(
    ("state", "error", "healthy"),
    [
        ("available", "", True),
        ("provisioned", "", True),
        ("deprovisioning", "", True),
        ("inspecting", "", False),
        ("registering", "", False),
        ("available", "power management error", False),
    ],
)
def test_health(state: str, error: str, healthy: bool) -> None:
    assert host_of(bmh("h", state=state, error=error), {}, NOW).host.healthy is healthy


def test_holder_from_consumer_ref_and_annotations() -> None:
    obj = bmh("h1", state="provisioned")
    obj["spec"]["consumerRef"] = {
        "apiVersion": "teapot.dev/v1alpha1",
        "kind": "HostClaim",
        "name": "job",
        "namespace": "physics",
        "uid": "u1",
    }
    obj["metadata"]["annotations"] = {
        keys.BAND: "preemptible",
        keys.SINCE: "2026-03-01T11:00:00Z",
        keys.RECLAIMED_BY: "bio/train",
        keys.RECLAIM_AT: "2026-03-01T12:02:00Z",
        keys.RECLAIM_REASON: "because",
    }
    record = host_of(obj, {"physics": "phys"}, NOW)
    holder = record.host.holder
    assert holder is not None
    assert (holder.tenant, holder.claim, holder.band) == ("phys", "physics/job", Band.PREEMPTIBLE)
    assert holder.since == datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert holder.reclaimed_by == "bio/train"
    assert record.reclaim_at == NOW + timedelta(minutes=2)
    assert record.consumer is not None and record.consumer.uid == "u1"


def test_foreign_consumer_is_not_ours() -> None:
    obj = bmh("h1")
    obj["spec"]["consumerRef"] = {
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "Metal3Machine",
        "name": "m",
    }
    record = host_of(obj, {}, NOW)
    assert record.foreign and record.host.holder is None


def test_requirements_conversion() -> None:
    spec = api.Requirements.model_validate(
        {
            "hostClass": "gpu",
            "selector": {
                "matchLabels": {"hardware.teapot.dev/gpu-model": "a100"},
                "matchExpressions": [
                    {"key": "hardware.teapot.dev/cpu-cores", "operator": "Gt", "values": ["16"]}
                ],
            },
            "resources": {"cpuCores": 8, "memoryGiB": 32, "gpus": 1},
        }
    )
    requirements, cls = requirements_of(spec)
    assert cls == "gpu"
    assert [t.operator for t in requirements.labels] == [Operator.IN, Operator.GT]
    assert dict(requirements.minimums) == {"cpu": 8, "memory_gib": 32, "gpu": 1}
    assert requirements.matches(
        {"hardware.teapot.dev/gpu-model": "a100", "hardware.teapot.dev/cpu-cores": "32"},
        {"cpu": 32, "memory_gib": 64, "gpu": 2},
    )


def test_durations_and_times() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    with pytest.raises(ValueError):
        parse_duration("soon")
    assert parse_time("2026-03-01T12:00:00Z") == NOW
    assert parse_time("garbage") is None


def test_tenant_admitted_snapshot_and_effective_guarantees() -> None:
    obj = tenant("physics", ["physics"], {"gpu": 3}, maximums=[{"hostClass": "gpu", "count": 5}], maxTotal=8)
    record = tenant_of(obj)
    assert record.admitted is None and record.effective.guarantees == ()
    obj["metadata"]["annotations"] = {keys.ADMITTED: '{"gpu": 2}'}
    record = tenant_of(obj)
    assert record.admitted == (("gpu", 2),)
    assert record.effective.guarantee("gpu") == 2  # admitted, not asked for
    assert record.effective.maximum("gpu") == 5 and record.effective.total_maximum == 8


def test_reservation_and_claim() -> None:
    r = reservation_record_of(
        reservation("ml", "night", 2, "2026-03-02T00:00:00Z", "2026-03-02T06:00:00Z"), "ml"
    )
    assert r.current is not None and r.current.window is not None and r.error is None
    assert r.name == "ml/night" and r.current.count == 2
    recurring = reservation("ml", "daily", 1, "", "")
    recurring["spec"] = {"count": 1, "recurrence": {"schedule": "0 2 * * *", "duration": "3h"}}
    rr = reservation_record_of(recurring, "ml")
    assert rr.current is not None and rr.current.recurrence is not None
    assert rr.current.recurrence.duration == timedelta(hours=3)
    bad = reservation("ml", "bad", 1, "", "")
    bad["spec"] = {"count": 1, "recurrence": {"schedule": "0 2 * * *", "duration": "forever"}}
    assert reservation_record_of(bad, "ml").error is not None
    c = claim_of(
        claim(
            "ml",
            "train",
            3,
            band="preemptible",
            topology={"spread": [{"level": "rack", "maxPerDomain": 1}], "affinity": "row"},
            reservationRef={"name": "night"},
            image={"url": "http://img"},
        ),
        "ml",
    )
    assert c.claim.name == "ml/train" and c.claim.band is Band.PREEMPTIBLE
    assert c.claim.topology.spread[0].level is Level.RACK and c.claim.topology.affinity is Level.ROW
    assert c.claim.reservation == "ml/night" and c.image == {"url": "http://img"}


def test_records_of_maps_namespaces_to_tenants() -> None:
    w = records_of(
        [tenant("physics", ["phys-a", "phys-b"])],
        [host_class("small", 1.0)],
        [reservation("nobody", "r", 1, "2026-03-02T00:00:00Z", "2026-03-02T06:00:00Z")],
        [claim("phys-b", "c", 1), claim("nobody", "c", 1)],
        [bmh("h1")],
        NOW,
    )
    assert [c.claim.tenant for c in w.claims] == ["physics", ""]
    assert w.reservations == ()  # outside every tenant: nobody's guarantee
    assert w.host_classes[0].price == 1.0


def test_host_cache_reuses_records_until_the_host_or_the_tenants_change() -> None:
    cache: dict[str, tuple[str, Any]] = {}
    host = bmh("h1")
    tenants = [tenant("physics", ["physics"])]
    first = records_of(tenants, [], [], [], [host], NOW, cache).hosts[0]
    assert records_of(tenants, [], [], [], [host], NOW, cache).hosts[0] is first
    host["metadata"]["resourceVersion"] = "2"
    second = records_of(tenants, [], [], [], [host], NOW, cache).hosts[0]
    assert second is not first and second.resource_version == "2" and second.host == first.host
    third = records_of([tenant("physics", ["physics", "more"])], [], [], [], [host], NOW, cache).hosts[0]
    assert third is not second
