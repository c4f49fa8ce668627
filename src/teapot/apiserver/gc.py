"""The server's own controllers: garbage collection, namespace and CRD finalization.

Why it exists: in Kubernetes, deleting an owner deletes its dependents (background, foreground with
``blockOwnerDeletion``, or orphaning them), deleting a namespace deletes everything in it, and
deleting a CRD deletes its instances. kube-controller-manager and the apiextensions server do that;
the embedded server has no controller manager, so it does it here, level-triggered: every pass reads
the stored state, takes the next steps and writes through ``ObjectService`` like any client would.
A restart re-derives all pending work from storage, so a crash never strands an object.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from typing import Any

import orjson

from teapot.apiserver.conversion import storage_key
from teapot.apiserver.errors import StatusError
from teapot.apiserver.kinds import CRD_CLEANUP_FINALIZER
from teapot.apiserver.objects import FOREGROUND, ORPHAN, ObjectService, WriteContext
from teapot.apiserver.resources import ResourceInfo
from teapot.apiserver.watch import DELETED

log = logging.getLogger("teapot.apiserver.gc")
Obj = dict[str, Any]
_CTX = WriteContext(
    user="system:serviceaccount:kube-system:generic-garbage-collector", field_manager="teapot-apiserver"
)

_FINALIZE = dataclasses.replace(_CTX, subresource="finalize")  # only /finalize changes spec.finalizers
_SCAN_PAGE = 1000

# Work items: (kind, storage resource key, namespace, name, uid)
Item = tuple[str, str, str, str, str]


class Collector:
    def __init__(self, objects: ObjectService) -> None:
        self.objects = objects
        self._queue: deque[Item] = deque()
        self._queued: set[Item] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        objects.on_change.append(self._observe)

    # -- triggers ------------------------------------------------------------------------------------
    def _push(self, item: Item) -> None:
        if item not in self._queued:
            self._queued.add(item)
            self._queue.append(item)
            self._wake.set()

    def _observe(self, info: ResourceInfo, kind: str, obj: Obj | None, old: Obj | None) -> None:
        key = storage_key(info)
        if kind == DELETED:
            uid = ((old or {}).get("metadata") or {}).get("uid", "")
            # ObjectService passes the final object as `obj=None, old=None` for deletions; look up via store
            if uid:
                self._push(("owner-gone", key, "", "", uid))
            return
        if obj is None:
            return
        self._enqueue_object(key, obj)

    def _enqueue_object(self, key: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        if not meta.get("deletionTimestamp"):
            return
        ns, name, uid = meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", "")
        finalizers = meta.get("finalizers") or []
        if key == "/namespaces":
            self._push(("namespace", key, "", name, uid))
        if key == "apiextensions.k8s.io/customresourcedefinitions" and CRD_CLEANUP_FINALIZER in finalizers:
            self._push(("crd", key, "", name, uid))
        if FOREGROUND in finalizers:
            self._push(("foreground", key, ns, name, uid))
        if ORPHAN in finalizers:
            self._push(("orphan", key, ns, name, uid))

    def deleted(self, uid: str) -> None:
        self._push(("owner-gone", "", "", "", uid))

    def scan(self) -> None:
        """Find all pending work in storage (at start-up: nothing pending lives only in memory)."""
        store = self.objects.store
        for uid in store.orphaned_owner_uids():
            self._push(("owner-gone", "", "", "", uid))
        for key in store.resources():
            after: tuple[str, str] | None = None
            while True:  # in pages: a large store is never all in memory at once
                rows = store.list(key, after=after, limit=_SCAN_PAGE)
                for row in rows:
                    if b'"deletionTimestamp"' in row.data:
                        self._enqueue_object(key, orjson.loads(row.data))
                if len(rows) < _SCAN_PAGE:
                    break
                after = (rows[-1].namespace, rows[-1].name)

    # -- loop ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self.scan()
        self._task = asyncio.create_task(self._run(), name="teapot-apiserver-gc")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def idle(self) -> None:
        """Wait until no work is queued (for tests)."""
        while self._queue:
            await asyncio.sleep(0.01)

    async def _run(self) -> None:
        retry: list[Item] = []
        while True:
            if not self._queue:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0 if retry else None)
                for item in retry:
                    self._push(item)
                retry = []
                continue
            item = self._queue.popleft()
            self._queued.discard(item)
            try:
                done = self._step(item)
            except StatusError as err:
                log.warning("gc step %s failed: %s", item[:4], err.message)
                done = False
            except Exception:
                log.exception("gc step %s crashed", item[:4])
                done = False
            if not done:
                retry.append(item)
            await asyncio.sleep(0)

    # -- steps (synchronous: each is atomic with respect to other requests) ----------------------------
    def _info(self, key: str) -> ResourceInfo | None:
        group, _, resource = key.partition("/")
        for info in self.objects.registry.all():
            if info.group == group and info.resource == resource and info.version == info.stored_version:
                return info
        return None

    def _get(self, key: str, ns: str, name: str) -> tuple[ResourceInfo, Obj] | None:
        info = self._info(key)
        if info is None:
            return None
        row = self.objects.store.get(key, ns, name)
        if row is None:
            return None
        return info, orjson.loads(row.data)

    def _remove_finalizer(self, info: ResourceInfo, obj: Obj, finalizer: str) -> None:
        meta = obj["metadata"]
        new = dict(obj)
        new["metadata"] = dict(meta, finalizers=[f for f in meta.get("finalizers") or [] if f != finalizer])
        self.objects.update(info, meta.get("namespace", ""), meta["name"], new, _CTX, old=obj)

    def _delete(self, key: str, ns: str, name: str, propagation: str | None) -> None:
        info = self._info(key)
        if info is None:
            return
        try:
            self.objects.delete(info, ns, name, _CTX, propagation=propagation)
        except StatusError as err:
            if err.code != 404:
                raise

    def _step(self, item: Item) -> bool:
        kind, key, ns, name, uid = item
        if kind == "owner-gone":
            return self._owner_gone(uid)
        found = self._get(key, ns, name)
        if found is None:
            return True
        info, obj = found
        if obj["metadata"].get("uid") != uid or not obj["metadata"].get("deletionTimestamp"):
            return True
        if kind == "namespace":
            return self._finalize_namespace(info, obj)
        if kind == "crd":
            return self._finalize_crd(info, obj)
        if kind == "foreground":
            return self._foreground(info, obj)
        if kind == "orphan":
            return self._orphan(info, obj)
        return True

    def _owner_gone(self, uid: str) -> bool:
        store = self.objects.store
        if store.exists_uid(uid):
            return True
        for dep in store.dependents(uid):
            found = self._get(dep.resource, dep.namespace, dep.name)
            if found is None:
                continue
            info, obj = found
            refs = obj["metadata"].get("ownerReferences") or []
            alive = [r for r in refs if r.get("uid") != uid and store.exists_uid(str(r.get("uid")))]
            if alive:
                new = dict(obj)
                new["metadata"] = dict(
                    obj["metadata"], ownerReferences=[r for r in refs if r.get("uid") != uid]
                )
                self.objects.update(info, dep.namespace, dep.name, new, _CTX, old=obj)
            elif not obj["metadata"].get("deletionTimestamp"):
                self._delete(dep.resource, dep.namespace, dep.name, "Background")
        return True

    def _foreground(self, info: ResourceInfo, obj: Obj) -> bool:
        uid = obj["metadata"]["uid"]
        store = self.objects.store
        blocking = 0
        for dep in store.dependents(uid):
            found = self._get(dep.resource, dep.namespace, dep.name)
            if found is None:
                continue
            _dep_info, dep_obj = found
            refs: list[Obj] = dep_obj["metadata"].get("ownerReferences") or []
            ref: Obj = next((r for r in refs if r.get("uid") == uid), {})
            if ref.get("blockOwnerDeletion"):
                blocking += 1
            if not dep_obj["metadata"].get("deletionTimestamp"):
                self._delete(dep.resource, dep.namespace, dep.name, "Foreground")
        if blocking:
            return False  # retried until blocking dependents are gone
        self._remove_finalizer(info, obj, FOREGROUND)
        return True

    def _orphan(self, info: ResourceInfo, obj: Obj) -> bool:
        uid = obj["metadata"]["uid"]
        for dep in self.objects.store.dependents(uid):
            found = self._get(dep.resource, dep.namespace, dep.name)
            if found is None:
                continue
            dep_info, dep_obj = found
            refs = dep_obj["metadata"].get("ownerReferences") or []
            new = dict(dep_obj)
            new["metadata"] = dict(
                dep_obj["metadata"], ownerReferences=[r for r in refs if r.get("uid") != uid]
            )
            if not new["metadata"]["ownerReferences"]:
                del new["metadata"]["ownerReferences"]
            self.objects.update(dep_info, dep.namespace, dep.name, new, _CTX, old=dep_obj)
        self._remove_finalizer(info, obj, ORPHAN)
        return True

    def _finalize_namespace(self, info: ResourceInfo, obj: Obj) -> bool:
        name = obj["metadata"]["name"]
        remaining = self.objects.store.in_namespace(name)
        for key in remaining:
            found = self._get(key.resource, key.namespace, key.name)
            if found is not None and not found[1]["metadata"].get("deletionTimestamp"):
                self._delete(key.resource, key.namespace, key.name, "Background")
        if self.objects.store.in_namespace(name):
            return False
        spec = obj.get("spec") or {}
        if "kubernetes" in (spec.get("finalizers") or []):
            new = dict(obj)
            new["spec"] = dict(
                spec, finalizers=[f for f in spec.get("finalizers") or [] if f != "kubernetes"]
            )
            self.objects.update(info, "", name, new, _FINALIZE, old=obj)
            found = self._get("/namespaces", "", name)
            if found is not None and not found[1]["metadata"].get("finalizers"):
                self.objects.delete(info, "", name, _CTX)
        return True

    def _finalize_crd(self, info: ResourceInfo, obj: Obj) -> bool:
        spec = obj.get("spec") or {}
        key = f"{spec.get('group', '')}/{(spec.get('names') or {}).get('plural', '')}"
        rows = self.objects.store.list(key)
        for row in rows:
            o = orjson.loads(row.data)
            if not o["metadata"].get("deletionTimestamp"):
                self._delete(key, row.namespace, row.name, "Background")
        if self.objects.store.list(key, limit=1):
            return False
        self._remove_finalizer(info, obj, CRD_CLEANUP_FINALIZER)
        return True
