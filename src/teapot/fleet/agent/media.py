"""Recognising the agent ramdisk, and checking disk images the way IPA does before writing them.

Why content rather than URLs: Ironic does not hand the BMC the deploy ISO's own URL.  With the
default ``[deploy]ramdisk_image_download_source = local`` it downloads the ISO and republishes it
as ``<http_url>/redfish/boot-<node uuid>.iso`` — the very name it also uses for a live-ISO
(``ramdisk``) deploy.  So the farm reads the ISO 9660 volume identifier of whatever is inserted:
Teapot's agent ISO says ``TEAPOT_IPA``, a tenant's live ISO says something else.  Exact URLs can be
configured too (``ramdisk_image_download_source = http`` passes the original URL through).

Image checks follow IPA's ``write_image``: the checksum Ironic passes (``os_hash_algo`` /
``os_hash_value``, or the legacy ``checksum``), the declared ``disk_format`` against the bytes
(a qcow2 labelled ``raw`` is refused), the format against ``permitted_image_formats``, and the
image's virtual size against the root disk.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from teapot.fleet.agent.timing import Disk

__all__ = [
    "AGENT_ISO_VOLUME_ID",
    "ISO_HEADER_BYTES",
    "AgentImageMatcher",
    "ImageCheckError",
    "ImageFacts",
    "image_facts",
    "iso_volume_id",
    "new_hasher",
    "select_root_disk",
]

#: Volume identifier of Teapot's emulated agent ISO (write one with
#: ``teapot.hosts.ironic.images.write_live_iso(path, volume_id=AGENT_ISO_VOLUME_ID)``).
AGENT_ISO_VOLUME_ID = "TEAPOT_IPA"

_SECTOR = 2048
#: Bytes needed to read the primary volume descriptor (sector 16).
ISO_HEADER_BYTES = 17 * _SECTOR
_QCOW2_MAGIC = b"QFI\xfb"
_GIB = 1024**3


class ImageCheckError(ValueError):
    """The image must not be written (bad checksum, wrong format, too big)."""


def iso_volume_id(header: bytes) -> str | None:
    """The volume identifier of an ISO 9660 image from its first :data:`ISO_HEADER_BYTES`."""
    pvd = header[16 * _SECTOR : 17 * _SECTOR]
    if len(pvd) < 72 or pvd[0] != 1 or pvd[1:6] != b"CD001":
        return None
    return pvd[40:72].decode("ascii", errors="replace").strip()


@dataclass(frozen=True)
class AgentImageMatcher:
    """Decides whether inserted virtual media is the agent ramdisk.

    ``urls``: exact URLs (or emulator file paths) that are the agent image.  ``volume_ids``: ISO
    volume identifiers that mark an agent image whatever its URL.
    """

    urls: frozenset[str] = frozenset()
    volume_ids: frozenset[str] = frozenset({AGENT_ISO_VOLUME_ID})

    def matches_url(self, url: str) -> bool:
        return url in self.urls

    def matches_header(self, header: bytes) -> bool:
        volume = iso_volume_id(header)
        return volume is not None and volume in self.volume_ids


@dataclass(frozen=True)
class ImageFacts:
    """What the bytes of an image say about it."""

    format: str  # "qcow2" | "raw" | "iso"
    virtual_size: int


def image_facts(header: bytes, file_size: int) -> ImageFacts:
    """Detect the format of an image from its first bytes (≥ 36 KiB for ISO detection)."""
    if header[:4] == _QCOW2_MAGIC and len(header) >= 32:
        (virtual_size,) = struct.unpack(">Q", header[24:32])
        return ImageFacts("qcow2", int(virtual_size))
    if iso_volume_id(header) is not None:
        return ImageFacts("iso", file_size)
    return ImageFacts("raw", file_size)


def new_hasher(image_info: Mapping[str, object]) -> tuple[hashlib._Hash, str]:
    """The hash object and expected hex digest for Ironic's ``image_info``.

    ``os_hash_algo``/``os_hash_value`` win over the legacy ``checksum`` (MD5 or, by its length,
    SHA-256/512), as in IPA.
    """
    algo, value = image_info.get("os_hash_algo"), image_info.get("os_hash_value")
    if isinstance(algo, str) and isinstance(value, str) and algo and value:
        try:
            return hashlib.new(algo), value.lower()
        except ValueError as exc:
            raise ImageCheckError(f"unsupported os_hash_algo {algo!r}") from exc
    checksum = image_info.get("checksum")
    if isinstance(checksum, str) and checksum:
        by_length = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
        name = checksum.partition(":")[0] if ":" in checksum else by_length.get(len(checksum))
        digest = checksum.partition(":")[2] if ":" in checksum else checksum
        if name is None:
            raise ImageCheckError(f"cannot tell the algorithm of checksum {checksum!r}")
        return hashlib.new(name), digest.lower()
    raise ImageCheckError("Ironic passed no image checksum (os_hash_value or checksum)")


def check_format(facts: ImageFacts, declared: object, permitted: Sequence[str] | None) -> None:
    """Refuse images whose bytes disagree with the declared format, or that are not permitted."""
    if isinstance(declared, str) and declared:
        compatible = {"raw": {"raw", "iso"}, "qcow2": {"qcow2"}, "iso": {"iso"}}.get(declared, {declared})
        if facts.format not in compatible:
            raise ImageCheckError(
                f"image format mismatch: declared {declared!r}, the image is {facts.format!r}"
            )
    if permitted and facts.format not in permitted and not (facts.format == "iso" and "raw" in permitted):
        raise ImageCheckError(f"image format {facts.format!r} is not in {', '.join(permitted)}")


def _size_matches(size_bytes: int, hint: object) -> bool:
    """Ironic's ``size`` hint is in GiB: an integer, or an operator string like ``>= 100``."""
    gib = size_bytes // _GIB
    text = str(hint).strip()
    for op in (">=", "<=", "==", ">", "<"):
        if text.startswith(op):
            value = int(text[len(op) :].strip())
            return {
                ">=": gib >= value,
                "<=": gib <= value,
                "==": gib == value,
                ">": gib > value,
                "<": gib < value,
            }[op]
    return gib == int(text)


def select_root_disk(disks: Sequence[Disk], hints: Mapping[str, object] | None) -> Disk:
    """IPA's root device choice: the first disk matching all hints, else the smallest ≥ 4 GiB."""
    candidates = [d for d in disks if d.size_bytes >= 4 * _GIB]
    if hints:
        checks: dict[str, Callable[[Disk, object], bool]] = {
            "name": lambda d, v: d.name == v or d.name == f"/dev/{v}",
            "serial": lambda d, v: d.serial.lower() == str(v).lower(),
            "model": lambda d, v: str(v).lower() in d.model.lower(),
            "rotational": lambda d, v: d.rotational == (str(v).lower() in ("1", "true", "yes")),
            "size": lambda d, v: _size_matches(d.size_bytes, v),
        }
        unknown = set(hints) - set(checks)
        if unknown:
            raise ImageCheckError(f"unsupported root device hints: {', '.join(sorted(unknown))}")
        candidates = [d for d in disks if all(checks[k](d, v) for k, v in hints.items())]
        if not candidates:
            raise ImageCheckError(f"no disk matches the root device hints {dict(hints)}")
        return candidates[0]
    if not candidates:
        raise ImageCheckError("no disk of at least 4 GiB to deploy to")
    return min(candidates, key=lambda d: d.size_bytes)
