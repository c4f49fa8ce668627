"""Encode the Swagger 2.0 document as gnostic's ``openapi.v2.Document`` protobuf.

Why it exists: kubectl still downloads ``/openapi/v2`` in a few paths — client-side validation of
manifests whose kind has no v3 entry (notably ``kind: List``, what ``kubectl get -o yaml`` emits),
the patch fallback for custom resources, ``kubectl explain --output plaintext-openapiv2`` — and it
asks only for ``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and decodes the
reply with ``proto.Unmarshal``: JSON is not an option. The message schema is gnostic's
``openapiv2/OpenAPIv2.proto`` (field numbers below are taken from it). The encoder is hand-written
rather than generated with the ``protobuf`` package because that would need protoc-generated
classes for ~60 message types, of which the documents use a dozen; plain proto3 wire encoding of
those is a hundred lines. Vendor extensions, defaults, enums and examples are ``Any`` messages
carrying YAML text, as gnostic writes them (JSON is valid YAML).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

__all__ = ["MEDIA_TYPE", "encode_document"]

MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"

_VARINT, _FIXED64, _BYTES = 0, 1, 2


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 two's complement, as protobuf encodes negative int64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


class _Message:
    """Accumulates the fields of one message; proto3 defaults (empty, 0, false) are left out."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def message(self, field: int, payload: bytes | None) -> _Message:
        if payload is not None:
            self.parts += (_key(field, _BYTES), _varint(len(payload)), payload)
        return self

    def string(self, field: int, value: Any) -> _Message:
        if isinstance(value, str) and value:
            data = value.encode()
            self.parts += (_key(field, _BYTES), _varint(len(data)), data)
        return self

    def strings(self, field: int, values: Any) -> _Message:
        for value in values or ():
            if isinstance(value, str):
                data = value.encode()
                self.parts += (_key(field, _BYTES), _varint(len(data)), data)
        return self

    def boolean(self, field: int, value: Any) -> _Message:
        if value is True:
            self.parts += (_key(field, _VARINT), b"\x01")
        return self

    def int64(self, field: int, value: Any) -> _Message:
        if isinstance(value, int) and not isinstance(value, bool) and value:
            self.parts += (_key(field, _VARINT), _varint(value))
        return self

    def double(self, field: int, value: Any) -> _Message:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
            self.parts += (_key(field, _FIXED64), struct.pack("<d", float(value)))
        return self

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def _any(value: Any) -> bytes:
    """gnostic ``Any``: field 2 is the value as YAML text."""
    return _Message().string(2, orjson.dumps(value).decode()).bytes()


def _named(name: str, value: bytes) -> bytes:
    return _Message().string(1, name).message(2, value).bytes()


def _extensions(msg: _Message, field: int, node: Mapping[str, Any]) -> None:
    for key, value in node.items():
        if key.startswith("x-"):
            msg.message(field, _named(key, _any(value)))


def _schema(node: Mapping[str, Any]) -> bytes:
    msg = _Message()
    msg.string(1, node.get("$ref")).string(2, node.get("format")).string(3, node.get("title"))
    msg.string(4, node.get("description"))
    if "default" in node:
        msg.message(5, _any(node["default"]))
    msg.double(6, node.get("multipleOf")).double(7, node.get("maximum")).boolean(
        8, node.get("exclusiveMaximum")
    )
    msg.double(9, node.get("minimum")).boolean(10, node.get("exclusiveMinimum"))
    msg.int64(11, node.get("maxLength")).int64(12, node.get("minLength")).string(13, node.get("pattern"))
    msg.int64(14, node.get("maxItems")).int64(15, node.get("minItems")).boolean(16, node.get("uniqueItems"))
    msg.int64(17, node.get("maxProperties")).int64(18, node.get("minProperties"))
    msg.strings(19, node.get("required"))
    for value in node.get("enum") or ():
        msg.message(20, _any(value))
    additional = node.get("additionalProperties")
    if isinstance(additional, Mapping):
        msg.message(21, _Message().message(1, _schema(additional)).bytes())
    elif isinstance(additional, bool):
        # a oneof member is written even when false
        msg.message(21, bytes((_key(2, _VARINT)[0], 1 if additional else 0)))
    type_ = node.get("type")
    if isinstance(type_, str) and type_:
        msg.message(22, _Message().strings(1, [type_]).bytes())
    items = node.get("items")
    if isinstance(items, Mapping):
        msg.message(23, _Message().message(1, _schema(items)).bytes())
    elif isinstance(items, list):
        msg.message(
            23, b"".join(_Message().message(1, _schema(i)).bytes() for i in items if isinstance(i, Mapping))
        )
    for sub in node.get("allOf") or ():
        if isinstance(sub, Mapping):
            msg.message(24, _schema(sub))
    properties = node.get("properties")
    if isinstance(properties, Mapping):
        props = _Message()
        for name, sub in properties.items():
            if isinstance(sub, Mapping):
                props.message(1, _named(name, _schema(sub)))
        msg.message(25, props.bytes())
    msg.string(26, node.get("discriminator")).boolean(27, node.get("readOnly"))
    if "example" in node:
        msg.message(30, _any(node["example"]))
    _extensions(msg, 31, node)
    return msg.bytes()


def _parameter(param: Mapping[str, Any]) -> bytes:
    location = param.get("in")
    if location == "body":
        body = _Message().string(1, param.get("description")).string(2, param.get("name")).string(3, "body")
        body.boolean(4, param.get("required")).message(5, _schema(param.get("schema") or {}))
        parameter = _Message().message(1, body.bytes()).bytes()
    else:
        sub = _Message().boolean(1, param.get("required")).string(2, location)
        sub.string(3, param.get("description")).string(4, param.get("name"))
        if location == "path":  # PathParameterSubSchema
            sub.string(5, param.get("type")).boolean(19, param.get("uniqueItems"))
            which = 4
        else:  # QueryParameterSubSchema (header/formData parameters are not published)
            sub.string(6, param.get("type")).boolean(20, param.get("uniqueItems"))
            which = 3
        parameter = _Message().message(2, _Message().message(which, sub.bytes()).bytes()).bytes()
    return _Message().message(1, parameter).bytes()


def _operation(op: Mapping[str, Any]) -> bytes:
    msg = _Message().strings(1, op.get("tags")).string(2, op.get("summary")).string(3, op.get("description"))
    msg.string(5, op.get("operationId")).strings(6, op.get("produces")).strings(7, op.get("consumes"))
    for param in op.get("parameters") or ():
        msg.message(8, _parameter(param))
    responses = _Message()
    for code, response in (op.get("responses") or {}).items():
        body = _Message().string(1, response.get("description"))
        if isinstance(response.get("schema"), Mapping):
            body.message(2, _Message().message(1, _schema(response["schema"])).bytes())
        responses.message(1, _named(code, _Message().message(1, body.bytes()).bytes()))
    msg.message(9, responses.bytes()).strings(10, op.get("schemes")).boolean(11, op.get("deprecated"))
    _extensions(msg, 13, op)
    return msg.bytes()


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: Mapping[str, Any]) -> bytes:
    msg = _Message()
    for method, field in _METHODS.items():
        if isinstance(item.get(method), Mapping):
            msg.message(field, _operation(item[method]))
    for param in item.get("parameters") or ():
        msg.message(9, _parameter(param))
    _extensions(msg, 10, item)
    return msg.bytes()


def _security_requirements(requirements: Iterable[Mapping[str, Any]]) -> Iterable[bytes]:
    for requirement in requirements:
        msg = _Message()
        for name, scopes in requirement.items():
            msg.message(1, _named(name, _Message().strings(1, scopes).bytes()))
        yield msg.bytes()


def encode_document(doc: Mapping[str, Any]) -> bytes:
    """The Swagger 2.0 document ``doc`` (as built by ``OpenAPIBuilder``) in protobuf form."""
    msg = _Message().string(1, doc.get("swagger"))
    info = doc.get("info") or {}
    msg.message(2, _Message().string(1, info.get("title")).string(2, info.get("version")).bytes())
    paths = _Message()
    for path, item in (doc.get("paths") or {}).items():
        paths.message(2, _named(path, _path_item(item)))
    msg.message(8, paths.bytes())
    definitions = _Message()
    for name, schema in (doc.get("definitions") or {}).items():
        definitions.message(1, _named(name, _schema(schema)))
    msg.message(9, definitions.bytes())
    for requirement in _security_requirements(doc.get("security") or ()):
        msg.message(12, requirement)
    security = _Message()
    for name, scheme in (doc.get("securityDefinitions") or {}).items():
        api_key = _Message().string(1, scheme.get("type")).string(2, scheme.get("name"))
        api_key.string(3, scheme.get("in")).string(4, scheme.get("description"))
        security.message(1, _named(name, _Message().message(2, api_key.bytes()).bytes()))
    msg.message(13, security.bytes())
    _extensions(msg, 16, doc)
    return msg.bytes()
