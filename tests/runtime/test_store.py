from __future__ import annotations

from typing import Any

import pytest

from teapot.runtime.resources import ObjectKey, ResourceRef
from teapot.runtime.store import Store, index_by_owner_uid


def _obj(ns: str, name: str, owner: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": ns, "name": name, "labels": labels}
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "kind": "HostClaim", "name": owner}]
    return {"metadata": meta}


def test_get_list_and_namespace_index() -> None:
    store = Store()
    store.upsert(_obj("a", "x"))
    store.upsert(_obj("a", "y"))
    store.upsert(_obj("b", "x"))
    assert len(store) == 3
    assert store.get("a/x") == _obj("a", "x")
    assert store.get(ObjectKey("b", "x")) == _obj("b", "x")
    assert [o["metadata"]["name"] for o in store.list("a")] == ["x", "y"]
    assert len(store.list()) == 3
    assert store.list("zzz") == []


def test_indexes_follow_updates_and_deletes() -> None:
    store = Store()
    store.upsert(_obj("a", "h1", owner="c1"))
    store.add_indexer("owner", index_by_owner_uid)  # indexes existing objects
    store.upsert(_obj("a", "h2", owner="c1"))
    assert [o["metadata"]["name"] for o in store.by_index("owner", "c1")] == ["h1", "h2"]
    old = store.upsert(_obj("a", "h1", owner="c2"))  # moved to another owner
    assert old is not None and old["metadata"]["ownerReferences"][0]["uid"] == "c1"
    assert [o["metadata"]["name"] for o in store.by_index("owner", "c1")] == ["h2"]
    assert [o["metadata"]["name"] for o in store.by_index("owner", "c2")] == ["h1"]
    store.delete(ObjectKey("a", "h2"))
    assert store.by_index("owner", "c1") == []
    assert store.delete(ObjectKey("a", "nope")) is None
    with pytest.raises(ValueError):
        store.add_indexer("owner", index_by_owner_uid)


def test_object_key_and_resource_paths() -> None:
    assert str(ObjectKey("ns", "n")) == "ns/n" and str(ObjectKey("", "n")) == "n"
    assert ObjectKey.parse("ns/n") == ObjectKey("ns", "n") and ObjectKey.parse("n") == ObjectKey("", "n")
    bmh = ResourceRef("metal3.io", "v1alpha1", "baremetalhosts")
    assert bmh.collection_path() == "/apis/metal3.io/v1alpha1/baremetalhosts"
    assert (
        bmh.object_path("h 1", "ns", "status")
        == "/apis/metal3.io/v1alpha1/namespaces/ns/baremetalhosts/h%201/status"
    )
    ns = ResourceRef("", "v1", "namespaces", namespaced=False)
    assert ns.object_path("default", "ignored") == "/api/v1/namespaces/default"
    assert ns.api_version == "v1" and bmh.api_version == "metal3.io/v1alpha1"
    with pytest.raises(ValueError):
        bmh.object_path("h1")
