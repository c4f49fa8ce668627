"""KubeClient over kubernetes_asyncio against a scripted local HTTP server: kubeconfig loading,
bearer auth, paths, query parameters, content types, watch streaming, errors, QPS metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from aiohttp import web

from teapot.runtime import metrics
from teapot.runtime.client import ApiError, ClientSettings, KubeClient, connect
from teapot.runtime.resources import LEASES, ResourceRef

HOSTS = ResourceRef("metal3.io", "v1alpha1", "baremetalhosts", kind="BareMetalHost")


class Scripted:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.throttle: list[int] = []  # statuses to answer (with Retry-After) before serving

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "auth": request.headers.get("Authorization"),
                "content_type": request.headers.get("Content-Type"),
                "body": json.loads(body) if body else None,
                "status": self.throttle[0] if self.throttle else 200,
            }
        )
        if self.throttle:
            code = self.throttle.pop(0)
            return web.json_response(
                {"kind": "Status", "code": code}, status=code, headers={"Retry-After": "0.01"}
            )
        if request.path.endswith("/missing"):
            status = {
                "kind": "Status",
                "code": 404,
                "reason": "NotFound",
                "message": 'hosts "missing" not found',
            }
            return web.json_response(status, status=404)
        if request.query.get("watch") == "true":
            response = web.StreamResponse()
            await response.prepare(request)
            for n in (1, 2):
                event = {
                    "type": "ADDED",
                    "object": {"metadata": {"name": f"h{n}", "resourceVersion": str(n)}},
                }
                await response.write(orjson.dumps(event) + b"\n")
            await response.write(b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}\n')
            await response.write_eof()
            return response
        return web.json_response({"kind": "Echo", "metadata": {"resourceVersion": "5"}, "items": []})


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Scripted, str]]:
    scripted = Scripted()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", scripted.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "s3cret"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    try:
        yield scripted, str(kubeconfig)
    finally:
        await runner.cleanup()


async def test_verbs_build_kubernetes_requests(served: tuple[Scripted, str]) -> None:
    scripted, kubeconfig = served
    async with await connect(ClientSettings(kubeconfig=kubeconfig, max_connections=512)) as client:
        assert client.api.configuration.connection_pool_maxsize == 512
        await client.list(HOSTS, "fleet", label_selector="a=b", limit=10, continue_token="tok")
        await client.create(HOSTS, {"metadata": {"name": "h1", "namespace": "fleet"}})
        await client.patch(HOSTS, "h1", {"status": {"x": 1}}, "fleet", subresource="status")
        await client.patch(HOSTS, "h1", [{"op": "add"}], "fleet", patch_type="json")
        await client.patch(
            HOSTS, "h1", {"spec": {}}, "fleet", patch_type="apply", field_manager="m", force=True
        )
        await client.replace(
            LEASES, {"metadata": {"name": "l", "namespace": "kube-system", "resourceVersion": "3"}}
        )
        await client.delete(HOSTS, "h1", "fleet")
    r = scripted.requests
    assert all(x["auth"] == "Bearer s3cret" for x in r)
    assert (r[0]["method"], r[0]["path"]) == (
        "GET",
        "/apis/metal3.io/v1alpha1/namespaces/fleet/baremetalhosts",
    )
    assert r[0]["query"] == {"labelSelector": "a=b", "limit": "10", "continue": "tok"}
    assert (r[1]["method"], r[1]["body"]) == ("POST", {"metadata": {"name": "h1", "namespace": "fleet"}})
    assert r[2]["path"].endswith("/baremetalhosts/h1/status")
    assert r[2]["content_type"] == "application/merge-patch+json"
    assert r[3]["content_type"] == "application/json-patch+json"
    assert r[4]["content_type"] == "application/apply-patch+yaml"
    assert r[4]["query"] == {"fieldManager": "m", "force": "true"}
    assert (r[5]["method"], r[5]["path"]) == (
        "PUT",
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l",
    )
    assert r[6]["method"] == "DELETE"


async def test_watch_streams_events_with_bookmarks(served: tuple[Scripted, str]) -> None:
    scripted, kubeconfig = served
    async with await connect(ClientSettings(kubeconfig=kubeconfig)) as client:
        events = [e async for e in client.watch(HOSTS, resource_version="7", timeout_seconds=60)]
    assert [(e.type, e.object["metadata"]["resourceVersion"]) for e in events] == [
        ("ADDED", "1"),
        ("ADDED", "2"),
        ("BOOKMARK", "9"),
    ]
    assert scripted.requests[0]["path"] == "/apis/metal3.io/v1alpha1/baremetalhosts"
    assert scripted.requests[0]["query"] == {
        "watch": "true",
        "timeoutSeconds": "60",
        "allowWatchBookmarks": "true",
        "resourceVersion": "7",
    }


async def test_errors_carry_the_status(served: tuple[Scripted, str]) -> None:
    _, kubeconfig = served
    async with await connect(ClientSettings(kubeconfig=kubeconfig)) as client:
        with pytest.raises(ApiError) as info:
            await client.get(HOSTS, "missing", "fleet")
    assert info.value.not_found and not info.value.conflict
    assert 'hosts "missing" not found' in str(info.value)
    assert metrics.REGISTRY.get_sample_value("rest_client_requests_total", {"method": "GET", "code": "404"})


async def test_optional_qps_limit_is_enforced_and_visible(served: tuple[Scripted, str]) -> None:
    _, kubeconfig = served
    before = metrics.REGISTRY.get_sample_value("rest_client_rate_limiter_duration_seconds_count") or 0
    client: KubeClient = await connect(ClientSettings(kubeconfig=kubeconfig, qps=50, burst=1))
    try:
        assert metrics.REGISTRY.get_sample_value("rest_client_rate_limit_qps") == 50
        started = asyncio.get_running_loop().time()
        await asyncio.gather(*(client.list(HOSTS) for _ in range(6)))
        assert asyncio.get_running_loop().time() - started >= 0.09  # 5 waits of 20 ms
        assert (
            metrics.REGISTRY.get_sample_value("rest_client_rate_limiter_duration_seconds_count") == before + 6
        )
    finally:
        await client.close()
    unlimited = await connect(ClientSettings(kubeconfig=kubeconfig))
    assert metrics.REGISTRY.get_sample_value("rest_client_rate_limit_qps") == 0
    assert metrics.REGISTRY.get_sample_value("rest_client_connection_pool_size") == 256
    await unlimited.close()


async def test_throttled_requests_are_retried_after_retry_after(served: tuple[Scripted, str]) -> None:
    scripted, kubeconfig = served
    scripted.throttle = [429, 503]
    async with await connect(ClientSettings(kubeconfig=kubeconfig)) as client:
        result = await client.create(HOSTS, {"metadata": {"name": "h1", "namespace": "fleet"}})
        assert result["kind"] == "Echo"
        assert [r["status"] for r in scripted.requests] == [429, 503, 200]
        scripted.requests.clear()
        scripted.throttle = [429] * 10
        with pytest.raises(ApiError) as info:
            await client.get(HOSTS, "h1", "fleet")
    assert info.value.status == 429
    assert len(scripted.requests) == 6  # one try and max_retries (5) retries
