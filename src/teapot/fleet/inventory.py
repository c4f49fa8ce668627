"""Turn a host's hardware model into the Redfish inventory the emulator serves.

Why a separate step: the datacenter file speaks in groups ("10 x 8 TB HDD", "2 x 25 GbE"); a BMC
speaks in devices with ids, names, serials and PCI ids.  Expanding here, on Teapot's side, keeps
the emulator process a dumb server of :mod:`teapot.fleet.emulator.spec` documents, and makes the
names predictable for tests (drives ``/dev/sda`` or ``/dev/nvme0n1``, NICs ``eno1``/``ens2f0``).
"""

from __future__ import annotations

import hashlib
from typing import Literal

from teapot.fleet.emulator.spec import DriveSpec, NicSpec, PcieDeviceSpec, ProcessorSpec, SystemSpec
from teapot.fleet.model import Arch, DiskType, Host

# (Redfish ProcessorArchitecture, InstructionSet) per architecture.
_ARCH = {Arch.X86_64: ("x86", "x86-64"), Arch.AARCH64: ("ARM", "ARM-A64")}
_PCI_VENDORS = {"nvidia": "0x10de", "amd": "0x1002", "advanced micro": "0x1002", "intel": "0x8086"}
_PCI_DEVICES = {"A100": "0x20b2", "H100": "0x2330", "L40S": "0x26b9", "T4": "0x1eb8", "MI250": "0x740c"}


def _serial(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:12].upper()


def processors(host: Host) -> list[ProcessorSpec]:
    cpu = host.model.cpu
    architecture, instruction_set = _ARCH[cpu.arch]
    result: list[ProcessorSpec] = [
        {
            "id": f"CPU{i}",
            "socket": f"CPU {i}",
            "type": "CPU",
            "architecture": architecture,
            "instruction_set": instruction_set,
            "manufacturer": cpu.manufacturer,
            "model": cpu.model,
            "cores": cpu.cores,
            "threads": cpu.threads,
            "max_mhz": cpu.mhz,
        }
        for i in range(cpu.sockets)
    ]
    index = 0
    for group in host.model.gpus:
        for _ in range(group.count):
            result.append(
                {
                    "id": f"GPU{index}",
                    "socket": f"PCIe Slot {index + 1}",
                    "type": "GPU",
                    "architecture": "",
                    "instruction_set": "",
                    "manufacturer": group.manufacturer,
                    "model": group.model,
                    "cores": 0,
                    "threads": 0,  # GPUs must not count as logical CPUs (Ironic sums TotalThreads)
                    "max_mhz": 0,
                }
            )
            index += 1
    return result


def drives(host: Host) -> list[DriveSpec]:
    result: list[DriveSpec] = []
    nvme = sata = 0
    for group in host.model.disks:
        for _ in range(group.count):
            protocol: Literal["NVMe", "SATA", "SAS"]
            if group.type is DiskType.NVME:
                name, protocol = f"/dev/nvme{nvme}n1", "NVMe"
                nvme += 1
            else:
                name = (
                    f"/dev/sd{chr(ord('a') + sata)}" if sata < 26 else f"/dev/sda{chr(ord('a') + sata - 26)}"
                )
                protocol = "SAS" if group.type is DiskType.HDD else "SATA"
                sata += 1
            index = len(result)
            result.append(
                {
                    "id": f"Disk{index}",
                    "name": name,
                    "media_type": "HDD" if group.type is DiskType.HDD else "SSD",
                    "protocol": protocol,
                    "capacity_bytes": group.size_bytes,
                    "model": group.model,
                    "manufacturer": group.model.split()[0],
                    "serial": _serial(host.serial, "disk", str(index)),
                    "rpm": 7200 if group.type is DiskType.HDD else 0,
                }
            )
    return result


def nics(host: Host) -> list[NicSpec]:
    result: list[NicSpec] = []
    macs = iter(host.macs)
    for group_index, group in enumerate(host.model.nics):
        for port in range(group.count):
            nic_id = f"eno{port + 1}" if group_index == 0 else f"ens{group_index + 1}f{port}"
            result.append({"id": nic_id, "mac": next(macs), "speed_mbps": group.speed_gbps * 1000})
    return result


def pcie_devices(host: Host) -> list[PcieDeviceSpec]:
    result: list[PcieDeviceSpec] = []
    for group in host.model.gpus:
        vendor = next((v for k, v in _PCI_VENDORS.items() if k in group.manufacturer.lower()), "0xffff")
        device = next((v for k, v in _PCI_DEVICES.items() if k in group.model), "0x0000")
        for _ in range(group.count):
            result.append(
                {
                    "id": f"GPU{len(result)}",
                    "name": group.model,
                    "manufacturer": group.manufacturer,
                    "model": group.model,
                    "device_class": "DisplayController",
                    "vendor_id": vendor,
                    "device_id": device,
                }
            )
    return result


def system_spec(host: Host, power_state: Literal["On", "Off"] = "Off") -> SystemSpec:
    """The emulator's view of one host."""
    return {
        "uuid": host.uuid,
        "name": host.name,
        "username": host.bmc.username,
        "password": host.bmc.password,
        "power_state": power_state,
        "manufacturer": host.model.manufacturer,
        "model": host.model.product,
        "serial": host.serial,
        "bios_version": f"{host.model.generation}.4.2",
        "memory_gib": host.model.memory_gib,
        "processors": processors(host),
        "drives": drives(host),
        "nics": nics(host),
        "pcie_devices": pcie_devices(host),
    }
