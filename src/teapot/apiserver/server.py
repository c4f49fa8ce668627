"""Assemble and run the embedded API server from a data directory.

Why it exists: ``teapot apiserver``, ``teapot up`` and the tests all need the same thing — a data dir
with certificates, tokens, an admin kubeconfig and a SQLite store, bootstrap objects (default
namespaces, RBAC roles), served over HTTPS by uvicorn — started in-process and stopped cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import uvicorn

from teapot.apiserver.app import APIServerApp, StoreRBACSource
from teapot.apiserver.auth import (
    Authenticator,
    Authorizer,
    TokenAuthenticator,
    bootstrap_policy,
    ensure_admin_token_file,
    ensure_pki,
    load_token_file,
    server_ssl_context,
    write_admin_kubeconfig,
)
from teapot.apiserver.auth.tls import PeerCertHttpToolsProtocol
from teapot.apiserver.auth.tokens import TokenFile
from teapot.apiserver.conversion import STORED_AS, storage_key, to_storage
from teapot.apiserver.discovery import Discovery
from teapot.apiserver.errors import StatusError
from teapot.apiserver.extensions import build_extensions
from teapot.apiserver.gc import Collector
from teapot.apiserver.handlers import ResourceHandlers
from teapot.apiserver.kinds import BuiltinKinds
from teapot.apiserver.objects import ObjectService, WriteContext
from teapot.apiserver.registry import Registry
from teapot.apiserver.storage import Store
from teapot.apiserver.watch import WatchHub

log = logging.getLogger("teapot.apiserver")
_SYSTEM = WriteContext(user="system:apiserver", field_manager="teapot-apiserver")


@dataclass(frozen=True)
class ServerSettings:
    data_dir: Path
    bind_address: str = "127.0.0.1"
    secure_port: int = 6443  # 0 picks a free port
    token_auth_file: Path | None = None
    write_kubeconfig: Path | None = None
    extra_sans: tuple[str, ...] = ()


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the embedding process owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class EmbeddedAPIServer:
    """The whole server in one object: ``await start()`` … ``await stop()``."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir
        self.kubeconfig = settings.data_dir / "kubeconfig"
        self.url = ""
        self.port = 0
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.store: Store | None = None

    # -- assembly --------------------------------------------------------------------------------
    def _build(self) -> tuple[APIServerApp, ObjectService, Collector, ResourceHandlers]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(self.data_dir / "state.db")
        self.store = store
        registry = Registry()
        migrate_views(store, registry)
        hub = WatchHub(store.rv)
        ext = build_extensions(registry)
        holder: dict[str, Any] = {}

        def crd_changed(name: str, crd: dict[str, Any] | None) -> None:
            if crd is None:
                registry.remove_crd(name)
            else:
                registry.set_crd(name, crd)
            ext.resources_changed()

        def rbac_changed() -> None:
            authz = holder.get("authorizer")
            if authz is not None:
                authz.bump()

        kinds = BuiltinKinds(
            validate_crd=ext.validate_crd, on_crd_change=crd_changed, on_rbac_change=rbac_changed
        )
        objects = ObjectService(
            store, hub, registry, admission=ext.admission, field_managers=ext.field_managers, hooks=kinds
        )
        # Serve every stored CRD (the registry is memory-only and rebuilt on each start).
        for row in store.list("apiextensions.k8s.io/customresourcedefinitions"):
            crd = orjson.loads(row.data)
            if not (crd.get("metadata") or {}).get("deletionTimestamp") or (crd.get("metadata") or {}).get(
                "finalizers"
            ):
                registry.set_crd(crd["metadata"]["name"], crd)
        ext.resources_changed()

        token_file: TokenFile
        if self.settings.token_auth_file is not None:
            token_file = load_token_file(self.settings.token_auth_file)
            operator_tokens: TokenFile | None = token_file
        else:
            token_file = load_token_file(ensure_admin_token_file(self.data_dir))
            operator_tokens = None
        self._token_file = operator_tokens
        authenticator = Authenticator([TokenAuthenticator(token_file.entries)])
        authorizer = Authorizer(StoreRBACSource(objects))
        holder["authorizer"] = authorizer
        handlers = ResourceHandlers(objects, tables=ext.tables, patcher=ext.patcher)
        app = APIServerApp(
            objects, handlers, Discovery(registry), authenticator, authorizer, openapi=ext.openapi
        )
        self._bootstrap(objects)
        collector = Collector(objects)
        return app, objects, collector, handlers

    def _bootstrap(self, objects: ObjectService) -> None:
        registry = objects.registry

        def ensure(group: str, version: str, resource: str, obj: dict[str, Any], namespace: str = "") -> None:
            info = registry.lookup(group, version, resource)
            assert info is not None
            name = obj["metadata"]["name"]
            if objects.get_stored(info, namespace, name) is None:
                try:
                    objects.create(info, namespace, obj, _SYSTEM)
                except StatusError as err:
                    log.warning("bootstrap of %s/%s failed: %s", resource, name, err.message)

        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            ensure(
                "", "v1", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            )
        policy = bootstrap_policy()
        for role in policy.cluster_roles:
            ensure("rbac.authorization.k8s.io", "v1", "clusterroles", role)
        for binding in policy.cluster_role_bindings:
            ensure("rbac.authorization.k8s.io", "v1", "clusterrolebindings", binding)

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        app, objects, collector, handlers = self._build()
        self.app, self.objects, self.collector, self.handlers = app, objects, collector, handlers
        pki = ensure_pki(
            self.data_dir, bind_address=self.settings.bind_address, extra_sans=self.settings.extra_sans
        )
        self.pki = pki
        family = socket.AF_INET6 if ":" in self.settings.bind_address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.settings.bind_address, self.settings.secure_port))
        sock.listen(2048)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        host = f"[{self.settings.bind_address}]" if family == socket.AF_INET6 else self.settings.bind_address
        self.url = f"https://{host}:{self.port}"
        app.discovery.server_address = f"{self.settings.bind_address}:{self.port}"

        def ssl_factory(_config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
            return server_ssl_context(pki)

        config = uvicorn.Config(
            app,
            http=PeerCertHttpToolsProtocol,
            loop="none",
            lifespan="off",
            log_level="warning",
            access_log=False,
            ssl_context_factory=ssl_factory,
            timeout_keep_alive=120,
            timeout_graceful_shutdown=3,
            backlog=2048,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="teapot-apiserver")
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        collector.start()
        app.ready = True
        write_admin_kubeconfig(self.kubeconfig, self.url, pki, self._token_file)
        if self.settings.write_kubeconfig is not None:
            write_admin_kubeconfig(self.settings.write_kubeconfig, self.url, pki, self._token_file)

    async def stop(self) -> None:
        if self._server is None:
            return
        self.app.ready = False
        self.handlers.stopping.set()
        self.objects.hub.close_all()
        await self.collector.stop()
        self._server.should_exit = True
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
        if self.store is not None:
            self.store.close()
        self._server = None

    async def __aenter__(self) -> EmbeddedAPIServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def migrate_views(store: Store, registry: Registry) -> None:
    """Move objects an older server stored under a view's own key (events.k8s.io Events were stored
    apart from core Events) to the key their resource is stored under now, converted."""
    for group, resource in STORED_AS:
        info = next((i for i in registry.all() if (i.group, i.resource) == (group, resource)), None)
        old_key = f"{group}/{resource}"
        rows = store.list(old_key) if info is not None else []
        if info is None or not rows:
            continue
        new_key = storage_key(info)
        with store.transaction():
            for row in rows:
                store.delete(old_key, row.namespace, row.name, rv=store.next_rv())
                if store.get(new_key, row.namespace, row.name) is not None:
                    log.warning(
                        "dropping %s %s/%s: the name is taken in %s",
                        old_key,
                        row.namespace,
                        row.name,
                        new_key,
                    )
                    continue
                obj = to_storage(info, orjson.loads(row.data))
                meta = obj.setdefault("metadata", {})
                rv = store.next_rv()
                meta["resourceVersion"] = str(rv)
                refs = meta.get("ownerReferences") or []
                store.put(
                    new_key,
                    row.namespace,
                    row.name,
                    rv=rv,
                    uid=str(meta.get("uid", "")),
                    labels=row.labels,
                    data=orjson.dumps(obj),
                    owner_uids=[str(r["uid"]) for r in refs if isinstance(r, dict) and r.get("uid")],
                )
        log.info("moved %d %s into %s", len(rows), old_key, new_key)


async def serve_forever(
    settings: ServerSettings, on_started: Callable[[EmbeddedAPIServer], None] | None = None
) -> None:
    """Run until cancelled (Ctrl-C / SIGTERM handled by the caller's event loop)."""
    server = EmbeddedAPIServer(settings)
    await server.start()
    if on_started is not None:
        on_started(server)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
