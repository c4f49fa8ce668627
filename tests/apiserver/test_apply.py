"""Server-side apply: ownership, pruning, conflicts, force, subresources, request validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from teapot.apiserver.errors import StatusError
from teapot.apiserver.merge import (
    ApplyConflict,
    builtin_merge_schema,
    schema_from_openapi,
    server_side_apply,
    update_managed_fields,
)
from tests.apiserver.test_merge_support import API_VERSION, CRD_SCHEMA, T0, T1, T2, entries, fields_of, widget

SCHEMA = schema_from_openapi(CRD_SCHEMA)


def apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str = "mgr",
    *,
    force: bool = False,
    now: str = T0,
    subresource: str = "",
    ignored: tuple[tuple[str, ...], ...] = (),
) -> dict[str, Any]:
    return server_side_apply(
        live,
        applied,
        manager=manager,
        api_version=API_VERSION,
        force=force,
        schema=SCHEMA,
        now=now,
        subresource=subresource,
        ignored=ignored,
    )


def update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, now: str = T0) -> dict[str, Any]:
    return update_managed_fields(old, new, manager=manager, api_version=API_VERSION, schema=SCHEMA, now=now)


FULL_SPEC: dict[str, Any] = {
    "replicas": 3,
    "ports": [{"name": "http", "protocol": "TCP", "port": 80}],
    "tags": ["a", "b"],
    "args": ["--x"],
    "selector": {"app": "w"},
    "env": {"A": "1"},
}


def test_first_apply_creates_the_object_and_records_kube_fieldsv1() -> None:
    obj = apply(None, widget(FULL_SPEC, labels={"app": "w"}))
    assert obj["spec"] == FULL_SPEC
    assert obj["metadata"]["labels"] == {"app": "w"}
    [entry] = obj["metadata"]["managedFields"]
    assert {k: v for k, v in entry.items() if k != "fieldsV1"} == {
        "manager": "mgr",
        "operation": "Apply",
        "apiVersion": API_VERSION,
        "time": T0,
        "fieldsType": "FieldsV1",
    }
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:ports": {
                'k:{"name":"http","protocol":"TCP"}': {".": {}, "f:name": {}, "f:protocol": {}, "f:port": {}}
            },
            "f:tags": {'v:"a"': {}, 'v:"b"': {}},
            "f:args": {},
            "f:selector": {},
            "f:env": {"f:A": {}},
        },
    }


def test_identity_and_server_managed_metadata_are_never_owned() -> None:
    applied = widget({"replicas": 1}, uid="u", resourceVersion="5", generation=2, creationTimestamp=T0)
    obj = apply(None, applied)
    assert fields_of(obj, "mgr") == {"f:spec": {"f:replicas": {}}}


def test_reapplying_the_same_config_changes_nothing_and_keeps_the_time() -> None:
    first = apply(None, widget({"replicas": 1}), now=T0)
    again = apply(first, widget({"replicas": 1}), now=T1)
    assert again == first


def test_fields_no_longer_applied_are_removed() -> None:
    first = apply(None, widget(FULL_SPEC, labels={"app": "w", "tier": "x"}))
    second = apply(first, widget({"replicas": 3, "tags": ["b"]}, labels={"app": "w"}), now=T1)
    assert second["spec"] == {"replicas": 3, "tags": ["b"]}
    assert second["metadata"]["labels"] == {"app": "w"}
    assert second["metadata"]["name"] == "w"
    assert fields_of(second, "mgr") == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {"f:replicas": {}, "f:tags": {'v:"b"': {}}},
    }
    assert entries(second)[("mgr", "Apply", "")]["time"] == T1


def test_dropping_all_labels_removes_the_labels_but_keeps_metadata() -> None:
    first = apply(None, widget({"replicas": 1}, labels={"a": "1"}))
    live = copy.deepcopy(first)
    live["metadata"].update(uid="u-1", resourceVersion="7")
    second = apply(live, widget({"replicas": 1}))
    assert second["metadata"]["name"] == "w"
    assert second["metadata"]["uid"] == "u-1"
    assert "labels" not in second["metadata"]


def test_conflict_with_an_update_manager_has_kubes_message_and_causes() -> None:
    created = update(None, widget({"replicas": 1, "image": "a"}), "kubectl-client-side-apply")
    with pytest.raises(ApplyConflict) as err:
        apply(created, widget({"replicas": 2}))
    exc = err.value
    assert exc.code == 409
    assert exc.reason == "Conflict"
    assert exc.message == (
        f'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using {API_VERSION}: .spec.replicas'
    )
    assert exc.conflicts == [("kubectl-client-side-apply", ".spec.replicas")]
    assert exc.to_status()["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "kubectl-client-side-apply" using {API_VERSION}',
            "field": ".spec.replicas",
        }
    ]


def test_several_conflicts_are_grouped_by_manager() -> None:
    live = apply(None, widget({"replicas": 1, "image": "a"}), "alpha")
    live = apply(live, widget({"ports": [{"name": "p", "protocol": "TCP", "port": 1}]}), "beta")
    spec = {"replicas": 2, "image": "b", "ports": [{"name": "p", "protocol": "TCP", "port": 2}]}
    with pytest.raises(ApplyConflict) as err:
        apply(live, widget(spec), "gamma")
    assert err.value.message == (
        'Apply failed with 3 conflicts: conflicts with "alpha":\n- .spec.image\n- .spec.replicas\n'
        'conflicts with "beta":\n- .spec.ports[name="p",protocol="TCP"].port'
    )


def test_applying_the_value_already_there_shares_ownership() -> None:
    live = update(None, widget({"replicas": 1}), "kubectl-create")
    shared = apply(live, widget({"replicas": 1}))
    assert fields_of(shared, "mgr") == {"f:spec": {"f:replicas": {}}}
    assert fields_of(shared, "kubectl-create", "Update") == {"f:spec": {".": {}, "f:replicas": {}}}


def test_force_moves_ownership() -> None:
    live = apply(None, widget({"replicas": 1, "image": "a"}), "alpha")
    forced = apply(live, widget({"replicas": 5}), "beta", force=True)
    assert forced["spec"] == {"replicas": 5, "image": "a"}
    assert fields_of(forced, "alpha") == {"f:spec": {"f:image": {}}}
    assert fields_of(forced, "beta") == {"f:spec": {"f:replicas": {}}}


def test_a_field_another_applier_still_owns_is_not_pruned() -> None:
    live = apply(None, widget({"replicas": 3, "image": "a"}), "alpha")
    live = apply(live, widget({"replicas": 3}), "beta")
    after = apply(live, widget({"image": "a"}), "alpha")
    assert after["spec"] == {"replicas": 3, "image": "a"}
    assert fields_of(after, "beta") == {"f:spec": {"f:replicas": {}}}
    assert fields_of(after, "alpha") == {"f:spec": {"f:image": {}}}


def test_a_field_an_updater_took_over_is_not_pruned() -> None:
    live = apply(None, widget({"replicas": 3, "image": "a"}))
    changed = copy.deepcopy(live)
    changed["spec"]["replicas"] = 7
    live = update(live, changed, "hpa-controller", T1)
    assert fields_of(live, "mgr") == {"f:spec": {"f:image": {}}}
    after = apply(live, widget({"image": "a"}), now=T2)
    assert after["spec"] == {"replicas": 7, "image": "a"}


def test_pruning_a_map_list_item_keeps_other_items() -> None:
    ports = [{"name": "a", "protocol": "TCP", "port": 1}, {"name": "b", "protocol": "TCP", "port": 2}]
    live = apply(None, widget({"ports": ports}))
    after = apply(live, widget({"ports": [ports[1]]}))
    assert after["spec"]["ports"] == [ports[1]]


def test_map_list_merge_keeps_live_only_items_and_applied_order() -> None:
    live = update(
        None,
        widget({"ports": [{"name": n, "protocol": "TCP", "port": i} for i, n in enumerate("abc")]}),
        "ctl",
    )
    config = [
        {"name": "c", "protocol": "TCP", "port": 9},
        {"name": "a", "protocol": "TCP", "port": 0},
        {"name": "d", "protocol": "TCP", "port": 4},
    ]
    after = apply(live, widget({"ports": config}), force=True)
    assert [(p["name"], p["port"]) for p in after["spec"]["ports"]] == [
        ("b", 1),
        ("c", 9),
        ("a", 0),
        ("d", 4),
    ]


def test_atomic_fields_are_replaced_whole() -> None:
    live = apply(None, widget({"args": ["a", "b"], "selector": {"x": "1", "y": "2"}}), "alpha")
    after = apply(live, widget({"args": ["c"], "selector": {"z": "3"}}), "alpha")
    assert after["spec"]["args"] == ["c"]
    assert after["spec"]["selector"] == {"z": "3"}


def test_set_and_granular_maps_merge_between_managers() -> None:
    live = apply(None, widget({"tags": ["a"], "env": {"A": "1"}}), "alpha")
    after = apply(live, widget({"tags": ["b"], "env": {"B": "2"}}), "beta")
    assert after["spec"] == {"tags": ["a", "b"], "env": {"A": "1", "B": "2"}}


def test_status_subresource_managers_are_separate() -> None:
    live = apply(None, widget({"replicas": 1}), ignored=(("status",),))
    status_cfg = widget({"replicas": 99})
    status_cfg["status"] = {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True"}]}
    after = apply(live, status_cfg, "ctl", subresource="status", ignored=(("spec",),))
    entry = entries(after)[("ctl", "Apply", "status")]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {
        "f:status": {
            "f:phase": {},
            "f:conditions": {'k:{"type":"Ready"}': {".": {}, "f:type": {}, "f:status": {}}},
        }
    }
    # the main-resource applier still owns spec; status writers own no spec fields and cannot change it
    assert fields_of(after, "mgr") == {"f:spec": {"f:replicas": {}}}
    assert after["spec"] == {"replicas": 1}
    assert after["status"]["phase"] == "Ready"


def test_reset_fields_keep_their_live_values_on_the_main_resource() -> None:
    cfg = widget({"replicas": 1})
    cfg["status"] = {"phase": "Fake"}
    created = apply(None, cfg, ignored=(("status",),))
    assert "status" not in created
    live = copy.deepcopy(created)
    live["status"] = {"phase": "Ready"}
    after = apply(live, cfg, ignored=(("status",),))
    assert after["status"] == {"phase": "Ready"}
    assert fields_of(after, "mgr") == {"f:spec": {"f:replicas": {}}}


def test_applying_unknown_preserved_fields_tracks_them_granularly() -> None:
    obj = apply(None, widget({"config": {"a": {"b": 1}, "list": [1, 2]}}))
    assert fields_of(obj, "mgr") == {
        "f:spec": {"f:config": {"f:a": {".": {}, "f:b": {}}, "f:list": {}}},
    }


def test_builtin_kind_apply_uses_builtin_merge_keys() -> None:
    schema = builtin_merge_schema("", "ServiceAccount")
    sa = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "sa", "finalizers": ["f"]},
        "secrets": [{"name": "s1"}],
    }
    obj = server_side_apply(None, sa, manager="m", api_version="v1", force=False, schema=schema, now=T0)
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:metadata": {"f:finalizers": {'v:"f"': {}}},
        "f:secrets": {'k:{"name":"s1"}': {".": {}, "f:name": {}}},
    }


@pytest.mark.parametrize(
    ("applied", "message"),
    [
        (
            {**widget({}), "apiVersion": "v1"},
            "Incorrect version specified in apply patch. Specified patch version: v1",
        ),
        (widget({}, managedFields=[]), "metadata.managedFields must be nil"),
        ({"apiVersion": API_VERSION, "metadata": {"name": "w"}}, "Kind"),
        (widget({"ports": [{"name": "x", "port": 1}]}), 'omits key field "protocol"'),
        (widget({"tags": ["a", "a"]}), "duplicate entries"),
    ],
)
def test_malformed_applies_are_bad_requests(applied: dict[str, Any], message: str) -> None:
    with pytest.raises(StatusError) as err:
        apply(None, applied)
    assert err.value.code == 400
    assert message in err.value.message


def test_apply_requires_a_field_manager() -> None:
    with pytest.raises(StatusError) as err:
        apply(None, widget({}), manager="")
    assert err.value.code == 422
    assert "fieldManager: Required value" in err.value.message


def test_inputs_are_not_mutated() -> None:
    live = apply(None, widget(FULL_SPEC, labels={"a": "1"}))
    snapshot = copy.deepcopy(live)
    config = widget({"replicas": 4, "tags": ["z"]})
    config_snapshot = copy.deepcopy(config)
    apply(live, config, force=True)
    assert live == snapshot
    assert config == config_snapshot
