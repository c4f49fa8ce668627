"""End to end: real Ironic + the fleet's Redfish BMCs + emulated agents, through Teapot's provisioner.

Three hosts, two tests (sharing one Ironic, fleet and farm):

* cleaning: an NVMe host gets a manual ``express`` clean, then automated metadata cleaning on
  ``provide``; at the same time a storage host (SSD + HDD) is inspected by its agent
  (``inspect_interface=agent``) and gets a manual metadata clean taking that hardware's time;
* deploying: another NVMe host gets a ``direct`` deploy of a generated qcow2 image (downloaded and
  checksummed by the agent), then is deprovisioned with Teapot's ``express`` cleaning runbook.

Timings are printed (``-s``) for docs/agent.md.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

from teapot.fleet.agent import AGENT_ISO_VOLUME_ID, AgentFarm, AgentFarmSettings, CommandStatus
from teapot.fleet.agent.timing import HardwareTimings, disks_of, erase_express_s, erase_metadata_s
from teapot.fleet.fleet import Fleet
from teapot.fleet.model import Datacenter
from teapot.fleet.parse import loads_datacenter
from teapot.hosts.ironic.config import IronicSettings
from teapot.hosts.ironic.images import sha256_of, write_live_iso, write_qcow2_image
from teapot.hosts.ironic.provisioner import IronicProvisioner, IronicProvisionerSettings
from teapot.hosts.ironic.service import IronicService, free_port
from teapot.hosts.provisioner import (
    BMCAccess,
    CleaningMode,
    HostRef,
    ImageFormat,
    ImageSpec,
    ProvisionSpec,
    RegistrationSpec,
    Result,
)

# About 45-60 s per test on a quiet 2-core machine; under a load average of 40+ (other sessions'
# Ironic benchmarks) a single Ironic step took 20-40 s and a test up to ~330 s, hence the margins.
pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(600)]

TIME_SCALE = 0.01
TIMINGS = HardwareTimings()

DATACENTER = """
name: agent-e2e
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
  - {name: n2, rack: a01, model: nvme}
  - {name: s1, rack: a01, model: storage}
"""

#: What Ironic needs for agent flows against emulated hosts (see docs/agent.md).
AGENT_IRONIC_OPTIONS = (
    ("api", "ramdisk_heartbeat_timeout", "5"),  # agents heartbeat every 1.5-3 s
    ("agent", "post_deploy_get_power_state_retry_interval", "1"),
    ("agent", "command_wait_interval", "1"),
)


class Env:
    def __init__(self, ironic: IronicService, fleet: Fleet, farm: AgentFarm, datacenter: Datacenter) -> None:
        self.ironic = ironic
        self.fleet = fleet
        self.farm = farm
        self.datacenter = datacenter
        self.deploy_iso = f"{ironic.http_url}/teapot-ipa.iso"
        self.provisioner = IronicProvisioner(
            IronicProvisionerSettings(url=ironic.url, deploy_iso=self.deploy_iso, poll_interval=0.5)
        )

    def registration(
        self, name: str, cleaning: CleaningMode, inspection: str | None = None
    ) -> RegistrationSpec:
        h = self.fleet.host(name)
        return RegistrationSpec(
            bmc=BMCAccess(h.bmc_address, h.credentials.username, h.credentials.password),
            boot_mac=h.boot_mac,
            automated_cleaning_mode=cleaning,
            inspection_mode=inspection,
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    datacenter = loads_datacenter(DATACENTER)
    data_dir = tmp_path_factory.mktemp("ironic-agent")
    settings = IronicSettings(
        data_dir=data_dir,
        api_port=free_port(),
        http_port=free_port(),
        extra_options=(*AGENT_IRONIC_OPTIONS, ("agent", "certificates_path", str(data_dir / "agent-certs"))),
    )
    async with IronicService(settings) as ironic:
        write_live_iso(ironic.http_root / "teapot-ipa.iso", volume_id=AGENT_ISO_VOLUME_ID)
        farm_settings = AgentFarmSettings(ironic_url=ironic.url, time_scale=TIME_SCALE, timings=TIMINGS)
        async with AgentFarm(datacenter, farm_settings) as farm:
            fleet = Fleet(
                datacenter, power_delay_s=0.5, notify_url=farm.notify_url, scheme="redfish-virtualmedia"
            )
            async with fleet:
                farm.attach(fleet)
                try:
                    yield Env(ironic, fleet, farm, datacenter)
                finally:
                    await ironic.stop()  # before the BMCs go away
    for record in farm.history():
        print(record, file=sys.stderr)


async def until_done(step: Callable[[], Awaitable[Result]], timeout: float = 300.0) -> Result:
    deadline = time.monotonic() + timeout
    while True:
        result = await step()
        if not result.in_progress:
            return result
        assert time.monotonic() < deadline, f"still in progress: {result.status}"
        await asyncio.sleep(0.3)


def steps(farm: AgentFarm, name: str, command: str) -> list[tuple[str | None, CommandStatus, float]]:
    return [(r.step, r.status, r.emulated_s) for r in farm.history(name) if r.command == command]


async def register(env: Env, name: str, cleaning: CleaningMode, inspection: str | None = None) -> HostRef:
    host = HostRef("default", name)
    registered = await until_done(
        lambda: env.provisioner.register(host, env.registration(name, cleaning, inspection))
    )
    assert registered.error is None, registered.error
    assert registered.status is not None
    return host.with_id(registered.status.provisioning_id)


async def test_cleaning_and_agent_inspection(env: Env) -> None:
    """Both hosts' flows run concurrently, as a controller would drive them."""
    timings: dict[str, float] = {}
    await asyncio.gather(nvme_cleaning(env, timings), storage_inspection_and_cleaning(env, timings))
    print({k: round(v, 1) for k, v in timings.items()}, file=sys.stderr)


async def storage_inspection_and_cleaning(env: Env, timings: dict[str, float]) -> None:
    """Agent inspection, then a manual metadata clean that takes this hardware's time."""
    prov, farm = env.provisioner, env.farm
    host = await register(env, "s1", CleaningMode.DISABLED, inspection="agent")

    t = time.monotonic()
    inspected = await until_done(lambda: prov.inspect(host))
    timings["s1_agent_inspection"] = time.monotonic() - t
    assert inspected.error is None, (inspected.error, farm.skipped("s1"))
    details = inspected.details
    assert details is not None
    assert [s.type for s in details.storage] == ["SSD"] * 2 + ["HDD"] * 6
    assert details.cpu.count == 16 and details.cpu.arch == "x86_64"
    assert details.ram_mebibytes == 64 * 1024
    assert {n.mac for n in details.nics} == set(env.datacenter.host("s1").macs)
    assert farm.boots("s1") == 1
    agent = farm.agent("s1")
    assert agent is None, "Ironic powers the host off after inspection"

    t = time.monotonic()
    prepared = await until_done(lambda: prov.prepare(host, CleaningMode.METADATA))
    timings["s1_manual_metadata_clean"] = time.monotonic() - t
    assert prepared.error is None, (prepared.error, farm.history("s1"))
    assert prepared.status is not None and prepared.status.engine_state == "manageable"
    disks = disks_of(env.datacenter.host("s1"))
    assert erase_metadata_s(disks, TIMINGS) == pytest.approx(8 * TIMINGS.metadata_erase_per_disk_s)
    assert steps(farm, "s1", "clean.execute_clean_step") == [
        ("erase_devices_metadata", CommandStatus.SUCCEEDED, pytest.approx(erase_metadata_s(disks, TIMINGS)))
    ]


async def nvme_cleaning(env: Env, timings: dict[str, float]) -> None:
    """Manual express clean, then provide with automated metadata cleaning."""
    prov, farm = env.provisioner, env.farm
    disks = disks_of(env.datacenter.host("n1"))
    t = time.monotonic()
    host = await register(env, "n1", CleaningMode.METADATA)
    timings["n1_register"] = time.monotonic() - t

    t = time.monotonic()
    prepared = await until_done(lambda: prov.prepare(host, CleaningMode.EXPRESS))
    timings["n1_manual_express_clean"] = time.monotonic() - t
    assert prepared.error is None, (prepared.error, farm.history("n1"))
    assert prepared.status is not None and prepared.status.engine_state == "manageable"
    assert steps(farm, "n1", "clean.execute_clean_step") == [
        ("erase_devices_express", CommandStatus.SUCCEEDED, pytest.approx(erase_express_s(disks, TIMINGS)))
    ]
    assert farm.boots("n1") == 1
    assert farm.agent("n1") is None, "cleaning ends with the host powered off and its agent gone"

    # provide: automated cleaning runs the metadata erase (priority 10 in Teapot's Ironic config)
    t = time.monotonic()
    provided = await until_done(lambda: prov.provide(host))
    timings["n1_provide_metadata_clean"] = time.monotonic() - t
    assert provided.error is None, (provided.error, farm.history("n1"))
    assert provided.status is not None and provided.status.engine_state == "available"
    assert steps(farm, "n1", "clean.execute_clean_step")[-1] == (
        "erase_devices_metadata",
        CommandStatus.SUCCEEDED,
        pytest.approx(erase_metadata_s(disks, TIMINGS)),
    )
    assert farm.boots("n1") == 2


async def test_direct_deploy_and_express_deprovision(env: Env) -> None:
    prov, farm = env.provisioner, env.farm
    timings: dict[str, float] = {}
    host = await register(env, "n2", CleaningMode.DISABLED)
    provided = await until_done(lambda: prov.provide(host))
    assert provided.status is not None and provided.status.engine_state == "available"
    assert farm.boots("n2") == 0, "no cleaning, no agent"

    # direct deploy of a generated qcow2 image: the agent downloads and checksums it
    image = write_qcow2_image(env.ironic.http_root / "disk.qcow2")
    spec = ProvisionSpec(
        image=ImageSpec(
            url=f"{env.ironic.http_url}/disk.qcow2", checksum=sha256_of(image), format=ImageFormat.QCOW2
        )
    )
    t = time.monotonic()
    deployed = await until_done(lambda: prov.provision(host, spec))
    timings["n2_direct_deploy"] = time.monotonic() - t
    assert deployed.error is None, (deployed.error, farm.history("n2"))
    assert deployed.status is not None and deployed.status.engine_state == "active"
    commands = [(r.command, r.step, r.status) for r in farm.history("n2")]
    assert ("deploy.execute_deploy_step", "write_image", CommandStatus.SUCCEEDED) in commands
    assert commands[-1][0] == "standby.power_off", "Ironic powers off through the agent, then boots the disk"
    assert farm.agent("n2") is None, "the deployed host boots its disk, not the agent"
    assert farm.skipped("n2")[-1].startswith("booted from Hdd")

    # deprovision with Teapot's express runbook (automated cleaning from a runbook)
    t = time.monotonic()
    cleaned = await until_done(lambda: prov.deprovision(host, CleaningMode.EXPRESS))
    timings["n2_deprovision_express"] = time.monotonic() - t
    assert cleaned.error is None, (cleaned.error, farm.history("n2"))
    assert cleaned.status is not None and cleaned.status.engine_state == "available"
    assert steps(farm, "n2", "clean.execute_clean_step") == [
        (
            "erase_devices_express",
            CommandStatus.SUCCEEDED,
            pytest.approx(erase_express_s(disks_of(env.datacenter.host("n2")), TIMINGS)),
        )
    ]
    print({k: round(v, 1) for k, v in timings.items()}, file=sys.stderr)
