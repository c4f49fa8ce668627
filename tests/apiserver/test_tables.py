"""Table responses (``kubectl get``) for built-in kinds and custom resources."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from teapot.apiserver.resources import PrinterColumn, ResourceInfo
from teapot.apiserver.tables import column_definitions, human_duration, parse_timestamp, table_for

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, seconds_ago: float = 300, **extra: Any) -> dict[str, Any]:
    return {"name": name, "creationTimestamp": ts(seconds_ago), "resourceVersion": "7", **extra}


def builtin(group: str, kind: str, resource: str, namespaced: bool = True) -> ResourceInfo:
    return ResourceInfo(group, "v1", resource, kind, kind.lower(), namespaced, builtin=True)


def names(table: dict[str, Any]) -> list[str]:
    return [c["name"] for c in table["columnDefinitions"]]


# kube's duration_test.go cases, plus the boundaries between the formats
@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "1s"),
        (70, "70s"),
        (119.9, "119s"),
        (120, "2m"),
        (190, "3m10s"),
        (70 * 60, "70m"),
        (180 * 60, "3h"),
        (3 * 3600 + 30 * 60, "3h30m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (49 * 3600, "2d1h"),
        (48 * 3600, "2d"),
        ((8 * 24 + 2) * 3600, "8d"),
        (367 * 24 * 3600, "367d"),
        ((365 * 2 * 24 + 25) * 3600, "2y1d"),
        ((365 * 8 * 24 + 2) * 3600, "8y"),
        (-1.5, "0s"),
        (-3, "<invalid>"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_parse_timestamp_accepts_time_and_microtime() -> None:
    assert parse_timestamp("2026-03-01T12:00:00Z") == NOW
    assert parse_timestamp("2026-03-01T11:59:59.250000Z") == NOW - timedelta(milliseconds=750)
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp(None) is None


def test_configmap_table_counts_data_and_binary_data() -> None:
    cm = {"metadata": meta("cm1", 90), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    table = table_for(
        builtin("", "ConfigMap", "configmaps"), [cm], now=NOW, list_meta={"resourceVersion": "42"}
    )
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42"}
    assert names(table) == ["Name", "Data", "Age"]
    assert table["columnDefinitions"][0]["format"] == "name"
    assert table["rows"][0]["cells"] == ["cm1", 3, "90s"]
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": cm["metadata"],
    }


@pytest.mark.parametrize(
    ("group", "kind", "obj", "columns", "cells"),
    [
        ("", "Namespace", {"status": {"phase": "Active"}}, ["Name", "Status", "Age"], ["x", "Active", "5m"]),
        ("", "Secret", {"type": "Opaque", "data": {"u": "dQ=="}}, ["Name", "Type", "Data", "Age"], ["x", "Opaque", 1, "5m"]),
        ("", "ServiceAccount", {"secrets": [{"name": "a"}, {"name": "b"}]}, ["Name", "Secrets", "Age"], ["x", 2, "5m"]),
        ("", "ServiceAccount", {}, ["Name", "Secrets", "Age"], ["x", 0, "5m"]),
        ("coordination.k8s.io", "Lease", {"spec": {"holderIdentity": "pod-1"}}, ["Name", "Holder", "Age"], ["x", "pod-1", "5m"]),
        ("coordination.k8s.io", "Lease", {"spec": {}}, ["Name", "Holder", "Age"], ["x", "", "5m"]),
        ("rbac.authorization.k8s.io", "Role", {}, ["Name", "Created At"], ["x", "2026-03-01T11:55:00Z"]),
        ("rbac.authorization.k8s.io", "ClusterRole", {}, ["Name", "Created At"], ["x", "2026-03-01T11:55:00Z"]),
        ("apiextensions.k8s.io", "CustomResourceDefinition", {}, ["Name", "Created At"], ["x", "2026-03-01T11:55:00Z"]),
    ],
)  # fmt: skip
def test_builtin_tables(
    group: str, kind: str, obj: dict[str, Any], columns: list[str], cells: list[Any]
) -> None:
    table = table_for(builtin(group, kind, kind.lower() + "s"), [{"metadata": meta("x"), **obj}], now=NOW)
    assert names(table) == columns
    assert table["rows"][0]["cells"] == cells


def test_role_binding_columns_include_wide_subjects() -> None:
    binding = {
        "metadata": meta("rb", 3 * 86400),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "User", "name": "bob"},
            {"kind": "Group", "name": "ops"},
            {"kind": "ServiceAccount", "name": "ctl", "namespace": "teapot"},
        ],
    }
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        table = table_for(builtin("rbac.authorization.k8s.io", kind, "x"), [binding], now=NOW)
        assert names(table) == ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
        assert [c["priority"] for c in table["columnDefinitions"]] == [0, 0, 0, 1, 1, 1]
        assert table["rows"][0]["cells"] == [
            "rb",
            "ClusterRole/admin",
            "3d",
            "alice, bob",
            "ops",
            "teapot/ctl",
        ]


EVENT_COLUMNS = [
    "Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count", "Name",
]  # fmt: skip


def test_core_event_table() -> None:
    event = {
        "metadata": meta("h1.17a"),
        "involvedObject": {"kind": "BareMetalHost", "name": "h1", "fieldPath": "spec.online"},
        "reason": "PowerOn",
        "message": "  powered on \n",
        "type": "Normal",
        "firstTimestamp": ts(600),
        "lastTimestamp": ts(60),
        "count": 4,
        "source": {"component": "teapot-hosts", "host": "node-a"},
    }
    table = table_for(builtin("", "Event", "events"), [event], now=NOW)
    assert names(table) == EVENT_COLUMNS
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Last Seen", "Type", "Reason", "Object", "Message",
    ]  # fmt: skip
    assert table["rows"][0]["cells"] == [
        "60s", "Normal", "PowerOn", "baremetalhost/h1", "spec.online", "teapot-hosts, node-a", "powered on",
        "10m", 4, "h1.17a",
    ]  # fmt: skip


def test_events_v1_event_table_uses_new_field_names_and_series() -> None:
    event = {
        "metadata": meta("e2"),
        "regarding": {"kind": "Tenant", "name": "acme"},
        "note": "quota exceeded",
        "reason": "OverQuota",
        "type": "Warning",
        "eventTime": "2026-03-01T11:00:00.000000Z",
        "reportingController": "teapot.dev/tenancy",
        "reportingInstance": "ctl-0",
        "series": {"count": 9, "lastObservedTime": "2026-03-01T11:59:30.000000Z"},
    }
    ri = ResourceInfo("events.k8s.io", "v1", "events", "Event", "event", True, builtin=True)
    row = table_for(ri, [event], now=NOW)["rows"][0]["cells"]
    assert row == [
        "30s", "Warning", "OverQuota", "tenant/acme", "", "teapot.dev/tenancy, ctl-0", "quota exceeded", "60m", 9, "e2",
    ]  # fmt: skip


def test_event_without_times_counts_one_and_reports_unknown() -> None:
    event = {"metadata": {"name": "e"}, "involvedObject": {"kind": "Node"}, "message": "m"}
    row = table_for(builtin("", "Event", "events"), [event], now=NOW)["rows"][0]["cells"]
    assert row == ["<unknown>", "", "", "node", "", "", "m", "<unknown>", 1, "e"]


HOSTS = ResourceInfo(
    group="teapot.dev",
    version="v1alpha1",
    resource="hosts",
    kind="Host",
    singular="host",
    namespaced=True,
    printer_columns=(
        PrinterColumn("State", "string", ".status.state", "provisioning state"),
        PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
        PrinterColumn("CPUs", "integer", ".spec.cpus"),
        PrinterColumn("Load", "number", ".status.load"),
        PrinterColumn("Online", "boolean", ".spec.online"),
        PrinterColumn("Labels", "string", ".metadata.labels"),
        PrinterColumn("Seen", "date", ".status.lastSeen"),
        PrinterColumn("Serial", "string", ".spec.serial", priority=1, format="byte"),
    ),
)


def host(name: str, seconds_ago: float) -> dict[str, Any]:
    return {
        "apiVersion": "teapot.dev/v1alpha1",
        "kind": "Host",
        "metadata": meta(name, seconds_ago, labels={"rack": "r1"}),
        "spec": {"cpus": 64.0, "online": True, "serial": "SN1"},
        "status": {
            "state": "available",
            "load": 3,
            "lastSeen": ts(30),
            "conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}],
        },
    }


def test_custom_resource_columns_from_additional_printer_columns() -> None:
    assert column_definitions(HOSTS) == [
        {"name": "Name", "type": "string", "format": "name", "description": column_definitions(HOSTS)[0]["description"],
         "priority": 0},
        {"name": "State", "type": "string", "format": "", "description": "provisioning state", "priority": 0},
        {"name": "Ready", "type": "string", "format": "", "description": "", "priority": 0},
        {"name": "CPUs", "type": "integer", "format": "", "description": "", "priority": 0},
        {"name": "Load", "type": "number", "format": "", "description": "", "priority": 0},
        {"name": "Online", "type": "boolean", "format": "", "description": "", "priority": 0},
        {"name": "Labels", "type": "string", "format": "", "description": "", "priority": 0},
        {"name": "Seen", "type": "date", "format": "", "description": "", "priority": 0},
        {"name": "Serial", "type": "string", "format": "byte", "description": "", "priority": 1},
    ]  # fmt: skip
    assert column_definitions(HOSTS)[0]["description"].startswith("Name must be unique")
    row = table_for(HOSTS, [host("h1", 400)], now=NOW)["rows"][0]["cells"]
    assert row == ["h1", "available", "True", 64, 3.0, True, '{"rack":"r1"}', "30s", "SN1"]
    assert isinstance(row[3], int)
    assert isinstance(row[4], float)


def test_custom_resource_cells_are_null_when_missing_or_mistyped() -> None:
    obj = host("h2", 10)
    obj["spec"] = {"cpus": "many", "online": "yes"}
    obj["status"] = {"lastSeen": "not a time", "state": None}
    row = table_for(HOSTS, [obj], now=NOW)["rows"][0]["cells"]
    assert row == ["h2", None, None, None, None, None, '{"rack":"r1"}', "<invalid>", None]


def test_custom_resource_without_columns_gets_age() -> None:
    plain = ResourceInfo("teapot.dev", "v1alpha1", "tenants", "Tenant", "tenant", False)
    table = table_for(plain, [{"metadata": meta("acme", 7200)}], now=NOW)
    assert names(table) == ["Name", "Age"]
    assert table["columnDefinitions"][1]["type"] == "date"
    assert table["rows"][0]["cells"] == ["acme", "120m"]


def test_include_object_policies() -> None:
    obj = host("h1", 5)
    assert table_for(HOSTS, [obj], now=NOW, include_object="Object")["rows"][0]["object"] is obj
    assert "object" not in table_for(HOSTS, [obj], now=NOW, include_object="None")["rows"][0]
    with pytest.raises(ValueError, match="includeObject"):
        table_for(HOSTS, [obj], now=NOW, include_object="Everything")


def test_column_definitions_can_be_left_out_for_later_watch_events() -> None:
    table = table_for(HOSTS, [host("h1", 5)], now=NOW, include_column_definitions=False)
    assert "columnDefinitions" not in table
    assert len(table["rows"]) == 1


def test_naive_now_is_taken_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert table_for(HOSTS, [host("h1", 5)], now=naive)["rows"][0]["cells"][7] == "30s"


def test_two_thousand_rows_are_fast() -> None:
    objects = [host(f"h{i}", i * 37) for i in range(2000)]
    table_for(HOSTS, objects[:10], now=NOW)  # compile the column paths
    best = min(_cpu_seconds(lambda: table_for(HOSTS, objects, now=NOW)) for _ in range(3))
    assert len(table_for(HOSTS, objects, now=NOW)["rows"]) == 2000
    # ~20 ms of CPU on the 2-core CI machine for 9 columns incl. a filter; generous bound
    assert best < 0.1, f"{best * 1000:.1f} ms of CPU for 2,000 rows"


def _cpu_seconds(fn: Any) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def test_narrow_tables_drop_priority_columns() -> None:
    table = table_for(HOSTS, [host("h1", 5)], now=NOW, wide=False)
    assert "Serial" not in names(table)
    assert len(table["rows"][0]["cells"]) == len(table["columnDefinitions"]) == 8
    event = {"metadata": {"name": "e"}, "involvedObject": {"kind": "Node", "name": "n"}, "message": "m"}
    narrow = table_for(builtin("", "Event", "events"), [event], now=NOW, wide=False)
    assert names(narrow) == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert narrow["rows"][0]["cells"] == ["<unknown>", "", "", "node/n", "m"]
