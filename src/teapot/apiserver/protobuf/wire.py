"""Protobuf wire format: split a message into (field number, wire type, value) triples.

Why it exists: the decoder in :mod:`.decode` needs only the four wire types go-to-protobuf emits
(varint, 64-bit, length-delimited, 32-bit) plus skipping of the long-deprecated groups, and it must
turn every malformed input into a :class:`ProtobufError` that says where the bytes ran out — not an
``IndexError`` from deep inside a loop. Keeping this layer free of any schema knowledge lets it be
tested on its own and keeps the schema-driven layer short.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = [
    "FIXED32",
    "FIXED64",
    "LENGTH",
    "VARINT",
    "ProtobufError",
    "iter_fields",
    "packed_varints",
    "signed64",
]

VARINT, FIXED64, LENGTH, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5

_WIRE_NAMES = {
    VARINT: "varint",
    FIXED64: "64-bit",
    LENGTH: "length-delimited",
    START_GROUP: "start-group",
    END_GROUP: "end-group",
    FIXED32: "32-bit",
}


class ProtobufError(ValueError):
    """A protobuf request body that cannot be decoded; the message says what is wrong and where."""


def wire_name(wire: int) -> str:
    return _WIRE_NAMES.get(wire, f"unknown ({wire})")


def _varint(data: bytes, pos: int, end: int, where: str) -> tuple[int, int]:
    """Read one base-128 varint at ``pos``; return (value, next position)."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise ProtobufError(
                f"truncated protobuf data in {where}: a varint runs past the end of the message"
            )
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError(f"malformed protobuf data in {where}: a varint is longer than 10 bytes")


def signed64(value: int) -> int:
    """Reinterpret a decoded varint as a two's-complement int64 (how int32/int64 travel)."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _skip_group(data: bytes, pos: int, end: int, number: int, where: str) -> int:
    """Skip the fields of a (deprecated) group up to its matching end-group tag."""
    depth = 1
    while depth:
        if pos >= end:
            raise ProtobufError(f"truncated protobuf data in {where}: group {number} is never closed")
        key, pos = _varint(data, pos, end, where)
        wire = key & 7
        if wire == START_GROUP:
            depth += 1
        elif wire == END_GROUP:
            depth -= 1
        else:
            pos = _skip_value(data, pos, end, wire, key >> 3, where)
    return pos


def _skip_value(data: bytes, pos: int, end: int, wire: int, number: int, where: str) -> int:
    if wire == VARINT:
        return _varint(data, pos, end, where)[1]
    if wire == FIXED64:
        pos += 8
    elif wire == FIXED32:
        pos += 4
    elif wire == LENGTH:
        size, pos = _varint(data, pos, end, where)
        pos += size
    elif wire == START_GROUP:
        return _skip_group(data, pos, end, number, where)
    else:
        raise ProtobufError(
            f"malformed protobuf data in {where}: field {number} has {wire_name(wire)} wire type"
        )
    if pos > end:
        raise ProtobufError(
            f"truncated protobuf data in {where}: field {number} runs past the end of the message"
        )
    return pos


def iter_fields(
    data: bytes, where: str, wanted: frozenset[int] | None = None
) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(number, wire type, value)`` for each field of one message, in wire order.

    Varints, 64-bit and 32-bit values are yielded as unsigned ints, length-delimited ones as bytes.
    Fields whose number is not in ``wanted`` (when given) are validated for framing and skipped,
    as are groups: unknown fields are not an error, truncation is. ``where`` names the message
    for error messages.
    """
    pos = 0
    end = len(data)
    while pos < end:
        key = data[pos]
        if key < 0x80:  # fast path: one-byte tag (field numbers below 16)
            pos += 1
        else:
            key, pos = _varint(data, pos, end, where)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError(f"malformed protobuf data in {where}: field number 0 is not valid")
        if wanted is not None and number not in wanted:
            pos = _skip_value(data, pos, end, wire, number, where)
            continue
        if wire == VARINT:
            value, pos = _varint(data, pos, end, where)
            yield number, wire, value
        elif wire == LENGTH:
            if pos < end and data[pos] < 0x80:  # fast path: length below 128
                size = data[pos]
                pos += 1
            else:
                size, pos = _varint(data, pos, end, where)
            stop = pos + size
            if stop > end:
                raise ProtobufError(
                    f"truncated protobuf data in {where}: field {number} declares {size} bytes"
                    f" but only {end - pos} remain"
                )
            yield number, wire, data[pos:stop]
            pos = stop
        elif wire in (FIXED64, FIXED32):
            width = 8 if wire == FIXED64 else 4
            if pos + width > end:
                raise ProtobufError(f"truncated protobuf data in {where}: field {number} needs {width} bytes")
            yield number, wire, int.from_bytes(data[pos : pos + width], "little")
            pos += width
        else:
            pos = _skip_value(data, pos, end, wire, number, where)


def packed_varints(data: bytes, where: str) -> list[int]:
    """Decode a packed repeated varint field (proto3 style; accepted for proto2 too)."""
    out: list[int] = []
    pos, end = 0, len(data)
    while pos < end:
        value, pos = _varint(data, pos, end, where)
        out.append(value)
    return out
