"""An in-memory stand-in for the API server, for unit tests of one runtime module at a time.

It implements :class:`teapot.runtime.client.ObjectClient` with the semantics the runtime relies on:
monotonic resourceVersions, 409 on a stale resourceVersion, watch replay from a version, 410 for
versions older than the compaction point, BOOKMARK events. The real server is exercised by the
e2e tests; this fake makes failure paths (410, dropped connections) easy to trigger.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

from teapot.runtime.client import ApiError, PatchType, WatchEvent
from teapot.runtime.resources import KubeObject, ResourceRef


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class FakeApi:
    def __init__(self) -> None:
        self.rv = 0
        self.objects: dict[tuple[str, str, str], KubeObject] = {}
        self.history: list[tuple[int, str, str, KubeObject]] = []  # (rv, plural, type, obj)
        self.compacted = 0  # watches from a version below this get 410
        self.list_calls: list[str] = []  # plural of each list
        self.watch_calls: list[str] = []  # resourceVersion of each watch
        self.fail_watches = 0  # the next N watches raise a connection error
        self.fail_writes = 0  # the next N writes raise a 500
        self.writes: list[tuple[str, str, KubeObject]] = []  # (verb, plural, body)
        self._changed = asyncio.Condition()
        self._closing = 0

    # --- helpers for tests -------------------------------------------------------------------
    def _bump(self) -> str:
        self.rv += 1
        return str(self.rv)

    async def _record(self, plural: str, type_: str, obj: KubeObject) -> None:
        self.history.append((self.rv, plural, type_, copy.deepcopy(obj)))
        async with self._changed:
            self._changed.notify_all()

    async def bookmark(self, plural: str) -> None:
        self._bump()
        await self._record(plural, "BOOKMARK", {"metadata": {"resourceVersion": str(self.rv)}})

    async def drop_watches(self) -> None:
        """End every open watch (like a server restart or a proxy time-out)."""
        self._closing += 1
        async with self._changed:
            self._changed.notify_all()

    def _check_write(self, verb: str, plural: str, body: KubeObject) -> None:
        if self.fail_writes:
            self.fail_writes -= 1
            raise ApiError(500, "InternalError", {"message": "injected"})
        self.writes.append((verb, plural, copy.deepcopy(body)))

    # --- ObjectClient ------------------------------------------------------------------------
    async def get(self, ref: ResourceRef, name: str, namespace: str | None = None) -> KubeObject:
        obj = self.objects.get((ref.plural, namespace or "", name))
        if obj is None:
            raise ApiError(404, "NotFound", {"reason": "NotFound", "code": 404})
        return copy.deepcopy(obj)

    async def list(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
    ) -> KubeObject:
        self.list_calls.append(ref.plural)
        items = [
            copy.deepcopy(o)
            for (plural, ns, _), o in sorted(self.objects.items())
            if plural == ref.plural and (namespace is None or ns == namespace)
        ]
        for item in items:  # like kube-apiserver for built-ins: no kind/apiVersion on items
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return {
            "apiVersion": ref.api_version,
            "kind": f"{ref.kind}List",
            "metadata": {"resourceVersion": str(self.rv)},
            "items": items,
        }

    async def create(self, ref: ResourceRef, obj: KubeObject, namespace: str | None = None) -> KubeObject:
        self._check_write("create", ref.plural, obj)
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        key = (ref.plural, namespace or meta.get("namespace") or "", meta["name"])
        if key in self.objects:
            raise ApiError(409, "AlreadyExists", {"reason": "AlreadyExists", "code": 409})
        meta["resourceVersion"] = self._bump()
        meta["uid"] = f"uid-{self.rv}"
        meta.setdefault("generation", 1)
        self.objects[key] = obj
        await self._record(ref.plural, "ADDED", obj)
        return copy.deepcopy(obj)

    async def replace(self, ref: ResourceRef, obj: KubeObject, *, subresource: str = "") -> KubeObject:
        self._check_write("replace", ref.plural, obj)
        meta = obj["metadata"]
        key = (ref.plural, meta.get("namespace") or "", meta["name"])
        current = self.objects.get(key)
        if current is None:
            raise ApiError(404, "NotFound", {"code": 404})
        if meta.get("resourceVersion") and meta["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", {"reason": "Conflict", "code": 409})
        new = copy.deepcopy(obj)
        new["metadata"]["resourceVersion"] = self._bump()
        self.objects[key] = new
        await self._record(ref.plural, "MODIFIED", new)
        return copy.deepcopy(new)

    async def patch(
        self,
        ref: ResourceRef,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: PatchType = "merge",
        subresource: str = "",
        field_manager: str = "",
        force: bool = False,
    ) -> KubeObject:
        self._check_write("patch", ref.plural, patch)
        key = (ref.plural, namespace or "", name)
        current = self.objects.get(key)
        if current is None:
            raise ApiError(404, "NotFound", {"code": 404})
        _merge(current, patch)
        current["metadata"]["resourceVersion"] = self._bump()
        await self._record(ref.plural, "MODIFIED", current)
        return copy.deepcopy(current)

    async def delete(self, ref: ResourceRef, name: str, namespace: str | None = None) -> KubeObject:
        obj = self.objects.pop((ref.plural, namespace or "", name))
        obj["metadata"]["resourceVersion"] = self._bump()
        await self._record(ref.plural, "DELETED", obj)
        return obj

    async def watch(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        timeout_seconds: int = 300,
        label_selector: str = "",
        field_selector: str = "",
        bookmarks: bool = True,
    ) -> AsyncIterator[WatchEvent]:
        self.watch_calls.append(resource_version)
        if self.fail_watches:
            self.fail_watches -= 1
            raise aiohttp.ClientConnectionError("injected")
        since = int(resource_version or self.rv)
        if since < self.compacted:
            yield WatchEvent("ERROR", {"kind": "Status", "code": 410, "reason": "Expired"})
            return
        closing = self._closing
        while True:
            for rv, plural, type_, obj in list(self.history):
                if rv > since and plural == ref.plural:
                    since = rv
                    yield WatchEvent(type_, copy.deepcopy(obj))
            async with self._changed:
                if self._closing != closing:
                    return
                if not any(rv > since and p == ref.plural for rv, p, _, _ in self.history):
                    await self._changed.wait()
            if self._closing != closing:
                return


async def eventually(check: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.005)
