"""Informers survive an API server crash and restart (same data dir and port)."""

from __future__ import annotations

import asyncio

import pytest

from teapot.runtime import metrics
from teapot.runtime.client import ApiError, ClientSettings, connect
from teapot.runtime.informer import FuncHandler, InformerOptions, SharedInformer
from teapot.runtime.ratelimit import BackoffPolicy
from teapot.runtime.resources import CONFIGMAPS, ResourceRef
from tests.runtime.apiserver import ApiServer
from tests.runtime.e2e_helpers import ensure_namespace
from tests.runtime.fakes import eventually

pytestmark = pytest.mark.e2e
SECRETS = ResourceRef("", "v1", "secrets", kind="Secret")


def _relists() -> float:
    labels = {"resource": str(CONFIGMAPS), "reason": "gone"}
    return metrics.REGISTRY.get_sample_value("teapot_informer_relists_total", labels) or 0.0


def _cm(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "rt-restart"}}


async def test_informer_reconnects_after_kill_and_resumes(apiserver: ApiServer) -> None:
    async with await connect(ClientSettings(kubeconfig=apiserver.kubeconfig)) as client:
        await ensure_namespace(client, "rt-restart")
        await client.create(CONFIGMAPS, _cm("before"))
        added: list[str] = []
        informer = SharedInformer(
            client,
            CONFIGMAPS,
            InformerOptions(namespace="rt-restart", backoff=BackoffPolicy(base=0.1, cap=0.5, jitter=0.0)),
        )
        informer.add_handler(FuncHandler(add=lambda o: added.append(o["metadata"]["name"])))
        informer.start()
        try:
            await informer.wait_for_sync(10)
            assert added == ["before"]
            version_before = informer.resource_version
            relists_before = _relists()
            # a write the informer does not watch moves the server's revision past the informer's
            secret = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "s", "namespace": "rt-restart"},
            }
            await client.create(SECRETS, secret)
            apiserver.stop(kill=True)
            await asyncio.sleep(0.5)  # the informer sees connection errors and backs off
            await asyncio.to_thread(apiserver.start)
            await client.create(CONFIGMAPS, _cm("after"))
            await eventually(lambda: "after" in added, timeout=15)
            assert added.count("before") == 1  # resumed (or re-listed and diffed): no duplicate add
            assert informer.store.get("rt-restart/before") is not None
            # Like kube-apiserver's watch cache, a restarted server cannot replay history from
            # before its restart revision: the informer's re-watch got 410 Gone and it re-listed.
            assert _relists() == relists_before + 1
            assert int(informer.resource_version) > int(version_before)
            # and the client surfaces that 410 to anyone watching from the old version
            with pytest.raises(ApiError) as gone:
                async for event in client.watch(CONFIGMAPS, "rt-restart", resource_version=version_before):
                    if event.type == "ERROR":
                        raise ApiError(int(event.object.get("code", 0)), "watch error", event.object)
            assert gone.value.gone
        finally:
            await informer.stop()
