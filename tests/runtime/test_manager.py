from __future__ import annotations

import asyncio
import os
import signal

import aiohttp
import pytest

from teapot.runtime.controller import Result
from teapot.runtime.leaderelection import LeaderElectionConfig
from teapot.runtime.manager import LeadershipLost, Manager, ManagerOptions
from teapot.runtime.resources import ObjectKey, ResourceRef
from tests.runtime.fakes import FakeApi, eventually

HOSTS = ResourceRef("metal3.io", "v1alpha1", "baremetalhosts", kind="BareMetalHost")


class Seen:
    def __init__(self) -> None:
        self.keys: list[str] = []

    async def reconcile(self, key: ObjectKey) -> Result:
        self.keys.append(str(key))
        return Result()


def _election(identity: str) -> LeaderElectionConfig:
    return LeaderElectionConfig(
        "mgr-test", identity=identity, lease_duration=0.6, renew_deadline=0.4, retry_period=0.1
    )


async def test_manager_runs_controllers_serves_metrics_and_stops() -> None:
    api = FakeApi()
    await api.create(HOSTS, {"metadata": {"name": "h1", "namespace": "fleet"}})
    manager = Manager(api, ManagerOptions(metrics_bind_address="127.0.0.1:0", handle_signals=False))
    seen = Seen()
    manager.new_controller("mgr-hosts", seen).watch(manager.informer(HOSTS))
    run = asyncio.create_task(manager.run())
    await eventually(lambda: seen.keys == ["fleet/h1"])
    async with aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{manager.metrics_port}"
        async with http.get(f"{base}/metrics") as response:
            text = await response.text()
        async with http.get(f"{base}/readyz") as ready, http.get(f"{base}/healthz") as healthy:
            assert (ready.status, healthy.status) == (200, 200)
    assert 'controller_runtime_reconcile_total{controller="mgr-hosts",result="success"} 1.0' in text
    assert 'workqueue_adds_total{name="mgr-hosts"} 1.0' in text
    assert "rest_client_rate_limit_qps" in text
    manager.stop()
    await asyncio.wait_for(run, 5)


async def test_only_the_leader_reconciles_and_sigterm_hands_over() -> None:
    api = FakeApi()
    await api.create(HOSTS, {"metadata": {"name": "h1", "namespace": "fleet"}})
    seen_a, seen_b = Seen(), Seen()
    a = Manager(
        api, ManagerOptions(metrics_bind_address=None, leader_election=_election("a"), handle_signals=True)
    )
    a.new_controller("mgr-a", seen_a).watch(a.informer(HOSTS))
    run_a = asyncio.create_task(a.run())
    await eventually(lambda: seen_a.keys == ["fleet/h1"])
    b = Manager(
        api, ManagerOptions(metrics_bind_address=None, leader_election=_election("b"), handle_signals=False)
    )
    b.new_controller("mgr-b", seen_b).watch(b.informer(HOSTS))
    run_b = asyncio.create_task(b.run())
    await eventually(lambda: all(i.has_synced for i in b.informers.informers))  # follower caches are warm
    await asyncio.sleep(0.3)
    assert seen_b.keys == []
    os.kill(os.getpid(), signal.SIGTERM)  # handled by manager a only
    await asyncio.wait_for(run_a, 5)
    await eventually(lambda: seen_b.keys == ["fleet/h1"], timeout=2)
    b.stop()
    await asyncio.wait_for(run_b, 5)


async def test_losing_leadership_ends_run_with_leadership_lost() -> None:
    api = FakeApi()
    manager = Manager(
        api, ManagerOptions(metrics_bind_address=None, leader_election=_election("x"), handle_signals=False)
    )
    run = asyncio.create_task(manager.run())
    await eventually(lambda: manager.elector is not None and manager.elector.is_leader)
    api.fail_writes = 1000
    with pytest.raises(LeadershipLost):
        await asyncio.wait_for(run, 3)
