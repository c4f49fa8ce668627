"""Value validation per OpenAPI keyword, with kube-apiserver's exact messages and field paths."""

from __future__ import annotations

from typing import Any

import pytest

from teapot.apiserver.schema import compile_schema


def spec_schema(field_schema: dict[str, Any], **spec_extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"f": field_schema}, **spec_extra}},
    }


def messages(field_schema: dict[str, Any], value: Any) -> list[str]:
    compiled = compile_schema(spec_schema(field_schema))
    return [e.message for e in compiled.validate({"spec": {"f": value}})]


CASES: list[tuple[str, dict[str, Any], Any, list[str]]] = [
    # type
    ("int ok", {"type": "integer"}, 3, []),
    (
        "int given string",
        {"type": "integer"},
        "3",
        ['spec.f: Invalid value: "string": spec.f in body must be of type integer: "string"'],
    ),
    ("int given whole float", {"type": "integer"}, 3.0, []),
    (
        "int given fraction",
        {"type": "integer"},
        3.5,
        ['spec.f: Invalid value: "number": spec.f in body must be of type integer: "number"'],
    ),
    ("number given int", {"type": "number"}, 3, []),
    (
        "string given bool",
        {"type": "string"},
        True,
        ['spec.f: Invalid value: "boolean": spec.f in body must be of type string: "boolean"'],
    ),
    (
        "bool given int",
        {"type": "boolean"},
        1,
        ['spec.f: Invalid value: "integer": spec.f in body must be of type boolean: "integer"'],
    ),
    (
        "object given list",
        {"type": "object"},
        [],
        ['spec.f: Invalid value: "array": spec.f in body must be of type object: "array"'],
    ),
    (
        "array given object",
        {"type": "array", "items": {"type": "string"}},
        {},
        ['spec.f: Invalid value: "object": spec.f in body must be of type array: "object"'],
    ),
    # nullable
    (
        "null not nullable",
        {"type": "string"},
        None,
        ['spec.f: Invalid value: "null": spec.f in body must be of type string: "null"'],
    ),
    ("null nullable", {"type": "string", "nullable": True}, None, []),
    # int-or-string
    ("int-or-string int", {"x-kubernetes-int-or-string": True}, 80, []),
    ("int-or-string str", {"x-kubernetes-int-or-string": True}, "http", []),
    (
        "int-or-string float",
        {"x-kubernetes-int-or-string": True},
        1.5,
        ['spec.f: Invalid value: "number": spec.f in body must be of type integer,string: "number"'],
    ),
    (
        "int-or-string bool",
        {"x-kubernetes-int-or-string": True},
        False,
        ['spec.f: Invalid value: "boolean": spec.f in body must be of type integer,string: "boolean"'],
    ),
    # enum
    ("enum ok", {"type": "string", "enum": ["a", "b"]}, "a", []),
    (
        "enum bad",
        {"type": "string", "enum": ["a", "b"]},
        "c",
        ['spec.f: Unsupported value: "c": supported values: "a", "b"'],
    ),
    (
        "enum ints",
        {"type": "integer", "enum": [1, 2]},
        3,
        ['spec.f: Unsupported value: 3: supported values: "1", "2"'],
    ),
    ("enum int matches float", {"type": "number", "enum": [1, 2]}, 2.0, []),
    (
        "enum bool not int",
        {"type": "boolean", "enum": [True]},
        False,
        ['spec.f: Unsupported value: false: supported values: "true"'],
    ),
    # maximum / minimum
    ("max ok", {"type": "integer", "maximum": 10}, 10, []),
    (
        "max bad",
        {"type": "integer", "maximum": 10},
        11,
        ["spec.f: Invalid value: 11: spec.f in body should be less than or equal to 10"],
    ),
    (
        "exclusive max",
        {"type": "integer", "maximum": 10, "exclusiveMaximum": True},
        10,
        ["spec.f: Invalid value: 10: spec.f in body should be less than 10"],
    ),
    (
        "min bad",
        {"type": "integer", "minimum": 1},
        0,
        ["spec.f: Invalid value: 0: spec.f in body should be greater than or equal to 1"],
    ),
    (
        "exclusive min",
        {"type": "integer", "minimum": 1, "exclusiveMinimum": True},
        1,
        ["spec.f: Invalid value: 1: spec.f in body should be greater than 1"],
    ),
    (
        "float max",
        {"type": "number", "maximum": 1.5},
        2.25,
        ["spec.f: Invalid value: 2.25: spec.f in body should be less than or equal to 1.5"],
    ),
    (
        "min and max both",
        {"type": "integer", "minimum": 5, "maximum": 1},
        3,
        [
            "spec.f: Invalid value: 3: spec.f in body should be greater than or equal to 5",
            "spec.f: Invalid value: 3: spec.f in body should be less than or equal to 1",
        ],
    ),
    # multipleOf
    ("multipleOf ok", {"type": "integer", "multipleOf": 5}, 15, []),
    (
        "multipleOf bad",
        {"type": "integer", "multipleOf": 5},
        7,
        ["spec.f: Invalid value: 7: spec.f in body should be a multiple of 5"],
    ),
    (
        "multipleOf float",
        {"type": "number", "multipleOf": 0.5},
        1.25,
        ["spec.f: Invalid value: 1.25: spec.f in body should be a multiple of 0.5"],
    ),
    ("multipleOf float ok", {"type": "number", "multipleOf": 0.1}, 0.3, []),
    # strings
    ("maxLength ok", {"type": "string", "maxLength": 3}, "abc", []),
    (
        "maxLength bad",
        {"type": "string", "maxLength": 3},
        "abcd",
        ["spec.f: Too long: may not be more than 3 bytes"],
    ),
    (
        "maxLength 1",
        {"type": "string", "maxLength": 1},
        "ab",
        ["spec.f: Too long: may not be more than 1 byte"],
    ),
    ("maxLength counts runes", {"type": "string", "maxLength": 2}, "éé", []),
    (
        "minLength bad",
        {"type": "string", "minLength": 2},
        "a",
        ['spec.f: Invalid value: "a": spec.f in body should be at least 2 chars long'],
    ),
    ("pattern ok", {"type": "string", "pattern": "^[a-z]+$"}, "abc", []),
    (
        "pattern bad",
        {"type": "string", "pattern": "^[a-z]+$"},
        "aBc",
        ["spec.f: Invalid value: \"aBc\": spec.f in body should match '^[a-z]+$'"],
    ),
    ("pattern unanchored", {"type": "string", "pattern": "[0-9]"}, "ab1", []),
    (
        "only first string error",
        {"type": "string", "maxLength": 2, "pattern": "^x"},
        "abc",
        ["spec.f: Too long: may not be more than 2 bytes"],
    ),
    # arrays
    (
        "minItems",
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
        [],
        ["spec.f: Invalid value: 0: spec.f in body should have at least 1 items"],
    ),
    (
        "maxItems",
        {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        ["a", "b", "c"],
        ["spec.f: Too many: 3: must have at most 2 items"],
    ),
    (
        "maxItems 1",
        {"type": "array", "items": {"type": "string"}, "maxItems": 1},
        ["a", "b"],
        ["spec.f: Too many: 2: must have at most 1 item"],
    ),
    (
        "uniqueItems",
        {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
        [1, 2, 1],
        ['spec.f: Invalid value: "": spec.f in body shouldn\'t contain duplicates'],
    ),
    (
        "uniqueItems int vs float distinct types",
        {"type": "array", "items": {"type": "number"}, "uniqueItems": True},
        [1, 1.5],
        [],
    ),
    (
        "items error path",
        {"type": "array", "items": {"type": "integer", "maximum": 3}},
        [1, 5],
        ["spec.f[1]: Invalid value: 5: spec.f[1] in body should be less than or equal to 3"],
    ),
    # objects
    (
        "required",
        {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
        {},
        ["spec.f.a: Required value"],
    ),
    (
        "nested path",
        {"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "integer"}}}}},
        {"a": {"b": "x"}},
        ['spec.f.a.b: Invalid value: "string": spec.f.a.b in body must be of type integer: "string"'],
    ),
    (
        "minProperties",
        {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1},
        {},
        ["spec.f: Invalid value: 0: spec.f in body should have at least 1 properties"],
    ),
    (
        "maxProperties",
        {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 1},
        {"a": "1", "b": "2"},
        ["spec.f: Too many: 2: must have at most 1 item"],
    ),
    (
        "additionalProperties schema",
        {"type": "object", "additionalProperties": {"type": "integer"}},
        {"k": "v"},
        ['spec.f.k: Invalid value: "string": spec.f.k in body must be of type integer: "string"'],
    ),
    # formats
    ("date-time ok", {"type": "string", "format": "date-time"}, "2024-05-01T10:00:00Z", []),
    (
        "date-time fractional offset",
        {"type": "string", "format": "date-time"},
        "2024-05-01T10:00:00.123+02:00",
        [],
    ),
    (
        "date-time bad",
        {"type": "string", "format": "date-time"},
        "yesterday",
        ['spec.f: Invalid value: "yesterday": spec.f in body must be of type date-time: "yesterday"'],
    ),
    (
        "date bad month",
        {"type": "string", "format": "date"},
        "2024-13-01",
        ['spec.f: Invalid value: "2024-13-01": spec.f in body must be of type date: "2024-13-01"'],
    ),
    ("uuid ok", {"type": "string", "format": "uuid"}, "123e4567-e89b-12d3-a456-426614174000", []),
    (
        "uuid bad",
        {"type": "string", "format": "uuid"},
        "nope",
        ['spec.f: Invalid value: "nope": spec.f in body must be of type uuid: "nope"'],
    ),
    (
        "ipv4 bad",
        {"type": "string", "format": "ipv4"},
        "300.1.1.1",
        ['spec.f: Invalid value: "300.1.1.1": spec.f in body must be of type ipv4: "300.1.1.1"'],
    ),
    ("cidr ok", {"type": "string", "format": "cidr"}, "10.0.0.0/8", []),
    ("mac ok", {"type": "string", "format": "mac"}, "52:54:00:aa:bb:cc", []),
    ("duration ok", {"type": "string", "format": "duration"}, "1h30m", []),
    (
        "byte bad",
        {"type": "string", "format": "byte"},
        "not base64!",
        ['spec.f: Invalid value: "not base64!": spec.f in body must be of type byte: "not base64!"'],
    ),
    ("int32 format is ignored by kube", {"type": "integer", "format": "int32"}, 2**40, []),
    ("unknown format ignored", {"type": "string", "format": "k8s-name"}, "Anything", []),
    # combinators
    ("anyOf ok", {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]}, 11, []),
    (
        "anyOf bad",
        {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]},
        5,
        [
            'spec.f: Invalid value: "": spec.f must validate at least one schema (anyOf)',
            "spec.f: Invalid value: 5: spec.f in body should be greater than or equal to 10",
        ],
    ),
    (
        "oneOf two match",
        {"type": "integer", "oneOf": [{"minimum": 1}, {"minimum": 2}]},
        5,
        [
            'spec.f: Invalid value: "": spec.f must validate one and only one schema (oneOf). Found 2 valid alternatives'
        ],
    ),
    (
        "not",
        {"type": "string", "not": {"enum": ["forbidden"]}},
        "forbidden",
        ['spec.f: Invalid value: "": spec.f must not validate the schema (not)'],
    ),
    (
        "allOf",
        {"type": "string", "allOf": [{"maxLength": 5}, {"pattern": "^a"}]},
        "bbbbbbb",
        [
            "spec.f: Too long: may not be more than 5 bytes",
            "spec.f: Invalid value: \"bbbbbbb\": spec.f in body should match '^a'",
            'spec.f: Invalid value: "": spec.f must validate all the schemas (allOf). None validated',
        ],
    ),
]


@pytest.mark.parametrize(("schema", "value", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_keyword(schema: dict[str, Any], value: Any, expected: list[str]) -> None:
    assert messages(schema, value) == expected


def test_error_fields_map_to_status_causes() -> None:
    compiled = compile_schema(spec_schema({"type": "integer", "maximum": 10}))
    (err,) = compiled.validate({"spec": {"f": 11}})
    assert err.type == "FieldValueInvalid"
    assert err.field == "spec.f"
    assert err.bad_value == 11
    assert err.detail == "spec.f in body should be less than or equal to 10"
    assert err.as_cause() == {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: 11: spec.f in body should be less than or equal to 10",
        "field": "spec.f",
    }


def test_required_at_root_and_type_reported_with_kube_types() -> None:
    schema = {"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}}
    errs = compile_schema(schema).validate({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x"}})
    assert [(e.type, e.field, e.message) for e in errs] == [
        ("FieldValueRequired", "spec", "spec: Required value")
    ]


def test_list_type_set_reports_each_duplicate_once() -> None:
    schema = spec_schema({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"})
    errs = compile_schema(schema).validate({"spec": {"f": ["a", "b", "a", "a", "b"]}})
    assert [e.message for e in errs] == [
        'spec.f[2]: Duplicate value: "a"',
        'spec.f[4]: Duplicate value: "b"',
    ]


def test_list_type_map_reports_duplicate_keys_as_json() -> None:
    schema = spec_schema(
        {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name", "proto"],
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "proto": {"type": "string", "default": "TCP"},
                    "port": {"type": "integer"},
                },
            },
        }
    )
    compiled = compile_schema(schema)
    obj = {
        "spec": {
            "f": [{"name": "a", "port": 1}, {"name": "a", "proto": "UDP"}, {"name": "a", "proto": "TCP"}]
        }
    }
    assert [e.message for e in compiled.validate(obj)] == [
        'spec.f[2]: Duplicate value: {"name":"a","proto":"TCP"}'
    ]


def test_list_type_atomic_allows_duplicates() -> None:
    schema = spec_schema({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"})
    assert compile_schema(schema).validate({"spec": {"f": ["a", "a"]}}) == []


def test_embedded_resource_needs_kind_and_api_version() -> None:
    schema = spec_schema(
        {
            "type": "object",
            "x-kubernetes-embedded-resource": True,
            "x-kubernetes-preserve-unknown-fields": True,
        }
    )
    compiled = compile_schema(schema)
    assert [e.message for e in compiled.validate({"spec": {"f": {"metadata": {"name": "Bad_Name"}}}})] == [
        "spec.f.apiVersion: Required value: must not be empty",
        "spec.f.kind: Required value: must not be empty",
        'spec.f.metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower '
        "case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
        "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
        "[a-z0-9])?)*')",
    ]
    assert (
        compiled.validate({"spec": {"f": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}}})
        == []
    )


def test_ratcheting_keeps_unchanged_invalid_values_valid_on_update() -> None:
    schema = spec_schema(
        {"type": "string", "maxLength": 3},
        properties={
            "f": {"type": "string", "maxLength": 3},
            "g": {"type": "integer", "maximum": 5},
        },
    )
    compiled = compile_schema(schema)
    old = {"spec": {"f": "toolong", "g": 1}}
    assert compiled.validate({"spec": {"f": "toolong", "g": 2}}, old) == []
    assert [e.field for e in compiled.validate({"spec": {"f": "toolong", "g": 9}}, old)] == ["spec.g"]
    assert [e.field for e in compiled.validate({"spec": {"f": "stilltoolong", "g": 2}}, old)] == ["spec.f"]
    assert [e.field for e in compiled.validate({"spec": {"f": "toolong", "g": 2}})] == ["spec.f"]


def test_ratcheting_does_not_correlate_atomic_list_items() -> None:
    schema = spec_schema({"type": "array", "items": {"type": "integer", "maximum": 5}})
    compiled = compile_schema(schema)
    old = {"spec": {"f": [9]}}
    assert compiled.validate({"spec": {"f": [9]}}, old) == []  # the list itself is unchanged
    assert [e.field for e in compiled.validate({"spec": {"f": [9, 1]}}, old)] == ["spec.f[0]"]


def test_ratcheting_correlates_map_list_items_by_key() -> None:
    schema = spec_schema(
        {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "port": {"type": "integer", "maximum": 5}},
            },
        }
    )
    compiled = compile_schema(schema)
    old = {"spec": {"f": [{"name": "a", "port": 9}]}}
    new = {"spec": {"f": [{"name": "b", "port": 1}, {"name": "a", "port": 9}]}}
    assert compiled.validate(new, old) == []
    new_bad = {"spec": {"f": [{"name": "b", "port": 7}, {"name": "a", "port": 9}]}}
    assert [e.field for e in compiled.validate(new_bad, old)] == ["spec.f[0].port"]


def test_pattern_is_go_regexp_and_unicode_aware() -> None:
    assert messages({"type": "string", "pattern": "^.{2}$"}, "éé") == []
    assert messages({"type": "string", "pattern": "^\\d+$"}, "١٢") == [
        "spec.f: Invalid value: \"١٢\": spec.f in body should match '^\\d+$'"
    ]
