"""``metadata.managedFields``: who owns which field, updated on every create, update and patch.

Why it exists: server-side apply is only as good as the ownership records it reads, and those are
written by *every* write, not just by applies. This module decodes and encodes ``managedFields``
entries the way kube-apiserver's fieldmanager does (manager identity = manager, operation,
subresource and, for updates, apiVersion; entries sorted by operation, time, manager; at most ten
update entries, older ones folded into ``ancient-changes``) and implements the update rule: a writer
takes ownership of every field it added or changed, other managers lose those fields, and everybody
loses fields that were removed. Server-managed metadata (uid, resourceVersion, generation, ...) is
never owned.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from teapot.apiserver.merge import fieldset
from teapot.apiserver.merge.fieldset import Node
from teapot.apiserver.merge.schema import MergeSchema
from teapot.apiserver.merge.typed import compare

Operation = Literal["Apply", "Update"]

MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"

# Fields a writer never owns (kube's stripMetaManager), plus the deletion markers that only the server
# sets. A set, so "metadata" itself is removed but not what other managers own below it.
STRIPPED: Node = {
    "f:apiVersion": {},
    "f:kind": {},
    "f:metadata": {
        ".": {},
        "f:name": {},
        "f:namespace": {},
        "f:creationTimestamp": {},
        "f:selfLink": {},
        "f:uid": {},
        "f:clusterName": {},
        "f:generation": {},
        "f:managedFields": {},
        "f:resourceVersion": {},
        "f:deletionTimestamp": {},
        "f:deletionGracePeriodSeconds": {},
    },
}


def manager_name(field_manager: str, user_agent: str) -> str:
    """The manager of a write: ``?fieldManager=`` if given, else the user agent up to its first ``/``
    with unprintable characters dropped, at most 128 bytes (kube's ``managerOrUserAgent``)."""
    if field_manager:
        return field_manager
    out: list[str] = []
    size = 0
    for ch in user_agent.split("/", 1)[0]:
        if not ch.isprintable():
            continue
        width = len(ch.encode())
        if size + width > 128:
            break
        out.append(ch)
        size += width
    return "".join(out)


class ManagedFieldsError(ValueError):
    """A ``managedFields`` list that cannot be decoded (kube's messages)."""


@dataclass(frozen=True)
class ManagedEntry:
    """One decoded ``managedFields`` entry."""

    manager: str
    operation: Operation
    api_version: str
    time: str | None
    fields: Node
    subresource: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The manager identity: appliers are one manager whatever apiVersion they apply at."""
        version = "" if self.operation == "Apply" else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def describe(self) -> str:
        """How kube names this manager in conflict messages."""
        text = f'"{self.manager}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = self.fields
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def decode(raw: Any, *, canonicalize: bool = False) -> list[ManagedEntry]:
    """Decode a ``managedFields`` list; ``canonicalize`` re-encodes client-written ``k:`` keys."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ManagedFieldsError("managedFields must be a list")
    out: list[ManagedEntry] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ManagedFieldsError(f"managed fields entry {i} must be an object")
        operation = item.get("operation")
        if operation not in ("Apply", "Update"):
            raise ManagedFieldsError("operation must be `Apply` or `Update`")
        api_version = item.get("apiVersion")
        if not isinstance(api_version, str) or not api_version:
            raise ManagedFieldsError("apiVersion must not be empty")
        fields_type = item.get("fieldsType", "")
        if fields_type == "":
            raise ManagedFieldsError(f"missing fieldsType in managed fields entry {i}")
        if fields_type != "FieldsV1":
            raise ManagedFieldsError(f'invalid fieldsType "{fields_type}" in managed fields entry {i}')
        fields = item.get("fieldsV1") or {}
        if not isinstance(fields, dict):
            raise ManagedFieldsError(f"error decoding fieldsV1 of managed fields entry {i}")
        time = item.get("time")
        out.append(
            ManagedEntry(
                manager=str(item.get("manager", "")),
                operation=operation,
                api_version=api_version,
                time=time if isinstance(time, str) else None,
                fields=fieldset.canonical(fields) if canonicalize else fields,
                subresource=str(item.get("subresource", "")),
            )
        )
    return _dedupe(out)


def _dedupe(entries: list[ManagedEntry]) -> list[ManagedEntry]:
    """Later entries with the same identity replace earlier ones, like kube's map of managers."""
    by_key: dict[tuple[str, str, str, str], ManagedEntry] = {}
    for entry in entries:
        by_key[entry.key] = entry
    return list(by_key.values()) if len(by_key) != len(entries) else entries


def encode(entries: list[ManagedEntry]) -> list[dict[str, Any]]:
    """Entries as stored: empty ones dropped, sorted like kube (operation, time, manager, ...)."""
    kept = [e for e in entries if e.fields]
    kept.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    return [e.to_dict() for e in kept]


def _is_reset(raw: Any) -> bool:
    """``managedFields: [{}]`` is kube's documented way to clear all ownership."""
    return isinstance(raw, list) and len(raw) == 1 and raw[0] == {}


def without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy of ``obj`` whose metadata has no ``managedFields``."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def with_managed_fields(obj: dict[str, Any], entries: list[ManagedEntry]) -> dict[str, Any]:
    """A copy of ``obj`` (fresh top level and metadata) carrying ``entries``."""
    meta = obj.get("metadata")
    new_meta = dict(meta) if isinstance(meta, dict) else {}
    encoded = encode(entries)
    if encoded:
        new_meta["managedFields"] = encoded
    else:
        new_meta.pop("managedFields", None)
    return {**obj, "metadata": new_meta}


def cap_update_managers(entries: list[ManagedEntry], limit: int = MAX_UPDATE_MANAGERS) -> list[ManagedEntry]:
    """Fold the oldest update entries into per-version ``ancient-changes`` entries (kube's capManagers)."""
    updaters = [e for e in entries if e.operation == "Update"]
    if len(updaters) <= limit:
        return entries
    updaters.sort(key=lambda e: (e.time or "", e.key))
    current = {e.key: e for e in entries}
    first_by_version: dict[str, tuple[str, str, str, str]] = {}
    length = len(updaters)
    for entry in updaters:
        if length <= limit:
            break
        bucket_key = (ANCIENT_CHANGES, "Update", entry.api_version, "")
        first = first_by_version.get(entry.api_version)
        if first is None:
            first_by_version[entry.api_version] = entry.key
            continue
        bucket = current.get(bucket_key)
        if bucket is None:
            seed = current.pop(first)
            bucket = replace(seed, manager=ANCIENT_CHANGES, subresource="")
        current.pop(entry.key, None)
        current[bucket_key] = replace(
            bucket, fields=fieldset.union(entry.fields, bucket.fields), time=entry.time
        )
        length -= 1
    return list(current.values())


def update_managed_fields(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    operation: Literal["Update"] = "Update",
    api_version: str,
    subresource: str = "",
    schema: MergeSchema,
    now: str,
    ignored: tuple[tuple[str, ...], ...] = (),
) -> dict[str, Any]:
    """``new`` with ``metadata.managedFields`` updated for a create (``old`` None), update or patch.

    ``manager`` takes ownership of every field it added or changed; other managers lose those fields
    and every manager loses removed fields. ``managedFields`` sent in ``new`` replace the stored ones
    (unless empty, or on a subresource); ``[{}]`` clears them. ``ignored`` names field paths the
    write cannot own (the reset fields of the endpoint, e.g. ``(("status",),)`` for the main resource
    of a kind with a status subresource, ``(("spec",),)`` for the status subresource). Call it with the
    object as it will be stored; the result shares unchanged sub-trees with ``new``.
    """
    new_meta = new.get("metadata")
    requested = new_meta.get("managedFields") if isinstance(new_meta, dict) else None
    old_raw = (old.get("metadata") or {}).get("managedFields") if old is not None else None
    sent = _sent_entries(requested, old_raw, subresource)

    before = without_managed_fields(old) if old is not None else {}
    after = without_managed_fields(new)
    diff = compare(before, after, schema)
    own = fieldset.difference(diff.changed(), STRIPPED)
    removed = fieldset.difference(diff.removed, STRIPPED)
    if ignored:
        own = fieldset.without_prefixes(own, ignored)
        removed = fieldset.without_prefixes(removed, ignored)
    if sent is None and not own and not removed:
        # Nobody's ownership changes (the common status/no-op write): keep the stored list as is.
        return _with_raw(new, old_raw)

    if sent is not None:
        entries = sent
    else:
        try:
            entries = decode(old_raw)
        except ManagedFieldsError:
            entries = []  # kube's UpdateNoErrors: never fail a write over bad bookkeeping
    if own or removed:
        entries = _lose(entries, own, removed)
    if own:
        entries = _take(entries, manager, operation, api_version, subresource, own, now)
    return with_managed_fields(new, cap_update_managers(entries))


def _with_raw(obj: dict[str, Any], raw: Any) -> dict[str, Any]:
    meta = obj.get("metadata")
    new_meta = dict(meta) if isinstance(meta, dict) else {}
    if raw:
        new_meta["managedFields"] = raw
    else:
        new_meta.pop("managedFields", None)
    return {**obj, "metadata": new_meta}


def _sent_entries(requested: Any, old_raw: Any, subresource: str) -> list[ManagedEntry] | None:
    """Entries the client sent to replace the stored ones, or None to keep the stored ones."""
    if _is_reset(requested):
        return []
    if not requested or subresource or requested is old_raw or requested == old_raw:
        return None
    try:
        decoded = decode(requested, canonicalize=True)
    except ManagedFieldsError:
        return None
    return decoded or None


def _lose(entries: list[ManagedEntry], changed: Node, removed: Node) -> list[ManagedEntry]:
    out: list[ManagedEntry] = []
    for entry in entries:
        fields = fieldset.difference(fieldset.difference(entry.fields, changed), removed)
        if fields is entry.fields:
            out.append(entry)
        elif fields:
            out.append(replace(entry, fields=fields))
    return out


def _take(
    entries: list[ManagedEntry],
    manager: str,
    operation: Operation,
    api_version: str,
    subresource: str,
    own: Node,
    now: str,
) -> list[ManagedEntry]:
    mine = ManagedEntry(manager, operation, api_version, now, own, subresource)
    out: list[ManagedEntry] = []
    found = False
    for entry in entries:
        if entry.key == mine.key:
            out.append(replace(mine, fields=fieldset.union(entry.fields, own)))
            found = True
        else:
            out.append(entry)
    if not found:
        out.append(mine)
    return out
