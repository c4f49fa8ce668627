"""Measure the runtime against the embedded API server: N custom objects, one controller that
sets a condition on each through the status subresource. Not a test (pytest does not collect it).

    .venv/bin/python -m tests.runtime.bench_controller --n 1000 --workers 16

Prints one JSON line: create_per_s, informer_sync_s, converge_s (start → every object reconciled
and written), reconciles (incl. the no-op reconciles caused by our own status writes),
mean_reconcile_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import tempfile
import time
from pathlib import Path

from teapot.runtime import conditions, metrics
from teapot.runtime.client import ClientSettings, connect
from teapot.runtime.controller import ControllerOptions, Result
from teapot.runtime.manager import Manager, ManagerOptions
from teapot.runtime.resources import ObjectKey
from tests.runtime.apiserver import ApiServer
from tests.runtime.e2e_helpers import WIDGETS, ensure_namespace, ensure_widget_crd, widget


async def bench(server: ApiServer, n: int, workers: int) -> dict[str, float]:
    client = await connect(ClientSettings(kubeconfig=server.kubeconfig))
    await ensure_namespace(client, "bench")
    await ensure_widget_crd(client)
    gate = asyncio.Semaphore(16)

    async def create(i: int) -> None:
        async with gate:
            await client.create(WIDGETS, widget(f"w{i:05}", "bench", i))

    started = time.perf_counter()
    await asyncio.gather(*(create(i) for i in range(n)))
    create_s = time.perf_counter() - started

    manager = Manager(client, ManagerOptions(metrics_bind_address=None, handle_signals=False))
    informer = manager.informer(WIDGETS)
    done: set[ObjectKey] = set()
    all_done = asyncio.Event()

    class SetReady:
        async def reconcile(self, key: ObjectKey) -> Result:
            cached = informer.store.get(key)
            if cached is None:
                return Result()
            obj = copy.deepcopy(cached)
            if conditions.set_condition(obj, "Ready", "True", "Sized", "ok"):
                await client.patch(
                    WIDGETS, key.name, {"status": obj["status"]}, key.namespace, subresource="status"
                )
            done.add(key)
            if len(done) == n:
                all_done.set()
            return Result()

    manager.new_controller("bench", SetReady(), ControllerOptions(workers=workers)).watch(informer)
    started = time.perf_counter()
    run = asyncio.create_task(manager.run())
    await informer.wait_for_sync(120)
    sync_s = time.perf_counter() - started
    await all_done.wait()
    converge_s = time.perf_counter() - started
    await asyncio.sleep(1.0)  # let the echoes of our own writes settle
    manager.stop()
    await run
    await client.close()
    total = metrics.REGISTRY.get_sample_value(
        "controller_runtime_reconcile_time_seconds_sum", {"controller": "bench"}
    )
    count = metrics.REGISTRY.get_sample_value(
        "controller_runtime_reconcile_time_seconds_count", {"controller": "bench"}
    )
    return {
        "n": n,
        "workers": workers,
        "create_per_s": round(n / create_s),
        "informer_sync_s": round(sync_s, 3),
        "converge_s": round(converge_s, 2),
        "reconciles": count or 0,
        "mean_reconcile_ms": round(1000 * (total or 0) / (count or 1), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    server = ApiServer(Path(tempfile.mkdtemp(prefix="teapot-bench-")))
    server.start()
    try:
        print(json.dumps(asyncio.run(bench(server, args.n, args.workers))))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
