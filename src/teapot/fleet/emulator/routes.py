"""Redfish resources sushy-tools does not serve: PCIe devices/functions (GPUs) and Memory DIMMs,
and ``BootSourceOverrideEnabled``, which sushy-tools' ComputerSystem PATCH ignores.

Why: Ironic's out-of-band inspection reads ``PCIeDevices`` into the inventory's ``pci_devices``
(how a GPU shows up without an agent), and sushy-tools' ComputerSystem links a ``Memory``
collection it never serves.  Views return plain dicts, which Flask serialises as JSON; unknown
resources raise sushy-tools' ``NotFound`` so its error handler renders a Redfish error.
"""

from __future__ import annotations

from typing import Any

from sushy_tools import error

from teapot.fleet.emulator.spec import PcieDeviceSpec, SystemSpec

_DIMM_GIB = 64


def _system(app: Any, identity: str) -> SystemSpec:
    spec: SystemSpec = app.systems.inventory(identity)
    return spec


def _device(app: Any, identity: str, device_id: str) -> PcieDeviceSpec:
    for device in _system(app, identity)["pcie_devices"]:
        if device["id"] == device_id:
            return device
    raise error.NotFound(f"No PCIe device {device_id}")


def _collection(odata_id: str, odata_type: str, members: list[str]) -> dict[str, Any]:
    return {
        "@odata.type": f"#{odata_type}.{odata_type}",
        "@odata.id": odata_id,
        "Name": odata_type,
        "Members": [{"@odata.id": f"{odata_id}/{member}"} for member in members],
        "Members@odata.count": len(members),
    }


def register(app: Any) -> None:
    """Add the routes to sushy-tools' Flask ``app``."""
    base = "/redfish/v1/Systems/<identity>"

    def pcie_devices(identity: str) -> dict[str, Any]:
        ids = [d["id"] for d in _system(app, identity)["pcie_devices"]]
        return _collection(f"/redfish/v1/Systems/{identity}/PCIeDevices", "PCIeDeviceCollection", ids)

    def pcie_device(identity: str, device_id: str) -> dict[str, Any]:
        device = _device(app, identity, device_id)
        path = f"/redfish/v1/Systems/{identity}/PCIeDevices/{device_id}"
        return {
            "@odata.type": "#PCIeDevice.v1_9_0.PCIeDevice",
            "@odata.id": path,
            "Id": device_id,
            "Name": device["name"],
            "Manufacturer": device["manufacturer"],
            "Model": device["model"],
            "DeviceType": "SingleFunction",
            "Status": {"State": "Enabled", "Health": "OK"},
            "PCIeFunctions": {"@odata.id": f"{path}/PCIeFunctions"},
        }

    def pcie_functions(identity: str, device_id: str) -> dict[str, Any]:
        _device(app, identity, device_id)
        path = f"/redfish/v1/Systems/{identity}/PCIeDevices/{device_id}/PCIeFunctions"
        return _collection(path, "PCIeFunctionCollection", ["0"])

    def pcie_function(identity: str, device_id: str, function_id: str) -> dict[str, Any]:
        device = _device(app, identity, device_id)
        if function_id != "0":
            raise error.NotFound(f"No PCIe function {function_id}")
        path = f"/redfish/v1/Systems/{identity}/PCIeDevices/{device_id}/PCIeFunctions/0"
        return {
            "@odata.type": "#PCIeFunction.v1_5_0.PCIeFunction",
            "@odata.id": path,
            "Id": "0",
            "Name": device["name"],
            "FunctionId": 0,
            "FunctionType": "Physical",
            "DeviceClass": device["device_class"],
            "VendorId": device["vendor_id"],
            "DeviceId": device["device_id"],
            "SubsystemVendorId": device["vendor_id"],
            "SubsystemId": device["device_id"],
            "Status": {"State": "Enabled", "Health": "OK"},
        }

    def _dimms(identity: str) -> list[str]:
        total = _system(app, identity)["memory_gib"]
        count = max(1, total // _DIMM_GIB)
        return [f"DIMM{i}" for i in range(count)]

    def memory_collection(identity: str) -> dict[str, Any]:
        return _collection(f"/redfish/v1/Systems/{identity}/Memory", "MemoryCollection", _dimms(identity))

    def memory(identity: str, dimm: str) -> dict[str, Any]:
        dimms = _dimms(identity)
        if dimm not in dimms:
            raise error.NotFound(f"No memory module {dimm}")
        total_mib = _system(app, identity)["memory_gib"] * 1024
        return {
            "@odata.type": "#Memory.v1_11_0.Memory",
            "@odata.id": f"/redfish/v1/Systems/{identity}/Memory/{dimm}",
            "Id": dimm,
            "Name": dimm,
            "MemoryDeviceType": "DDR4",
            "CapacityMiB": total_mib // len(dimms),
            "Status": {"State": "Enabled", "Health": "OK"},
        }

    app.add_url_rule(f"{base}/PCIeDevices", "teapot_pcie_devices", pcie_devices)
    app.add_url_rule(f"{base}/PCIeDevices/<device_id>", "teapot_pcie_device", pcie_device)
    app.add_url_rule(f"{base}/PCIeDevices/<device_id>/PCIeFunctions", "teapot_pcie_functions", pcie_functions)
    app.add_url_rule(
        f"{base}/PCIeDevices/<device_id>/PCIeFunctions/<function_id>", "teapot_pcie_function", pcie_function
    )
    app.add_url_rule(f"{base}/Memory", "teapot_memory_collection", memory_collection)
    app.add_url_rule(f"{base}/Memory/<dimm>", "teapot_memory", memory)


def record_boot_override(app: Any, request: Any) -> None:
    """Wrap sushy-tools' ComputerSystem view so a PATCH's ``BootSourceOverrideEnabled`` is kept.

    ``request`` is Flask's request proxy (passed in: Flask exists only in the services venv).
    """
    original = app.view_functions["system_resource"]

    def system_resource(identity: str) -> Any:
        if request.method == "PATCH":
            body = request.get_json(silent=True) or {}
            boot = body.get("Boot") if isinstance(body, dict) else None
            if isinstance(boot, dict) and "BootSourceOverrideEnabled" in boot:
                app.systems.set_boot_override(identity, boot["BootSourceOverrideEnabled"])
                others = set(boot) - {"BootSourceOverrideEnabled"}
                if not others and "IndicatorLED" not in body:
                    return "", 204  # sushy-tools would refuse a PATCH without a target
        return original(identity=identity)

    app.view_functions["system_resource"] = system_resource
