"""``meta.k8s.io/v1`` Table responses: what ``kubectl get`` prints.

Why it exists: kubectl does not format objects itself; it asks the server for a Table
(``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``) and prints its columns. kube-apiserver
builds tables from compiled-in printers for built-in kinds and from ``additionalPrinterColumns``
(JSONPath) for custom resources; this module does the same as a pure function of the resource,
the objects and the current time, so ``kubectl get`` output matches a real cluster's: NAME and AGE
columns, the per-kind columns kube prints, ages like ``5m`` or ``3d4h``, and ``priority`` 1
columns that kubectl shows only with ``-o wide`` (the server always sends them, as kube does).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from teapot.apiserver.jsonpath import JSONPath, JSONPathError, format_value, parse
from teapot.apiserver.resources import PrinterColumn, ResourceInfo

__all__ = [
    "INCLUDE_OBJECT_POLICIES",
    "column_definitions",
    "human_duration",
    "parse_timestamp",
    "table_for",
]

INCLUDE_OBJECT_POLICIES = ("None", "Metadata", "Object")

_NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
    "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_CREATED_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is not guaranteed to be set in happens-before order across separate operations. Clients may "
    "not set this value. It is represented in RFC3339 form and is in UTC."
)

Cell = Any
_CellFn = Callable[[Mapping[str, Any], datetime], Cell]


@dataclass(frozen=True)
class _Column:
    name: str
    type: str
    cell: _CellFn
    description: str = ""
    format: str = ""
    priority: int = 0

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


# --- time -------------------------------------------------------------------------------------


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (``Time`` or ``MicroTime``) as an aware datetime; None if absent/invalid."""
    if not isinstance(value, str) or not value:
        return None
    return _parse_timestamp(value)


@functools.lru_cache(maxsize=8192)
def _parse_timestamp(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """A duration the way kubectl shows ages (k8s.io/apimachinery ``duration.HumanDuration``)."""
    whole = int(seconds)  # truncates toward zero, like Go's int(d.Seconds())
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        s = whole % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if dy == 0 else f"{years}y{dy}d"
    return f"{hours // 24 // 365}y"


def _since(value: Any, now: datetime) -> str:
    parsed = parse_timestamp(value)
    if parsed is None:
        return "<unknown>"
    return human_duration((now - parsed).total_seconds())


def _rfc3339(value: Any) -> str:
    parsed = parse_timestamp(value)
    if parsed is None:
        return ""  # a zero time; kube prints its Go zero value, which no stored object has
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- cells shared by all kinds ----------------------------------------------------------------


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _name(obj: Mapping[str, Any], _now: datetime) -> Cell:
    return _meta(obj).get("name", "")


def _age(obj: Mapping[str, Any], now: datetime) -> Cell:
    return _since(_meta(obj).get("creationTimestamp"), now)


def _created_at(obj: Mapping[str, Any], _now: datetime) -> Cell:
    return _rfc3339(_meta(obj).get("creationTimestamp"))


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _count(obj: Mapping[str, Any], *fields: str) -> int:
    return sum(len(v) for f in fields if isinstance(v := obj.get(f), (dict, list)))


NAME = _Column("Name", "string", _name, _NAME_DOC, "name")
AGE = _Column("Age", "string", _age, _CREATED_DOC)
CREATED_AT = _Column("Created At", "date", _created_at, _CREATED_DOC)


# --- built-in kinds (kube's pkg/printers/internalversion) ---------------------------------------


def _subjects(kind: str) -> _CellFn:
    def cell(obj: Mapping[str, Any], _now: datetime) -> Cell:
        out: list[str] = []
        for subject in obj.get("subjects") or ():
            if not isinstance(subject, Mapping) or subject.get("kind") != kind:
                continue
            if kind == "ServiceAccount":
                out.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
            else:
                out.append(str(subject.get("name", "")))
        return ", ".join(out)

    return cell


def _role_ref(obj: Mapping[str, Any], _now: datetime) -> Cell:
    ref = obj.get("roleRef") or {}
    return f"{ref.get('kind', '')}/{ref.get('name', '')}"


_BINDING = (
    NAME,
    _Column("Role", "string", _role_ref, "RoleRef can only reference a Role or ClusterRole."),
    AGE,
    _Column("Users", "string", _subjects("User"), "Users in the binding", priority=1),
    _Column("Groups", "string", _subjects("Group"), "Groups in the binding", priority=1),
    _Column(
        "ServiceAccounts", "string", _subjects("ServiceAccount"), "ServiceAccounts in the binding", priority=1
    ),
)


@dataclass(frozen=True)
class _Event:
    """The fields kube's event printer reads, from a core/v1 or an events.k8s.io/v1 Event."""

    first: str
    last: str
    count: int
    type: str
    reason: str
    target: str
    field_path: str
    source: str
    message: str
    name: str


def _event(obj: Mapping[str, Any], now: datetime) -> _Event:
    new_api = "regarding" in obj or "note" in obj or "deprecatedSource" in obj
    involved = (obj.get("regarding") if new_api else obj.get("involvedObject")) or {}
    source = (obj.get("deprecatedSource") if new_api else obj.get("source")) or {}
    first_ts = obj.get("deprecatedFirstTimestamp" if new_api else "firstTimestamp")
    last_ts = obj.get("deprecatedLastTimestamp" if new_api else "lastTimestamp")
    count = obj.get("deprecatedCount" if new_api else "count") or 0
    first = _since(first_ts, now) if parse_timestamp(first_ts) else _since(obj.get("eventTime"), now)
    last = _since(last_ts, now) if parse_timestamp(last_ts) else first
    series = obj.get("series")
    if isinstance(series, Mapping):
        last = _since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif not count:
        count = 1  # singleton events of the new API carry no count
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    component = source.get("component") or obj.get("reportingController") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    return _Event(
        first=first,
        last=last,
        count=int(count),
        type=str(obj.get("type") or ""),
        reason=str(obj.get("reason") or ""),
        target=target,
        field_path=str(involved.get("fieldPath") or ""),
        source=f"{component}, {instance}" if instance else str(component),
        message=str(obj.get("note" if new_api else "message") or "").strip(),
        name=str(_meta(obj).get("name", "")),
    )


def _event_column(name: str, attr: str, description: str, priority: int = 0, fmt: str = "") -> _Column:
    return _Column(name, "string", lambda o, now: getattr(_event(o, now), attr), description, fmt, priority)


def _event_row(obj: Mapping[str, Any], now: datetime) -> list[Cell]:
    """All event cells from one pass over the object (the per-column cells would redo it ten times)."""
    e = _event(obj, now)
    return [e.last, e.type, e.reason, e.target, e.field_path, e.source, e.message, e.first, e.count, e.name]


_EVENT = (
    _event_column(
        "Last Seen", "last", "The time at which the most recent occurrence of this event was recorded."
    ),
    _event_column(
        "Type", "type", "Type of this event (Normal, Warning), new types could be added in the future"
    ),
    _event_column(
        "Reason",
        "reason",
        "This should be a short, machine understandable string that gives the reason "
        "for the transition into the object's current status.",
    ),
    _event_column("Object", "target", "The object that this event is about."),
    _event_column("Subobject", "field_path", "The field of the object this event is about.", 1),
    _event_column("Source", "source", "The component reporting this event.", 1),
    _event_column("Message", "message", "A human-readable description of the status of this operation."),
    _event_column("First Seen", "first", "The time at which the event was first recorded.", 1),
    _event_column("Count", "count", "The number of times this event has occurred.", 1),
    _event_column("Name", "name", _NAME_DOC, 1, "name"),
)

_BUILTIN: dict[tuple[str, str], tuple[_Column, ...]] = {
    ("", "Namespace"): (
        NAME,
        _Column(
            "Status", "string", lambda o, _n: _get(o, "status", "phase") or "", "The status of the namespace"
        ),
        AGE,
    ),
    ("", "Secret"): (
        NAME,
        _Column("Type", "string", lambda o, _n: o.get("type") or "", "The type of the secret"),
        _Column("Data", "string", lambda o, _n: _count(o, "data"), "The number of entries in the secret"),
        AGE,
    ),
    ("", "ConfigMap"): (
        NAME,
        _Column(
            "Data",
            "string",
            lambda o, _n: _count(o, "data", "binaryData"),
            "The number of entries in the configmap",
        ),
        AGE,
    ),
    ("", "ServiceAccount"): (
        NAME,
        _Column(
            "Secrets",
            "string",
            lambda o, _n: _count(o, "secrets"),
            "The number of secrets associated with the service account",
        ),
        AGE,
    ),
    ("coordination.k8s.io", "Lease"): (
        NAME,
        _Column(
            "Holder",
            "string",
            lambda o, _n: _get(o, "spec", "holderIdentity") or "",
            "The holder of the lease",
        ),
        AGE,
    ),
    ("", "Event"): _EVENT,
    ("events.k8s.io", "Event"): _EVENT,
    ("rbac.authorization.k8s.io", "Role"): (NAME, CREATED_AT),
    ("rbac.authorization.k8s.io", "ClusterRole"): (NAME, CREATED_AT),
    ("rbac.authorization.k8s.io", "RoleBinding"): _BINDING,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _BINDING,
}


# --- custom resources (additionalPrinterColumns) ---------------------------------------------


def _json_cell(column_type: str, value: Any) -> Cell:
    """kube's ``cellForJSONValue``: a typed cell, or None when the value does not fit the type."""
    if value is None:
        return None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if column_type == "integer" and is_number:
        return int(value)
    if column_type == "number" and is_number:
        return float(value)
    if column_type == "boolean" and isinstance(value, bool):
        return value
    if column_type == "string" and isinstance(value, str):
        return value
    if column_type == "date" and isinstance(value, str):
        parsed = parse_timestamp(value)
        return "<invalid>" if parsed is None else value
    return None


def _printer_cell(column: PrinterColumn) -> _CellFn:
    try:
        path: JSONPath | None = parse(column.json_path)
    except JSONPathError:
        path = None  # kube rejects such CRDs; an unparsable column stays empty

    def cell(obj: Mapping[str, Any], now: datetime) -> Cell:
        if path is None:
            return None
        found = path.find(obj)
        if not found:
            return None
        value = found[0]  # kube uses the first result only
        if column.type == "string":
            return None if value is None else format_value(value)
        result = _json_cell(column.type, value)
        if column.type == "date" and isinstance(result, str) and result != "<invalid>":
            return _since(result, now)
        return result

    return cell


def _custom_columns(resource: ResourceInfo) -> tuple[_Column, ...]:
    columns = resource.printer_columns or (
        PrinterColumn(
            name="Age", type="date", json_path=".metadata.creationTimestamp", description=_CREATED_DOC
        ),
    )
    return (
        NAME,
        *(_Column(c.name, c.type, _printer_cell(c), c.description, c.format, c.priority) for c in columns),
    )


@functools.lru_cache(maxsize=512)
def _columns(resource: ResourceInfo) -> tuple[_Column, ...]:
    if resource.builtin:
        return _BUILTIN.get((resource.group, resource.kind), (NAME, CREATED_AT))
    return _custom_columns(resource)


def column_definitions(resource: ResourceInfo) -> list[dict[str, Any]]:
    """The ``columnDefinitions`` of ``resource``'s tables."""
    return [c.definition() for c in _columns(resource)]


def table_for(
    resource: ResourceInfo,
    objects: Sequence[Mapping[str, Any]],
    *,
    list_meta: Mapping[str, Any] | None = None,
    include_object: str = "Metadata",
    now: datetime | None = None,
    include_column_definitions: bool = True,
    wide: bool = True,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objects`` (one row each).

    ``include_object`` is the request's ``includeObject`` (``None``, ``Metadata`` — the default —
    or ``Object``); ``list_meta`` becomes the table's metadata (resourceVersion, continue, …);
    ``include_column_definitions=False`` leaves the columns out, as kube does for watch events
    after the first. ``wide=False`` drops ``priority`` > 0 columns; kube-apiserver always sends
    them (kubectl hides them unless ``-o wide``), so a faithful server keeps the default.
    Raises ``ValueError`` for an unknown ``include_object``.
    """
    if include_object not in INCLUDE_OBJECT_POLICIES:
        raise ValueError(
            f"includeObject: Unsupported value: {include_object!r}: supported values: "
            + ", ".join(f'"{p}"' for p in INCLUDE_OBJECT_POLICIES)
        )
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    columns = _columns(resource)
    row_cells = _event_row if columns is _EVENT else None
    if not wide and any(c.priority for c in columns):
        columns = tuple(c for c in columns if not c.priority)
        row_cells = None
    cells = [c.cell for c in columns]
    rows: list[dict[str, Any]] = []
    for obj in objects:
        row: dict[str, Any] = {
            "cells": row_cells(obj, now) if row_cells else [cell(obj, now) for cell in cells]
        }
        if include_object == "Metadata":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {}),
            }
        elif include_object == "Object":
            row["object"] = obj
        rows.append(row)
    table: dict[str, Any] = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_meta or {}),
    }
    if include_column_definitions:
        table["columnDefinitions"] = [c.definition() for c in columns]
    table["rows"] = rows
    return table
