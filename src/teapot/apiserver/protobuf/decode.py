"""Turn a ``application/vnd.kubernetes.protobuf`` request body into the JSON-shaped dict.

Why it exists: the server's handlers, admission and storage all work on the dict a JSON body
produces. kubectl's typed clients send protobuf instead and do not retry with JSON on 415, so the
cheapest correct thing is to translate at the edge: unwrap the ``k8s\\x00`` + ``runtime.Unknown``
envelope, then walk the object's bytes with the field table of :mod:`.schema`, producing what Go's
``encoding/json`` would have produced from the same struct (see :class:`.schema.Presence`).

Why hand-written rather than the ``protobuf`` package: that would need ``protoc``-generated classes
for every message (the Kubernetes ``.proto`` files import each other across repositories), the
package is not installed here, and it would still not know Go's JSON presence rules or the custom
JSON forms of ``Time``, ``MicroTime``, ``FieldsV1``, ``IntOrString`` and ``Quantity`` — the part that
needs a table anyway. Over such a table, decoding is one recursive function.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from .schema import (
    BOOL,
    BYTES,
    EXTRAVALUE,
    FIELDSV1,
    INT,
    INTORSTRING,
    KINDS,
    MESSAGES,
    MICROTIME,
    QUANTITY,
    STRING,
    TIME,
    Card,
    Field,
    Presence,
)
from .wire import LENGTH, VARINT, ProtobufError, iter_fields, packed_varints, signed64, wire_name

__all__ = ["MAGIC", "PROTOBUF", "UnsupportedKindError", "decode_message", "decode_object", "supported_kinds"]

PROTOBUF = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GO_ZERO_TIME_SECONDS = -62135596800  # 0001-01-01T00:00:00Z, Go's zero time.Time: JSON null
_SCALAR_WIRE = {STRING: LENGTH, BYTES: LENGTH, INT: VARINT, BOOL: VARINT}

# per message: the field numbers worth reading (others are skipped as unknown)
_WANTED: dict[str, frozenset[int]] = {
    name: frozenset(f.number for f in fields) for name, fields in MESSAGES.items()
}


def _rendered_when_absent(field: Field) -> bool:
    """Whether Go's JSON has this field even when it is not on the wire (see schema.Presence)."""
    if field.presence in (Presence.ALWAYS, Presence.NULLABLE):
        return True
    # a non-pointer struct is never omitted; OMITZERO is only used on Time, whose zero is omitted
    return field.card is Card.ONE and field.presence is Presence.OMITEMPTY and field.type not in _SCALAR_WIRE


_RENDERED_WHEN_ABSENT: dict[str, frozenset[int]] = {
    name: frozenset(f.number for f in fields if _rendered_when_absent(f)) for name, fields in MESSAGES.items()
}

_UNKNOWN_FIELDS = frozenset({1, 2, 3, 4})


class UnsupportedKindError(ProtobufError):
    """A well-formed protobuf body of a kind with no field table (e.g. a custom resource, a Deployment).

    Distinct from malformed data so a server can answer 415 (as kube-apiserver does for protobuf
    bodies it cannot decode) rather than 400.
    """


def supported_kinds() -> frozenset[tuple[str, str]]:
    """The ``(apiVersion, kind)`` pairs :func:`decode_object` can decode."""
    return frozenset(KINDS)


def decode_object(
    body: bytes, *, expected_api_version: str | None = None, expected_kind: str | None = None
) -> dict[str, Any]:
    """Decode a Kubernetes protobuf request body into ``{"kind", "apiVersion", **fields}``.

    ``expected_api_version`` / ``expected_kind`` (what the URL implies) fill in a type the envelope
    leaves empty, as Kubernetes does, and a body that names a different type is rejected. Raises
    :class:`ProtobufError` for a missing ``k8s\\x00`` prefix, truncated or malformed data, or a content
    encoding, and its subclass :class:`UnsupportedKindError` for a kind this decoder has no table for.
    The envelope's kind and apiVersion come first in the result; an object that has fields of those
    names itself (only ``ObjectReference``) keeps its own values.
    """
    if not body.startswith(MAGIC):
        raise ProtobufError(
            "the request body is not a Kubernetes protobuf object: it must start with the 4 bytes"
            f" 'k8s\\x00' but starts with {bytes(body[:4])!r}"
        )
    api_version, kind, raw, encoding = "", "", b"", ""
    for number, wire, value in iter_fields(body[len(MAGIC) :], "runtime.Unknown", _UNKNOWN_FIELDS):
        if not isinstance(value, bytes):
            raise ProtobufError(f"malformed runtime.Unknown: field {number} has {wire_name(wire)} wire type")
        if number == 1:
            for sub, sub_wire, sub_value in iter_fields(value, "runtime.Unknown.typeMeta", frozenset({1, 2})):
                if not isinstance(sub_value, bytes):
                    raise ProtobufError(
                        f"malformed runtime.TypeMeta: field {sub} has {wire_name(sub_wire)} wire type"
                    )
                if sub == 1:
                    api_version = _text(sub_value)
                else:
                    kind = _text(sub_value)
        elif number == 2:
            raw = value
        elif number == 3:
            encoding = _text(value)
    if encoding:
        raise ProtobufError(
            f"protobuf bodies with contentEncoding {encoding!r} are not supported: send it unencoded"
        )
    api_version = api_version or expected_api_version or ""
    kind = kind or expected_kind or ""
    if expected_kind and kind != expected_kind:
        raise ProtobufError(f"the body is a {kind} ({api_version}) but this endpoint expects {expected_kind}")
    if expected_api_version and api_version != expected_api_version and kind != "DeleteOptions":
        raise ProtobufError(
            f"the API version in the body ({api_version}) does not match the expected API version"
            f" ({expected_api_version})"
        )
    if not kind:
        raise ProtobufError("the protobuf body names no kind in its runtime.Unknown typeMeta")
    message = KINDS.get((api_version, kind))
    if message is None:
        raise UnsupportedKindError(
            f"cannot decode kind {kind} (apiVersion {api_version or '<empty>'}) from protobuf: this server"
            " decodes protobuf only for "
            + ", ".join(sorted({k for _, k in KINDS}))
            + "; send the object as JSON (for kubectl: apply -f, or create -f with a manifest)"
        )
    return {"kind": kind, "apiVersion": api_version, **decode_message(message, raw, kind)}


def decode_message(message: str, data: bytes, where: str | None = None) -> dict[str, Any]:
    """Decode one message of :data:`.schema.MESSAGES` from its bytes into the Go-JSON-shaped dict."""
    where = where or message
    seen: dict[int, list[tuple[int, int | bytes]]] = {}
    for number, wire, value in iter_fields(data, where, _WANTED[message]):
        seen.setdefault(number, []).append((wire, value))
    out: dict[str, Any] = {}
    matters = _RENDERED_WHEN_ABSENT[message]
    for field in MESSAGES[message]:
        occurrences = seen.get(field.number)
        if occurrences is None and field.number not in matters:
            continue
        path = f"{where}.{field.name}"
        if field.card is Card.ONE:
            _one(out, field, occurrences, path)
        else:
            items = (
                _list(field, occurrences, path)
                if field.card is Card.LIST
                else _map_entries(field, occurrences or (), path)
            )
            if items:
                out[field.name] = items
            elif field.presence is Presence.ALWAYS:
                out[field.name] = None  # a nil Go slice or map
    return out


def _one(
    out: dict[str, Any], field: Field, occurrences: list[tuple[int, int | bytes]] | None, path: str
) -> None:
    scalar_wire = _SCALAR_WIRE.get(field.type)
    if occurrences is None and field.presence is Presence.NULLABLE:
        out[field.name] = None  # a nil pointer without omitempty
        return
    if scalar_wire is None:  # a message: proto merges repeated occurrences, i.e. concatenates them
        if occurrences is None and field.presence is Presence.POINTER:
            return
        payload = b"".join(_payload(wire, value, path) for wire, value in occurrences or ())
        decoded = _message_value(field.type, payload, path)
        if decoded is None and field.presence is Presence.OMITZERO:
            return
        out[field.name] = decoded
        return
    if occurrences is None:
        if field.presence is Presence.ALWAYS:
            out[field.name] = {STRING: "", INT: 0, BOOL: False, BYTES: None}[field.type]
        return
    wire, value = occurrences[-1]  # last one wins for scalars
    decoded = _scalar(field.type, wire, value, path)
    if field.presence is Presence.OMITEMPTY and decoded in ("", 0, False):
        return
    out[field.name] = decoded


def _list(field: Field, occurrences: list[tuple[int, int | bytes]] | None, path: str) -> list[Any]:
    items: list[Any] = []
    for wire, value in occurrences or ():
        if field.type in (INT, BOOL) and wire == LENGTH and isinstance(value, bytes):
            items.extend(_scalar(field.type, VARINT, v, path) for v in packed_varints(value, path))
        elif field.type in _SCALAR_WIRE:
            items.append(_scalar(field.type, wire, value, path))
        else:
            items.append(_message_value(field.type, _payload(wire, value, path), f"{path}[{len(items)}]"))
    return items


def _map_entries(field: Field, occurrences: Any, path: str) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for wire, value in occurrences:
        if field.type == STRING and isinstance(value, bytes) and (pair := _string_pair(value)) is not None:
            entries[pair[0]] = pair[1]
            continue
        key = ""
        parts: list[bytes] = []
        scalar: Any = None
        entry = _payload(wire, value, path)
        for number, sub_wire, sub_value in iter_fields(entry, f"{path} entry", frozenset({1, 2})):
            if number == 1:
                key = _scalar(STRING, sub_wire, sub_value, f"{path} key")
            elif field.type in _SCALAR_WIRE:
                scalar = _scalar(field.type, sub_wire, sub_value, f"{path}[{key!r}]")
            else:
                parts.append(_payload(sub_wire, sub_value, f"{path}[{key!r}]"))
        if field.type in _SCALAR_WIRE:
            if scalar is None:
                scalar = {STRING: "", INT: 0, BOOL: False, BYTES: ""}[field.type]
            entries[key] = scalar
        else:
            entries[key] = _message_value(field.type, b"".join(parts), f"{path}[{key!r}]")
    return entries


def _string_pair(entry: bytes) -> tuple[str, str] | None:
    """Fast path for the usual map<string,string> entry: ``0a len key 12 len value``, lengths < 128.

    Anything else (long strings, other order, extra fields) returns None and takes the general path.
    """
    size = len(entry)
    if size < 4 or entry[0] != 0x0A:
        return None
    key_end = 2 + entry[1]
    if entry[1] >= 0x80 or key_end + 2 > size or entry[key_end] != 0x12:
        return None
    value_len = entry[key_end + 1]
    if value_len >= 0x80 or key_end + 2 + value_len != size:
        return None
    return (
        entry[2:key_end].decode("utf-8", "replace"),
        entry[key_end + 2 :].decode("utf-8", "replace"),
    )


def _payload(wire: int, value: int | bytes, path: str) -> bytes:
    if wire != LENGTH or not isinstance(value, bytes):
        raise ProtobufError(
            f"malformed protobuf data at {path}: expected a message, got {wire_name(wire)} wire type"
        )
    return value


def _scalar(type_: str, wire: int, value: int | bytes, path: str) -> Any:
    expected = _SCALAR_WIRE[type_]
    if wire != expected:
        raise ProtobufError(
            f"malformed protobuf data at {path}: a {type_} field must use {wire_name(expected)} wire type,"
            f" not {wire_name(wire)}"
        )
    if type_ == STRING:
        return _text(value)
    if type_ == BYTES:
        assert isinstance(value, bytes)
        return base64.b64encode(value).decode("ascii")
    assert isinstance(value, int)
    if type_ == BOOL:
        return value != 0
    return signed64(value)


def _text(value: int | bytes) -> str:
    assert isinstance(value, bytes)
    # Go strings may hold any bytes; encoding/json writes invalid UTF-8 as U+FFFD, and so do we
    return value.decode("utf-8", "replace")


def _message_value(type_: str, data: bytes, path: str) -> Any:
    if type_ in (TIME, MICROTIME):
        return _time(data, path, micro=type_ == MICROTIME)
    if type_ == FIELDSV1:
        return _fields_v1(data, path)
    if type_ == INTORSTRING:
        return _int_or_string(data, path)
    if type_ == QUANTITY:
        return _single_string(data, path) or "0"
    if type_ == EXTRAVALUE:
        items = [
            _scalar(STRING, wire, value, path) for _, wire, value in iter_fields(data, path, frozenset({1}))
        ]
        return items or None
    return decode_message(type_, data, path)


def _time(data: bytes, path: str, *, micro: bool) -> str | None:
    """meta/v1 Time or MicroTime ({seconds=1, nanos=2}); an empty message is Go's zero time: null."""
    if not data:
        return None
    seconds = nanos = 0
    for number, wire, value in iter_fields(data, path, frozenset({1, 2})):
        if wire != VARINT or not isinstance(value, int):
            raise ProtobufError(
                f"malformed timestamp at {path}: field {number} has {wire_name(wire)} wire type"
            )
        if number == 1:
            seconds = signed64(value)
        else:
            nanos = signed64(value)
    if seconds == _GO_ZERO_TIME_SECONDS and nanos == 0:
        return None
    total_micros = seconds * 1_000_000 + nanos // 1000  # Go's Format truncates, it does not round
    try:
        moment = _EPOCH + timedelta(microseconds=total_micros)
    except OverflowError as exc:
        raise ProtobufError(f"timestamp at {path} is out of range: {seconds} s {nanos} ns") from exc
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fields_v1(data: bytes, path: str) -> Any:
    raw = b"".join(_payload(wire, value, path) for _, wire, value in iter_fields(data, path, frozenset({1})))
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtobufError(f"FieldsV1 at {path} does not hold valid JSON: {exc}") from exc


def _int_or_string(data: bytes, path: str) -> int | str:
    """util/intstr IntOrString: {type=1 (0 int, 1 string), intVal=2, strVal=3}."""
    kind = int_value = 0
    str_value = ""
    for number, wire, value in iter_fields(data, path, frozenset({1, 2, 3})):
        if number == 3:
            str_value = _scalar(STRING, wire, value, path)
        elif number == 1:
            kind = _scalar(INT, wire, value, path)
        else:
            int_value = _scalar(INT, wire, value, path)
    return str_value if kind == 1 else int_value


def _single_string(data: bytes, path: str) -> str:
    """api/resource Quantity: {string=1}."""
    text = ""
    for _, wire, value in iter_fields(data, path, frozenset({1})):
        text = _scalar(STRING, wire, value, path)
    return text
