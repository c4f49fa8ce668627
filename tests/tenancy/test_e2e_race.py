"""Nothing is ever bound twice: two allocation controllers racing without leader election, then a
controller process killed with SIGKILL mid-work and restarted.

A watch records every write to every BareMetalHost, in order. "Bound twice" would show as a host's
``consumerRef`` changing from one claim straight to another (without a release in between) or as
two claims listing the same host. BareMetalHosts get their status directly through the API (no
Ironic; the host lifecycle is tested in tests/hosts).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from teapot.api import all_crds
from teapot.api import labels as L
from teapot.runtime import ApiError, ClientSettings, KubeClient, Manager, ManagerOptions, connect
from teapot.tenancy import TenancyOptions, keys, setup_tenancy_controllers
from tests.conftest import RunningAPIServer, start_apiserver, stop_apiserver

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

NS = "teapot-hosts"
HOSTS = 16
FAST = TenancyOptions(grace_period=timedelta(seconds=1))

_RUNNER = r"""
import asyncio, sys
from datetime import timedelta
from teapot.runtime import ApiError, ClientSettings, Manager, ManagerOptions, connect
from teapot.tenancy import TenancyOptions, setup_tenancy_controllers

async def main(kubeconfig):
    client = await connect(ClientSettings(kubeconfig=kubeconfig))
    manager = Manager(client, ManagerOptions(component="teapot-race", metrics_bind_address=None))
    setup_tenancy_controllers(manager, hosts_namespace="teapot-hosts",
                              options=TenancyOptions(grace_period=timedelta(seconds=1)))
    print("started", flush=True)
    await manager.run()

asyncio.run(main(sys.argv[1]))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPIServer]:
    data = tmp_path_factory.mktemp("race") / "data"
    data.mkdir()
    srv = start_apiserver(data)
    srv.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(all_crds()))
    yield srv
    stop_apiserver(srv)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def api(server: RunningAPIServer) -> AsyncIterator[KubeClient]:
    client = await connect(ClientSettings(kubeconfig=str(server.kubeconfig)))
    await client.create(keys.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    for i in range(HOSTS):
        name = f"h{i:02d}"
        await client.create(
            keys.BAREMETALHOSTS,
            {
                "apiVersion": "metal3.io/v1alpha1",
                "kind": "BareMetalHost",
                "metadata": {
                    "name": name,
                    "namespace": NS,
                    "labels": {L.TOPOLOGY_RACK: f"r{i % 4}", L.HW_CPU_CORES: str(8 + i % 3), "size": "std"},
                },
                "spec": {"online": False},
            },
        )
        await client.patch(
            keys.BAREMETALHOSTS,
            name,
            {"status": {"provisioning": {"state": "available"}}},
            NS,
            subresource="status",
        )
    await client.create(
        keys.HOSTCLASSES,
        {
            "apiVersion": keys.API_VERSION,
            "kind": "HostClass",
            "metadata": {"name": "std"},
            "spec": {"selector": {"matchLabels": {"size": "std"}}, "price": 1},
        },
    )
    for tenant, guarantee in (("a", 9), ("b", 0)):
        await client.create(
            keys.TENANTS,
            {
                "apiVersion": keys.API_VERSION,
                "kind": "Tenant",
                "metadata": {"name": tenant},
                "spec": {"namespaces": [tenant], "guarantees": [{"hostClass": "std", "count": guarantee}]},
            },
        )
    yield client
    await client.close()


class Recorder:
    """Every consumerRef transition of every host, from one watch."""

    def __init__(self) -> None:
        self.current: dict[str, str] = {}
        self.violations: list[str] = []
        self.writes = 0

    async def run(self, api: KubeClient) -> None:
        listed = await api.list(keys.BAREMETALHOSTS, NS)
        version = str(listed["metadata"]["resourceVersion"])
        for item in listed.get("items") or []:
            self.observe(item)
        async for event in api.watch(keys.BAREMETALHOSTS, NS, resource_version=version):
            if event.type in ("ADDED", "MODIFIED"):
                self.writes += 1
                self.observe(event.object)

    def observe(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        ref = (obj.get("spec") or {}).get("consumerRef")
        claim = f"{ref['namespace']}/{ref['name']}" if ref else ""
        before = self.current.get(name, "")
        if before and claim and before != claim:
            self.violations.append(f"{name}: {before} -> {claim}")
        self.current[name] = claim


def claim(namespace: str, name: str, count: int, band: str = "on-demand") -> dict[str, Any]:
    return {
        "apiVersion": keys.API_VERSION,
        "kind": "HostClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"count": count, "band": band},
    }


async def settled(
    api: KubeClient, expected: Callable[[dict[str, int]], bool], timeout: float = 60.0
) -> dict[str, list[str]]:
    """Wait until the number of hosts each claim holds (per the hosts' consumerRefs) is as expected."""
    deadline = time.monotonic() + timeout
    while True:
        items = (await api.list(keys.BAREMETALHOSTS, NS)).get("items") or []
        held: dict[str, list[str]] = {}
        for h in items:
            ref = (h.get("spec") or {}).get("consumerRef")
            if ref:
                held.setdefault(f"{ref['namespace']}/{ref['name']}", []).append(h["metadata"]["name"])
        if expected({k: len(v) for k, v in held.items()}):
            return held
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled: {held}")
        await asyncio.sleep(0.2)


async def test_two_replicas_racing_never_bind_a_host_twice(api: KubeClient, server: RunningAPIServer) -> None:
    recorder = Recorder()
    watch = asyncio.create_task(recorder.run(api))
    managers, tasks, clients = [], [], []
    for n in range(2):  # no leader election: both act on every change
        client = await connect(ClientSettings(kubeconfig=str(server.kubeconfig)))
        manager = Manager(
            client, ManagerOptions(component=f"race-{n}", metrics_bind_address=None, handle_signals=False)
        )
        setup_tenancy_controllers(manager, hosts_namespace=NS, options=FAST)
        clients.append(client)
        managers.append(manager)
        tasks.append(asyncio.create_task(manager.run()))
    try:
        for namespace in ("a", "b"):  # the tenant controller creates them
            deadline = time.monotonic() + 20
            while True:
                try:
                    await api.get(keys.NAMESPACES, namespace)
                    break
                except ApiError:
                    assert time.monotonic() < deadline, f"namespace {namespace} not created"
                    await asyncio.sleep(0.1)
        await asyncio.gather(
            *(api.create(keys.HOSTCLAIMS, claim("b", f"c{i}", 2, band="preemptible")) for i in range(5)),
            *(api.create(keys.HOSTCLAIMS, claim("a", f"c{i}", 2)) for i in range(3)),
        )
        # 16 hosts: tenant a's 6 (within its guarantee, pre-empting b if b got there first) + 10 borrowed by b
        want = {**{f"a/c{i}": 2 for i in range(3)}, **{f"b/c{i}": 2 for i in range(5)}}
        held = await settled(api, lambda counts: counts == want)
        hosts = [h for names in held.values() for h in names]
        assert len(hosts) == len(set(hosts)) == 16
    finally:
        for manager in managers:
            manager.stop()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=20)
        for client in clients:
            await client.close()
    await asyncio.sleep(0.3)
    watch.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await watch
    assert recorder.violations == []
    print(f"two replicas: {recorder.writes} host writes for 16 bindings")


async def test_kill_9_mid_work_and_restart_converges(
    api: KubeClient, server: RunningAPIServer, tmp_path: Path
) -> None:
    recorder = Recorder()
    watch = asyncio.create_task(recorder.run(api))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-c", _RUNNER, str(server.kubeconfig)],
            stdout=subprocess.PIPE,
            stderr=open(tmp_path / "controller.log", "ab"),
            env=env,
        )

    proc = start()
    try:
        assert proc.stdout is not None
        await asyncio.to_thread(proc.stdout.readline)
        # tenant a claims its guarantee back from b (pre-emption) and b shrinks: lots of moves
        await api.create(keys.HOSTCLAIMS, claim("a", "big", 3))
        await api.patch(keys.HOSTCLAIMS, "c0", {"spec": {"count": 1}}, "b")
        await asyncio.sleep(0.4)
        proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.wait)
        proc = start()
        await asyncio.to_thread(proc.stdout.readline)  # type: ignore[union-attr]

        # a reaches its guarantee of 9 (3 more: the one b/c0 gave up, 2 reclaimed from b); b keeps
        # the other 7 hosts, b/c0 at most its new count of 1
        def converged(counts: dict[str, int]) -> bool:
            a = {k: v for k, v in counts.items() if k.startswith("a/")}
            b = {k: v for k, v in counts.items() if k.startswith("b/")}
            return (
                a == {"a/c0": 2, "a/c1": 2, "a/c2": 2, "a/big": 3}
                and sum(b.values()) == 7
                and counts.get("b/c0", 0) <= 1
                and all(v <= 2 for v in b.values())
            )

        held = await settled(api, converged, timeout=90)
        hosts = [h for names in held.values() for h in names]
        assert len(hosts) == len(set(hosts)) == 16
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout=15)
        except TimeoutError:
            proc.kill()
    watch.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await watch
    assert recorder.violations == []
