"""Teapot's sushy-tools drivers: realistic inventory, exact power timing, faults, notifications.

Why subclass sushy-tools' fake driver rather than write a Redfish server: sushy-tools already
implements the Redfish resources Ironic drives (power, boot, virtual media, managers), keeps their
state in ``SUSHY_EMULATOR_STATE_DIR`` across restarts, and is what Metal3 and Ironic test against.
What the fake driver lacks for a datacenter emulation is added here:

* inventory (processors incl. GPUs, memory, simple storage, NICs with speeds) from the fleet spec,
  held in memory so that editing the datacenter file and restarting updates it;
* power changes that take exactly ``power_delay_s`` (sushy: random 1-11 s), applied by a timer so
  power-on is observed (and notified) even if nobody polls;
* the ``stuck`` power fault (action accepted, nothing happens), read from the shared
  :class:`~teapot.fleet.emulator.gate.FaultTable`;
* notifications of power/boot/media changes sent by one background thread, in order, best effort
  (sushy's own notifier blocks the Redfish request and fails it if the receiver is down);
* virtual media that records the image URL without downloading it, unless ``fetch_media``;
* ``BootSourceOverrideEnabled`` as set (sushy-tools always reports Continuous), with a ``Once``
  override used up when the host powers on.

Runs only inside the services virtualenv (imported by :mod:`teapot.fleet.emulator.__main__`).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import queue
import threading
import time
import urllib.request
from collections.abc import Iterator, MutableMapping
from typing import Any
from urllib.parse import urlparse

from sushy_tools import error
from sushy_tools.emulator.resources import indicators, vmedia
from sushy_tools.emulator.resources.systems import fakedriver

from teapot.fleet.emulator.gate import FaultTable
from teapot.fleet.emulator.spec import EmulatorSpec, ProcessorSpec, SystemSpec

CONFIG_SPEC = "TEAPOT_EMULATOR_SPEC"
CONFIG_FAULTS = "TEAPOT_EMULATOR_FAULTS"

LOG = logging.getLogger("teapot.fleet.emulator")


class WriteThroughDict(MutableMapping[Any, Any]):
    """Reads from memory, writes to memory and to sushy-tools' SQLite ``PersistentDict``.

    sushy-tools opens its SQLite state database on every read, several times per Redfish request
    (≈30 ms per system GET measured).  The emulator is the only writer of its state directory, so
    memory can serve reads while SQLite keeps state across restarts.
    """

    def __init__(self, persistent: MutableMapping[Any, Any]) -> None:
        self._persistent = persistent
        self._memory: dict[Any, Any] = {key: persistent[key] for key in list(persistent)}

    def __getitem__(self, key: Any) -> Any:
        return copy.deepcopy(self._memory[key])  # callers mutate what they read, as with pickles

    def __setitem__(self, key: Any, value: Any) -> None:
        self._memory[key] = copy.deepcopy(value)
        self._persistent[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._memory[key]
        del self._persistent[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._memory))

    def __len__(self) -> int:
        return len(self._memory)


class Notifier:
    """Sends JSON documents with PUT to one URL, in order, from a daemon thread; never raises."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url
        self._timeout = timeout_s
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="teapot-notifier", daemon=True).start()

    def send(self, document: dict[str, Any]) -> None:
        self._queue.put(document)

    def _run(self) -> None:
        while True:
            document = self._queue.get()
            request = urllib.request.Request(
                self.url,
                data=json.dumps(document, default=str).encode(),
                method="PUT",
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as response:
                    response.read()
            except OSError as exc:  # URLError, HTTPError and timeouts are all OSErrors
                LOG.warning("notification to %s about %s failed: %s", self.url, document.get("name"), exc)


class TeapotSystemsDriver(fakedriver.FakeDriver):  # type: ignore[misc]
    """Replaces ``fakedriver.FakeDriver`` in the emulator process (see module docstring)."""

    _systems: MutableMapping[Any, Any]
    _by_name: dict[str, str]
    _logger: Any
    _spec: EmulatorSpec
    _inventory: dict[str, SystemSpec]
    _faults: FaultTable
    _notifier: Notifier | None
    _lock = threading.RLock()

    @classmethod
    def initialize(cls, config: Any, logger: Any, *args: Any) -> type[TeapotSystemsDriver]:
        spec: EmulatorSpec = config[CONFIG_SPEC]
        cls._spec = spec
        cls._inventory = {system["uuid"]: system for system in spec["systems"]}
        cls._faults = config[CONFIG_FAULTS]
        cls._notifier = Notifier(spec["notify_url"]) if spec["notify_url"] else None
        super().initialize(config, logger)
        return cls

    def __init__(self) -> None:
        super().__init__()
        self._systems = WriteThroughDict(self._systems)
        self._timers: dict[str, threading.Timer] = {}

    # -- state ---------------------------------------------------------------------------------

    def _update_if_needed(self, system: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            current: dict[str, Any] = self._systems[system["uuid"]]
            pending = current.get("pending_power")
            if pending and time.time() >= pending["apply_time"]:
                state = "On" if "Restart" in pending["power_state"] else pending["power_state"]
                self._update(current, power_state=state, pending_power=None)
                if state == "On":
                    self._booted(current)
            return current

    def _booted(self, system: dict[str, Any]) -> None:
        """The host just powered on: a one-time boot override is used up (like a real BMC)."""
        if system.get("boot_override") == "Once":
            self._update(system, boot_override="Disabled")

    def get_boot_override(self, identity: str) -> str:
        """``BootSourceOverrideEnabled``; sushy-tools' own behaviour (Continuous) until set."""
        return str(self._get(identity).get("boot_override", "Continuous"))

    def set_boot_override(self, identity: str, enabled: str) -> None:
        if enabled not in ("Once", "Continuous", "Disabled"):
            raise error.BadRequest(f"Unsupported BootSourceOverrideEnabled {enabled!r}")
        with self._lock:
            self._update(self.uuid(identity), boot_override=enabled)

    def _send_external_notification(self, system: dict[str, Any]) -> None:
        if self._notifier is not None:
            self._notifier.send(dict(system, event="state-changed", time=time.time()))

    @property
    def systems(self) -> list[str]:
        return list(self._inventory)

    def _get(self, identity: str) -> dict[str, Any]:
        if identity not in self._inventory and identity not in self._by_name:
            raise error.NotFound(f"System {identity} was not found")
        result: dict[str, Any] = super()._get(identity)
        return result

    def inventory(self, identity: str) -> SystemSpec:
        return self._inventory[self.uuid(identity)]

    # -- power ---------------------------------------------------------------------------------

    def set_power_state(self, identity: str, state: str) -> None:
        uuid = self.uuid(identity)
        if self._faults.get(uuid)["power"] == "stuck":
            self._logger.info("power action %s on %s accepted and ignored (stuck fault)", state, uuid)
            return
        if "On" in state:
            target = "On"
        elif state in ("ForceOff", "GracefulShutdown"):
            target = "Off"
        elif "Restart" in state:
            target = state
        else:
            raise error.NotSupportedError(f"Power state {state} is not supported")
        delay = float(self._spec["power_delay_s"])
        with self._lock:
            system = self._get(uuid)
            if "Restart" in target:
                system["power_state"] = "Off"
            elif system["power_state"] == target:
                if system.get("pending_power"):
                    self._update(system, pending_power=None)
                return
            if delay <= 0:
                self._update(system, power_state="On" if "Restart" in target else target, pending_power=None)
                if system["power_state"] == "On":
                    self._booted(system)
                return
            self._update(system, pending_power={"power_state": target, "apply_time": time.time() + delay})
            # Apply on time even if nobody reads the power state (a sleeping host's agent
            # emulator waits for the "On" notification, not for a poll).
            old = self._timers.pop(uuid, None)
            if old is not None:
                old.cancel()
            timer = threading.Timer(delay, self._apply_pending, args=(uuid,))
            timer.daemon = True
            self._timers[uuid] = timer
            timer.start()

    def _apply_pending(self, uuid: str) -> None:
        try:
            with self._lock:
                if self._timers.get(uuid) is threading.current_thread():
                    del self._timers[uuid]
            self._get(uuid)
        except Exception:  # a timer thread must not die noisily; the next read applies it anyway
            self._logger.exception("applying pending power state of %s failed", uuid)

    # -- inventory -----------------------------------------------------------------------------

    def get_total_memory(self, identity: str) -> int:
        return self.inventory(identity)["memory_gib"]

    def get_total_cpus(self, identity: str) -> int:
        return sum(p["threads"] for p in self.inventory(identity)["processors"] if p["type"] == "CPU")

    def get_processors(self, identity: str) -> list[ProcessorSpec]:
        return self.inventory(identity)["processors"]

    def get_versions(self, identity: str) -> dict[str, str]:
        return {"BiosVersion": self.inventory(identity)["bios_version"]}

    def get_nics(self, identity: str) -> list[dict[str, Any]]:
        return [
            {"id": nic["id"], "mac": nic["mac"], "speed_mbps": nic["speed_mbps"]}
            for nic in self.inventory(identity)["nics"]
        ]

    def get_simple_storage_collection(self, identity: str) -> dict[str, dict[str, Any]]:
        drives = self.inventory(identity)["drives"]
        if not drives:
            return {}
        return {
            "1": {
                "Id": "1",
                "Name": "Local Storage",
                "DeviceList": [{"Name": d["name"], "CapacityBytes": d["capacity_bytes"]} for d in drives],
            }
        }

    def find_or_create_storage_volume(self, data: dict[str, Any]) -> str:
        return str(data["Id"])


class TeapotIndicatorsDriver(indicators.StaticDriver):  # type: ignore[misc]
    """Replaces ``indicators.StaticDriver``: the same, with state read from memory."""

    _indicators: MutableMapping[Any, Any]

    def __init__(self, config: Any, logger: Any) -> None:
        super().__init__(config, logger)
        self._indicators = WriteThroughDict(self._indicators)


class TeapotVmediaDriver(vmedia.StaticDriver):  # type: ignore[misc]
    """Replaces ``vmedia.StaticDriver``: with ``fetch_media`` off, inserting records the URL only.

    An emulated host never boots the ISO, and a fleet of hundreds downloading Ironic's agent ISO
    would dominate the benchmark; the URL is what an emulated agent needs.
    """

    def _get_image(
        self, image_url: str, auth: Any, verify_media_cert: Any, custom_cert: Any
    ) -> tuple[str, str]:
        if self._config[CONFIG_SPEC]["fetch_media"]:
            result: tuple[str, str] = super()._get_image(image_url, auth, verify_media_cert, custom_cert)
            return result
        if urlparse(image_url).scheme not in ("http", "https"):
            raise error.BadRequest(f"Unsupported virtual media URL {image_url!r}")
        return os.path.basename(urlparse(image_url).path) or "image.iso", image_url
