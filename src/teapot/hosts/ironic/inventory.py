"""Turn Ironic's inspection inventory into :class:`~teapot.hosts.provisioner.HardwareDetails`.

Why this module exists: Ironic stores inventory in ironic-python-agent's JSON shape whether it came
from the agent or from out-of-band Redfish inspection, with optional keys everywhere (the Redfish
path fills fewer of them). Parsing that loosely-typed dict in one pure function keeps raw dicts out
of the controller and makes the heuristics (disk type, GPU detection) explicit and testable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from teapot.hosts.provisioner import CPU, GPU, NIC, HardwareDetails, Storage

__all__ = ["GPU_VENDORS", "parse_inventory"]

#: PCI vendor IDs of GPU makers, for naming GPUs found among PCIe functions.
GPU_VENDORS: dict[str, str] = {"0x10de": "NVIDIA", "0x1002": "AMD", "0x8086": "Intel", "0x1a03": "ASPEED"}
#: Redfish PCIe function classes (and PCI class-code prefixes) that are GPUs.
_GPU_CLASSES = ("DisplayController", "ProcessingAccelerators", "0x03", "03")


def _str(value: object, default: str = "") -> str:
    return str(value) if value is not None else default


def _int(value: object, default: int = 0) -> int:
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return default


def _disk_type(disk: Mapping[str, Any]) -> tuple[str, bool]:
    """Metal3's HDD/SSD/NVME from IPA's fields; Redfish inspection may omit ``rotational``."""
    name = _str(disk.get("name")).lower()
    model = _str(disk.get("model")).lower()
    rotational = bool(disk.get("rotational", False))
    if rotational:
        return "HDD", True
    if "nvme" in name or "nvme" in model:
        return "NVME", False
    return "SSD", False


def _gpu(device: Mapping[str, Any]) -> GPU | None:
    device_class = _str(device.get("class"))
    if not device_class.startswith(_GPU_CLASSES):
        return None
    vendor_id = _str(device.get("vendor_id")).lower()
    if vendor_id == "0x1a03":  # BMC's on-board VGA, not a compute GPU
        return None
    vendor = GPU_VENDORS.get(vendor_id, vendor_id or "unknown")
    model = _str(device.get("product_name") or device.get("product_id"), "unknown")
    return GPU(vendor=vendor, model=model, pci_address=device.get("bus"))


def parse_inventory(inventory: Mapping[str, Any], hostname: str | None = None) -> HardwareDetails:
    """Parse an IPA-format inventory (the ``inventory`` member of Ironic's inventory API)."""
    cpu_raw: Mapping[str, Any] = inventory.get("cpu") or {}
    frequency = cpu_raw.get("frequency")
    cpu = CPU(
        arch=_str(cpu_raw.get("architecture")),
        model=_str(cpu_raw.get("model_name")),
        count=_int(cpu_raw.get("count")),
        clock_megahertz=float(frequency) if frequency not in (None, "") else None,
        flags=tuple(sorted(_str(f) for f in cpu_raw.get("flags") or ())),
    )
    memory: Mapping[str, Any] = inventory.get("memory") or {}
    ram = _int(memory.get("physical_mb")) or _int(memory.get("total")) // (1024 * 1024)
    nics = []
    for iface in inventory.get("interfaces") or ():
        speed = iface.get("speed_mbps")
        nics.append(
            NIC(
                name=_str(iface.get("name")),
                mac=_str(iface.get("mac_address")).lower(),
                speed_gbps=_int(speed) / 1000 if speed is not None else None,
                ip=iface.get("ipv4_address") or None,
                pxe=bool(iface.get("pxe_enabled", False)),
            )
        )
    storage = []
    for disk in inventory.get("disks") or ():
        kind, rotational = _disk_type(disk)
        storage.append(
            Storage(
                name=_str(disk.get("name")),
                size_bytes=_int(disk.get("size")),
                type=kind,
                rotational=rotational,
                model=disk.get("model") or None,
                serial=disk.get("serial") or None,
            )
        )
    gpus = tuple(g for g in (_gpu(d) for d in inventory.get("pci_devices") or ()) if g is not None)
    vendor: Mapping[str, Any] = inventory.get("system_vendor") or {}
    firmware: Mapping[str, Any] = vendor.get("firmware") or {}
    return HardwareDetails(
        cpu=cpu,
        ram_mebibytes=ram,
        nics=tuple(nics),
        storage=tuple(storage),
        gpus=gpus,
        system_vendor=tuple(
            (k, _str(vendor[k])) for k in ("manufacturer", "product_name", "serial_number") if vendor.get(k)
        ),
        firmware=tuple((k, _str(v)) for k, v in sorted(firmware.items()) if v),
        hostname=hostname,
    )
