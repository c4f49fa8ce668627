"""Field errors shaped and worded exactly like Kubernetes' ``field.Error``.

Why it exists: clients (kubectl, controllers, people) read validation failures as
``Status.details.causes`` entries and as the message ``spec.size: Invalid value: 11: ...``. To be
indistinguishable from kube-apiserver, every error this package produces goes through one set of
constructors that mirror ``k8s.io/apimachinery/pkg/util/validation/field`` (error types, the
``ErrorBody`` rendering of bad values with Go's ``%v``/``%q``/JSON rules) and the kube-openapi
message templates (``... in body should be less than or equal to 10``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

REQUIRED: Final = "FieldValueRequired"
INVALID: Final = "FieldValueInvalid"
NOT_SUPPORTED: Final = "FieldValueNotSupported"
TYPE_INVALID: Final = "FieldValueTypeInvalid"
FORBIDDEN: Final = "FieldValueForbidden"
TOO_LONG: Final = "FieldValueTooLong"
TOO_MANY: Final = "FieldValueTooMany"
DUPLICATE: Final = "FieldValueDuplicate"
NOT_FOUND: Final = "FieldValueNotFound"
INTERNAL: Final = "InternalError"

_TYPE_TEXT: Final = {
    NOT_FOUND: "Not found",
    REQUIRED: "Required value",
    DUPLICATE: "Duplicate value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    INTERNAL: "Internal error",
    TYPE_INVALID: "Invalid value",
}


class _Omit:
    """Marker for "no bad value to print" (Go's ``field.OmitValueType``)."""

    _instance: _Omit | None = None

    def __new__(cls) -> _Omit:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Final = _Omit()


@dataclass(frozen=True)
class FieldError:
    """One validation failure; maps 1:1 to a ``Status.details.causes`` entry.

    ``message`` is the full text kube prints (``field: body``); a cause's ``message`` is usually
    :attr:`body` and its ``reason`` is :attr:`type`.
    """

    type: str
    field: str
    message: str
    detail: str = ""
    bad_value: object = None

    @property
    def body(self) -> str:
        """The message without the leading ``field: `` (Go's ``ErrorBody()``)."""
        prefix = self.field + ": "
        return self.message[len(prefix) :] if self.message.startswith(prefix) else self.message

    def as_cause(self) -> dict[str, str]:
        """A ``StatusCause`` dict as kube-apiserver puts it in ``details.causes``."""
        return {"reason": self.type, "message": self.body, "field": self.field}


class SchemaError(Exception):
    """The schema itself is invalid (not structural, bad keywords, bad CEL rules)."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(e.message for e in errors) or "invalid schema")


# --- Go value rendering -------------------------------------------------------------------------


def go_float(value: float) -> str:
    """Render a float64 like Go's ``%v``: shortest digits, exponent form outside [1e-4, 1e21)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == 0:
        return "0" if math.copysign(1.0, value) > 0 else "-0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    digits = list(digit_tuple)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    text = "".join(str(d) for d in digits)
    lead = len(digits) - 1 + exponent  # decimal exponent of the first digit
    if lead < -4 or lead >= 21:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        out = f"{mantissa}e{'+' if lead >= 0 else '-'}{abs(lead):02d}"
    elif exponent >= 0:
        out = text + "0" * exponent
    elif lead >= 0:
        out = text[: lead + 1] + "." + text[lead + 1 :]
    else:
        out = "0." + "0" * (-lead - 1) + text
    return ("-" if sign else "") + out


def go_v(value: object) -> str:
    """Go's ``%v`` for the scalar values kube-openapi puts into its messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + " ".join(go_v(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_v(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    return str(value)


def go_quote(value: str) -> str:
    """Go's ``%q`` / ``strconv.Quote`` (close enough: JSON escaping of control characters)."""
    return json.dumps(value, ensure_ascii=False)


def go_json(value: object) -> str:
    """Go's ``json.Marshal`` of an unstructured value (sorted keys, compact, Go float text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return go_float(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ",".join(f"{go_json(str(k))}:{go_json(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    return json.dumps(str(value))


def render_bad_value(value: object) -> str:
    """How ``ErrorBody`` prints a bad value: ``%v`` for numbers/bools, ``%q`` for strings, else JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_v(value)
    if isinstance(value, str):
        return go_quote(value)
    return go_json(value)


# --- constructors (names follow the Go package ``field``) ---------------------------------------


def make(type_: str, path: str, bad_value: object, detail: str) -> FieldError:
    """Build a :class:`FieldError` and render its message exactly like Go's ``Error()``."""
    text = _TYPE_TEXT.get(type_, type_)
    if type_ in (REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL) or bad_value is OMIT:
        body = text
    else:
        body = f"{text}: {render_bad_value(bad_value)}"
    if detail:
        body += f": {detail}"
    return FieldError(
        type=type_,
        field=path,
        message=f"{path}: {body}",
        detail=detail,
        bad_value=None if bad_value is OMIT else bad_value,
    )


def required(path: str, detail: str = "") -> FieldError:
    return make(REQUIRED, path, "", detail)


def invalid(path: str, value: object, detail: str) -> FieldError:
    return make(INVALID, path, value, detail)


def type_invalid(path: str, value: object, detail: str) -> FieldError:
    return make(TYPE_INVALID, path, value, detail)


def forbidden(path: str, detail: str) -> FieldError:
    return make(FORBIDDEN, path, "", detail)


def duplicate(path: str, value: object) -> FieldError:
    return make(DUPLICATE, path, value, "")


def not_supported(path: str, value: object, valid: list[str]) -> FieldError:
    detail = ""
    if valid:
        detail = "supported values: " + ", ".join(go_quote(v) for v in valid)
    return make(NOT_SUPPORTED, path, value, detail)


def too_long(path: str, max_length: int) -> FieldError:
    if max_length >= 0:
        unit = "byte" if max_length == 1 else "bytes"
        detail = f"may not be more than {max_length} {unit}"
    else:
        detail = "value is too long"
    return make(TOO_LONG, path, "<value omitted>", detail)


def too_many(path: str, actual: int, maximum: int) -> FieldError:
    if maximum >= 0:
        detail = f"must have at most {maximum} {'item' if maximum == 1 else 'items'}"
    else:
        detail = "too many items"
    return make(TOO_MANY, path, actual if actual >= 0 else OMIT, detail)


def internal(path: str, detail: str) -> FieldError:
    return make(INTERNAL, path, None, detail)
