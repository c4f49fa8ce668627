"""The emulated datacenter as plain, frozen values.

Why this module exists: everything else in ``teapot.fleet`` (the emulator launcher, the manifests,
the CLI table, the benchmark generator) needs the same facts about a host — where it sits, what
hardware it has, how its BMC is reached.  Keeping them as frozen dataclasses with derived values
computed here (UUIDs, MACs, serials, passwords are deterministic functions of the datacenter and
host names) means a fleet described twice is the same fleet, byte for byte.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from enum import StrEnum

# A fixed namespace so host UUIDs are stable across runs and machines.
FLEET_UUID_NAMESPACE = uuid.UUID("6d1c8f0e-7a51-4b8e-9f0e-7465617f6c65")


class DiskType(StrEnum):
    NVME = "NVMe"
    SSD = "SSD"
    HDD = "HDD"

    @property
    def rotational(self) -> bool:
        return self is DiskType.HDD


class Arch(StrEnum):
    X86_64 = "x86_64"
    AARCH64 = "aarch64"


@dataclass(frozen=True)
class Pdu:
    name: str


@dataclass(frozen=True)
class Rack:
    name: str
    pdus: tuple[Pdu, ...]


@dataclass(frozen=True)
class Row:
    name: str
    racks: tuple[Rack, ...]


@dataclass(frozen=True)
class Room:
    name: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Zone:
    name: str
    rooms: tuple[Room, ...]


@dataclass(frozen=True)
class Region:
    name: str
    zones: tuple[Zone, ...]


@dataclass(frozen=True)
class Location:
    """Where one rack sits: the full path from region down to rack."""

    region: str
    zone: str
    room: str
    row: str
    rack: str


@dataclass(frozen=True)
class Cpu:
    sockets: int
    model: str
    manufacturer: str
    cores: int  # per socket
    threads: int  # per socket
    mhz: int
    arch: Arch


@dataclass(frozen=True)
class DiskGroup:
    type: DiskType
    size_gb: int  # decimal gigabytes, as drives are sold
    count: int
    model: str

    @property
    def size_bytes(self) -> int:
        return self.size_gb * 1000**3


@dataclass(frozen=True)
class NicGroup:
    speed_gbps: int
    count: int


@dataclass(frozen=True)
class GpuGroup:
    model: str
    manufacturer: str
    count: int
    memory_gib: int


@dataclass(frozen=True)
class HardwareModel:
    name: str
    manufacturer: str
    product: str
    generation: int
    cpu: Cpu
    memory_gib: int
    disks: tuple[DiskGroup, ...]
    nics: tuple[NicGroup, ...]
    gpus: tuple[GpuGroup, ...]

    @property
    def nic_count(self) -> int:
        return sum(group.count for group in self.nics)

    @property
    def gpu_count(self) -> int:
        return sum(group.count for group in self.gpus)


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print a password by accident
        return f"Credentials(username={self.username!r}, password='***')"


@dataclass(frozen=True)
class Host:
    name: str
    uuid: str
    location: Location
    pdu: str
    model: HardwareModel
    bmc: Credentials
    macs: tuple[str, ...]  # one per NIC, in model order; the first is the boot MAC
    serial: str

    @property
    def boot_mac(self) -> str:
        return self.macs[0]


@dataclass(frozen=True)
class Datacenter:
    name: str
    regions: tuple[Region, ...]
    models: tuple[HardwareModel, ...]
    hosts: tuple[Host, ...]

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    @property
    def racks(self) -> tuple[Location, ...]:
        return tuple(
            Location(region.name, zone.name, room.name, row.name, rack.name)
            for region in self.regions
            for zone in region.zones
            for room in zone.rooms
            for row in room.rows
            for rack in row.racks
        )


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("/".join(parts).encode()).digest()


def host_uuid(datacenter: str, host: str) -> str:
    return str(uuid.uuid5(FLEET_UUID_NAMESPACE, f"{datacenter}/{host}"))


def host_mac(datacenter: str, host: str, index: int) -> str:
    """A locally administered unicast MAC (``02:…``) derived from the names."""
    tail = _digest("mac", datacenter, host, str(index))[:5]
    return ":".join(f"{b:02x}" for b in (0x02, *tail))


def host_serial(datacenter: str, host: str) -> str:
    return "TP" + _digest("serial", datacenter, host).hex()[:10].upper()


def host_password(datacenter: str, host: str) -> str:
    """A per-host BMC password for emulation only (derived, so manifests are reproducible)."""
    return _digest("password", datacenter, host).hex()[:16]
