"""Tiny, valid-looking images for tests and the emulated datacenter.

Why this module exists: Ironic inspects every image it handles (oslo.utils' format inspector checks
magic numbers and refuses formats outside ``[conductor]permitted_image_formats``) and verifies
checksums, but the emulated BMCs never boot anything. So tests need files that *are* an ISO 9660 or
a raw/qcow2 disk to an inspector, yet cost a few kilobytes and no download. The writers are
hand-written because a real ISO builder (pycdlib, genisoimage) would be a dependency for 36 bytes
of header; the layouts follow ECMA-119 §8.4 and the QEMU qcow2 spec.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

__all__ = ["sha256_of", "write_live_iso", "write_qcow2_image", "write_raw_image"]

_SECTOR = 2048


def _both_endian32(value: int) -> bytes:
    return struct.pack("<I", value) + struct.pack(">I", value)


def _both_endian16(value: int) -> bytes:
    return struct.pack("<H", value) + struct.pack(">H", value)


def write_live_iso(path: Path, volume_id: str = "TEAPOT_LIVE") -> Path:
    """Write a minimal ISO 9660 image: system area, primary volume descriptor, terminator."""
    sectors = 20
    pvd = bytearray(_SECTOR)
    pvd[0] = 1  # primary volume descriptor
    pvd[1:6] = b"CD001"
    pvd[6] = 1  # version
    pvd[8:40] = b"TEAPOT".ljust(32)  # system identifier
    pvd[40:72] = volume_id.encode("ascii")[:32].ljust(32)
    pvd[80:88] = _both_endian32(sectors)  # volume space size
    pvd[120:124] = _both_endian16(1)  # volume set size
    pvd[124:128] = _both_endian16(1)  # volume sequence number
    pvd[128:132] = _both_endian16(_SECTOR)  # logical block size
    pvd[881] = 1  # file structure version
    terminator = bytearray(_SECTOR)
    terminator[0] = 255
    terminator[1:6] = b"CD001"
    terminator[6] = 1
    data = bytes(16 * _SECTOR) + bytes(pvd) + bytes(terminator)
    path.write_bytes(data.ljust(sectors * _SECTOR, b"\0"))
    return path


def write_raw_image(path: Path, size: int = 1024 * 1024) -> Path:
    """Write a raw disk image of zeros.

    No MBR boot signature: with one but no partitions the inspector calls it ``gpt`` and its
    safety check fails.
    """
    path.write_bytes(bytes(size))
    return path


def write_qcow2_image(path: Path, virtual_size: int = 64 * 1024 * 1024) -> Path:
    """Write an empty qcow2 (version 3) image of *virtual_size* bytes with no allocated clusters."""
    cluster_bits = 16
    cluster = 1 << cluster_bits
    l2_entries = cluster // 8
    l1_size = -(-virtual_size // (cluster * l2_entries))
    header = struct.pack(
        ">4sIQIIQIIQQIIQQQQII",
        b"QFI\xfb",
        3,  # version
        0,  # backing file offset
        0,  # backing file size
        cluster_bits,
        virtual_size,
        0,  # crypt method
        l1_size,
        3 * cluster,  # l1 table offset
        cluster,  # refcount table offset
        1,  # refcount table clusters
        0,  # nb snapshots
        0,  # snapshots offset
        0,  # incompatible features
        0,  # compatible features
        0,  # autoclear features
        4,  # refcount order (16-bit)
        104,  # header length
    )
    data = bytearray(4 * cluster)
    data[: len(header)] = header
    # refcount table → refcount block at cluster 2; clusters 0..3 each referenced once
    struct.pack_into(">Q", data, cluster, 2 * cluster)
    for index in range(4):
        struct.pack_into(">H", data, 2 * cluster + 2 * index, 1)
    path.write_bytes(bytes(data))
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
