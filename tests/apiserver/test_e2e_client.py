"""The embedded API server driven by the official ``kubernetes`` Python client (a real peer)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tests.apiserver.crds import WIDGET_CRD, widget
from tests.conftest import RunningAPIServer

pytestmark = pytest.mark.e2e

G, V, P = "example.com", "v1", "widgets"


@pytest.fixture(scope="module")
def api(apiserver: RunningAPIServer) -> client.ApiClient:
    api = apiserver.api_client()
    ext = client.ApiextensionsV1Api(api)
    try:
        ext.create_custom_resource_definition(WIDGET_CRD)
    except ApiException as exc:
        assert exc.status == 409
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        crd = ext.read_custom_resource_definition("widgets.example.com")
        conds = {c.type: c.status for c in crd.status.conditions or []}
        if conds.get("Established") == "True":
            break
        time.sleep(0.1)
    return api


def _status(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


def test_crud_generation_and_conflicts(api: client.ApiClient, namespace: str) -> None:
    co = client.CustomObjectsApi(api)
    obj = co.create_namespaced_custom_object(G, V, namespace, P, widget("a", namespace, 2))
    assert obj["metadata"]["generation"] == 1
    assert obj["spec"]["color"] == "red"  # schema default applied
    rv = obj["metadata"]["resourceVersion"]
    # spec change bumps generation; status change does not
    obj["spec"]["size"] = 3
    obj = co.replace_namespaced_custom_object(G, V, namespace, P, "a", obj)
    assert obj["metadata"]["generation"] == 2
    assert int(obj["metadata"]["resourceVersion"]) > int(rv)
    st = co.patch_namespaced_custom_object_status(G, V, namespace, P, "a", {"status": {"phase": "Ready"}})
    assert st["metadata"]["generation"] == 2 and st["status"]["phase"] == "Ready"
    # status in a main-resource write is ignored; spec in a status write is ignored
    obj = co.patch_namespaced_custom_object(G, V, namespace, P, "a", {"status": {"phase": "Hacked"}})
    assert obj["status"]["phase"] == "Ready"
    st = co.patch_namespaced_custom_object_status(G, V, namespace, P, "a", {"spec": {"size": 9}})
    assert st["spec"]["size"] == 3
    # stale resourceVersion -> 409 Conflict
    stale = dict(obj, metadata=dict(obj["metadata"], resourceVersion=rv))
    with pytest.raises(ApiException) as err:
        co.replace_namespaced_custom_object(G, V, namespace, P, "a", stale)
    assert err.value.status == 409
    assert "the object has been modified" in _status(err.value)["message"]
    # a no-op update keeps the resourceVersion
    cur = co.get_namespaced_custom_object(G, V, namespace, P, "a")
    again = co.replace_namespaced_custom_object(G, V, namespace, P, "a", cur)
    assert again["metadata"]["resourceVersion"] == cur["metadata"]["resourceVersion"]
    # duplicate create -> 409 AlreadyExists
    with pytest.raises(ApiException) as err:
        co.create_namespaced_custom_object(G, V, namespace, P, widget("a", namespace))
    assert err.value.status == 409 and _status(err.value)["reason"] == "AlreadyExists"


def test_schema_errors_name_the_field(api: client.ApiClient, namespace: str) -> None:
    co = client.CustomObjectsApi(api)
    with pytest.raises(ApiException) as err:
        co.create_namespaced_custom_object(G, V, namespace, P, widget("big", namespace, 11))
    status = _status(err.value)
    assert err.value.status == 422 and status["reason"] == "Invalid"
    assert any(c.get("field") == "spec.size" for c in status["details"]["causes"])
    assert "spec.size" in status["message"]
    with pytest.raises(ApiException) as err:
        co.create_namespaced_custom_object(G, V, namespace, P, widget("neg", namespace, -1))
    assert "size must not be negative" in _status(err.value)["message"]
    # immutable field via CEL transition rule
    co.create_namespaced_custom_object(G, V, namespace, P, widget("imm", namespace, 1, serial="s1"))
    with pytest.raises(ApiException) as err:
        co.patch_namespaced_custom_object(G, V, namespace, P, "imm", {"spec": {"serial": "s2"}})
    assert "serial is immutable" in _status(err.value)["message"]
    # nothing was half-written
    assert co.get_namespaced_custom_object(G, V, namespace, P, "imm")["spec"]["serial"] == "s1"


def test_generate_name_and_list_paging_and_selectors(api: client.ApiClient, namespace: str) -> None:
    co = client.CustomObjectsApi(api)
    for i in range(7):
        body = widget("", namespace, i % 3, color=["red", "green", "blue"][i % 3])
        body["metadata"] = {
            "generateName": "gen-",
            "labels": {"idx": str(i), "even": str(i % 2 == 0).lower()},
        }
        out = co.create_namespaced_custom_object(G, V, namespace, P, body)
        assert out["metadata"]["name"].startswith("gen-") and len(out["metadata"]["name"]) == 9
    page = co.list_namespaced_custom_object(G, V, namespace, P, limit=3)
    assert len(page["items"]) == 3 and page["metadata"]["continue"]
    assert page["metadata"]["remainingItemCount"] == 4
    names = [o["metadata"]["name"] for o in page["items"]]
    while page["metadata"].get("continue"):
        page = co.list_namespaced_custom_object(
            G, V, namespace, P, limit=3, _continue=page["metadata"]["continue"]
        )
        names += [o["metadata"]["name"] for o in page["items"]]
    assert len(names) == 7 and names == sorted(names)
    sel = co.list_namespaced_custom_object(G, V, namespace, P, label_selector="even=true,idx notin (0)")
    assert sorted(o["metadata"]["labels"]["idx"] for o in sel["items"]) == ["2", "4", "6"]
    sel = co.list_namespaced_custom_object(G, V, namespace, P, label_selector="!missing,idx in (1,2)")
    assert len(sel["items"]) == 2
    by_field = co.list_namespaced_custom_object(G, V, namespace, P, field_selector="spec.color=blue")
    assert len(by_field["items"]) == 2
    with pytest.raises(ApiException) as err:
        co.list_namespaced_custom_object(G, V, namespace, P, field_selector="spec.size=1")
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        co.list_namespaced_custom_object(G, V, namespace, P, label_selector="a in (")
    assert err.value.status == 400


def test_watch_resumes_from_resource_version(api: client.ApiClient, namespace: str) -> None:
    co = client.CustomObjectsApi(api)
    co.create_namespaced_custom_object(G, V, namespace, P, widget("w0", namespace))
    rv = co.list_namespaced_custom_object(G, V, namespace, P)["metadata"]["resourceVersion"]
    co.create_namespaced_custom_object(G, V, namespace, P, widget("w1", namespace))
    co.patch_namespaced_custom_object(G, V, namespace, P, "w1", {"spec": {"size": 5}})
    co.delete_namespaced_custom_object(G, V, namespace, P, "w1")
    seen: list[tuple[str, str]] = []
    w = watch.Watch()
    for ev in w.stream(
        co.list_namespaced_custom_object, G, V, namespace, P, resource_version=rv, timeout_seconds=2
    ):
        seen.append((ev["type"], ev["object"]["metadata"]["name"]))
        if len(seen) == 3:
            w.stop()
    # only what came after rv is replayed
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_watch_live_events_and_label_transitions(api: client.ApiClient, namespace: str) -> None:
    co = client.CustomObjectsApi(api)
    co.create_namespaced_custom_object(G, V, namespace, P, widget("lt", namespace))
    rv = co.get_namespaced_custom_object(G, V, namespace, P, "lt")["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []

    def run() -> None:
        w = watch.Watch()
        for ev in w.stream(
            co.list_namespaced_custom_object,
            G,
            V,
            namespace,
            P,
            resource_version=rv,
            label_selector="team=a",
            timeout_seconds=5,
        ):
            seen.append((ev["type"], ev["object"]["metadata"]["name"]))
            if len(seen) == 2:
                w.stop()

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.3)
    co.patch_namespaced_custom_object(G, V, namespace, P, "lt", {"metadata": {"labels": {"team": "a"}}})
    co.patch_namespaced_custom_object(G, V, namespace, P, "lt", {"metadata": {"labels": {"team": "b"}}})
    t.join(10)
    # entering the selector is an ADDED, leaving it a DELETED, like kube's filtered watch
    assert seen == [("ADDED", "lt"), ("DELETED", "lt")]


def test_finalizers_and_deletion_timestamp(api: client.ApiClient, namespace: str) -> None:
    co = client.CustomObjectsApi(api)
    body = widget("fin", namespace)
    body["metadata"]["finalizers"] = ["example.com/hold"]
    co.create_namespaced_custom_object(G, V, namespace, P, body)
    co.delete_namespaced_custom_object(G, V, namespace, P, "fin")
    obj = co.get_namespaced_custom_object(G, V, namespace, P, "fin")
    assert obj["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiException) as err:
        co.patch_namespaced_custom_object(
            G, V, namespace, P, "fin", {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}
        )
    assert err.value.status == 422 and "no new finalizers" in _status(err.value)["message"]
    co.patch_namespaced_custom_object(G, V, namespace, P, "fin", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        co.get_namespaced_custom_object(G, V, namespace, P, "fin")
    assert err.value.status == 404


def _wait_gone(fn: Any, *args: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fn(*args)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        time.sleep(0.05)
    raise AssertionError(f"{args} still exists")


def test_garbage_collection_background_foreground_orphan(api: client.ApiClient, namespace: str) -> None:
    co = client.CustomObjectsApi(api)
    v1 = client.CoreV1Api(api)

    def owner(name: str) -> dict[str, Any]:
        return co.create_namespaced_custom_object(G, V, namespace, P, widget(name, namespace))

    def dependent(name: str, own: dict[str, Any], block: bool = False) -> None:
        ref = {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "name": own["metadata"]["name"],
            "uid": own["metadata"]["uid"],
            "blockOwnerDeletion": block,
        }
        v1.create_namespaced_config_map(
            namespace, {"metadata": {"name": name, "ownerReferences": [ref]}, "data": {}}
        )

    o1 = owner("bg")
    dependent("bg-dep", o1)
    co.delete_namespaced_custom_object(G, V, namespace, P, "bg")
    _wait_gone(v1.read_namespaced_config_map, "bg-dep", namespace)

    o2 = owner("fg")
    dependent("fg-dep", o2, block=True)
    dep = v1.read_namespaced_config_map("fg-dep", namespace)
    v1.patch_namespaced_config_map("fg-dep", namespace, {"metadata": {"finalizers": ["example.com/slow"]}})
    co.delete_namespaced_custom_object(G, V, namespace, P, "fg", body={"propagationPolicy": "Foreground"})
    time.sleep(0.5)
    # the owner waits for its blocking dependent
    assert co.get_namespaced_custom_object(G, V, namespace, P, "fg")["metadata"]["deletionTimestamp"]
    assert v1.read_namespaced_config_map("fg-dep", namespace).metadata.deletion_timestamp
    v1.patch_namespaced_config_map("fg-dep", namespace, {"metadata": {"finalizers": None}})
    _wait_gone(co.get_namespaced_custom_object, G, V, namespace, P, "fg")
    assert dep.metadata.uid

    o3 = owner("or")
    dependent("or-dep", o3)
    co.delete_namespaced_custom_object(G, V, namespace, P, "or", body={"propagationPolicy": "Orphan"})
    _wait_gone(co.get_namespaced_custom_object, G, V, namespace, P, "or")
    kept = v1.read_namespaced_config_map("or-dep", namespace)
    assert not kept.metadata.owner_references


def test_namespace_deletion_deletes_contents(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    co = client.CustomObjectsApi(api)
    v1.create_namespace({"metadata": {"name": "doomed"}})
    v1.create_namespaced_config_map("doomed", {"metadata": {"name": "c"}, "data": {"a": "b"}})
    held = {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    v1.create_namespaced_config_map("doomed", held)
    co.create_namespaced_custom_object(G, V, "doomed", P, widget("w", "doomed"))
    v1.delete_namespace("doomed")
    _wait_gone(v1.read_namespaced_config_map, "c", "doomed")
    _wait_gone(co.get_namespaced_custom_object, G, V, "doomed", P, "w")
    # the namespace waits, Terminating, for the object whose finalizer is still there
    assert v1.read_namespace("doomed").status.phase == "Terminating"
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_config_map("doomed", {"metadata": {"name": "new"}})
    assert err.value.status == 403 and "being terminated" in _status(err.value)["message"]
    v1.patch_namespaced_config_map("held", "doomed", {"metadata": {"finalizers": None}})
    _wait_gone(v1.read_namespace, "doomed")
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_config_map("doomed", {"metadata": {"name": "c"}})
    assert err.value.status == 404


def test_dry_run_writes_nothing(api: client.ApiClient, namespace: str) -> None:
    co = client.CustomObjectsApi(api)
    out = co.create_namespaced_custom_object(G, V, namespace, P, widget("dry", namespace), dry_run="All")
    assert out["metadata"]["name"] == "dry"
    with pytest.raises(ApiException) as err:
        co.get_namespaced_custom_object(G, V, namespace, P, "dry")
    assert err.value.status == 404


def test_scale_subresource(api: client.ApiClient, namespace: str) -> None:
    co = client.CustomObjectsApi(api)
    co.create_namespaced_custom_object(G, V, namespace, P, widget("sc", namespace, replicas=1))
    scale = co.get_namespaced_custom_object_scale(G, V, namespace, P, "sc")
    assert scale["spec"]["replicas"] == 1
    co.patch_namespaced_custom_object_scale(G, V, namespace, P, "sc", {"spec": {"replicas": 4}})
    assert co.get_namespaced_custom_object(G, V, namespace, P, "sc")["spec"]["replicas"] == 4


def test_bad_input_is_a_status(apiserver: RunningAPIServer, api: client.ApiClient, namespace: str) -> None:
    import requests

    cfg = api.configuration
    base = f"{cfg.host}/apis/{G}/{V}/namespaces/{namespace}/widgets"
    auth = dict(verify=cfg.ssl_ca_cert, cert=(cfg.cert_file, cfg.key_file), timeout=10)
    r = requests.post(base, data=b"{not json", headers={"Content-Type": "application/json"}, **auth)
    assert r.status_code == 400 and r.json()["kind"] == "Status"
    r = requests.post(
        base, data=b"x" * (3 * 1024 * 1024 + 10), headers={"Content-Type": "application/json"}, **auth
    )
    assert r.status_code == 413 and r.json()["reason"] == "RequestEntityTooLarge"
    r = requests.get(f"{cfg.host}/apis/nope.example.com/v1/things", **auth)
    assert r.status_code == 404 and r.json()["kind"] == "Status"
    r = requests.get(
        f"{cfg.host}/api/v1/namespaces",
        headers={"Authorization": "Bearer wrong"},
        verify=cfg.ssl_ca_cert,
        timeout=10,
    )
    assert r.status_code == 401
    r = requests.get(f"{cfg.host}/api/v1/namespaces", verify=cfg.ssl_ca_cert, timeout=10)
    assert r.status_code == 401
    # the server keeps serving
    assert requests.get(f"{cfg.host}/readyz", verify=cfg.ssl_ca_cert, timeout=10).text == "ok"
