"""Property tests: invariants of apply and managed-fields bookkeeping over generated objects.

- A forced apply leaves every applied value in the object; applying the same config again is a no-op.
- Every path any manager owns exists in the object (ownership never dangles), across any mix of
  applies and updates by several managers.
- Without force, an apply either succeeds or reports conflicts with other manager entries (an
  Update entry of the same name counts as another manager, as in Kubernetes).
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from teapot.apiserver.merge import (
    ApplyConflict,
    fieldset,
    schema_from_openapi,
    server_side_apply,
    update_managed_fields,
)
from teapot.apiserver.merge.typed import item_pe
from tests.apiserver.test_merge_support import API_VERSION, CRD_SCHEMA, T0, widget

SCHEMA = schema_from_openapi(CRD_SCHEMA)
NAMES = st.sampled_from(["a", "b", "c", "d"])

ports = st.lists(
    st.fixed_dictionaries(
        {"name": NAMES, "protocol": st.sampled_from(["TCP", "UDP"])}, optional={"port": st.integers(1, 3)}
    ),
    max_size=4,
    unique_by=lambda p: (p["name"], p["protocol"]),
)
specs = st.fixed_dictionaries(
    {},
    optional={
        "replicas": st.integers(0, 3),
        "image": st.sampled_from(["x", "y"]),
        "tags": st.lists(NAMES, max_size=4, unique=True),
        "args": st.lists(NAMES, max_size=3),
        "env": st.dictionaries(NAMES, st.sampled_from(["1", "2"]), max_size=3),
        "selector": st.dictionaries(NAMES, st.sampled_from(["1", "2"]), max_size=2),
        "ports": ports,
        "template": st.fixed_dictionaries({}, optional={"size": NAMES, "zone": NAMES}),
    },
)
labels = st.dictionaries(NAMES, st.sampled_from(["1", "2"]), max_size=2)
MANAGERS = st.sampled_from(["m1", "m2", "m3"])
steps = st.lists(
    st.tuples(st.sampled_from(["apply", "force", "update"]), MANAGERS, specs, labels), min_size=1, max_size=6
)


def config(spec: dict[str, Any], lbls: dict[str, str]) -> dict[str, Any]:
    return widget(spec, labels=lbls) if lbls else widget(spec)


def resolve(obj: Any, path: tuple[str, ...]) -> bool:
    """Whether a fieldsV1 path exists in ``obj``."""
    node = obj
    for i, pe in enumerate(path):
        if pe.startswith("f:"):
            if not isinstance(node, dict) or pe[2:] not in node:
                return False
            node = node[pe[2:]]
        else:
            if not isinstance(node, list):
                return False
            parent = tuple(p[2:] for p in path[:i] if p.startswith("f:"))
            lt = SCHEMA.list_type(("metadata", *parent[1:]) if parent[:1] == ("metadata",) else parent)
            match = [item for item in node if item_pe(lt, item) == pe]
            if not match:
                return False
            node = match[0]
    return True


def apply(live: dict[str, Any] | None, cfg: dict[str, Any], manager: str, force: bool) -> dict[str, Any]:
    return server_side_apply(
        live, cfg, manager=manager, api_version=API_VERSION, force=force, schema=SCHEMA, now=T0
    )


@settings(max_examples=40, deadline=None)
@given(start=specs, spec=specs, lbls=labels)
def test_forced_apply_sets_every_applied_value_and_is_idempotent(
    start: dict[str, Any], spec: dict[str, Any], lbls: dict[str, str]
) -> None:
    live = update_managed_fields(
        None, widget(start), manager="creator", api_version=API_VERSION, schema=SCHEMA, now=T0
    )
    result = apply(live, config(spec, lbls), "mgr", True)
    got = result.get("spec", {})
    for key in ("replicas", "image", "args", "selector"):
        if key in spec:
            assert got[key] == spec[key]
    for tag in spec.get("tags", []):
        assert tag in got["tags"]
    for name, value in spec.get("env", {}).items():
        assert got["env"][name] == value
    for port in spec.get("ports", []):
        assert any(
            p["name"] == port["name"]
            and p["protocol"] == port["protocol"]
            and all(p.get(k) == v for k, v in port.items())
            for p in got["ports"]
        )
    for name, value in lbls.items():
        assert result["metadata"]["labels"][name] == value
    assert apply(result, config(spec, lbls), "mgr", False) == result


@settings(max_examples=40, deadline=None)
@given(history=steps)
def test_owned_paths_always_exist_and_conflicts_name_other_managers(
    history: list[tuple[str, str, dict[str, Any], dict[str, str]]],
) -> None:
    obj: dict[str, Any] | None = None
    for action, manager, spec, lbls in history:
        if action == "update":
            new = copy.deepcopy(obj) if obj is not None else widget()
            new["spec"] = spec
            if lbls:
                new["metadata"]["labels"] = lbls
            obj = update_managed_fields(
                obj, new, manager=manager, api_version=API_VERSION, schema=SCHEMA, now=T0
            )
        else:
            try:
                obj = apply(obj, config(spec, lbls), manager, action == "force")
            except ApplyConflict as exc:
                assert action == "apply"
                assert obj is not None
                others = {
                    e["manager"]
                    for e in obj["metadata"]["managedFields"]
                    if (e["manager"], e["operation"]) != (manager, "Apply")
                }
                assert exc.conflicts and all(m in others for m, _ in exc.conflicts)
                continue
        for entry in obj["metadata"].get("managedFields", []):
            assert entry["fieldsV1"], "empty entries are dropped"
            for path in fieldset.iter_paths(entry["fieldsV1"]):
                assert resolve(obj, path), (entry["manager"], fieldset.path_to_string(path))
