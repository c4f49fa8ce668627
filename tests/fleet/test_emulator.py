"""The emulator end to end: inventory read by sushy and by Ironic's inspection code, per-host
auth, fault injection, power timing, virtual media, notifications, TLS and restarts."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import sushy
from sushy import exceptions as sushy_exc

from teapot.fleet.fleet import Fleet, FleetHost, services_python
from teapot.fleet.generate import generate_datacenter
from teapot.fleet.model import DiskType

from .conftest import POWER_DELAY_S, Collector

pytestmark = pytest.mark.e2e


def connect(
    fleet: Fleet, host: FleetHost, password: str | None = None, username: str | None = None
) -> sushy.Sushy:
    return sushy.Sushy(
        fleet.base_url + "/redfish/v1",
        username=username or host.credentials.username,
        password=password if password is not None else host.credentials.password,
        verify=False,
        server_side_retries=0,
    )


def system(fleet: Fleet, name: str, password: str | None = None) -> Any:
    host = fleet.host(name)
    return connect(fleet, host, password).get_system(f"/redfish/v1/Systems/{host.uuid}")


def test_inventory_read_back_with_sushy(fleet: Fleet) -> None:
    host = fleet.host("b02-u01")
    model = host.host.model
    s = system(fleet, "b02-u01")
    assert (s.uuid, s.name, s.manufacturer, s.model) == (
        host.uuid,
        host.name,
        model.manufacturer,
        model.product,
    )
    assert s.serial_number == host.host.serial
    assert s.memory_summary.size_gib == model.memory_gib
    members = s.processors.get_members()
    cpus = [p for p in members if p.processor_type == sushy.ProcessorType.CPU]
    gpus = [p for p in members if p.processor_type == sushy.ProcessorType.GPU]
    assert len(cpus) == model.cpu.sockets and len(gpus) == model.gpu_count == 8
    assert s.processors.summary.count == model.cpu.sockets * model.cpu.threads
    assert cpus[0].model == model.cpu.model and cpus[0].max_speed_mhz == model.cpu.mhz
    assert cpus[0].instruction_set == sushy.InstructionSet.X86_64
    assert gpus[0].model == "NVIDIA A100-SXM4-80GB"
    nics = s.ethernet_interfaces.get_members()
    assert [n.mac_address for n in nics] == list(host.host.macs)
    assert [n.speed_mbps for n in nics] == [25_000] * 2 + [200_000] * 4
    drives = [d for st in s.storage.get_members() for d in st.drives]
    assert [d.capacity_bytes for d in drives] == [960 * 10**9] + [7680 * 10**9] * 4
    assert {d.protocol for d in drives} == {sushy.PROTOCOL_TYPE_NVMe}
    assert sorted(s.simple_storage.disks_sizes_bytes) == sorted(d.capacity_bytes for d in drives)
    pcie = s.pcie_devices.get_members()
    assert len(pcie) == 8
    assert pcie[0].pcie_functions.get_members()[0].vendor_id == "0x10de"
    assert s.power_state == sushy.POWER_STATE_OFF


def test_hdd_host_reports_rotational_media(fleet: Fleet) -> None:
    s = system(fleet, "a01-u01")
    drives = [d for st in s.storage.get_members() for d in st.drives]
    hdds = [d for d in drives if d.media_type == "HDD"]
    assert len(hdds) == 10 and len(drives) == 12
    arm = system(fleet, "b01-arm01")
    assert arm.processors.get_members()[0].instruction_set == sushy.InstructionSet.ARM_A64


def test_ironic_redfish_inspection_reads_the_inventory(fleet: Fleet) -> None:
    """Ironic's own out-of-band inspection code (services virtualenv) against the emulator."""
    names = ["b02-u01", "a01-u01", "b01-arm01"]
    hosts = [
        {
            "name": n,
            "username": fleet.host(n).credentials.username,
            "password": fleet.host(n).credentials.password,
            "path": f"/redfish/v1/Systems/{fleet.host(n).uuid}",
        }
        for n in names
    ]
    probe = Path(__file__).with_name("ironic_probe.py")
    done = subprocess.run(
        [services_python(), str(probe), fleet.base_url],
        input=json.dumps(hosts),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(done.stdout)
    gpu, hdd, arm = (seen[n] for n in names)
    assert gpu["cpu"] == {
        "count": 256,
        "model_name": "AMD EPYC 7763 64-Core Processor",
        "frequency": 2450,
        "architecture": "x86_64",
    }
    assert gpu["memory_gib"] == 2048
    assert gpu["local_gb"] == int(960 * 10**9 / 2**30 - 1)  # Ironic: first disk >= 4 GiB, minus 1
    assert [i["mac_address"] for i in gpu["interfaces"]] == list(fleet.host("b02-u01").host.macs)
    assert gpu["interfaces"][0] == {
        "mac_address": fleet.host("b02-u01").boot_mac,
        "name": "eno1",
        "speed_mbps": 25000,
    }
    assert len(gpu["pci_devices"]) == 8
    assert gpu["pci_devices"][0]["class"] == "DisplayController"
    assert gpu["pci_devices"][0]["vendor_id"] == "0x10de"
    assert gpu["system_vendor"]["manufacturer"] == "Fabrikam"
    assert gpu["system_vendor"]["serial_number"] == fleet.host("b02-u01").host.serial
    assert gpu["boot_mode"] == "UEFI"
    assert [d["rotational"] for d in hdd["disks"]] == [False] * 2 + [True] * 10
    assert {d["protocol"] for d in gpu["controllers"][0]["drives"]} == {"NVMe"}
    assert {d["protocol"] for d in hdd["controllers"][0]["drives"]} == {"SATA", "SAS"}
    assert arm["cpu"]["architecture"] == "aarch64" and arm["cpu"]["count"] == 128
    assert hdd["pci_devices"] == []


def test_per_host_credentials(fleet: Fleet) -> None:
    host, other = fleet.host("a02-u01"), fleet.host("a02-u02")
    # the service root is open, like on real BMCs
    assert requests.get(fleet.base_url + "/redfish/v1/", timeout=5).status_code == 200
    with pytest.raises(sushy_exc.AccessError):
        system(fleet, "a02-u01", password="wrong")
    # another host's (valid) credentials do not open this host's BMC
    url = f"{host.system_url}"
    response = requests.get(url, auth=(other.credentials.username, other.credentials.password), timeout=5)
    assert response.status_code == 401
    assert "error" in response.json() and response.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(url, timeout=5).status_code == 401
    # the Systems collection lists only what these credentials open
    listing = requests.get(
        fleet.base_url + "/redfish/v1/Systems",
        auth=(host.credentials.username, host.credentials.password),
        timeout=5,
    ).json()
    assert [m["@odata.id"] for m in listing["Members"]] == [f"/redfish/v1/Systems/{host.uuid}"]
    # a host given explicit shared-looking credentials still only sees itself
    explicit = fleet.host("b02-u05")
    assert (explicit.credentials.username, explicit.credentials.password) == ("root", "calvin")
    assert system(fleet, "b02-u05").uuid == explicit.uuid


def test_fault_bmc_down_and_unavailable(fleet: Fleet) -> None:
    name = "a02-u03"
    host = fleet.host(name)
    s = system(fleet, name)
    # sushy retries dropped connections even with server_side_retries=0 (3 x 2 s); keep it short
    quick = sushy.Sushy(
        fleet.base_url + "/redfish/v1",
        username=host.credentials.username,
        password=host.credentials.password,
        server_side_retries=1,
        server_side_retries_delay=0.01,
    ).get_system(f"/redfish/v1/Systems/{host.uuid}")
    fleet.control.bmc_down(name)
    try:
        with pytest.raises(sushy_exc.ConnectionError):
            quick.refresh()
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(
                host.system_url, auth=(host.credentials.username, host.credentials.password), timeout=5
            )
        fleet.control.bmc_down(name, refuse=False)
        response = requests.get(
            host.system_url, auth=(host.credentials.username, host.credentials.password), timeout=5
        )
        assert response.status_code == 503
        with pytest.raises(sushy_exc.ServerSideError):
            s.refresh()
        # other hosts are unaffected
        assert system(fleet, "a02-u04").name == "a02-u04"
    finally:
        fleet.control.clear(name)
    s.refresh()
    assert s.name == name


def test_fault_password_changed(fleet: Fleet) -> None:
    name = "a02-u05"
    fleet.control.change_password(name, "n3w-secret")
    try:
        assert fleet.control.faults(name)["password"] == "n3w-secret"
        with pytest.raises(sushy_exc.AccessError):
            system(fleet, name)
        assert system(fleet, name, password="n3w-secret").name == name
    finally:
        fleet.control.clear(name)
    assert system(fleet, name).name == name


def test_fault_power_error_and_stuck(fleet: Fleet) -> None:
    name = "a02-u06"
    s = system(fleet, name)
    fleet.control.fail_power(name)
    try:
        with pytest.raises(sushy_exc.ServerSideError):
            s.reset_system(sushy.RESET_ON)
        fleet.control.fail_power(name, stuck=True)
        s.reset_system(sushy.RESET_ON)  # accepted ...
        time.sleep(POWER_DELAY_S + 0.3)
        s.refresh()
        assert s.power_state == sushy.POWER_STATE_OFF  # ... but nothing happens
    finally:
        fleet.control.clear(name)


def test_control_api_needs_token_and_validates(fleet: Fleet) -> None:
    url = fleet.base_url + "/teapot/v1/faults"
    assert requests.get(url, timeout=5).status_code == 401
    bad = requests.put(
        fleet.base_url + "/teapot/v1/systems/a01-u01/faults",
        json={"bmc": "sideways"},
        headers={"Authorization": f"Bearer {fleet.control.token}"},
        timeout=5,
    )
    assert bad.status_code == 400 and "bmc must be one of" in bad.json()["error"]


def test_power_timing_is_exact_and_notified(fleet: Fleet, collector: Collector) -> None:
    name = "b01-u01"
    s = system(fleet, name)
    started = time.monotonic()
    s.reset_system(sushy.RESET_ON)
    s.refresh()
    assert s.power_state == sushy.POWER_STATE_OFF  # not yet
    # the timer applies the change without anyone polling, and notifies it
    event = collector.wait_for(lambda e: e["name"] == name and e["power_state"] == "On", timeout=5)
    elapsed = time.monotonic() - started
    assert POWER_DELAY_S - 0.05 <= elapsed < POWER_DELAY_S + 1.0
    assert event["uuid"] == fleet.host(name).uuid
    assert [n["mac"] for n in event["nics"]] == list(fleet.host(name).host.macs)
    s.refresh()
    assert s.power_state == sushy.POWER_STATE_ON
    s.reset_system(sushy.RESET_FORCE_OFF)
    time.sleep(POWER_DELAY_S + 0.2)
    s.refresh()
    assert s.power_state == sushy.POWER_STATE_OFF


@pytest.fixture(scope="module")
def iso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("isos")
    (root / "agent.iso").write_bytes(b"not really an ISO")

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_virtual_media_insert_and_eject(fleet: Fleet, collector: Collector, iso_server: str) -> None:
    name = "b01-u02"
    s = system(fleet, name)
    cd = next(m for m in s.virtual_media.get_members() if sushy.VirtualMediaType.CD in m.media_types)
    image = f"{iso_server}/agent.iso"
    cd.insert_media(image, inserted=True, write_protected=True)
    cd.refresh()
    assert cd.inserted and cd.image == image and cd.image_name == "agent.iso"
    event = collector.wait_for(lambda e: e["name"] == name and e.get("boot_image"))
    assert image in json.dumps(event["boot_image"])
    cd.eject_media()
    cd.refresh()
    assert not cd.inserted and not cd.image


def test_one_time_boot_override_is_used_up_by_power_on(fleet: Fleet, collector: Collector) -> None:
    name = "b01-u03"
    s = system(fleet, name)
    s.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_CD, enabled=sushy.BOOT_SOURCE_ENABLED_ONCE)
    s.refresh()
    assert (s.boot.target, s.boot.enabled) == (sushy.BOOT_SOURCE_TARGET_CD, sushy.BOOT_SOURCE_ENABLED_ONCE)
    s.reset_system(sushy.RESET_ON)
    booted = collector.wait_for(lambda e: e["name"] == name and e["power_state"] == "On")
    # the power-on notification still says what the host booted from
    assert (booted["boot_device"], booted["boot_override"]) == ("Cd", "Once")
    collector.wait_for(lambda e: e["name"] == name and e.get("boot_override") == "Disabled")
    s.refresh()
    assert s.boot.enabled == sushy.BOOT_SOURCE_ENABLED_DISABLED
    s.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_HDD, enabled=sushy.BOOT_SOURCE_ENABLED_CONTINUOUS)
    s.refresh()
    assert (s.boot.target, s.boot.enabled) == (
        sushy.BOOT_SOURCE_TARGET_HDD,
        sushy.BOOT_SOURCE_ENABLED_CONTINUOUS,
    )


def test_request_latency(fleet: Fleet) -> None:
    """Per-request latency of a system GET (reported, with a generous bound)."""
    host = fleet.host("a01-u02")
    session = requests.Session()
    session.auth = (host.credentials.username, host.credentials.password)
    session.get(host.system_url, timeout=5).raise_for_status()
    samples = []
    for _ in range(30):
        started = time.perf_counter()
        session.get(host.system_url, timeout=5).raise_for_status()
        samples.append(time.perf_counter() - started)
    median = statistics.median(samples)
    print(f"\nfleet of 24: startup {fleet.startup_s:.2f} s, system GET median {median * 1000:.1f} ms")
    assert median < 0.5


def test_tls_and_state_persists_across_restarts(tmp_path: Path) -> None:
    dc = generate_datacenter(2, name="tls-fleet")
    state = tmp_path / "state"
    with Fleet(dc, tls=True, state_dir=state) as fleet:
        host = fleet.hosts[0]
        assert host.bmc_address.startswith("redfish+https://127.0.0.1:")
        assert host.disable_certificate_verification
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(fleet.base_url + "/redfish/v1/", timeout=5)
        s = connect(fleet, host).get_system(f"/redfish/v1/Systems/{host.uuid}")
        s.reset_system(sushy.RESET_ON)
        s.refresh()
        assert s.power_state == sushy.POWER_STATE_ON  # power_delay_s=0: immediate
        assert {d.media_type for st in s.storage.get_members() for d in st.drives} == {"SSD"}
        assert DiskType.NVME in {g.type for g in host.host.model.disks}
    assert state.exists() and not fleet.running
    with Fleet(dc, state_dir=state) as again:
        s = connect(again, host).get_system(f"/redfish/v1/Systems/{host.uuid}")
        assert s.power_state == sushy.POWER_STATE_ON


async def test_async_context_manager() -> None:
    async with Fleet(generate_datacenter(1, name="async-fleet")) as fleet:
        assert fleet.running and fleet.port > 0
        secret, bmh = fleet.manifests("ns")
        assert bmh["spec"]["bmc"]["address"] == fleet.hosts[0].bmc_address
        assert (secret["kind"], secret["metadata"]["namespace"]) == ("Secret", "ns")
        assert fleet.log_path is not None and fleet.log_path.exists()
        state_dir = fleet.state_dir
        assert state_dir is not None and state_dir.exists()
    assert not fleet.running and not state_dir.exists()  # a temporary state dir is removed


def test_emulator_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from teapot.fleet.fleet import Fleet\n"
        "from teapot.fleet.generate import generate_datacenter\n"
        f"fleet = Fleet(generate_datacenter(1), state_dir={str(tmp_path)!r})\n"
        "fleet.start()\n"
        "print(fleet.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        emulator_pid = int(parent.stdout.readline())
        assert Path(f"/proc/{emulator_pid}").exists()
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{emulator_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    status = Path(f"/proc/{emulator_pid}/status")
    assert not status.exists() or "zombie" in status.read_text()
