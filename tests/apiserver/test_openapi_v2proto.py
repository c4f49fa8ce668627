"""Wire format of the v2 protobuf document (kubectl's decoding is checked in test_openapi_kubectl)."""

from __future__ import annotations

import struct
from typing import Any

from teapot.apiserver.openapi.v2proto import encode_document


def fields(data: bytes) -> list[tuple[int, Any]]:
    """A minimal protobuf wire reader: (field number, int | float bytes | payload bytes)."""
    out: list[tuple[int, Any]] = []
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while pos < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, varint()))
        elif wire == 1:
            out.append((number, struct.unpack("<d", data[pos : pos + 8])[0]))
            pos += 8
        elif wire == 2:
            length = varint()
            out.append((number, data[pos : pos + length]))
            pos += length
        else:
            raise AssertionError(f"unexpected wire type {wire}")
    return out


def field(data: bytes, number: int) -> Any:
    found = [v for n, v in fields(data) if n == number]
    assert len(found) == 1, (number, found)
    return found[0]


def test_minimal_document() -> None:
    assert encode_document({"swagger": "2.0"}) == b"\x0a\x032.0\x12\x00\x42\x00\x4a\x00\x6a\x00"


def test_schema_fields_and_vendor_extensions() -> None:
    schema = {
        "description": "d",
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"type": "integer", "minimum": -2, "maxLength": 3, "enum": [1, 2]},
            "m": {"type": "object", "additionalProperties": False},
        },
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "K", "version": "v1"}],
    }
    doc = encode_document({"swagger": "2.0", "definitions": {"K": schema}})
    named = field(field(doc, 9), 1)  # Definitions.additional_properties -> NamedSchema
    assert field(named, 1) == b"K"
    encoded = field(named, 2)
    assert field(encoded, 4) == b"d"
    assert field(field(encoded, 22), 1) == b"object"  # TypeItem.value
    assert field(encoded, 19) == b"a"
    extension = field(encoded, 31)  # NamedAny
    assert field(extension, 1) == b"x-kubernetes-group-version-kind"
    assert field(field(extension, 2), 2) == b'[{"group":"","kind":"K","version":"v1"}]'  # Any.yaml
    props = [field(p, 2) for n, p in fields(field(encoded, 25)) if n == 1]
    a, m = props
    assert field(a, 9) == -2.0  # minimum, double
    assert field(a, 11) == 3  # maxLength, int64
    assert [field(v, 2) for n, v in fields(a) if n == 20] == [b"1", b"2"]  # enum values as YAML
    assert field(field(m, 21), 2) == 0  # additionalProperties: false is still written (oneof)


def test_operations_and_parameters() -> None:
    op = {
        "operationId": "patchX",
        "consumes": ["application/merge-patch+json"],
        "parameters": [
            {"in": "body", "name": "body", "required": True, "schema": {"$ref": "#/definitions/P"}},
            {"in": "query", "name": "fieldValidation", "type": "string", "uniqueItems": True},
        ],
        "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/X"}}},
        "x-kubernetes-action": "patch",
    }
    doc = encode_document({"swagger": "2.0", "paths": {"/x/{name}": {"patch": op}}})
    named_path = field(field(doc, 8), 2)
    assert field(named_path, 1) == b"/x/{name}"
    operation = field(field(named_path, 2), 8)  # PathItem.patch
    assert field(operation, 5) == b"patchX"
    body, query = [field(p, 1) for n, p in fields(operation) if n == 8]  # ParametersItem.parameter
    body_param = field(body, 1)
    assert field(body_param, 3) == b"body"
    assert field(field(body_param, 5), 1) == b"#/definitions/P"
    query_param = field(field(query, 2), 3)  # NonBodyParameter.query_parameter_sub_schema
    assert (field(query_param, 2), field(query_param, 4), field(query_param, 6)) == (
        b"query",
        b"fieldValidation",
        b"string",
    )
    response = field(
        field(field(field(operation, 9), 1), 2), 1
    )  # Responses -> NamedResponseValue -> Response
    assert field(field(field(response, 2), 1), 1) == b"#/definitions/X"
    assert field(field(field(operation, 13), 2), 2) == b'"patch"'
