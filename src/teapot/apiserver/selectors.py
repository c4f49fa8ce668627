"""Label and field selectors, parsed once per request and matched many times.

Why it exists: list, watch and deletecollection filter by ``labelSelector`` (=, ==, !=, in, notin,
exists, !exists) and ``fieldSelector`` (=, ==, !=) exactly as kube-apiserver does, with kube's error
messages for malformed selectors. A tiny hand-written parser: no Python library implements
Kubernetes' selector grammar, and the grammar is small.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from teapot.apiserver.errors import StatusError, bad_request

_KEY_RE = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!":
            return self.key not in labels
        present = self.key in labels
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        # "!=" and "notin" match when the key is absent, like Kubernetes
        return not present or labels[self.key] not in self.values


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)


EVERYTHING = Selector()


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _check_key(key: str, selector: str) -> None:
    if not key or len(key) > 317 or not _KEY_RE.match(key):
        raise bad_request(
            f'unable to parse requirement: invalid label key "{key}": name part must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        )


def _check_value(value: str) -> None:
    if len(value) > 63 or not _VALUE_RE.match(value):
        raise bad_request(
            f'unable to parse requirement: invalid label value: "{value}": a valid label must be an empty '
            "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character"
        )


_SET_RE = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\((.*)\)\s*$")


def parse_label_selector(text: str | None) -> Selector:
    """Parse a ``labelSelector`` query parameter; raise a 400 ``StatusError`` when malformed."""
    if not text or not text.strip():
        return EVERYTHING
    reqs: list[Requirement] = []
    for raw in _split_top_level(text):
        part = raw.strip()
        if not part:
            raise bad_request(f"unable to parse requirement: found '', expected: identifier in \"{text}\"")
        m = _SET_RE.match(part)
        if m:
            key, op, vals = m.group(1), m.group(2), m.group(3)
            _check_key(key, text)
            values = [v.strip() for v in vals.split(",")] if vals.strip() else []
            if not values:
                raise bad_request(f"for '{op}', 'notin' operators, values set can't be empty")
            for v in values:
                _check_value(v)
            reqs.append(Requirement(key, op, frozenset(values)))
            continue
        if part.startswith("!"):
            key = part[1:].strip()
            _check_key(key, text)
            reqs.append(Requirement(key, "!"))
            continue
        for token, op in (("!=", "!="), ("==", "="), ("=", "=")):
            if token in part:
                key, _, value = part.partition(token)
                key, value = key.strip(), value.strip()
                _check_key(key, text)
                _check_value(value)
                reqs.append(Requirement(key, op, frozenset([value])))
                break
        else:
            if any(c in part for c in " ()<>"):
                raise bad_request(
                    f'unable to parse requirement: found \'{part}\', expected: "=", "!=", "==", "in", notin" in "{text}"'
                )
            _check_key(part, text)
            reqs.append(Requirement(part, "exists"))
    return Selector(tuple(reqs))


def selector_from_match(
    match_labels: Mapping[str, str] | None, match_expressions: list[dict[str, object]] | None
) -> Selector:
    """Build a selector from a ``metav1.LabelSelector`` object (matchLabels + matchExpressions)."""
    reqs = [Requirement(k, "=", frozenset([v])) for k, v in (match_labels or {}).items()]
    op_map = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in match_expressions or []:
        op = op_map.get(str(expr.get("operator")))
        if op is None:
            raise bad_request(f"{expr.get('operator')!r} is not a valid label selector operator")
        values = expr.get("values") or []
        assert isinstance(values, list)
        reqs.append(Requirement(str(expr.get("key")), op, frozenset(str(v) for v in values)))
    return Selector(tuple(reqs))


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # "=" or "!="
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        actual = fields.get(self.field, "")
        return (actual == self.value) if self.op == "=" else (actual != self.value)


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def exact(self, field: str) -> str | None:
        """The value an ``=`` requirement pins ``field`` to, if any (lets storage narrow a query)."""
        for r in self.requirements:
            if r.field == field and r.op == "=":
                return r.value
        return None


NO_FIELDS = FieldSelector()


def parse_field_selector(text: str | None, supported: frozenset[str], kind_desc: str) -> FieldSelector:
    """Parse a ``fieldSelector``; only ``supported`` fields are allowed, like kube (400 otherwise)."""
    if not text or not text.strip():
        return NO_FIELDS
    reqs: list[FieldRequirement] = []
    for raw in text.split(","):
        part = raw.strip()
        for token, op in (("!=", "!="), ("==", "="), ("=", "=")):
            if token in part:
                field, _, value = part.partition(token)
                field = field.strip()
                if field not in supported:
                    raise StatusError(400, "BadRequest", f"field label not supported: {field}")
                reqs.append(FieldRequirement(field, op, value.strip()))
                break
        else:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
    return FieldSelector(tuple(reqs))
