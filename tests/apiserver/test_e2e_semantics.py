"""API semantics corners, checked with the official ``kubernetes`` client and kubectl as peers:
Events as one resource behind two APIs, several served CRD versions, selectable fields, paging,
list resourceVersion semantics, deletecollection, generation, status subresources, dry-run,
immutable fields, generateName, strict field validation of built-in kinds, bad bodies."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tests.apiserver.crds import WIDGET_CRD, widget
from tests.conftest import RunningAPIServer

pytestmark = pytest.mark.e2e

G, V, P = "example.com", "v1", "widgets"
MG = "multi.example.com"

GADGET_SCHEMA: dict[str, Any] = {
    "openAPIV3Schema": {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"size": {"type": "integer"}, "color": {"type": "string"}},
            },
            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
        },
    }
}
GADGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"gadgets.{MG}"},
    "spec": {
        "group": MG,
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1beta1",
                "served": True,
                "storage": False,
                "schema": GADGET_SCHEMA,
                "subresources": {"status": {}},
            },
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": GADGET_SCHEMA,
                "subresources": {"status": {}},
                "selectableFields": [{"jsonPath": ".spec.color"}],
            },
        ],
    },
}


def _ensure_crd(api: client.ApiClient, crd: dict[str, Any]) -> None:
    ext = client.ApiextensionsV1Api(api)
    try:
        ext.create_custom_resource_definition(copy.deepcopy(crd))
    except ApiException as exc:
        assert exc.status == 409
    deadline = time.monotonic() + 10
    name = crd["metadata"]["name"]
    while time.monotonic() < deadline:
        got = ext.read_custom_resource_definition(name)
        if {c.type: c.status for c in got.status.conditions or []}.get("Established") == "True":
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} not Established")


@pytest.fixture(scope="module")
def api(apiserver: RunningAPIServer) -> Iterator[client.ApiClient]:
    with apiserver.api_client() as api:
        _ensure_crd(api, WIDGET_CRD)
        _ensure_crd(api, GADGET_CRD)
        yield api


def _raw(resp: Any) -> Any:
    return json.loads(resp.data)


def _status(exc: ApiException) -> dict[str, Any]:
    return dict(json.loads(exc.body))


def _micro(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- Events: one stored object, two APIs -----------------------------------------------------------
def test_events_are_one_resource_behind_core_and_events_api(
    apiserver: RunningAPIServer, api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api)
    ev1 = client.EventsV1Api(api)
    now = datetime.now(UTC)
    regarding = {"apiVersion": "v1", "kind": "ConfigMap", "name": "cfg", "namespace": namespace}
    # written with the new API (as controllers using client-go's events recorder do)
    created = ev1.create_namespaced_event(
        namespace,
        {
            "metadata": {"name": "new-style"},
            "eventTime": _micro(now),
            "regarding": regarding,
            "related": {"kind": "Secret", "name": "s", "namespace": namespace},
            "reason": "Synced",
            "note": "synced by the test",
            "type": "Normal",
            "action": "Sync",
            "reportingController": "teapot.dev/test",
            "reportingInstance": "test-1",
            "series": {"count": 3, "lastObservedTime": _micro(now)},
        },
    )
    assert created.regarding.name == "cfg" and created.note == "synced by the test"
    as_core = core.read_namespaced_event("new-style", namespace)
    assert as_core.involved_object.name == "cfg" and as_core.involved_object.kind == "ConfigMap"
    assert as_core.message == "synced by the test" and as_core.reason == "Synced"
    assert as_core.reporting_component == "teapot.dev/test" and as_core.reporting_instance == "test-1"
    assert as_core.action == "Sync" and as_core.type == "Normal" and as_core.related.name == "s"
    assert as_core.series.count == 3 and as_core.event_time is not None
    assert as_core.metadata.uid == created.metadata.uid
    assert as_core.metadata.resource_version == created.metadata.resource_version

    # written with the core API (the old recorder): source, first/last timestamps and count
    ts = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    core.create_namespaced_event(
        namespace,
        {
            "metadata": {"name": "old-style"},
            "involvedObject": regarding,
            "reason": "Legacy",
            "message": "recorded by the old api",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "count": 2,
            "type": "Warning",
        },
    )
    old = _raw(ev1.read_namespaced_event("old-style", namespace, _preload_content=False))
    assert old["apiVersion"] == "events.k8s.io/v1" and old["kind"] == "Event"
    assert old["regarding"]["name"] == "cfg" and old["note"] == "recorded by the old api"
    assert old["deprecatedSource"] == {"component": "kubelet", "host": "node-1"}
    assert old["deprecatedCount"] == 2
    for key in ("deprecatedFirstTimestamp", "deprecatedLastTimestamp"):
        assert datetime.fromisoformat(old[key].replace("Z", "+00:00")) == now.replace(microsecond=0)
    assert not {"involvedObject", "message", "source", "count"} & old.keys()

    # both lists show both; items carry the list's API version
    assert {e.metadata.name for e in core.list_namespaced_event(namespace).items} == {
        "new-style",
        "old-style",
    }
    items = _raw(ev1.list_namespaced_event(namespace, _preload_content=False))["items"]
    assert {e["metadata"]["name"] for e in items} == {"new-style", "old-style"}
    assert {e["apiVersion"] for e in items} == {"events.k8s.io/v1"}

    # field selectors in each API's own terms
    sel = core.list_namespaced_event(namespace, field_selector="involvedObject.name=cfg,reason=Legacy")
    assert [e.metadata.name for e in sel.items] == ["old-style"]
    sel_new = _raw(
        ev1.list_namespaced_event(
            namespace,
            field_selector="regarding.name=cfg,reportingController=teapot.dev/test",
            _preload_content=False,
        )
    )
    assert [e["metadata"]["name"] for e in sel_new["items"]] == ["new-style"]
    with pytest.raises(ApiException) as err:
        ev1.list_namespaced_event(namespace, field_selector="involvedObject.name=cfg")
    assert err.value.status == 400

    # an update through one API is seen through the other
    ev1.patch_namespaced_event("old-style", namespace, {"note": "patched"}, _preload_content=False)
    assert core.read_namespaced_event("old-style", namespace).message == "patched"

    # kubectl: both `kubectl get events` (server-side table) and `kubectl events` show both
    got = apiserver.kubectl("get", "events", "-n", namespace).stdout
    assert "Synced" in got and "Legacy" in got and "configmap/cfg" in got
    got = apiserver.kubectl("get", "events.events.k8s.io", "-n", namespace, "-o", "wide").stdout
    assert "teapot.dev/test" in got and "kubelet, node-1" in got
    got = apiserver.kubectl("events", "-n", namespace).stdout
    assert "synced by the test" in got and "patched" in got
    got = apiserver.kubectl("events", "-n", namespace, "--for", "configmap/cfg").stdout
    assert "synced by the test" in got and "patched" in got
    assert (
        "No events found" in apiserver.kubectl("events", "-n", namespace, "--for", "configmap/other").stderr
    )

    # a watch through the core API sees an Event written through the new API, converted
    rv = core.list_namespaced_event(namespace).metadata.resource_version
    ev1.create_namespaced_event(
        namespace,
        {
            "metadata": {"name": "watched"},
            "eventTime": _micro(now),
            "regarding": regarding,
            "reason": "Watched",
            "note": "via watch",
            "type": "Normal",
            "action": "Watch",
            "reportingController": "teapot.dev/test",
            "reportingInstance": "test-1",
        },
    )
    seen = []
    for ev in watch.Watch().stream(
        core.list_namespaced_event, namespace, resource_version=rv, timeout_seconds=2
    ):
        seen.append((ev["type"], ev["object"].metadata.name, ev["object"].message))
        break
    assert seen == [("ADDED", "watched", "via watch")]
    # and a watch through the new API, filtered in its own field names, sees it too
    seen = []
    for ev in watch.Watch().stream(
        ev1.list_namespaced_event,
        namespace,
        resource_version=rv,
        field_selector="regarding.name=cfg,reason=Watched",
        timeout_seconds=2,
    ):
        seen.append(
            (ev["type"], ev["object"].metadata.name, ev["object"].note, ev["raw_object"]["apiVersion"])
        )
        break
    assert seen == [("ADDED", "watched", "via watch", "events.k8s.io/v1")]

    # deleting through one API deletes it for both
    ev1.delete_namespaced_event("new-style", namespace)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_event("new-style", namespace)
    assert err.value.status == 404
    # and deleting the namespace's contents sweeps events of both origins (one storage)
    core.delete_collection_namespaced_event(namespace)
    assert _raw(ev1.list_namespaced_event(namespace, _preload_content=False))["items"] == []


# -- several served versions of a CRD, one storage version -------------------------------------------
def test_crd_with_several_served_versions(
    apiserver: RunningAPIServer, api: client.ApiClient, namespace: str
) -> None:
    co = client.CustomObjectsApi(api)
    made = co.create_namespaced_custom_object(
        MG,
        "v1beta1",
        namespace,
        "gadgets",
        {
            "apiVersion": f"{MG}/v1beta1",
            "kind": "Gadget",
            "metadata": {"name": "b"},
            "spec": {"size": 1, "color": "red"},
        },
    )
    assert made["apiVersion"] == f"{MG}/v1beta1"
    at_v1 = co.get_namespaced_custom_object(MG, "v1", namespace, "gadgets", "b")
    assert at_v1["apiVersion"] == f"{MG}/v1" and at_v1["metadata"]["uid"] == made["metadata"]["uid"]
    assert at_v1["spec"] == {"size": 1, "color": "red"}
    co.create_namespaced_custom_object(
        MG,
        "v1",
        namespace,
        "gadgets",
        {
            "apiVersion": f"{MG}/v1",
            "kind": "Gadget",
            "metadata": {"name": "a"},
            "spec": {"size": 2, "color": "blue"},
        },
    )
    assert (
        co.get_namespaced_custom_object(MG, "v1beta1", namespace, "gadgets", "a")["apiVersion"]
        == f"{MG}/v1beta1"
    )
    # a body at the wrong version for the URL is refused
    with pytest.raises(ApiException) as err:
        co.create_namespaced_custom_object(
            MG,
            "v1",
            namespace,
            "gadgets",
            {"apiVersion": f"{MG}/v1beta1", "kind": "Gadget", "metadata": {"name": "c"}},
        )
    assert err.value.status == 400
    # list at each version
    for version in ("v1beta1", "v1"):
        listed = co.list_namespaced_custom_object(MG, version, namespace, "gadgets")
        assert listed["apiVersion"] == f"{MG}/{version}"
        assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b"]
        assert {i["apiVersion"] for i in listed["items"]} == {f"{MG}/{version}"}
    # update at one version, generation and content seen at the other
    beta = co.get_namespaced_custom_object(MG, "v1beta1", namespace, "gadgets", "a")
    beta["spec"]["size"] = 5
    replaced = co.replace_namespaced_custom_object(MG, "v1beta1", namespace, "gadgets", "a", beta)
    assert replaced["apiVersion"] == f"{MG}/v1beta1" and replaced["metadata"]["generation"] == 2
    v1 = co.get_namespaced_custom_object(MG, "v1", namespace, "gadgets", "a")
    assert v1["spec"]["size"] == 5 and v1["metadata"]["generation"] == 2
    # status subresource at the non-storage version
    co.patch_namespaced_custom_object_status(
        MG, "v1beta1", namespace, "gadgets", "a", {"status": {"phase": "Up"}}
    )
    assert co.get_namespaced_custom_object(MG, "v1", namespace, "gadgets", "a")["status"] == {"phase": "Up"}
    # a watch at v1beta1 sees objects written at v1, at v1beta1
    rv = co.list_namespaced_custom_object(MG, "v1beta1", namespace, "gadgets")["metadata"]["resourceVersion"]
    co.create_namespaced_custom_object(
        MG,
        "v1",
        namespace,
        "gadgets",
        {"apiVersion": f"{MG}/v1", "kind": "Gadget", "metadata": {"name": "w"}},
    )
    events = []
    for ev in watch.Watch().stream(
        co.list_namespaced_custom_object,
        MG,
        "v1beta1",
        namespace,
        "gadgets",
        resource_version=rv,
        timeout_seconds=2,
    ):
        events.append((ev["type"], ev["object"]["apiVersion"], ev["object"]["metadata"]["name"]))
        break
    assert events == [("ADDED", f"{MG}/v1beta1", "w")]
    # discovery: both versions served, the GA one preferred; kubectl addresses each
    group = next(g for g in client.ApisApi(api).get_api_versions().groups if g.name == MG)
    assert group.preferred_version.version == "v1"
    assert [v.version for v in group.versions] == ["v1", "v1beta1"]
    versions = apiserver.kubectl("api-versions").stdout.split()
    assert f"{MG}/v1" in versions and f"{MG}/v1beta1" in versions
    got = json.loads(apiserver.kubectl("get", f"gadgets.v1beta1.{MG}", "-n", namespace, "-o", "json").stdout)
    assert {i["apiVersion"] for i in got["items"]} == {f"{MG}/v1beta1"}
    got = json.loads(apiserver.kubectl("get", "gadgets", "-n", namespace, "-o", "json").stdout)
    assert {i["apiVersion"] for i in got["items"]} == {f"{MG}/v1"}
    crd = client.ApiextensionsV1Api(api).read_custom_resource_definition(f"gadgets.{MG}")
    assert crd.status.stored_versions == ["v1"]


# -- list: selectable fields, deletecollection, paging, resourceVersion ------------------------------
def test_selectable_fields_in_list_and_watch(
    apiserver: RunningAPIServer, api: client.ApiClient, namespace: str
) -> None:
    co = client.CustomObjectsApi(api)
    rv = co.list_namespaced_custom_object(G, V, namespace, P)["metadata"]["resourceVersion"]
    co.create_namespaced_custom_object(G, V, namespace, P, widget("r", namespace, color="red"))
    co.create_namespaced_custom_object(G, V, namespace, P, widget("b", namespace, color="blue"))
    co.patch_namespaced_custom_object(G, V, namespace, P, "r", {"spec": {"color": "blue"}})  # enters
    co.patch_namespaced_custom_object(G, V, namespace, P, "b", {"spec": {"color": "green"}})  # leaves
    co.patch_namespaced_custom_object(G, V, namespace, P, "r", {"spec": {"size": 2}})  # stays
    listed = co.list_namespaced_custom_object(G, V, namespace, P, field_selector="spec.color=blue")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["r"]
    listed = co.list_namespaced_custom_object(G, V, namespace, P, field_selector="spec.color!=blue")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["b"]
    with pytest.raises(ApiException) as err:
        co.list_namespaced_custom_object(G, V, namespace, P, field_selector="spec.size=2")
    assert err.value.status == 400 and "field label not supported" in _status(err.value)["message"]
    events = [
        (e["type"], e["object"]["metadata"]["name"])
        for e in watch.Watch().stream(
            co.list_namespaced_custom_object,
            G,
            V,
            namespace,
            P,
            resource_version=rv,
            field_selector="spec.color=blue",
            timeout_seconds=1,
        )
    ]
    assert events == [("ADDED", "b"), ("ADDED", "r"), ("DELETED", "b"), ("MODIFIED", "r")]
    got = apiserver.kubectl(
        "get", "widgets", "-n", namespace, "--field-selector", "spec.color=blue", "-o", "name"
    )
    assert got.stdout.split() == [f"widget.{G}/r"]


def test_deletecollection_with_label_selector(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    co = client.CustomObjectsApi(api)
    for i in range(6):
        tier = "web" if i % 2 else "db"
        core.create_namespaced_config_map(
            namespace, {"metadata": {"name": f"c{i}", "labels": {"tier": tier}}}
        )
        co.create_namespaced_custom_object(
            G,
            V,
            namespace,
            P,
            dict(widget(f"w{i}", namespace), metadata={"name": f"w{i}", "labels": {"tier": tier}}),
        )
    core.delete_collection_namespaced_config_map(namespace, label_selector="tier=web")
    assert sorted(c.metadata.name for c in core.list_namespaced_config_map(namespace).items) == [
        "c0",
        "c2",
        "c4",
    ]
    co.delete_collection_namespaced_custom_object(G, V, namespace, P, label_selector="tier in (db)")
    left = co.list_namespaced_custom_object(G, V, namespace, P)["items"]
    assert sorted(i["metadata"]["name"] for i in left) == ["w1", "w3", "w5"]
    # dry-run deletes nothing
    core.delete_collection_namespaced_config_map(namespace, dry_run="All")
    assert len(core.list_namespaced_config_map(namespace).items) == 3


def test_paging_is_a_snapshot_while_objects_are_created(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    for i in range(0, 30):
        core.create_namespaced_config_map(
            namespace, {"metadata": {"name": f"p{i:03d}", "labels": {"even": str(i % 2 == 0).lower()}}}
        )
    first = core.list_namespaced_config_map(namespace, limit=10)
    snapshot = first.metadata.resource_version
    assert len(first.items) == 10 and first.metadata.remaining_item_count == 20
    names = [c.metadata.name for c in first.items]
    token = first.metadata._continue
    created = 0
    while token:
        # new objects sort both before and after the cursor: neither appears in later pages
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"p{created:03d}x"}})
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"z{created:03d}"}})
        created += 2
        page = core.list_namespaced_config_map(namespace, limit=10, _continue=token)
        assert page.metadata.resource_version == snapshot
        names += [c.metadata.name for c in page.items]
        token = page.metadata._continue
    assert names == [f"p{i:03d}" for i in range(30)]
    assert len(core.list_namespaced_config_map(namespace).items) == 30 + created
    # filtered paging: no remainingItemCount (kube leaves it unset with selectors), all matches once
    filtered: list[str] = []
    token = None
    while True:
        page = core.list_namespaced_config_map(
            namespace, limit=4, label_selector="even=true", _continue=token
        )
        assert page.metadata.remaining_item_count is None
        filtered += [c.metadata.name for c in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert filtered == [f"p{i:03d}" for i in range(0, 30, 2)]
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(namespace, limit=4, _continue="not-a-token")
    assert err.value.status == 400


def test_list_resource_version_semantics(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "one"}})
    current = core.list_namespaced_config_map(namespace).metadata.resource_version
    for match in ("Exact", "NotOlderThan"):
        got = core.list_namespaced_config_map(
            namespace, resource_version=current, resource_version_match=match
        )
        assert got.metadata.resource_version == current and [c.metadata.name for c in got.items] == ["one"]
    # "0": any version; an older one without match: not older than it
    assert core.list_namespaced_config_map(namespace, resource_version="0").items
    older = str(int(current) - 1)
    got = core.list_namespaced_config_map(
        namespace, resource_version=older, resource_version_match="NotOlderThan"
    )
    assert int(got.metadata.resource_version) >= int(current)
    # an exact old revision is not kept here: 410 Expired, as kube after compaction
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "two"}})
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(namespace, resource_version=current, resource_version_match="Exact")
    assert err.value.status == 410 and _status(err.value)["reason"] == "Expired"
    # a future revision: 504 with Retry-After, like kube's "Too large resource version"
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(namespace, resource_version=str(int(current) + 10**6))
    assert err.value.status == 504 and "Too large resource version" in _status(err.value)["message"]
    # invalid combinations are 400s
    for kwargs in (
        {"resource_version_match": "Exact"},
        {"resource_version": "0", "resource_version_match": "Exact"},
        {"resource_version": current, "resource_version_match": "Newest"},
        {"resource_version": "abc"},
    ):
        with pytest.raises(ApiException) as err:
            core.list_namespaced_config_map(namespace, **kwargs)
        assert err.value.status == 400, kwargs
    token = core.list_namespaced_config_map(namespace, limit=1).metadata._continue
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(namespace, limit=1, _continue=token, resource_version=current)
    assert err.value.status == 400


# -- update/patch semantics --------------------------------------------------------------------------
def test_generation_bumps_on_spec_changes_only(api: client.ApiClient, namespace: str) -> None:
    co = client.CustomObjectsApi(api)
    co.create_namespaced_custom_object(G, V, namespace, P, widget("g", namespace))
    for patch in (
        {"metadata": {"labels": {"a": "b"}}},
        {"metadata": {"annotations": {"note": "x"}}},
        {"metadata": {"finalizers": ["example.com/keep"]}},
    ):
        got = co.patch_namespaced_custom_object(G, V, namespace, P, "g", patch)
        assert got["metadata"]["generation"] == 1, patch
    got = co.patch_namespaced_custom_object_status(G, V, namespace, P, "g", {"status": {"phase": "Up"}})
    assert got["metadata"]["generation"] == 1
    got = co.patch_namespaced_custom_object(G, V, namespace, P, "g", {"spec": {"size": 5}})
    assert got["metadata"]["generation"] == 2
    co.patch_namespaced_custom_object(G, V, namespace, P, "g", {"metadata": {"finalizers": None}})
    # a built-in kind with generation: the CRD itself
    ext = client.ApiextensionsV1Api(api)
    before = ext.read_custom_resource_definition(f"gadgets.{MG}").metadata.generation
    after = ext.patch_custom_resource_definition(f"gadgets.{MG}", {"metadata": {"labels": {"t": "1"}}})
    assert after.metadata.generation == before


def test_namespace_status_subresource(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    cond = {"type": "Probe", "status": "True", "reason": "Test", "message": "set via status"}
    got = core.patch_namespace_status(
        namespace, {"spec": {"finalizers": []}, "status": {"conditions": [cond]}}
    )
    assert got.spec.finalizers == ["kubernetes"]  # spec is ignored by /status
    assert got.status.conditions[0].type == "Probe" and got.status.phase == "Active"
    got = core.patch_namespace(namespace, {"status": {"phase": "Terminating", "conditions": []}})
    assert got.status.phase == "Active" and got.status.conditions[0].type == "Probe"  # status ignored
    # spec.finalizers change only through /finalize (kube's namespace strategies)
    got = core.patch_namespace(namespace, {"spec": {"finalizers": []}, "metadata": {"labels": {"x": "y"}}})
    assert got.spec.finalizers == ["kubernetes"] and got.metadata.labels["x"] == "y"
    got.spec.finalizers = []
    got = core.replace_namespace_finalize(namespace, got)
    assert not got.spec.finalizers and got.status.phase == "Active"
    assert not core.read_namespace(namespace).spec.finalizers
    core.delete_namespace(namespace)  # nothing to finalize: gone at once
    with pytest.raises(ApiException) as err:
        core.read_namespace(namespace)
    assert err.value.status == 404


def test_role_ref_is_immutable(api: client.ApiClient, namespace: str) -> None:
    rbac = client.RbacAuthorizationV1Api(api)
    binding = rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "rb"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
        },
    )
    binding.role_ref.name = "edit"
    with pytest.raises(ApiException) as err:
        rbac.replace_namespaced_role_binding("rb", namespace, binding)
    status = _status(err.value)
    assert err.value.status == 422 and status["reason"] == "Invalid"
    assert (
        status["details"]["causes"][0]["field"] == "roleRef" and "cannot change roleRef" in status["message"]
    )
    # subjects may change
    binding = rbac.read_namespaced_role_binding("rb", namespace)
    binding.subjects[0].name = "bob"
    assert rbac.replace_namespaced_role_binding("rb", namespace, binding).subjects[0].name == "bob"


def test_generate_name(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    names = {
        core.create_namespaced_config_map(namespace, {"metadata": {"generateName": "gen-"}}).metadata.name
        for _ in range(40)
    }
    assert len(names) == 40 and all(n.startswith("gen-") and len(n) == 9 for n in names)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(namespace, {"metadata": {"generateName": "Bad_Prefix-"}})
    assert err.value.status == 422


def test_dry_run_update_patch_delete(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    cm = core.create_namespaced_config_map(namespace, {"metadata": {"name": "d"}, "data": {"k": "1"}})
    rv = cm.metadata.resource_version
    cm.data = {"k": "2"}
    out = core.replace_namespaced_config_map("d", namespace, cm, dry_run="All")
    assert out.data == {"k": "2"}
    out = core.patch_namespaced_config_map("d", namespace, {"data": {"k": "3"}}, dry_run="All")
    assert out.data == {"k": "3"}
    core.delete_namespaced_config_map("d", namespace, dry_run="All")
    kept = core.read_namespaced_config_map("d", namespace)
    assert kept.data == {"k": "1"} and kept.metadata.resource_version == rv
    co = client.CustomObjectsApi(api)
    co.create_namespaced_custom_object(G, V, namespace, P, widget("dw", namespace))
    co.patch_namespaced_custom_object(G, V, namespace, P, "dw", {"spec": {"size": 7}}, dry_run="All")
    co.delete_namespaced_custom_object(G, V, namespace, P, "dw", dry_run="All")
    assert co.get_namespaced_custom_object(G, V, namespace, P, "dw")["spec"]["size"] == 1
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("d", namespace, {"data": {}}, dry_run="Some")
    assert err.value.status == 400


def test_strict_field_validation_of_builtin_kinds(apiserver: RunningAPIServer, namespace: str) -> None:
    # (the Python client refuses unknown fields client-side, so kubectl is the peer here)
    manifest = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n  namespace: " + namespace + "\n"
        "  bogusMeta: 1\ndata:\n  a: '1'\nbogus:\n  x: 1\n"
    )
    # kubectl validates server-side (fieldValidation=Strict) by default
    res = apiserver.kubectl("create", "-f", "-", input=manifest, check=False)
    assert res.returncode != 0 and "strict decoding error" in res.stderr
    assert 'unknown field "bogus"' in res.stderr and 'unknown field "metadata.bogusMeta"' in res.stderr
    assert apiserver.kubectl("get", "cm", "-n", namespace, "-o", "name").stdout == ""
    # Warn: stored without the unknown fields, kubectl prints the server's warnings
    res = apiserver.kubectl("create", "--validate=warn", "-f", "-", input=manifest)
    assert 'unknown field "bogus"' in res.stderr and 'unknown field "metadata.bogusMeta"' in res.stderr
    stored = apiserver.kubectl_json("get", "cm", "s", "-n", namespace, "--show-managed-fields")
    assert "bogus" not in stored and "bogusMeta" not in stored["metadata"] and stored["data"] == {"a": "1"}
    # known fields at any depth are kept (managedFields' free-form fieldsV1 included)
    assert stored["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}
    # Ignore: silently dropped
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: k\n  namespace: " + namespace + "\n"
        "stringData:\n  a: b\nsurplus: 1\n"
    )
    res = apiserver.kubectl("create", "--validate=false", "-f", "-", input=secret)
    assert "surplus" not in res.stderr
    stored = apiserver.kubectl_json("get", "secret", "k", "-n", namespace)
    assert "surplus" not in stored and stored["data"] == {"a": "Yg=="}


def _post_raw(api: client.ApiClient, path: str, body: str, content_type: str) -> tuple[int, Any]:
    method, url, headers, data, _ = api.param_serialize(
        "POST",
        path,
        header_params={"Content-Type": content_type, "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    resp = api.call_api(method, url, header_params=headers, body=data)
    return resp.status, json.loads(resp.read())


def test_bad_bodies(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(
            namespace, {"metadata": {"name": "big"}, "data": {"x": "y" * (3 * 1024 * 1024 + 1)}}
        )
    assert err.value.status == 413 and _status(err.value)["reason"] == "RequestEntityTooLarge"
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for text in ("metadata: [name: x\n", "- just\n- a list\n", "data: {a: 1", "\t: bad"):
        code, status = _post_raw(api, path, text, "application/yaml")
        assert code == 400 and status["kind"] == "Status" and status["message"], text
    code, status = _post_raw(api, path, "{}", "application/x-unknown")
    assert code == 415 and status["reason"] == "UnsupportedMediaType"
    # nothing was written and the server still serves
    assert core.list_namespaced_config_map(namespace).items == []
    # well-formed YAML is accepted
    code, made = _post_raw(
        api,
        path,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fromyaml\ndata:\n  a: 'b'\n",
        "application/yaml",
    )
    assert code == 201 and made["metadata"]["name"] == "fromyaml"
    assert core.read_namespaced_config_map("fromyaml", namespace).data == {"a": "b"}


async def test_events_written_by_kubernetes_asyncio_show_in_kubectl(
    apiserver: RunningAPIServer, namespace: str
) -> None:
    import asyncio

    from kubernetes_asyncio import client as aclient
    from kubernetes_asyncio import config as aconfig

    cfg = aclient.Configuration()
    await aconfig.load_kube_config(config_file=str(apiserver.kubeconfig), client_configuration=cfg)
    async with aclient.ApiClient(cfg) as api:
        await aclient.EventsV1Api(api).create_namespaced_event(
            namespace,
            {
                "metadata": {"generateName": "host-"},
                "eventTime": _micro(datetime.now(UTC)),
                "regarding": {"apiVersion": "v1", "kind": "Namespace", "name": namespace},
                "reason": "Provisioned",
                "note": "host provisioned by an async controller",
                "type": "Normal",
                "action": "Provision",
                "reportingController": "teapot.dev/hosts",
                "reportingInstance": "hosts-0",
            },
        )
        listed = await aclient.CoreV1Api(api).list_namespaced_event(namespace)
        assert [e.reason for e in listed.items] == ["Provisioned"]
    events, table = await asyncio.gather(
        asyncio.to_thread(apiserver.kubectl, "events", "-n", namespace),
        asyncio.to_thread(apiserver.kubectl, "get", "events", "-n", namespace),
    )
    assert "host provisioned by an async controller" in events.stdout
    assert f"namespace/{namespace}" in table.stdout and "Provisioned" in table.stdout


async def test_large_lists_are_streamed_in_chunks(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A list longer than LIST_CHUNK goes out as a chunked stream; clients see one ordinary list."""
    import asyncio

    from teapot.apiserver import handlers
    from teapot.apiserver.server import EmbeddedAPIServer, ServerSettings

    monkeypatch.setattr(handlers, "LIST_CHUNK", 7)
    server = EmbeddedAPIServer(ServerSettings(data_dir=tmp_path / "data", secure_port=0))
    await server.start()
    try:

        def run() -> None:
            from kubernetes import config

            cfg = client.Configuration()
            config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=cfg)
            with client.ApiClient(cfg) as api:
                core = client.CoreV1Api(api)
                for i in range(30):
                    core.create_namespaced_config_map(
                        "default", {"metadata": {"name": f"s{i:02d}"}, "data": {"i": str(i)}}
                    )
                resp = core.list_namespaced_config_map("default", _preload_content=False)
                assert resp.headers.get("Transfer-Encoding") == "chunked"
                listed = json.loads(resp.data)
                assert [c["metadata"]["name"] for c in listed["items"]] == [f"s{i:02d}" for i in range(30)]
                assert listed["kind"] == "ConfigMapList" and listed["metadata"]["resourceVersion"]
                typed = core.list_config_map_for_all_namespaces()
                assert len(typed.items) == 30 and typed.items[29].data == {"i": "29"}
                small = core.list_namespaced_config_map("default", limit=5, _preload_content=False)
                assert "Content-Length" in small.headers  # a page within LIST_CHUNK is one body

        await asyncio.to_thread(run)
    finally:
        await server.stop()


async def test_generated_name_collisions_are_retried(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """kube regenerates a taken generated name; only a name still taken after 8 tries is a 409."""
    import asyncio

    from teapot.apiserver import objects
    from teapot.apiserver.server import EmbeddedAPIServer, ServerSettings

    suffixes = iter(["aaaaa", "aaaaa", "aaaaa", "bbbbb"] + ["ccccc"] * 16)
    monkeypatch.setattr(objects, "generate_name", lambda prefix: prefix + next(suffixes))
    server = EmbeddedAPIServer(ServerSettings(data_dir=tmp_path / "data", secure_port=0))
    await server.start()
    try:

        def run() -> None:
            from kubernetes import config

            cfg = client.Configuration()
            config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=cfg)
            with client.ApiClient(cfg) as api:
                core = client.CoreV1Api(api)
                body = {"metadata": {"generateName": "gen-"}}
                assert core.create_namespaced_config_map("default", body).metadata.name == "gen-aaaaa"
                assert core.create_namespaced_config_map("default", body).metadata.name == "gen-bbbbb"
                assert core.create_namespaced_config_map("default", body).metadata.name == "gen-ccccc"
                with pytest.raises(ApiException) as err:
                    core.create_namespaced_config_map("default", body)
                assert err.value.status == 409 and _status(err.value)["reason"] == "AlreadyExists"

        await asyncio.to_thread(run)
    finally:
        await server.stop()


def test_events_stored_apart_by_an_older_server_are_moved(tmp_path: Any) -> None:
    """Data dirs from before Events became one resource: the events.k8s.io rows join core Events."""
    import orjson

    from teapot.apiserver.storage import Store
    from tests.conftest import start_apiserver, stop_apiserver

    data = tmp_path / "data"
    data.mkdir()
    store = Store(data / "state.db")
    old = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "legacy", "namespace": "default", "uid": "u-1", "resourceVersion": "2"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "regarding": {"kind": "Namespace", "name": "default"},
        "reason": "Old",
        "note": "stored apart",
        "type": "Normal",
        "action": "Keep",
        "reportingController": "teapot.dev/old",
        "reportingInstance": "old-0",
    }
    store.put(
        "events.k8s.io/events",
        "default",
        "legacy",
        rv=store.next_rv(),
        uid="u-1",
        labels=None,
        data=orjson.dumps(old),
    )
    store.close()
    server = start_apiserver(data)
    try:
        with server.api_client() as api:
            core = client.CoreV1Api(api).read_namespaced_event("legacy", "default")
            assert core.message == "stored apart" and core.reporting_component == "teapot.dev/old"
            new = client.EventsV1Api(api).read_namespaced_event("legacy", "default")
            assert new.note == "stored apart" and new.metadata.uid == "u-1"
            assert int(new.metadata.resource_version) > 2
    finally:
        stop_apiserver(server)
