"""The Kubernetes client the runtime uses: kubernetes_asyncio underneath, dicts on top.

Why kubernetes_asyncio: it is generated from the same OpenAPI spec as the official client, is
maintained, is asyncio-native (one event loop drives thousands of watches and requests), and —
unlike client-go — has no built-in QPS throttle. It loads kubeconfig files (incl. exec and OIDC
plugins, token refresh) and in-cluster service-account config, and owns TLS and the aiohttp
connection pool. We keep all of that and add only a thin *dynamic* layer: requests by
:class:`ResourceRef` path returning decoded JSON, because the runtime must serve CRDs and built-in
kinds alike and the generated typed classes exist only for built-in kinds. (kubernetes_asyncio's own
``dynamic`` client needs a discovery round-trip per resource and returns wrapper objects.)

Throughput: a single aiohttp ``TCPConnector`` per process is sized by
:attr:`ClientSettings.max_connections` (default 256: every watch holds one connection for its
whole life, so the kubernetes_asyncio default of 100 can starve requests once many informers run).
There is **no client-side QPS limit by default**; set ``qps``/``burst`` to get one. Either way the
configured limit and the time spent waiting for it are exported as metrics, so throttling is never
silent.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import aiohttp
import orjson
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

from teapot.runtime import metrics
from teapot.runtime.ratelimit import TokenBucket
from teapot.runtime.resources import KubeObject, ResourceRef

PatchType = Literal["merge", "json", "strategic", "apply"]

_PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """How to reach the API server and how hard to push it.

    ``kubeconfig=None`` and ``in_cluster=None`` pick in-cluster config when running in a pod
    (``KUBERNETES_SERVICE_HOST`` set), else ``$KUBECONFIG`` or ``~/.kube/config``.
    """

    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool | None = None
    max_connections: int = 256
    qps: float = 0.0
    burst: int = 100
    request_timeout: float = 60.0
    #: retries of a request answered 429 (or 5xx with Retry-After), after the server's Retry-After.
    max_retries: int = 5
    user_agent: str = "teapot-runtime"


class ApiError(Exception):
    """A non-2xx answer; ``status`` is the HTTP code, ``body`` the decoded ``Status`` when there is one."""

    def __init__(self, status: int, reason: str, body: KubeObject | None = None):
        self.status = status
        self.reason = reason
        self.body = body or {}
        message = self.body.get("message") or reason
        super().__init__(f"{status} {self.body.get('reason') or reason}: {message}")

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def gone(self) -> bool:
        return self.status == 410


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One line of a watch stream: ``ADDED``, ``MODIFIED``, ``DELETED``, ``BOOKMARK`` or ``ERROR``."""

    type: str
    object: KubeObject


class ObjectClient(Protocol):
    """What informers, leader election and event recording need from a client.

    :class:`KubeClient` is the real one; unit tests pass in-memory fakes.
    """

    async def get(self, ref: ResourceRef, name: str, namespace: str | None = None) -> KubeObject: ...

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
    ) -> KubeObject: ...

    async def create(self, ref: ResourceRef, obj: KubeObject, namespace: str | None = None) -> KubeObject: ...

    async def replace(self, ref: ResourceRef, obj: KubeObject, *, subresource: str = "") -> KubeObject: ...

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
    ) -> KubeObject: ...

    def watch(
        self,
        ref: ResourceRef,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        timeout_seconds: int = 300,
        label_selector: str = "",
        field_selector: str = "",
        bookmarks: bool = True,
    ) -> AsyncIterator[WatchEvent]: ...


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    """Seconds to wait before retrying, or None when the answer is not a "retry later"."""
    header = response.headers.get("Retry-After")
    if response.status != 429 and not (response.status >= 500 and header):
        return None
    try:
        return min(max(float(header or 1), 0.0), 10.0)
    except ValueError:
        return 1.0


async def load_configuration(settings: ClientSettings) -> k8s_client.Configuration:
    configuration = k8s_client.Configuration()
    in_cluster = settings.in_cluster
    if in_cluster is None:
        in_cluster = settings.kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ
    if in_cluster:
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        path = settings.kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
        await k8s_config.load_kube_config(
            config_file=path,
            context=settings.context,
            client_configuration=configuration,
            persist_config=False,
        )
    # aiohttp's TCPConnector(limit=0) means "no limit"; kubernetes_asyncio passes this through.
    configuration.connection_pool_maxsize = settings.max_connections
    return configuration


async def connect(settings: ClientSettings = ClientSettings()) -> KubeClient:
    """Create the process's client. Create one per process and share it: it owns the connection pool."""
    configuration = await load_configuration(settings)
    api = k8s_client.ApiClient(configuration)
    api.user_agent = settings.user_agent
    return KubeClient(api, settings)


class KubeClient:
    """Dynamic, dict-based access to any resource over a shared kubernetes_asyncio ``ApiClient``."""

    def __init__(self, api: k8s_client.ApiClient, settings: ClientSettings = ClientSettings()):
        self.api = api
        self.settings = settings
        self.limiter = TokenBucket(settings.qps, settings.burst)
        metrics.REST_RATE_LIMIT_QPS.set(max(settings.qps, 0.0))
        metrics.REST_POOL_SIZE.set(settings.max_connections)

    async def close(self) -> None:
        await self.api.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- raw -------------------------------------------------------------------------------
    async def _open(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | int | bool] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> aiohttp.ClientResponse:
        params = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in (query or {}).items()]
        attempt = 0
        while True:
            if not self.limiter.unlimited:
                metrics.REST_RATE_LIMIT_WAIT.observe(await self.limiter.wait())
            started = time.perf_counter()
            response: aiohttp.ClientResponse = await self.api.call_api(
                path,
                method,
                query_params=params,
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=timeout or aiohttp.ClientTimeout(total=self.settings.request_timeout),
            )
            metrics.REST_LATENCY.labels(method).observe(time.perf_counter() - started)
            metrics.REST_REQUESTS.labels(method, str(response.status)).inc()
            retry_after = _retry_after(response)
            if retry_after is None or attempt >= self.settings.max_retries:
                break
            # Server-side throttling (API Priority and Fairness: 429) or a 5xx with Retry-After:
            # wait as told and try again, like client-go.
            attempt += 1
            response.release()
            await asyncio.sleep(retry_after)
        if response.status >= 300:
            raw = await response.read()
            response.release()
            try:
                decoded = orjson.loads(raw) if raw else {}
            except orjson.JSONDecodeError:
                decoded = {"message": raw.decode(errors="replace")}
            raise ApiError(
                response.status, response.reason or "", decoded if isinstance(decoded, dict) else {}
            )
        return response

    async def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | int | bool] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> KubeObject:
        response = await self._open(method, path, query, body, content_type)
        raw = await response.read()
        response.release()
        decoded = orjson.loads(raw) if raw else {}
        return decoded if isinstance(decoded, dict) else {"items": decoded}

    # --- verbs -----------------------------------------------------------------------------
    async def get(self, ref: ResourceRef, name: str, namespace: str | None = None) -> KubeObject:
        return await self.request("GET", ref.object_path(name, namespace))

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
        query: dict[str, str | int | bool] = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        if limit:
            query["limit"] = limit
        if continue_token:
            query["continue"] = continue_token
        if resource_version:
            query["resourceVersion"] = resource_version
        return await self.request("GET", ref.collection_path(namespace), query)

    async def create(self, ref: ResourceRef, obj: KubeObject, namespace: str | None = None) -> KubeObject:
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        return await self.request("POST", ref.collection_path(ns), body=obj)

    async def replace(self, ref: ResourceRef, obj: KubeObject, *, subresource: str = "") -> KubeObject:
        """PUT ``obj``; its ``metadata.resourceVersion`` makes this an optimistic-concurrency write."""
        meta = obj.get("metadata") or {}
        path = ref.object_path(str(meta["name"]), meta.get("namespace"), subresource)
        return await self.request("PUT", path, body=obj)

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
        query: dict[str, str | int | bool] = {}
        if field_manager:
            query["fieldManager"] = field_manager
        if force:
            query["force"] = True
        path = ref.object_path(name, namespace, subresource)
        return await self.request("PATCH", path, query, patch, _PATCH_CONTENT_TYPES[patch_type])

    async def delete(self, ref: ResourceRef, name: str, namespace: str | None = None) -> KubeObject:
        return await self.request("DELETE", ref.object_path(name, namespace))

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
        """Stream watch events until the server ends the watch. HTTP errors raise :class:`ApiError`;
        ``ERROR`` events (e.g. 410 Gone) are yielded for the caller to act on."""
        query: dict[str, str | int | bool] = {"watch": True, "timeoutSeconds": timeout_seconds}
        if bookmarks:
            query["allowWatchBookmarks"] = True
        if resource_version:
            query["resourceVersion"] = resource_version
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        timeout = aiohttp.ClientTimeout(
            sock_connect=self.settings.request_timeout, sock_read=timeout_seconds + 30.0
        )
        response = await self._open("GET", ref.collection_path(namespace), query, timeout=timeout)
        try:
            async for line in response.content:
                if not line.strip():
                    continue
                decoded = orjson.loads(line)
                yield WatchEvent(str(decoded.get("type", "")), decoded.get("object") or {})
        finally:
            response.close()
