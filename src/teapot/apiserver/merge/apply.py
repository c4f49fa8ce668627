"""Server-side apply (``application/apply-patch+yaml``): merge a manager's intent, own it, prune the rest.

Why it exists: ``kubectl apply --server-side`` and controllers that apply their desired state rely on
the apiserver to remember which manager set which field. This is kube-apiserver's fieldmanager
``Apply`` path over structured-merge-diff, as a pure function: the applied configuration is merged onto
the live object, the manager's owned set becomes exactly the fields it applied, fields it applied
before but no longer applies are removed unless someone else owns them, and changing a value another
manager owns is a conflict unless ``force`` moves ownership. Applying the value already there shares
ownership instead.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from teapot.apiserver.errors import Cause, StatusError, bad_request, internal
from teapot.apiserver.merge import fieldset
from teapot.apiserver.merge.fieldset import Node
from teapot.apiserver.merge.managed import (
    STRIPPED,
    ManagedEntry,
    ManagedFieldsError,
    cap_update_managers,
    decode,
    with_managed_fields,
    without_managed_fields,
)
from teapot.apiserver.merge.schema import MergeSchema
from teapot.apiserver.merge.typed import (
    InvalidListError,
    compare,
    ensure_named_fields,
    merge,
    remove_items,
    to_field_set,
)

MAX_MANAGER_LENGTH = 128
_ABSENT: Any = object()

# The object's identity survives any prune, even of an apply that sent no metadata at all.
_NEVER_PRUNED: Node = {"f:apiVersion": {}, "f:kind": {}, "f:metadata": {}}


class ApplyConflict(StatusError):
    """409 Conflict: the apply would change fields other managers own.

    ``conflicts`` lists ``(manager, path)`` pairs, e.g. ``("kubectl-client-side-apply", ".spec.replicas")``.
    """

    conflicts: list[tuple[str, str]]

    def __init__(self, found: list[tuple[ManagedEntry, str]]) -> None:
        super().__init__(
            409,
            "Conflict",
            _conflict_message(found),
            causes=[Cause("FieldManagerConflict", f"conflict with {e.describe()}", p) for e, p in found],
        )
        self.conflicts = [(entry.manager, path) for entry, path in found]


def _conflict_message(found: list[tuple[ManagedEntry, str]]) -> str:
    if len(found) == 1:
        entry, path = found[0]
        return f"Apply failed with 1 conflict: conflict with {entry.describe()}: {path}"
    lines: list[str] = []
    current: ManagedEntry | None = None
    for entry, path in found:
        if entry is not current:
            lines.append(f"conflicts with {entry.describe()}:")
            current = entry
        lines.append(f"- {path}")
    return f"Apply failed with {len(found)} conflicts: " + "\n".join(lines)


def _identity(entry: ManagedEntry) -> str:
    """kube sorts conflicting managers by their JSON identity (manager name first)."""
    return json.dumps([entry.manager, entry.operation, entry.key[2], entry.subresource])


def _check_applied(applied: Any, api_version: str, manager: str) -> dict[str, Any]:
    if not manager:
        raise StatusError(
            422,
            "Invalid",
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
            causes=[
                Cause("FieldValueRequired", "Required value: is required for apply patch", "fieldManager")
            ],
        )
    if len(manager) > MAX_MANAGER_LENGTH:
        raise bad_request(f"fieldManager: Too long: may not be more than {MAX_MANAGER_LENGTH} bytes")
    if not isinstance(applied, dict):
        raise bad_request("error decoding YAML: the apply patch must be an object")
    if "kind" not in applied or not applied.get("kind"):
        raise bad_request("Object 'Kind' is missing in the apply patch")
    if applied.get("apiVersion") != api_version:
        raise bad_request(
            "Incorrect version specified in apply patch. "
            f"Specified patch version: {applied.get('apiVersion') or ''}, expected: {api_version}"
        )
    meta = applied.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    return applied


def server_side_apply(
    live: dict[str, Any] | None,
    applied: Any,
    *,
    manager: str,
    api_version: str,
    force: bool,
    schema: MergeSchema,
    now: str,
    subresource: str = "",
    ignored: tuple[tuple[str, ...], ...] = (),
) -> dict[str, Any]:
    """The object after ``manager`` applies ``applied`` to ``live`` (None: the apply creates it).

    Returns the merged object with ``metadata.managedFields`` updated; the caller still sets
    server-managed metadata (uid, resourceVersion, generation, ...) and validates. A ``resourceVersion``
    in ``applied`` is merged like any field: treat it as a precondition before storing. ``ignored``
    names the endpoint's reset fields (see ``update_managed_fields``): they keep their live values
    (absent on create) and nobody gains ownership of them. Raises ``ApplyConflict`` (409) and
    ``StatusError`` 400/422 for malformed applies.
    """
    config = _check_applied(applied, api_version, manager)
    try:
        entries = decode((live.get("metadata") or {}).get("managedFields")) if live is not None else []
    except ManagedFieldsError as exc:
        raise internal(f"failed to decode managed fields: {exc}") from exc
    base = without_managed_fields(live) if live is not None else {}

    try:
        applied_set = to_field_set(config, schema)
    except InvalidListError as exc:
        kind = config.get("kind", "")
        raise bad_request(f"failed to create typed patch object ({api_version}, Kind={kind}): {exc}") from exc
    if ignored:
        applied_set = fieldset.without_prefixes(applied_set, ignored)
    # Pruning sees the full applied set (kube strips metadata only afterwards), so the object's
    # identity is never pruned; what the manager is recorded to own is the stripped set.
    full_set = applied_set
    applied_set = fieldset.difference(applied_set, STRIPPED)

    mine_key = (manager, "Apply", "", subresource)
    previous = next((e for e in entries if e.key == mine_key), None)
    others = [e for e in entries if e.key != mine_key]

    merged = merge(base, config, schema)
    if ignored:
        merged = _reset(merged, base, ignored)
    if previous is not None and previous.fields:
        merged = _prune(merged, previous.fields, full_set, others, schema)

    diff = compare(base, merged, schema)
    changed = diff.changed()
    removed = diff.removed
    if ignored:
        changed = fieldset.without_prefixes(changed, ignored)
        removed = fieldset.without_prefixes(removed, ignored)

    found: list[tuple[ManagedEntry, str]] = []
    conflicting: dict[tuple[str, str, str, str], Node] = {}
    for entry in sorted(others, key=_identity):
        overlap = fieldset.intersection(entry.fields, changed)
        if overlap:
            conflicting[entry.key] = overlap
            found.extend((entry, fieldset.path_to_string(p)) for p in fieldset.iter_paths(overlap))
    if found and not force:
        raise ApplyConflict(found)

    kept: list[ManagedEntry] = []
    for entry in others:
        fields = entry.fields
        lost = conflicting.get(entry.key)
        if lost:
            fields = fieldset.difference(fields, lost)
        if removed:
            fields = fieldset.difference(fields, removed)
        if fields:
            kept.append(entry if fields is entry.fields else replace(entry, fields=fields))

    object_changed = not diff.is_empty()
    time = now if object_changed or previous is None else previous.time
    if applied_set:
        kept.append(ManagedEntry(manager, "Apply", api_version, time, applied_set, subresource))
    return with_managed_fields(merged, cap_update_managers(kept))


def _reset(
    merged: dict[str, Any], base: dict[str, Any], ignored: tuple[tuple[str, ...], ...]
) -> dict[str, Any]:
    """Put back the live values of the endpoint's reset fields (what the strategy would do anyway)."""
    for path in ignored:
        if path:
            merged = _reset_path(merged, base, path)
    return merged


def _reset_path(merged: dict[str, Any], base: Any, path: tuple[str, ...]) -> dict[str, Any]:
    key = path[0]
    live = base.get(key, _ABSENT) if isinstance(base, dict) else _ABSENT
    current = merged.get(key, _ABSENT)
    if len(path) > 1 and isinstance(current, dict):
        restored: Any = _reset_path(current, live, path[1:])
    else:
        restored = live
    if restored is current:
        return merged
    out = dict(merged)
    if restored is _ABSENT:
        out.pop(key, None)
    else:
        out[key] = restored
    return out


def _prune(
    merged: dict[str, Any],
    last: Node,
    applied_set: Node,
    others: list[ManagedEntry],
    schema: MergeSchema,
) -> dict[str, Any]:
    """Remove what the manager applied last time, no longer applies, and nobody else owns."""
    candidates = fieldset.difference(
        ensure_named_fields(last, schema), ensure_named_fields(applied_set, schema)
    )
    candidates = fieldset.difference(candidates, _NEVER_PRUNED)
    if not candidates:
        return merged
    owned: Node = {}
    for entry in others:
        owned = fieldset.union(owned, entry.fields)
    if owned:
        candidates = fieldset.difference(candidates, ensure_named_fields(owned, schema))
    if not candidates:
        return merged
    result: dict[str, Any] = remove_items(merged, candidates, schema)
    return result
