"""Run Ironic's own Redfish inspection helpers against emulated BMCs (services virtualenv only).

Usage: python ironic_probe.py BASE_URL < hosts.json  (a list of {name, username, password, path});
prints one JSON object: host name -> what Ironic's out-of-band inspection extracts.
"""

from __future__ import annotations

import json
import sys
import types
import warnings

warnings.simplefilter("ignore")

import sushy  # noqa: E402
from ironic.drivers.modules.redfish.inspect import RedfishInspect  # type: ignore[import-not-found]  # noqa: E402


def main() -> None:
    base_url = sys.argv[1]
    inspector = RedfishInspect.__new__(RedfishInspect)  # skip hook loading (needs full config)
    result = {}
    for host in json.load(sys.stdin):
        conn = sushy.Sushy(
            base_url + "/redfish/v1",
            username=host["username"],
            password=host["password"],
            verify=False,
            server_side_retries=0,
        )
        system = conn.get_system(host["path"])
        task = types.SimpleNamespace(node=types.SimpleNamespace(uuid=host["name"], properties={}))
        result[host["name"]] = {
            "memory_gib": system.memory_summary.size_gib,
            "cpu": inspector._get_processor_info(task, system),
            "local_gb": inspector._detect_local_gb(task, system),
            "interfaces": inspector._get_interface_info(task, system),
            "disks": inspector._get_simple_disks(system),
            "controllers": inspector._get_storage_controllers(task, system),
            "pci_devices": inspector._get_pcie_devices(system),
            "system_vendor": inspector._get_system_vendor_info(task, system),
            "boot_mode": system.boot.mode.value if system.boot.mode else None,
        }
    json.dump(result, sys.stdout, default=str)


if __name__ == "__main__":
    main()
