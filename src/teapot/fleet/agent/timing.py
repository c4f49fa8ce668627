"""How long an emulated agent's steps take on a host's hardware.

Why a model at all: Teapot's headline is fast hand-over between tenants, and what makes cleaning
fast or slow is the hardware — an NVMe crypto-erase drops the media key in seconds, a metadata
erase touches a few megabytes per disk, a full overwrite of a 16 TB HDD takes the better part of a
day.  An agent that finished every step at once would hide exactly the differences the cleaning
modes exist for.  This module turns a host's disks into *emulated* durations (what the real host
would take); the agent sleeps ``emulated x time_scale`` so tests run the same flows in
milliseconds while reports keep the realistic number.

Pure functions over frozen values; no I/O.  The figures are deliberately round, order-of-magnitude
defaults (override :class:`HardwareTimings` to calibrate against real machines).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from teapot.fleet.model import DiskType, Host

__all__ = [
    "Disk",
    "HardwareTimings",
    "disks_of",
    "erase_devices_s",
    "erase_express_s",
    "erase_metadata_s",
    "makespan",
    "write_image_s",
]

_MB = 1000**2


@dataclass(frozen=True)
class Disk:
    """One block device as the agent sees it (names match the emulator's Redfish drives)."""

    name: str
    type: DiskType
    size_bytes: int
    model: str
    serial: str

    @property
    def rotational(self) -> bool:
        return self.type.rotational


@dataclass(frozen=True)
class HardwareTimings:
    """Emulated durations (seconds, real-hardware scale) of what an agent does to disks.

    ``*_mb_s`` are sustained sequential write speeds in decimal MB/s.  A full erase of a rotating
    disk overwrites it ``overwrite_passes`` times (IPA's shred: one random pass plus zeroing by
    default); flash disks use their firmware's secure erase instead.
    """

    ramdisk_boot_s: float = 20.0
    metadata_erase_per_disk_s: float = 1.5
    nvme_crypto_erase_s: float = 4.0
    ssd_secure_erase_s: float = 45.0
    erase_pstore_s: float = 0.5
    install_bootloader_s: float = 3.0
    overwrite_passes: int = 2
    hdd_write_mb_s: float = 180.0
    ssd_write_mb_s: float = 450.0
    nvme_write_mb_s: float = 2000.0

    def write_mb_s(self, disk_type: DiskType) -> float:
        return {
            DiskType.HDD: self.hdd_write_mb_s,
            DiskType.SSD: self.ssd_write_mb_s,
            DiskType.NVME: self.nvme_write_mb_s,
        }[disk_type]


def disks_of(host: Host) -> tuple[Disk, ...]:
    """The host's disks, named and ordered like the emulator's Redfish drives.

    Imported lazily from :mod:`teapot.fleet.inventory` so both views can never disagree.
    """
    from teapot.fleet.inventory import drives

    return tuple(
        Disk(
            name=d["name"],
            type=DiskType.NVME
            if d["protocol"] == "NVMe"
            else (DiskType.HDD if d["media_type"] == "HDD" else DiskType.SSD),
            size_bytes=d["capacity_bytes"],
            model=d["model"],
            serial=d["serial"],
        )
        for d in drives(host)
    )


def makespan(durations: Iterable[float], workers: int) -> float:
    """Wall time of independent jobs on ``workers`` parallel workers (longest job first).

    IPA erases up to ``disk_erasure_concurrency`` devices at once (Ironic passes it in the node's
    ``driver_internal_info``); LPT scheduling is what a pool fed in that order would do.
    """
    jobs = sorted((d for d in durations if d > 0), reverse=True)
    if not jobs:
        return 0.0
    finish = [0.0] * max(1, min(workers, len(jobs)))
    for job in jobs:
        heapq.heapreplace(finish, finish[0] + job)
    return max(finish)


def erase_metadata_s(disks: Sequence[Disk], t: HardwareTimings) -> float:
    """``erase_devices_metadata``: wipe partition tables and signatures, disk after disk."""
    return t.metadata_erase_per_disk_s * len(disks)


def _full_erase_s(disk: Disk, t: HardwareTimings) -> float:
    if disk.type is DiskType.NVME:
        return t.nvme_crypto_erase_s
    if disk.type is DiskType.SSD:
        return t.ssd_secure_erase_s
    return t.overwrite_passes * disk.size_bytes / (t.hdd_write_mb_s * _MB)


def erase_devices_s(disks: Sequence[Disk], t: HardwareTimings, concurrency: int = 1) -> float:
    """``erase_devices``: secure erase of flash, full overwrite of rotating disks, in parallel."""
    return makespan((_full_erase_s(d, t) for d in disks), concurrency)


def erase_express_s(disks: Sequence[Disk], t: HardwareTimings) -> float:
    """``erase_devices_express``: NVMe crypto-erase where possible, metadata erase elsewhere.

    IPA's express erase is sequential: NVMe devices get a crypto (secure) erase, everything else
    the metadata wipe.
    """
    return sum(
        t.nvme_crypto_erase_s if d.type is DiskType.NVME else t.metadata_erase_per_disk_s for d in disks
    )


def write_image_s(image_bytes: int, disk: Disk, t: HardwareTimings) -> float:
    """Writing ``image_bytes`` of image data to the root disk at its sequential speed."""
    return image_bytes / (t.write_mb_s(disk.type) * _MB)
