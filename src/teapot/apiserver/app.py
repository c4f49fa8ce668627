"""The API server as an ASGI application: authenticate, authorize, route, respond.

Why it exists: this is the one place where a request becomes a decision — who is calling
(``auth.Authenticator``), may they (``auth.Authorizer``, RBAC), what is it about
(``auth.parse_request``) — and is handed to discovery, OpenAPI, access reviews or the resource
handlers. Everything below it is HTTP-agnostic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST

from teapot import __version__
from teapot.apiserver import errors
from teapot.apiserver.auth import (
    AccessReviewError,
    Authenticator,
    Authorizer,
    RequestAttributes,
    parse_request,
    review_attributes,
    review_status,
    subject_from_review,
)
from teapot.apiserver.auth.rbac import forbidden_message
from teapot.apiserver.auth.reviews import self_subject_review_status
from teapot.apiserver.auth.tls import peer_cert_from_scope
from teapot.apiserver.auth.users import UserInfo
from teapot.apiserver.builtins import VIRTUAL_KINDS
from teapot.apiserver.discovery import Discovery
from teapot.apiserver.errors import StatusError
from teapot.apiserver.handlers import ResourceHandlers, decode_body
from teapot.apiserver.http import (
    Message,
    Receive,
    Request,
    Scope,
    Send,
    send_bytes,
    send_error,
    send_json,
)
from teapot.apiserver.metrics import APIServerMetrics
from teapot.apiserver.objects import ObjectService
from teapot.apiserver.openapi import V2_PROTOBUF, OpenAPIBuilder
from teapot.apiserver.resources import ResourceInfo

log = logging.getLogger("teapot.apiserver")
Obj = dict[str, Any]
_REQUEST_INFO = "teapot.request_info"  # scope key: the parsed RequestInfo, for metrics
_PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})


class StoreRBACSource:
    """RBAC objects read from storage (``auth.RBACSource``)."""

    def __init__(self, objects: ObjectService) -> None:
        self.objects = objects

    def _rows(self, resource: str, namespace: str | None) -> Iterable[Mapping[str, Any]]:
        for row in self.objects.store.list(f"rbac.authorization.k8s.io/{resource}", namespace):
            yield orjson.loads(row.data)

    def cluster_roles(self) -> Iterable[Mapping[str, Any]]:
        return list(self._rows("clusterroles", None))

    def cluster_role_bindings(self) -> Iterable[Mapping[str, Any]]:
        return list(self._rows("clusterrolebindings", None))

    def roles(self, namespace: str) -> Iterable[Mapping[str, Any]]:
        return list(self._rows("roles", namespace))

    def role_bindings(self, namespace: str) -> Iterable[Mapping[str, Any]]:
        return list(self._rows("rolebindings", namespace))


class APIServerApp:
    def __init__(
        self,
        objects: ObjectService,
        handlers: ResourceHandlers,
        discovery: Discovery,
        authenticator: Authenticator,
        authorizer: Authorizer,
        openapi: OpenAPIBuilder | None = None,
    ) -> None:
        self.objects = objects
        self.handlers = handlers
        self.discovery = discovery
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.openapi = openapi
        self.ready = False
        self.requests_total = 0
        self.metrics = APIServerMetrics(objects.hub.watcher_counts, objects.store.counts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        req = Request.from_scope(scope, receive)
        self.requests_total += 1
        started = time.perf_counter()
        code = 0

        async def send_tracked(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        try:
            await self.handle(req, send_tracked)
        except StatusError as err:
            await send_error(send_tracked, err)
        except Exception as exc:  # never leak a traceback to the client; log it
            log.exception("internal error serving %s %s", req.method, req.path)
            await send_error(send_tracked, errors.internal(type(exc).__name__))
        finally:
            elapsed = time.perf_counter() - started
            info = scope.get(_REQUEST_INFO)
            if info is not None:
                self.metrics.observe(
                    info,
                    req.method,
                    req.headers.get("content-type", ""),
                    req.param("dryRun") == "All",
                    code,
                    elapsed,
                )
            if elapsed > 1.0 and "watch" not in req.raw_query:
                log.info("slow request %s %s took %.3fs", req.method, req.path, elapsed)

    # -- auth -------------------------------------------------------------------------------------
    def authenticate(self, req: Request) -> UserInfo | None:
        return self.authenticator.authenticate(req.raw_headers, peer_cert_from_scope(req.scope))

    def authorize(self, attrs: RequestAttributes) -> None:
        decision = self.authorizer.authorize(attrs)
        if not decision.allowed:
            raise StatusError(
                403,
                "Forbidden",
                forbidden_message(attrs, decision.reason),
                attrs.api_group,
                attrs.resource,
                attrs.name,
            )

    # -- routing -----------------------------------------------------------------------------------
    async def handle(self, req: Request, send: Send) -> None:
        path = req.path.rstrip("/") or "/"
        user = self.authenticate(req)
        if user is None:
            if path in _PUBLIC_PATHS or path.startswith(("/healthz/", "/livez/", "/readyz/")):
                await self.non_resource(req, send, path)
                return
            raise errors.unauthorized()
        info = parse_request(req.method, path, req.raw_query)
        req.scope[_REQUEST_INFO] = info
        attrs = RequestAttributes.from_request_info(user, info)
        self.authorize(attrs)
        if not info.is_resource_request:
            await self.non_resource(req, send, path)
            return
        resource = self.objects.registry.lookup(info.api_group, info.api_version, info.resource)
        if resource is None or (info.subresource and info.subresource not in resource.subresources):
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        await self.resource(req, send, resource, info.verb, info.namespace, info.name, info.subresource, user)

    async def resource(
        self,
        req: Request,
        send: Send,
        info: ResourceInfo,
        verb: str,
        namespace: str,
        name: str,
        sub: str,
        user: UserInfo,
    ) -> None:
        if info.kind in VIRTUAL_KINDS:
            if verb != "create":
                raise errors.method_not_allowed(f"{info.resource} only supports create")
            await self.access_review(req, send, info, namespace, user)
            return
        if verb not in info.verbs and verb not in ("get", "update", "patch"):
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        if info.namespaced and not namespace and verb not in ("list", "watch", "deletecollection"):
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        ns: str = namespace if info.namespaced else ""
        list_ns: str | None = namespace if info.namespaced and namespace else None
        h = self.handlers
        if verb == "get":
            await h.get(req, send, info, ns, name, sub)
        elif verb == "list":
            await h.list(req, send, info, list_ns)
        elif verb == "watch":
            gauge = self.metrics.watch_gauge(req.scope[_REQUEST_INFO])
            gauge.inc()
            try:
                await h.watch(req, send, info, list_ns)
            finally:
                gauge.dec()
        elif verb == "create":
            if name:
                raise errors.method_not_allowed("POST on a named resource is not supported")
            await h.create(req, send, info, ns, user.name)
        elif verb == "update":
            await h.update(req, send, info, ns, name, sub, user.name)
        elif verb == "patch":
            await h.patch(req, send, info, ns, name, sub, user.name)
        elif verb == "delete":
            await h.delete(req, send, info, ns, name, user.name)
        elif verb == "deletecollection":
            await h.delete_collection(req, send, info, list_ns, user.name)
        else:
            raise errors.method_not_allowed(f"verb {verb} is not supported")

    async def access_review(
        self, req: Request, send: Send, info: ResourceInfo, namespace: str, user: UserInfo
    ) -> None:
        body = decode_body(req, await req.body())
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON or YAML object")
        spec = body.get("spec") or {}
        try:
            if info.kind == "SelfSubjectReview":
                status = self_subject_review_status(user)
            elif info.kind == "SelfSubjectRulesReview":
                ns = str(spec.get("namespace", "") or "")
                status = self.authorizer.rules_review(user, ns)
            elif info.kind == "SelfSubjectAccessReview":
                status = review_status(self.authorizer.authorize(review_attributes(user, spec)))
            else:
                subject = subject_from_review(spec)
                local_ns = namespace if info.kind == "LocalSubjectAccessReview" else ""
                status = review_status(self.authorizer.authorize(review_attributes(subject, spec, local_ns)))
        except AccessReviewError as exc:
            raise errors.invalid(
                info.kind, info.group, "", [errors.Cause("FieldValueInvalid", str(exc), exc.field)]
            ) from exc
        out = {
            "kind": info.kind,
            "apiVersion": info.group_version,
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }
        await send_json(send, 201, out)

    async def non_resource(self, req: Request, send: Send, path: str) -> None:
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            if path.startswith("/readyz") and not self.ready:
                await send_bytes(
                    send, 500, b"[-]informer-sync failed: not ready\nreadyz check failed", "text/plain"
                )
                return
            body = b"ok"
            if req.flag("verbose"):
                body = b"[+]ping ok\n[+]etcd ok\n" + path.lstrip("/").encode() + b" check passed\n"
            await send_bytes(send, 200, body, "text/plain; charset=utf-8")
            return
        if path == "/metrics":
            await send_bytes(send, 200, self.metrics.render(), CONTENT_TYPE_LATEST)
            return
        if path == "/version":
            major, minor = "1", "34"
            await send_json(
                send,
                200,
                {
                    "major": major,
                    "minor": minor,
                    "gitVersion": f"v{major}.{minor}.0-teapot.{__version__}",
                    "gitCommit": "",
                    "gitTreeState": "clean",
                    "buildDate": "",
                    "goVersion": "python",
                    "compiler": "cpython",
                    "platform": "linux/amd64",
                },
            )
            return
        if path == "/api":
            await send_bytes(send, 200, self.discovery.api_versions())
            return
        if path == "/apis":
            await send_bytes(send, 200, self.discovery.api_groups())
            return
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            doc = self.discovery.resource_list("", parts[1])
            if doc is not None:
                await send_bytes(send, 200, doc)
                return
        if parts[0] == "apis" and len(parts) == 2:
            doc = self.discovery.api_group(parts[1])
            if doc is not None:
                await send_bytes(send, 200, doc)
                return
        if parts[0] == "apis" and len(parts) == 3:
            doc = self.discovery.resource_list(parts[1], parts[2])
            if doc is not None:
                await send_bytes(send, 200, doc)
                return
        if parts[0] == "openapi" and self.openapi is not None:
            if path == "/openapi/v2":
                if "protobuf" in req.headers.get("accept", ""):
                    await send_bytes(send, 200, self.openapi.v2_protobuf(), V2_PROTOBUF)
                else:
                    await send_bytes(send, 200, self.openapi.v2())
                return
            if path == "/openapi/v3":
                await send_bytes(send, 200, self.openapi.v3_index())
                return
            if len(parts) > 2 and parts[1] == "v3":
                doc = self.openapi.v3_group_version("/".join(parts[2:]))
                if doc is not None:
                    await send_bytes(send, 200, doc)
                    return
        raise StatusError(404, "NotFound", "the server could not find the requested resource")
