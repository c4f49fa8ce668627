"""Generate a datacenter of N hosts for benchmarks (``teapot fleet run --hosts N``).

Why: benchmarks need fleets of 10 … 1,000 hosts that look like a real datacenter (racks of one
hardware model, rows, zones, a mix of generations and some GPU racks) without anyone writing a
YAML file.  The generator builds the same document a person would write and feeds it through
:func:`teapot.fleet.parse.datacenter_from_dict`, so generated and hand-written fleets are validated
and derived (UUIDs, MACs, passwords) identically.
"""

from __future__ import annotations

from teapot.fleet.model import Datacenter
from teapot.fleet.parse import datacenter_from_dict

HOSTS_PER_RACK = 20
RACKS_PER_ROW = 4
ROWS_PER_ZONE = 4

_MODELS: list[dict[str, object]] = [
    {
        "name": "gen1-storage",
        "manufacturer": "Contoso",
        "product": "CS-2100",
        "generation": 1,
        "cpu": {
            "sockets": 2,
            "model": "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz",
            "cores": 16,
            "threads": 32,
            "mhz": 2100,
        },
        "memory_gib": 192,
        "disks": [{"type": "SSD", "size_gb": 480, "count": 2}, {"type": "HDD", "size_gb": 8000, "count": 10}],
        "nics": [{"speed_gbps": 10, "count": 2}],
    },
    {
        "name": "gen2-compute",
        "manufacturer": "Contoso",
        "product": "CC-3200",
        "generation": 2,
        "cpu": {
            "sockets": 2,
            "model": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
            "cores": 32,
            "threads": 64,
            "mhz": 2000,
        },
        "memory_gib": 512,
        "disks": [{"type": "NVMe", "size_gb": 1920, "count": 2}],
        "nics": [{"speed_gbps": 25, "count": 2}],
    },
    {
        "name": "gen3-compute",
        "manufacturer": "Fabrikam",
        "product": "FX-9654",
        "generation": 3,
        "cpu": {
            "sockets": 2,
            "model": "AMD EPYC 9654 96-Core Processor",
            "manufacturer": "Advanced Micro Devices, Inc.",
            "cores": 96,
            "threads": 192,
            "mhz": 2400,
        },
        "memory_gib": 1536,
        "disks": [{"type": "NVMe", "size_gb": 3840, "count": 4}],
        "nics": [{"speed_gbps": 100, "count": 2}],
    },
    {
        "name": "gen3-gpu",
        "manufacturer": "Fabrikam",
        "product": "FG-8A100",
        "generation": 3,
        "cpu": {
            "sockets": 2,
            "model": "AMD EPYC 7763 64-Core Processor",
            "manufacturer": "Advanced Micro Devices, Inc.",
            "cores": 64,
            "threads": 128,
            "mhz": 2450,
        },
        "memory_gib": 2048,
        "disks": [
            {"type": "NVMe", "size_gb": 960, "count": 1},
            {"type": "NVMe", "size_gb": 7680, "count": 4},
        ],
        "nics": [{"speed_gbps": 25, "count": 2}, {"speed_gbps": 200, "count": 4}],
        "gpus": [{"model": "NVIDIA A100-SXM4-80GB", "count": 8, "memory_gib": 80}],
    },
]
# Rack i holds hosts of this model: mostly compute, some storage, every fifth rack GPUs.
_RACK_MODELS = ("gen2-compute", "gen1-storage", "gen3-compute", "gen2-compute", "gen3-gpu")


def generate_document(hosts: int, name: str = "teapot-generated") -> dict[str, object]:
    """The YAML-equivalent document for a fleet of ``hosts`` hosts."""
    if hosts < 1:
        raise ValueError("hosts must be at least 1")
    rack_count = -(-hosts // HOSTS_PER_RACK)
    zones: list[dict[str, object]] = []
    host_entries: list[dict[str, object]] = []
    for rack_index in range(rack_count):
        zone_index, in_zone = divmod(rack_index, RACKS_PER_ROW * ROWS_PER_ZONE)
        row_index = in_zone // RACKS_PER_ROW
        if zone_index == len(zones):
            zones.append(
                {"name": f"zone-{zone_index + 1}", "rooms": [{"name": f"hall-{zone_index + 1}", "rows": []}]}
            )
        rooms = zones[zone_index]["rooms"]
        assert isinstance(rooms, list)
        rows = rooms[0]["rows"]
        if row_index == len(rows):
            rows.append({"name": f"z{zone_index + 1}-row-{row_index + 1}", "racks": []})
        rack = f"r{rack_index + 1:03d}"
        rows[row_index]["racks"].append({"name": rack, "pdus": [f"{rack}-pdu-a", f"{rack}-pdu-b"]})
        in_rack = min(HOSTS_PER_RACK, hosts - rack_index * HOSTS_PER_RACK)
        host_entries.append(
            {
                "name": f"{rack}-u{{i:02d}}",
                "count": in_rack,
                "rack": rack,
                "model": _RACK_MODELS[rack_index % len(_RACK_MODELS)],
            }
        )
    return {
        "name": name,
        "defaults": {"bmc": {"username": "admin"}},
        "regions": [{"name": "region-1", "zones": zones}],
        "models": _MODELS,
        "hosts": host_entries,
    }


def generate_datacenter(hosts: int, name: str = "teapot-generated") -> Datacenter:
    """A validated datacenter of ``hosts`` hosts in racks of 20 (see module docstring)."""
    return datacenter_from_dict(generate_document(hosts, name))
