"""Unit tests of the emulated agent: step timing, media checks, command handling (no servers)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from teapot.fleet.agent.agent import AgentSettings, EmulatedAgent, PowerAction
from teapot.fleet.agent.commands import (
    AgentBusy,
    CommandRecord,
    CommandStatus,
    InvalidCommand,
    StepRecord,
    UnknownExtension,
    split_command,
)
from teapot.fleet.agent.media import (
    AGENT_ISO_VOLUME_ID,
    AgentImageMatcher,
    ImageCheckError,
    check_format,
    image_facts,
    iso_volume_id,
    new_hasher,
    select_root_disk,
)
from teapot.fleet.agent.timing import (
    Disk,
    HardwareTimings,
    disks_of,
    erase_devices_s,
    erase_express_s,
    erase_metadata_s,
    makespan,
    write_image_s,
)
from teapot.fleet.model import DiskType, Host
from teapot.fleet.parse import load_datacenter
from teapot.hosts.ironic.images import write_live_iso, write_qcow2_image

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "datacenter.yaml"
T = HardwareTimings()
TB = 1000**4


def disk(kind: DiskType, size_gb: int, name: str = "/dev/sda") -> Disk:
    return Disk(name, kind, size_gb * 1000**3, f"{kind} model", f"SER-{name}")


def example_host(model: str) -> Host:
    return next(h for h in load_datacenter(EXAMPLE).hosts if h.model.name == model)


# -- timing ----------------------------------------------------------------------------------


def test_disks_follow_the_fleet_inventory() -> None:
    storage = disks_of(example_host("gen1-storage"))
    assert [d.type for d in storage] == [DiskType.SSD] * 2 + [DiskType.HDD] * 10
    assert storage[0].name == "/dev/sda" and storage[-1].size_bytes == 8000 * 1000**3
    nvme = disks_of(example_host("gen2-compute"))
    assert [d.name for d in nvme] == ["/dev/nvme0n1", "/dev/nvme1n1"]


def test_metadata_erase_is_seconds_per_disk() -> None:
    assert erase_metadata_s([disk(DiskType.HDD, 8000)] * 10, T) == pytest.approx(15.0)
    assert erase_metadata_s([disk(DiskType.NVME, 1920)], T) == pytest.approx(1.5)


def test_express_crypto_erases_nvme_and_wipes_metadata_elsewhere() -> None:
    nvme = [disk(DiskType.NVME, 1920)] * 2
    assert erase_express_s(nvme, T) == pytest.approx(2 * T.nvme_crypto_erase_s)
    mixed = [disk(DiskType.NVME, 1920), disk(DiskType.HDD, 8000)]
    assert erase_express_s(mixed, T) == pytest.approx(T.nvme_crypto_erase_s + T.metadata_erase_per_disk_s)
    # an express erase never depends on capacity
    assert erase_express_s([disk(DiskType.HDD, 16000)], T) == erase_express_s([disk(DiskType.HDD, 1000)], T)


def test_full_erase_of_hdd_is_proportional_to_size() -> None:
    small = erase_devices_s([disk(DiskType.HDD, 4000)], T)
    large = erase_devices_s([disk(DiskType.HDD, 8000)], T)
    assert large == pytest.approx(2 * small)
    # two passes over 8 TB at 180 MB/s ≈ 24.7 hours
    assert large == pytest.approx(2 * 8000e9 / 180e6)
    # flash uses its secure erase, independent of size
    assert erase_devices_s([disk(DiskType.NVME, 7680)], T) == T.nvme_crypto_erase_s
    assert erase_devices_s([disk(DiskType.SSD, 3840)], T) == T.ssd_secure_erase_s


def test_full_erase_runs_disks_in_parallel_up_to_the_concurrency() -> None:
    hdds = [disk(DiskType.HDD, 8000, f"/dev/sd{c}") for c in "abcdefghij"]
    one = erase_devices_s(hdds[:1], T)
    assert erase_devices_s(hdds, T, concurrency=1) == pytest.approx(10 * one)
    assert erase_devices_s(hdds, T, concurrency=4) == pytest.approx(3 * one)  # 4 + 4 + 2
    assert erase_devices_s(hdds, T, concurrency=16) == pytest.approx(one)


def test_makespan_schedules_longest_first() -> None:
    assert makespan([], 4) == 0.0
    assert makespan([5, 4, 3, 3, 3], 2) == pytest.approx(10)  # LPT: {5,3} {4,3,3} (optimum is 9)
    assert makespan([1, 1, 1], 0) == pytest.approx(3)  # at least one worker


def test_image_write_follows_disk_speed() -> None:
    gib = 1024**3
    nvme, hdd = disk(DiskType.NVME, 1920), disk(DiskType.HDD, 8000)
    assert write_image_s(10 * gib, nvme, T) == pytest.approx(10 * gib / 2000e6)
    assert write_image_s(10 * gib, hdd, T) / write_image_s(10 * gib, nvme, T) == pytest.approx(2000 / 180)


def test_storage_host_full_erase_takes_a_day_and_express_takes_seconds() -> None:
    disks = disks_of(example_host("gen1-storage"))
    full = erase_devices_s(disks, T, concurrency=4)
    express = erase_express_s(disks, T)
    assert full > 24 * 3600
    assert express < 60


# -- media -----------------------------------------------------------------------------------


def test_agent_iso_is_recognised_by_volume_id(tmp_path: Path) -> None:
    agent = write_live_iso(tmp_path / "ipa.iso", volume_id=AGENT_ISO_VOLUME_ID).read_bytes()
    live = write_live_iso(tmp_path / "live.iso").read_bytes()
    assert iso_volume_id(agent) == AGENT_ISO_VOLUME_ID
    assert iso_volume_id(live) == "TEAPOT_LIVE"
    assert iso_volume_id(b"\0" * 100) is None
    matcher = AgentImageMatcher(urls=frozenset({"http://x/ipa.iso"}))
    assert matcher.matches_header(agent) and not matcher.matches_header(live)
    assert matcher.matches_url("http://x/ipa.iso") and not matcher.matches_url("http://x/other.iso")


def test_image_facts_detects_qcow2_virtual_size(tmp_path: Path) -> None:
    data = write_qcow2_image(tmp_path / "d.qcow2", virtual_size=3 * 1024**3).read_bytes()
    assert image_facts(data, len(data)).format == "qcow2"
    assert image_facts(data, len(data)).virtual_size == 3 * 1024**3
    assert image_facts(bytes(4096), 4096).format == "raw"


def test_check_format_refuses_mismatch_and_unpermitted(tmp_path: Path) -> None:
    data = write_qcow2_image(tmp_path / "d.qcow2").read_bytes()
    facts = image_facts(data, len(data))
    check_format(facts, "qcow2", ["raw", "qcow2"])
    with pytest.raises(ImageCheckError, match="mismatch"):
        check_format(facts, "raw", ["raw", "qcow2"])
    with pytest.raises(ImageCheckError, match="not in"):
        check_format(facts, "qcow2", ["raw"])


def test_hasher_prefers_os_hash_and_understands_legacy_checksums() -> None:
    hasher, expected = new_hasher({"os_hash_algo": "sha512", "os_hash_value": "ABC", "checksum": "x" * 32})
    assert hasher.name == "sha512" and expected == "abc"
    assert new_hasher({"checksum": "a" * 32})[0].name == "md5"
    assert new_hasher({"checksum": "a" * 64})[0].name == "sha256"
    with pytest.raises(ImageCheckError):
        new_hasher({})
    with pytest.raises(ImageCheckError):
        new_hasher({"checksum": "abc"})


def test_root_disk_is_smallest_unless_hinted() -> None:
    disks = [
        disk(DiskType.HDD, 8000, "/dev/sda"),
        disk(DiskType.SSD, 480, "/dev/sdb"),
        disk(DiskType.SSD, 1, "/dev/sdc"),
    ]
    assert select_root_disk(disks, None).name == "/dev/sdb"  # 1 GB is below IPA's 4 GiB minimum
    assert select_root_disk(disks, {"name": "sda"}).name == "/dev/sda"
    assert select_root_disk(disks, {"size": ">= 1000"}).name == "/dev/sda"
    assert select_root_disk(disks, {"rotational": True}).name == "/dev/sda"
    with pytest.raises(ImageCheckError, match="no disk"):
        select_root_disk(disks, {"serial": "nope"})
    with pytest.raises(ImageCheckError, match="unsupported"):
        select_root_disk(disks, {"wwn": "0x1"})


# -- command records -------------------------------------------------------------------------


def test_split_command() -> None:
    assert split_command("clean.execute_clean_step") == ("clean", "execute_clean_step")
    for bad in ("clean", ".x", "x."):
        with pytest.raises(InvalidCommand):
            split_command(bad)


def test_command_record_serialises_like_ipa() -> None:
    record = CommandRecord("execute_clean_step", {"step": {"step": "s"}, "node": {"uuid": "u", "secret": 1}})
    assert record.to_json()["command_status"] == "RUNNING"
    assert record.to_json()["command_params"]["node"] == {"uuid": "u"}  # never echo the node document
    done = record.succeeded({"clean_step": {"step": "s"}})
    assert done.done and done.to_json()["command_result"] == {"clean_step": {"step": "s"}}
    failed = record.failed(AgentBusy("x"))
    assert failed.command_status is CommandStatus.FAILED
    assert failed.to_json()["command_error"]["details"] == "x"


# -- command handling on an agent (no network) -----------------------------------------------


@pytest_asyncio.fixture
async def agent() -> AsyncIterator[tuple[EmulatedAgent, list[StepRecord], list[PowerAction]]]:
    host = example_host("gen1-storage")
    history: list[StepRecord] = []
    power: list[PowerAction] = []

    async def record_power(h: Host, action: PowerAction) -> None:
        power.append(action)

    async with aiohttp.ClientSession() as session:
        a = EmulatedAgent(
            host,
            disks_of(host),
            1,
            "https://127.0.0.1:1/agents/x/1",
            AgentSettings(ironic_url="http://127.0.0.1:9", time_scale=1e-6),
            session,
            record_power,
            history,
        )
        yield a, history, power
        await a.stop()


def clean_params(step: str, **node: Any) -> dict[str, Any]:
    return {
        "step": {"step": step, "interface": "deploy", "priority": 10},
        "node": {"uuid": "n", "driver_internal_info": node},
        "ports": [],
        "clean_version": {"GenericHardwareManager": "1.2"},
    }


async def test_get_clean_steps_lists_ipa_generic_steps(agent: Any) -> None:
    a, _, _ = agent
    record = await a.execute("clean.get_clean_steps", {"node": {}, "ports": []}, wait=False)
    assert record.command_status is CommandStatus.SUCCEEDED
    steps = record.command_result["clean_steps"]["GenericHardwareManager"]
    assert {s["step"] for s in steps} >= {"erase_devices", "erase_devices_metadata", "erase_devices_express"}
    assert all({"step", "priority", "interface"} <= set(s) for s in steps)
    assert record.command_result["hardware_manager_version"] == {"GenericHardwareManager": "1.2"}


async def test_async_step_runs_busy_then_reports_its_step(agent: Any) -> None:
    a, history, _ = agent
    record = await a.execute("clean.execute_clean_step", clean_params("erase_devices_metadata"), wait=False)
    assert record.command_status is CommandStatus.RUNNING
    with pytest.raises(AgentBusy):
        await a.execute("clean.get_clean_steps", {}, wait=False)
    for _ in range(200):
        if a.commands[-1].done:
            break
        await asyncio.sleep(0.01)
    last = a.commands[-1]
    assert last.command_name == "execute_clean_step"
    assert last.command_status is CommandStatus.SUCCEEDED
    assert last.command_result["clean_step"]["step"] == "erase_devices_metadata"
    assert history[-1].step == "erase_devices_metadata"
    assert history[-1].emulated_s == pytest.approx(12 * T.metadata_erase_per_disk_s)


async def test_full_erase_uses_ironics_concurrency(agent: Any) -> None:
    a, history, _ = agent
    await a.execute(
        "clean.execute_clean_step", clean_params("erase_devices", disk_erasure_concurrency=5), wait=True
    )
    disks = disks_of(example_host("gen1-storage"))
    assert history[-1].emulated_s == pytest.approx(erase_devices_s(disks, T, 5), rel=1e-3)


async def test_unknown_step_fails_with_details_ironic_shows(agent: Any) -> None:
    a, _, _ = agent
    record = await a.execute("clean.execute_clean_step", clean_params("burnin_cpu"), wait=True)
    assert record.command_status is CommandStatus.FAILED
    assert "burnin_cpu" in record.command_error["details"]


async def test_version_mismatch_is_reported(agent: Any) -> None:
    a, _, _ = agent
    params = clean_params("erase_devices_metadata")
    params["clean_version"] = {"GenericHardwareManager": "0.9"}
    record = await a.execute("clean.execute_clean_step", params, wait=True)
    assert record.command_status is CommandStatus.VERSION_MISMATCH


async def test_unknown_commands_and_extensions(agent: Any) -> None:
    a, _, _ = agent
    with pytest.raises(InvalidCommand):
        await a.execute("clean.frobnicate", {}, wait=False)
    with pytest.raises(UnknownExtension):
        await a.execute("rescue.finalize_rescue", {}, wait=False)


async def test_power_off_answers_then_powers_off(agent: Any) -> None:
    a, _, power = agent
    record = await a.execute("standby.power_off", {}, wait=True)
    assert record.command_status is CommandStatus.SUCCEEDED
    assert power == []  # not before the answer went out
    await asyncio.sleep(0.2)
    assert power == [PowerAction.OFF]


async def test_logs_are_a_tarball(agent: Any) -> None:
    import base64
    import io
    import tarfile

    a, _, _ = agent
    record = await a.execute("log.collect_system_logs", {}, wait=True)
    data = base64.b64decode(record.command_result["system_logs"])
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        assert archive.getnames() == ["journal"]


def test_sha256_helper_matches_hashlib(tmp_path: Path) -> None:
    data = write_qcow2_image(tmp_path / "d.qcow2").read_bytes()
    hasher, expected = new_hasher(
        {"os_hash_algo": "sha256", "os_hash_value": hashlib.sha256(data).hexdigest()}
    )
    hasher.update(data)
    assert hasher.hexdigest() == expected


# -- inspection inventory --------------------------------------------------------------------


def test_inspection_data_matches_the_redfish_view_of_the_host() -> None:
    from teapot.fleet.agent.inventory import inspection_data
    from teapot.fleet.inventory import system_spec

    host = next(h for h in load_datacenter(EXAMPLE).hosts if h.model.gpus)
    data = inspection_data(host)
    redfish = system_spec(host)
    inventory = data["inventory"]
    assert [i["mac_address"] for i in inventory["interfaces"]] == [n["mac"] for n in redfish["nics"]]
    assert [d["name"] for d in inventory["disks"]] == [d["name"] for d in redfish["drives"]]
    assert inventory["cpu"]["count"] == sum(p["threads"] for p in redfish["processors"] if p["type"] == "CPU")
    assert inventory["memory"]["physical_mb"] == redfish["memory_gib"] * 1024
    # GPUs the IPA way: next to the inventory, ids without 0x, PCI class 3D controller
    gpus = data["pci_devices"]
    assert len(gpus) == host.model.gpu_count
    assert {(g["vendor_id"], g["class"]) for g in gpus} == {
        (redfish["pcie_devices"][0]["vendor_id"][2:], "030200")
    }
    assert data["root_disk"]["name"] == select_root_disk(disks_of(host), None).name
