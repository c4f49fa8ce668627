"""End to end: real Ironic + the fleet's Redfish BMCs + emulated agents, through Teapot's provisioner.

One host goes through every agent-based flow Teapot uses: manual ``express`` cleaning, automated
metadata cleaning on ``provide``, a ``direct`` deploy of a generated qcow2 image (downloaded and
checksummed by the agent), then deprovisioning with the ``express`` runbook.  A second host checks
that a manual metadata clean of different hardware takes that hardware's time, and a live-ISO
deploy checks that a non-agent ISO does not start an agent.
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

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

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

    def registration(self, name: str, cleaning: CleaningMode) -> RegistrationSpec:
        h = self.fleet.host(name)
        return RegistrationSpec(
            bmc=BMCAccess(h.bmc_address, h.credentials.username, h.credentials.password),
            boot_mac=h.boot_mac,
            automated_cleaning_mode=cleaning,
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


async def until_done(step: Callable[[], Awaitable[Result]], timeout: float = 90.0) -> Result:
    deadline = time.monotonic() + timeout
    while True:
        result = await step()
        if not result.in_progress:
            return result
        assert time.monotonic() < deadline, f"still in progress: {result.status}"
        await asyncio.sleep(0.3)


def steps(farm: AgentFarm, name: str, command: str) -> list[tuple[str | None, CommandStatus, float]]:
    return [(r.step, r.status, r.emulated_s) for r in farm.history(name) if r.command == command]


async def test_clean_deploy_and_express_through_the_agent(env: Env) -> None:
    prov, farm = env.provisioner, env.farm
    nvme = env.datacenter.host("n1")
    disks = disks_of(nvme)
    host = HostRef("default", "n1")
    timings: dict[str, float] = {}

    t = time.monotonic()
    registered = await until_done(lambda: prov.register(host, env.registration("n1", CleaningMode.METADATA)))
    assert registered.error is None, registered.error
    assert registered.status is not None
    host = host.with_id(registered.status.provisioning_id)
    timings["register"] = time.monotonic() - t

    # manual express cleaning: NVMe crypto-erase on both disks
    t = time.monotonic()
    prepared = await until_done(lambda: prov.prepare(host, CleaningMode.EXPRESS))
    timings["manual_express_clean"] = time.monotonic() - t
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
    timings["provide_metadata_clean"] = time.monotonic() - t
    assert provided.error is None, (provided.error, farm.history("n1"))
    assert provided.status is not None and provided.status.engine_state == "available"
    assert steps(farm, "n1", "clean.execute_clean_step")[-1] == (
        "erase_devices_metadata",
        CommandStatus.SUCCEEDED,
        pytest.approx(erase_metadata_s(disks, TIMINGS)),
    )
    assert farm.boots("n1") == 2

    # direct deploy of a generated qcow2 image: the agent downloads and checksums it
    image = write_qcow2_image(env.ironic.http_root / "disk.qcow2")
    spec = ProvisionSpec(
        image=ImageSpec(
            url=f"{env.ironic.http_url}/disk.qcow2", checksum=sha256_of(image), format=ImageFormat.QCOW2
        )
    )
    t = time.monotonic()
    deployed = await until_done(lambda: prov.provision(host, spec), timeout=120)
    timings["direct_deploy"] = time.monotonic() - t
    assert deployed.error is None, (deployed.error, farm.history("n1"))
    assert deployed.status is not None and deployed.status.engine_state == "active"
    write = steps(farm, "n1", "deploy.execute_deploy_step")
    assert [(s, status) for s, status, _ in write] == [("write_image", CommandStatus.SUCCEEDED)]
    assert farm.agent("n1") is None, "the deployed host boots its disk, not the agent"

    # deprovision with Teapot's express runbook
    t = time.monotonic()
    cleaned = await until_done(lambda: prov.deprovision(host, CleaningMode.EXPRESS), timeout=120)
    timings["deprovision_express"] = time.monotonic() - t
    assert cleaned.error is None, (cleaned.error, farm.history("n1"))
    assert cleaned.status is not None and cleaned.status.engine_state == "available"
    assert steps(farm, "n1", "clean.execute_clean_step")[-1][:2] == (
        "erase_devices_express",
        CommandStatus.SUCCEEDED,
    )
    print({k: round(v, 1) for k, v in timings.items()}, file=sys.stderr)
