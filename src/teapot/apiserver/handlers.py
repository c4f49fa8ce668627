"""HTTP handlers for resource requests: get, list, watch, create, update, patch, delete.

Why it exists: it translates one parsed Kubernetes request (``RequestInfo``) into a call on
``ObjectService`` and the result back into the exact response shapes clients expect — lists assembled
from stored bytes, Table responses for kubectl, chunked watch streams with bookmarks and 410 ERROR
events, Status objects for deletions. Object semantics live in ``objects.py``, not here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import yaml

from teapot.apiserver import errors
from teapot.apiserver.conversion import from_storage, needs_conversion
from teapot.apiserver.errors import StatusError
from teapot.apiserver.http import Request, Send, send_bytes, send_json, warning_headers
from teapot.apiserver.objects import ObjectService, Outcome, WriteContext, field_value, supported_fields
from teapot.apiserver.patches import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    PATCH_TYPES,
    STRATEGIC_PATCH,
    apply_json_patch,
    decode_patch_body,
    merge_patch,
)
from teapot.apiserver.protobuf import PROTOBUF, ProtobufError, UnsupportedKindError, decode_object
from teapot.apiserver.registry import storage_key
from teapot.apiserver.resources import ResourceInfo
from teapot.apiserver.selectors import parse_field_selector, parse_label_selector
from teapot.apiserver.storage import StoredObject
from teapot.apiserver.watch import BOOKMARK, ERROR

Obj = dict[str, Any]
Rows = list[StoredObject]
LIST_CHUNK = 1000  # lists longer than this are streamed in chunks of this many items
BOOKMARK_INTERVAL = 60.0  # kube sends a progress bookmark about once a minute


class TableBuilder(Protocol):
    def __call__(
        self,
        info: ResourceInfo,
        objects: list[Obj],
        *,
        list_meta: Obj | None,
        include_object: str,
        wide: bool,
    ) -> Obj: ...


class Patcher(Protocol):
    """Strategic merge patch and server-side apply (``teapot.apiserver.merge``)."""

    def strategic(self, info: ResourceInfo, original: Obj, patch: Obj) -> Obj: ...

    def apply(
        self,
        info: ResourceInfo,
        live: Obj | None,
        applied: Obj,
        manager: str,
        force: bool,
        subresource: str = "",
    ) -> Obj: ...


@dataclass(frozen=True)
class Negotiated:
    table: bool = False
    include_object: str = "Metadata"  # kube's default: kubectl reads namespace and labels from it
    wide: bool = True  # kube always sends priority>0 columns; kubectl hides them unless -o wide


def negotiate(req: Request) -> Negotiated:
    accept = req.headers.get("accept", "")
    if "as=Table" not in accept:
        return Negotiated()
    include = req.param("includeObject", "Metadata") or "Metadata"
    if include not in ("None", "Metadata", "Object"):
        raise errors.bad_request(
            f'includeObject: Unsupported value: "{include}": supported values: "None", "Metadata", "Object"'
        )
    return Negotiated(table=True, include_object=include)


def decode_body(req: Request, body: bytes) -> Any:
    ctype = req.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if not body.strip():
        raise errors.bad_request("the request body is empty: send a JSON or YAML object")
    try:
        if ctype in ("application/yaml", "application/x-yaml", "text/yaml"):
            return yaml.safe_load(body.decode("utf-8"))
        if ctype in ("application/json", "", "*/*"):
            return orjson.loads(body)
        if ctype == PROTOBUF:  # kubectl's typed clients send built-in kinds as protobuf
            return decode_object(body)
    except (orjson.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise errors.bad_request(
            f"the object provided is unrecognized (must be a JSON or YAML object): {exc}"
        ) from exc
    except UnsupportedKindError as exc:
        raise errors.StatusError(415, "UnsupportedMediaType", str(exc)) from exc
    except ProtobufError as exc:
        raise errors.bad_request(f"the protobuf body could not be decoded: {exc}") from exc
    raise errors.unsupported_media_type(ctype)


def _encode_continue(rv: int, key: tuple[str, str]) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(key)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        start = data["start"]
        return int(data["rv"]), (str(start[0]), str(start[1]))
    except (ValueError, KeyError, TypeError, IndexError, orjson.JSONDecodeError) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc


class ResourceHandlers:
    def __init__(
        self,
        objects: ObjectService,
        *,
        tables: TableBuilder | None = None,
        patcher: Patcher | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        bookmark_interval: float = BOOKMARK_INTERVAL,
    ) -> None:
        self.objects = objects
        self.tables = tables
        self.patcher = patcher
        self.clock = clock
        self.stopping = asyncio.Event()
        self.bookmark_interval = bookmark_interval

    # -- encoding --------------------------------------------------------------------------------
    def _item_bytes(self, info: ResourceInfo, row: StoredObject) -> bytes:
        if not needs_conversion(info):
            return row.data
        return orjson.dumps(self.objects.decode(info, row))

    async def _respond_object(
        self,
        req: Request,
        send: Send,
        info: ResourceInfo,
        obj: Obj,
        status: int = 200,
        warnings: list[str] | None = None,
    ) -> None:
        neg = negotiate(req)
        if neg.table and self.tables is not None and req.method == "GET":
            rv_meta = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
            obj = self.tables(
                info, [obj], list_meta=rv_meta, include_object=neg.include_object, wide=neg.wide
            )
        await send_json(send, status, obj, warning_headers(warnings or []))

    # -- read --------------------------------------------------------------------------------------
    async def get(
        self, req: Request, send: Send, info: ResourceInfo, namespace: str, name: str, sub: str
    ) -> None:
        obj = self.objects.get(info, namespace, name)
        if sub == "scale":
            await send_json(send, 200, self._scale_of(info, obj))
            return
        await self._respond_object(req, send, info, obj)

    async def list(self, req: Request, send: Send, info: ResourceInfo, namespace: str | None) -> None:
        labels = parse_label_selector(req.param("labelSelector"))
        fields = parse_field_selector(req.param("fieldSelector"), supported_fields(info), info.kind)
        limit_s = req.param("limit")
        limit = int(limit_s) if limit_s.isdigit() and int(limit_s) > 0 else None
        after = None
        list_rv = self.objects.store.rv
        token = req.param("continue")
        if token:
            if req.param("resourceVersionMatch"):
                raise errors.bad_request(
                    "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided"
                )
            if req.param("resourceVersion") not in ("", "0"):
                raise errors.bad_request("specifying resource version is not allowed when using continue")
            list_rv, after = _decode_continue(token)
        else:
            self._check_list_rv(req, list_rv)
        # Every page of a paged list shows the state at its first page's revision, as far as creations
        # go: objects created meanwhile are left out (kube serves the whole list from one snapshot).
        rows, next_key, remaining = self.objects.list(
            info, namespace, labels=labels, fields=fields, limit=limit, after=after, snapshot=list_rv
        )
        meta: Obj = {"resourceVersion": str(list_rv)}
        if next_key is not None:
            meta["continue"] = _encode_continue(list_rv, next_key)
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        neg = negotiate(req)
        if neg.table and self.tables is not None:
            objs = [self.objects.decode(info, r) for r in rows]
            await send_json(
                send,
                200,
                self.tables(info, objs, list_meta=meta, include_object=neg.include_object, wide=neg.wide),
            )
            return
        head = orjson.dumps({"kind": info.list_kind, "apiVersion": info.group_version, "metadata": meta})[:-1]
        if len(rows) <= LIST_CHUNK:
            body = b"".join((head, b',"items":[', b",".join(self._item_bytes(info, r) for r in rows), b"]}"))
            await send_bytes(send, 200, body)
            return
        await self._stream_list(send, info, head, rows)

    async def _stream_list(self, send: Send, info: ResourceInfo, head: bytes, rows: Rows) -> None:
        """A large list, read at once (one consistent state) but sent in chunks as the client takes
        them, releasing rows as they go: the response is never held in memory twice (or three times,
        counting the transport's buffer)."""
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-cache, private")],
            }
        )
        prefix = head + b',"items":['
        while rows:
            part = b",".join(self._item_bytes(info, r) for r in rows[:LIST_CHUNK])
            del rows[:LIST_CHUNK]
            await send({"type": "http.response.body", "body": prefix + part, "more_body": True})
            prefix = b","
        await send({"type": "http.response.body", "body": b"]}"})

    def _check_list_rv(self, req: Request, current: int) -> None:
        """kube's list resourceVersion semantics: unset/"0" any, NotOlderThan (default) or Exact."""
        rv = req.param("resourceVersion")
        match = req.param("resourceVersionMatch")
        if match:
            if not rv:
                raise errors.bad_request(
                    "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion "
                    "is provided"
                )
            if match not in ("Exact", "NotOlderThan"):
                raise errors.bad_request(
                    f'resourceVersionMatch: Unsupported value: "{match}": supported values: "Exact", "NotOlderThan"'
                )
        if not rv or rv == "0":
            if match == "Exact":
                raise errors.bad_request(
                    'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
                )
            return
        if not rv.isdigit():
            raise errors.bad_request(
                f'resourceVersion: Invalid value: "{rv}": must be a non-negative integer'
            )
        want = int(rv)
        if match == "Exact" and want < current:
            # kube reads that revision from etcd; only the current one is kept here
            raise errors.gone(f"too old resource version: {want} ({current})")
        if want > current:
            err = StatusError(504, "Timeout", f"Too large resource version: {want}, current: {current}")
            err.retry_after_seconds = 1
            raise err

    # -- watch --------------------------------------------------------------------------------------
    async def watch(self, req: Request, send: Send, info: ResourceInfo, namespace: str | None) -> None:
        labels = parse_label_selector(req.param("labelSelector"))
        fields = parse_field_selector(req.param("fieldSelector"), supported_fields(info), info.kind)
        rv_param = req.param("resourceVersion")
        bookmarks = req.flag("allowWatchBookmarks")
        send_initial = self._send_initial_events(req, bookmarks)
        timeout_s = req.param("timeoutSeconds")
        timeout = float(timeout_s) if timeout_s.isdigit() else random.uniform(1800, 3600)
        neg = negotiate(req)
        key = storage_key(info)
        initial: list[StoredObject] = []
        if rv_param and rv_param != "0" and not rv_param.isdigit():
            raise errors.bad_request(
                f'resourceVersion: Invalid value: "{rv_param}": must be a non-negative integer'
            )
        # Unset or "0": the current state as ADDED events first (unless sendInitialEvents=false);
        # sendInitialEvents=true: the same, at a revision not older than resourceVersion.
        initial_mode = send_initial if send_initial is not None else rv_param in ("", "0")
        # Snapshot + subscribe with no await in between, so no change can fall in the gap.
        if initial_mode:
            initial, _, _ = self.objects.list(info, namespace, labels=labels, fields=fields)
            since = self.objects.store.rv
        elif rv_param in ("", "0"):
            since = self.objects.store.rv
        else:
            since = int(rv_param)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"cache-control", b"no-cache, private"),
                ],
            }
        )
        try:
            watcher = self.objects.hub.subscribe(
                key, since_rv=since, namespace=namespace, labels=labels, fields=fields
            )
        except StatusError as err:
            line = orjson.dumps({"type": ERROR, "object": err.to_status()}) + b"\n"
            await send({"type": "http.response.body", "body": line, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        if self.stopping.is_set():
            watcher.close()
        last_rv = since
        convert = needs_conversion(info)

        def encode(ev_type: str, data: bytes) -> bytes:
            if neg.table and self.tables is not None:
                obj = from_storage(info, orjson.loads(data))
                table = self.tables(
                    info, [obj], list_meta=None, include_object=neg.include_object, wide=neg.wide
                )
                return orjson.dumps({"type": ev_type, "object": table}) + b"\n"
            if convert:
                data = orjson.dumps(from_storage(info, orjson.loads(data)))
            return b'{"type":"' + ev_type.encode() + b'","object":' + data + b"}\n"

        def bookmark(rv: int, initial_end: bool = False) -> bytes:
            meta: Obj = {"resourceVersion": str(rv)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            obj = {"kind": info.kind, "apiVersion": info.group_version, "metadata": meta}
            return orjson.dumps({"type": BOOKMARK, "object": obj}) + b"\n"

        async def wait_disconnect() -> None:
            while True:
                message = await req.receive()
                if message["type"] == "http.disconnect":
                    watcher.close()
                    return

        disconnect_task = asyncio.create_task(wait_disconnect())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        interval = self.bookmark_interval
        try:
            if initial:
                chunk = b"".join(encode("ADDED", r.data) for r in initial)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if initial_mode and bookmarks:
                await send({"type": "http.response.body", "body": bookmark(since, True), "more_body": True})
            next_bookmark = loop.time() + interval
            while True:
                now = loop.time()
                if now >= deadline:
                    break
                wait = min(deadline, next_bookmark if bookmarks else deadline) - now
                try:
                    async with asyncio.timeout(max(wait, 0.001)):
                        ev = await watcher.queue.get()
                except TimeoutError:
                    if bookmarks and loop.time() >= next_bookmark:
                        # Writes publish synchronously on commit, so with the queue drained every
                        # change up to the store's revision has reached this client: report that.
                        last_rv = max(last_rv, self.objects.store.rv)
                        await send(
                            {"type": "http.response.body", "body": bookmark(last_rv), "more_body": True}
                        )
                        next_bookmark = loop.time() + interval
                    continue
                batch: list[bytes] = []
                closed = False
                while True:
                    if ev is None:
                        closed = True
                        break
                    translated = watcher.translate(ev)
                    if translated is not None:
                        batch.append(encode(translated, ev.data))
                    last_rv = ev.rv
                    if watcher.queue.empty():
                        break
                    ev = watcher.queue.get_nowait()
                if batch:
                    await send({"type": "http.response.body", "body": b"".join(batch), "more_body": True})
                if closed:
                    break
        finally:
            self.objects.hub.unsubscribe(watcher)
            disconnect_task.cancel()
        # end the chunked stream; the client may already be gone, which is fine
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b""})

    @staticmethod
    def _send_initial_events(req: Request, bookmarks: bool) -> bool | None:
        """``sendInitialEvents`` (None when not given), validated like kube's ListOptions."""
        value = req.param("sendInitialEvents")
        match = req.param("resourceVersionMatch")
        if not value:
            if match:
                raise errors.bad_request(
                    "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch"
                )
            return None
        if value not in ("true", "false"):
            raise errors.bad_request(f'sendInitialEvents: Invalid value: "{value}": must be true or false')
        if match != "NotOlderThan":
            raise errors.bad_request(
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to "
                "NotOlderThan"
            )
        if value == "true" and not bookmarks:
            raise errors.bad_request(
                "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true"
            )
        return value == "true"

    # -- write ----------------------------------------------------------------------------------------
    def _context(self, req: Request, user: str, sub: str = "") -> WriteContext:
        dry = req.param("dryRun")
        if dry and dry != "All":
            raise errors.bad_request(f'dryRun: Unsupported value: "{dry}": supported values: "All"')
        validation = req.param("fieldValidation") or "Warn"
        if validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(
                f'fieldValidation: Unsupported value: "{validation}": supported values: "Ignore", "Strict", "Warn"'
            )
        manager = req.param("fieldManager")
        if not manager:
            agent = req.headers.get("user-agent", "")
            manager = agent.split("/")[0] if agent else "unknown"
        return WriteContext(
            user=user,
            field_manager=manager[:128],
            dry_run=dry == "All",
            field_validation=validation,
            subresource=sub,
        )

    async def create(self, req: Request, send: Send, info: ResourceInfo, namespace: str, user: str) -> None:
        body = decode_body(req, await req.body())
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON or YAML object")
        out = self.objects.create(info, namespace, body, self._context(req, user))
        await send_json(send, 201, out.obj, warning_headers(out.warnings))

    async def update(
        self, req: Request, send: Send, info: ResourceInfo, namespace: str, name: str, sub: str, user: str
    ) -> None:
        body = decode_body(req, await req.body())
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON or YAML object")
        ctx = self._context(req, user, sub)
        if sub == "scale":
            out = self._write_scale(info, namespace, name, body, ctx)
            await send_json(send, 200, self._scale_of(info, out.obj))
            return
        out = self.objects.update(info, namespace, name, body, ctx)
        await send_json(send, 201 if out.created else 200, out.obj, warning_headers(out.warnings))

    async def patch(
        self, req: Request, send: Send, info: ResourceInfo, namespace: str, name: str, sub: str, user: str
    ) -> None:
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in PATCH_TYPES:
            raise errors.unsupported_media_type(ctype)
        if ctype == STRATEGIC_PATCH and not info.builtin:
            raise errors.StatusError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            )
        patch = decode_patch_body(ctype, await req.body())
        ctx = self._context(req, user, sub)
        if ctype == APPLY_PATCH:
            ctx = dataclasses.replace(ctx, operation="Apply")
        force = req.flag("force")
        if ctype == APPLY_PATCH:
            if not req.param("fieldManager"):
                raise errors.bad_request(
                    "PATCH, application/apply-patch+yaml: fieldManager: Required value: is required for apply patch"
                )
            if not isinstance(patch, dict):
                raise errors.bad_request("the apply patch must be a YAML or JSON object")
            if force and ctype != APPLY_PATCH:
                raise errors.bad_request(
                    "force: Invalid value: true: may not be specified for non-apply patch"
                )
        stored = self.objects.get_stored(info, namespace, name)
        if stored is None:
            if ctype != APPLY_PATCH:
                raise errors.not_found(info.resource, info.group, name)
            if sub:
                raise errors.not_found(info.resource, info.group, name)
            applied = self._apply(info, None, patch, ctx, force)
            out = self.objects.create(info, namespace, applied, ctx)
            await send_json(send, 201, out.obj, warning_headers(out.warnings))
            return
        old = self.objects.decode(info, stored)
        if sub == "scale":
            scale = self._scale_of(info, old)
            new_scale = self._patch_doc(ctype, info, scale, patch, ctx, force)
            out = self._write_scale(info, namespace, name, new_scale, ctx)
            await send_json(send, 200, self._scale_of(info, out.obj))
            return
        new = self._patch_doc(ctype, info, old, patch, ctx, force)
        out = self.objects.update(info, namespace, name, new, ctx, old=old)
        await send_json(send, 200, out.obj, warning_headers(out.warnings))

    def _apply(self, info: ResourceInfo, live: Obj | None, patch: Obj, ctx: WriteContext, force: bool) -> Obj:
        if self.patcher is None:
            raise errors.StatusError(415, "UnsupportedMediaType", "server-side apply is not available")
        return self.patcher.apply(info, live, patch, ctx.field_manager, force, ctx.subresource)

    def _patch_doc(
        self, ctype: str, info: ResourceInfo, old: Obj, patch: Any, ctx: WriteContext, force: bool
    ) -> Obj:
        base = copy.deepcopy(old)
        if ctype == JSON_PATCH:
            return apply_json_patch(base, patch)
        if ctype == MERGE_PATCH:
            if not isinstance(patch, dict):
                raise errors.bad_request("merge patch must be a JSON object")
            result = merge_patch(base, patch)
            assert isinstance(result, dict)
            return result
        if ctype == STRATEGIC_PATCH:
            if self.patcher is None or not isinstance(patch, dict):
                raise errors.bad_request("strategic merge patch must be a JSON object")
            return self.patcher.strategic(info, base, patch)
        return self._apply(info, base, patch, ctx, force)

    # -- scale ----------------------------------------------------------------------------------------
    def _scale_of(self, info: ResourceInfo, obj: Obj) -> Obj:
        meta = obj.get("metadata") or {}
        spec = field_value(obj, info.scale_spec_path) if info.scale_spec_path else ""
        status = field_value(obj, info.scale_status_path) if info.scale_status_path else ""
        scale: Obj = {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
                "creationTimestamp": meta.get("creationTimestamp"),
            },
            "spec": {"replicas": int(spec) if spec.lstrip("-").isdigit() else 0},
            "status": {"replicas": int(status) if status.lstrip("-").isdigit() else 0},
        }
        if info.scale_selector_path:
            sel = field_value(obj, info.scale_selector_path)
            if sel:
                scale["status"]["selector"] = sel
        return scale

    def _write_scale(
        self, info: ResourceInfo, namespace: str, name: str, scale: Obj, ctx: WriteContext
    ) -> Outcome:
        old = self.objects.get(info, namespace, name)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(
                "Scale",
                "autoscaling",
                name,
                [
                    errors.Cause(
                        "FieldValueInvalid",
                        f"spec.replicas: Invalid value: {replicas!r}: must be greater than or equal to 0",
                        "spec.replicas",
                    )
                ],
            )
        new = copy.deepcopy(old)
        want_rv = (scale.get("metadata") or {}).get("resourceVersion")
        if want_rv:
            new["metadata"]["resourceVersion"] = want_rv
        cur: Any = new
        parts = info.scale_spec_path.lstrip(".").split(".")
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
        cur[parts[-1]] = replicas
        return self.objects.update(
            info,
            namespace,
            name,
            new,
            WriteContext(
                user=ctx.user,
                field_manager=ctx.field_manager,
                dry_run=ctx.dry_run,
                field_validation=ctx.field_validation,
            ),
            old=old,
        )

    # -- delete ---------------------------------------------------------------------------------------
    async def _delete_options(self, req: Request) -> Obj:
        body = await req.body()
        opts: Obj = {}
        if body.strip():
            parsed = decode_body(req, body)
            if isinstance(parsed, dict):
                opts = parsed
        for key in ("propagationPolicy", "gracePeriodSeconds", "dryRun"):
            if req.param(key):
                opts[key] = req.param(key)
        if req.param("orphanDependents"):
            opts.setdefault("propagationPolicy", "Orphan" if req.flag("orphanDependents") else "Background")
        elif "orphanDependents" in opts and "propagationPolicy" not in opts:
            opts["propagationPolicy"] = "Orphan" if opts["orphanDependents"] else "Background"
        return opts

    async def delete(
        self, req: Request, send: Send, info: ResourceInfo, namespace: str, name: str, user: str
    ) -> None:
        opts = await self._delete_options(req)
        dry = opts.get("dryRun")
        if isinstance(dry, list):
            dry = dry[0] if dry else ""
        ctx = WriteContext(user=user, dry_run=dry == "All")
        pre = opts.get("preconditions") or {}
        out = self.objects.delete(
            info,
            namespace,
            name,
            ctx,
            propagation=opts.get("propagationPolicy"),
            precondition_uid=pre.get("uid"),
            precondition_rv=pre.get("resourceVersion"),
        )
        if out.deleted and info.builtin:
            meta = out.obj.get("metadata") or {}
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": info.group, "kind": info.resource, "uid": meta.get("uid")},
            }
            await send_json(send, 200, status)
            return
        await send_json(send, 200 if out.deleted else 202 if not info.builtin else 200, out.obj)

    async def delete_collection(
        self, req: Request, send: Send, info: ResourceInfo, namespace: str | None, user: str
    ) -> None:
        labels = parse_label_selector(req.param("labelSelector"))
        fields = parse_field_selector(req.param("fieldSelector"), supported_fields(info), info.kind)
        opts = await self._delete_options(req)
        ctx = WriteContext(user=user, dry_run=opts.get("dryRun") == "All")
        rows, _, _ = self.objects.list(info, namespace, labels=labels, fields=fields)
        items: list[bytes] = []
        for row in rows:
            try:
                out = self.objects.delete(
                    info, row.namespace, row.name, ctx, propagation=opts.get("propagationPolicy")
                )
            except StatusError as err:
                if err.code == 404:
                    continue
                raise
            items.append(orjson.dumps(out.obj))
        head = orjson.dumps(
            {
                "kind": info.list_kind,
                "apiVersion": info.group_version,
                "metadata": {"resourceVersion": str(self.objects.store.rv)},
            }
        )[:-1]
        await send_bytes(send, 200, head + b',"items":[' + b",".join(items) + b"]}")
