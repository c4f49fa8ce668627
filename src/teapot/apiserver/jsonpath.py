"""Kubernetes' JSONPath dialect, compiled once and evaluated against plain JSON objects.

Why it exists: CRDs name fields with JSONPath — ``additionalPrinterColumns[].jsonPath``,
``selectableFields[].jsonPath`` and the scale subresource's replica and selector paths — and the
server must evaluate them the way kube-apiserver does (k8s.io/client-go/util/jsonpath with missing
keys allowed): ``.spec.size``, ``.status.conditions[?(@.type=="Ready")].status``, ``.items[0]``,
``.items[*].name``, ``['app.kubernetes.io/name']``, ``..name``. It is hand-written rather than taken
from a library because the general JSONPath libraries (jsonpath-ng, jsonpath-python) implement
Goessner's or RFC 9535's dialect, not kube's (``{}`` template braces, ``\\.`` escapes in field names,
missing keys yielding nothing instead of errors, kube's text formatting of results), and they parse
with generic parser generators that are slow to evaluate per row of a 2,000-row table. This module
is small, has no dependencies, compiles each expression once (``parse`` is cached) and evaluates
simple field paths with plain dict lookups.

Not supported (rejected with ``JSONPathError``): several templates in one expression
(``{.a}{.b}``), ``range``/``end``, and ``&&``/``||`` inside filters.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["JSONPath", "JSONPathError", "find", "format_value", "parse"]


class JSONPathError(ValueError):
    """The expression is not valid (or uses a part of kube's dialect this module leaves out)."""


_Step = Callable[[list[Any]], list[Any]]


@dataclass(frozen=True)
class JSONPath:
    """A compiled expression. ``find`` returns every match, in document order."""

    expression: str
    steps: tuple[_Step, ...]
    fields: tuple[str, ...] | None  # set when the path is only plain field names (fast path)

    def find(self, obj: Any) -> list[Any]:
        if self.fields is not None:
            value = obj
            for name in self.fields:
                if not isinstance(value, dict) or name not in value:
                    return []
                value = value[name]
            return [value]
        values = [obj]
        for step in self.steps:
            values = step(values)
            if not values:
                break
        return values

    def first(self, obj: Any, default: Any = None) -> Any:
        """The first match, or ``default`` when nothing matches."""
        found = self.find(obj)
        return found[0] if found else default

    def set(self, obj: dict[str, Any], value: Any) -> None:
        """Set the value at a plain field path (``.spec.replicas``), creating parent objects.

        Only plain field paths can be written (like kube's scale subresource ``specReplicasPath``).
        """
        if not self.fields:
            raise JSONPathError(f"{self.expression!r} is not a plain field path and cannot be set")
        target = obj
        for name in self.fields[:-1]:
            child = target.get(name)
            if not isinstance(child, dict):
                child = target[name] = {}
            target = child
        target[self.fields[-1]] = value


def find(obj: Any, expression: str) -> list[Any]:
    """All values in ``obj`` matching ``expression`` (missing keys simply match nothing)."""
    return parse(expression).find(obj)


def format_value(value: Any) -> str:
    """Text of a result as kube's JSONPath printer writes it (``kubectl -o jsonpath``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


@functools.lru_cache(maxsize=4096)
def parse(expression: str) -> JSONPath:
    """Compile ``expression``; results are cached, so calling this per object is cheap."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if "{" in text or "}" in text:
        raise JSONPathError(f"{expression!r}: only one {{...}} template is supported")
    if text.startswith("range ") or text == "end":
        raise JSONPathError(f"{expression!r}: range/end is not supported")
    parser = _Parser(text, expression)
    if parser.peek() == "$":
        parser.pos += 1
    elif parser.peek() not in (".", "["):
        raise JSONPathError(f"{expression!r}: a path must start with '.', '[' or '$'")
    steps, fields = parser.steps(stop="")
    return JSONPath(expression, tuple(steps), fields)


_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_MISSING = object()


class _Parser:
    def __init__(self, text: str, expression: str) -> None:
        self.text = text
        self.expression = expression
        self.pos = 0

    def error(self, message: str) -> JSONPathError:
        return JSONPathError(f"{self.expression!r} at offset {self.pos}: {message}")

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def skip_spaces(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def steps(self, stop: str) -> tuple[list[_Step], tuple[str, ...] | None]:
        """Parse steps until end of text or a character in ``stop``."""
        steps: list[_Step] = []
        names: list[str] | None = []
        while self.pos < len(self.text) and self.peek() not in stop:
            char = self.peek()
            if self.peek(2) == "..":
                self.pos += 2
                name = self.field_name()
                if not name:
                    raise self.error("'..' must be followed by a field name")
                steps.append(_recursive(name))
                names = None
            elif char == ".":
                self.pos += 1
                if self.peek() == "*":
                    self.pos += 1
                    steps.append(_wildcard)
                    names = None
                    continue
                name = self.field_name()
                if not name:
                    if self.pos >= len(self.text) and not steps:
                        steps.append(_identity)  # "." alone: the whole object
                        names = None
                        continue
                    raise self.error("expected a field name after '.'")
                steps.append(_field(name))
                if names is not None:
                    names.append(name)
            elif char == "[":
                steps.append(self.bracket())
                names = None
            else:
                raise self.error(f"unexpected {char!r}")
        fields = tuple(names) if names else None
        return steps, fields

    def field_name(self) -> str:
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char in ".[]()=!<> ,'\"":
                break
            out.append(char)
            self.pos += 1
        return "".join(out)

    def bracket(self) -> _Step:
        self.pos += 1  # "["
        self.skip_spaces()
        if self.peek(2) == "?(":
            self.pos += 2
            step = self.filter()
            self.skip_spaces()
            if self.peek(2) != ")]":
                raise self.error("expected ')]' to close the filter")
            self.pos += 2
            return step
        if self.peek() == "*":
            self.pos += 1
            self.expect("]")
            return _wildcard
        if self.peek() in ("'", '"'):
            keys = [self.string()]
            self.skip_spaces()
            while self.peek() == ",":
                self.pos += 1
                self.skip_spaces()
                keys.append(self.string())
                self.skip_spaces()
            self.expect("]")
            return _keys(tuple(keys))
        end = self.text.find("]", self.pos)
        if end < 0:
            raise self.error("unclosed '['")
        inner = self.text[self.pos : end].replace(" ", "")
        self.pos = end + 1
        try:
            if ":" in inner:
                parts = inner.split(":")
                if len(parts) > 3:
                    raise ValueError(inner)
                bounds = [int(p) if p else None for p in parts]
                return _slice(slice(*bounds))
            return _indexes(tuple(int(p) for p in inner.split(",")))
        except ValueError:
            raise self.error(f"invalid array index {inner!r}") from None

    def expect(self, char: str) -> None:
        self.skip_spaces()
        if self.peek() != char:
            raise self.error(f"expected {char!r}")
        self.pos += 1

    def string(self) -> str:
        quote = self.peek()
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == quote:
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise self.error("unterminated string")

    def operand(self) -> Callable[[Any], Any]:
        """A filter operand: an ``@`` path (evaluated per element) or a literal."""
        self.skip_spaces()
        char = self.peek()
        if char == "@":
            self.pos += 1
            steps, fields = self.steps(stop=" )=!<>")
            return _relative_fields(fields) if fields else _relative(tuple(steps))
        if char in ("'", '"'):
            literal: Any = self.string()
        elif match := _NUMBER.match(self.text, self.pos):
            self.pos = match.end()
            number = match.group(0)
            literal = float(number) if (match.group(1) or match.group(2)) else int(number)
        else:
            word = re.match(r"[A-Za-z]+", self.text[self.pos :])
            if not word or word.group(0) not in ("true", "false", "null", "nil"):
                raise self.error("expected '@', a quoted string, a number, true, false or null")
            self.pos += len(word.group(0))
            literal = {"true": True, "false": False}.get(word.group(0))
        return lambda _element: literal

    def filter(self) -> _Step:
        left = self.operand()
        self.skip_spaces()
        op = next((o for o in _OPERATORS if self.text.startswith(o, self.pos)), None)
        if op is None:
            if self.peek(2) in ("&&", "||"):
                raise self.error("'&&' and '||' are not supported in filters")
            return _filter(lambda element: left(element) is not _MISSING)
        self.pos += len(op)
        right = self.operand()
        compare = _COMPARE[op]

        def predicate(element: Any) -> bool:
            a, b = left(element), right(element)
            if a is _MISSING or b is _MISSING:
                return False
            return compare(a, b)

        return _filter(predicate)


def _identity(values: list[Any]) -> list[Any]:
    return values


def _field(name: str) -> _Step:
    def step(values: list[Any]) -> list[Any]:
        return [v[name] for v in values if isinstance(v, dict) and name in v]

    return step


def _keys(names: tuple[str, ...]) -> _Step:
    def step(values: list[Any]) -> list[Any]:
        return [v[n] for v in values if isinstance(v, dict) for n in names if n in v]

    return step


def _wildcard(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, dict):
            out.extend(v.values())
        elif isinstance(v, list):
            out.extend(v)
    return out


def _indexes(indexes: tuple[int, ...]) -> _Step:
    def step(values: list[Any]) -> list[Any]:
        return [v[i] for v in values if isinstance(v, list) for i in indexes if -len(v) <= i < len(v)]

    return step


def _slice(bounds: slice) -> _Step:
    def step(values: list[Any]) -> list[Any]:
        return [item for v in values if isinstance(v, list) for item in v[bounds]]

    return step


def _walk(value: Any) -> Iterator[Any]:
    yield value
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        yield from _walk(child)


def _recursive(name: str) -> _Step:
    def step(values: list[Any]) -> list[Any]:
        return [node[name] for v in values for node in _walk(v) if isinstance(node, dict) and name in node]

    return step


def _relative(steps: tuple[_Step, ...]) -> Callable[[Any], Any]:
    def evaluate(element: Any) -> Any:
        values = [element]
        for step in steps:
            values = step(values)
        return values[0] if values else _MISSING

    return evaluate


def _relative_fields(fields: tuple[str, ...]) -> Callable[[Any], Any]:
    def evaluate(element: Any) -> Any:
        for name in fields:
            if not isinstance(element, dict) or name not in element:
                return _MISSING
            element = element[name]
        return element

    return evaluate


def _filter(predicate: Callable[[Any], bool]) -> _Step:
    def step(values: list[Any]) -> list[Any]:
        return [item for v in values if isinstance(v, list) for item in v if predicate(item)]

    return step


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _comparable(a: Any, b: Any) -> bool:
    return (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))


def _eq(a: Any, b: Any) -> bool:
    if type(a) is type(b):
        return bool(a == b)
    return _is_number(a) and _is_number(b) and bool(a == b)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": _eq,
    "!=": lambda a, b: not _eq(a, b),
    "<": lambda a, b: _comparable(a, b) and a < b,
    ">": lambda a, b: _comparable(a, b) and a > b,
    "<=": lambda a, b: _comparable(a, b) and a <= b,
    ">=": lambda a, b: _comparable(a, b) and a >= b,
}
