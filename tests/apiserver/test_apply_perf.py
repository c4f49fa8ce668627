"""Cost guards: managed-fields bookkeeping runs on every write, apply on every SSA request.

Measured on the shared 2-core CI class machine (best of 5): ``update_managed_fields`` ≈25-60 µs for a
~40-leaf object with one changed field, apply of a ~50-leaf config ≈0.15-0.45 ms. The bounds below are
several times that, so they catch an accidental quadratic walk or a deep copy per write, not noise.
"""

from __future__ import annotations

import copy
import timeit
from collections.abc import Callable
from typing import Any

from teapot.apiserver.merge import schema_from_openapi, server_side_apply, update_managed_fields
from tests.apiserver.test_merge_support import API_VERSION, CRD_SCHEMA, T0, widget

SCHEMA = schema_from_openapi(CRD_SCHEMA)


def best_seconds(fn: Callable[[], Any], number: int = 200) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def typical_object() -> dict[str, Any]:
    spec = {
        "replicas": 3,
        "image": "img:1",
        "tags": ["a", "b", "c"],
        "args": ["--a", "--b"],
        "ports": [{"name": f"p{i}", "protocol": "TCP", "port": 80 + i} for i in range(3)],
        "env": {f"E{i}": str(i) for i in range(6)},
        "selector": {"app": "w"},
        "config": {"x": {"y": 1}, "w": "s"},
        "template": {"size": "L", "zone": "z1"},
    }
    obj = widget(spec, labels={"app": "w", "tier": "t"}, annotations={"a": "b"})
    obj["status"] = {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True"}]}
    return obj


def test_update_managed_fields_is_cheap_when_little_changed() -> None:
    live = update_managed_fields(
        None, typical_object(), manager="creator", api_version=API_VERSION, schema=SCHEMA, now=T0
    )
    live["metadata"].update(uid="u", resourceVersion="10", generation=1)
    new = copy.deepcopy(live)
    new["status"]["phase"] = "Degraded"
    new["metadata"]["resourceVersion"] = "11"
    cost = best_seconds(
        lambda: update_managed_fields(
            live, new, manager="ctl", api_version=API_VERSION, subresource="status", schema=SCHEMA, now=T0
        )
    )
    assert cost < 0.5e-3


def test_apply_of_a_fifty_field_object_is_well_under_a_millisecond() -> None:
    spec = {
        "replicas": 3,
        "image": "i",
        "tags": [f"t{i}" for i in range(10)],
        "args": ["a", "b", "c"],
        "ports": [{"name": f"p{i}", "protocol": "TCP", "port": i} for i in range(6)],
        "env": {f"E{i}": "v" for i in range(12)},
        "template": {"size": "L", "zone": "z"},
    }
    config = widget(spec, labels={"a": "1", "b": "2"})
    live = server_side_apply(
        None, config, manager="m", api_version=API_VERSION, force=False, schema=SCHEMA, now=T0
    )
    changed = copy.deepcopy(config)
    changed["spec"]["replicas"] = 4
    changed["spec"]["tags"] = changed["spec"]["tags"][:-1]
    cost = best_seconds(
        lambda: server_side_apply(
            live, changed, manager="m", api_version=API_VERSION, force=False, schema=SCHEMA, now=T0
        ),
        number=50,
    )
    assert cost < 3e-3
