"""Kubernetes object semantics over the store: the verbs every resource shares.

Why it exists: create/update/patch/delete behave the same for every kind — resourceVersion
concurrency, generation bumps on spec changes only, status vs main resource, finalizers and
deletionTimestamp, namespaces that must exist and not be terminating, dry-run, managedFields —
and kube-apiserver's behaviour there is what clients rely on. This module implements those rules
once, independent of HTTP; kind-specific behaviour plugs in through ``KindHooks``.

Every verb validates fully before it writes, and each write is a single SQLite transaction, so a
rejected request leaves nothing behind and a crash never leaves half an object.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from teapot.apiserver import errors
from teapot.apiserver.conversion import from_storage, needs_conversion, to_storage
from teapot.apiserver.errors import Cause
from teapot.apiserver.meta import generate_name, metadata_errors, now_rfc3339
from teapot.apiserver.registry import Registry, storage_key
from teapot.apiserver.resources import ResourceInfo
from teapot.apiserver.selectors import EVERYTHING, NO_FIELDS, FieldSelector, Selector
from teapot.apiserver.storage import Store, StoredObject
from teapot.apiserver.watch import ADDED, DELETED, MODIFIED, WatchEvent, WatchHub

Obj = dict[str, Any]

# Finalizers the server itself acts on.
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


@dataclass(frozen=True)
class WriteContext:
    """Who is writing and how: carried from the HTTP layer into every verb."""

    user: str = "system:admin"
    field_manager: str = ""
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    subresource: str = ""
    operation: str = "Update"  # "Apply" when server-side apply already computed managedFields


@dataclass
class Outcome:
    """The result of a write: the object as stored (or as it would be, under dry-run)."""

    obj: Obj
    created: bool = False
    deleted: bool = False
    warnings: list[str] = field(default_factory=list)


class Admission(Protocol):
    """Schema work for a resource: defaults, pruning, validation (CRD structural schemas)."""

    def admit(self, info: ResourceInfo, obj: Obj, old: Obj | None) -> tuple[list[Cause], list[str]]:
        """Default and prune ``obj`` in place; return (validation causes, pruned field paths)."""
        ...


class FieldManagers(Protocol):
    """managedFields bookkeeping (server-side apply's field ownership)."""

    def track(self, info: ResourceInfo, old: Obj | None, new: Obj, ctx: WriteContext, now: str) -> Obj: ...


class KindHooks(Protocol):
    """Kind-specific behaviour (Namespace, Secret, CRD …): optional callbacks around writes."""

    def before_write(self, info: ResourceInfo, obj: Obj, old: Obj | None) -> list[Cause]: ...

    def after_write(self, info: ResourceInfo, obj: Obj | None, old: Obj | None) -> None: ...


def _split_rv(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        return -1


def labels_of(obj: Obj) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def field_value(obj: Obj, path: str) -> str:
    """Value of a simple dotted JSON path (".spec.color") as a field-selector string."""
    cur: Any = obj
    for part in path.lstrip(".").split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict | list):
        return ""
    return str(cur)


def fields_of(info: ResourceInfo, obj: Obj) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    out = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", "")}
    for path in info.selectable_fields:
        if path == ".source":  # core Event's "source" selector means source.component
            out["source"] = field_value(obj, ".source.component")
            continue
        out[path.lstrip(".")] = field_value(obj, path)
    return out


def supported_fields(info: ResourceInfo) -> frozenset[str]:
    return frozenset(
        {"metadata.name", "metadata.namespace", *(p.lstrip(".") for p in info.selectable_fields)}
    )


def _strip_for_compare(obj: Obj, drop_status: bool) -> Obj:
    out = {k: v for k, v in obj.items() if k != "metadata" and not (drop_status and k == "status")}
    return out


def _owner_uids(obj: Obj) -> list[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [str(r.get("uid")) for r in refs if isinstance(r, dict) and r.get("uid")]


class ObjectService:
    """Implements the Kubernetes verbs on top of ``Store`` and publishes changes to ``WatchHub``."""

    def __init__(
        self,
        store: Store,
        hub: WatchHub,
        registry: Registry,
        *,
        admission: Admission | None = None,
        field_managers: FieldManagers | None = None,
        hooks: KindHooks | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.hub = hub
        self.registry = registry
        self.admission = admission
        self.field_managers = field_managers
        self.hooks = hooks
        self.clock = clock
        self.on_change: list[Callable[[ResourceInfo, str, Obj | None, Obj | None], None]] = []

    # -- helpers -----------------------------------------------------------------------------
    def _key(self, info: ResourceInfo) -> str:
        return storage_key(info)

    def decode(self, info: ResourceInfo, stored: StoredObject) -> Obj:
        """A stored object as a client of ``info`` sees it (``conversion``)."""
        return from_storage(info, orjson.loads(stored.data))

    def stored_fields(self, info: ResourceInfo, stored_obj: Obj) -> dict[str, str]:
        """Selectable field values of a stored object for every view of it (watch filters need all)."""
        views = self.registry.views(self._key(info)) or [info]
        if len(views) == 1 and not needs_conversion(views[0]):
            return fields_of(views[0], stored_obj)
        out: dict[str, str] = {}
        for view in views:
            out.update(fields_of(view, from_storage(view, dict(stored_obj))))
        return out

    def _tracks_generation(self, info: ResourceInfo) -> bool:
        return not info.builtin or info.kind == "CustomResourceDefinition"

    def _has_status(self, info: ResourceInfo) -> bool:
        return "status" in info.subresources

    def get_stored(self, info: ResourceInfo, namespace: str, name: str) -> StoredObject | None:
        return self.store.get(self._key(info), namespace if info.namespaced else "", name)

    def get(self, info: ResourceInfo, namespace: str, name: str) -> Obj:
        stored = self.get_stored(info, namespace, name)
        if stored is None:
            raise errors.not_found(info.resource, info.group, name)
        return self.decode(info, stored)

    def check_namespace(self, info: ResourceInfo, namespace: str, creating: bool) -> None:
        if not info.namespaced:
            return
        ns = self.store.get("/namespaces", "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if creating:
            meta = orjson.loads(ns.data).get("metadata", {})
            if meta.get("deletionTimestamp"):
                err = errors.forbidden(
                    f'{info.resource} "" is forbidden: unable to create new content in namespace {namespace} '
                    "because it is being terminated",
                    info.group,
                    info.resource,
                )
                err.causes.append(
                    Cause(
                        "NamespaceTerminating",
                        f"namespace {namespace} is being terminated",
                        "metadata.namespace",
                    )
                )
                raise err

    def _check_identity(self, info: ResourceInfo, obj: Obj, namespace: str) -> None:
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON or YAML object")
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if kind and kind != info.kind:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({info.group_version})"
                if api_version and api_version != info.group_version
                else f'the kind in the data ("{kind}") does not match the expected kind ("{info.kind}")'
            )
        if api_version and api_version != info.group_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({info.group_version})"
            )
        obj["apiVersion"] = info.group_version
        obj["kind"] = info.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if info.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    def _admit(self, info: ResourceInfo, obj: Obj, old: Obj | None, ctx: WriteContext) -> list[str]:
        meta = obj["metadata"]
        causes = metadata_errors(info.kind, info.group, meta)
        warnings: list[str] = []
        if self.hooks is not None:
            causes += self.hooks.before_write(info, obj, old)
        if self.admission is not None:
            more, pruned = self.admission.admit(info, obj, old)
            causes += more
            if pruned and ctx.field_validation == "Strict":
                raise errors.bad_request(
                    "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in pruned)
                )
            if pruned and ctx.field_validation == "Warn":
                warnings += [f'unknown field "{p}"' for p in pruned]
        if causes:
            raise errors.invalid(info.kind, info.group, str(meta.get("name", "")), causes)
        return warnings

    def _serialize_and_write(self, info: ResourceInfo, obj: Obj, old: Obj | None, ctx: WriteContext) -> None:
        meta = obj["metadata"]
        rv = self.store.next_rv()
        meta["resourceVersion"] = str(rv)
        if ctx.dry_run:
            return
        stored_obj = to_storage(info, obj)
        data = orjson.dumps(stored_obj)
        labels = labels_of(obj)
        old_owners = _owner_uids(old) if old is not None else []
        new_owners = _owner_uids(obj)
        self.store.put(
            self._key(info),
            meta.get("namespace", ""),
            meta["name"],
            rv=rv,
            uid=meta["uid"],
            labels=orjson.dumps(labels).decode() if labels else None,
            data=data,
            owner_uids=new_owners,
            owners_changed=old is None or old_owners != new_owners,
        )
        self._publish(info, ADDED if old is None else MODIFIED, obj, old, data, rv, stored_obj)

    def _publish(
        self,
        info: ResourceInfo,
        kind: str,
        obj: Obj,
        old: Obj | None,
        data: bytes,
        rv: int,
        stored_obj: Obj,
    ) -> None:
        """Publish a committed write; ``data``/``stored_obj`` are the stored form, the rest ``info``'s."""
        meta = obj["metadata"]
        modified = old is not None and kind == MODIFIED
        ev = WatchEvent(
            rv=rv,
            type=kind,
            namespace=meta.get("namespace", ""),
            name=meta["name"],
            labels=labels_of(obj),
            fields=self.stored_fields(info, stored_obj),
            data=data,
            old_labels=labels_of(old) if old is not None and modified else None,
            old_fields=self.stored_fields(info, to_storage(info, old))
            if old is not None and modified
            else None,
        )
        self.hub.publish(self._key(info), ev)
        # For deletions the callbacks get (obj=None, old=<final state>).
        new_state, old_state = (None, obj) if kind == DELETED else (obj, old)
        if self.hooks is not None:
            self.hooks.after_write(info, new_state, old_state)
        for cb in self.on_change:
            cb(info, kind, new_state, old_state)

    # -- create --------------------------------------------------------------------------------
    def create(self, info: ResourceInfo, namespace: str, obj: Obj, ctx: WriteContext) -> Outcome:
        self._check_identity(info, obj, namespace)
        meta = obj["metadata"]
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        generated = not meta.get("name") and bool(meta.get("generateName"))
        if generated:
            meta["name"] = generate_name(str(meta["generateName"]))
        self.check_namespace(info, namespace, creating=True)
        now = now_rfc3339(self.clock())
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(k, None)
        if self._tracks_generation(info):
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if not info.builtin and self._has_status(info):
            obj.pop("status", None)
        warnings = self._admit(info, obj, None, ctx)
        name = meta.get("name", "")
        # A generated name that is taken is generated again (kube retries up to 8 times in all).
        for _ in range(7 if generated else 0):
            if self.get_stored(info, namespace, name) is None:
                break
            name = meta["name"] = generate_name(str(meta["generateName"]))
        if self.get_stored(info, namespace, name) is not None:
            raise errors.already_exists(info.resource, info.group, name)
        if self.field_managers is not None:
            obj = self.field_managers.track(info, None, obj, ctx, now)
        self._serialize_and_write(info, obj, None, ctx)
        return Outcome(obj, created=True, warnings=warnings)

    # -- update ----------------------------------------------------------------------------------
    def update(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        obj: Obj,
        ctx: WriteContext,
        *,
        old: Obj | None = None,
        allow_create: bool = False,
    ) -> Outcome:
        """PUT semantics (also the last step of PATCH, which passes the ``old`` it patched)."""
        self._check_identity(info, obj, namespace)
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        if old is None:
            stored = self.get_stored(info, namespace, name)
            if stored is None:
                if allow_create:
                    meta.pop("resourceVersion", None)
                    return self.create(info, namespace, obj, ctx)
                raise errors.not_found(info.resource, info.group, name)
            old = self.decode(info, stored)
        old_meta = old["metadata"]
        want_rv = _split_rv(meta.get("resourceVersion"))
        if want_rv is not None and str(want_rv) != old_meta.get("resourceVersion"):
            raise errors.modified_conflict(info.resource, info.group, name)
        if meta.get("uid") and meta["uid"] != old_meta.get("uid"):
            raise errors.conflict(
                info.resource,
                info.group,
                name,
                f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: {old_meta.get('uid')}",
            )
        sub = ctx.subresource
        if sub == "status":
            new = copy.deepcopy(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            if self.field_managers is not None and "managedFields" in meta:
                new["metadata"]["managedFields"] = meta["managedFields"]
            obj = new
            meta = obj["metadata"]
        else:
            if self._has_status(info):
                if "status" in old:
                    obj["status"] = copy.deepcopy(old["status"])
                else:
                    obj.pop("status", None)
            if info.group == "" and info.kind == "Namespace" and sub != "finalize":
                # kube: a Namespace's spec.finalizers change only through its /finalize subresource
                old_finalizers = (old.get("spec") or {}).get("finalizers")
                spec = obj.get("spec")
                if not isinstance(spec, dict):
                    spec = obj["spec"] = {}
                if old_finalizers is None:
                    spec.pop("finalizers", None)
                else:
                    spec["finalizers"] = copy.deepcopy(old_finalizers)
            # fields the server owns
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
                if k in old_meta:
                    meta[k] = old_meta[k]
                else:
                    meta.pop(k, None)
            if self._tracks_generation(info):
                meta["generation"] = old_meta.get("generation", 1)
            else:
                meta.pop("generation", None)
            if old_meta.get("deletionTimestamp"):
                added = [
                    f for f in meta.get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])
                ]
                if added:
                    raise errors.invalid(
                        info.kind,
                        info.group,
                        name,
                        [
                            Cause(
                                "FieldValueForbidden",
                                "metadata.finalizers: Forbidden: no new finalizers can be added if the object is "
                                f"being deleted, found new finalizers []string{{{', '.join(repr(a) for a in added)}}}",
                                "metadata.finalizers",
                            )
                        ],
                    )
        warnings = self._admit(info, obj, old, ctx)
        if self._tracks_generation(info) and sub != "status":
            drop_status = self._has_status(info)
            if _strip_for_compare(obj, drop_status) != _strip_for_compare(old, drop_status):
                meta["generation"] = int(old_meta.get("generation", 1)) + 1
        now = now_rfc3339(self.clock())
        if self.field_managers is not None:
            obj = self.field_managers.track(info, old, obj, ctx, now)
            meta = obj["metadata"]
        # A no-op write keeps the old resourceVersion, like kube (controllers rely on it).
        meta["resourceVersion"] = old_meta.get("resourceVersion")
        if _without_managed_times(obj) == _without_managed_times(old):
            return Outcome(old, warnings=warnings)
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not self._deletion_finalizers(info, obj)
        ):
            return self._remove(info, obj, ctx, warnings)
        self._serialize_and_write(info, obj, old, ctx)
        return Outcome(obj, warnings=warnings)

    # -- delete ----------------------------------------------------------------------------------
    def delete(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        ctx: WriteContext,
        *,
        propagation: str | None = None,
        precondition_uid: str | None = None,
        precondition_rv: str | None = None,
    ) -> Outcome:
        stored = self.get_stored(info, namespace, name)
        if stored is None:
            raise errors.not_found(info.resource, info.group, name)
        old = self.decode(info, stored)
        meta = old["metadata"]
        if precondition_uid and precondition_uid != meta.get("uid"):
            raise errors.conflict(
                info.resource,
                info.group,
                name,
                f"Precondition failed: UID in precondition: {precondition_uid}, UID in object meta: {meta.get('uid')}",
            )
        if precondition_rv and precondition_rv != meta.get("resourceVersion"):
            raise errors.conflict(
                info.resource,
                info.group,
                name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{precondition_rv}, ResourceVersion in object meta: {meta.get('resourceVersion')}",
            )
        finalizers = list(meta.get("finalizers") or [])
        if propagation not in (None, "", "Foreground", "Background", "Orphan"):
            raise errors.bad_request(
                f'unsupported propagationPolicy "{propagation}": use Foreground, Background or Orphan'
            )
        if propagation == "Foreground":
            finalizers = [f for f in finalizers if f != ORPHAN]
            if FOREGROUND not in finalizers:
                finalizers.append(FOREGROUND)
        elif propagation == "Orphan":
            finalizers = [f for f in finalizers if f != FOREGROUND]
            if ORPHAN not in finalizers:
                finalizers.append(ORPHAN)
        elif propagation == "Background":
            finalizers = [f for f in finalizers if f not in (FOREGROUND, ORPHAN)]
        # kind-specific finalizers (a Namespace's spec.finalizers) defer deletion without being metadata
        if finalizers or self._deletion_finalizers(info, old):
            new = copy.deepcopy(old)
            nmeta = new["metadata"]
            changed = False
            if not nmeta.get("deletionTimestamp"):
                nmeta["deletionTimestamp"] = now_rfc3339(self.clock())
                nmeta["deletionGracePeriodSeconds"] = 0
                if self._tracks_generation(info):
                    nmeta["generation"] = int(nmeta.get("generation", 1)) + 1
                changed = True
            if finalizers != (nmeta.get("finalizers") or []):
                if finalizers:
                    nmeta["finalizers"] = finalizers
                else:
                    nmeta.pop("finalizers", None)
                changed = True
            if info.kind == "Namespace" and info.group == "":
                new.setdefault("status", {})["phase"] = "Terminating"
            if changed:
                self._serialize_and_write(info, new, old, ctx)
            return Outcome(new)
        return self._remove(info, old, ctx, [])

    def _deletion_finalizers(self, info: ResourceInfo, obj: Obj) -> list[str]:
        if info.group == "" and info.kind == "Namespace":
            return ["kubernetes"] if "kubernetes" in ((obj.get("spec") or {}).get("finalizers") or []) else []
        return []

    def _remove(self, info: ResourceInfo, obj: Obj, ctx: WriteContext, warnings: list[str]) -> Outcome:
        meta = obj["metadata"]
        rv = self.store.next_rv()
        if ctx.dry_run:
            return Outcome(obj, deleted=True, warnings=warnings)
        final = dict(obj)
        final["metadata"] = dict(meta, resourceVersion=str(rv))
        self.store.delete(self._key(info), meta.get("namespace", ""), meta["name"], rv=rv)
        stored_final = to_storage(info, final)
        self._publish(info, DELETED, final, None, orjson.dumps(stored_final), rv, stored_final)
        return Outcome(final, deleted=True, warnings=warnings)

    # -- list ------------------------------------------------------------------------------------
    def list(
        self,
        info: ResourceInfo,
        namespace: str | None,
        *,
        labels: Selector = EVERYTHING,
        fields: FieldSelector = NO_FIELDS,
        limit: int | None = None,
        after: tuple[str, str] | None = None,
        snapshot: int | None = None,
    ) -> tuple[list[StoredObject], tuple[str, str] | None, int | None]:
        """Matching objects in key order: (page, next paging key or None, remaining count or None).

        ``snapshot``: the revision a paged list started at; objects created later are left out. The
        remaining count is only known (and, like kube, only reported) for unfiltered lists.
        """
        ns_pin = fields.exact("metadata.namespace")
        if namespace is None and ns_pin is not None:
            namespace = ns_pin
        name_pin = fields.exact("metadata.name")
        out: list[StoredObject] = []
        key = self._key(info)
        cursor = after
        batch = max(limit or 500, 100)
        filtered = not labels.empty or not fields.empty
        while True:
            rows = self.store.list(
                key, namespace, after=cursor, limit=batch, name=name_pin, created_by=snapshot
            )
            for row in rows:
                if filtered and not self._matches(info, row, labels, fields):
                    continue
                if limit is not None and len(out) >= limit:
                    # one more match exists beyond the page
                    last = (out[-1].namespace, out[-1].name)
                    if filtered:
                        return out, last, None
                    remaining = self.store.count(
                        key, namespace, after=last, name=name_pin, created_by=snapshot
                    )
                    return out, last, remaining
                out.append(row)
            if len(rows) < batch:
                return out, None, 0
            cursor = (rows[-1].namespace, rows[-1].name)

    def _matches(
        self, info: ResourceInfo, row: StoredObject, labels: Selector, fields: FieldSelector
    ) -> bool:
        if not labels.empty and not labels.matches(orjson.loads(row.labels) if row.labels else {}):
            return False
        return fields.empty or fields.matches(fields_of(info, self.decode(info, row)))

    def all_objects(self, info: ResourceInfo, namespace: str | None = None) -> Iterable[Obj]:
        for row in self.store.list(self._key(info), namespace):
            yield self.decode(info, row)


def _without_managed_times(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    mf = meta.get("managedFields")
    if not mf:
        return obj
    out = dict(obj)
    out["metadata"] = dict(meta, managedFields=[{k: v for k, v in e.items() if k != "time"} for e in mf])
    return out
