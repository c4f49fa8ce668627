"""The hardware inventory an emulated agent reports for agent inspection (``inspect_interface=agent``).

Why derive it from the fleet's Redfish inventory: a host must look the same whether Ironic
inspects it out of band (Redfish, :mod:`teapot.fleet.inventory`) or in band (this module), or the
two inspection modes would produce different HardwareData and labels for one machine.  The shape
is IPA's (``ironic_python_agent.hardware.list_hardware_info`` plus the inspection collectors):
``inventory`` with ``interfaces``/``cpu``/``disks``/``memory``/``system_vendor``/``boot``, and
``pci_devices`` *next to* the inventory (IPA's ``pci-devices`` collector; Ironic keeps it in the
node's plugin data, not in the inventory).
"""

from __future__ import annotations

from typing import Any

from teapot.fleet.agent.media import select_root_disk
from teapot.fleet.agent.timing import disks_of
from teapot.fleet.model import DiskType, Host

__all__ = ["inspection_data"]

#: PCI class code of a 3D controller (what data-centre GPUs report).
_GPU_PCI_CLASS = "030200"


def inspection_data(host: Host) -> dict[str, Any]:
    """The body IPA posts to ``/v1/continue_inspection`` for ``host``."""
    from teapot.fleet.inventory import nics, pcie_devices, processors

    cpus = [p for p in processors(host) if p["type"] == "CPU"]
    cpu = host.model.cpu
    disks = disks_of(host)
    interfaces = [
        {
            "name": nic["id"],
            "mac_address": nic["mac"],
            "ipv4_address": None,
            "ipv6_address": None,
            "has_carrier": True,
            "lldp": None,
            "vendor": "0x8086",
            "product": "0x1592",
            "client_id": None,
            "biosdevname": None,
            "speed_mbps": nic["speed_mbps"],
        }
        for nic in nics(host)
    ]
    inventory: dict[str, Any] = {
        "interfaces": interfaces,
        "cpu": {
            "model_name": cpu.model,
            "frequency": str(cpu.mhz),
            "count": sum(p["threads"] for p in cpus),
            "architecture": str(cpu.arch),
            "flags": ["fpu", "sse2", "avx2"] if str(cpu.arch) == "x86_64" else ["fp", "asimd"],
            "socket_count": cpu.sockets,
        },
        "disks": [
            {
                "name": d.name,
                "model": d.model,
                "size": d.size_bytes,
                "rotational": d.type is DiskType.HDD,
                "wwn": None,
                "serial": d.serial,
                "vendor": d.model.split()[0],
                "wwn_with_extension": None,
                "wwn_vendor_extension": None,
                "hctl": None,
                "by_path": None,
                "logical_sectors": 512,
                "physical_sectors": 4096,
                "tran": "nvme" if d.type is DiskType.NVME else "sas",
            }
            for d in disks
        ],
        "memory": {"total": host.model.memory_gib * 1024**3, "physical_mb": host.model.memory_gib * 1024},
        "bmc_address": "0.0.0.0",
        "bmc_v6address": "::/0",
        "system_vendor": {
            "product_name": host.model.product,
            "serial_number": host.serial,
            "manufacturer": host.model.manufacturer,
            "firmware": {"vendor": host.model.manufacturer, "version": f"{host.model.generation}.4.2"},
        },
        "boot": {"current_boot_mode": "uefi", "pxe_interface": host.boot_mac},
        "hostname": host.name,
    }
    data: dict[str, Any] = {
        "inventory": inventory,
        "boot_interface": host.boot_mac,
        "pci_devices": [
            {
                "vendor_id": dev["vendor_id"].removeprefix("0x"),
                "product_id": dev["device_id"].removeprefix("0x"),
                "class": _GPU_PCI_CLASS,
                "revision": "a1",
                "bus": f"0000:{0x17 + i:02x}:00.0",
            }
            for i, dev in enumerate(pcie_devices(host))
        ],
    }
    if disks:
        try:
            root = select_root_disk(disks, None)
        except ValueError:
            root = None
        if root is not None:
            data["root_disk"] = next(d for d in inventory["disks"] if d["name"] == root.name)
    return data
