"""Map a Metal3 BMC address to an Ironic hardware type, interfaces and ``driver_info``.

Why this module exists: in Metal3 the URL scheme of ``spec.bmc.address`` picks the driver
(``redfish-virtualmedia://`` means Redfish power + virtual-media boot, ``idrac-redfish://`` the Dell
variant, a bare ``host:port`` means IPMI). This is pure string work with rules that must match
Metal3's ``pkg/hardwareutils/bmc``; keeping it separate from the Ironic client makes it testable in
microseconds and keeps credential handling in one visible place.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from teapot.hosts.provisioner import BMCAccess

__all__ = ["BMCDriver", "UnknownBMCError", "parse_bmc_address"]


class UnknownBMCError(ValueError):
    """The BMC address has a scheme Teapot does not know, or is malformed."""


@dataclass(frozen=True)
class BMCDriver:
    """Ironic driver settings derived from one BMC address (credentials are added separately)."""

    scheme: str
    driver: str
    host: str
    port: int | None
    #: ``http`` or ``https`` for Redfish, ``None`` for IPMI.
    transport: str | None
    #: The Redfish system path (``/redfish/v1/Systems/<id>``), ``None`` for IPMI.
    system_id: str | None
    boot_interface: str
    management_interface: str
    power_interface: str
    #: Out-of-band inspect interface (``agent`` when the BMC cannot report inventory).
    inspect_interface: str
    vendor_interface: str
    raid_interface: str
    bios_interface: str
    firmware_interface: str

    @property
    def supports_iso(self) -> bool:
        """Can this BMC boot an ISO through virtual media (needed for ``live-iso`` images)?"""
        return self.boot_interface in ("redfish-virtual-media", "idrac-redfish-virtual-media")

    @property
    def redfish_address(self) -> str:
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            netloc = f"{netloc}:{self.port}"
        return f"{self.transport}://{netloc}"

    def driver_info(self, bmc: BMCAccess) -> dict[str, str | int | bool]:
        """Ironic ``driver_info`` for this driver with *bmc*'s credentials."""
        if self.driver == "ipmi":
            info: dict[str, str | int | bool] = {
                "ipmi_address": self.host,
                "ipmi_username": bmc.username,
                "ipmi_password": bmc.password,
            }
            if self.port is not None:
                info["ipmi_port"] = self.port
            return info
        info = {
            "redfish_address": self.redfish_address,
            "redfish_system_id": self.system_id or "",
            "redfish_username": bmc.username,
            "redfish_password": bmc.password,
        }
        if bmc.disable_certificate_verification:
            info["redfish_verify_ca"] = False
        return info

    def interfaces(self) -> dict[str, str]:
        """Interface fields for node create/patch."""
        return {
            "boot_interface": self.boot_interface,
            "management_interface": self.management_interface,
            "power_interface": self.power_interface,
            "vendor_interface": self.vendor_interface,
            "raid_interface": self.raid_interface,
            "bios_interface": self.bios_interface,
            "firmware_interface": self.firmware_interface,
        }


_REDFISH = {
    "driver": "redfish",
    "management": "redfish",
    "power": "redfish",
    "inspect": "redfish",
    "vendor": "redfish",
    "raid": "redfish",
    "bios": "redfish",
    "firmware": "redfish",
}
_IDRAC = {
    "driver": "idrac",
    "management": "idrac-redfish",
    "power": "idrac-redfish",
    "inspect": "idrac-redfish",
    "vendor": "idrac-redfish",
    "raid": "idrac-redfish",
    "bios": "idrac-redfish",
    "firmware": "redfish",
}
_IPMI = {
    "driver": "ipmi",
    "management": "ipmitool",
    "power": "ipmitool",
    "inspect": "agent",
    "vendor": "ipmitool",
    "raid": "no-raid",
    "bios": "no-bios",
    "firmware": "no-firmware",
}

#: scheme → (driver family, boot interface). Matches Metal3's BMC access types.
_SCHEMES: dict[str, tuple[dict[str, str], str]] = {
    "ipmi": (_IPMI, "ipxe"),
    "libvirt": (_IPMI, "ipxe"),
    "redfish": (_REDFISH, "ipxe"),
    "redfish-virtualmedia": (_REDFISH, "redfish-virtual-media"),
    "redfish-uefihttp": (_REDFISH, "redfish-https"),
    "idrac-redfish": (_IDRAC, "ipxe"),
    "idrac-virtualmedia": (_IDRAC, "idrac-redfish-virtual-media"),
    "idrac-redfish-virtualmedia": (_IDRAC, "idrac-redfish-virtual-media"),
}


def parse_bmc_address(address: str) -> BMCDriver:
    """Parse a Metal3 BMC address such as ``redfish+http://10.0.0.1:8000/redfish/v1/Systems/1``.

    Raises :class:`UnknownBMCError` for unknown schemes or missing hosts; the message quotes the
    address (addresses are not secret).
    """
    raw = address.strip()
    if "://" not in raw:
        raw = f"ipmi://{raw}"
    parts = urlsplit(raw)
    scheme, _, transport = parts.scheme.partition("+")
    if scheme not in _SCHEMES:
        raise UnknownBMCError(f"unknown BMC type {parts.scheme!r} in BMC address {address!r}")
    family, boot = _SCHEMES[scheme]
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise UnknownBMCError(f"invalid port in BMC address {address!r}") from exc
    if not host:
        raise UnknownBMCError(f"missing host in BMC address {address!r}")
    if family is _IPMI:
        if transport:
            raise UnknownBMCError(f"IPMI BMC address {address!r} cannot take a '+{transport}' suffix")
        transport_or_none: str | None = None
        system_id: str | None = None
    else:
        transport = transport or "https"
        if transport not in ("http", "https"):
            raise UnknownBMCError(f"unknown transport {transport!r} in BMC address {address!r}")
        transport_or_none = transport
        system_id = parts.path or None
        if not system_id or system_id == "/":
            raise UnknownBMCError(
                f"Redfish BMC address {address!r} needs a system path such as /redfish/v1/Systems/1"
            )
    return BMCDriver(
        scheme=parts.scheme,
        driver=family["driver"],
        host=host,
        port=port,
        transport=transport_or_none,
        system_id=system_id,
        boot_interface=boot,
        management_interface=family["management"],
        power_interface=family["power"],
        inspect_interface=family["inspect"],
        vendor_interface=family["vendor"],
        raid_interface=family["raid"],
        bios_interface=family["bios"],
        firmware_interface=family["firmware"],
    )
