"""Merge schemas (CRD OpenAPI and built-ins), field-set algebra and path printing, simple patches."""

from __future__ import annotations

from typing import Any

import pytest

from teapot.apiserver.errors import StatusError
from teapot.apiserver.merge import (
    ListType,
    apply_json_patch,
    apply_merge_patch,
    builtin_merge_schema,
    fieldset,
    schema_from_openapi,
)
from teapot.apiserver.merge.typed import compare
from tests.apiserver.test_merge_support import CRD_SCHEMA

SCHEMA = schema_from_openapi(CRD_SCHEMA)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("spec", "ports"), ListType("map", ("name", "protocol"))),
        (("spec", "tags"), ListType("set")),
        (("spec", "args"), ListType("atomic")),
        (("spec", "config", "*", "anything"), ListType("atomic")),
        (("status", "conditions"), ListType("map", ("type",))),
        (("metadata", "finalizers"), ListType("set")),
        (("metadata", "ownerReferences"), ListType("map", ("uid",))),
        (("metadata", "managedFields"), ListType("atomic")),
    ],
)
def test_openapi_list_types(path: tuple[str, ...], expected: ListType) -> None:
    assert SCHEMA.list_type(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ((), "struct"),
        (("spec",), "struct"),
        (("spec", "selector"), "atomic"),
        (("spec", "env"), "granular"),
        (("spec", "config"), "granular"),
        (("spec", "config", "*"), "granular"),
        (("metadata",), "struct"),
        (("metadata", "labels"), "granular"),
    ],
)
def test_openapi_map_types(path: tuple[str, ...], expected: str) -> None:
    assert SCHEMA.map_type(path) == expected


def test_builtin_schemas() -> None:
    sa = builtin_merge_schema("", "ServiceAccount")
    assert sa.list_type(("secrets",)) == ListType("map", ("name",))
    assert sa.list_type(("imagePullSecrets",)) == ListType("atomic")
    role = builtin_merge_schema("rbac.authorization.k8s.io", "Role")
    assert role.list_type(("rules",)) == ListType("atomic")
    rb = builtin_merge_schema("rbac.authorization.k8s.io", "RoleBinding")
    assert rb.list_type(("subjects",)) == ListType("atomic")
    ns = builtin_merge_schema("", "Namespace")
    assert ns.list_type(("status", "conditions")) == ListType("map", ("type",))
    assert ns.list_type(("metadata", "finalizers")) == ListType("set")
    assert builtin_merge_schema("", "Secret").map_type(("data",)) == "granular"
    assert builtin_merge_schema("", "ConfigMap").map_type(("binaryData",)) == "granular"


def test_set_algebra_on_fieldsv1_tries() -> None:
    a: fieldset.Node = {"f:spec": {".": {}, "f:x": {}, "f:y": {}}}
    b: fieldset.Node = {"f:spec": {"f:y": {}, "f:z": {}}}
    assert fieldset.union(a, b) == {"f:spec": {".": {}, "f:x": {}, "f:y": {}, "f:z": {}}}
    assert fieldset.difference(a, b) == {"f:spec": {".": {}, "f:x": {}}}
    assert fieldset.intersection(a, b) == {"f:spec": {"f:y": {}}}
    assert fieldset.difference(a, {"f:spec": {"f:x": {}, "f:y": {}}}) == {"f:spec": {}}
    assert fieldset.difference(b, b) == {}
    assert fieldset.without_prefixes(a, (("spec",),)) == {}
    assert fieldset.without_prefixes(a, (("spec", "x"),)) == {"f:spec": {".": {}, "f:y": {}}}


def test_paths_print_like_kube() -> None:
    trie = {
        "f:spec": {
            "f:replicas": {},
            "f:ports": {'k:{"name":"a","port":80}': {"f:port": {}}},
            "f:tags": {'v:"x"': {}},
        }
    }
    assert [fieldset.path_to_string(p) for p in fieldset.iter_paths(trie)] == [
        ".spec.replicas",
        '.spec.ports[name="a",port=80].port',
        '.spec.tags[="x"]',
    ]


def test_client_sent_keys_are_canonicalised() -> None:
    sent: fieldset.Node = {"f:spec": {'k:{ "protocol": "TCP",  "name": "a" }': {".": {}, "f:port": {}}}}
    assert fieldset.canonical(sent) == {
        "f:spec": {'k:{"name":"a","protocol":"TCP"}': {".": {}, "f:port": {}}}
    }


def test_compare_reports_added_modified_removed() -> None:
    old: dict[str, Any] = {"spec": {"replicas": 1, "tags": ["a", "b"], "env": {"A": "1"}}}
    new: dict[str, Any] = {"spec": {"replicas": 2, "tags": ["b", "c"], "image": "i"}}
    diff = compare(old, new, SCHEMA)
    assert diff.added == {"f:spec": {"f:tags": {'v:"c"': {}}, "f:image": {}}}
    assert diff.modified == {"f:spec": {"f:replicas": {}}}
    assert diff.removed == {"f:spec": {"f:tags": {'v:"a"': {}}, "f:env": {".": {}, "f:A": {}}}}


# --- JSON merge patch and JSON patch ---------------------------------------------------------


def test_merge_patch_follows_rfc7386() -> None:
    original = {"a": {"b": 1, "c": 2}, "l": [1, 2], "k": "v"}
    patch = {"a": {"b": None, "d": {"e": None, "f": 1}}, "l": [3], "k": None}
    assert apply_merge_patch(original, patch) == {"a": {"c": 2, "d": {"f": 1}}, "l": [3]}
    assert original == {"a": {"b": 1, "c": 2}, "l": [1, 2], "k": "v"}


def test_merge_patch_must_be_an_object() -> None:
    with pytest.raises(StatusError) as err:
        apply_merge_patch({}, [1])
    assert (err.value.code, err.value.reason) == (400, "BadRequest")


def test_json_patch_applies_operations() -> None:
    original: dict[str, Any] = {"metadata": {"labels": {"a": "1"}}, "spec": {"list": [1, 2]}}
    patch = [
        {"op": "add", "path": "/metadata/labels/b", "value": "2"},
        {"op": "remove", "path": "/spec/list/0"},
        {"op": "test", "path": "/metadata/labels/a", "value": "1"},
    ]
    assert apply_json_patch(original, patch) == {
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "spec": {"list": [2]},
    }
    assert original["spec"]["list"] == [1, 2]


@pytest.mark.parametrize(
    "patch",
    [
        [{"op": "remove", "path": "/spec/missing"}],
        [{"op": "test", "path": "/spec/x", "value": 2}],
        [{"op": "replace", "path": "/nope/deeper", "value": 1}],
        [{"op": "frobnicate", "path": "/spec"}],
    ],
)
def test_json_patch_that_does_not_apply_is_unprocessable(patch: list[dict[str, Any]]) -> None:
    with pytest.raises(StatusError) as err:
        apply_json_patch({"spec": {"x": 1}}, patch)
    assert err.value.code == 422
    assert err.value.message == "the server rejected our request due to an error in our request"
    assert err.value.causes and err.value.causes[0].message


def test_json_patch_must_be_a_list() -> None:
    with pytest.raises(StatusError) as err:
        apply_json_patch({}, {"op": "add"})
    assert err.value.code == 400
