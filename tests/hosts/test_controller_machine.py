"""Unit tests of the BareMetalHost state machine against a fake provisioner (no servers, no sleeps).

The fake moves like Ironic does — each operation is "in progress" for a call or two, then done —
and the test applies each :class:`Step` to the host dict the way the reconciler writes it, moving a
fake clock by ``requeue_after`` instead of sleeping.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from teapot.api import labels as L
from teapot.hosts.controller import HostControllerOptions, HostStateMachine, SecretData, Step, backoff_delay
from teapot.hosts.provisioner import (
    CPU,
    GPU,
    NIC,
    CleaningMode,
    ErrorType,
    HardwareDetails,
    HostRef,
    InspectResult,
    NodeStatus,
    ProvisionerError,
    ProvisionerUnavailable,
    ProvisioningState,
    ProvisionSpec,
    RegistrationSpec,
    Result,
    Storage,
)

S = ProvisioningState
PASSWORD = "s3cret-Passw0rd"
ADDRESS = "redfish-virtualmedia+http://127.0.0.1:8000/redfish/v1/Systems/abc"
HARDWARE = HardwareDetails(
    cpu=CPU("x86_64", "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", 64, 2000.0),
    ram_mebibytes=512 * 1024,
    nics=(NIC("eno1", "02:00:00:00:00:01", 25.0, pxe=True), NIC("eno2", "02:00:00:00:00:02", 100.0)),
    storage=(
        Storage("sda", 480 * 10**9, "SSD", False),
        Storage("nvme0n1", 1920 * 10**9, "NVME", False),
    ),
    gpus=(GPU("NVIDIA", "A100"), GPU("NVIDIA", "A100")),
    system_vendor=(("manufacturer", "Contoso"),),
)


# -- fakes ------------------------------------------------------------------------------------------
@dataclass
class FakeNode:
    id: str
    state: ProvisioningState = S.REGISTERING
    powered_on: bool = False
    pending: int = 0  # calls left while the current operation runs
    target: ProvisioningState | None = None
    failed: bool = False
    password: str = ""


@dataclass
class FakeProvisioner:
    """Idempotent like the Protocol demands: repeated calls report progress, then success."""

    password: str = PASSWORD
    nodes: dict[str, FakeNode] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    provision_failures: int = 0
    unavailable: bool = False
    cleanings: list[CleaningMode] = field(default_factory=list)
    reboots: int = 0
    power_error: bool = False
    observe_ages: list[float] = field(default_factory=list)

    def _status(self, node: FakeNode) -> NodeStatus:
        return NodeStatus(
            node.id, node.state.value, node.state, node.powered_on, node.pending > 0, False, None
        )

    def _progress(self, node: FakeNode, target: ProvisioningState, steps: int = 1) -> Result:
        if node.target != target:
            node.target, node.pending = target, steps
        if node.pending > 0:
            node.pending -= 1
            return Result(self._status(node), in_progress=True, requeue_after=1.0)
        node.state, node.target = target, None
        return Result(self._status(node))

    def _node(self, host: HostRef) -> FakeNode | None:
        if self.unavailable:
            raise ProvisionerUnavailable("Ironic at http://ironic unavailable")
        return self.nodes.get(host.name)

    async def observe(self, host: HostRef, *, max_age: float = 0.0) -> NodeStatus | None:
        self.observe_ages.append(max_age)
        node = self._node(host)
        if node is not None and node.state == S.DEPROVISIONING:  # undeploying runs on its own
            self._progress(node, S.AVAILABLE)
        return self._status(node) if node else None

    async def register(self, host: HostRef, spec: RegistrationSpec, *, force: bool = False) -> Result:
        self.calls.append("register")
        node = self._node(host)
        if node is None:
            node = self.nodes[host.name] = FakeNode(id=f"uuid-{host.name}")
        if spec.bmc.password != self.password:
            return Result(
                self._status(node), error=ProvisionerError(ErrorType.REGISTRATION, "HTTP 401 Unauthorized")
            )
        if node.state == S.REGISTERING:
            return self._progress(node, S.PREPARING)
        return Result(self._status(node))

    async def inspect(self, host: HostRef, *, force: bool = False) -> InspectResult:
        self.calls.append(f"inspect force={force}")
        node = self._node(host)
        assert node is not None
        if force and node.target != S.INSPECTING:
            node.state, node.target, node.pending = S.INSPECTING, S.INSPECTING, 1
        result = self._progress(node, S.INSPECTING)
        if result.in_progress:
            return InspectResult(result.status, True, 1.0)
        node.state = S.PREPARING
        return InspectResult(self._status(node), details=HARDWARE)

    async def prepare(self, host: HostRef, cleaning: CleaningMode) -> Result:
        raise AssertionError("the controller provides; Teapot has no manual cleaning settings")

    async def provide(self, host: HostRef) -> Result:
        self.calls.append("provide")
        node = self._node(host)
        assert node is not None
        return self._progress(node, S.AVAILABLE)

    async def provision(self, host: HostRef, spec: ProvisionSpec) -> Result:
        self.calls.append(f"provision {spec.image.url}")
        node = self._node(host)
        assert node is not None
        if node.failed:
            return Result(self._status(node), error=ProvisionerError(ErrorType.PROVISIONING, "deploy failed"))
        if node.state == S.AVAILABLE and node.target is None and self.provision_failures > 0:
            self.provision_failures -= 1
            node.state, node.failed = S.PROVISIONING, True
            return Result(self._status(node), error=ProvisionerError(ErrorType.PROVISIONING, "deploy failed"))
        result = self._progress(node, S.PROVISIONED, steps=2)
        if not result.in_progress:
            node.powered_on = True
        return result

    async def deprovision(self, host: HostRef, cleaning: CleaningMode) -> Result:
        self.calls.append(f"deprovision {cleaning.value}")
        node = self._node(host)
        assert node is not None
        if node.state == S.AVAILABLE and node.target is None:
            return Result(self._status(node))  # already done
        if node.target != S.AVAILABLE:
            self.cleanings.append(cleaning)
            node.failed = False
            node.state = S.DEPROVISIONING
        result = self._progress(node, S.AVAILABLE)
        if not result.in_progress:
            node.powered_on = False
        return result

    async def power(self, host: HostRef, on: bool, *, hard: bool = False) -> Result:
        self.calls.append(f"power {on}")
        node = self._node(host)
        assert node is not None
        if self.power_error:
            return Result(
                self._status(node), error=ProvisionerError(ErrorType.POWER_MANAGEMENT, "power failed")
            )
        if node.powered_on == on:
            return Result(self._status(node))
        node.powered_on = on
        return Result(self._status(node), in_progress=True, requeue_after=1.0)

    async def reboot(self, host: HostRef) -> Result:
        self.reboots += 1
        node = self._node(host)
        assert node is not None
        return Result(self._status(node))

    async def detach(self, host: HostRef) -> Result:
        self.calls.append("detach")
        self._node(host)
        self.nodes.pop(host.name, None)
        return Result(None)

    async def delete(self, host: HostRef) -> Result:
        self.calls.append("delete")
        self._node(host)
        self.nodes.pop(host.name, None)
        return Result(None)


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@dataclass
class FakeWorld:
    secrets: dict[tuple[str, str], SecretData] = field(default_factory=dict)
    slots: bool = True
    cleaning_slots: bool = True
    cleaning_asked: int = 0

    def secret(self, namespace: str, name: str) -> SecretData | None:
        return self.secrets.get((namespace, name))

    def acquire_provisioning_slot(self, namespace: str, name: str) -> bool:
        return self.slots

    def acquire_cleaning_slot(self, namespace: str, name: str) -> bool:
        self.cleaning_asked += 1
        return self.cleaning_slots


OPTIONS = HostControllerOptions(
    backoff_base=10.0, backoff_cap=300.0, provisioning_retries=2, stable_poll=60.0
)


class Harness:
    """A host dict, the machine, and the reconciler's write rules applied in memory."""

    def __init__(self, password: str = PASSWORD, **spec: Any) -> None:
        self.clock = FakeClock()
        self.prov = FakeProvisioner()
        self.world = FakeWorld()
        self.set_secret(password, "1")
        self.machine = HostStateMachine(self.prov, OPTIONS, self.clock)
        self.events: list[tuple[str, str, str]] = []
        self.hardware: dict[str, Any] | None = None
        self.gone = False
        self.host: dict[str, Any] = {
            "apiVersion": "metal3.io/v1alpha1",
            "kind": "BareMetalHost",
            "metadata": {
                "name": "h1",
                "namespace": "ns",
                "generation": 1,
                "labels": {L.TOPOLOGY_RACK: "a01", L.HW_CPU_ARCH: "stale"},
            },
            "spec": {
                "online": True,
                "bootMACAddress": "02:00:00:00:00:01",
                "bmc": {"address": ADDRESS, "credentialsName": "h1-bmc"},
                **spec,
            },
        }

    def set_secret(self, password: str, version: str) -> None:
        self.world.secrets[("ns", "h1-bmc")] = SecretData(
            "h1-bmc", version, {"username": "admin", "password": password}
        )

    @property
    def status(self) -> dict[str, Any]:
        return dict(self.host.get("status") or {})

    @property
    def state(self) -> str:
        return str((self.status.get("provisioning") or {}).get("state") or "")

    def edit_spec(self, **changes: Any) -> None:
        spec = self.host["spec"]
        for key, value in changes.items():
            if value is None:
                spec.pop(key, None)
            else:
                spec[key] = value
        self.host["metadata"]["generation"] += 1

    def annotate(self, key: str, value: str = "") -> None:
        self.host["metadata"].setdefault("annotations", {})[key] = value

    async def step(self) -> Step:
        step = await self.machine.step(copy.deepcopy(self.host), self.world)
        meta = self.host["metadata"]
        if step.hardware is not None:
            self.hardware = step.hardware
        for key, value in step.labels.items():
            if value is None:
                meta["labels"].pop(key, None)
            else:
                meta["labels"][key] = value
        for key in step.remove_annotations:
            meta.get("annotations", {}).pop(key, None)
        if step.add_finalizer:
            meta["finalizers"] = [L.BMH_FINALIZER]
        self.host["status"] = step.status
        if step.remove_finalizer:
            meta["finalizers"] = []
            self.gone = True
        self.events += [(e.type, e.reason, e.message) for e in step.events]
        return step

    async def run(self, until: str, limit: int = 60) -> None:
        """Step (advancing the clock as requeued) until the host reaches state *until*."""
        for _ in range(limit):
            if self.state == until and not self.status.get("errorType"):
                return
            step = await self.step()
            self.clock.advance(step.requeue_after or 0.0)
        raise AssertionError(f"stuck in {self.state!r}: {self.status.get('errorMessage')}")


# -- tests ------------------------------------------------------------------------------------------
async def test_enrol_to_available_with_hardware_and_traits() -> None:
    h = Harness()
    await h.run("available")
    assert h.host["metadata"]["finalizers"] == [L.BMH_FINALIZER]
    status = h.status
    assert status["provisioning"]["ID"] == "uuid-h1"
    assert status["operationalStatus"] == "OK" and status["errorCount"] == 0
    assert status["goodCredentials"] == {
        "credentials": {"name": "h1-bmc", "namespace": "ns"},
        "credentialsVersion": "1",
    }
    labels = h.host["metadata"]["labels"]
    assert labels[L.TOPOLOGY_RACK] == "a01"  # the operator's label is kept
    assert labels[L.HW_CPU_ARCH] == "x86_64"  # the stale trait is replaced
    assert labels[L.HW_CPU_CORES] == "64" and labels[L.HW_MEMORY_GIB] == "512"
    assert labels[L.HW_DISK_TYPE] == "nvme" and labels[L.HW_DISK_GIB] == str((480 + 1920) * 10**9 // 2**30)
    assert (
        labels[L.HW_NIC_GBPS] == "100"
        and labels[L.HW_GPU_COUNT] == "2"
        and labels[L.HW_GPU_MODEL] == "NVIDIA-A100"
    )
    assert labels[L.HW_CPU_MODEL] == "Intel-R-Xeon-R-Gold-6338-CPU-2.00GHz"
    assert h.hardware is not None and h.hardware["gpus"] == [
        {"vendor": "NVIDIA", "model": "A100", "count": 2}
    ]
    assert status["hardware"]["storage"][1]["type"] == "NVME"
    history = status["operationHistory"]
    for op in ("register", "inspect"):
        assert history[op]["start"] <= history[op]["end"]
    reasons = [reason for _, reason, _ in h.events]
    assert reasons[:4] == ["Registering", "Inspecting", "Preparing", "Available"]
    ready = {c["type"]: c for c in status["conditions"]}
    assert ready["Ready"]["status"] == "True" and ready["Ready"]["reason"] == "Available"
    assert ready["Registered"]["status"] == "True" and ready["Ready"]["observedGeneration"] == 1
    # online: true is enforced in the stable state (request, then observe)
    await h.step()
    await h.step()
    assert h.prov.nodes["h1"].powered_on and h.status["poweredOn"]


async def test_provision_deprovision_records_cleaning() -> None:
    h = Harness(automatedCleaningMode="express")
    await h.run("available")
    h.edit_spec(image={"url": "http://img/live.iso", "format": "live-iso"})
    await h.run("provisioned")
    assert h.status["provisioning"]["image"] == {"url": "http://img/live.iso", "format": "live-iso"}
    assert "provision http://img/live.iso" in h.prov.calls
    h.edit_spec(image=None)
    await h.run("available")
    cleaning = h.status["lastCleaning"]
    assert cleaning["mode"] == "express" and h.prov.cleanings == [CleaningMode.EXPRESS]
    assert cleaning["durationSeconds"] > 0 and cleaning["startedAt"] < cleaning["finishedAt"]
    assert "image" not in h.status["provisioning"]
    history = h.status["operationHistory"]
    assert history["provision"]["end"] <= history["deprovision"]["start"] <= history["deprovision"]["end"]


async def test_wrong_credentials_back_off_and_recover_when_the_secret_is_fixed() -> None:
    h = Harness(password="wrong-password-123")
    for _ in range(3):
        await h.step()
    status = h.status
    assert status["errorType"] == "registration error" and status["operationalStatus"] == "error"
    assert ADDRESS in status["errorMessage"] and status["errorCount"] == 1
    assert status["triedCredentials"]["credentialsVersion"] == "1" and "goodCredentials" not in status
    # within the back-off nothing is retried
    calls = len(h.prov.calls)
    step = await h.step()
    assert len(h.prov.calls) == calls and step.requeue_after is not None
    assert 10.0 <= step.requeue_after <= 15.0
    # after the back-off it retries (with force) and counts the next failure
    h.clock.advance(step.requeue_after)
    step = await h.step()
    assert (
        h.status["errorCount"] == 2 and step.requeue_after is not None and 20.0 <= step.requeue_after <= 30.0
    )
    # fixing the Secret recovers at once, without waiting for the back-off
    h.prov.password = "right-password-456"
    h.set_secret("right-password-456", "2")
    await h.run("available")
    assert h.status["goodCredentials"]["credentialsVersion"] == "2"
    dump = json.dumps([h.host, h.events])
    assert "wrong-password-123" not in dump and "right-password-456" not in dump


async def test_missing_secret_is_a_registration_error_naming_it() -> None:
    h = Harness()
    h.world.secrets.clear()
    await h.step()
    await h.step()
    assert h.status["errorType"] == "registration error"
    assert "'h1-bmc' not found" in h.status["errorMessage"] and ADDRESS in h.status["errorMessage"]


async def test_provisioning_failures_retry_a_bounded_number_of_times() -> None:
    h = Harness()
    await h.run("available")
    h.prov.provision_failures = 100
    h.edit_spec(image={"url": "http://img/a.qcow2", "checksum": "0" * 64})
    for _ in range(80):
        step = await h.step()
        h.clock.advance(step.requeue_after or 0.0)
        if step.requeue_after is None and h.status.get("errorCount", 0) > OPTIONS.provisioning_retries:
            break
    assert h.state == "provisioning" and h.status["errorType"] == "provisioning error"
    assert h.status["errorCount"] == OPTIONS.provisioning_retries + 1
    attempts = [c for c in h.prov.calls if c.startswith("provision ")]
    undeploys = [c for c in h.prov.calls if c.startswith("deprovision")]
    assert len(undeploys) == OPTIONS.provisioning_retries  # each retry undeploys the failed attempt first
    assert len(attempts) >= OPTIONS.provisioning_retries + 1
    # out of retries: nothing happens, however long we wait
    h.clock.advance(10_000)
    calls = len(h.prov.calls)
    assert (await h.step()).requeue_after is None and len(h.prov.calls) == calls
    # a new image gets new attempts and succeeds
    h.prov.provision_failures = 0
    h.edit_spec(image={"url": "http://img/b.qcow2", "checksum": "1" * 64})
    await h.run("provisioned")
    assert h.status["errorCount"] == 0


async def test_concurrency_cap_delays_provisioning() -> None:
    h = Harness()
    h.host["spec"]["bmc"]["address"] = "redfish+http://127.0.0.1:8000/redfish/v1/Systems/abc"  # network boot
    await h.run("available")
    h.world.slots = False
    h.edit_spec(image={"url": "http://img/live.iso", "format": "live-iso"})
    step = await h.step()
    assert h.state == "available" and h.status["operationalStatus"] == "delayed"
    assert step.requeue_after == OPTIONS.delayed_poll
    ready = {c["type"]: c for c in h.status["conditions"]}["Ready"]
    assert ready["reason"] == "Delayed"
    h.world.slots = True
    await h.run("provisioned")
    assert h.status["operationalStatus"] == "OK"


async def test_stable_hosts_accept_a_listed_view_only_once_settled() -> None:
    h = Harness()
    await h.run("available")
    h.prov.observe_ages.clear()
    await h.step()  # just arrived: the view must be fresh (a listing may predate the state)
    h.clock.advance(OPTIONS.stable_observe_age)
    await h.step()  # settled: a listing up to stable_observe_age old will do
    h.edit_spec(image={"url": "http://img/live.iso", "format": "live-iso"})
    await h.run("provisioning")
    await h.step()  # transient: always fresh
    assert h.prov.observe_ages == [0.0, OPTIONS.stable_observe_age, OPTIONS.stable_observe_age, 0.0]


async def test_cleaning_cap_delays_preparing_until_a_slot_frees() -> None:
    h = Harness()
    h.world.cleaning_slots = False
    await h.run("preparing")
    step = await h.step()
    assert h.state == "preparing" and h.status["operationalStatus"] == "delayed"
    assert step.requeue_after == OPTIONS.delayed_poll
    assert "provide" not in h.prov.calls  # cleaning not started while delayed
    ready = {c["type"]: c for c in h.status["conditions"]}["Ready"]
    assert ready["reason"] == "Delayed" and "cleaning slots" in ready["message"]
    h.world.cleaning_slots = True
    await h.run("available")
    assert h.status["operationalStatus"] == "OK"
    assert "provide" in h.prov.calls


async def test_hosts_without_cleaning_need_no_cleaning_slot() -> None:
    h = Harness(automatedCleaningMode="disabled")
    h.world.cleaning_slots = False
    await h.run("available")
    assert h.world.cleaning_asked == 0 and h.status["operationalStatus"] == "OK"


async def test_virtual_media_hosts_are_exempt_from_the_cap() -> None:
    h = Harness()
    await h.run("available")
    h.world.slots = False
    h.edit_spec(image={"url": "http://img/live.iso", "format": "live-iso"})
    await h.run("provisioned")


async def test_delete_provisioned_host_deprovisions_powers_off_and_deletes() -> None:
    h = Harness(automatedCleaningMode="metadata")
    await h.run("available")
    h.edit_spec(image={"url": "http://img/live.iso", "format": "live-iso"})
    await h.run("provisioned")
    h.host["metadata"]["deletionTimestamp"] = "2026-01-01T00:10:00Z"
    states = []
    for _ in range(30):
        step = await h.step()
        states.append(h.state)
        h.clock.advance(step.requeue_after or 0.0)
        if h.gone:
            break
    assert h.gone and "h1" not in h.prov.nodes
    assert [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s] == [
        "deprovisioning",
        "powering off before delete",
        "deleting",
    ]
    assert h.prov.cleanings == [CleaningMode.METADATA] and h.prov.calls[-1] == "delete"


async def test_delete_with_dead_bmc_gives_up_power_off_after_bounded_attempts() -> None:
    h = Harness()
    await h.run("available")
    await h.step()
    await h.step()
    assert h.prov.nodes["h1"].powered_on
    h.prov.power_error = True
    h.host["metadata"]["deletionTimestamp"] = "2026-01-01T00:10:00Z"
    for _ in range(30):
        step = await h.step()
        h.clock.advance(step.requeue_after or 0.0)
        if h.gone:
            break
    assert h.gone and "h1" not in h.prov.nodes
    assert len([c for c in h.prov.calls if c == "power False"]) == OPTIONS.delete_power_off_attempts


async def test_detach_keeps_state_and_reattach_registers_again() -> None:
    h = Harness()
    await h.run("available")
    h.edit_spec(image={"url": "http://img/live.iso", "format": "live-iso"})
    await h.run("provisioned")
    h.annotate(L.DETACHED)
    step = await h.step()
    assert h.status["operationalStatus"] == "detached" and h.state == "provisioned"
    assert (
        "h1" not in h.prov.nodes
        and step.requeue_after is None
        and "deprovision" not in " ".join(h.prov.calls)
    )
    del h.host["metadata"]["annotations"][L.DETACHED]
    for _ in range(5):
        step = await h.step()
    assert h.status["operationalStatus"] == "OK" and h.state == "provisioned" and "h1" in h.prov.nodes
    # deleting a detached host only releases the finalizer
    h.annotate(L.DETACHED)
    await h.step()
    h.host["metadata"]["deletionTimestamp"] = "2026-01-01T00:10:00Z"
    calls = len(h.prov.calls)
    await h.step()
    assert h.gone and len(h.prov.calls) == calls


async def test_paused_host_is_left_alone() -> None:
    h = Harness()
    h.annotate(L.PAUSED)
    step = await h.step()
    assert h.prov.calls == [] and step.requeue_after is None and h.state == ""


async def test_reboot_and_power_annotations() -> None:
    h = Harness()
    await h.run("available")
    await h.step()
    h.annotate(L.REBOOT)
    await h.step()
    assert h.prov.reboots == 1 and L.REBOOT not in h.host["metadata"]["annotations"]
    h.annotate(L.REBOOT + "/maintenance")  # keyed: stays off until removed
    await h.step()
    await h.step()
    assert h.prov.nodes["h1"].powered_on is False and h.status["poweredOn"] is False
    del h.host["metadata"]["annotations"][L.REBOOT + "/maintenance"]
    await h.step()
    assert h.prov.nodes["h1"].powered_on is True
    h.edit_spec(online=False)
    await h.step()
    await h.step()
    assert h.prov.nodes["h1"].powered_on is False and h.status["poweredOn"] is False


async def test_inspect_annotation_reinspects() -> None:
    h = Harness()
    await h.run("available")
    h.annotate(L.INSPECT)
    await h.step()
    assert h.state == "inspecting"
    await h.run("available")
    assert "inspect force=True" in h.prov.calls and L.INSPECT not in h.host["metadata"]["annotations"]
    assert h.status["operationHistory"]["inspect"]["end"] > h.status["operationHistory"]["register"]["end"]


async def test_externally_provisioned_and_inspection_disabled() -> None:
    h = Harness(externallyProvisioned=True)
    await h.run("externally provisioned")
    assert not any(c.startswith("inspect") for c in h.prov.calls)
    h2 = Harness(inspectionMode="disabled")
    await h2.run("available")
    assert not any(c.startswith("inspect") for c in h2.prov.calls) and h2.hardware is None


async def test_unmanaged_without_bmc() -> None:
    h = Harness()
    del h.host["spec"]["bmc"]
    await h.step()
    assert h.state == "unmanaged" and h.status["operationalStatus"] == "discovered" and h.prov.calls == []


async def test_provisioner_unavailable_requeues_without_blaming_the_host() -> None:
    h = Harness()
    await h.run("available")
    h.prov.unavailable = True
    step = await h.step()
    assert step.requeue_after == OPTIONS.unavailable_poll and not h.status.get("errorType")
    assert h.events[-1][1] == "ProvisionerUnavailable"
    h.prov.unavailable = False
    await h.step()
    assert h.state == "available"


def test_backoff_grows_is_capped_and_jitters_per_host() -> None:
    options = HostControllerOptions(backoff_base=60.0, backoff_cap=3600.0, backoff_jitter=0.5)
    delays = [backoff_delay(options, n, "ns/h") for n in range(1, 12)]
    assert 60.0 <= delays[0] <= 90.0 and 120.0 <= delays[1] <= 180.0
    assert all(d <= 3600.0 for d in delays) and delays[-1] == pytest.approx(3600.0, rel=0.5)
    assert backoff_delay(options, 0, "ns/h") == 0.0
    assert backoff_delay(options, 3, "ns/h") == backoff_delay(options, 3, "ns/h")  # stable across restarts
    spread = {backoff_delay(options, 1, f"ns/h{i}") for i in range(20)}
    assert len(spread) > 10
