from __future__ import annotations

import asyncio

from teapot.runtime import metrics
from teapot.runtime.events import EventRecorder, EventSource
from teapot.runtime.resources import EVENTS
from tests.runtime.fakes import FakeApi

HOST = {
    "apiVersion": "metal3.io/v1alpha1",
    "kind": "BareMetalHost",
    "metadata": {"name": "h1", "namespace": "fleet", "uid": "u-1", "resourceVersion": "7"},
}


def _events(api: FakeApi) -> list[dict]:  # type: ignore[type-arg]
    return [o for (plural, _, _), o in api.objects.items() if plural == "events"]


async def test_event_is_written_in_background_with_involved_object() -> None:
    api = FakeApi()
    recorder = EventRecorder(api, EventSource("teapot-hosts", "node-1"))
    recorder.event(HOST, "Warning", "PowerFailed", "BMC at 10.0.0.5 did not answer")
    assert _events(api) == []  # event() never waits for the API
    await recorder.flush()
    [event] = _events(api)
    assert event["metadata"]["namespace"] == "fleet" and event["metadata"]["name"].startswith("h1.")
    assert event["involvedObject"] == {
        "apiVersion": "metal3.io/v1alpha1",
        "kind": "BareMetalHost",
        "name": "h1",
        "namespace": "fleet",
        "uid": "u-1",
        "resourceVersion": "7",
    }
    assert (event["type"], event["reason"], event["count"]) == ("Warning", "PowerFailed", 1)
    assert event["reportingComponent"] == "teapot-hosts" and event["reportingInstance"] == "node-1"
    assert event["source"] == {"component": "teapot-hosts", "host": "node-1"}
    await recorder.stop()


async def test_repeats_are_aggregated_into_count() -> None:
    api = FakeApi()
    recorder = EventRecorder(api, EventSource("teapot-hosts"))
    for _ in range(3):
        recorder.event(HOST, "Warning", "PowerFailed", "no answer")
    recorder.event(HOST, "Normal", "PoweredOn", "host is on")
    await recorder.flush()
    events = sorted(_events(api), key=lambda e: e["reason"])
    assert [(e["reason"], e["count"]) for e in events] == [("PowerFailed", 3), ("PoweredOn", 1)]
    # the aggregated event was deleted meanwhile: the next repeat creates a fresh one
    failed = events[0]
    await api.delete(EVENTS, failed["metadata"]["name"], "fleet")
    recorder.event(HOST, "Warning", "PowerFailed", "no answer")
    await recorder.flush()
    assert [e["count"] for e in _events(api) if e["reason"] == "PowerFailed"] == [1]
    await recorder.stop()


async def test_failed_writes_and_full_buffer_are_dropped_and_counted() -> None:
    api = FakeApi()
    recorder = EventRecorder(api, EventSource("c"), buffer=2)
    before_failed = (
        metrics.REGISTRY.get_sample_value("teapot_events_dropped_total", {"reason": "write_failed"}) or 0
    )
    before_full = (
        metrics.REGISTRY.get_sample_value("teapot_events_dropped_total", {"reason": "buffer_full"}) or 0
    )
    api.fail_writes = 1
    recorder.event(HOST, "Normal", "A", "x")
    recorder.event(HOST, "Normal", "B", "x")
    recorder.event(HOST, "Normal", "C", "x")  # buffer of 2 is full: dropped, not blocking
    await recorder.flush()
    assert [e["reason"] for e in _events(api)] == ["B"]
    assert (
        metrics.REGISTRY.get_sample_value("teapot_events_dropped_total", {"reason": "write_failed"})
        == before_failed + 1
    )
    assert (
        metrics.REGISTRY.get_sample_value("teapot_events_dropped_total", {"reason": "buffer_full"})
        == before_full + 1
    )
    await recorder.stop()


async def test_cluster_scoped_objects_get_events_in_default_and_long_messages_are_cut() -> None:
    api = FakeApi()
    recorder = EventRecorder(api, EventSource("c"))
    tenant = {"apiVersion": "teapot.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": "acme", "uid": "t"}}
    recorder.event(tenant, "Normal", "QuotaChanged", "x" * 5000)
    await asyncio.wait_for(recorder.flush(), 2)
    [event] = _events(api)
    assert event["metadata"]["namespace"] == "default" and "namespace" not in event["involvedObject"]
    assert len(event["message"]) == 1024 and event["message"].endswith("...")
    await recorder.stop()
