"""Strategic merge patch: differential tests against kubectl's own implementation, plus error cases.

``kubectl patch --local`` runs apimachinery's ``strategicpatch`` with the Go types' patch strategies
and needs no server, so it is the reference our implementation must agree with.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from teapot.apiserver.errors import StatusError
from teapot.apiserver.merge import builtin_merge_schema, strategic_merge_patch

KUBECTL = Path(sys.executable).parent / "kubectl"

SA: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ServiceAccount",
    "metadata": {
        "name": "sa",
        "namespace": "default",
        "labels": {"a": "1", "b": "2"},
        "finalizers": ["a", "b"],
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "X", "name": "o1", "uid": "u1"},
            {"apiVersion": "v1", "kind": "X", "name": "o2", "uid": "u2"},
        ],
    },
    "secrets": [{"name": "s1"}, {"name": "s2", "namespace": "x"}],
}
CM: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "cm", "namespace": "default", "annotations": {"x": "y"}},
    "data": {"a": "1", "b": "2", "c": "3"},
}
NS: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "ns"},
    "spec": {"finalizers": ["kubernetes"]},
    "status": {
        "phase": "Active",
        "conditions": [
            {"type": "A", "status": "True", "reason": "R1", "message": "m"},
            {"type": "B", "status": "False", "reason": "R2", "message": "m"},
        ],
    },
}
ROLE: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": "r", "namespace": "default"},
    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
}
RB: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "rb", "namespace": "default"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
    "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
}

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "map-lists, sets, delete directive, null",
        SA,
        {
            "metadata": {
                "finalizers": ["c"],
                "ownerReferences": [{"uid": "u2", "name": "o2b"}, {"$patch": "delete", "uid": "u1"}],
            },
            "secrets": [{"name": "s3"}, {"name": "s2", "namespace": None}],
        },
    ),
    ("null deletes, new keys", CM, {"data": {"a": None, "d": "4"}, "metadata": {"labels": {"n": "1"}}}),
    ("retainKeys", CM, {"data": {"$retainKeys": ["a", "z"], "z": "26"}}),
    ("replace map", SA, {"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
    ("delete map", CM, {"metadata": {"annotations": {"$patch": "delete"}}}),
    ("replace list", SA, {"secrets": [{"$patch": "replace"}, {"name": "only"}]}),
    ("deleteFromPrimitiveList", SA, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
    (
        "setElementOrder primitives",
        SA,
        {"metadata": {"$setElementOrder/finalizers": ["b", "c", "a"], "finalizers": ["c"]}},
    ),
    (
        "setElementOrder map list",
        SA,
        {
            "$setElementOrder/secrets": [{"name": "s2"}, {"name": "s1"}],
            "secrets": [{"name": "s2", "namespace": "y"}],
        },
    ),
    (
        "conditions keyed by type",
        NS,
        {"status": {"conditions": [{"type": "B", "status": "True"}, {"type": "C", "status": "Unknown"}]}},
    ),
    ("atomic list of namespace finalizers", NS, {"spec": {"finalizers": ["other"]}}),
    (
        "imagePullSecrets are replaced",
        {**SA, "imagePullSecrets": [{"name": "a"}]},
        {"imagePullSecrets": [{"name": "b"}]},
    ),
    (
        "aggregation rule selectors are replaced",
        {
            **ROLE,
            "kind": "ClusterRole",
            "metadata": {"name": "cr"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]},
        },
        {"aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"c": "d"}}]}},
    ),
    (
        "secret data merges",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "YQ=="}},
        {"data": {"b": "Yg==", "a": None}},
    ),
    (
        "directives in a list the original lacks are dropped",
        CM,
        {
            "metadata": {
                "ownerReferences": [
                    {"$patch": "delete", "uid": "u"},
                    {"uid": "v", "name": "n", "kind": "K", "apiVersion": "v1"},
                ]
            }
        },
    ),
    (
        "atomic rules",
        ROLE,
        {"rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"]}]},
    ),
    ("atomic subjects", RB, {"subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "default"}]}),
    ("new list field is taken as is", CM, {"metadata": {"finalizers": ["x", "x", "y"]}}),
    ("new map drops nulls", CM, {"binaryData": {"k": "YQ==", "j": None}}),
]


def _kubectl_patch(obj: dict[str, Any], patch: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    source = tmp_path / "obj.json"
    source.write_text(json.dumps(obj))
    done = subprocess.run(
        [
            str(KUBECTL),
            "patch",
            "--local",
            "-f",
            str(source),
            "--type",
            "strategic",
            "-p",
            json.dumps(patch),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"KUBECONFIG": "/dev/null", "HOME": str(tmp_path)},
        timeout=30,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(("name", "obj", "patch"), CASES, ids=[c[0] for c in CASES])
def test_agrees_with_kubectl(name: str, obj: dict[str, Any], patch: dict[str, Any], tmp_path: Path) -> None:
    expected = _kubectl_patch(obj, patch, tmp_path)
    schema = builtin_merge_schema("", obj["kind"])
    assert strategic_merge_patch(obj, patch, schema) == expected


def test_inputs_are_not_mutated() -> None:
    obj = json.loads(json.dumps(SA))
    patch = {"metadata": {"labels": {"a": None}, "finalizers": ["z"]}, "secrets": [{"name": "s1", "x": 1}]}
    patch_copy = json.loads(json.dumps(patch))
    strategic_merge_patch(obj, patch, builtin_merge_schema("", "ServiceAccount"))
    assert obj == SA
    assert patch == patch_copy


def test_missing_merge_key_is_rejected_with_kube_message() -> None:
    with pytest.raises(StatusError) as err:
        strategic_merge_patch(
            SA, {"secrets": [{"namespace": "x"}]}, builtin_merge_schema("", "ServiceAccount")
        )
    assert err.value.code == 422
    assert "does not contain declared merge key: name" in err.value.causes[0].message


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"metadata": {"labels": {"$patch": "bogus"}}}, "unknown patch type: bogus"),
        ({"data": {"$retainKeys": "a"}}, "invalid patch format of retainKeys"),
        ({"data": {"$retainKeys": ["a"], "b": "x"}}, "invalid patch format of retainKeys"),
        (
            {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}},
            "invalid patch format of primitive list",
        ),
        ({"metadata": {"$setElementOrder/finalizers": "a"}}, "invalid patch format of setElementOrder list"),
        (
            {"metadata": {"$setElementOrder/finalizers": ["a"], "finalizers": ["q"]}},
            "invalid patch format of setElementOrder list",
        ),
    ],
)
def test_bad_directives_are_bad_requests(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(StatusError) as err:
        strategic_merge_patch(CM, patch, builtin_merge_schema("", "ConfigMap"))
    assert err.value.code == 400
    assert message in err.value.message


def test_non_object_patch_is_rejected() -> None:
    with pytest.raises(StatusError) as err:
        strategic_merge_patch(CM, [1, 2], builtin_merge_schema("", "ConfigMap"))
    assert err.value.code == 400
