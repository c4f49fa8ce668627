"""A tiny aiohttp server for ``/metrics`` (Prometheus text format) and health probes.

Why aiohttp: it is already in the process (kubernetes_asyncio's transport) and runs on the same
event loop as the controllers, so scraping needs no thread and no extra dependency;
prometheus-client's own ``start_http_server`` would add a thread per process.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from teapot.runtime.metrics import REGISTRY


class MetricsServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        registry: CollectorRegistry = REGISTRY,
        ready: Callable[[], bool] = lambda: True,
    ):
        self.host = host
        self.requested_port = port
        self.registry = registry
        self._ready = ready
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self.requested_port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok") if self._ready() else web.Response(status=503, text="not ready")
