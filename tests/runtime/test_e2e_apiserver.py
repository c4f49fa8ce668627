"""The runtime against the embedded API server, with kubectl as an independent peer."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from teapot.runtime import conditions
from teapot.runtime.client import ApiError, ClientSettings, KubeClient, connect
from teapot.runtime.controller import ControllerOptions, Result
from teapot.runtime.events import EventRecorder, EventSource
from teapot.runtime.informer import InformerOptions
from teapot.runtime.leaderelection import LeaderCallbacks, LeaderElectionConfig, LeaderElector
from teapot.runtime.manager import Manager, ManagerOptions
from teapot.runtime.resources import CONFIGMAPS, ObjectKey
from tests.runtime.apiserver import ApiServer
from tests.runtime.e2e_helpers import WIDGETS, ensure_namespace, ensure_widget_crd, widget
from tests.runtime.fakes import eventually

pytestmark = pytest.mark.e2e


async def _client(server: ApiServer) -> KubeClient:
    return await connect(ClientSettings(kubeconfig=server.kubeconfig))


async def test_client_verbs(apiserver: ApiServer) -> None:
    async with await _client(apiserver) as client:
        await ensure_namespace(client, "rt-verbs")
        await ensure_widget_crd(client)
        created = await client.create(WIDGETS, widget("w1", "rt-verbs", 1, tier="gold"))
        assert created["metadata"]["resourceVersion"] and created["metadata"]["generation"] == 1
        assert (await client.get(WIDGETS, "w1", "rt-verbs"))["spec"] == {"size": 1}

        merged = await client.patch(WIDGETS, "w1", {"spec": {"size": 2}}, "rt-verbs")
        assert merged["spec"]["size"] == 2 and merged["metadata"]["generation"] == 2
        jsonp = [{"op": "replace", "path": "/spec/size", "value": 3}]
        assert (await client.patch(WIDGETS, "w1", jsonp, "rt-verbs", patch_type="json"))["spec"]["size"] == 3
        status = await client.patch(
            WIDGETS, "w1", {"status": {"phase": "Ready"}}, "rt-verbs", subresource="status"
        )
        assert status["status"] == {"phase": "Ready"} and status["metadata"]["generation"] == 3

        stale = dict(created)
        with pytest.raises(ApiError) as conflict:
            await client.replace(WIDGETS, stale)
        assert conflict.value.conflict

        await client.create(WIDGETS, widget("w2", "rt-verbs", 1, tier="silver"))
        gold = await client.list(WIDGETS, "rt-verbs", label_selector="tier=gold")
        assert [o["metadata"]["name"] for o in gold["items"]] == ["w1"]
        assert gold["metadata"]["resourceVersion"]

        await client.delete(WIDGETS, "w1", "rt-verbs")
        with pytest.raises(ApiError) as missing:
            await client.get(WIDGETS, "w1", "rt-verbs")
        assert missing.value.not_found and missing.value.body.get("kind") == "Status"


async def test_server_side_apply(apiserver: ApiServer) -> None:
    async with await _client(apiserver) as client:
        await ensure_namespace(client, "rt-apply")
        await ensure_widget_crd(client)
        await client.create(WIDGETS, widget("w1", "rt-apply", 1))
        applied = await client.patch(
            WIDGETS,
            "w1",
            {
                "apiVersion": "e2e.teapot.dev/v1",
                "kind": "Widget",
                "metadata": {"name": "w1"},
                "spec": {"size": 4},
            },
            "rt-apply",
            patch_type="apply",
            field_manager="rt-e2e",
            force=True,
        )
        assert applied["spec"]["size"] == 4
        assert any(m.get("manager") == "rt-e2e" for m in applied["metadata"].get("managedFields", []))


class WidgetStatus:
    """Sets a Ready condition saying the widget's size; records an Event on every change."""

    def __init__(self, manager: Manager, client: KubeClient):
        self.informer = manager.informer(WIDGETS)
        self.client = client
        self.recorder = manager.recorder
        self.reconciles = 0

    async def reconcile(self, key: ObjectKey) -> Result:
        self.reconciles += 1
        cached = self.informer.store.get(key)
        if cached is None:
            return Result()
        obj: dict[str, Any] = json.loads(json.dumps(cached))
        size = obj["spec"].get("size", 0)
        if conditions.set_condition(obj, "Ready", "True", "Sized", f"size is {size}"):
            status = {"status": {"conditions": obj["status"]["conditions"]}}
            await self.client.patch(WIDGETS, key.name, status, key.namespace, subresource="status")
            self.recorder.event(obj, "Normal", "Sized", f"size is {size}")
        return Result()


async def test_manager_controller_events_leases_and_metrics(apiserver: ApiServer) -> None:
    async with await _client(apiserver) as client:
        await ensure_namespace(client, "rt-ctl")
        await ensure_widget_crd(client)
        for n in range(20):
            await client.create(WIDGETS, widget(f"w{n:02}", "rt-ctl", n))
        election = LeaderElectionConfig("rt-widgets", "rt-ctl", identity="replica-1")
        manager = Manager(
            client,
            ManagerOptions(
                component="rt-e2e",
                metrics_bind_address="127.0.0.1:0",
                leader_election=election,
                handle_signals=False,
            ),
        )
        reconciler = WidgetStatus(manager, client)
        manager.new_controller("rt-widgets", reconciler, ControllerOptions(workers=4)).watch(
            reconciler.informer
        )
        run = asyncio.create_task(manager.run())

        def ready_count() -> int:
            items = json.loads(apiserver.kubectl("get", "widgets", "-n", "rt-ctl", "-o", "json"))["items"]
            return sum(
                1
                for o in items
                for c in o.get("status", {}).get("conditions", [])
                if c["type"] == "Ready"
                and c["status"] == "True"
                and c["observedGeneration"] == o["metadata"]["generation"]
            )

        started = time.monotonic()
        await eventually(lambda: ready_count() == 20, timeout=30)
        elapsed = time.monotonic() - started
        assert elapsed < 30

        # level-triggered: a spec change is seen and converged
        await client.patch(WIDGETS, "w03", {"spec": {"size": 33}}, "rt-ctl")

        def message_of_w03() -> str:
            obj = json.loads(apiserver.kubectl("get", "widget", "w03", "-n", "rt-ctl", "-o", "json"))
            return str(obj["status"]["conditions"][0]["message"])

        await eventually(lambda: message_of_w03() == "size is 33", timeout=10)

        lease = json.loads(apiserver.kubectl("get", "lease", "rt-widgets", "-n", "rt-ctl", "-o", "json"))
        assert lease["spec"]["holderIdentity"] == "replica-1"

        await manager.recorder.flush()
        events = json.loads(apiserver.kubectl("get", "events", "-n", "rt-ctl", "-o", "json"))["items"]
        sized = [e for e in events if e["reason"] == "Sized"]
        assert {e["involvedObject"]["name"] for e in sized} == {f"w{n:02}" for n in range(20)}
        assert all(
            e["involvedObject"]["kind"] == "Widget" and e["reportingComponent"] == "rt-e2e" for e in sized
        )

        url = f"http://127.0.0.1:{manager.metrics_port}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            text = await response.text()
        assert 'controller_runtime_reconcile_total{controller="rt-widgets",result="success"}' in text
        assert 'leader_election_master_status{name="rt-widgets"} 1.0' in text

        manager.stop()
        await asyncio.wait_for(run, 15)
        lease = json.loads(apiserver.kubectl("get", "lease", "rt-widgets", "-n", "rt-ctl", "-o", "json"))
        assert not lease["spec"].get("holderIdentity")  # released on clean shutdown


async def test_event_repeats_aggregate_on_the_server(apiserver: ApiServer) -> None:
    async with await _client(apiserver) as client:
        await ensure_namespace(client, "rt-events")
        recorder = EventRecorder(client, EventSource("rt-e2e"))
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "rt-events", "uid": "x"},
        }
        for _ in range(3):
            recorder.event(obj, "Warning", "Flapping", "power state keeps changing")
        await recorder.flush()
        await recorder.stop()
        events = json.loads(apiserver.kubectl("get", "events", "-n", "rt-events", "-o", "json"))["items"]
        assert [(e["reason"], e["count"], e["type"]) for e in events] == [("Flapping", 3, "Warning")]


async def test_manager_create_from_kubeconfig_reports_readiness_and_closes_its_client(
    apiserver: ApiServer,
) -> None:
    manager = await Manager.create(
        ClientSettings(kubeconfig=apiserver.kubeconfig),
        ManagerOptions(metrics_bind_address="127.0.0.1:0", handle_signals=False),
    )
    informer = manager.informer(CONFIGMAPS, InformerOptions(namespace="kube-system"))
    run = asyncio.create_task(manager.run())
    await informer.wait_for_sync(10)
    url = f"http://127.0.0.1:{manager.metrics_port}/readyz"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
    manager.stop()
    await asyncio.wait_for(run, 10)
    assert isinstance(manager.client, KubeClient)
    assert manager.client.api.rest_client.pool_manager.closed


async def test_two_electors_race_on_a_real_lease(apiserver: ApiServer) -> None:
    async with await _client(apiserver) as client:
        await ensure_namespace(client, "rt-lease")
        leading: list[str] = []

        def candidate(identity: str) -> tuple[LeaderElector, asyncio.Task[None]]:
            config = LeaderElectionConfig(
                "rt-race",
                "rt-lease",
                identity=identity,
                lease_duration=1.0,
                renew_deadline=0.6,
                retry_period=0.2,
            )
            elector = LeaderElector(client, config)

            async def lead() -> None:
                leading.append(identity)
                await asyncio.Future()

            return elector, asyncio.create_task(elector.run(LeaderCallbacks(lead)))

        (a, task_a), (b, task_b) = candidate("a"), candidate("b")
        await eventually(lambda: len(leading) == 1, timeout=5)
        await asyncio.sleep(1.5)  # longer than the lease: the leader keeps renewing, nobody else leads
        assert len(leading) == 1
        first = leading[0]
        lease = json.loads(apiserver.kubectl("get", "lease", "rt-race", "-n", "rt-lease", "-o", "json"))
        assert lease["spec"]["holderIdentity"] == first
        leader_task, follower = (task_a, b) if first == "a" else (task_b, a)
        leader_task.cancel()
        await asyncio.gather(leader_task, return_exceptions=True)
        await eventually(lambda: len(leading) == 2, timeout=5)
        assert leading[1] == follower.config.identity
        for task in (task_a, task_b):
            task.cancel()
        await asyncio.gather(task_a, task_b, return_exceptions=True)
