"""Read a datacenter description (YAML) into :mod:`teapot.fleet.model` values.

Why hand-written rather than a schema library: the file is small, but its errors must name the
field the way the operator wrote it (``hosts[3].model: unknown hardware model 'gen9'``), including
cross-references (a host's rack, PDU and model must exist) and the ``count:`` shorthand for runs of
identical hosts, which expands before validation.  A few typed helpers below do that in one pass;
a generic validator would still need all the cross-reference code.

Format (see ``examples/datacenter.yaml`` and ``docs/fleet.md``)::

    name: dc1
    defaults: {bmc: {username: admin}}          # password omitted: derived per host
    regions:
      - name: eu-west
        zones: [{name: eu-west-1a, rooms: [{name: hall-1, rows: [{name: a, racks: [
                 {name: a01, pdus: [a01-pdu-a, a01-pdu-b]}]}]}]}]
    models:
      - {name: gen2, manufacturer: Contoso, product: R650, generation: 2,
         cpu: {sockets: 2, model: Xeon Gold 6338, cores: 32, threads: 64, mhz: 2000, arch: x86_64},
         memory_gib: 512, disks: [{type: NVMe, size_gb: 1920, count: 2}],
         nics: [{speed_gbps: 25, count: 2}], gpus: []}
    hosts:
      - {name: "a01-u{i:02d}", count: 8, rack: a01, model: gen2}
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import TypeVar

import yaml

from teapot.fleet.model import (
    Arch,
    Cpu,
    Credentials,
    Datacenter,
    DiskGroup,
    DiskType,
    GpuGroup,
    HardwareModel,
    Host,
    Location,
    NicGroup,
    Pdu,
    Rack,
    Region,
    Room,
    Row,
    Zone,
    host_mac,
    host_password,
    host_serial,
    host_uuid,
)

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_MAX_COUNT = 100_000

T = TypeVar("T")


class FleetSpecError(ValueError):
    """Invalid datacenter description; ``path`` names the offending field (``hosts[3].model``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _mapping(value: object, path: str, allowed: Sequence[str]) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise FleetSpecError(path, f"expected a mapping, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str) or key not in allowed:
            raise FleetSpecError(_join(path, str(key)), f"unknown field (allowed: {', '.join(allowed)})")
    return value


def _list(m: Mapping[str, object], key: str, path: str, required: bool = False) -> list[object]:
    value = m.get(key)
    if value is None:
        if required:
            raise FleetSpecError(_join(path, key), "required field is missing")
        return []
    if not isinstance(value, list):
        raise FleetSpecError(_join(path, key), f"expected a list, got {type(value).__name__}")
    return value


def _str(m: Mapping[str, object], key: str, path: str, default: str | None = None) -> str:
    value = m.get(key, default)
    if value is None:
        raise FleetSpecError(_join(path, key), "required field is missing")
    if not isinstance(value, str) or not value:
        raise FleetSpecError(_join(path, key), f"expected a non-empty string, got {value!r}")
    return value


def _name(m: Mapping[str, object], key: str, path: str) -> str:
    value = _str(m, key, path)
    if not _NAME.match(value):
        raise FleetSpecError(
            _join(path, key), f"{value!r} is not a valid name (lower-case letters, digits, '-', '.')"
        )
    return value


def _int(m: Mapping[str, object], key: str, path: str, default: int | None = None, minimum: int = 1) -> int:
    value = m.get(key, default)
    if value is None:
        raise FleetSpecError(_join(path, key), "required field is missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise FleetSpecError(_join(path, key), f"expected an integer, got {value!r}")
    if value < minimum:
        raise FleetSpecError(_join(path, key), f"must be at least {minimum}, got {value}")
    return value


def _unique(names: Sequence[str], list_path: str, field: str | None, what: str) -> None:
    """Refuse the second occurrence of a name; the error names ``list_path[i].field``."""
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            path = _join(list_path, index)
            raise FleetSpecError(_join(path, field) if field else path, f"duplicate {what} {name!r}")
        seen.add(name)


def _enum(m: Mapping[str, object], key: str, path: str, choices: Mapping[str, T], default: str | None) -> T:
    raw = _str(m, key, path, default)
    try:
        return choices[raw.lower()]
    except KeyError:
        raise FleetSpecError(
            _join(path, key), f"{raw!r} is not one of {', '.join(sorted(choices))}"
        ) from None


_DISK_TYPES = {t.value.lower(): t for t in DiskType}
_ARCHES = {a.value: a for a in Arch} | {"amd64": Arch.X86_64, "arm64": Arch.AARCH64}


def _cpu(value: object, path: str) -> Cpu:
    m = _mapping(value, path, ("sockets", "model", "manufacturer", "cores", "threads", "mhz", "arch"))
    cores = _int(m, "cores", path)
    threads = _int(m, "threads", path, default=cores)
    if threads < cores:
        raise FleetSpecError(_join(path, "threads"), f"must be at least cores ({cores}), got {threads}")
    arch = _enum(m, "arch", path, _ARCHES, "x86_64")
    default_vendor = "Ampere" if arch is Arch.AARCH64 else "Intel(R) Corporation"
    return Cpu(
        sockets=_int(m, "sockets", path, default=1),
        model=_str(m, "model", path),
        manufacturer=_str(m, "manufacturer", path, default_vendor),
        cores=cores,
        threads=threads,
        mhz=_int(m, "mhz", path, default=2000),
        arch=arch,
    )


def _disk(value: object, path: str) -> DiskGroup:
    m = _mapping(value, path, ("type", "size_gb", "count", "model"))
    disk_type = _enum(m, "type", path, _DISK_TYPES, None)
    size_gb = _int(m, "size_gb", path)
    return DiskGroup(
        type=disk_type,
        size_gb=size_gb,
        count=_int(m, "count", path, default=1),
        model=_str(m, "model", path, f"Emulated {disk_type.value} {size_gb}GB"),
    )


def _nic(value: object, path: str) -> NicGroup:
    m = _mapping(value, path, ("speed_gbps", "count"))
    return NicGroup(speed_gbps=_int(m, "speed_gbps", path), count=_int(m, "count", path, default=1))


def _gpu(value: object, path: str) -> GpuGroup:
    m = _mapping(value, path, ("model", "manufacturer", "count", "memory_gib"))
    return GpuGroup(
        model=_str(m, "model", path),
        manufacturer=_str(m, "manufacturer", path, "NVIDIA Corporation"),
        count=_int(m, "count", path, default=1),
        memory_gib=_int(m, "memory_gib", path, default=16),
    )


def _model(value: object, path: str) -> HardwareModel:
    m = _mapping(
        value,
        path,
        ("name", "manufacturer", "product", "generation", "cpu", "memory_gib", "disks", "nics", "gpus"),
    )
    if "cpu" not in m:
        raise FleetSpecError(_join(path, "cpu"), "required field is missing")
    nics = tuple(_nic(v, _join(_join(path, "nics"), i)) for i, v in enumerate(_list(m, "nics", path, True)))
    if not nics:
        raise FleetSpecError(_join(path, "nics"), "a host needs at least one NIC (the boot NIC)")
    return HardwareModel(
        name=_name(m, "name", path),
        manufacturer=_str(m, "manufacturer", path, "Teapot Emulated Systems"),
        product=_str(m, "product", path, "Generic Server"),
        generation=_int(m, "generation", path, default=1),
        cpu=_cpu(m["cpu"], _join(path, "cpu")),
        memory_gib=_int(m, "memory_gib", path),
        disks=tuple(_disk(v, _join(_join(path, "disks"), i)) for i, v in enumerate(_list(m, "disks", path))),
        nics=nics,
        gpus=tuple(_gpu(v, _join(_join(path, "gpus"), i)) for i, v in enumerate(_list(m, "gpus", path))),
    )


def _regions(doc: Mapping[str, object]) -> tuple[Region, ...]:
    regions = []
    rack_names: set[str] = set()
    for ri, rv in enumerate(_list(doc, "regions", "", required=True)):
        rpath = _join("regions", ri)
        rm = _mapping(rv, rpath, ("name", "zones"))
        zones = []
        for zi, zv in enumerate(_list(rm, "zones", rpath, required=True)):
            zpath = _join(_join(rpath, "zones"), zi)
            zm = _mapping(zv, zpath, ("name", "rooms"))
            rooms = []
            for mi, mv in enumerate(_list(zm, "rooms", zpath, required=True)):
                mpath = _join(_join(zpath, "rooms"), mi)
                mm = _mapping(mv, mpath, ("name", "rows"))
                rows = []
                for wi, wv in enumerate(_list(mm, "rows", mpath, required=True)):
                    wpath = _join(_join(mpath, "rows"), wi)
                    wm = _mapping(wv, wpath, ("name", "racks"))
                    racks = []
                    for ki, kv in enumerate(_list(wm, "racks", wpath, required=True)):
                        kpath = _join(_join(wpath, "racks"), ki)
                        km = _mapping(kv, kpath, ("name", "pdus"))
                        pdus = []
                        for pi, pv in enumerate(_list(km, "pdus", kpath)):
                            ppath = _join(_join(kpath, "pdus"), pi)
                            if not isinstance(pv, str) or not _NAME.match(pv):
                                raise FleetSpecError(ppath, f"{pv!r} is not a valid PDU name")
                            pdus.append(Pdu(pv))
                        _unique([p.name for p in pdus], _join(kpath, "pdus"), None, "PDU")
                        rack_name = _name(km, "name", kpath)
                        if rack_name in rack_names:
                            raise FleetSpecError(_join(kpath, "name"), f"duplicate rack {rack_name!r}")
                        rack_names.add(rack_name)
                        racks.append(Rack(rack_name, tuple(pdus)))
                    rows.append(Row(_name(wm, "name", wpath), tuple(racks)))
                rooms.append(Room(_name(mm, "name", mpath), tuple(rows)))
            zones.append(Zone(_name(zm, "name", zpath), tuple(rooms)))
        regions.append(Region(_name(rm, "name", rpath), tuple(zones)))
    return tuple(regions)


def _credentials(value: object, path: str, username: str, password: str) -> Credentials:
    m = _mapping(value if value is not None else {}, path, ("username", "password"))
    return Credentials(_str(m, "username", path, username), _str(m, "password", path, password))


def _expand_hosts(doc: Mapping[str, object]) -> list[tuple[str, str, Mapping[str, object]]]:
    """(path, name, fields) per host, with ``count:`` runs expanded."""
    allowed = ("name", "count", "rack", "pdu", "model", "bmc", "macs", "uuid")
    result = []
    for index, value in enumerate(_list(doc, "hosts", "", required=True)):
        path = _join("hosts", index)
        m = _mapping(value, path, allowed)
        name = _str(m, "name", path)
        if "count" not in m:
            result.append((path, name, m))
            continue
        count = _int(m, "count", path)
        if count > _MAX_COUNT:
            raise FleetSpecError(_join(path, "count"), f"at most {_MAX_COUNT} hosts per entry")
        for key in ("macs", "uuid"):
            if key in m:
                raise FleetSpecError(_join(path, key), "cannot be given together with count")
        if "{i" not in name:
            raise FleetSpecError(_join(path, "name"), "with count, the name needs an {i} placeholder")
        for i in range(1, count + 1):
            try:
                expanded = name.format(i=i)
            except (ValueError, KeyError, IndexError) as exc:
                raise FleetSpecError(_join(path, "name"), f"bad name template: {exc}") from None
            result.append((f"{path}(i={i})", expanded, m))
    return result


def datacenter_from_dict(doc: object) -> Datacenter:
    """Validate a parsed YAML document; raises :class:`FleetSpecError` naming the bad field."""
    top = _mapping(doc, "", ("apiVersion", "kind", "name", "defaults", "regions", "models", "hosts"))
    dc = _name(top, "name", "")
    defaults = _mapping(top.get("defaults") or {}, "defaults", ("bmc",))
    dm = _mapping(defaults.get("bmc") or {}, "defaults.bmc", ("username", "password"))
    default_user = _str(dm, "username", "defaults.bmc", "admin")
    default_password = _str(dm, "password", "defaults.bmc") if "password" in dm else None
    regions = _regions(top)
    models = tuple(_model(v, _join("models", i)) for i, v in enumerate(_list(top, "models", "", True)))
    _unique([m.name for m in models], "models", "name", "hardware model")
    by_model = {model.name: model for model in models}

    racks: dict[str, tuple[Location, Rack]] = {}
    for region in regions:
        for zone in region.zones:
            for room in zone.rooms:
                for row in room.rows:
                    for rack in row.racks:
                        loc = Location(region.name, zone.name, room.name, row.name, rack.name)
                        racks[rack.name] = (loc, rack)

    hosts: list[Host] = []
    names: set[str] = set()
    uuids: set[str] = set()
    macs_seen: dict[str, str] = {}
    for path, name, m in _expand_hosts(top):
        if not _NAME.match(name):
            raise FleetSpecError(_join(path, "name"), f"{name!r} is not a valid host name")
        if name in names:
            raise FleetSpecError(_join(path, "name"), f"duplicate host {name!r}")
        names.add(name)
        rack_name = _str(m, "rack", path)
        if rack_name not in racks:
            raise FleetSpecError(_join(path, "rack"), f"unknown rack {rack_name!r}")
        location, rack = racks[rack_name]
        pdu_names = [p.name for p in rack.pdus]
        if "pdu" in m:
            pdu = _str(m, "pdu", path)
            if pdu not in pdu_names:
                raise FleetSpecError(_join(path, "pdu"), f"rack {rack_name!r} has no PDU {pdu!r}")
        elif pdu_names:
            pdu = pdu_names[len(hosts) % len(pdu_names)]
        else:
            pdu = ""
        model_name = _str(m, "model", path)
        if model_name not in by_model:
            raise FleetSpecError(_join(path, "model"), f"unknown hardware model {model_name!r}")
        model = by_model[model_name]
        bmc = _credentials(
            m.get("bmc"), _join(path, "bmc"), default_user, default_password or host_password(dc, name)
        )
        host_id = _str(m, "uuid", path, host_uuid(dc, name)).lower()
        if host_id in uuids:
            raise FleetSpecError(_join(path, "uuid"), f"duplicate uuid {host_id}")
        uuids.add(host_id)
        macs = _macs(m, path, dc, name, model.nic_count)
        for i, mac in enumerate(macs):
            if mac in macs_seen:
                raise FleetSpecError(
                    _join(_join(path, "macs"), i), f"MAC {mac} is already used by host {macs_seen[mac]!r}"
                )
            macs_seen[mac] = name
        hosts.append(
            Host(
                name=name,
                uuid=host_id,
                location=location,
                pdu=pdu,
                model=model,
                bmc=bmc,
                macs=macs,
                serial=host_serial(dc, name),
            )
        )
    return Datacenter(name=dc, regions=regions, models=models, hosts=tuple(hosts))


def _macs(m: Mapping[str, object], path: str, dc: str, name: str, nic_count: int) -> tuple[str, ...]:
    if "macs" not in m:
        return tuple(host_mac(dc, name, i) for i in range(nic_count))
    given = _list(m, "macs", path)
    if len(given) != nic_count:
        raise FleetSpecError(
            _join(path, "macs"), f"the model has {nic_count} NICs but {len(given)} MACs are given"
        )
    macs = []
    for i, mac in enumerate(given):
        if not isinstance(mac, str) or not _MAC.match(mac.lower()):
            raise FleetSpecError(
                _join(_join(path, "macs"), i), f"{mac!r} is not a MAC address (aa:bb:cc:dd:ee:ff)"
            )
        macs.append(mac.lower())
    return tuple(macs)


def load_datacenter(source: str | os.PathLike[str]) -> Datacenter:
    """Load and validate a datacenter YAML file."""
    with open(source, encoding="utf-8") as handle:
        try:
            doc = yaml.safe_load(handle)
        except yaml.YAMLError as exc:
            raise FleetSpecError("", f"{os.fspath(source)}: not valid YAML: {exc}") from None
    return datacenter_from_dict(doc)


def loads_datacenter(text: str) -> Datacenter:
    """Validate a datacenter given as YAML text."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FleetSpecError("", f"not valid YAML: {exc}") from None
    return datacenter_from_dict(doc)
