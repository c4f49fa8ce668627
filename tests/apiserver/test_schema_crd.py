"""validate_crd: what kube-apiserver rejects in a CustomResourceDefinition."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from teapot.apiserver.schema import validate_crd

BASE: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "listKind": "WidgetList",
            "shortNames": ["wd"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "color": {"type": "string", "default": "red"},
                                    "size": {"type": "integer"},
                                    "deep": {"type": "object", "properties": {"x": {"type": "string"}}},
                                },
                            },
                            "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                        },
                    }
                },
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.replicas"},
                },
                "additionalPrinterColumns": [{"name": "Color", "type": "string", "jsonPath": ".spec.color"}],
                "selectableFields": [{"jsonPath": ".spec.color"}],
            },
            {
                "name": "v1beta1",
                "served": True,
                "storage": False,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            },
        ],
    },
}


def crd_with(mutate: Any) -> dict[str, Any]:
    crd = copy.deepcopy(BASE)
    mutate(crd)
    return crd


def test_valid_crd_has_no_errors() -> None:
    assert validate_crd(BASE) == []


def _set(path: str, value: Any) -> Any:
    def mutate(crd: dict[str, Any]) -> None:
        target: Any = crd
        parts = path.split("/")
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target[part]
        last = parts[-1]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


CASES: list[tuple[str, Any, str]] = [
    (
        "name mismatch",
        _set("metadata/name", "gadgets.example.com"),
        'metadata.name: Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group',
    ),
    (
        "group without dot",
        _set("spec/group", "example"),
        'spec.group: Invalid value: "example": should be a domain with at least one dot',
    ),
    (
        "bad scope",
        _set("spec/scope", "Global"),
        'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"',
    ),
    (
        "plural uppercase",
        _set("spec/names/plural", "Widgets"),
        'spec.names.plural: Invalid value: "Widgets": a '
        "lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
        "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ),
    ("kind missing", _set("spec/names/kind", ""), "spec.names.kind: Required value"),
    (
        "two storage versions",
        _set("spec/versions/1/storage", True),
        ": must have exactly one version marked as storage version",
    ),
    (
        "no served version",
        lambda crd: [v.update(served=False) for v in crd["spec"]["versions"]],
        "must have at least one version marked as served",
    ),
    ("duplicate version names", _set("spec/versions/1/name", "v1"), "must contain unique version names"),
    (
        "bad version name",
        _set("spec/versions/1/name", "V1"),
        'spec.versions[1].name: Invalid value: "V1": a DNS-1035',
    ),
    (
        "missing schema",
        _set("spec/versions/1/schema", {}),
        "spec.versions[1].schema.openAPIV3Schema: Required value: schemas are required",
    ),
    (
        "non-structural schema",
        _set(
            "spec/versions/1/schema",
            {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"properties": {}}}}},
        ),
        "spec.versions[1].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for "
        "specified object fields",
    ),
    (
        "additionalProperties false",
        _set(
            "spec/versions/1/schema",
            {
                "openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {"type": "object", "additionalProperties": False}},
                }
            },
        ),
        "spec.versions[1].schema.openAPIV3Schema.properties[spec].additionalProperties: Forbidden: "
        "additionalProperties cannot be set to false",
    ),
    (
        "uniqueItems",
        _set(
            "spec/versions/1/schema",
            {
                "openAPIV3Schema": {
                    "type": "object",
                    "properties": {"l": {"type": "array", "uniqueItems": True, "items": {"type": "string"}}},
                }
            },
        ),
        "spec.versions[1].schema.openAPIV3Schema.properties[l].uniqueItems: Forbidden: uniqueItems cannot be set to "
        "true since the runtime complexity becomes quadratic",
    ),
    (
        "bad cel rule",
        _set(
            "spec/versions/1/schema",
            {"openAPIV3Schema": {"type": "object", "x-kubernetes-validations": [{"rule": "self.x =="}]}},
        ),
        "spec.versions[1].schema.openAPIV3Schema.x-kubernetes-validations[0].rule: Invalid value: "
        '{"rule":"self.x =="}: compilation failed: ',
    ),
    (
        "list map without keys",
        _set(
            "spec/versions/1/schema",
            {
                "openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "l": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object"}}
                    },
                }
            },
        ),
        "spec.versions[1].schema.openAPIV3Schema.properties[l].x-kubernetes-list-map-keys: Required value: must not "
        "be empty if x-kubernetes-list-type is map",
    ),
    (
        "invalid default",
        _set(
            "spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/size",
            {"type": "integer", "default": "three"},
        ),
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].default: Invalid value: "
        '"string": spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].default in body must be '
        'of type integer: "string"',
    ),
    (
        "default with unknown fields",
        _set(
            "spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/deep",
            {"type": "object", "default": {"y": 1}, "properties": {"x": {"type": "string"}}},
        ),
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[deep].default: Invalid value: "
        '{"y":1}: must not have unknown fields',
    ),
    (
        "printer column bad type",
        _set("spec/versions/0/additionalPrinterColumns/0/type", "text"),
        'spec.versions[0].additionalPrinterColumns[0].type: Unsupported value: "text": supported values: '
        '"boolean", "date", "integer", "number", "string"',
    ),
    (
        "printer column bad path",
        _set("spec/versions/0/additionalPrinterColumns/0/jsonPath", "spec.color"),
        'spec.versions[0].additionalPrinterColumns[0].jsonPath: Invalid value: "spec.color": must be a simple json '
        "path starting with .",
    ),
    (
        "selectable field unknown",
        _set("spec/versions/0/selectableFields/0/jsonPath", ".spec.nope"),
        'spec.versions[0].selectableFields[0].jsonPath: Invalid value: ".spec.nope": is an invalid path: does not '
        "refer to a valid field",
    ),
    (
        "selectable field object",
        _set("spec/versions/0/selectableFields/0/jsonPath", ".spec.deep"),
        'spec.versions[0].selectableFields[0].jsonPath: Invalid value: ".spec.deep": must point to a field of type '
        "one of [boolean integer string]",
    ),
    (
        "scale path outside spec",
        _set("spec/versions/0/subresources/scale/specReplicasPath", ".status.replicas"),
        'spec.versions[0].subresources.scale.specReplicasPath: Invalid value: ".status.replicas": should be a json '
        "path under .spec",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_crd_rejections(mutate: Any, expected: str) -> None:
    messages = [e.message for e in validate_crd(crd_with(mutate))]
    assert any(m.startswith(expected) or m.endswith(expected) for m in messages), messages


def test_versions_must_not_be_empty() -> None:
    errs = validate_crd(crd_with(_set("spec/versions", [])))
    assert [e.message for e in errs] == [
        "spec.versions: Required value: must have exactly one version marked as storage version"
    ]


def test_too_many_selectable_fields() -> None:
    fields = [{"jsonPath": ".spec.color"}] + [{"jsonPath": f".spec.f{i}"} for i in range(8)]
    errs = validate_crd(crd_with(_set("spec/versions/0/selectableFields", fields)))
    assert "spec.versions[0].selectableFields: Too many: 9: must have at most 8 items" in [
        e.message for e in errs
    ]
