"""Watch behaviour with real peers: bookmarks (periodic and initial-events-end), sendInitialEvents,
timeoutSeconds, many idle watchers at little cost, dropped clients leaking nothing (via /metrics)."""

from __future__ import annotations

import asyncio
import base64
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

from teapot.apiserver.server import EmbeddedAPIServer, ServerSettings
from tests.conftest import RunningAPIServer, start_apiserver, stop_apiserver

pytestmark = pytest.mark.e2e

INITIAL_END = "k8s.io/initial-events-end"


# -- helpers ---------------------------------------------------------------------------------------
def _api(kubeconfig: Path) -> client.ApiClient:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)


def _events(stream: Iterator[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, name, metadata) of each event (bookmarks have no name)."""
    out = []
    for ev in stream:
        meta = ev["raw_object"].get("metadata") or {}
        out.append((ev["type"], meta.get("name", ""), meta))
    return out


def _metrics(server: RunningAPIServer) -> dict[str, float]:
    """``name{labels}`` -> value for every sample of the server's /metrics (read with kubectl)."""
    text = server.kubectl("get", "--raw", "/metrics").stdout
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}"] = sample.value
    return out


def _watchers(server: RunningAPIServer, resource: str = "configmaps") -> float:
    return _metrics(server).get(f"apiserver_registered_watchers{{group=,resource={resource}}}", 0.0)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


class RawWatches:
    """Many raw HTTP watch streams (aiohttp) authenticated from an admin kubeconfig."""

    def __init__(self, kubeconfig: Path) -> None:
        cfg = yaml.safe_load(kubeconfig.read_text())
        cluster, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
        self.server = cluster["server"]
        self._tmp = tempfile.TemporaryDirectory()
        tmp = Path(self._tmp.name)
        self.ssl = ssl.create_default_context()
        ca = tmp / "ca.crt"
        ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        self.ssl.load_verify_locations(cafile=str(ca))
        self.headers: dict[str, str] = {}
        if "token" in user:
            self.headers["Authorization"] = f"Bearer {user['token']}"
        if "client-certificate-data" in user:
            crt, key = tmp / "c.crt", tmp / "c.key"
            crt.write_bytes(base64.b64decode(user["client-certificate-data"]))
            key.write_bytes(base64.b64decode(user["client-key-data"]))
            self.ssl.load_cert_chain(str(crt), str(key))
        self.responses: list[aiohttp.ClientResponse] = []
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self.ssl, limit=0, force_close=True),
            headers=self.headers,
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
        )

    async def open(self, path: str, n: int, batch: int = 100) -> None:
        for start in range(0, n, batch):
            got = await asyncio.gather(
                *(self.session.get(self.server + path) for _ in range(min(batch, n - start)))
            )
            assert all(r.status == 200 for r in got)
            self.responses += got

    def abort(self, count: int) -> None:
        """Drop ``count`` streams the rude way: the TCP connection just goes away."""
        for resp in self.responses[:count]:
            assert resp.connection is not None and resp.connection.transport is not None
            resp.connection.transport.abort()
            resp.close()
        self.responses = self.responses[count:]

    async def close(self) -> None:
        for resp in self.responses:
            resp.close()
        await self.session.close()
        self._tmp.cleanup()


# -- bookmarks, initial events, timeouts -------------------------------------------------------------
@pytest.fixture
async def inproc(tmp_path: Path) -> AsyncIterator[EmbeddedAPIServer]:
    """An in-process server whose bookmark interval a test can shorten (clients run in threads)."""
    server = EmbeddedAPIServer(ServerSettings(data_dir=tmp_path / "data", secure_port=0))
    await server.start()
    server.handlers.bookmark_interval = 0.3
    try:
        yield server
    finally:
        await server.stop()


async def test_periodic_bookmarks_only_when_allowed(inproc: EmbeddedAPIServer) -> None:
    def run() -> tuple[list[tuple[str, str, dict[str, Any]]], list[tuple[str, str, dict[str, Any]]], int]:
        with _api(inproc.kubeconfig) as api:
            core = client.CoreV1Api(api)
            core.create_namespaced_config_map("default", {"metadata": {"name": "before"}})
            rv = core.list_namespaced_config_map("default").metadata.resource_version
            seen = []
            w = watch.Watch()
            made_rv = 0
            for ev in w.stream(
                core.list_namespaced_config_map,
                "default",
                resource_version=rv,
                allow_watch_bookmarks=True,
                timeout_seconds=10,
            ):
                meta = ev["raw_object"]["metadata"]
                seen.append((ev["type"], meta.get("name", ""), meta))
                if ev["type"] == "BOOKMARK" and not made_rv:
                    made = core.create_namespaced_config_map("default", {"metadata": {"name": "during"}})
                    made_rv = int(made.metadata.resource_version)
                if sum(1 for s in seen if s[0] == "BOOKMARK") >= 3:
                    w.stop()
            plain = _events(
                watch.Watch().stream(
                    core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1
                )
            )
            return seen, plain, made_rv

    started = time.monotonic()
    seen, plain, made_rv = await asyncio.to_thread(run)
    assert time.monotonic() - started < 8  # three bookmarks at 0.3 s, not at the default interval
    types = [s[0] for s in seen]
    assert types[0] == "BOOKMARK" and ("ADDED", "during") in [(t, n) for t, n, _ in seen]
    bookmarks = [s[2] for s in seen if s[0] == "BOOKMARK"]
    assert all(set(b) == {"resourceVersion"} for b in bookmarks)  # no initial-events-end annotation
    rvs = [int(b["resourceVersion"]) for b in bookmarks]
    assert rvs == sorted(rvs) and rvs[-1] >= made_rv  # bookmarks move forward past delivered events
    assert [(t, n) for t, n, _ in plain] == [("ADDED", "during")]  # no bookmarks unless asked for


def test_initial_events_end_bookmark(api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    for i in range(3):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"c{i}"}})
    listed_rv = int(core.list_namespaced_config_map(namespace).metadata.resource_version)
    # legacy: no resourceVersion -> the current state as ADDED events, then the bookmark
    legacy = _events(
        watch.Watch().stream(
            core.list_namespaced_config_map, namespace, allow_watch_bookmarks=True, timeout_seconds=1
        )
    )
    # streaming list (client-go's WatchList): sendInitialEvents=true, resourceVersionMatch=NotOlderThan
    streamed = _events(
        watch.Watch().stream(
            core.list_namespaced_config_map,
            namespace,
            allow_watch_bookmarks=True,
            send_initial_events=True,
            resource_version_match="NotOlderThan",
            resource_version=str(listed_rv),
            timeout_seconds=1,
        )
    )
    for events in (legacy, streamed):
        assert [(t, n) for t, n, _ in events[:3]] == [("ADDED", "c0"), ("ADDED", "c1"), ("ADDED", "c2")]
        kind, _, meta = events[3]
        assert kind == "BOOKMARK" and meta["annotations"] == {INITIAL_END: "true"}
        assert int(meta["resourceVersion"]) >= listed_rv
    # sendInitialEvents=false: from the given version on, no initial state
    none = _events(
        watch.Watch().stream(
            core.list_namespaced_config_map,
            namespace,
            allow_watch_bookmarks=True,
            send_initial_events=False,
            resource_version_match="NotOlderThan",
            resource_version=str(listed_rv),
            timeout_seconds=1,
        )
    )
    assert [t for t, _, _ in none if t != "BOOKMARK"] == []
    # kube's validation of the combination
    for kwargs in (
        {"send_initial_events": True, "allow_watch_bookmarks": True},  # no resourceVersionMatch
        {"send_initial_events": True, "resource_version_match": "NotOlderThan"},  # no bookmarks
        {
            "resource_version_match": "NotOlderThan",
            "resource_version": "1",
        },  # match without sendInitialEvents
    ):
        with pytest.raises(ApiException) as err:
            list(
                watch.Watch().stream(core.list_namespaced_config_map, namespace, timeout_seconds=1, **kwargs)
            )
        assert err.value.status == 400, kwargs


def test_timeout_seconds_ends_the_stream(api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    started = time.monotonic()
    events = _events(
        watch.Watch().stream(
            core.list_namespaced_config_map, namespace, resource_version=rv, timeout_seconds=1
        )
    )
    elapsed = time.monotonic() - started
    assert events == [] and 0.9 <= elapsed < 3


def test_watch_namespace_and_label_scope(api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    rv = core.list_config_map_for_all_namespaces().metadata.resource_version
    core.create_namespaced_config_map("default", {"metadata": {"name": f"{namespace}-elsewhere"}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "plain"}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "tagged", "labels": {"app": "x"}}})
    scoped = _events(
        watch.Watch().stream(
            core.list_namespaced_config_map, namespace, resource_version=rv, timeout_seconds=1
        )
    )
    assert [n for _, n, _ in scoped] == ["plain", "tagged"]
    labelled = _events(
        watch.Watch().stream(
            core.list_config_map_for_all_namespaces,
            resource_version=rv,
            label_selector="app",
            timeout_seconds=1,
        )
    )
    assert [n for _, n, _ in labelled] == ["tagged"]
    core.delete_namespaced_config_map(f"{namespace}-elsewhere", "default")


@pytest.fixture(scope="module")
def api_client(apiserver: RunningAPIServer) -> Iterator[client.ApiClient]:
    with apiserver.api_client() as api:
        yield api


# -- many watchers, dropped clients ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def lone_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPIServer]:
    """A server of its own, so its RSS and watcher counts are this module's alone."""
    data = tmp_path_factory.mktemp("watchers") / "data"
    data.mkdir()
    server = start_apiserver(data)
    yield server
    stop_apiserver(server)


async def test_a_thousand_idle_watchers_cost_little(lone_server: RunningAPIServer) -> None:
    n = 1000
    with _api(lone_server.kubeconfig) as api:
        core = client.CoreV1Api(api)
        rv = core.list_namespaced_config_map("default").metadata.resource_version
        # warm up (first TLS handshakes, code paths, allocator) before the baseline
        warm = RawWatches(lone_server.kubeconfig)
        await warm.open(f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}", 50)
        await warm.close()
        await asyncio.sleep(0.5)
        base_rss = _rss_mib(lone_server.process.pid)
        watches = RawWatches(lone_server.kubeconfig)
        try:
            await watches.open(
                f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&allowWatchBookmarks=true",
                n,
            )
            grown = _rss_mib(lone_server.process.pid) - base_rss
            assert await asyncio.to_thread(_watchers, lone_server) == n
            # the server still answers quickly with them all open
            started = time.perf_counter()
            for _ in range(20):
                await asyncio.to_thread(core.list_namespaced_config_map, "default")
                await asyncio.to_thread(core.read_namespace, "default")
            per_request_ms = (time.perf_counter() - started) / 40 * 1000
            # and every watcher gets every event
            started = time.perf_counter()
            reading = asyncio.gather(*(_read_events(r, 5) for r in watches.responses))
            for i in range(5):
                await asyncio.to_thread(
                    core.create_namespaced_config_map, "default", {"metadata": {"name": f"x{i}"}}
                )
            lines = await reading
            fan_out_s = time.perf_counter() - started
            assert all(got == [f"x{i}" for i in range(5)] for got in lines)
            print(
                f"{n} idle watchers: RSS +{grown:.1f} MiB, {per_request_ms:.1f} ms per request, "
                f"5 creates delivered to all in {fan_out_s:.2f} s"
            )
            assert grown < 100, f"{n} watchers cost {grown:.1f} MiB"
            assert per_request_ms < 50
            assert fan_out_s < 30  # 5,000 deliveries; generous: the test's own client shares the CPUs
        finally:
            await watches.close()
        deadline = time.monotonic() + 10
        while await asyncio.to_thread(_watchers, lone_server) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await asyncio.to_thread(_watchers, lone_server) == 0


async def _read_events(resp: aiohttp.ClientResponse, count: int) -> list[str]:
    import json

    names = []
    while len(names) < count:
        line = await asyncio.wait_for(resp.content.readline(), timeout=20)
        ev = json.loads(line)
        if ev["type"] == "ADDED":
            names.append(ev["object"]["metadata"]["name"])
    return names


async def test_dropped_clients_leak_nothing(lone_server: RunningAPIServer) -> None:
    def gauges() -> tuple[float, float, float]:
        m = _metrics(lone_server)
        longrunning = sum(v for k, v in m.items() if k.startswith("apiserver_longrunning_requests{"))
        return (
            m.get("apiserver_registered_watchers{group=,resource=configmaps}", 0.0),
            longrunning,
            m["process_open_fds{}"],
        )

    base = await asyncio.to_thread(gauges)
    assert base[:2] == (0, 0)
    with _api(lone_server.kubeconfig) as api:
        core = client.CoreV1Api(api)
        for round_ in range(3):
            watches = RawWatches(lone_server.kubeconfig)
            try:
                # initial-state watches: streams are busy sending when the clients vanish
                await watches.open("/api/v1/configmaps?watch=1&allowWatchBookmarks=true", 100)
                opened = await asyncio.to_thread(gauges)
                assert opened[0] == 100 and opened[1] >= 100
                for i in range(5):
                    await asyncio.to_thread(
                        core.create_namespaced_config_map, "default", {"metadata": {"name": f"d{round_}-{i}"}}
                    )
                watches.abort(100)
            finally:
                await watches.close()
            deadline = time.monotonic() + 10
            now = await asyncio.to_thread(gauges)
            while (now[0], now[1]) != (0, 0) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                now = await asyncio.to_thread(gauges)
            assert now[:2] == (0, 0), f"round {round_}: {now}"
            assert now[2] <= base[2] + 5, f"open fds {base[2]} -> {now[2]}"
    # the request counters saw them all
    m = await asyncio.to_thread(_metrics, lone_server)
    watches_total = sum(
        v
        for k, v in m.items()
        if k.startswith("apiserver_request_total{") and "verb=WATCH" in k and "code=200" in k
    )
    assert watches_total >= 300
