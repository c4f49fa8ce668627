#!/usr/bin/env python3
"""Benchmark the embedded API server (or any Kubernetes API server via --kubeconfig).

Creates N custom objects with C concurrent clients, status-patches them, lists all, lists by label,
measures watch delivery latency over a sequence of creates, deletes them, and prints ONE JSON line:
create_per_s, status_patch_per_s, list_all_ms, list_selector_ms, watch_p50_ms, watch_p99_ms,
delete_per_s, rss_mib (server RSS when the server was started here), plus context keys.

Without --kubeconfig it starts `teapot apiserver` in a subprocess on a free port with a fresh data dir,
so the client and the server are separate processes (as they would be in production).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import platform
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

GROUP = "bench.teapot.dev"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer", "minimum": 0},
                                    "color": {"type": "string", "enum": ["red", "green", "blue"]},
                                    "tags": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {"phase": {"type": "string"}, "observed": {"type": "integer"}},
                            },
                        },
                    }
                },
            }
        ],
    },
}


class Client:
    def __init__(self, kubeconfig: Path) -> None:
        cfg = yaml.safe_load(kubeconfig.read_text())
        ctx_name = cfg.get("current-context") or cfg["contexts"][0]["name"]
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        self.server = cluster["server"].rstrip("/")
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-kc-"))
        sslctx = ssl.create_default_context()
        if "certificate-authority-data" in cluster:
            ca = self.tmp / "ca.crt"
            ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
            sslctx.load_verify_locations(cafile=str(ca))
        self.headers = {"Content-Type": "application/json"}
        if "token" in user:
            self.headers["Authorization"] = f"Bearer {user['token']}"
        if "client-certificate-data" in user:
            crt, key = self.tmp / "c.crt", self.tmp / "c.key"
            crt.write_bytes(base64.b64decode(user["client-certificate-data"]))
            key.write_bytes(base64.b64decode(user["client-key-data"]))
            sslctx.load_cert_chain(str(crt), str(key))
        self.ssl = sslctx
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Client:
        conn = aiohttp.TCPConnector(ssl=self.ssl, limit=0)
        self.session = aiohttp.ClientSession(connector=conn, headers=self.headers)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.session is not None
        await self.session.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    async def req(self, method: str, path: str, body: Any = None, ctype: str = "application/json") -> Any:
        assert self.session is not None
        data = json.dumps(body) if body is not None else None
        async with self.session.request(
            method, self.server + path, data=data, headers={"Content-Type": ctype}
        ) as r:
            text = await r.read()
            if r.status >= 400:
                raise RuntimeError(f"{method} {path}: {r.status} {text[:300]!r}")
            return orjson.loads(text) if text else None


async def run_pool(n: int, concurrency: int, fn: Any) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await fn(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0


async def bench(kubeconfig: Path, n: int, concurrency: int, watch_samples: int) -> dict[str, Any]:
    base = f"/apis/{GROUP}/v1/namespaces/default/widgets"
    async with Client(kubeconfig) as c:
        try:
            await c.req("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
        except RuntimeError as exc:
            if "409" not in str(exc):
                raise
        for _ in range(100):
            try:
                await c.req("GET", base + "?limit=1")
                break
            except RuntimeError:
                await asyncio.sleep(0.1)

        def obj(i: int) -> dict[str, Any]:
            return {
                "apiVersion": f"{GROUP}/v1",
                "kind": "Widget",
                "metadata": {"name": f"w-{i:06d}", "labels": {"shard": str(i % 10), "bench": "yes"}},
                "spec": {"size": i % 100, "color": ["red", "green", "blue"][i % 3], "tags": ["a", "b"]},
            }

        t_create = await run_pool(n, concurrency, lambda i: c.req("POST", base, obj(i)))
        t_patch = await run_pool(
            n,
            concurrency,
            lambda i: c.req(
                "PATCH",
                f"{base}/w-{i:06d}/status",
                {"status": {"phase": "Ready", "observed": i}},
                "application/merge-patch+json",
            ),
        )
        lists = []
        for _ in range(5):
            t0 = time.perf_counter()
            doc = await c.req("GET", base)
            lists.append(time.perf_counter() - t0)
            assert len(doc["items"]) == n, len(doc["items"])
        sel = []
        for _ in range(5):
            t0 = time.perf_counter()
            doc = await c.req("GET", base + "?labelSelector=shard%3D3")
            sel.append(time.perf_counter() - t0)
        # watch latency: time from sending a create to receiving its ADDED event. Drop the parsed lists
        # first: a full collection of them in this client process would show up as watch latency.
        del doc
        gc.collect()
        latencies: list[float] = []
        assert c.session is not None
        rv = (await c.req("GET", base + "?limit=1"))["metadata"]["resourceVersion"]
        sent: dict[str, float] = {}
        got = asyncio.Event()

        async def watcher() -> None:
            assert c.session is not None
            url = f"{c.server}{base}?watch=1&resourceVersion={rv}&labelSelector=bench%3Dwatch"
            async with c.session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as r:
                async for line in r.content:
                    ev = orjson.loads(line)
                    name = ev["object"]["metadata"]["name"]
                    if ev["type"] == "ADDED" and name in sent:
                        latencies.append(time.perf_counter() - sent[name])
                        if len(latencies) >= watch_samples:
                            got.set()
                            return

        wt = asyncio.create_task(watcher())
        await asyncio.sleep(0.3)
        for i in range(watch_samples):
            o = obj(n + i)
            o["metadata"]["labels"]["bench"] = "watch"
            sent[o["metadata"]["name"]] = time.perf_counter()
            await c.req("POST", base, o)
            await asyncio.sleep(0.005)
        await asyncio.wait_for(got.wait(), timeout=30)
        wt.cancel()
        total = n + watch_samples
        t_delete = await run_pool(total, concurrency, lambda i: c.req("DELETE", f"{base}/w-{i:06d}"))
        latencies.sort()
        return {
            "create_per_s": round(n / t_create, 1),
            "status_patch_per_s": round(n / t_patch, 1),
            "list_all_ms": round(statistics.median(lists) * 1000, 1),
            "list_selector_ms": round(statistics.median(sel) * 1000, 1),
            "watch_p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
            "watch_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
            "delete_per_s": round(total / t_delete, 1),
        }


def rss_mib(pid: int, field: str = "VmHWM") -> float:
    """Peak (VmHWM) or current (VmRSS) resident memory of a process, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return -1.0


def start_server(data_dir: Path) -> subprocess.Popen[bytes]:
    """`teapot apiserver` on a free port; returns once its kubeconfig is written."""
    kubeconfig = data_dir / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    teapot = Path(sys.executable).with_name("teapot")
    proc = subprocess.Popen(
        [str(teapot), "apiserver", "--data-dir", str(data_dir), "--secure-port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(6000):
        if kubeconfig.exists():
            return proc
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.01)
    proc.kill()
    raise SystemExit("server did not start within 60 s")


def fill_store(data_dir: Path, n: int) -> None:
    """Write N Widgets straight into the server's SQLite store (the server is stopped), as the API
    would have stored them — minutes of API writes in seconds."""
    import uuid

    from teapot.apiserver.storage import Store

    store = Store(data_dir / "state.db")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        for start in range(0, n, 10_000):
            with store.transaction():
                for i in range(start, min(n, start + 10_000)):
                    rv = store.next_rv()
                    uid = str(uuid.uuid4())
                    labels = {"shard": str(i % 10), "bench": "yes"}
                    obj = {
                        "apiVersion": f"{GROUP}/v1",
                        "kind": "Widget",
                        "metadata": {
                            "name": f"f-{i:07d}",
                            "namespace": "default",
                            "uid": uid,
                            "resourceVersion": str(rv),
                            "generation": 1,
                            "creationTimestamp": now,
                            "labels": labels,
                        },
                        "spec": {
                            "size": i % 100,
                            "color": ["red", "green", "blue"][i % 3],
                            "tags": ["a", "b"],
                        },
                        "status": {"phase": "Ready", "observed": i},
                    }
                    store.put(
                        f"{GROUP}/widgets",
                        "default",
                        obj["metadata"]["name"],  # type: ignore[index]
                        rv=rv,
                        uid=uid,
                        labels=orjson.dumps(labels).decode(),
                        data=orjson.dumps(obj),
                    )
    finally:
        store.close()


async def measure_filled(kubeconfig: Path, n: int) -> dict[str, Any]:
    base = f"/apis/{GROUP}/v1/namespaces/default/widgets"
    async with Client(kubeconfig) as c:
        out: dict[str, Any] = {}

        async def timed(path: str, runs: int = 3) -> tuple[float, Any]:
            times, doc = [], None
            for _ in range(runs):
                t0 = time.perf_counter()
                doc = await c.req("GET", path)
                times.append(time.perf_counter() - t0)
            return round(statistics.median(times) * 1000, 1), doc

        out["get_ms"], _ = await timed(f"{base}/f-{n // 2:07d}", 20)
        out["list_page_ms"], doc = await timed(base + "?limit=500")
        assert len(doc["items"]) == 500 and doc["metadata"]["remainingItemCount"] == n - 500
        t0 = time.perf_counter()
        token, seen = "", 0
        while True:
            page = await c.req("GET", base + "?limit=500" + (f"&continue={token}" if token else ""))
            seen += len(page["items"])
            token = page["metadata"].get("continue", "")
            if not token:
                break
        out["list_paged_all_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        assert seen == n, seen
        out["list_selector_ms"], doc = await timed(base + "?labelSelector=shard%3D3")
        assert len(doc["items"]) == n // 10
        out["list_all_ms"], doc = await timed(base)
        assert len(doc["items"]) == n
        return out


def fill_main(n: int) -> dict[str, Any]:
    """--fill N: RSS and read latencies with N objects stored."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-apiserver-fill-"))
    try:
        proc = start_server(data_dir)
        try:  # the CRD goes in through the API, like any client would create it
            asyncio.run(_create_crd(data_dir / "kubeconfig"))
        finally:
            proc.terminate()
            proc.wait(timeout=15)
        t0 = time.perf_counter()
        fill_store(data_dir, n)
        fill_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        proc = start_server(data_dir)
        start_s = time.perf_counter() - t0
        try:
            time.sleep(1.0)
            idle = rss_mib(proc.pid, "VmRSS")
            result = asyncio.run(measure_filled(data_dir / "kubeconfig", n))
            result.update(
                {
                    "fill_s": round(fill_s, 1),
                    "start_s": round(start_s, 2),
                    "rss_idle_mib": idle,
                    "rss_after_mib": rss_mib(proc.pid, "VmRSS"),
                    "rss_peak_mib": rss_mib(proc.pid),
                    "db_mib": round(sum(f.stat().st_size for f in data_dir.glob("state.db*")) / 2**20, 1),
                }
            )
            return result
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def _create_crd(kubeconfig: Path) -> None:
    async with Client(kubeconfig) as c:
        await c.req("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="objects to create (default 2000)")
    ap.add_argument("--concurrency", type=int, default=16, help="concurrent clients (default 16)")
    ap.add_argument("--watch-samples", type=int, default=200, help="creates timed through a watch")
    ap.add_argument("--kubeconfig", type=Path, help="benchmark this server instead of starting one")
    ap.add_argument(
        "--fill",
        type=int,
        metavar="N",
        help="instead: store N objects directly, start the server on them, measure RSS and read latency",
    )
    args = ap.parse_args()
    if args.fill:
        result = fill_main(args.fill)
        result.update({"bench": "apiserver-fill", "n": args.fill, "cpus": os.cpu_count()})
        print(json.dumps(result))
        return 0
    proc = None
    data_dir = None
    kubeconfig = args.kubeconfig
    if kubeconfig is None:
        data_dir = Path(tempfile.mkdtemp(prefix="bench-apiserver-"))
        teapot = Path(sys.executable).with_name("teapot")
        proc = subprocess.Popen(
            [str(teapot), "apiserver", "--data-dir", str(data_dir), "--secure-port", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        kubeconfig = data_dir / "kubeconfig"
        for _ in range(300):
            if kubeconfig.exists():
                break
            if proc.poll() is not None:
                raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.05)
    try:
        result = asyncio.run(bench(kubeconfig, args.n, args.concurrency, args.watch_samples))
        result["rss_mib"] = rss_mib(proc.pid) if proc is not None else -1.0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=15)
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)
    result.update(
        {
            "bench": "apiserver",
            "n": args.n,
            "concurrency": args.concurrency,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        }
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
