"""``AgentFarm``: emulated ironic-python-agents for the hosts of an emulated datacenter.

Why a farm and not an agent per host process: a real IPA runs on its own host with its own IP;
emulated hosts share 127.0.0.1, and a thousand listeners would cost a thousand ports and tasks
for nothing.  One aiohttp application does two jobs, on two listeners (plain HTTP for the
emulator's notifier, which does not trust self-signed certificates; HTTPS for Ironic, which by
default refuses plain-HTTP agent callbacks and verifies the certificate the agent sends):

* ``PUT /notify`` receives the fleet emulator's state documents (every power, boot-device and
  virtual-media change).  When a host powers **on** with its boot device on the virtual CD and the
  inserted image is the agent ramdisk (see :mod:`teapot.fleet.agent.media`), a new
  :class:`~teapot.fleet.agent.agent.EmulatedAgent` "boots"; when the host powers **off**, it dies
  mid-whatever-it-was-doing, exactly like a ramdisk losing power.
* ``/agents/<host uuid>/<boot>/v1/commands/`` is each agent's command API.  The agent hands Ironic
  that prefix as its callback URL, so Ironic's per-node ``agent_url`` routes to the right host, and a
  new boot gets a new URL (Ironic forgets the old one when it powers the host off).

An agent that asks for its host to power off (``standby.power_off`` at the end of a deploy) goes
through the host's Redfish BMC, like ``poweroff`` in a real ramdisk goes through ACPI: the farm
needs the running :class:`~teapot.fleet.fleet.Fleet` for that (:meth:`AgentFarm.attach`).  The fleet
needs the farm's :attr:`~AgentFarm.notify_url` at construction, hence: start the farm, build the
fleet with its ``notify_url``, then ``attach``.

Usage::

    async with AgentFarm(datacenter, AgentFarmSettings(ironic_url=ironic.url, time_scale=0.01)) as farm:
        async with Fleet(datacenter, notify_url=farm.notify_url, scheme="redfish-virtualmedia") as fleet:
            farm.attach(fleet)
            ...  # Ironic cleans / deploys; farm.history("a01-u01") says what the agent did
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import socket
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from teapot.fleet.agent.agent import AGENT_VERSION, AgentPhase, AgentSettings, EmulatedAgent, PowerAction
from teapot.fleet.agent.commands import AgentCommandError, StepRecord
from teapot.fleet.agent.media import ISO_HEADER_BYTES, AgentImageMatcher
from teapot.fleet.agent.timing import Disk, HardwareTimings, disks_of
from teapot.fleet.model import Datacenter, Host
from teapot.fleet.tls import write_self_signed

if TYPE_CHECKING:
    from teapot.fleet.fleet import Fleet

__all__ = ["AgentFarm", "AgentFarmError", "AgentFarmSettings"]

LOG = logging.getLogger(__name__)


class AgentFarmError(RuntimeError):
    """The farm is not running, or was asked about a host it does not know."""


@dataclass(frozen=True)
class AgentFarmSettings:
    """How the farm listens and how its agents behave.

    ``time_scale`` multiplies every emulated duration (0.01: a 20 s ramdisk boot takes 0.2 s).
    ``max_heartbeat_interval_s`` caps the interval Ironic asks for (``[api]ramdisk_heartbeat_timeout``
    x 0.3-0.6); leave it ``None`` to behave like IPA.
    """

    ironic_url: str
    listen_host: str = "127.0.0.1"
    port: int = 0
    time_scale: float = 1.0
    timings: HardwareTimings = field(default_factory=HardwareTimings)
    matcher: AgentImageMatcher = field(default_factory=AgentImageMatcher)
    max_heartbeat_interval_s: float | None = None
    lookup_retry_s: float = 1.0
    #: Serve the agents' command API over HTTPS with a self-signed certificate that the agents send
    #: Ironic as ``agent_verify_ca`` — what IPA does, and what Ironic requires unless
    #: ``[agent]require_tls = false``.  Ironic stores it under ``[agent]certificates_path``.
    tls: bool = True
    #: Agents offer inspection data at boot (agent inspection); off = lookup only.
    inspection: bool = True

    def agent_settings(self, verify_ca: str | None = None) -> AgentSettings:
        return AgentSettings(
            ironic_url=self.ironic_url.rstrip("/"),
            verify_ca=verify_ca,
            inspection=self.inspection,
            time_scale=self.time_scale,
            timings=self.timings,
            max_heartbeat_interval_s=self.max_heartbeat_interval_s,
            lookup_retry_s=self.lookup_retry_s,
        )


class _Slot:
    """The farm's view of one host: its power, its agent of the current boot, its queue."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.disks: tuple[Disk, ...] = disks_of(host)
        self.powered = False
        self.agent: EmulatedAgent | None = None
        self.boots = 0
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None
        self.skipped: list[str] = []  # why power-ons did not start an agent


def _json_error(error: AgentCommandError) -> web.Response:
    return web.json_response(
        {"faultcode": "Server" if error.code >= 500 else "Client", "faultstring": error.faultstring},
        status=error.code,
    )


class AgentFarm:
    """Starts and stops emulated agents as the fleet's hosts power on and off (module docstring)."""

    def __init__(
        self, datacenter: Datacenter, settings: AgentFarmSettings, *, fleet: Fleet | None = None
    ) -> None:
        self.datacenter = datacenter
        self.settings = settings
        self._agent_settings = settings.agent_settings()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.agent_port = 0
        self._fleet = fleet
        self._slots = {host.uuid: _Slot(host) for host in datacenter.hosts}
        self._by_name = {slot.host.name: slot for slot in self._slots.values()}
        self._history: list[StepRecord] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise AgentFarmError("agent farm already started")
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
        )
        app = web.Application()
        app.router.add_put("/notify", self._on_notify)
        app.router.add_post("/notify", self._on_notify)
        for path in ("/agents/{uuid}/{boot}/v1/commands", "/agents/{uuid}/{boot}/v1/commands/"):
            app.router.add_get(path, self._list_commands)
            app.router.add_post(path, self._run_command)
        app.router.add_get("/agents/{uuid}/{boot}/v1/commands/{id}", self._get_command)
        app.router.add_get("/agents/{uuid}/{boot}/v1/status", self._status)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.listen_host, self.settings.port)
        await site.start()
        self.port = _bound_port(site)
        if not self.settings.tls:
            self.agent_port = self.port
            return
        # The fleet's notifier speaks plain HTTP; the agents' API gets its own HTTPS listener.
        self._tmp = tempfile.TemporaryDirectory(prefix="teapot-agents-")
        cert, key = write_self_signed(Path(self._tmp.name), self.settings.listen_host)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self._agent_settings = self.settings.agent_settings(verify_ca=cert.read_text(encoding="ascii"))
        agent_site = web.TCPSite(self._runner, self.settings.listen_host, 0, ssl_context=context)
        await agent_site.start()
        self.agent_port = _bound_port(agent_site)

    async def stop(self) -> None:
        for slot in self._slots.values():
            if slot.worker is not None:
                slot.worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await slot.worker
                slot.worker = None
            if slot.agent is not None:
                await slot.agent.stop()
                slot.agent = None
            slot.powered = False
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self.port = self.agent_port = 0

    async def __aenter__(self) -> AgentFarm:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def attach(self, fleet: Fleet) -> None:
        """Give agents the fleet's BMCs, for ``standby.power_off`` / ``standby.reboot``."""
        self._fleet = fleet

    # -- what tests and reports use --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if not self.port:
            raise AgentFarmError("the agent farm is not running")
        host = self.settings.listen_host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def agents_url(self) -> str:
        """Where the agents' command APIs live (``https://`` unless ``tls`` is off)."""
        if not self.agent_port:
            raise AgentFarmError("the agent farm is not running")
        host = self.settings.listen_host
        scheme = "https" if self.settings.tls else "http"
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{self.agent_port}"

    @property
    def notify_url(self) -> str:
        """Pass this as ``Fleet(..., notify_url=...)``."""
        return f"{self.base_url}/notify"

    def _slot(self, name: str) -> _Slot:
        try:
            return self._by_name[name]
        except KeyError:
            raise AgentFarmError(f"unknown host {name!r}") from None

    def agent(self, name: str) -> EmulatedAgent | None:
        """The agent running on host ``name`` now, if any."""
        return self._slot(name).agent

    def boots(self, name: str) -> int:
        """How many times the agent ramdisk booted on host ``name``."""
        return self._slot(name).boots

    def skipped(self, name: str) -> tuple[str, ...]:
        """Why power-ons of host ``name`` did not start an agent (not the agent image, …)."""
        return tuple(self._slot(name).skipped)

    def history(self, name: str | None = None) -> tuple[StepRecord, ...]:
        """Every command the agents ran (of one host, or all), oldest first."""
        return tuple(r for r in self._history if name is None or r.host == name)

    # -- notifications -------------------------------------------------------------------------

    async def _on_notify(self, request: web.Request) -> web.Response:
        try:
            document = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"error": "expected a JSON document"}, status=400)
        slot = self._slots.get(str(document.get("uuid"))) or self._by_name.get(str(document.get("name")))
        if slot is None:
            return web.Response(status=204)  # a system this farm does not emulate
        slot.queue.put_nowait(document)
        if slot.worker is None or slot.worker.done():
            slot.worker = asyncio.create_task(self._drain(slot), name=f"farm-{slot.host.name}")
        return web.Response(status=204)

    async def _drain(self, slot: _Slot) -> None:
        """Apply one host's notifications in order (the emulator sends them in order)."""
        while not slot.queue.empty():
            document = slot.queue.get_nowait()
            try:
                await self._apply(slot, document)
            except Exception:  # one bad document must not stop the host's worker
                LOG.exception("applying a notification for %s failed", slot.host.name)

    async def _apply(self, slot: _Slot, document: Mapping[str, Any]) -> None:
        on = document.get("power_state") == "On"
        if not on:
            if slot.agent is not None:
                await slot.agent.stop()
                slot.agent = None
            slot.powered = False
            return
        if slot.powered:
            return  # media or boot device changed while running: the ramdisk does not notice
        slot.powered = True
        reason = await self._why_not_agent(document)
        if reason is not None:
            slot.skipped.append(reason)
            return
        slot.boots += 1
        agent = EmulatedAgent(
            host=slot.host,
            disks=slot.disks,
            boot=slot.boots,
            callback_url=f"{self.agents_url}/agents/{slot.host.uuid}/{slot.boots}",
            settings=self._agent_settings,
            session=self._require_session(),
            power=self._power,
            history=self._history,
        )
        slot.agent = agent
        agent.start()

    async def _why_not_agent(self, document: Mapping[str, Any]) -> str | None:
        """``None`` if the host just booted the agent ramdisk, else why not."""
        device = str(document.get("boot_device") or "")
        if device.lower() != "cd":
            return f"booted from {device or 'the default device'}, not virtual media"
        media = (document.get("boot_image") or {}).get("Cd")
        if not isinstance(media, list | tuple) or len(media) < 3 or not media[0] or not media[2]:
            return "no virtual media inserted"
        image = str(media[0])
        matcher = self.settings.matcher
        if matcher.matches_url(image):
            return None
        try:
            header = await self._read_header(image)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return f"cannot read {image}: {exc}"
        if matcher.matches_header(header):
            return None
        return f"{image} is not the agent ramdisk"

    async def _read_header(self, image: str) -> bytes:
        if not image.startswith(("http://", "https://")):  # the emulator downloaded it (fetch_media)
            return await asyncio.to_thread(_read_file_head, Path(image), ISO_HEADER_BYTES)
        headers = {"Range": f"bytes=0-{ISO_HEADER_BYTES - 1}"}
        async with self._require_session().get(image, headers=headers, ssl=False) as response:
            response.raise_for_status()
            data = bytearray()
            while len(data) < ISO_HEADER_BYTES:
                chunk = await response.content.read(ISO_HEADER_BYTES - len(data))
                if not chunk:
                    break
                data.extend(chunk)
            return bytes(data)

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise AgentFarmError("the agent farm is not running")
        return self._session

    async def _power(self, host: Host, action: PowerAction) -> None:
        """Power the host off (or reboot it) through its BMC, as ``poweroff`` in a ramdisk would."""
        if self._fleet is None or self._session is None:
            LOG.warning("agent on %s asked for %s but no fleet is attached", host.name, action.value)
            return
        fleet_host = self._fleet.host(host.name)
        url = f"{fleet_host.system_url}/Actions/ComputerSystem.Reset"
        creds = fleet_host.credentials
        auth = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        try:
            async with self._require_session().post(
                url,
                json={"ResetType": action.value},
                headers={"Authorization": f"Basic {auth}"},
                ssl=not fleet_host.disable_certificate_verification,
            ) as response:
                if response.status >= 300:
                    LOG.warning("%s of %s: BMC answered %s", action.value, host.name, response.status)
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:  # RuntimeError: farm stopping
            LOG.warning("%s of %s failed: %s", action.value, host.name, exc)

    # -- the agents' command API -----------------------------------------------------------------

    def _agent_for(self, request: web.Request) -> EmulatedAgent:
        slot = self._slots.get(request.match_info["uuid"])
        agent = slot.agent if slot is not None else None
        if (
            agent is None
            or str(agent.boot) != request.match_info["boot"]
            or agent.phase is not AgentPhase.RUNNING
        ):
            # A real agent that lost power does not answer at all; 404 is the closest HTTP can say.
            raise web.HTTPNotFound(
                text=json.dumps({"faultcode": "Client", "faultstring": "no agent running at this URL"}),
                content_type="application/json",
            )
        if not agent.check_token(request.query.get("agent_token")):
            raise web.HTTPUnauthorized(
                text=json.dumps({"faultcode": "Client", "faultstring": "Unauthorized: invalid agent_token"}),
                content_type="application/json",
            )
        return agent

    async def _list_commands(self, request: web.Request) -> web.Response:
        agent = self._agent_for(request)
        return web.json_response({"commands": [c.to_json() for c in agent.commands]})

    async def _get_command(self, request: web.Request) -> web.Response:
        agent = self._agent_for(request)
        record = agent.command(request.match_info["id"])
        if record is None:
            return web.json_response({"faultcode": "Client", "faultstring": "Command not found"}, status=404)
        return web.json_response(record.to_json())

    async def _status(self, request: web.Request) -> web.Response:
        agent = self._agent_for(request)
        return web.json_response({"version": AGENT_VERSION, "heartbeats": agent.heartbeats})

    async def _run_command(self, request: web.Request) -> web.Response:
        agent = self._agent_for(request)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"faultcode": "Client", "faultstring": "Invalid JSON body"}, status=400)
        name, params = body.get("name"), body.get("params") or {}
        if not isinstance(name, str) or not isinstance(params, dict):
            return web.json_response(
                {"faultcode": "Client", "faultstring": "Invalid command: expected name and params"},
                status=400,
            )
        try:
            record = await agent.execute(name, params, wait=request.query.get("wait", "false") == "true")
        except AgentCommandError as exc:
            return _json_error(exc)
        return web.json_response(record.to_json())


def _bound_port(site: web.TCPSite) -> int:
    sockets: list[socket.socket] = list(getattr(site._server, "sockets", None) or [])
    if not sockets:
        raise AgentFarmError("the listener did not bind a socket")
    return int(sockets[0].getsockname()[1])


def _read_file_head(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)
