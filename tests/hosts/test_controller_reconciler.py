"""Unit tests of the reconciler's glue: write order, resourceVersions, the finalizer fallback,
Secret decoding and indexing, and the (de)provisioning slot count — with an in-memory client."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from teapot.api import labels as L
from teapot.hosts.controller import (
    BAREMETALHOSTS,
    HARDWAREDATA,
    HostControllerOptions,
    HostStateMachine,
    Step,
)
from teapot.hosts.controller.context import FALLBACK_FINALIZER
from teapot.hosts.controller.reconciler import SECRETS, HostReconciler, bmc_secret_index
from teapot.runtime import ApiError, EventRecorder, EventSource, ObjectKey, ResourceRef, SharedInformer


class RecordingClient:
    """Answers writes like an API server would (bumping resourceVersion) and records them."""

    def __init__(self, refuse_unqualified_finalizer: bool = False, conflict_status: bool = False) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.version = 10
        self.refuse = refuse_unqualified_finalizer
        self.conflict_status = conflict_status

    def _answer(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        return {**obj, "metadata": {**(obj.get("metadata") or {}), "resourceVersion": str(self.version)}}

    async def create(
        self, ref: ResourceRef, obj: dict[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        self.calls.append(("create", ref.plural, obj))
        return self._answer(obj)

    async def patch(
        self, ref: ResourceRef, name: str, patch: Any, namespace: str | None = None, **_: Any
    ) -> Any:
        finalizers = (patch.get("metadata") or {}).get("finalizers") or []
        if self.refuse and L.BMH_FINALIZER in finalizers:
            raise ApiError(422, "Invalid", {"message": "metadata.finalizers[0]: Invalid value"})
        self.calls.append(("patch", ref.plural, patch))
        return self._answer(patch)

    async def replace(
        self, ref: ResourceRef, obj: dict[str, Any], *, subresource: str = ""
    ) -> dict[str, Any]:
        if self.conflict_status:
            raise ApiError(409, "Conflict", {"message": "the object has been modified"})
        self.calls.append((f"replace/{subresource}", ref.plural, obj))
        return self._answer(obj)


class FixedMachine(HostStateMachine):
    """Returns a prepared Step, to test how the reconciler writes it."""

    def __init__(self, step: Step) -> None:
        super().__init__(
            provisioner=None,
            options=HostControllerOptions(max_concurrent_provisioning=2, max_concurrent_cleaning=2),
        )  # type: ignore[arg-type]
        self.fixed = step

    async def step(self, obj: dict[str, Any], world: Any) -> Step:
        return self.fixed


def host(
    name: str = "h1",
    state: str = "available",
    address: str = "redfish://bmc/redfish/v1/Systems/1",
    **meta: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "metal3.io/v1alpha1",
        "kind": "BareMetalHost",
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": "5", **meta},
        "spec": {"online": True, "bmc": {"address": address, "credentialsName": f"{name}-bmc"}},
        "status": {"provisioning": {"state": state}},
    }


def make(client: RecordingClient, step: Step, *hosts: dict[str, Any]) -> HostReconciler:
    informer = SharedInformer(client, BAREMETALHOSTS)  # type: ignore[arg-type]
    for obj in hosts:
        informer.store.upsert(obj)
    secrets = SharedInformer(client, SECRETS)  # type: ignore[arg-type]
    recorder = EventRecorder(client, EventSource("test"))  # type: ignore[arg-type]
    return HostReconciler(client, informer, secrets, recorder, FixedMachine(step))  # type: ignore[arg-type]


async def test_write_order_and_versions() -> None:
    client = RecordingClient()
    step = Step(
        status={"provisioning": {"state": "preparing"}},
        labels={L.HW_CPU_ARCH: "x86_64", L.HW_GPU_COUNT: None},
        remove_annotations=(L.INSPECT,),
        hardware={"cpu": {"arch": "x86_64"}},
        add_finalizer=True,
    )
    rec = make(client, step, host(annotations={L.INSPECT: ""}))
    result = await rec.reconcile(ObjectKey("ns", "h1"))
    assert result.requeue_after is None and not result.requeue
    kinds = [(verb, plural) for verb, plural, _ in client.calls]
    assert kinds == [
        ("create", "hardwaredata"),
        ("patch", "baremetalhosts"),
        ("replace/status", "baremetalhosts"),
    ]
    hardware = client.calls[0][2]
    assert hardware["metadata"]["ownerReferences"][0] == {
        "apiVersion": "metal3.io/v1alpha1",
        "kind": "BareMetalHost",
        "name": "h1",
        "uid": "uid-h1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    meta = client.calls[1][2]["metadata"]
    assert meta["labels"] == {L.HW_CPU_ARCH: "x86_64", L.HW_GPU_COUNT: None}
    assert meta["annotations"] == {L.INSPECT: None} and meta["finalizers"] == [L.BMH_FINALIZER]
    assert meta["resourceVersion"] == "5"
    status_write = client.calls[2][2]
    assert status_write["metadata"]["resourceVersion"] == "12"  # the version the metadata patch returned
    assert status_write["status"] == {"provisioning": {"state": "preparing"}}
    assert HARDWAREDATA.plural == "hardwaredata"


async def test_unchanged_status_is_not_written_and_finalizer_removed_last() -> None:
    client = RecordingClient()
    obj = host(finalizers=[FALLBACK_FINALIZER, "other.example.com/keep"])
    rec = make(client, Step(status=obj["status"], remove_finalizer=True), obj)
    await rec.reconcile(ObjectKey("ns", "h1"))
    assert [(verb, plural) for verb, plural, _ in client.calls] == [("patch", "baremetalhosts")]
    assert client.calls[0][2]["metadata"]["finalizers"] == ["other.example.com/keep"]


async def test_unqualified_finalizer_refused_falls_back() -> None:
    client = RecordingClient(refuse_unqualified_finalizer=True)
    rec = make(client, Step(status={}, add_finalizer=True), host())
    await rec.reconcile(ObjectKey("ns", "h1"))
    assert client.calls[0][2]["metadata"]["finalizers"] == [FALLBACK_FINALIZER]


async def test_conflict_is_a_quiet_retry() -> None:
    client = RecordingClient(conflict_status=True)
    rec = make(client, Step(status={"provisioning": {"state": "inspecting"}}), host())
    result = await rec.reconcile(ObjectKey("ns", "h1"))
    assert result.requeue and result.requeue_after is None


async def test_requeue_after_and_deleted_host() -> None:
    client = RecordingClient()
    rec = make(client, Step(status={"provisioning": {"state": "available"}}, requeue_after=30.0), host())
    assert (await rec.reconcile(ObjectKey("ns", "h1"))).requeue_after == 30.0
    assert (await rec.reconcile(ObjectKey("ns", "gone"))).requeue_after is None


async def test_secrets_are_decoded_from_the_cache_and_indexed() -> None:
    client = RecordingClient()
    rec = make(client, Step(status={}))
    rec.secrets.store.upsert(
        {
            "metadata": {"name": "h1-bmc", "namespace": "ns", "resourceVersion": "7"},
            "data": {
                "username": base64.b64encode(b"admin").decode(),
                "password": base64.b64encode(b"pw").decode(),
            },
        }
    )
    secret = rec.secret("ns", "h1-bmc")
    assert secret is not None and secret.resource_version == "7"
    assert dict(secret.data) == {"username": "admin", "password": "pw"} and "pw" not in repr(secret)
    assert rec.secret("ns", "missing") is None
    obj = host()
    obj["spec"]["userData"] = {"name": "ud"}
    obj["spec"]["networkData"] = {"name": "nd", "namespace": "elsewhere"}
    assert bmc_secret_index(obj) == ["ns/h1-bmc", "ns/ud"]


@pytest.mark.parametrize("exempt_address", ["redfish-virtualmedia+http://bmc/redfish/v1/Systems/9"])
async def test_provisioning_slots(exempt_address: str) -> None:
    client = RecordingClient()
    busy = [
        host("p1", "provisioning"),
        host("d1", "deprovisioning"),
        host("v1", "provisioning", exempt_address),
    ]
    rec = make(client, Step(status={}), *busy, host("a1"), host("a2"))
    # two (network-boot) hosts hold both slots; the virtual-media host does not count
    assert not rec.acquire_provisioning_slot("ns", "a1")
    assert rec.acquire_provisioning_slot("ns", "p1")  # a host already provisioning keeps its slot
    rec.hosts.store.upsert(host("d1", "available"))
    assert rec.acquire_provisioning_slot("ns", "a1")  # freed slot, claimed in memory …
    assert not rec.acquire_provisioning_slot("ns", "a2")  # … so a concurrent worker cannot overshoot
    rec.machine = FixedMachine(Step(status={}))
    rec.machine.options = HostControllerOptions(max_concurrent_provisioning=0)
    assert rec.acquire_provisioning_slot("ns", "a2")  # 0: no cap


async def test_cleaning_slots() -> None:
    def preparing(name: str, operational: str, cleaning: str | None = None) -> dict[str, Any]:
        obj = host(name, "preparing", "redfish-virtualmedia://bmc/redfish/v1/Systems/1")
        obj["status"]["operationalStatus"] = operational
        if cleaning:
            obj["spec"]["automatedCleaningMode"] = cleaning
        return obj

    rec = make(
        RecordingClient(),
        Step(status={}),
        preparing("c1", "OK"),  # cleaning: holds a slot (virtual media is no exemption here)
        host("d1", "deprovisioning", "redfish-virtualmedia://bmc/redfish/v1/Systems/2"),  # cleans too
        preparing("w1", "delayed"),  # waiting: holds none
        preparing("w2", "delayed"),
        preparing("e1", "error"),  # backing off: holds none
        preparing("n1", "OK", "disabled"),  # no cleaning: holds none
    )
    assert not rec.acquire_cleaning_slot("ns", "w1")
    assert rec.acquire_cleaning_slot("ns", "c1")  # a cleaning host keeps its slot
    rec.hosts.store.upsert(host("d1", "available"))
    assert rec.acquire_cleaning_slot("ns", "w1")  # the freed slot, claimed in memory …
    assert not rec.acquire_cleaning_slot("ns", "w2")  # … so a concurrent worker cannot overshoot
    rec.hosts.store.upsert(preparing("w1", "OK"))  # the claim shows in the cache: still one slot
    assert not rec.acquire_cleaning_slot("ns", "w2")
