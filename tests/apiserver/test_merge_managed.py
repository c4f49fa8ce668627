"""managedFields bookkeeping for create/update/patch (``update_managed_fields``)."""

from __future__ import annotations

import copy
from typing import Any

from teapot.apiserver.merge import manager_name, schema_from_openapi, server_side_apply, update_managed_fields
from teapot.apiserver.merge.managed import ANCIENT_CHANGES, MAX_UPDATE_MANAGERS
from tests.apiserver.test_merge_support import API_VERSION, CRD_SCHEMA, T0, T1, T2, entries, fields_of, widget

SCHEMA = schema_from_openapi(CRD_SCHEMA)


def update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    now: str = T0,
    *,
    api_version: str = API_VERSION,
    subresource: str = "",
    ignored: tuple[tuple[str, ...], ...] = (),
) -> dict[str, Any]:
    return update_managed_fields(
        old,
        new,
        manager=manager,
        api_version=api_version,
        subresource=subresource,
        schema=SCHEMA,
        now=now,
        ignored=ignored,
    )


def test_create_owns_what_it_set_with_kube_container_markers() -> None:
    obj = update(None, widget({"replicas": 1, "tags": ["a"]}, labels={"app": "w"}), "kubectl-create")
    [entry] = obj["metadata"]["managedFields"]
    assert entry == {
        "manager": "kubectl-create",
        "operation": "Update",
        "apiVersion": API_VERSION,
        "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {".": {}, "f:replicas": {}, "f:tags": {".": {}, 'v:"a"': {}}},
        },
    }


def test_update_takes_changed_fields_from_other_managers() -> None:
    live = server_side_apply(
        None,
        widget({"replicas": 1, "image": "a"}),
        manager="applier",
        api_version=API_VERSION,
        force=False,
        schema=SCHEMA,
        now=T0,
    )
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 2
    after = update(live, new, "kubectl-edit", T1)
    assert fields_of(after, "applier") == {"f:spec": {"f:image": {}}}
    assert fields_of(after, "kubectl-edit", "Update") == {"f:spec": {"f:replicas": {}}}
    assert entries(after)[("kubectl-edit", "Update", "")]["time"] == T1
    assert entries(after)[("applier", "Apply", "")]["time"] == T0


def test_removed_fields_are_lost_by_everyone() -> None:
    live = update(None, widget({"replicas": 1, "image": "a"}), "creator")
    new = copy.deepcopy(live)
    del new["spec"]["image"]
    after = update(live, new, "editor", T1)
    assert fields_of(after, "creator", "Update") == {"f:spec": {".": {}, "f:replicas": {}}}
    assert ("editor", "Update", "") not in entries(after)


def test_a_write_that_changes_nothing_leaves_managed_fields_alone() -> None:
    live = update(None, widget({"replicas": 1}), "creator")
    new = copy.deepcopy(live)
    new["metadata"].update(resourceVersion="9", generation=3, uid="u")
    after = update(live, new, "someone-else", T2)
    assert after["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_same_manager_accumulates_and_refreshes_time() -> None:
    live = update(None, widget({"replicas": 1}), "ctl", T0)
    new = copy.deepcopy(live)
    new["spec"]["image"] = "b"
    after = update(live, new, "ctl", T1)
    [entry] = after["metadata"]["managedFields"]
    assert entry["time"] == T1
    assert entry["fieldsV1"] == {"f:spec": {".": {}, "f:replicas": {}, "f:image": {}}}


def test_update_entries_are_per_api_version_and_subresource() -> None:
    live = update(None, widget({"replicas": 1}), "ctl", T0)
    new = copy.deepcopy(live)
    new["spec"]["image"] = "b"
    after = update(live, new, "ctl", T1, api_version="teapot.dev/v1beta1")
    versions = sorted(e["apiVersion"] for e in after["metadata"]["managedFields"])
    assert versions == [API_VERSION, "teapot.dev/v1beta1"]

    with_status = copy.deepcopy(after)
    with_status["status"] = {"phase": "Ready"}
    final = update(after, with_status, "ctl", T2, subresource="status", ignored=(("spec",),))
    status_entry = entries(final)[("ctl", "Update", "status")]
    assert status_entry["fieldsV1"] == {"f:status": {".": {}, "f:phase": {}}}


def test_ignored_reset_fields_are_never_owned() -> None:
    new = widget({"replicas": 1})
    new["status"] = {"phase": "X"}
    obj = update(None, new, "creator", ignored=(("status",),))
    assert fields_of(obj, "creator", "Update") == {"f:spec": {".": {}, "f:replicas": {}}}


def test_managed_fields_sent_by_the_client_replace_the_stored_ones() -> None:
    live = update(None, widget({"replicas": 1, "image": "a"}), "creator")
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = [
        {
            "manager": "someone",
            "operation": "Apply",
            "apiVersion": API_VERSION,
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:image": {}}},
        }
    ]
    after = update(live, new, "editor", T1)
    assert [(e["manager"], e["fieldsV1"]) for e in after["metadata"]["managedFields"]] == [
        ("someone", {"f:spec": {"f:image": {}}})
    ]


def test_empty_managed_fields_keep_the_stored_ones_and_a_single_empty_entry_resets() -> None:
    live = update(None, widget({"replicas": 1}), "creator")
    cleared = copy.deepcopy(live)
    cleared["metadata"]["managedFields"] = []
    assert (
        update(live, cleared, "editor", T1)["metadata"]["managedFields"] == live["metadata"]["managedFields"]
    )

    reset = copy.deepcopy(live)
    reset["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in update(live, reset, "editor", T1)["metadata"]


def test_undecodable_stored_managed_fields_never_fail_a_write() -> None:
    live = widget({"replicas": 1})
    live["metadata"]["managedFields"] = [{"manager": "x", "operation": "Bogus"}]
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 2
    new["metadata"]["managedFields"] = live["metadata"]["managedFields"]
    after = update(live, new, "editor")
    assert [e["manager"] for e in after["metadata"]["managedFields"]] == ["editor"]


def test_entries_are_sorted_like_kube() -> None:
    live = update(None, widget({"replicas": 1}), "zeta", T1)
    live = server_side_apply(
        live,
        widget({"image": "x"}),
        manager="applier",
        api_version=API_VERSION,
        force=False,
        schema=SCHEMA,
        now=T2,
    )
    new = copy.deepcopy(live)
    new["spec"]["tags"] = ["t"]
    live = update(live, new, "alpha", T1)
    assert [(e["operation"], e["manager"]) for e in live["metadata"]["managedFields"]] == [
        ("Apply", "applier"),
        ("Update", "alpha"),
        ("Update", "zeta"),
    ]


def test_more_than_ten_update_managers_fold_into_ancient_changes() -> None:
    obj = update(None, widget({"env": {"K0": "v"}}), "m00", "2026-11-22T03:00:00Z")
    for i in range(1, MAX_UPDATE_MANAGERS + 2):
        new = copy.deepcopy(obj)
        new["spec"]["env"][f"K{i}"] = "v"
        obj = update(obj, new, f"m{i:02d}", f"2026-11-22T03:00:{i:02d}Z")
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == MAX_UPDATE_MANAGERS
    assert ANCIENT_CHANGES in managers
    assert "m00" not in managers
    assert "m01" not in managers
    assert "m02" not in managers
    ancient = entries(obj)[(ANCIENT_CHANGES, "Update", "")]
    assert set(ancient["fieldsV1"]["f:spec"]["f:env"]) >= {"f:K0", "f:K1", "f:K2"}


def test_manager_name_follows_kube() -> None:
    assert manager_name("explicit", "kubectl/v1.37.0 (linux/amd64)") == "explicit"
    assert manager_name("", "kubectl/v1.37.0 (linux/amd64) kubernetes/abc") == "kubectl"
    assert manager_name("", "OpenAPI-Generator/31.0.0/python") == "OpenAPI-Generator"
    assert manager_name("", "we\x00ird/1") == "weird"
    assert manager_name("", "x" * 300) == "x" * 128
