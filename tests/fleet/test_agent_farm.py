"""The agent farm over HTTP, against a scripted stand-in for Ironic's ramdisk API and a BMC.

The real-Ironic flows are in ``test_agent_e2e.py``; this file pins down the protocol details
Ironic depends on (TLS callback verified with the certificate sent as ``agent_verify_ca``, token
checks, busy agents, forced heartbeats, the power-off through the BMC) and the farm's reactions
to notifications, quickly and deterministically.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from teapot.fleet.agent import (
    AGENT_ISO_VOLUME_ID,
    AgentFarm,
    AgentFarmSettings,
    CommandStatus,
    HardwareTimings,
)
from teapot.fleet.model import Credentials, Host
from teapot.fleet.parse import load_datacenter
from teapot.hosts.ironic.images import write_live_iso, write_qcow2_image

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "datacenter.yaml"
NODE = "7d3b1c9e-0000-4000-8000-000000000001"
TOKEN = "secret-token"


@dataclass
class FakeIronic:
    """Ironic's ``/v1/lookup`` and ``/v1/heartbeat`` plus an image server and a Redfish reset action."""

    root: Path
    lookups: int = 0
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    resets: list[tuple[str, str | None]] = field(default_factory=list)
    heartbeat_timeout: int = 100  # agents then heartbeat every 30-60 s unless forced
    url: str = ""
    inspecting: bool = False  # the node waits for inspection data
    inspections: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/lookup", self.lookup)
        app.router.add_post("/v1/heartbeat/{node}", self.heartbeat)
        app.router.add_post("/v1/continue_inspection", self.continue_inspection)
        app.router.add_post("/redfish/v1/Systems/{id}/Actions/ComputerSystem.Reset", self.reset)
        app.router.add_static("/images", self.root)
        return app

    async def lookup(self, request: web.Request) -> web.Response:
        self.lookups += 1
        assert request.headers["X-OpenStack-Ironic-API-Version"] >= "1.22"
        if self.lookups == 1:  # not in a wait state yet: Ironic answers 404
            return web.json_response({"error_message": "Not found"}, status=404)
        return web.json_response(self.lookup_body())

    async def continue_inspection(self, request: web.Request) -> web.Response:
        if not self.inspecting:
            return web.json_response({"error_message": "Not found"}, status=404)
        self.inspections.append(await request.json())
        return web.json_response(self.lookup_body(), status=202)

    def lookup_body(self) -> dict[str, Any]:
        return {
            "node": {"uuid": NODE, "properties": {}, "instance_info": {}, "driver_internal_info": {}},
            "config": {
                "agent_token": TOKEN,
                "heartbeat_timeout": self.heartbeat_timeout,
                "permitted_image_formats": ["raw", "qcow2"],
            },
        }

    async def heartbeat(self, request: web.Request) -> web.Response:
        body = await request.json()
        body["node"] = request.match_info["node"]
        self.heartbeats.append(body)
        return web.Response(status=202)

    async def reset(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.resets.append((body["ResetType"], request.headers.get("Authorization")))
        return web.Response(status=204)


@dataclass(frozen=True)
class FakeFleetHost:
    system_url: str
    credentials: Credentials
    disable_certificate_verification: bool = False


class FakeFleet:
    """What the farm needs of a running :class:`~teapot.fleet.fleet.Fleet`: each host's BMC."""

    def __init__(self, base_url: str, host: Host) -> None:
        self.host_ = FakeFleetHost(f"{base_url}/redfish/v1/Systems/{host.uuid}", host.bmc)

    def host(self, name: str) -> FakeFleetHost:
        return self.host_


@dataclass
class Env:
    ironic: FakeIronic
    farm: AgentFarm
    host: Host
    session: aiohttp.ClientSession


@pytest_asyncio.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    datacenter = load_datacenter(EXAMPLE)
    host = next(h for h in datacenter.hosts if h.model.name == "gen2-compute")
    write_live_iso(tmp_path / "ipa.iso", volume_id=AGENT_ISO_VOLUME_ID)
    write_live_iso(tmp_path / "live.iso")
    write_qcow2_image(tmp_path / "disk.qcow2")
    ironic = FakeIronic(tmp_path)
    runner = web.AppRunner(ironic.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    ironic.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    # 0.05: an NVMe express erase (8 s) takes 0.4 s, long enough to see the agent busy
    settings = AgentFarmSettings(
        ironic_url=ironic.url,
        time_scale=0.05,
        timings=HardwareTimings(ramdisk_boot_s=1.0),
        lookup_retry_s=0.05,
    )
    async with AgentFarm(datacenter, settings) as farm, aiohttp.ClientSession() as session:
        farm.attach(FakeFleet(ironic.url, host))  # type: ignore[arg-type]
        yield Env(ironic, farm, host, session)
    await runner.cleanup()


async def notify(env: Env, power: str, device: str = "Cd", image: str | None = "ipa.iso") -> None:
    doc = {
        "uuid": env.host.uuid,
        "name": env.host.name,
        "power_state": power,
        "boot_device": device,
        "boot_image": {
            "Cd": [f"{env.ironic.url}/images/{image}", True, True] if image else [None, False, False]
        },
        "event": "state-changed",
    }
    async with env.session.put(env.farm.notify_url, json=doc) as response:
        assert response.status == 204


async def eventually(predicate: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


def agent_ssl(env: Env) -> ssl.SSLContext:
    """Verify the agent like Ironic does: with the certificate it sent in its heartbeat."""
    return ssl.create_default_context(cadata=env.ironic.heartbeats[0]["agent_verify_ca"])


async def command(
    env: Env, name: str, params: dict[str, Any], *, wait: bool = False, token: str = TOKEN
) -> tuple[int, dict[str, Any]]:
    url = env.ironic.heartbeats[-1]["callback_url"] + "/v1/commands/"
    async with env.session.post(
        url,
        params={"wait": str(wait).lower(), "agent_token": token},
        json={"name": name, "params": params},
        ssl=agent_ssl(env),
    ) as response:
        return response.status, await response.json()


async def commands(env: Env) -> tuple[int, Any]:
    url = env.ironic.heartbeats[-1]["callback_url"] + "/v1/commands/"
    async with env.session.get(url, params={"agent_token": TOKEN}, ssl=agent_ssl(env)) as response:
        return response.status, await response.json()


async def boot_agent(env: Env) -> None:
    await notify(env, "Off")
    await notify(env, "On")
    await eventually(lambda: len(env.ironic.heartbeats) > 0)


async def test_agent_boots_looks_up_and_heartbeats_over_tls(env: Env) -> None:
    await boot_agent(env)
    beat = env.ironic.heartbeats[0]
    assert env.ironic.lookups == 2  # the first lookup was refused and retried
    assert beat["node"] == NODE and beat["agent_token"] == TOKEN and beat["agent_version"]
    assert beat["callback_url"] == f"{env.farm.agents_url}/agents/{env.host.uuid}/1"
    assert beat["callback_url"].startswith("https://127.0.0.1:")
    assert "BEGIN CERTIFICATE" in beat["agent_verify_ca"]
    agent = env.farm.agent(env.host.name)
    assert agent is not None and agent.node_uuid == NODE and env.farm.boots(env.host.name) == 1
    status, body = await commands(env)
    assert status == 200 and body == {"commands": []}


async def test_commands_need_the_token(env: Env) -> None:
    await boot_agent(env)
    status, body = await command(env, "clean.get_clean_steps", {}, token="wrong")
    assert status == 401 and "agent_token" in body["faultstring"]


async def test_async_step_is_busy_then_succeeds_and_forces_a_heartbeat(env: Env) -> None:
    await boot_agent(env)
    status, steps = await command(env, "clean.get_clean_steps", {"node": {}, "ports": []}, wait=True)
    assert status == 200 and steps["command_status"] == "SUCCEEDED"
    beats = len(env.ironic.heartbeats)
    step = {"step": "erase_devices_express", "interface": "deploy", "priority": 0}
    params = {"step": step, "node": {"uuid": NODE}, "ports": [], "clean_version": None}
    status, started = await command(env, "clean.execute_clean_step", params)
    assert status == 200 and started["command_status"] == "RUNNING"
    assert started["command_name"] == "execute_clean_step"
    status, busy = await command(env, "clean.get_clean_steps", {})
    assert status == 409 and "busy" in busy["faultstring"].lower()
    await eventually(lambda: len(env.ironic.heartbeats) > beats, timeout=5)  # not the 30-60 s timer
    _, listed = await commands(env)
    last = listed["commands"][-1]
    assert last["command_status"] == "SUCCEEDED" and last["command_result"]["clean_step"] == step
    record = env.farm.history(env.host.name)[-1]
    assert record.step == "erase_devices_express" and record.emulated_s == pytest.approx(8.0)


async def test_write_image_downloads_and_verifies_the_checksum(env: Env) -> None:
    await boot_agent(env)
    image = env.ironic.root / "disk.qcow2"
    good = hashlib.sha256(image.read_bytes()).hexdigest()

    def write(checksum: str, fmt: str = "qcow2") -> dict[str, Any]:
        info = {
            "urls": [f"{env.ironic.url}/images/disk.qcow2"],
            "disk_format": fmt,
            "os_hash_algo": "sha256",
            "os_hash_value": checksum,
        }
        step = {"step": "write_image", "interface": "deploy", "args": {"image_info": info}}
        return {"step": step, "node": {"uuid": NODE}, "ports": []}

    status, done = await command(env, "deploy.execute_deploy_step", write(good), wait=True)
    assert status == 200 and done["command_status"] == "SUCCEEDED", done
    assert done["command_result"]["deploy_step"]["step"] == "write_image"
    _, bad = await command(env, "deploy.execute_deploy_step", write("0" * 64), wait=True)
    assert bad["command_status"] == "FAILED" and "checksum mismatch" in bad["command_error"]["details"]
    _, mismatch = await command(env, "deploy.execute_deploy_step", write(good, "raw"), wait=True)
    assert (
        mismatch["command_status"] == "FAILED" and "format mismatch" in mismatch["command_error"]["details"]
    )
    statuses = [
        r.status for r in env.farm.history(env.host.name) if r.command == "deploy.execute_deploy_step"
    ]
    assert statuses == [CommandStatus.SUCCEEDED, CommandStatus.FAILED, CommandStatus.FAILED]


async def test_power_off_command_goes_through_the_bmc_and_power_off_stops_the_agent(env: Env) -> None:
    await boot_agent(env)
    callback = env.ironic.heartbeats[-1]["callback_url"]
    status, _ = await command(env, "standby.power_off", {}, wait=True)
    assert status == 200
    await eventually(lambda: len(env.ironic.resets) == 1)
    reset_type, auth = env.ironic.resets[0]
    assert reset_type == "ForceOff"
    expected = base64.b64encode(f"{env.host.bmc.username}:{env.host.bmc.password}".encode()).decode()
    assert auth == f"Basic {expected}"
    await notify(env, "Off")  # what the emulator sends once the BMC applied it
    await eventually(lambda: env.farm.agent(env.host.name) is None)
    async with env.session.get(
        callback + "/v1/commands/", params={"agent_token": TOKEN}, ssl=agent_ssl(env)
    ) as response:
        assert response.status == 404
    # the next power-on is a new boot with a new callback URL
    await notify(env, "On")
    await eventually(lambda: env.ironic.heartbeats[-1]["callback_url"] != callback)
    assert env.farm.boots(env.host.name) == 2


async def test_only_the_agent_iso_from_virtual_media_starts_an_agent(env: Env) -> None:
    name = env.host.name
    await notify(env, "On", image="live.iso")
    await notify(env, "Off")
    await notify(env, "On", device="Hdd")
    await notify(env, "Off")
    await notify(env, "On", image=None)
    await eventually(lambda: len(env.farm.skipped(name)) == 3)
    reasons = env.farm.skipped(name)
    assert "not the agent ramdisk" in reasons[0]
    assert "not virtual media" in reasons[1]
    assert "no virtual media" in reasons[2]
    assert env.farm.boots(name) == 0 and env.farm.agent(name) is None
    # media changing while the host runs does not boot anything either
    await notify(env, "On")
    await asyncio.sleep(0.2)
    assert env.farm.boots(name) == 0


async def test_agent_offers_inspection_data_when_ironic_inspects(env: Env) -> None:
    env.ironic.inspecting = True
    await boot_agent(env)
    assert env.ironic.lookups == 0, "the inspection answer carries the node and token"
    assert env.ironic.heartbeats[0]["agent_token"] == TOKEN
    data = env.ironic.inspections[0]
    inventory = data["inventory"]
    assert {i["mac_address"] for i in inventory["interfaces"]} == set(env.host.macs)
    assert inventory["cpu"]["count"] == 2 * 64 and inventory["cpu"]["architecture"] == "x86_64"
    assert inventory["memory"]["physical_mb"] == 512 * 1024
    assert [(d["name"], d["size"], d["rotational"]) for d in inventory["disks"]] == [
        ("/dev/nvme0n1", 1920 * 10**9, False),
        ("/dev/nvme1n1", 1920 * 10**9, False),
    ]
    assert data["root_disk"]["name"] == "/dev/nvme0n1" and data["boot_interface"] == env.host.boot_mac
    agent = env.farm.agent(env.host.name)
    assert agent is not None and agent.inspected


async def test_a_cleaning_boot_does_not_keep_offering_inspection_data(env: Env) -> None:
    await boot_agent(env)
    await command(env, "clean.get_clean_steps", {}, wait=True)
    agent = env.farm.agent(env.host.name)
    assert agent is not None and not agent.inspected and not agent._may_inspect()
