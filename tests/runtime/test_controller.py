from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

from teapot.runtime import metrics
from teapot.runtime.controller import (
    Controller,
    ControllerOptions,
    Result,
    generation_changed,
    owner_mapper,
)
from teapot.runtime.informer import SharedInformer
from teapot.runtime.ratelimit import BackoffPolicy
from teapot.runtime.resources import ObjectKey, ResourceRef
from teapot.runtime.workqueue import QueueOptions
from tests.runtime.fakes import FakeApi, eventually

CLAIMS = ResourceRef("teapot.dev", "v1alpha1", "hostclaims", kind="HostClaim")
HOSTS = ResourceRef("metal3.io", "v1alpha1", "baremetalhosts", kind="BareMetalHost")
FAST_QUEUE = QueueOptions(backoff=BackoffPolicy(base=0.005, cap=0.02, jitter=0.0), retry_qps=0)


class Script:
    """A reconciler whose behaviour per call is scripted; records calls and concurrency."""

    def __init__(self, outcomes: dict[str, list[Any]] | None = None, delay: float = 0.0):
        self.outcomes = outcomes or {}
        self.delay = delay
        self.calls: list[str] = []
        self.running: Counter[str] = Counter()
        self.max_parallel_same_key = 0
        self.max_parallel = 0

    async def reconcile(self, key: ObjectKey) -> Result:
        name = str(key)
        self.calls.append(name)
        self.running[name] += 1
        self.max_parallel_same_key = max(self.max_parallel_same_key, self.running[name])
        self.max_parallel = max(self.max_parallel, sum(self.running.values()))
        try:
            await asyncio.sleep(self.delay)
            todo = self.outcomes.get(name)
            outcome = todo.pop(0) if todo else Result()
            if isinstance(outcome, Exception):
                raise outcome
            assert isinstance(outcome, Result)
            return outcome
        finally:
            self.running[name] -= 1


@contextlib.asynccontextmanager
async def running(controller: Controller) -> Any:
    task = asyncio.create_task(controller.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _value(name: str, labels: dict[str, str]) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_errors_back_off_then_success_with_metrics() -> None:
    script = Script({"ns/a": [RuntimeError("BMC unreachable"), RuntimeError("again"), Result()]})
    controller = Controller("ctl-errors", script, ControllerOptions(workers=2, queue=FAST_QUEUE))
    async with running(controller):
        controller.queue.add(ObjectKey("ns", "a"))
        await eventually(lambda: len(script.calls) == 3)
        await eventually(
            lambda: (
                _value(
                    "controller_runtime_reconcile_total", {"controller": "ctl-errors", "result": "success"}
                )
                == 1
            )
        )
    assert script.calls == ["ns/a"] * 3
    assert _value("controller_runtime_reconcile_errors_total", {"controller": "ctl-errors"}) == 2
    assert _value("controller_runtime_reconcile_total", {"controller": "ctl-errors", "result": "error"}) == 2
    assert _value("controller_runtime_reconcile_time_seconds_count", {"controller": "ctl-errors"}) == 3
    assert controller.queue.num_requeues(ObjectKey("ns", "a")) == 0  # forgotten after success


async def test_requeue_after_and_requeue() -> None:
    script = Script({"a": [Result(requeue_after=0.05), Result()], "b": [Result(requeue=True), Result()]})
    controller = Controller("ctl-requeue", script, ControllerOptions(workers=2, queue=FAST_QUEUE))
    async with running(controller):
        start = asyncio.get_running_loop().time()
        controller.queue.add(ObjectKey("", "a"))
        controller.queue.add(ObjectKey("", "b"))
        await eventually(lambda: script.calls.count("a") == 2 and script.calls.count("b") == 2)
        assert asyncio.get_running_loop().time() - start >= 0.05
    assert (
        _value("controller_runtime_reconcile_total", {"controller": "ctl-requeue", "result": "requeue_after"})
        == 1
    )
    assert (
        _value("controller_runtime_reconcile_total", {"controller": "ctl-requeue", "result": "requeue"}) == 1
    )


async def test_workers_run_keys_in_parallel_but_never_one_key_twice() -> None:
    script = Script(delay=0.03)
    controller = Controller("ctl-parallel", script, ControllerOptions(workers=4, queue=FAST_QUEUE))
    async with running(controller):
        for _ in range(3):
            for name in ("a", "b", "c", "d"):
                controller.queue.add(ObjectKey("", name))
            await asyncio.sleep(0.01)
        await eventually(
            lambda: not controller.queue.processing(ObjectKey("", "a")) and len(controller.queue) == 0
        )
        await asyncio.sleep(0.05)
    assert script.max_parallel == 4
    assert script.max_parallel_same_key == 1
    # events during processing are merged into one more reconcile per key (not one per event)
    assert all(2 <= script.calls.count(n) <= 3 for n in "abcd")


async def test_watches_map_owned_objects_to_owner_keys() -> None:
    api = FakeApi()
    await api.create(CLAIMS, {"metadata": {"name": "c1", "namespace": "t1", "generation": 1}, "spec": {}})
    claims, hosts = SharedInformer(api, CLAIMS), SharedInformer(api, HOSTS)
    script = Script()
    controller = Controller("ctl-owner", script, ControllerOptions(workers=1, queue=FAST_QUEUE))
    controller.watch(claims, update_filter=generation_changed)
    controller.watch(hosts, owner_mapper("teapot.dev", "HostClaim"))
    async with running(controller):
        await eventually(lambda: script.calls == ["t1/c1"])
        owned = {"apiVersion": "teapot.dev/v1alpha1", "kind": "HostClaim", "name": "c1", "controller": True}
        other = {"apiVersion": "other.io/v1", "kind": "HostClaim", "name": "zzz", "controller": True}
        await api.create(
            HOSTS, {"metadata": {"name": "h1", "namespace": "t1", "ownerReferences": [owned, other]}}
        )
        await eventually(lambda: script.calls == ["t1/c1", "t1/c1"])
        # a status-only change (no generation bump) is filtered out; a spec change is not
        await api.patch(CLAIMS, "c1", {"status": {"phase": "Pending"}}, "t1")
        await asyncio.sleep(0.05)
        assert script.calls == ["t1/c1", "t1/c1"]
        await api.patch(CLAIMS, "c1", {"metadata": {"generation": 2}}, "t1")
        await eventually(lambda: len(script.calls) == 3)
        await api.delete(CLAIMS, "c1", "t1")
        await eventually(lambda: len(script.calls) == 4)
    await claims.stop()
    await hosts.stop()


def test_owner_mapper_variants() -> None:
    obj = {
        "metadata": {
            "namespace": "ns",
            "ownerReferences": [
                {"apiVersion": "teapot.dev/v1alpha1", "kind": "Tenant", "name": "t", "controller": False},
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "controller": True},
            ],
        }
    }
    assert owner_mapper("teapot.dev", "Tenant")(obj) == []
    assert owner_mapper("teapot.dev", "Tenant", controller_only=False, owner_namespaced=False)(obj) == [
        ObjectKey("", "t")
    ]
    assert owner_mapper("", "ConfigMap")(obj) == [ObjectKey("ns", "cm")]


async def test_stop_lets_inflight_reconcile_finish() -> None:
    script = Script(delay=0.1)
    controller = Controller(
        "ctl-stop", script, ControllerOptions(workers=1, queue=FAST_QUEUE, grace_period=1.0)
    )
    task = asyncio.create_task(controller.run())
    controller.queue.add(ObjectKey("", "a"))
    await eventually(lambda: script.calls == ["a"])
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert _value("controller_runtime_reconcile_total", {"controller": "ctl-stop", "result": "success"}) == 1
