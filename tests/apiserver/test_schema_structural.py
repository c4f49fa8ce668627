"""compile_schema: kube's structural-schema rules, with kube's paths and messages."""

from __future__ import annotations

from typing import Any

import pytest

from teapot.apiserver.schema import SchemaError, compile_schema
from teapot.apiserver.schema.errors import go_float, go_json, render_bad_value


def schema_errors(schema: dict[str, Any]) -> list[str]:
    with pytest.raises(SchemaError) as info:
        compile_schema(schema, field_path="spec.versions[0].schema.openAPIV3Schema")
    return [e.message for e in info.value.errors]


P = "spec.versions[0].schema.openAPIV3Schema"

STRUCTURAL_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "root type missing",
        {"properties": {"spec": {"type": "object"}}},
        [f"{P}.type: Required value: must not be empty at the root"],
    ),
    (
        "root not object",
        {"type": "string"},
        [f'{P}.type: Invalid value: "string": must be object at the root'],
    ),
    (
        "field type missing",
        {"type": "object", "properties": {"spec": {"properties": {}}}},
        [f"{P}.properties[spec].type: Required value: must not be empty for specified object fields"],
    ),
    (
        "items type missing",
        {"type": "object", "properties": {"l": {"type": "array", "items": {}}}},
        [f"{P}.properties[l].items.type: Required value: must not be empty for specified array items"],
    ),
    (
        "array without items",
        {"type": "object", "properties": {"l": {"type": "array"}}},
        [f"{P}.properties[l].items: Required value: must be specified"],
    ),
    (
        "additionalProperties at root",
        {"type": "object", "additionalProperties": {"type": "string"}},
        [f"{P}.additionalProperties: Forbidden: must not be used at the root"],
    ),
    (
        "type inside anyOf",
        {"type": "object", "properties": {"a": {"type": "string", "anyOf": [{"type": "string"}]}}},
        [f"{P}.properties[a].anyOf[0].type: Forbidden: must be empty to be structural"],
    ),
    (
        "default inside allOf",
        {"type": "object", "properties": {"a": {"type": "string", "allOf": [{"default": "x"}]}}},
        [f"{P}.properties[a].allOf[0].default: Forbidden: must be undefined to be structural"],
    ),
    (
        "field only in value validation",
        {
            "type": "object",
            "properties": {"a": {"type": "object", "anyOf": [{"properties": {"b": {"minLength": 1}}}]}},
        },
        [f"{P}.properties[a].properties[b]: Required value: because it is defined in anyOf[0].properties[b]"],
    ),
    (
        "embedded resource not object",
        {"type": "object", "properties": {"e": {"type": "string", "x-kubernetes-embedded-resource": True}}},
        [
            f"{P}.properties[e].properties: Required value: must not be empty if x-kubernetes-embedded-resource is "
            "true without x-kubernetes-preserve-unknown-fields",
            f'{P}.properties[e].type: Invalid value: "string": must be object if x-kubernetes-embedded-resource is true',
        ],
    ),
    (
        "embedded resource without properties",
        {"type": "object", "properties": {"e": {"type": "object", "x-kubernetes-embedded-resource": True}}},
        [
            f"{P}.properties[e].properties: Required value: must not be empty if x-kubernetes-embedded-resource is "
            "true without x-kubernetes-preserve-unknown-fields"
        ],
    ),
    (
        "int-or-string with preserve",
        {
            "type": "object",
            "properties": {
                "p": {"x-kubernetes-int-or-string": True, "x-kubernetes-preserve-unknown-fields": True}
            },
        },
        [
            f"{P}.properties[p].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if "
            "x-kubernetes-int-or-string is true"
        ],
    ),
    (
        "metadata beyond name",
        {
            "type": "object",
            "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}},
        },
        [
            f"{P}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but "
            "metadata is implicitly specified"
        ],
    ),
    (
        "kind must be string",
        {"type": "object", "properties": {"kind": {"type": "integer"}}},
        [f'{P}.properties[kind].type: Invalid value: "integer": must be string'],
    ),
]


@pytest.mark.parametrize(
    ("schema", "expected"), [c[1:] for c in STRUCTURAL_CASES], ids=[c[0] for c in STRUCTURAL_CASES]
)
def test_structural_rules(schema: dict[str, Any], expected: list[str]) -> None:
    assert schema_errors(schema) == expected


@pytest.mark.parametrize(
    "schema",
    [
        {
            "type": "object",
            "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        },
        {
            "type": "object",
            "properties": {
                "p": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
            },
        },
        {
            "type": "object",
            "properties": {
                "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}}
            },
        },
        {
            "type": "object",
            "properties": {
                "e": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                }
            },
        },
        {
            "type": "object",
            "properties": {"a": {"type": "string", "anyOf": [{"minLength": 1}, {"enum": ["x"]}]}},
        },
    ],
    ids=["preserve", "int-or-string anyOf", "metadata name", "embedded", "value-validation anyOf"],
)
def test_structural_schemas_compile(schema: dict[str, Any]) -> None:
    compiled = compile_schema(schema)
    assert compiled.root.type == "object"


def test_errors_are_sorted_like_kube() -> None:
    errs = schema_errors({"type": "object", "properties": {"b": {}, "a": {}}})
    assert errs == sorted(errs) and len(errs) == 2


def test_metadata_name_restrictions_apply() -> None:
    compiled = compile_schema(
        {
            "type": "object",
            "properties": {
                "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}}
            },
        }
    )
    assert [e.message for e in compiled.validate({"metadata": {"name": "too-long-name"}})] == [
        "metadata.name: Too long: may not be more than 5 bytes"
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (10.0, "10"),
        (1.5, "1.5"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-5, "1e-05"),
        (0.0001, "0.0001"),
        (-2.5, "-2.5"),
        (123456789.125, "123456789.125"),
    ],
)
def test_go_float_formatting(value: float, text: str) -> None:
    assert go_float(value) == text


def test_bad_value_rendering_follows_go() -> None:
    assert render_bad_value('a"b') == '"a\\"b"'
    assert render_bad_value(True) == "true"
    assert render_bad_value(3) == "3"
    assert render_bad_value({"b": 1.0, "a": [1, None]}) == '{"a":[1,null],"b":1}'
    assert go_json([1.5, "x"]) == '[1.5,"x"]'
