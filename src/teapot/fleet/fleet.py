"""Run an emulated datacenter: one sushy-tools process serving every host's BMC.

Why one process: a sushy-tools process costs ~40 MB and ~0.3 s to start; a process per host would
make a 500-host benchmark measure the emulator.  One process serves all systems, and
:mod:`teapot.fleet.emulator.gate` makes each host look like its own BMC (own credentials, own
faults).  The emulator runs in the services virtualenv (where sushy-tools lives) as a child
process; this module writes its spec, starts it, waits until it reports its port and stops it.

Usage::

    with Fleet(load_datacenter("examples/datacenter.yaml")) as fleet:
        host = fleet.host("a01-u01")
        host.bmc_address, host.credentials, host.boot_mac, host.labels
        fleet.control.bmc_down("a01-u01")

``async with Fleet(...)`` works too (start and stop run in a worker thread).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import IO, Any

import teapot
from teapot.fleet import labels
from teapot.fleet.control import FleetControl
from teapot.fleet.emulator.spec import EmulatorSpec
from teapot.fleet.inventory import system_spec
from teapot.fleet.model import Credentials, Datacenter, Host
from teapot.fleet.tls import write_self_signed

SERVICES_PYTHON_ENV = "TEAPOT_SERVICES_PYTHON"


class FleetError(RuntimeError):
    """The emulator could not be started (the message includes the tail of its log)."""


def services_python() -> str:
    """The Python of the services virtualenv: ``$TEAPOT_SERVICES_PYTHON`` or ``.venv-services``."""
    explicit = os.environ.get(SERVICES_PYTHON_ENV)
    if explicit:
        return explicit
    package_root = Path(teapot.__file__).resolve().parent
    for base in (Path.cwd(), *package_root.parents):
        candidate = base / ".venv-services" / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    raise FleetError(
        f"no services virtualenv found (.venv-services/bin/python); run `make install` or set {SERVICES_PYTHON_ENV}"
    )


def host_labels(datacenter: str, host: Host) -> dict[str, str]:
    """Topology (and provenance) labels for a host's BareMetalHost."""
    loc = host.location
    result = {
        labels.REGION: loc.region,
        labels.ZONE: loc.zone,
        labels.ROOM: loc.room,
        labels.ROW: loc.row,
        labels.RACK: loc.rack,
        labels.K8S_REGION: loc.region,
        labels.K8S_ZONE: loc.zone,
        labels.FLEET: datacenter,
        labels.HARDWARE_MODEL: host.model.name,
    }
    if host.pdu:
        result[labels.PDU] = host.pdu
    return result


def bmc_address(base_url: str, host: Host, scheme: str = "redfish") -> str:
    """A Metal3 BMC address, e.g. ``redfish+http://127.0.0.1:8000/redfish/v1/Systems/<uuid>``."""
    transport, _, rest = base_url.partition("://")
    return f"{scheme}+{transport}://{rest}/redfish/v1/Systems/{host.uuid}"


@dataclass(frozen=True)
class FleetHost:
    """What enrolling one host needs: its BMC, credentials, boot MAC and topology labels."""

    host: Host
    bmc_address: str
    system_url: str  # plain https?://…/redfish/v1/Systems/<uuid>, for sushy
    credentials: Credentials
    boot_mac: str
    labels: Mapping[str, str]
    disable_certificate_verification: bool

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def uuid(self) -> str:
        return self.host.uuid


def fleet_host(datacenter: str, host: Host, base_url: str, scheme: str = "redfish") -> FleetHost:
    """A host as served by an emulator at ``base_url`` (``http://127.0.0.1:8000``)."""
    return FleetHost(
        host=host,
        bmc_address=bmc_address(base_url, host, scheme),
        system_url=f"{base_url}/redfish/v1/Systems/{host.uuid}",
        credentials=host.bmc,
        boot_mac=host.boot_mac,
        labels=MappingProxyType(host_labels(datacenter, host)),
        disable_certificate_verification=base_url.startswith("https:"),
    )


class Fleet:
    """An emulated datacenter served by one sushy-tools child process (see module docstring).

    ``state_dir``: where the emulator keeps power/boot/media state; pass the same directory to
    keep state across restarts.  Without it a fresh temporary directory is used and removed on
    :meth:`stop`.  ``power_delay_s``: how long every power change takes (exactly).
    ``notify_url``: receives a JSON PUT of a system's state on every power, boot and media change.
    """

    def __init__(
        self,
        datacenter: Datacenter,
        *,
        state_dir: str | os.PathLike[str] | None = None,
        listen_host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        power_delay_s: float = 0.0,
        notify_url: str | None = None,
        fetch_media: bool = False,
        scheme: str = "redfish",
        startup_timeout_s: float = 60.0,
    ) -> None:
        self.datacenter = datacenter
        self._own_state_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.listen_host = listen_host
        self.requested_port = port
        self.tls = tls
        self.power_delay_s = power_delay_s
        self.notify_url = notify_url
        self.fetch_media = fetch_media
        self.scheme = scheme
        self.startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._token = secrets.token_urlsafe(24)
        self.port = 0
        self.startup_s = 0.0

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._process is not None:
            raise FleetError("fleet already started")
        started = time.monotonic()
        python = services_python()
        if self.state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="teapot-fleet-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        ready_file = self.state_dir / "ready.json"
        ready_file.unlink(missing_ok=True)
        tls_cert = tls_key = None
        if self.tls:
            cert, key = write_self_signed(self.state_dir, self.listen_host)
            tls_cert, tls_key = str(cert), str(key)
        spec: EmulatorSpec = {
            "listen_host": self.listen_host,
            "port": self.requested_port,
            "tls_cert": tls_cert,
            "tls_key": tls_key,
            "state_dir": str(self.state_dir / "sushy"),
            "ready_file": str(ready_file),
            "power_delay_s": self.power_delay_s,
            "notify_url": self.notify_url,
            "fetch_media": self.fetch_media,
            "control_token": self._token,
            "parent_pid": os.getpid(),
            "systems": [system_spec(host) for host in self.datacenter.hosts],
        }
        spec_file = self.state_dir / "emulator-spec.json"  # holds BMC passwords: owner only
        spec_file.touch(mode=0o600)
        spec_file.write_text(json.dumps(spec), encoding="utf-8")
        src_root = str(Path(teapot.__file__).resolve().parent.parent)
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, (src_root, os.environ.get("PYTHONPATH"))))
        )
        self._log = open(self.state_dir / "emulator.log", "ab")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            [python, "-m", "teapot.fleet.emulator", str(spec_file)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while not ready_file.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                log_tail = self._log_tail()
                self.stop()
                raise FleetError(f"the Redfish emulator did not start:\n{log_tail}")
            time.sleep(0.02)
        self.port = int(json.loads(ready_file.read_text(encoding="utf-8"))["port"])
        self.startup_s = time.monotonic() - started

    def stop(self, timeout_s: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._own_state_dir and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None

    def _log_tail(self, lines: int = 30) -> str:
        if self.state_dir is None:
            return ""
        try:
            text = (self.state_dir / "emulator.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Fleet:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Fleet:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- what the rest of Teapot uses -----------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def base_url(self) -> str:
        if not self.port:
            raise FleetError("the fleet is not running")
        host = f"[{self.listen_host}]" if ":" in self.listen_host else self.listen_host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def log_path(self) -> Path | None:
        """The emulator's log (stdout and stderr), while the state directory exists."""
        return self.state_dir / "emulator.log" if self.state_dir is not None else None

    def manifests(self, namespace: str = "default") -> list[dict[str, Any]]:
        """Secret + BareMetalHost documents enrolling every host (see :mod:`teapot.fleet.manifests`)."""
        from teapot.fleet.manifests import host_manifests  # manifests imports this module

        return [doc for host in self.hosts for doc in host_manifests(host, namespace)]

    @property
    def control(self) -> FleetControl:
        return FleetControl(self.base_url, self._token)

    @property
    def hosts(self) -> tuple[FleetHost, ...]:
        return tuple(self._fleet_host(host) for host in self.datacenter.hosts)

    def host(self, name: str) -> FleetHost:
        return self._fleet_host(self.datacenter.host(name))

    def _fleet_host(self, host: Host) -> FleetHost:
        return fleet_host(self.datacenter.name, host, self.base_url, self.scheme)
