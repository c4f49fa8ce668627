"""kube's JSONPath subset: the paths CRDs use in printer columns, selectable fields and scale."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teapot.apiserver.jsonpath import JSONPathError, find, format_value, parse

HOST: dict[str, Any] = {
    "apiVersion": "metal3.io/v1alpha1",
    "kind": "BareMetalHost",
    "metadata": {
        "name": "h1",
        "labels": {"app.kubernetes.io/name": "metal", "rack": "r1"},
    },
    "spec": {
        "online": True,
        "replicas": 3,
        "ratio": 0.5,
        "nics": [
            {"name": "eth0", "speedGbps": 10, "pxe": True},
            {"name": "eth1", "speedGbps": 25, "pxe": False},
            {"name": "eth2", "speedGbps": 100},
        ],
    },
    "status": {
        "conditions": [
            {"type": "Synced", "status": "False", "reason": "Waiting"},
            {"type": "Ready", "status": "True", "observedGeneration": 2},
        ],
        "provisioning": {"state": "available", "ID": None},
    },
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (".spec.replicas", [3]),
        ("{.spec.replicas}", [3]),
        ("$.spec.replicas", [3]),
        (".spec.online", [True]),
        (".status.provisioning.state", ["available"]),
        (".status.provisioning.ID", [None]),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type=='Synced')].reason", ["Waiting"]),
        ('.status.conditions[?(@.type != "Ready")].type', ["Synced"]),
        ('.status.conditions[?(@.type == "Nope")].status', []),
        (".status.conditions[?(@.observedGeneration)].type", ["Ready"]),
        (".status.conditions[?(@.observedGeneration >= 2)].type", ["Ready"]),
        (".spec.nics[?(@.speedGbps > 10)].name", ["eth1", "eth2"]),
        (".spec.nics[?(@.speedGbps < 25.5)].name", ["eth0", "eth1"]),
        (".spec.nics[?(@.pxe == true)].name", ["eth0"]),
        (".spec.nics[0].name", ["eth0"]),
        (".spec.nics[-1].name", ["eth2"]),
        (".spec.nics[5].name", []),
        (".spec.nics[0:2].name", ["eth0", "eth1"]),
        (".spec.nics[1:].name", ["eth1", "eth2"]),
        (".spec.nics[0,2].name", ["eth0", "eth2"]),
        (".spec.nics[*].speedGbps", [10, 25, 100]),
        (".spec.nics.name", []),  # no implicit mapping over lists, as in kube
        (".metadata.labels['app.kubernetes.io/name']", ["metal"]),
        ('.metadata.labels["rack"]', ["r1"]),
        (".metadata.labels['rack','nope','app.kubernetes.io/name']", ["r1", "metal"]),
        (r".metadata.labels.app\.kubernetes\.io/name", ["metal"]),
        (".metadata.labels.*", ["metal", "r1"]),
        ("..speedGbps", [10, 25, 100]),
        ("..state", ["available"]),
        (".spec.missing.deeper", []),
        (".spec.replicas.deeper", []),
    ],
)
def test_find(expression: str, expected: list[Any]) -> None:
    assert find(HOST, expression) == expected


def test_root_path_returns_whole_object() -> None:
    assert find(HOST, ".") == [HOST]


@pytest.mark.parametrize(
    "expression",
    [
        "spec.replicas",  # kube requires a leading '.'
        "{.a}{.b}",
        "{range .items[*]}{.name}{end}",
        ".a[",
        ".a[x]",
        ".a[?(@.x==)]",
        ".a[?(@.x==1 && @.y==2)]",
        ".a[?(@.x==1]",
        ".a['unterminated]",
        ".a..",
        ".a.",
    ],
)
def test_invalid_expressions_are_rejected(expression: str) -> None:
    with pytest.raises(JSONPathError):
        parse(expression)


def test_parse_is_cached() -> None:
    assert parse(".spec.replicas") is parse(".spec.replicas")


def test_first_returns_default_when_missing() -> None:
    assert parse(".spec.replicas").first(HOST) == 3
    assert parse(".spec.nope").first(HOST, "dflt") == "dflt"


def test_set_creates_parents() -> None:
    obj: dict[str, Any] = {"spec": {"other": 1}, "status": "not-a-map"}
    parse(".spec.scale.replicas").set(obj, 5)
    parse(".status.replicas").set(obj, 2)
    assert obj == {"spec": {"other": 1, "scale": {"replicas": 5}}, "status": {"replicas": 2}}


def test_set_rejects_non_field_paths() -> None:
    with pytest.raises(JSONPathError):
        parse(".spec.items[0]").set({}, 1)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("x", "x"),
        (3, "3"),
        (2.0, "2"),
        (0.25, "0.25"),
        (True, "true"),
        (False, "false"),
        (None, "<nil>"),
        ({"a": [1, "b"]}, '{"a":[1,"b"]}'),
    ],
)
def test_format_value_like_kube(value: Any, text: str) -> None:
    assert format_value(value) == text


_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)


@given(path=st.lists(_keys, min_size=1, max_size=5), leaf=st.integers() | st.text(max_size=5))
def test_field_paths_find_what_was_put_there(path: list[str], leaf: Any) -> None:
    obj: dict[str, Any] = {}
    expression = "." + ".".join(path)
    parse(expression).set(obj, leaf)
    assert find(obj, expression) == [leaf]
    # the general evaluator (bracket form) agrees with the fast field path
    assert find(obj, "".join(f"['{k}']" for k in path)) == [leaf]
