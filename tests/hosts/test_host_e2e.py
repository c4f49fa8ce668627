"""End to end: the BareMetalHost controller over real Ironic, real Redfish BMCs (the emulated fleet)
and a real API server (``teapot apiserver``), with the controller in its own process so it can be
killed with SIGKILL.

Hosts are enrolled exactly as an operator would: the fleet's Secret + BareMetalHost manifests.
Cleaning is ``disabled`` here (the agent-based cleaning modes are covered at the provisioner level);
provisioning boots a generated live ISO through virtual media (Ironic's ramdisk deploy).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_asyncio
from kubernetes import client as k8s

from teapot.api import all_crds
from teapot.api import labels as L
from teapot.fleet.agent import AGENT_ISO_VOLUME_ID, AgentFarm, AgentFarmSettings
from teapot.fleet.fleet import Fleet
from teapot.fleet.parse import load_datacenter, loads_datacenter
from teapot.hosts.controller.context import FALLBACK_FINALIZER
from teapot.hosts.ironic.config import IronicSettings
from teapot.hosts.ironic.images import sha256_of, write_live_iso, write_qcow2_image
from teapot.hosts.ironic.provisioner import IronicProvisioner, IronicProvisionerSettings, node_name
from teapot.hosts.ironic.service import IronicService, free_port
from tests.conftest import RunningAPIServer

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "datacenter.yaml"
GROUP, VERSION = "metal3.io", "v1alpha1"
#: One host per hardware generation / architecture, and a GPU host.
LIFECYCLE_HOSTS = ("a01-u01", "a02-u01", "b01-arm01", "b02-u01")

_RUNNER = r"""
import asyncio, logging, sys
from teapot.hosts.controller import HostControllerOptions, setup_host_controller
from teapot.hosts.ironic.provisioner import IronicProvisioner, IronicProvisionerSettings
from teapot.runtime import ClientSettings, Manager, ManagerOptions, connect

async def main(kubeconfig, ironic_url, deploy_iso, namespace):
    client = await connect(ClientSettings(kubeconfig=kubeconfig))
    manager = Manager(client, ManagerOptions(component="teapot-e2e", metrics_bind_address=None))
    options = HostControllerOptions(backoff_base=2.0, backoff_cap=10.0, busy_poll=1.0, stable_poll=10.0,
                                    unavailable_poll=2.0, delayed_poll=2.0)
    settings = IronicProvisionerSettings(url=ironic_url, poll_interval=1.0, deploy_iso=deploy_iso or None)
    provisioner = IronicProvisioner(settings)
    setup_host_controller(manager, provisioner, namespace=namespace, options=options)
    try:
        await manager.run()
    finally:
        await client.close()

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
asyncio.run(main(*sys.argv[1:5]))
"""


class ControllerProcess:
    """``setup_host_controller`` in a child process (so the test can SIGKILL it)."""

    def __init__(
        self, kubeconfig: Path, ironic_url: str, log: Path, namespace: str, deploy_iso: str = ""
    ) -> None:
        # One namespace per test: the session's API server holds other tests' hosts too.
        self.args = [sys.executable, "-c", _RUNNER, str(kubeconfig), ironic_url, deploy_iso, namespace]
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)
            )

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    with Fleet(load_datacenter(EXAMPLE), power_delay_s=0.5, scheme="redfish-virtualmedia") as running:
        yield running


@pytest.fixture(scope="module")
def crds(apiserver: RunningAPIServer) -> None:
    with apiserver.api_client() as api:
        ext = k8s.ApiextensionsV1Api(api)
        for crd in all_crds():
            try:
                ext.create_custom_resource_definition(cast(Any, crd))
            except k8s.ApiException as exc:
                if exc.status != 409:
                    raise
    deadline = time.monotonic() + 30
    while apiserver.kubectl("get", "baremetalhosts", "-A", check=False).returncode != 0:
        assert time.monotonic() < deadline, "BareMetalHost CRD not served"
        time.sleep(0.2)


@pytest.fixture
def controller(
    apiserver: RunningAPIServer, ironic: IronicService, crds: None, namespace: str, tmp_path: Path
) -> Iterator[ControllerProcess]:
    proc = ControllerProcess(apiserver.kubeconfig, ironic.url, tmp_path / "controller.log", namespace)
    proc.start()
    yield proc
    proc.stop()
    print(f"controller log: {proc.log_path}", file=sys.stderr)


class Hosts:
    """Reads and edits BareMetalHosts in one namespace with the official client."""

    def __init__(self, apiserver: RunningAPIServer, namespace: str) -> None:
        self.api = apiserver.api_client()
        self.custom = k8s.CustomObjectsApi(self.api)
        self.core = k8s.CoreV1Api(self.api)
        self.ns = namespace

    def enrol(self, fleet: Fleet, names: tuple[str, ...], cleaning: str = "disabled", **spec: Any) -> None:
        for doc in fleet.manifests(self.ns):
            if doc["metadata"]["name"].removesuffix("-bmc-secret") not in names:
                continue
            if doc["kind"] == "Secret":
                self.core.create_namespaced_secret(self.ns, cast(Any, doc))
            else:
                doc["spec"].update({"automatedCleaningMode": cleaning, **spec})
                self.custom.create_namespaced_custom_object(GROUP, VERSION, self.ns, "baremetalhosts", doc)

    def get(self, name: str) -> dict[str, Any]:
        obj = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, "baremetalhosts", name)
        return cast(dict[str, Any], obj)

    def all(self) -> list[dict[str, Any]]:
        listing = cast(
            dict[str, Any],
            self.custom.list_namespaced_custom_object(GROUP, VERSION, self.ns, "baremetalhosts"),
        )
        return cast(list[dict[str, Any]], listing["items"])

    def patch(self, name: str, body: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.ns, "baremetalhosts", name, body)

    def hardware(self, name: str) -> dict[str, Any]:
        obj = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, "hardwaredata", name)
        return cast(dict[str, Any], obj)

    def events(self) -> list[str]:
        return [f"{e.reason}: {e.message}" for e in self.core.list_namespaced_event(self.ns).items]

    async def wait(
        self, names: tuple[str, ...], check: Callable[[dict[str, Any]], bool], timeout: float
    ) -> float:
        """Seconds until *check* holds for every host in *names*."""
        started = time.monotonic()
        while True:
            hosts = {h["metadata"]["name"]: h for h in self.all()}
            if all(n in hosts and check(hosts[n]) for n in names):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                summary = {n: _summary(hosts.get(n)) for n in names}
                raise AssertionError(f"timed out after {timeout:.0f}s: {json.dumps(summary, indent=1)}")
            await asyncio.sleep(0.5)

    async def wait_gone(self, names: tuple[str, ...], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while {h["metadata"]["name"] for h in self.all()} & set(names):
            assert time.monotonic() < deadline, f"hosts not deleted: {[_summary(h) for h in self.all()]}"
            await asyncio.sleep(0.5)


def _summary(host: dict[str, Any] | None) -> Any:
    if host is None:
        return None
    status = host.get("status") or {}
    return {
        k: status.get(k)
        for k in ("provisioning", "errorType", "errorMessage", "errorCount", "operationalStatus")
    }


def state_is(state: str) -> Callable[[dict[str, Any]], bool]:
    def check(host: dict[str, Any]) -> bool:
        status = host.get("status") or {}
        return (status.get("provisioning") or {}).get("state") == state and not status.get("errorType")

    return check


def ironic_nodes(ironic: IronicService) -> dict[str, Any]:
    prov = IronicProvisioner(IronicProvisionerSettings(url=ironic.url))
    try:
        return {node.name: node for node in prov.baremetal.nodes(details=True)}
    finally:
        prov.close()


async def test_fleet_lifecycle(
    apiserver: RunningAPIServer,
    ironic: IronicService,
    fleet: Fleet,
    controller: ControllerProcess,
    namespace: str,
) -> None:
    hosts = Hosts(apiserver, namespace)
    names = LIFECYCLE_HOSTS
    hosts.enrol(fleet, names)
    to_available = await hosts.wait(names, state_is("available"), timeout=300)

    nodes = ironic_nodes(ironic)
    for name in names:
        host = hosts.get(name)
        meta, status = host["metadata"], host["status"]
        node = nodes[node_name_of(namespace, name)]
        assert status["provisioning"]["ID"] == node.id and node.provision_state == "available"
        assert meta["finalizers"] in ([L.BMH_FINALIZER], [FALLBACK_FINALIZER])
        assert status["goodCredentials"]["credentials"]["name"] == f"{name}-bmc-secret"
        assert status["operationHistory"]["inspect"]["end"] >= status["operationHistory"]["register"]["end"]
        labels = meta["labels"]
        assert labels[L.TOPOLOGY_RACK] == fleet.host(name).labels[L.TOPOLOGY_RACK]  # kept
        for key in (L.HW_CPU_ARCH, L.HW_CPU_CORES, L.HW_MEMORY_GIB, L.HW_DISK_TYPE, L.HW_DISK_GIB):
            assert labels.get(key), (name, key, labels)
        hardware = hosts.hardware(name)
        assert hardware["metadata"]["ownerReferences"][0]["uid"] == meta["uid"]
        assert hardware["spec"]["hardware"] == status["hardware"]
        model = fleet.host(name).host.model
        assert labels[L.HW_MEMORY_GIB] == str(model.memory_gib)
        assert labels[L.HW_CPU_ARCH] == model.cpu.arch
        conditions = {c["type"]: c for c in status["conditions"]}
        assert conditions["Ready"]["status"] == "True" and conditions["Registered"]["status"] == "True"
    assert hosts.get("b02-u01")["metadata"]["labels"][L.HW_GPU_COUNT] == str(
        sum(g.count for g in fleet.host("b02-u01").host.model.gpus)
    )
    assert L.HW_GPU_COUNT not in hosts.get("a01-u01")["metadata"]["labels"]

    iso = write_live_iso(ironic.http_root / f"live-{namespace}.iso")
    image = {"url": f"{ironic.http_url}/{iso.name}", "format": "live-iso"}
    for name in names:
        hosts.patch(name, {"spec": {"image": image, "online": True}})
    to_provisioned = await hosts.wait(names, state_is("provisioned"), timeout=300)
    nodes = ironic_nodes(ironic)
    for name in names:
        status = hosts.get(name)["status"]
        assert nodes[node_name_of(namespace, name)].provision_state == "active"
        assert status["provisioning"]["image"]["url"] == image["url"]
        assert status["operationHistory"]["provision"]["end"]
    await hosts.wait(names, lambda h: (h.get("status") or {}).get("poweredOn") is True, timeout=60)

    for name in names:
        hosts.patch(name, {"spec": {"image": None}})
    to_deprovisioned = await hosts.wait(names, state_is("available"), timeout=300)
    for name in names:
        cleaning = hosts.get(name)["status"]["lastCleaning"]
        assert cleaning["mode"] == "disabled" and cleaning["durationSeconds"] > 0

    deleted = names[:2]
    for name in deleted:
        hosts.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "baremetalhosts", name)
    await hosts.wait_gone(deleted, timeout=240)
    nodes = ironic_nodes(ironic)
    assert not {node_name_of(namespace, n) for n in deleted} & set(nodes)
    assert {node_name_of(namespace, n) for n in names[2:]} <= set(nodes)

    events = "\n".join(hosts.events())
    for name in names:
        assert fleet.host(name).credentials.password not in events
        assert fleet.host(name).credentials.password not in json.dumps(hosts.all())
    print(
        f"\n{len(names)} hosts: to available {to_available:.1f}s, to provisioned {to_provisioned:.1f}s, "
        f"deprovisioned {to_deprovisioned:.1f}s",
        file=sys.stderr,
    )


def node_name_of(namespace: str, name: str) -> str:
    from teapot.hosts.provisioner import HostRef

    return node_name(HostRef(namespace, name))


async def test_wrong_credentials_then_fixed(
    apiserver: RunningAPIServer,
    ironic: IronicService,
    fleet: Fleet,
    controller: ControllerProcess,
    namespace: str,
) -> None:
    hosts = Hosts(apiserver, namespace)
    name = "a01-u02"
    wrong = "not-the-password-42"
    hosts.enrol(fleet, (name,))
    secret = f"{name}-bmc-secret"
    hosts.core.patch_namespaced_secret(
        secret, namespace, {"data": {"password": base64.b64encode(wrong.encode()).decode()}}
    )

    def registration_error(host: dict[str, Any]) -> bool:
        return (host.get("status") or {}).get("errorType") == "registration error"

    await hosts.wait((name,), registration_error, timeout=240)
    status = hosts.get(name)["status"]
    address = fleet.host(name).bmc_address
    assert address in status["errorMessage"] and status["operationalStatus"] == "error"
    assert status["errorCount"] >= 1 and "goodCredentials" not in status
    dump = json.dumps(hosts.get(name)) + "\n".join(hosts.events())
    assert wrong not in dump and fleet.host(name).credentials.password not in dump

    log = controller.log_path.read_text(encoding="utf-8", errors="replace")
    assert "registration error" in dump and wrong not in log

    good = base64.b64encode(fleet.host(name).credentials.password.encode()).decode()
    hosts.core.patch_namespaced_secret(secret, namespace, {"data": {"password": good}})
    recovered = await hosts.wait((name,), state_is("available"), timeout=240)
    status = hosts.get(name)["status"]
    assert status["goodCredentials"]["credentialsVersion"] == status["triedCredentials"]["credentialsVersion"]
    print(f"\nrecovered {recovered:.1f}s after the Secret was fixed", file=sys.stderr)


async def test_controller_killed_mid_provisioning_converges(
    apiserver: RunningAPIServer,
    ironic: IronicService,
    fleet: Fleet,
    controller: ControllerProcess,
    namespace: str,
) -> None:
    hosts = Hosts(apiserver, namespace)
    names = ("a02-u02", "b01-u02")
    hosts.enrol(fleet, names)
    await hosts.wait(names, state_is("available"), timeout=300)
    iso = write_live_iso(ironic.http_root / f"live-{namespace}.iso")
    for name in names:
        hosts.patch(name, {"spec": {"image": {"url": f"{ironic.http_url}/{iso.name}", "format": "live-iso"}}})
    await hosts.wait(names, state_is("provisioning"), timeout=60)
    controller.kill9()
    await asyncio.sleep(2.0)
    assert all(state_is("provisioning")(h) for h in hosts.all())
    controller.start()
    await hosts.wait(names, state_is("provisioned"), timeout=300)
    nodes = ironic_nodes(ironic)
    assert all(nodes[node_name_of(namespace, n)].provision_state == "active" for n in names)
    # exactly one Ironic node per host: nothing was registered twice after the restart
    assert sum(1 for n in nodes if n.startswith(f"{namespace}~")) == len(names)
    # and deleting a provisioned host after the restart leaves no Ironic node behind
    hosts.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "baremetalhosts", names[0])
    await hosts.wait_gone(names[:1], timeout=240)
    assert node_name_of(namespace, names[0]) not in ironic_nodes(ironic)


# -- cleaning through the emulated agent --------------------------------------------------------
AGENT_DATACENTER = """
name: host-e2e-agent
defaults: {bmc: {username: admin}}
regions:
  - name: r1
    zones:
      - name: z1
        rooms:
          - name: hall
            rows:
              - name: row
                racks:
                  - {name: a01, pdus: [a01-pdu]}
models:
  - name: nvme
    manufacturer: Contoso
    product: CC-3200
    generation: 2
    cpu: {sockets: 1, model: "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", cores: 8, threads: 16, mhz: 2000, arch: x86_64}
    memory_gib: 64
    disks: [{type: NVMe, size_gb: 1920, count: 2}]
    nics: [{speed_gbps: 25, count: 2}]
  - name: storage
    manufacturer: Contoso
    product: CS-2100
    generation: 1
    cpu: {sockets: 1, model: "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz", cores: 8, threads: 16, mhz: 2100, arch: x86_64}
    memory_gib: 64
    disks: [{type: SSD, size_gb: 480, count: 2}, {type: HDD, size_gb: 8000, count: 6}]
    nics: [{speed_gbps: 10, count: 2}]
hosts:
  - {name: n1, rack: a01, model: nvme}
  - {name: s1, rack: a01, model: storage}
  - {name: n2, rack: a01, model: nvme}
"""


@dataclass
class AgentEnv:
    ironic: IronicService
    fleet: Fleet
    farm: AgentFarm
    deploy_iso: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def agent_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AgentEnv]:
    """Its own Ironic (agent call-back options), a two-host fleet and an emulated agent per host."""
    datacenter = loads_datacenter(AGENT_DATACENTER)
    data_dir = tmp_path_factory.mktemp("ironic-agent")
    settings = IronicSettings(
        data_dir=data_dir,
        api_port=free_port(),
        http_port=free_port(),
        extra_options=(
            ("api", "ramdisk_heartbeat_timeout", "5"),
            ("agent", "post_deploy_get_power_state_retry_interval", "1"),
            ("agent", "command_wait_interval", "1"),
            ("agent", "certificates_path", str(data_dir / "agent-certs")),
        ),
    )
    async with IronicService(settings) as ironic:
        write_live_iso(ironic.http_root / "teapot-ipa.iso", volume_id=AGENT_ISO_VOLUME_ID)
        farm_settings = AgentFarmSettings(ironic_url=ironic.url, time_scale=0.01)
        async with AgentFarm(datacenter, farm_settings) as farm:
            fleet = Fleet(
                datacenter, power_delay_s=0.5, notify_url=farm.notify_url, scheme="redfish-virtualmedia"
            )
            async with fleet:
                farm.attach(fleet)
                try:
                    yield AgentEnv(ironic, fleet, farm, f"{ironic.http_url}/teapot-ipa.iso")
                finally:
                    await ironic.stop()  # before the BMCs go away


@pytest.fixture
def agent_controller(
    apiserver: RunningAPIServer, agent_env: AgentEnv, crds: None, namespace: str, tmp_path: Path
) -> Iterator[ControllerProcess]:
    """The host controller against the agent environment's Ironic, with its deploy ISO."""
    proc = ControllerProcess(
        apiserver.kubeconfig,
        agent_env.ironic.url,
        tmp_path / "controller.log",
        namespace,
        agent_env.deploy_iso,
    )
    proc.start()
    yield proc
    proc.stop()
    print(f"controller log: {proc.log_path}", file=sys.stderr)


async def test_cleaning_modes_through_the_agent(
    apiserver: RunningAPIServer, agent_env: AgentEnv, agent_controller: ControllerProcess, namespace: str
) -> None:
    env = agent_env
    hosts = Hosts(apiserver, namespace)
    hosts.enrol(env.fleet, ("n1",), cleaning="express")
    hosts.enrol(env.fleet, ("s1",), cleaning="metadata")
    names = ("n1", "s1")
    to_available = await hosts.wait(names, state_is("available"), timeout=360)
    # first enrolment: Ironic's automated cleaning on "provide" (metadata erase) via the agent
    for name in names:
        assert any(r.step == "erase_devices_metadata" for r in env.farm.history(name)), env.farm.history(name)
    iso = write_live_iso(env.ironic.http_root / "live.iso")
    for name in names:
        hosts.patch(
            name, {"spec": {"image": {"url": f"{env.ironic.http_url}/{iso.name}", "format": "live-iso"}}}
        )
    await hosts.wait(names, state_is("provisioned"), timeout=300)
    before = {name: len(env.farm.history(name)) for name in names}
    for name in names:
        hosts.patch(name, {"spec": {"image": None}})
    await hosts.wait(names, state_is("available"), timeout=360)
    cleaned = {name: [r.step for r in env.farm.history(name)[before[name] :] if r.step] for name in names}
    assert "erase_devices_express" in cleaned["n1"], cleaned
    assert "erase_devices_metadata" in cleaned["s1"] and "erase_devices_express" not in cleaned["s1"], cleaned
    records = {name: hosts.get(name)["status"]["lastCleaning"] for name in names}
    assert records["n1"]["mode"] == "express" and records["s1"]["mode"] == "metadata"
    assert all(r["durationSeconds"] > 0 for r in records.values())
    print(
        f"\nagent cleaning: to available {to_available:.1f}s; deprovision express "
        f"{records['n1']['durationSeconds']:.1f}s, metadata {records['s1']['durationSeconds']:.1f}s",
        file=sys.stderr,
    )


async def test_ironic_killed_mid_provisioning_converges(
    apiserver: RunningAPIServer, fleet: Fleet, crds: None, namespace: str, tmp_path: Path
) -> None:
    """SIGKILL Ironic while a host deploys; restart it on the same database: the host still ends
    provisioned (Ironic fails the interrupted deploy on restart; the controller retries it)."""
    settings = IronicSettings(data_dir=tmp_path / "ironic", api_port=free_port(), http_port=free_port())
    first = IronicService(settings)
    await first.start()
    proc = ControllerProcess(apiserver.kubeconfig, first.url, tmp_path / "controller.log", namespace)
    proc.start()
    second: IronicService | None = None
    try:
        hosts = Hosts(apiserver, namespace)
        name = "a01-u03"
        hosts.enrol(fleet, (name,))
        await hosts.wait((name,), state_is("available"), timeout=240)
        iso = write_live_iso(first.http_root / "live.iso")
        hosts.patch(name, {"spec": {"image": {"url": f"{first.http_url}/{iso.name}", "format": "live-iso"}}})
        await hosts.wait((name,), state_is("provisioning"), timeout=60)
        assert first.pid is not None
        os.kill(first.pid, signal.SIGKILL)
        await first.stop()
        await asyncio.sleep(3.0)  # the controller now finds Ironic unreachable
        assert "ProvisionerUnavailable" in "\n".join(hosts.events())
        second = IronicService(settings)
        await second.start()
        took = await hosts.wait((name,), state_is("provisioned"), timeout=300)
        nodes = ironic_nodes(second)
        assert nodes[node_name_of(namespace, name)].provision_state == "active" and len(nodes) == 1
        status = hosts.get(name)["status"]
        print(
            f"\nprovisioned {took:.1f}s after the Ironic restart (errorCount {status['errorCount']}, "
            f"events: {[e for e in hosts.events() if 'rror' in e or 'Retry' in e]})",
            file=sys.stderr,
        )
        hosts.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "baremetalhosts", name)
        await hosts.wait_gone((name,), timeout=240)
        assert not ironic_nodes(second)
    finally:
        proc.stop()
        if second is not None:
            await second.stop()
        await first.stop()


async def test_detach_and_reattach(
    apiserver: RunningAPIServer,
    ironic: IronicService,
    fleet: Fleet,
    controller: ControllerProcess,
    namespace: str,
) -> None:
    """Detach removes the Ironic node without touching the machine; re-attach registers it again."""
    hosts = Hosts(apiserver, namespace)
    name = "b01-u03"
    hosts.enrol(fleet, (name,), online=True)
    await hosts.wait((name,), state_is("available"), timeout=300)
    await hosts.wait((name,), lambda h: (h.get("status") or {}).get("poweredOn") is True, timeout=120)
    old_id = hosts.get(name)["status"]["provisioning"]["ID"]
    hosts.patch(name, {"metadata": {"annotations": {L.DETACHED: ""}}})

    def detached(host: dict[str, Any]) -> bool:
        return (host.get("status") or {}).get("operationalStatus") == "detached"

    await hosts.wait((name,), detached, timeout=120)
    host = hosts.get(name)
    assert host["status"]["provisioning"]["state"] == "available"  # state kept
    assert node_name_of(namespace, name) not in ironic_nodes(ironic)
    conditions = {c["type"]: c for c in host["status"]["conditions"]}
    assert conditions["Ready"]["reason"] == "Detached"

    hosts.patch(name, {"metadata": {"annotations": {L.DETACHED: None}}})

    def attached(host: dict[str, Any]) -> bool:
        status = host.get("status") or {}
        return (
            state_is("available")(host)
            and status.get("operationalStatus") == "OK"
            and bool((status.get("provisioning") or {}).get("ID"))
        )

    await hosts.wait((name,), attached, timeout=300)
    deadline = time.monotonic() + 120
    while (node := ironic_nodes(ironic)[node_name_of(namespace, name)]).provision_state != "available":
        assert time.monotonic() < deadline, node.provision_state  # re-registered node is provided again
        await asyncio.sleep(1.0)
    assert node.id != old_id and hosts.get(name)["status"]["provisioning"]["ID"] == node.id


async def test_direct_disk_image_through_the_controller(
    apiserver: RunningAPIServer, agent_env: AgentEnv, agent_controller: ControllerProcess, namespace: str
) -> None:
    """A qcow2 image deployed with Ironic's ``direct`` interface: the emulated agent downloads,
    checksums and writes it; deleting the provisioned host cleans it (metadata) and removes the node."""
    env = agent_env
    hosts = Hosts(apiserver, namespace)
    name = "n2"
    hosts.enrol(env.fleet, (name,), cleaning="metadata")
    await hosts.wait((name,), state_is("available"), timeout=360)
    disk = write_qcow2_image(env.ironic.http_root / f"disk-{namespace}.qcow2")
    image = {
        "url": f"{env.ironic.http_url}/{disk.name}",
        "checksum": sha256_of(disk),
        "checksumType": "sha256",
        "format": "qcow2",
    }
    hosts.patch(name, {"spec": {"image": image, "online": True}})
    took = await hosts.wait((name,), state_is("provisioned"), timeout=300)
    commands = [(r.command, r.step) for r in env.farm.history(name)]
    assert ("deploy.execute_deploy_step", "write_image") in commands, commands
    node = ironic_nodes(env.ironic)[node_name_of(namespace, name)]
    assert node.provision_state == "active" and node.deploy_interface == "direct"
    assert node.instance_info["image_source"] == image["url"]
    assert hosts.get(name)["status"]["provisioning"]["image"]["checksum"] == image["checksum"]
    before = len(env.farm.history(name))

    hosts.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, "baremetalhosts", name)
    await hosts.wait_gone((name,), timeout=360)
    cleaned = [r.step for r in env.farm.history(name)[before:] if r.step]
    assert "erase_devices_metadata" in cleaned, cleaned
    assert node_name_of(namespace, name) not in ironic_nodes(env.ironic)
    print(f"\ndirect qcow2 deploy through the controller: {took:.1f}s", file=sys.stderr)


async def test_bmc_down_mid_provisioning_then_back(
    apiserver: RunningAPIServer,
    ironic: IronicService,
    fleet: Fleet,
    controller: ControllerProcess,
    namespace: str,
) -> None:
    """The BMC stops answering right after provisioning starts: the host does not end provisioned
    while it is down, says which BMC failed (never its password), and finishes once the BMC is back."""
    hosts = Hosts(apiserver, namespace)
    name = "a02-u04"
    hosts.enrol(fleet, (name,))
    await hosts.wait((name,), state_is("available"), timeout=300)
    iso = write_live_iso(ironic.http_root / f"live-{namespace}.iso")
    hosts.patch(name, {"spec": {"image": {"url": f"{ironic.http_url}/{iso.name}", "format": "live-iso"}}})

    def provisioning(host: dict[str, Any]) -> bool:
        return ((host.get("status") or {}).get("provisioning") or {}).get("state") == "provisioning"

    started = time.monotonic()
    while not provisioning(hosts.get(name)):
        assert time.monotonic() - started < 60, _summary(hosts.get(name))
        await asyncio.sleep(0.1)
    fleet.control.bmc_down(name)
    try:
        seen: list[Any] = []
        # Ironic gives up after its Redfish retries ([redfish]connection_attempts, 2 in this session's
        # Ironic) on each call of the deploy; the controller then reports the failure.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            host = hosts.get(name)
            status = host.get("status") or {}
            assert status["provisioning"]["state"] != "provisioned", "provisioned with its BMC down"
            seen.append(_summary(host))
            if status.get("errorType"):
                break
            await asyncio.sleep(1.0)
        status = hosts.get(name)["status"]
        assert status.get("errorType") == "provisioning error", seen[-3:]
        assert status["errorCount"] >= 1 and status["operationalStatus"] == "error"
        assert "Redfish connection failed" in status["errorMessage"], status["errorMessage"]
        dump = json.dumps(hosts.get(name)) + "\n".join(hosts.events())
        assert fleet.host(name).credentials.password not in dump
    finally:
        fleet.control.clear(name)
    took = await hosts.wait((name,), state_is("provisioned"), timeout=300)
    status = hosts.get(name)["status"]
    assert status["operationalStatus"] == "OK" and "errorMessage" not in status
    assert ironic_nodes(ironic)[node_name_of(namespace, name)].provision_state == "active"
    print(
        f"\nprovisioned {took:.1f}s after the BMC came back (errors: {status['errorCount']})", file=sys.stderr
    )


METAL3_MANIFEST = """
# Metal3's documented BareMetalHost, with this fleet's BMC address, credentials and a live ISO.
apiVersion: v1
kind: Secret
metadata:
  name: worker-0-bmc-secret
type: Opaque
data:
  username: {username}
  password: {password}
---
apiVersion: metal3.io/v1alpha1
kind: BareMetalHost
metadata:
  name: worker-0
spec:
  online: true
  bootMACAddress: {mac}
  bootMode: UEFI
  bmc:
    address: {address}
    credentialsName: worker-0-bmc-secret
    disableCertificateVerification: true
  rootDeviceHints:
    deviceName: /dev/sda
  automatedCleaningMode: disabled
  image:
    url: {image}
    format: live-iso
"""


async def test_metal3_manifest_applied_with_kubectl_is_provisioned(
    apiserver: RunningAPIServer,
    ironic: IronicService,
    fleet: Fleet,
    controller: ControllerProcess,
    namespace: str,
) -> None:
    hosts = Hosts(apiserver, namespace)
    machine = fleet.host("a02-u03")
    iso = write_live_iso(ironic.http_root / f"live-{namespace}.iso")
    manifest = METAL3_MANIFEST.format(
        username=base64.b64encode(machine.credentials.username.encode()).decode(),
        password=base64.b64encode(machine.credentials.password.encode()).decode(),
        mac=machine.boot_mac,
        address=machine.bmc_address,
        image=f"{ironic.http_url}/{iso.name}",
    )
    apiserver.kubectl("apply", "-n", namespace, "-f", "-", input=manifest)
    took = await hosts.wait(("worker-0",), state_is("provisioned"), timeout=300)
    out = apiserver.kubectl("get", "bmh", "-n", namespace, "worker-0").stdout
    header, row = out.splitlines()[:2]
    assert header.split()[:4] == ["NAME", "STATE", "CONSUMER", "ONLINE"]
    assert row.split()[:3] == ["worker-0", "provisioned", "true"]
    history = hosts.get("worker-0")["status"]["operationHistory"]
    assert all(history[op]["end"] for op in ("register", "inspect", "provision"))
    apiserver.kubectl("delete", "-n", namespace, "-f", "-", input=manifest)
    await hosts.wait_gone(("worker-0",), timeout=240)
    assert node_name_of(namespace, "worker-0") not in ironic_nodes(ironic)
    print(f"\nMetal3 manifest: applied to provisioned in {took:.1f}s", file=sys.stderr)
