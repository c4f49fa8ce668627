"""Inspection results → Metal3's ``hardware`` document and Teapot's trait labels.

Why: the scheduler selects hosts by labels (``hardware.teapot.dev/...``), not by digging through
HardwareData, so each inspection is summarised into a few label values a selector can match
(``cpu-arch=x86_64``, ``disk-type=nvme``, ``gpu-count=8``). Pure functions: the same inspection
always gives the same labels, and labels that no longer apply (a GPU removed) are deleted.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from teapot.api import labels as L
from teapot.hosts.provisioner import HardwareDetails

__all__ = ["TRAIT_LABELS", "hardware_document", "label_value", "trait_labels"]

#: Every label this module may write; the controller removes those not derived from the latest inspection.
TRAIT_LABELS: tuple[str, ...] = (
    L.HW_CPU_ARCH,
    L.HW_CPU_MODEL,
    L.HW_CPU_CORES,
    L.HW_MEMORY_GIB,
    L.HW_DISK_TYPE,
    L.HW_DISK_GIB,
    L.HW_NIC_GBPS,
    L.HW_GPU_MODEL,
    L.HW_GPU_COUNT,
)
_DISK_RANK = {"NVME": 3, "SSD": 2, "HDD": 1}
_INVALID = re.compile(r"[^A-Za-z0-9._-]+")


def label_value(text: str) -> str:
    """A valid label value: ``[A-Za-z0-9._-]``, ≤ 63 characters, alphanumeric at both ends."""
    value = _INVALID.sub("-", text.strip())[:63]
    return value.strip("-_.")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def trait_labels(hw: HardwareDetails) -> dict[str, str]:
    """The trait labels of one inspected host (only those the hardware has)."""
    out: dict[str, str] = {}
    if hw.cpu.arch:
        out[L.HW_CPU_ARCH] = label_value(hw.cpu.arch)
    if hw.cpu.model:
        out[L.HW_CPU_MODEL] = label_value(hw.cpu.model)
    if hw.cpu.count:
        out[L.HW_CPU_CORES] = str(hw.cpu.count)
    if hw.ram_mebibytes:
        out[L.HW_MEMORY_GIB] = str(round(hw.ram_mebibytes / 1024))
    if hw.storage:
        fastest = max(hw.storage, key=lambda disk: _DISK_RANK.get(disk.type.upper(), 0))
        out[L.HW_DISK_TYPE] = fastest.type.lower()
        out[L.HW_DISK_GIB] = str(sum(disk.size_bytes for disk in hw.storage) // 2**30)
    speeds = [nic.speed_gbps for nic in hw.nics if nic.speed_gbps]
    if speeds:
        out[L.HW_NIC_GBPS] = _number(max(speeds))
    if hw.gpus:
        model, _ = Counter(f"{gpu.vendor} {gpu.model}".strip() for gpu in hw.gpus).most_common(1)[0]
        out[L.HW_GPU_MODEL] = label_value(model)
        out[L.HW_GPU_COUNT] = str(len(hw.gpus))
    return {key: value for key, value in out.items() if value}


def hardware_document(hw: HardwareDetails) -> dict[str, Any]:
    """Metal3's ``HardwareData.spec.hardware`` / ``status.hardware`` (camelCase wire format)."""
    doc: dict[str, Any] = {
        "cpu": {
            "arch": hw.cpu.arch,
            "model": hw.cpu.model,
            "count": hw.cpu.count,
            **({"clockMegahertz": hw.cpu.clock_megahertz} if hw.cpu.clock_megahertz else {}),
            **({"flags": list(hw.cpu.flags)} if hw.cpu.flags else {}),
        },
        "ramMebibytes": hw.ram_mebibytes,
        "nics": [
            {
                "name": nic.name,
                "mac": nic.mac,
                "pxe": nic.pxe,
                **({"speedGbps": int(nic.speed_gbps)} if nic.speed_gbps else {}),
                **({"ip": nic.ip} if nic.ip else {}),
            }
            for nic in hw.nics
        ],
        "storage": [
            {
                "name": disk.name,
                "type": disk.type.upper() if disk.type.upper() in _DISK_RANK else None,
                "rotational": disk.rotational,
                "sizeBytes": disk.size_bytes,
                **({"model": disk.model} if disk.model else {}),
                **({"serialNumber": disk.serial} if disk.serial else {}),
            }
            for disk in hw.storage
        ],
    }
    for disk in doc["storage"]:
        if disk["type"] is None:
            del disk["type"]
    gpus = Counter((gpu.vendor, gpu.model) for gpu in hw.gpus)
    if gpus:
        doc["gpus"] = [{"vendor": v, "model": m, "count": n} for (v, m), n in sorted(gpus.items())]
    vendor = dict(hw.system_vendor)
    if vendor:
        doc["systemVendor"] = {
            key: vendor[src]
            for key, src in (
                ("manufacturer", "manufacturer"),
                ("productName", "product_name"),
                ("serialNumber", "serial_number"),
            )
            if vendor.get(src)
        }
    if hw.firmware:
        doc["firmware"] = {"bios": dict(hw.firmware)}
    if hw.hostname:
        doc["hostname"] = hw.hostname
    return doc
