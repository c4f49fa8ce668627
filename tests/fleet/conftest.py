"""Shared fixtures: one running example fleet per module, and a notification collector."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from teapot.fleet.fleet import Fleet
from teapot.fleet.parse import load_datacenter

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "datacenter.yaml"
POWER_DELAY_S = 0.5


class Collector:
    """Records JSON PUTs (the emulator's state-change notifications)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with collector.changed:
                    collector.events.append(json.loads(body))
                    collector.changed.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
        with self.changed:
            found: list[dict[str, Any]] = []

            def check() -> bool:
                found[:] = [e for e in self.events if predicate(e)]
                return bool(found)

            assert self.changed.wait_for(check, timeout), f"no matching notification in {self.events!r}"
            return found[0]


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.server.shutdown()


@pytest.fixture(scope="module")
def fleet(collector: Collector) -> Iterator[Fleet]:
    with Fleet(load_datacenter(EXAMPLE), power_delay_s=POWER_DELAY_S, notify_url=collector.url) as running:
        yield running
