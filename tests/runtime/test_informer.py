from __future__ import annotations

from typing import Any

from teapot.runtime import metrics
from teapot.runtime.informer import (
    FuncHandler,
    InformerFactory,
    InformerOptions,
    SharedInformer,
    strip_managed_fields,
)
from teapot.runtime.ratelimit import BackoffPolicy
from teapot.runtime.resources import ResourceRef
from tests.runtime.fakes import FakeApi, eventually

HOSTS = ResourceRef("metal3.io", "v1alpha1", "baremetalhosts", kind="BareMetalHost")
FAST = InformerOptions(backoff=BackoffPolicy(base=0.01, cap=0.02, jitter=0.0))


def _host(name: str, ns: str = "fleet") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"online": True}}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def handler(self) -> FuncHandler:
        return FuncHandler(
            add=lambda o: self.events.append(("add", o["metadata"]["name"])),
            update=lambda old, new: self.events.append(("update", new["metadata"]["name"])),
            delete=lambda o: self.events.append(("delete", o["metadata"]["name"])),
        )


async def test_lists_then_watches_and_fills_store() -> None:
    api = FakeApi()
    await api.create(HOSTS, _host("h1"))
    informer = SharedInformer(api, HOSTS, FAST)
    rec = Recorder()
    informer.add_handler(rec.handler())
    informer.start()
    try:
        await informer.wait_for_sync(2)
        assert informer.has_synced
        obj = informer.store.get("fleet/h1")
        assert (
            obj is not None and obj["kind"] == "BareMetalHost" and obj["apiVersion"] == "metal3.io/v1alpha1"
        )
        await api.create(HOSTS, _host("h2"))
        await api.patch(HOSTS, "h1", {"spec": {"online": False}}, "fleet")
        await api.delete(HOSTS, "h2", "fleet")
        await eventually(lambda: len(rec.events) == 4)
        assert rec.events == [("add", "h1"), ("add", "h2"), ("update", "h1"), ("delete", "h2")]
        assert informer.store.get("fleet/h1")["spec"]["online"] is False  # type: ignore[index]
        assert informer.resource_version == str(api.rv)
        assert api.watch_calls == ["1"]  # watched from the list's version
    finally:
        await informer.stop()


async def test_bookmark_advances_version_and_rewatch_resumes_from_it() -> None:
    api = FakeApi()
    await api.create(HOSTS, _host("h1"))
    informer = SharedInformer(api, HOSTS, FAST)
    informer.start()
    try:
        await informer.wait_for_sync(2)
        await api.bookmark("baremetalhosts")
        await eventually(lambda: informer.resource_version == "2")
        await api.drop_watches()
        await eventually(lambda: len(api.watch_calls) == 2)
        assert api.watch_calls == ["1", "2"]
        assert api.list_calls == ["baremetalhosts"]  # no re-list for a normal watch end
    finally:
        await informer.stop()


async def test_gone_relists_and_diffs_the_cache() -> None:
    api = FakeApi()
    for name in ("h1", "h2"):
        await api.create(HOSTS, _host(name))
    informer = SharedInformer(api, HOSTS, FAST)
    rec = Recorder()
    informer.add_handler(rec.handler())
    informer.start()
    try:
        await informer.wait_for_sync(2)
        # changes happen while the watch is down and the history is compacted away
        await api.drop_watches()
        api.fail_watches = 1
        api.objects.pop(("baremetalhosts", "fleet", "h2"))
        api.rv += 1
        await api.create(HOSTS, _host("h3"))
        api.compacted = api.rv
        await eventually(lambda: ("add", "h3") in rec.events and ("delete", "h2") in rec.events)
        assert sorted(o["metadata"]["name"] for o in informer.store.list()) == ["h1", "h3"]
        assert api.list_calls.count("baremetalhosts") == 2
        assert metrics.REGISTRY.get_sample_value(
            "teapot_informer_relists_total", {"resource": str(HOSTS), "reason": "gone"}
        )
    finally:
        await informer.stop()


async def test_connection_errors_back_off_and_resume_without_relist() -> None:
    api = FakeApi()
    await api.create(HOSTS, _host("h1"))
    api.fail_watches = 3
    informer = SharedInformer(api, HOSTS, FAST)
    informer.start()
    try:
        await informer.wait_for_sync(2)
        await eventually(lambda: len(api.watch_calls) == 4)
        await api.create(HOSTS, _host("h2"))
        await eventually(lambda: informer.store.get("fleet/h2") is not None)
        assert api.list_calls == ["baremetalhosts"]
        assert set(api.watch_calls) == {"1"}
    finally:
        await informer.stop()


async def test_late_handler_sees_existing_objects_and_handler_errors_are_contained() -> None:
    api = FakeApi()
    await api.create(HOSTS, _host("h1"))
    informer = SharedInformer(api, HOSTS, FAST)

    def boom(obj: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    informer.add_handler(FuncHandler(add=boom))
    informer.start()
    try:
        await informer.wait_for_sync(2)
        rec = Recorder()
        informer.add_handler(rec.handler())
        assert rec.events == [("add", "h1")]
        await api.create(HOSTS, _host("h2"))
        await eventually(lambda: ("add", "h2") in rec.events)
    finally:
        await informer.stop()


async def test_resync_redelivers_cached_objects() -> None:
    api = FakeApi()
    await api.create(HOSTS, _host("h1"))
    informer = SharedInformer(api, HOSTS, InformerOptions(resync_period=0.02))
    rec = Recorder()
    informer.add_handler(rec.handler())
    informer.start()
    try:
        await eventually(lambda: rec.events.count(("update", "h1")) >= 2)
    finally:
        await informer.stop()


async def test_factory_shares_one_informer_per_resource_and_selector() -> None:
    api = FakeApi()
    factory = InformerFactory(api)
    a = factory.informer(HOSTS)
    assert factory.informer(HOSTS) is a
    assert factory.informer(HOSTS, InformerOptions(namespace="x")) is not a
    factory.start()
    late = factory.informer(ResourceRef("", "v1", "configmaps", kind="ConfigMap"))
    try:
        await factory.wait_for_sync(2)
        assert late.has_synced
        assert sorted(api.list_calls) == ["baremetalhosts", "baremetalhosts", "configmaps"]
    finally:
        await factory.stop()


async def test_transform_strips_managed_fields_from_listed_and_watched_objects() -> None:
    api = FakeApi()
    managed = [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {}}}]
    await api.create(
        HOSTS, {**_host("h1"), "metadata": {"name": "h1", "namespace": "fleet", "managedFields": managed}}
    )
    informer = SharedInformer(api, HOSTS, InformerOptions(transform=strip_managed_fields))
    informer.start()
    try:
        await informer.wait_for_sync(2)
        await api.create(
            HOSTS, {**_host("h2"), "metadata": {"name": "h2", "namespace": "fleet", "managedFields": managed}}
        )
        await eventually(lambda: informer.store.get("fleet/h2") is not None)
        for obj in informer.store.list():
            assert "managedFields" not in obj["metadata"] and obj["metadata"]["resourceVersion"]
    finally:
        await informer.stop()
