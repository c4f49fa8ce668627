"""Datacenter description: parsing, field-path errors, derived values, generator, manifests."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from teapot.cli.main import main
from teapot.fleet import labels
from teapot.fleet.fleet import fleet_host
from teapot.fleet.generate import generate_datacenter, generate_document
from teapot.fleet.inventory import system_spec
from teapot.fleet.manifests import render
from teapot.fleet.model import DiskType
from teapot.fleet.parse import FleetSpecError, datacenter_from_dict, load_datacenter, loads_datacenter

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "datacenter.yaml"


def _doc() -> dict[str, Any]:
    with open(EXAMPLE, encoding="utf-8") as handle:
        doc: dict[str, Any] = yaml.safe_load(handle)
    return doc


def test_example_is_a_mixed_datacenter() -> None:
    dc = load_datacenter(EXAMPLE)
    assert len(dc.hosts) == 24
    assert len(dc.racks) >= 3
    assert len({h.model.generation for h in dc.hosts}) >= 3
    gpu_hosts = [h for h in dc.hosts if h.model.gpu_count]
    assert 0 < len(gpu_hosts) < len(dc.hosts)
    assert {d.type for h in dc.hosts for d in h.model.disks} == set(DiskType)
    macs = [m for h in dc.hosts for m in h.macs]
    assert len(macs) == len(set(macs))
    assert len({h.uuid for h in dc.hosts}) == 24
    # passwords differ per host unless given explicitly
    assert len({h.bmc.password for h in dc.hosts}) == 24
    explicit = dc.host("b02-u05")
    assert (explicit.bmc.username, explicit.bmc.password) == ("root", "calvin")
    assert explicit.boot_mac == "52:54:00:00:b2:05"
    assert explicit.pdu == "b02-pdu-b"
    assert "calvin" not in repr(explicit)


def test_derived_values_are_deterministic() -> None:
    assert load_datacenter(EXAMPLE) == load_datacenter(EXAMPLE)
    first = load_datacenter(EXAMPLE).hosts[0]
    assert first.boot_mac.startswith("02:")  # locally administered
    assert first.location.rack == "a01" and first.location.zone == "eu-west-1a"


def _mutate(path: str, value: object) -> dict[str, Any]:
    doc = copy.deepcopy(_doc())
    target: Any = doc
    keys: list[str | int] = [int(k) if k.isdigit() else k for k in path.split("/")]
    for key in keys[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("mutation", "value", "error_path", "words"),
    [
        ("hosts/0/model", "gen9", "hosts[0](i=1).model", "unknown hardware model 'gen9'"),
        ("hosts/5/model", "gen9", "hosts[5].model", "unknown hardware model"),
        ("hosts/5/rack", "zz9", "hosts[5].rack", "unknown rack 'zz9'"),
        ("hosts/5/pdu", "a01-pdu-a", "hosts[5].pdu", "has no PDU"),
        ("hosts/5/macs", ["52:54:00:00:b2:05", "nonsense"], "hosts[5].macs[1]", "not a MAC"),
        ("hosts/5/macs", ["52:54:00:00:b2:05"], "hosts[5].macs", "2 NICs but 1 MACs"),
        ("hosts/5/bmc", {"username": "root", "passwd": "x"}, "hosts[5].bmc.passwd", "unknown field"),
        ("hosts/5/name", "a01-u01", "hosts[5].name", "duplicate host 'a01-u01'"),
        ("hosts/0/name", "a01-u", "hosts[0].name", "{i} placeholder"),
        ("hosts/0/count", 0, "hosts[0].count", "at least 1"),
        ("models/0/disks/0/type", "floppy", "models[0].disks[0].type", "not one of"),
        ("models/0/disks/1/size_gb", "8TB", "models[0].disks[1].size_gb", "expected an integer"),
        ("models/1/cpu/threads", 8, "models[1].cpu.threads", "at least cores"),
        ("models/1/cpu/speed", 3, "models[1].cpu.speed", "unknown field"),
        ("models/2/nics", _DELETE, "models[2].nics", "required"),
        ("models/2/memory_gib", True, "models[2].memory_gib", "expected an integer"),
        ("models/3/name", "gen1-storage", "models[3].name", "duplicate hardware model"),
        (
            "regions/0/zones/0/rooms/0/rows/0/racks/0/pdus",
            ["A B"],
            "regions[0].zones[0].rooms[0].rows[0].racks[0].pdus[0]",
            "not a valid PDU",
        ),
        ("regions/0/zones/0/name", "Bad_Name", "regions[0].zones[0].name", "not a valid name"),
        ("defaults/bmc/password", "", "defaults.bmc.password", "non-empty"),
        (
            "regions/0/zones/1/rooms/0/rows/0/racks/1/name",
            "a01",
            "regions[0].zones[1].rooms[0].rows[0].racks[1].name",
            "duplicate rack 'a01'",
        ),
        ("kind", _DELETE, None, None),
    ],
)
def test_errors_name_the_field(
    mutation: str, value: object, error_path: str | None, words: str | None
) -> None:
    doc = _mutate(mutation, value)
    if error_path is None:  # an allowed change: still valid
        assert len(datacenter_from_dict(doc).hosts) == 24
        return
    with pytest.raises(FleetSpecError) as info:
        datacenter_from_dict(doc)
    assert info.value.path == error_path
    assert words is not None and words in str(info.value)
    assert str(info.value).startswith(error_path + ": ")


def test_top_level_errors() -> None:
    with pytest.raises(FleetSpecError, match="expected a mapping"):
        loads_datacenter("- just a list")
    with pytest.raises(FleetSpecError, match="not valid YAML"):
        loads_datacenter("name: [unclosed")
    with pytest.raises(FleetSpecError) as info:
        loads_datacenter("name: dc\nregions: []\nmodels: []\n")
    assert info.value.path == "hosts"
    with pytest.raises(FleetSpecError) as info:
        loads_datacenter("name: dc\nbogus: 1\n")
    assert info.value.path == "bogus"


@pytest.mark.parametrize("count", [1, 20, 21, 333])
def test_generator(count: int) -> None:
    dc = generate_datacenter(count)
    assert len(dc.hosts) == count
    assert len(dc.racks) == -(-count // 20)
    macs = [m for h in dc.hosts for m in h.macs]
    assert len(macs) == len(set(macs))
    if count > 100:
        assert any(h.model.gpu_count for h in dc.hosts)
        assert len({h.location.zone for h in dc.hosts}) == 2
    assert generate_document(count) == generate_document(count)


def test_generator_rejects_zero() -> None:
    with pytest.raises(ValueError):
        generate_datacenter(0)


def test_inventory_of_a_gpu_host() -> None:
    host = load_datacenter(EXAMPLE).host("b02-u01")
    spec = system_spec(host)
    types = [p["type"] for p in spec["processors"]]
    assert types == ["CPU", "CPU"] + ["GPU"] * 8  # CPUs first: Ironic reads the first member
    assert all(p["threads"] == 0 for p in spec["processors"] if p["type"] == "GPU")
    assert [n["mac"] for n in spec["nics"]] == list(host.macs)
    assert spec["nics"][0]["id"] == "eno1" and spec["nics"][2]["speed_mbps"] == 200_000
    assert [d["name"] for d in spec["drives"]][:2] == ["/dev/nvme0n1", "/dev/nvme1n1"]
    assert {d["protocol"] for d in spec["drives"]} == {"NVMe"}
    assert len(spec["pcie_devices"]) == 8 and spec["pcie_devices"][0]["vendor_id"] == "0x10de"
    hdd = system_spec(load_datacenter(EXAMPLE).host("a01-u01"))
    assert [d["name"] for d in hdd["drives"]][:3] == ["/dev/sda", "/dev/sdb", "/dev/sdc"]
    assert hdd["drives"][2]["media_type"] == "HDD" and hdd["drives"][2]["rpm"] == 7200


def test_manifests() -> None:
    dc = load_datacenter(EXAMPLE)
    hosts = [fleet_host(dc.name, h, "https://127.0.0.1:8443") for h in dc.hosts]
    docs = list(yaml.safe_load_all(render(hosts, namespace="metal")))
    assert len(docs) == 48
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    bmhs = [d for d in docs if d["kind"] == "BareMetalHost"]
    assert {d["apiVersion"] for d in bmhs} == {"metal3.io/v1alpha1"}
    gpu = next(d for d in bmhs if d["metadata"]["name"] == "b02-u01")
    host = dc.host("b02-u01")
    assert gpu["metadata"]["namespace"] == "metal"
    assert gpu["spec"]["bmc"]["address"] == f"redfish+https://127.0.0.1:8443/redfish/v1/Systems/{host.uuid}"
    assert gpu["spec"]["bmc"]["disableCertificateVerification"] is True
    assert gpu["spec"]["bootMACAddress"] == host.boot_mac
    assert gpu["metadata"]["labels"][labels.RACK] == "b02"
    assert gpu["metadata"]["labels"][labels.PDU] == host.pdu
    assert gpu["metadata"]["labels"][labels.ZONE] == "eu-west-1b"
    secret = secrets[gpu["spec"]["bmc"]["credentialsName"]]
    assert base64.b64decode(secret["data"]["password"]).decode() == host.bmc.password
    assert host.bmc.password not in str(gpu)


def test_cli_manifests_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["fleet", "manifests", "-f", str(EXAMPLE), "--port", "8123", "--scheme", "redfish-virtualmedia"])
        == 0
    )
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert docs[1]["spec"]["bmc"]["address"].startswith("redfish-virtualmedia+http://127.0.0.1:8123/")
    assert main(["fleet", "show", "--hosts", "3"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["NAME", "RACK", "PDU"] and len(table) == 4
    assert main(["fleet", "show", "-f", "/nonexistent.yaml"]) == 2
