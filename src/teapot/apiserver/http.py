"""Minimal ASGI request/response plumbing for the API server.

Why it exists: the server is a raw ASGI application on uvicorn (httptools + uvloop) rather than a web
framework, because every request is on the hot path of a ≥500 writes/s target and the routing is
Kubernetes' own (``RequestInfo``), not a framework's. This module is the little a framework would give:
reading a bounded body, parsing the query, and sending JSON or a chunked stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson

from teapot.apiserver.errors import StatusError, too_large

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 3 * 1024 * 1024  # like kube-apiserver's 3 MiB request limit


@dataclass
class Request:
    method: str
    path: str
    raw_query: str
    headers: dict[str, str]
    raw_headers: list[tuple[bytes, bytes]]
    scope: Scope
    receive: Receive
    _query: dict[str, list[str]] | None = field(default=None, repr=False)

    @classmethod
    def from_scope(cls, scope: Scope, receive: Receive) -> Request:
        raw_headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
        return cls(
            method=scope["method"],
            path=scope["path"],
            raw_query=(scope.get("query_string") or b"").decode("latin-1"),
            headers=headers,
            raw_headers=raw_headers,
            scope=scope,
            receive=receive,
        )

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            self._query = parse_qs(self.raw_query, keep_blank_values=True) if self.raw_query else {}
        return self._query

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool:
        """A boolean query parameter: present and not "0"/"false" means true."""
        if name not in self.query:
            return False
        return self.param(name).lower() not in ("0", "false", "f", "no")

    async def body(self) -> bytes:
        chunks: list[bytes] = []
        size = 0
        declared = self.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            raise too_large(MAX_BODY)
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise too_large(MAX_BODY)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    content_type: str = "application/json",
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-cache, private"),
    ]
    if extra_headers:
        headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, obj: Any, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send_bytes(send, status, orjson.dumps(obj), "application/json", extra_headers)


async def send_error(send: Send, err: StatusError) -> None:
    headers: list[tuple[bytes, bytes]] = []
    if err.code == 401:
        headers.append((b"www-authenticate", b'Basic realm="kubernetes-master"'))
    if err.retry_after_seconds:
        headers.append((b"retry-after", str(err.retry_after_seconds).encode()))
    await send_json(send, err.code, err.to_status(), headers)


def warning_headers(warnings: list[str]) -> list[tuple[bytes, bytes]]:
    out = []
    for w in warnings:
        text = w.replace("\\", "\\\\").replace('"', '\\"')
        out.append((b"warning", f'299 - "{text}"'.encode()))
    return out
