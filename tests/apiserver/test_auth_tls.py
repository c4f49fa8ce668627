"""End to end: uvicorn + the peer-cert protocol + our authenticator, driven by real kubectl and the
official Python client with the kubeconfigs this package writes."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import ssl
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml

from teapot.apiserver.auth import (
    Authenticator,
    PKIPaths,
    TokenAuthenticator,
    client_ssl_context,
    ensure_admin_token_file,
    ensure_pki,
    load_token_file,
    parse_token_csv,
    server_ssl_context,
    server_url,
    write_admin_kubeconfig,
    write_token_kubeconfig,
)
from teapot.apiserver.auth.tls import PeerCertHttpToolsProtocol, peer_cert_from_scope

pytestmark = pytest.mark.e2e

KUBECTL = Path(sys.executable).with_name("kubectl")
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def make_app(authn: Authenticator) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        user = authn.authenticate(scope["headers"], peer_cert_from_scope(scope))
        if user is None:
            status, body = (
                401,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": "Unauthorized",
                    "reason": "Unauthorized",
                    "code": 401,
                },
            )
        else:
            tls = scope["extensions"]["tls"]
            status, body = (
                200,
                {
                    "name": user.name,
                    "groups": list(user.groups),
                    "cert": tls["client_cert_name"],
                    "tls": tls["tls_version"],
                },
            )
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    return app


TOKENS = 'tok-alice,alice,u-alice,"acme"\ntok-root,root,u-root,"system:masters"\n'


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, PKIPaths]]:
    pki = ensure_pki(tmp_path / "data")
    generated = load_token_file(ensure_admin_token_file(tmp_path / "data"))
    entries = [*parse_token_csv(TOKENS).entries, *generated.entries]
    authn = Authenticator([TokenAuthenticator(entries)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        make_app(authn),
        http=PeerCertHttpToolsProtocol,
        ssl_context_factory=lambda _cfg, _default: server_ssl_context(pki),
        lifespan="off",
        log_level="warning",
    )
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve(sockets=[sock]))
    for _ in range(200):
        if srv.started:
            break
        await asyncio.sleep(0.01)
    assert srv.started
    yield server_url("127.0.0.1", sock.getsockname()[1]), pki
    srv.should_exit = True
    await asyncio.wait_for(task, 10)


async def kubectl(kubeconfig: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "HOME": str(kubeconfig.parent), "KUBECONFIG": str(kubeconfig)}
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_kubectl_with_admin_client_cert_kubeconfig(
    server: tuple[str, PKIPaths], tmp_path: Path
) -> None:
    url, pki = server
    path = write_admin_kubeconfig(tmp_path / "admin.kubeconfig", url, pki)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    user = yaml.safe_load(path.read_text())["users"][0]["user"]
    assert set(user) == {"client-certificate-data", "client-key-data"}
    rc, out, err = await kubectl(path, "get", "--raw", "/whoami")
    assert rc == 0, err
    body = json.loads(out)
    assert body["name"] == "teapot-admin"
    assert body["groups"] == ["system:masters", "system:authenticated"]
    assert body["cert"] == "CN=teapot-admin,O=system:masters"
    assert body["tls"] in (0x0303, 0x0304)


async def test_kubectl_with_token_kubeconfigs(server: tuple[str, PKIPaths], tmp_path: Path) -> None:
    url, pki = server
    alice = write_token_kubeconfig(
        tmp_path / "alice", url, pki.ca_cert, "tok-alice", user="alice", namespace="acme"
    )
    rc, out, err = await kubectl(alice, "get", "--raw", "/whoami")
    assert rc == 0, err
    assert json.loads(out)["name"] == "alice"
    assert json.loads(out)["cert"] is None
    # the admin kubeconfig of an operator-given token file uses its first system:masters token
    path = write_admin_kubeconfig(tmp_path / "root", url, pki, parse_token_csv(TOKENS))
    assert yaml.safe_load(path.read_text())["users"][0]["user"] == {"token": "tok-root"}
    rc, out, err = await kubectl(path, "get", "--raw", "/whoami")
    assert rc == 0, err
    assert json.loads(out)["groups"] == ["system:masters", "system:authenticated"]


async def test_kubectl_with_unknown_token_is_unauthorized(
    server: tuple[str, PKIPaths], tmp_path: Path
) -> None:
    url, pki = server
    bad = write_token_kubeconfig(tmp_path / "bad", url, pki.ca_cert, "nope")
    rc, _out, err = await kubectl(bad, "get", "--raw", "/whoami")
    assert rc != 0
    assert "Unauthorized" in err


async def test_official_python_client_with_client_cert(server: tuple[str, PKIPaths], tmp_path: Path) -> None:
    from kubernetes import client, config

    url, pki = server
    path = write_admin_kubeconfig(tmp_path / "admin.kubeconfig", url, pki)
    api = config.new_client_from_config(config_file=str(path))  # type: ignore[no-untyped-call]
    try:
        method, full_url, headers, _, _ = api.param_serialize("GET", "/whoami", auth_settings=["BearerToken"])
        resp = await asyncio.to_thread(api.call_api, method, full_url, headers)
        assert resp.status == 200
        assert json.loads(resp.read())["name"] == "teapot-admin"
    finally:
        api.close()
    assert isinstance(api, client.ApiClient)


def _two_requests(url: str, ctx: ssl.SSLContext, headers: dict[str, str]) -> list[tuple[int, dict[str, Any]]]:
    host, port = url.removeprefix("https://").rsplit(":", 1)
    conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
    try:
        out = []
        for _ in range(2):
            conn.request("GET", "/whoami", headers=headers)
            resp = conn.getresponse()
            out.append((resp.status, json.loads(resp.read())))
        return out
    finally:
        conn.close()


async def test_keep_alive_connection_keeps_its_identity(server: tuple[str, PKIPaths]) -> None:
    url, pki = server
    with_cert = client_ssl_context(pki, pki.admin_cert, pki.admin_key)
    answers = await asyncio.to_thread(_two_requests, url, with_cert, {})
    assert [(s, b["name"]) for s, b in answers] == [(200, "teapot-admin"), (200, "teapot-admin")]
    no_cert = client_ssl_context(pki)
    answers = await asyncio.to_thread(_two_requests, url, no_cert, {})
    assert [s for s, _ in answers] == [401, 401]
    answers = await asyncio.to_thread(_two_requests, url, no_cert, {"Authorization": "Bearer tok-alice"})
    assert [(s, b["name"], b["cert"]) for s, b in answers] == [(200, "alice", None)] * 2
