"""``teapot explain`` rendering and the ``teapot whatif`` dry run (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from teapot.allocation import DEFAULT_LEAD_TIME
from teapot.cli.main import build_parser
from teapot.tenancy import keys
from teapot.tenancy.explain import merge_changes, what_if, what_if_text
from teapot.tenancy.options import TenancyOptions
from teapot.tenancy.words import explain_text, kind_of
from tests.tenancy.objects import bmh, host_class, reservation, tenant

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEAD = timedelta(minutes=15)


def live() -> tuple[dict[str, list[dict[str, object]]], list[dict[str, object]]]:
    physics = tenant("physics", ["physics"], {"small": 2})
    physics["metadata"]["annotations"] = {keys.ADMITTED: json.dumps({"small": 2})}
    bio = tenant("bio", ["bio"], {"small": 1})
    bio["metadata"]["annotations"] = {keys.ADMITTED: json.dumps({"small": 1})}
    hosts = [bmh(f"s{i}") for i in range(1, 5)]
    return {"Tenant": [physics, bio], "HostClass": [host_class("small", 1.0)], "Reservation": []}, hosts


def test_whatif_refuses_over_commitment_and_changes_nothing() -> None:
    world, hosts = live()
    snapshot = json.dumps(world, sort_keys=True)
    change = {
        "kind": "Tenant",
        "metadata": {"name": "bio"},
        "spec": {"namespaces": ["bio"], "guarantees": [{"hostClass": "small", "count": 3}]},
    }
    result = what_if(world, hosts, [change], NOW, LEAD)
    assert not result.ok
    (verdict,) = result.verdicts
    assert verdict.explanation.reason == "GuaranteesOverCommitted"
    text = what_if_text(result)
    assert "Tenant bio: REFUSED" in text and "short by 1 host" in text and "what to do" in text
    assert json.dumps(world, sort_keys=True) == snapshot  # the live world is untouched


def test_whatif_admits_a_fitting_reservation_and_flags_new_risks() -> None:
    world, hosts = live()
    ok = what_if(
        world,
        hosts,
        [
            {
                **reservation("bio", "extra", 1, "2026-03-02T00:00:00Z", "2026-03-02T04:00:00Z"),
                "kind": "Reservation",
            }
        ],
        NOW,
        LEAD,
    )
    assert ok.ok and "admitted" in what_if_text(ok)
    too_big = reservation("bio", "huge", 2, "2026-03-02T00:00:00Z", "2026-03-02T04:00:00Z")
    refused = what_if(world, hosts, [{**too_big, "kind": "Reservation"}], NOW, LEAD)
    assert (
        not refused.ok and "2026-03-01 23:45" in refused.verdicts[0].explanation.message
    )  # booked lead time early
    # a HostClass change that shrinks the class puts admitted guarantees at risk
    shrink = {
        "kind": "HostClass",
        "metadata": {"name": "small"},
        "spec": {"selector": {"matchLabels": {"class": "tiny"}}, "price": 1},
    }
    risky = what_if(world, hosts, [shrink], NOW, LEAD)
    assert not risky.ok and risky.new_risks and "would put at risk" in what_if_text(risky)


def test_whatif_rejects_other_kinds_and_keeps_snapshots() -> None:
    world, _ = live()
    with pytest.raises(ValueError, match="whatif takes"):
        merge_changes(world, [{"kind": "HostClaim", "metadata": {"name": "x"}}], "default")
    merged, changed = merge_changes(
        world,
        [{"kind": "Tenant", "metadata": {"name": "physics"}, "spec": {"namespaces": ["physics"]}}],
        "default",
    )
    assert changed == [("Tenant", "", "physics")]
    physics = next(t for t in merged["Tenant"] if t["metadata"]["name"] == "physics")
    assert physics["metadata"]["annotations"][keys.ADMITTED] == json.dumps({"small": 2})


def test_explain_claim_in_words() -> None:
    obj = {
        "metadata": {"name": "batch", "namespace": "bio", "uid": "u1"},
        "spec": {"count": 4},
        "status": {
            "phase": "Preempting",
            "bound": 4,
            "reason": "Preempted",
            "message": "4 of 4 bound; 2 of them ('s1', 's2') will be taken back at 2026-03-01T12:02:00Z",
            "hosts": [
                {
                    "name": "s1",
                    "hostClass": "small",
                    "since": "2026-03-01T11:00:00Z",
                    "preemptible": True,
                    "reclaimAt": "2026-03-01T12:02:00Z",
                }
            ],
            "conditions": [{"type": "Bound", "status": "True", "reason": "Preempted", "message": "m"}],
        },
    }
    events = [
        {
            "involvedObject": {"uid": "u1"},
            "type": "Warning",
            "reason": "Preempted",
            "message": "lent",
            "count": 2,
            "lastTimestamp": "2026-03-01T11:58:00Z",
        },
        {"involvedObject": {"uid": "other"}, "type": "Normal", "reason": "Bound", "message": "not mine"},
    ]
    text = explain_text("HostClaim", obj, events, NOW)
    assert text.splitlines()[0] == "HostClaim bio/batch: Preempting (4 of 4 bound)"
    assert (
        "taken back at 2026-03-01T12:02:00Z" in text and "preemptible (borrowed above the guarantee)" in text
    )
    assert "what to do:" in text and "2m ago  Warning  Preempted: lent (x2)" in text
    assert "not mine" not in text
    assert kind_of("HCL") == "HostClaim"
    with pytest.raises(ValueError):
        kind_of("pods")


def test_cli_registers_explain_and_whatif() -> None:
    parser = build_parser()
    args = parser.parse_args(["explain", "hostclaim/x", "-n", "ml"])
    assert args.target == "hostclaim/x" and args.namespace == "ml"
    args = parser.parse_args(["whatif", "-f", "change.yaml"])
    assert args.filename == "change.yaml" and args.hosts_namespace == "teapot-hosts"


def test_options_lead_time_is_the_domain_default() -> None:
    assert TenancyOptions().lead_time == DEFAULT_LEAD_TIME
