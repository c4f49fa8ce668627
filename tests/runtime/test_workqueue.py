from __future__ import annotations

import asyncio
import time

import pytest

from teapot.runtime import metrics
from teapot.runtime.ratelimit import BackoffPolicy
from teapot.runtime.workqueue import QueueOptions, QueueShutDown, WorkQueue


def _q(name: str, **kw: float) -> WorkQueue[str]:
    options = QueueOptions(
        backoff=BackoffPolicy(base=kw.get("base", 0.01), cap=kw.get("cap", 1.0), jitter=0.0),
        retry_qps=kw.get("qps", 0.0),
        retry_burst=int(kw.get("burst", 1)),
    )
    return WorkQueue(name, options)


async def test_duplicate_adds_are_processed_once() -> None:
    q = _q("wq-dedup")
    for key in ["a", "b", "a", "a", "b"]:
        q.add(key)
    assert len(q) == 2
    assert [await q.get(), await q.get()] == ["a", "b"]
    assert len(q) == 0
    assert metrics.REGISTRY.get_sample_value("workqueue_adds_total", {"name": "wq-dedup"}) == 2.0


async def test_readd_while_processing_runs_again_after_done_not_concurrently() -> None:
    q = _q("wq-processing")
    q.add("a")
    key = await q.get()
    q.add("a")  # arrives while "a" is being processed
    q.add("a")
    assert len(q) == 0  # not handed to a second worker
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0.01)
    assert not getter.done()
    q.done(key)
    assert await asyncio.wait_for(getter, 1) == "a"
    q.done("a")
    assert len(q) == 0


async def test_add_after_delays_and_earliest_time_wins() -> None:
    q = _q("wq-after")
    start = time.monotonic()
    q.add_after("late", 0.2)
    q.add_after("x", 0.3)
    q.add_after("x", 0.05)  # earlier: wins
    q.add_after("x", 0.5)  # later: ignored
    assert q.pending_delayed == 2
    assert await asyncio.wait_for(q.get(), 1) == "x"
    assert time.monotonic() - start >= 0.04  # and before "late" (0.2 s)
    assert await asyncio.wait_for(q.get(), 1) == "late"
    assert time.monotonic() - start >= 0.19
    q.add_after("now", 0)
    assert await asyncio.wait_for(q.get(), 1) == "now"


async def test_rate_limited_requeue_backs_off_exponentially_and_forget_resets() -> None:
    q = _q("wq-backoff", base=0.01, cap=0.04)
    assert [q.add_rate_limited("k") for _ in range(4)] == [0.01, 0.02, 0.04, 0.04]
    assert q.num_requeues("k") == 4
    q.forget("k")
    assert q.num_requeues("k") == 0
    assert q.add_rate_limited("k") == 0.01
    assert metrics.REGISTRY.get_sample_value("workqueue_retries_total", {"name": "wq-backoff"}) == 5.0
    assert await asyncio.wait_for(q.get(), 1) == "k"


async def test_overall_bucket_paces_retries_of_many_keys() -> None:
    q = _q("wq-bucket", base=0.001, qps=100.0, burst=2)
    delays = [q.add_rate_limited(f"k{i}") for i in range(5)]
    # the first two use the burst (per-key back-off only), then 10 ms apart
    assert delays[:2] == [0.001, 0.001]
    assert delays[2:] == pytest.approx([0.01, 0.02, 0.03], abs=2e-3)


async def test_concurrent_getters_each_get_a_distinct_key() -> None:
    q = _q("wq-concurrent")
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    for key in ["a", "b", "c"]:
        q.add(key)
    assert sorted(await asyncio.gather(*getters)) == ["a", "b", "c"]


async def test_shutdown_wakes_getters_and_ignores_new_adds() -> None:
    q = _q("wq-shutdown")
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add_after("later", 0.01)
    q.shutdown()
    with pytest.raises(QueueShutDown):
        await getter
    q.add("x")
    with pytest.raises(QueueShutDown):
        await q.get()
    assert q.shutting_down and len(q) == 0


async def test_cancelled_getter_does_not_swallow_a_key() -> None:
    q = _q("wq-cancel")
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    first.cancel()
    q.add("a")
    assert await asyncio.wait_for(second, 1) == "a"


async def test_depth_and_duration_metrics() -> None:
    q = _q("wq-metrics")
    q.add("a")
    q.add("b")
    assert metrics.REGISTRY.get_sample_value("workqueue_depth", {"name": "wq-metrics"}) == 2.0
    key = await q.get()
    assert metrics.REGISTRY.get_sample_value("workqueue_depth", {"name": "wq-metrics"}) == 1.0
    await asyncio.sleep(0.02)
    q.update_unfinished_metrics()
    assert metrics.REGISTRY.get_sample_value(
        "workqueue_longest_running_processor_seconds", {"name": "wq-metrics"}
    )
    q.done(key)
    assert (
        metrics.REGISTRY.get_sample_value("workqueue_work_duration_seconds_count", {"name": "wq-metrics"})
        == 1.0
    )
    assert (
        metrics.REGISTRY.get_sample_value("workqueue_queue_duration_seconds_count", {"name": "wq-metrics"})
        == 1.0
    )


def test_delayed_adds_work_under_uvloop_when_the_first_deadline_is_already_due() -> None:
    """uvloop's call_at returns a plain Handle (no .when()) for a deadline that is already due; the
    queue once asked that handle for its time and the exception killed the controller's worker."""
    import uvloop

    async def scenario() -> list[str]:
        q: WorkQueue[str] = WorkQueue("uvloop-timer")
        q.add_after("soon", 1e-9)  # due by the time it is armed: uvloop hands back a plain Handle
        q.add_after("later", 0.05)  # re-arming must not ask that handle anything
        got = [await asyncio.wait_for(q.get(), 2)]
        q.done(got[0])
        got.append(await asyncio.wait_for(q.get(), 2))
        return got

    assert uvloop.run(scenario()) == ["soon", "later"]
