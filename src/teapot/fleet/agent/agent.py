"""One emulated ironic-python-agent: the life of an agent ramdisk on one host, for one boot.

Why emulate IPA instead of running it: IPA inspects and writes real block devices; the emulated
hosts have none.  What Ironic needs from an agent is its protocol — look itself up by MAC, heartbeat
with a callback URL and the token it was given, answer the command API, and take as long as the
hardware would — and that is what this class does, with Ironic's real code on the other side.

Protocol facts it relies on (Ironic 39, ``agent_client.py``, ``agent_base.py``, ``ramdisk.py``):

* ``GET /v1/lookup?addresses=…`` succeeds only in ``* wait`` states; it returns the agent token once
  (a second lookup in the same boot gets ``******``) and ``config.heartbeat_timeout``.  IPA heartbeats
  every 0.3-0.6 x that timeout, and at once when an asynchronous command finishes.
* Ironic posts ``{"name": "<ext>.<cmd>", "params": …}`` to ``<callback_url>/v1/commands/`` with
  ``?wait=`` and ``agent_token=``, then polls ``GET /v1/commands/`` and looks at the **last** command,
  by name without the extension.  A second command while one runs is refused as busy (409).
* ``execute_*_step`` results carry the finished step (``clean_step`` / ``deploy_step``), which is how
  Ironic tells the current step's result from the previous one's.

The agent is driven by :class:`~teapot.fleet.agent.farm.AgentFarm`, which routes HTTP requests to it
and stops it when the host powers off.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import random
import tarfile
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import aiohttp

from teapot.fleet.agent.commands import (
    AgentBusy,
    AgentCommandError,
    CommandRecord,
    InvalidCommand,
    StepRecord,
    UnknownExtension,
    VersionMismatch,
    split_command,
)
from teapot.fleet.agent.media import (
    ISO_HEADER_BYTES,
    ImageCheckError,
    check_format,
    image_facts,
    new_hasher,
    select_root_disk,
)
from teapot.fleet.agent.timing import (
    Disk,
    HardwareTimings,
    erase_devices_s,
    erase_express_s,
    erase_metadata_s,
    write_image_s,
)
from teapot.fleet.model import Host

__all__ = ["AGENT_VERSION", "AgentPhase", "AgentSettings", "EmulatedAgent", "PowerAction"]

LOG = logging.getLogger(__name__)

#: Reported to Ironic as ``agent_version`` (IPA of the 2025.2 series).
AGENT_VERSION = "11.2.0"
#: Bare-metal API version: agent_verify_ca in heartbeats (1.68), continue_inspection with lookup data (1.84).
API_VERSION = "1.84"
#: How often a booted agent offers its inventory before assuming it was not booted for inspection.
_INSPECTION_ATTEMPTS = 30
HARDWARE_MANAGER = "GenericHardwareManager"
HARDWARE_MANAGER_VERSION = {HARDWARE_MANAGER: "1.2"}

#: Generic clean steps IPA advertises (Ironic overrides the two erase priorities from its config).
CLEAN_STEPS: tuple[dict[str, Any], ...] = (
    {
        "step": "erase_devices",
        "priority": 10,
        "interface": "deploy",
        "reboot_requested": False,
        "abortable": True,
    },
    {
        "step": "erase_devices_metadata",
        "priority": 99,
        "interface": "deploy",
        "reboot_requested": False,
        "abortable": True,
    },
    {
        "step": "erase_devices_express",
        "priority": 0,
        "interface": "deploy",
        "reboot_requested": False,
        "abortable": True,
    },
    {
        "step": "erase_pstore",
        "priority": 0,
        "interface": "deploy",
        "reboot_requested": False,
        "abortable": True,
    },
)
DEPLOY_STEPS: tuple[dict[str, Any], ...] = (
    {"step": "erase_devices_metadata", "priority": 0, "interface": "deploy", "reboot_requested": False},
    {
        "step": "write_image",
        "priority": 0,
        "interface": "deploy",
        "reboot_requested": False,
        "argsinfo": {"image_info": {"description": "Image to write", "required": True}},
    },
)


class AgentPhase(StrEnum):
    BOOTING = "booting"
    LOOKUP = "lookup"
    RUNNING = "running"  # looked up, heartbeating
    FAILED = "failed"  # gave up (e.g. no usable token)
    STOPPED = "stopped"


class PowerAction(StrEnum):
    OFF = "ForceOff"
    REBOOT = "ForceRestart"


PowerCallback = Callable[[Host, PowerAction], Awaitable[None]]


@dataclass(frozen=True)
class AgentSettings:
    """How every agent of a farm behaves (see :class:`~teapot.fleet.agent.farm.AgentFarmSettings`)."""

    ironic_url: str
    time_scale: float = 1.0
    timings: HardwareTimings = field(default_factory=HardwareTimings)
    #: Upper bound for the heartbeat interval Ironic asks for (``None``: follow Ironic).
    max_heartbeat_interval_s: float | None = None
    lookup_retry_s: float = 1.0
    #: Offer inspection data at boot (``/v1/continue_inspection``), for ``inspect_interface=agent``.
    inspection: bool = True
    #: PEM certificate of the agents' HTTPS listener, sent as ``agent_verify_ca`` (``None``: plain HTTP).
    verify_ca: str | None = None


class EmulatedAgent:
    """The agent of one host for one boot (see the module docstring)."""

    def __init__(
        self,
        host: Host,
        disks: Sequence[Disk],
        boot: int,
        callback_url: str,
        settings: AgentSettings,
        session: aiohttp.ClientSession,
        power: PowerCallback,
        history: list[StepRecord],
    ) -> None:
        self.host = host
        self.disks = tuple(disks)
        self.boot = boot
        self.callback_url = callback_url
        self.settings = settings
        self._session = session
        self._power = power
        self._history = history
        self.phase = AgentPhase.BOOTING
        self.node_uuid: str | None = None
        self.token: str | None = None
        self.heartbeat_timeout_s: float = 300.0
        self.permitted_formats: tuple[str, ...] = ()
        self.heartbeats = 0
        self.last_error: str | None = None
        self.inspected = False
        self._inspection_attempts = 0
        self._lookup_node: dict[str, Any] = {}
        self._commands: dict[str, CommandRecord] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._partition_uuids: dict[str, str] = {}
        self._log: deque[str] = deque(maxlen=2000)
        self._main: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._main = asyncio.create_task(self._run(), name=f"agent-{self.host.name}-{self.boot}")

    async def stop(self) -> None:
        """The host lost power: everything the ramdisk was doing stops mid-way."""
        self.phase = AgentPhase.STOPPED
        tasks = [t for t in (self._main, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _note(self, message: str) -> None:
        self._log.append(f"{time.strftime('%H:%M:%S')} {message}")
        LOG.debug("agent %s boot %d: %s", self.host.name, self.boot, message)

    async def _sleep_emulated(self, emulated_s: float) -> None:
        await asyncio.sleep(max(0.0, emulated_s * self.settings.time_scale))

    async def _run(self) -> None:
        await self._sleep_emulated(self.settings.timings.ramdisk_boot_s)
        self.phase = AgentPhase.LOOKUP
        if not await self._find_node():
            return
        self.phase = AgentPhase.RUNNING
        while True:
            self._wake.clear()  # before, so a command finishing during this round wakes the next
            if self._may_inspect():
                await self._continue_inspection()
            await self._heartbeat()
            interval = self.heartbeat_timeout_s * random.uniform(0.3, 0.6)
            if self.settings.max_heartbeat_interval_s is not None:
                interval = min(interval, self.settings.max_heartbeat_interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    def force_heartbeat(self) -> None:
        """Heartbeat now (IPA does this whenever an asynchronous command finishes)."""
        self._wake.set()

    # -- talking to Ironic -------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"X-OpenStack-Ironic-API-Version": API_VERSION, "Content-Type": "application/json"}

    async def _find_node(self) -> bool:
        """Inspection (if Ironic is waiting for it), else lookup, retried until one succeeds."""
        delay = self.settings.lookup_retry_s
        while True:
            if self._may_inspect():
                body = await self._continue_inspection()
                if body is not None:
                    return self._adopt(body, "inspection")
            body = await self._try_lookup()
            if body is not None:
                return self._adopt(body, "lookup")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 10.0)

    async def _try_lookup(self) -> dict[str, Any] | None:
        url = f"{self.settings.ironic_url}/v1/lookup"
        params = {"addresses": ",".join(self.host.macs)}
        try:
            async with self._session.get(url, params=params, headers=self._headers()) as response:
                if response.status == 200:
                    body: dict[str, Any] = await response.json()
                    return body
                self._note(f"lookup: HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._note(f"lookup failed: {exc}")
        return None

    def _may_inspect(self) -> bool:
        """IPA inspects when booted for inspection; an emulated agent cannot read the kernel
        parameters that say so, so it offers its inventory a few times until Ironic either takes it
        or starts sending commands (a cleaning or deploy boot)."""
        return (
            self.settings.inspection
            and not self.inspected
            and not self._commands
            and self._inspection_attempts < _INSPECTION_ATTEMPTS
        )

    async def _continue_inspection(self) -> dict[str, Any] | None:
        """Post the inventory to ``/v1/continue_inspection``; Ironic answers 404 unless inspecting."""
        from teapot.fleet.agent.inventory import inspection_data

        self._inspection_attempts += 1
        url = f"{self.settings.ironic_url}/v1/continue_inspection"
        try:
            async with self._session.post(
                url, data=json.dumps(inspection_data(self.host)), headers=self._headers()
            ) as response:
                if response.status in (200, 202):
                    self.inspected = True
                    self._note("inspection data accepted")
                    body: dict[str, Any] = await response.json()
                    return body
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._note(f"continue_inspection failed: {exc}")
        return None

    def _adopt(self, body: Mapping[str, Any], source: str) -> bool:
        """Take node and token from a lookup (or a continue_inspection answer, same shape)."""
        node, config = body.get("node") or {}, body.get("config") or {}
        self._lookup_node = dict(node)
        self.node_uuid = node.get("uuid")
        token = config.get("agent_token")
        self.heartbeat_timeout_s = float(config.get("heartbeat_timeout") or 300)
        permitted = config.get("permitted_image_formats") or ()
        self.permitted_formats = tuple(
            permitted if isinstance(permitted, list) else str(permitted).split(",")
        )
        if not token or token == "******":
            # The token was pre-generated and put on kernel parameters we cannot read (Ironic built
            # the ISO from deploy_kernel/deploy_ramdisk), or another agent already took it.
            self.last_error = f"no usable agent token from {source} (pre-generated or already issued)"
            self.phase = AgentPhase.FAILED
            self._note(self.last_error)
            return False
        self.token = str(token)
        self._note(f"{source}: node {self.node_uuid}, heartbeat timeout {self.heartbeat_timeout_s:.0f}s")
        return True

    async def _heartbeat(self) -> None:
        url = f"{self.settings.ironic_url}/v1/heartbeat/{self.node_uuid}"
        body = {"callback_url": self.callback_url, "agent_token": self.token, "agent_version": AGENT_VERSION}
        if self.settings.verify_ca is not None:
            body["agent_verify_ca"] = self.settings.verify_ca
        try:
            async with self._session.post(url, data=json.dumps(body), headers=self._headers()) as response:
                if response.status != 202:
                    text = await response.text()
                    self._note(f"heartbeat: HTTP {response.status} {text[:200]}")
                else:
                    self.heartbeats += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._note(f"heartbeat failed: {exc}")

    # -- the command API ---------------------------------------------------------------------

    def check_token(self, token: str | None) -> bool:
        return self.token is not None and token == self.token

    @property
    def commands(self) -> tuple[CommandRecord, ...]:
        return tuple(self._commands.values())

    def command(self, command_id: str) -> CommandRecord | None:
        return self._commands.get(command_id)

    async def execute(self, name: str, params: Mapping[str, Any], wait: bool) -> CommandRecord:
        """Run a command: synchronous ones answer at once, asynchronous ones run in the background."""
        extension, command = split_command(name)
        last = next(reversed(self._commands.values()), None)
        if last is not None and not last.done:
            raise AgentBusy(f"agent is busy running {last.command_name}")
        handlers = self._handlers()
        if extension not in {key.partition(".")[0] for key in handlers}:
            raise UnknownExtension(f"Extension {extension} not found")
        entry = handlers.get(name)
        if entry is None:
            raise InvalidCommand(f"Unknown command: {command}")
        is_async, handler = entry
        record = CommandRecord(command, dict(params))
        self._commands[record.id] = record
        if not is_async:
            started = time.monotonic()
            try:
                result = await handler(params)
            except AgentCommandError as exc:
                self._commands[record.id] = record.failed(exc)
            else:
                self._commands[record.id] = record.succeeded(result)
            self._record(name, None, self._commands[record.id], 0.0, time.monotonic() - started)
            return self._commands[record.id]
        task = asyncio.create_task(self._run_async(name, record, handler, params))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if wait:
            await asyncio.shield(task)
        return self._commands[record.id]

    async def _run_async(
        self, name: str, record: CommandRecord, handler: Handler, params: Mapping[str, Any]
    ) -> None:
        started = time.monotonic()
        step = params.get("step")
        step_name = step.get("step") if isinstance(step, Mapping) else None
        self._emulated = 0.0
        try:
            result = await handler(params)
        except AgentCommandError as exc:
            self._commands[record.id] = record.failed(exc)
        except Exception as exc:  # a crashed command must not stay RUNNING forever
            self._commands[record.id] = record.failed(AgentCommandError(str(exc) or type(exc).__name__))
        else:
            self._commands[record.id] = record.succeeded(result)
        final = self._commands[record.id]
        self._record(name, step_name, final, self._emulated, time.monotonic() - started)
        self._note(f"{name} {step_name or ''} -> {final.command_status}")
        self.force_heartbeat()

    def _record(
        self, name: str, step: str | None, record: CommandRecord, emulated_s: float, real_s: float
    ) -> None:
        error = record.command_error.get("details") if record.command_error else None
        self._history.append(
            StepRecord(
                self.host.name,
                self.boot,
                name,
                step,
                record.command_status,
                round(emulated_s, 3),
                round(real_s, 3),
                str(error) if error else None,
            )
        )

    async def _work(self, emulated_s: float) -> None:
        """Spend ``emulated_s`` of hardware time (scaled) on the current command."""
        self._emulated += emulated_s
        await self._sleep_emulated(emulated_s)

    def _handlers(self) -> dict[str, tuple[bool, Handler]]:
        return {
            "clean.get_clean_steps": (False, self._get_clean_steps),
            "clean.execute_clean_step": (True, self._execute_clean_step),
            "deploy.get_deploy_steps": (False, self._get_deploy_steps),
            "deploy.execute_deploy_step": (True, self._execute_deploy_step),
            "standby.get_partition_uuids": (False, self._get_partition_uuids),
            "standby.sync": (False, self._sync),
            "standby.power_off": (True, self._power_off),
            "standby.reboot": (True, self._reboot),
            "image.install_bootloader": (True, self._install_bootloader),
            "log.collect_system_logs": (False, self._collect_logs),
        }

    # -- commands ----------------------------------------------------------------------------

    async def _get_clean_steps(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "clean_steps": {HARDWARE_MANAGER: [dict(s) for s in CLEAN_STEPS]},
            "hardware_manager_version": HARDWARE_MANAGER_VERSION,
        }

    async def _get_deploy_steps(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "deploy_steps": {HARDWARE_MANAGER: [dict(s) for s in DEPLOY_STEPS]},
            "hardware_manager_version": HARDWARE_MANAGER_VERSION,
        }

    @staticmethod
    def _check_version(version: object) -> None:
        if version and version != HARDWARE_MANAGER_VERSION:
            raise VersionMismatch(f"expected {HARDWARE_MANAGER_VERSION}, Ironic has {version}")

    def _concurrency(self, node: object) -> int:
        info = node.get("driver_internal_info") if isinstance(node, Mapping) else None
        value = info.get("disk_erasure_concurrency") if isinstance(info, Mapping) else None
        return int(value) if isinstance(value, int | str) and str(value).isdigit() else 1

    async def _erase(self, step_name: str, node: object) -> None:
        t = self.settings.timings
        if step_name == "erase_devices_metadata":
            await self._work(erase_metadata_s(self.disks, t))
        elif step_name == "erase_devices_express":
            await self._work(erase_express_s(self.disks, t))
        elif step_name == "erase_devices":
            await self._work(erase_devices_s(self.disks, t, self._concurrency(node)))
        elif step_name == "erase_pstore":
            await self._work(t.erase_pstore_s)
        else:
            raise AgentCommandError(f"Unknown step {step_name!r} for {HARDWARE_MANAGER}")

    async def _execute_clean_step(self, params: Mapping[str, Any]) -> dict[str, Any]:
        step = params.get("step")
        if not isinstance(step, Mapping) or "step" not in step:
            raise InvalidCommand("execute_clean_step needs a step")
        self._check_version(params.get("clean_version"))
        await self._erase(str(step["step"]), params.get("node"))
        return {"clean_result": None, "clean_step": dict(step)}

    async def _execute_deploy_step(self, params: Mapping[str, Any]) -> dict[str, Any]:
        step = params.get("step")
        if not isinstance(step, Mapping) or "step" not in step:
            raise InvalidCommand("execute_deploy_step needs a step")
        self._check_version(params.get("deploy_version"))
        name = str(step["step"])
        args = step.get("args") or {}
        result: Any = None
        if name == "write_image":
            await self._write_image(args.get("image_info") or {}, params.get("node"))
        elif name == "erase_devices_metadata":
            await self._erase(name, params.get("node"))
        else:
            raise AgentCommandError(f"Unknown deploy step {name!r} for {HARDWARE_MANAGER}")
        return {"deploy_result": result, "deploy_step": dict(step)}

    def _root_hints(self, node: object) -> Mapping[str, object] | None:
        sources = [node, self._lookup_node]
        for source in sources:
            if not isinstance(source, Mapping):
                continue
            for section in ("instance_info", "properties"):
                part = source.get(section)
                hints = part.get("root_device") if isinstance(part, Mapping) else None
                if isinstance(hints, Mapping) and hints:
                    return hints
        return None

    async def _write_image(self, image_info: Mapping[str, Any], node: object) -> None:
        """Download the image, verify checksum and format, then "write" it at the disk's speed."""
        urls = image_info.get("urls") or []
        if not urls:
            raise ImageCheckError("image_info has no urls")
        root = select_root_disk(self.disks, self._root_hints(node))
        hasher, expected = new_hasher(image_info)
        header = bytearray()
        size = 0
        last_error: Exception | None = None
        for url in urls:
            hasher, expected = new_hasher(image_info)
            header.clear()
            size = 0
            try:
                async with self._session.get(url) as response:
                    if response.status != 200:
                        raise ImageCheckError(f"downloading {url} failed: HTTP {response.status}")
                    async for chunk in response.content.iter_chunked(1 << 20):
                        hasher.update(chunk)
                        size += len(chunk)
                        if len(header) < ISO_HEADER_BYTES:
                            header.extend(chunk[: ISO_HEADER_BYTES - len(header)])
                last_error = None
                break
            except (aiohttp.ClientError, ImageCheckError) as exc:
                last_error = exc
        if last_error is not None:
            raise ImageCheckError(f"image download failed: {last_error}")
        if hasher.hexdigest() != expected:
            raise ImageCheckError(
                f"image checksum mismatch: expected {expected}, got {hasher.hexdigest()} ({hasher.name})"
            )
        facts = image_facts(bytes(header), size)
        check_format(facts, image_info.get("disk_format"), self.permitted_formats)
        if facts.virtual_size > root.size_bytes:
            raise ImageCheckError(
                f"image of {facts.virtual_size} bytes does not fit on {root.name} ({root.size_bytes} bytes)"
            )
        self._note(f"writing {size} bytes ({facts.format}) to {root.name}")
        await self._work(write_image_s(size, root, self.settings.timings))
        if image_info.get("root_mb"):  # partition image: IPA reports the partitions it created
            ns = uuid.UUID(self.host.uuid)
            self._partition_uuids = {"root uuid": str(uuid.uuid5(ns, f"root-{self.boot}"))}
            if image_info.get("deploy_boot_mode") == "uefi":
                self._partition_uuids["efi system partition uuid"] = str(uuid.uuid5(ns, f"efi-{self.boot}"))
        else:
            self._partition_uuids = {}

    async def _get_partition_uuids(self, params: Mapping[str, Any]) -> dict[str, str]:
        return dict(self._partition_uuids)

    async def _sync(self, params: Mapping[str, Any]) -> None:
        return None

    async def _install_bootloader(self, params: Mapping[str, Any]) -> None:
        await self._work(self.settings.timings.install_bootloader_s)

    async def _power_off(self, params: Mapping[str, Any]) -> None:
        self._later(PowerAction.OFF)

    async def _reboot(self, params: Mapping[str, Any]) -> None:
        self._later(PowerAction.REBOOT)

    def _later(self, action: PowerAction) -> None:
        """Power off/reboot after the command's answer went out (``poweroff`` in the ramdisk).

        Not one of the agent's own tasks: the farm stops the agent when the power goes, and must not
        cancel the very call that turns it off.
        """

        async def act() -> None:
            await asyncio.sleep(0.05)
            await self._power(self.host, action)

        task = asyncio.get_running_loop().create_task(act())
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)

    async def _collect_logs(self, params: Mapping[str, Any]) -> dict[str, str]:
        data = "\n".join(self._log).encode()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            info = tarfile.TarInfo("journal")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        return {"system_logs": base64.b64encode(buffer.getvalue()).decode()}

    _emulated: float = 0.0


Handler = Callable[[Mapping[str, Any]], Awaitable[Any]]
_BACKGROUND: set[asyncio.Task[None]] = set()
