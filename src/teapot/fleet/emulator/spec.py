"""The JSON contract between :class:`teapot.fleet.Fleet` and the emulator process.

Why TypedDicts: the file crosses a process and virtualenv boundary as JSON, so the shapes are
spelled once here (standard library only, importable in both virtualenvs) and checked by mypy
on both sides.
"""

from __future__ import annotations

from typing import Literal, TypedDict

CONTROL_PREFIX = "/teapot/v1"

BmcMode = Literal["up", "down", "unavailable"]
PowerMode = Literal["ok", "error", "stuck"]


class ProcessorSpec(TypedDict):
    id: str
    socket: str
    type: Literal["CPU", "GPU"]
    architecture: str  # Redfish ProcessorArchitecture: x86, ARM
    instruction_set: str  # Redfish InstructionSet: x86-64, ARM-A64 ("" for GPUs)
    manufacturer: str
    model: str
    cores: int
    threads: int  # 0 for GPUs: Ironic sums TotalThreads into the CPU count
    max_mhz: int


class DriveSpec(TypedDict):
    id: str
    name: str
    media_type: Literal["HDD", "SSD"]
    protocol: Literal["NVMe", "SATA", "SAS"]
    capacity_bytes: int
    model: str
    manufacturer: str
    serial: str
    rpm: int  # 0 for solid state


class NicSpec(TypedDict):
    id: str
    mac: str
    speed_mbps: int


class PcieDeviceSpec(TypedDict):
    id: str
    name: str
    manufacturer: str
    model: str
    device_class: str  # Redfish PCIeFunction DeviceClass, e.g. DisplayController
    vendor_id: str
    device_id: str


class SystemSpec(TypedDict):
    uuid: str
    name: str
    username: str
    password: str
    power_state: Literal["On", "Off"]
    manufacturer: str
    model: str
    serial: str
    bios_version: str
    memory_gib: int
    processors: list[ProcessorSpec]
    drives: list[DriveSpec]
    nics: list[NicSpec]
    pcie_devices: list[PcieDeviceSpec]


class EmulatorSpec(TypedDict):
    listen_host: str
    port: int  # 0: pick a free port and report it in the ready file
    tls_cert: str | None
    tls_key: str | None
    state_dir: str
    ready_file: str  # written (JSON {"port": N, "pid": P}) once the server accepts connections
    power_delay_s: float  # every power change takes exactly this long (sushy: random 1-11 s)
    notify_url: str | None  # PUT of the system's state on power / boot / media changes
    fetch_media: bool  # download virtual media images like a real BMC (else record the URL only)
    control_token: str  # bearer token for the control API under CONTROL_PREFIX
    parent_pid: int | None  # exit when this process goes away (no orphaned emulators)
    systems: list[SystemSpec]


class FaultSpec(TypedDict):
    bmc: BmcMode  # down: connection dropped; unavailable: HTTP 503
    password: str | None  # the BMC now wants this password (credentials changed)
    power: PowerMode  # error: reset action fails with 500; stuck: accepted, never happens


NO_FAULTS: FaultSpec = {"bmc": "up", "password": None, "power": "ok"}
