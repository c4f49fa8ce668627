"""Fast tests of the Ironic package's pure parts: BMC parsing, states, sanitising, inventory, config."""

from __future__ import annotations

import asyncio
import configparser
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from teapot.hosts.ironic.config import IronicSettings, find_services_bin, render_config
from teapot.hosts.ironic.drivers import UnknownBMCError, parse_bmc_address
from teapot.hosts.ironic.images import sha256_of, write_live_iso, write_qcow2_image, write_raw_image
from teapot.hosts.ironic.inventory import parse_inventory
from teapot.hosts.ironic.provisioner import (
    IronicProvisioner,
    IronicProvisionerSettings,
    _credentials_digest,
    _digest_matches,
    node_name,
)
from teapot.hosts.ironic.service import _stop_process, free_port
from teapot.hosts.ironic.states import (
    BUSY_STATES,
    FAILED_STATES,
    METAL3_STATE,
    explain_bmc_error,
    metal3_state,
    sanitize,
)
from teapot.hosts.provisioner import (
    BMCAccess,
    ErrorType,
    HostRef,
    ImageFormat,
    ImageSpec,
    Provisioner,
    ProvisioningState,
    ProvisionSpec,
    RegistrationSpec,
)

# -- BMC addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "driver", "boot", "redfish_address", "system"),
    [
        (
            "redfish://10.0.0.1/redfish/v1/Systems/1",
            "redfish",
            "ipxe",
            "https://10.0.0.1",
            "/redfish/v1/Systems/1",
        ),
        (
            "redfish+http://10.0.0.1:8000/redfish/v1/Systems/abc",
            "redfish",
            "ipxe",
            "http://10.0.0.1:8000",
            "/redfish/v1/Systems/abc",
        ),
        (
            "redfish-virtualmedia+https://bmc.example:443/redfish/v1/Systems/1",
            "redfish",
            "redfish-virtual-media",
            "https://bmc.example:443",
            "/redfish/v1/Systems/1",
        ),
        (
            "redfish-uefihttp://[fd00::1]:8443/redfish/v1/Systems/1",
            "redfish",
            "redfish-https",
            "https://[fd00::1]:8443",
            "/redfish/v1/Systems/1",
        ),
        (
            "idrac-redfish://10.0.0.2/redfish/v1/Systems/System.Embedded.1",
            "idrac",
            "ipxe",
            "https://10.0.0.2",
            "/redfish/v1/Systems/System.Embedded.1",
        ),
        (
            "idrac-virtualmedia://10.0.0.2/redfish/v1/Systems/System.Embedded.1",
            "idrac",
            "idrac-redfish-virtual-media",
            "https://10.0.0.2",
            "/redfish/v1/Systems/System.Embedded.1",
        ),
    ],
)
def test_redfish_schemes(address: str, driver: str, boot: str, redfish_address: str, system: str) -> None:
    parsed = parse_bmc_address(address)
    assert (parsed.driver, parsed.boot_interface) == (driver, boot)
    info = parsed.driver_info(BMCAccess(address, "admin", "s3cret"))
    assert info["redfish_address"] == redfish_address
    assert info["redfish_system_id"] == system
    assert info["redfish_username"] == "admin" and info["redfish_password"] == "s3cret"
    assert "redfish_verify_ca" not in info


def test_disable_certificate_verification_sets_verify_ca_false() -> None:
    info = parse_bmc_address("redfish://h/redfish/v1/Systems/1").driver_info(
        BMCAccess("x", "u", "p", disable_certificate_verification=True)
    )
    assert info["redfish_verify_ca"] is False


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [
        ("ipmi://10.0.0.3", "10.0.0.3", None),
        ("ipmi://10.0.0.3:6230", "10.0.0.3", 6230),
        ("10.0.0.4:623", "10.0.0.4", 623),
    ],
)
def test_ipmi_addresses(address: str, host: str, port: int | None) -> None:
    parsed = parse_bmc_address(address)
    assert parsed.driver == "ipmi" and parsed.power_interface == "ipmitool"
    assert not parsed.supports_iso
    info = parsed.driver_info(BMCAccess(address, "u", "p"))
    assert info["ipmi_address"] == host
    assert info.get("ipmi_port") == port


@pytest.mark.parametrize(
    "address",
    [
        "ftp://10.0.0.1/redfish/v1/Systems/1",
        "redfish+gopher://10.0.0.1/redfish/v1/Systems/1",
        "redfish://10.0.0.1",
        "redfish:///redfish/v1/Systems/1",
        "ipmi+http://10.0.0.1",
        "redfish://10.0.0.1:99999/redfish/v1/Systems/1",
    ],
)
def test_bad_addresses_are_refused_naming_the_address(address: str) -> None:
    with pytest.raises(UnknownBMCError) as info:
        parse_bmc_address(address)
    assert address in str(info.value)


def test_bmc_access_repr_hides_password() -> None:
    assert "hunter22" not in repr(BMCAccess("redfish://h/x", "admin", "hunter22"))


# -- states and errors --------------------------------------------------------------------------


def test_state_table_is_consistent() -> None:
    assert metal3_state("active") is ProvisioningState.PROVISIONED
    assert metal3_state("available") is ProvisioningState.AVAILABLE
    assert metal3_state("inspect wait") is ProvisioningState.INSPECTING
    assert metal3_state("verifying") is ProvisioningState.REGISTERING
    assert metal3_state(None) is ProvisioningState.NONE
    assert metal3_state("no such state") is ProvisioningState.NONE
    assert set(FAILED_STATES) <= set(METAL3_STATE)
    assert set(METAL3_STATE) >= BUSY_STATES
    assert not BUSY_STATES & set(FAILED_STATES)
    assert FAILED_STATES["inspect failed"] is ErrorType.INSPECTION
    assert FAILED_STATES["clean failed"] is ErrorType.PREPARATION


@pytest.mark.parametrize(
    "message",
    [
        "Failed: driver_info {'redfish_password': 'Pa55word!x', 'redfish_username': 'admin'}",
        'bad {"ipmi_password": "Pa55word!x"}',
        "login failed password=Pa55word!x for admin",
        "ipmitool -I lanplus -H 10.0.0.1 -U admin -P Pa55word!x power status",
        "GET https://admin:Pa55word!x@10.0.0.1/redfish/v1 failed",
    ],
)
def test_sanitize_removes_passwords_by_pattern(message: str) -> None:
    cleaned = sanitize(message)
    assert "Pa55word!x" not in cleaned
    assert "***" in cleaned


def test_sanitize_removes_known_secrets_verbatim_and_keeps_the_rest() -> None:
    cleaned = sanitize("BMC 10.0.0.1 said: wrong secret s3cr3t-value", ["s3cr3t-value"])
    assert cleaned == "BMC 10.0.0.1 said: wrong secret ***"
    assert sanitize(None) == ""


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        (
            "HTTP GET http://b/redfish/v1/Systems/1 returned code 401. Incorrect username or password",
            "authentication",
        ),
        ("HTTPConnectionPool(host='10.9.9.9'): Max retries exceeded (Connection refused)", "unreachable"),
        ("HTTP GET http://b/redfish/v1/Systems/9 returned code 404.", "no such system"),
        (
            "HTTPSConnectionPool: Max retries exceeded (SSLError([SSL: CERTIFICATE_VERIFY_FAILED] self-signed))",
            "disableCertificateVerification",
        ),
    ],
)
def test_bmc_errors_get_an_actionable_hint_and_keep_the_detail(message: str, hint: str) -> None:
    explained = explain_bmc_error(message)
    assert hint in explained and message in explained
    assert explain_bmc_error("something else") == "something else"


# -- inventory ----------------------------------------------------------------------------------


def test_parse_inventory_redfish_shape() -> None:
    inventory = {
        "memory": {"physical_mb": 262144},
        "cpu": {"count": 64, "architecture": "x86_64", "model_name": "EPYC 7543", "frequency": 2800},
        "disks": [
            {"name": "nvme0n1", "size": 3840 * 10**9, "rotational": False, "model": "PM1733"},
            {"name": "sda", "size": 480 * 10**9, "rotational": False, "model": "SSD 480"},
            {"name": "sdb", "size": 8 * 10**12, "rotational": True, "serial": "Z1"},
        ],
        "interfaces": [{"name": "eth0", "mac_address": "AA:BB:CC:00:00:01", "speed_mbps": 25000}],
        "pci_devices": [
            {"class": "DisplayController", "vendor_id": "0x10de", "product_id": "0x20b5"},
            {"class": "DisplayController", "vendor_id": "0x1a03", "product_id": "0x2000"},
            {"class": "NetworkController", "vendor_id": "0x15b3", "product_id": "0x101b"},
        ],
        "system_vendor": {"manufacturer": "Dell Inc.", "product_name": "R7525", "serial_number": "ABC"},
    }
    details = parse_inventory(inventory)
    assert (details.cpu.arch, details.cpu.model, details.cpu.count, details.cpu.clock_megahertz) == (
        "x86_64",
        "EPYC 7543",
        64,
        2800.0,
    )
    assert details.ram_mebibytes == 262144
    assert [(s.name, s.type) for s in details.storage] == [
        ("nvme0n1", "NVME"),
        ("sda", "SSD"),
        ("sdb", "HDD"),
    ]
    assert details.nics[0].mac == "aa:bb:cc:00:00:01" and details.nics[0].speed_gbps == 25.0
    assert [(g.vendor, g.model) for g in details.gpus] == [("NVIDIA", "0x20b5")]
    assert dict(details.system_vendor)["manufacturer"] == "Dell Inc."


def test_parse_inventory_tolerates_missing_keys() -> None:
    details = parse_inventory({})
    assert details.cpu.count == 0 and details.ram_mebibytes == 0
    assert details.storage == () and details.nics == () and details.gpus == ()


# -- config -------------------------------------------------------------------------------------


def test_render_config(tmp_path: Path) -> None:
    settings = IronicSettings(data_dir=tmp_path, api_port=7000, http_port=7001, enable_ipmi=False)
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(render_config(settings))
    assert conf["DEFAULT"]["auth_strategy"] == "noauth"
    assert conf["DEFAULT"]["rpc_transport"] == "none"
    assert "ipmi" not in conf["DEFAULT"]["enabled_hardware_types"].split(",")
    assert "no-inspect" in conf["DEFAULT"]["enabled_inspect_interfaces"].split(",")
    assert {"direct", "ramdisk"} <= set(conf["DEFAULT"]["enabled_deploy_interfaces"].split(","))
    assert conf["api"]["port"] == "7000"
    assert conf["deploy"]["http_url"] == "http://127.0.0.1:7001"
    assert conf["deploy"]["http_root"] == str(tmp_path.resolve() / "httpboot")
    assert int(conf["conductor"]["sync_power_state_interval"]) >= 60
    with_ipmi = configparser.ConfigParser(interpolation=None)
    with_ipmi.read_string(render_config(IronicSettings(data_dir=tmp_path, enable_ipmi=True)))
    assert "ipmi" in with_ipmi["DEFAULT"]["enabled_hardware_types"].split(",")
    assert "ipmitool" in with_ipmi["DEFAULT"]["enabled_power_interfaces"].split(",")


def test_power_sync_interval_below_60_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 60"):
        IronicSettings(data_dir=tmp_path, sync_power_state_interval=10)


# -- images -------------------------------------------------------------------------------------


def test_generated_images_pass_ironics_format_inspector(tmp_path: Path) -> None:
    """The services venv's oslo.utils (what Ironic uses) must detect the formats we claim."""
    iso = write_live_iso(tmp_path / "live.iso")
    raw = write_raw_image(tmp_path / "disk.raw")
    qcow = write_qcow2_image(tmp_path / "disk.qcow2")
    code = (
        "import sys\n"
        "from oslo_utils.imageutils import format_inspector as fi\n"
        "for p in sys.argv[1:]:\n"
        "    i = fi.detect_file_format(p); i.safety_check(); print(str(i), i.virtual_size)\n"
    )
    out = subprocess.run(
        [str(find_services_bin() / "python"), "-c", code, str(iso), str(raw), str(qcow)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    assert out[0].split()[0] == "iso"
    assert out[1].split()[0] == "raw"
    assert out[2].split() == ["qcow2", str(64 * 1024 * 1024)]
    assert len(sha256_of(iso)) == 64
    assert iso.stat().st_size < 64 * 1024


# -- service process handling -------------------------------------------------------------------


async def test_stop_falls_back_to_sigkill() -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None
    assert await proc.stdout.readline() == b"up\n"
    started = time.monotonic()
    await _stop_process(proc, timeout=0.5)
    assert proc.returncode == -9
    assert time.monotonic() - started < 5


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


# -- provisioner without Ironic -----------------------------------------------------------------


async def test_unknown_bmc_scheme_is_a_registration_error_before_any_ironic_call() -> None:
    # nothing listens on this port: the error must come from parsing, not from Ironic
    prov = IronicProvisioner(IronicProvisionerSettings(url=f"http://127.0.0.1:{free_port()}"))
    assert isinstance(prov, Provisioner)
    spec = RegistrationSpec(bmc=BMCAccess("ftp://10.0.0.1/x", "admin", "pw-secret-1"))
    result = await prov.register(HostRef("ns", "h"), spec)
    assert result.error is not None and result.error.type is ErrorType.REGISTRATION
    assert "ftp://10.0.0.1/x" in result.error.message and "pw-secret-1" not in result.error.message
    assert node_name(HostRef("ns", "h")) == "ns~h"


# -- provisioner request building ---------------------------------------------------------------


def test_instance_info_for_live_iso_and_disk_images() -> None:
    build = IronicProvisioner._instance_info
    assert build(ProvisionSpec(ImageSpec("http://x/live.iso", format=ImageFormat.LIVE_ISO))) == {
        "boot_iso": "http://x/live.iso"
    }
    sha = "a" * 64
    info = build(
        ProvisionSpec(
            ImageSpec("http://x/disk.qcow2", sha, format=ImageFormat.QCOW2),
            root_device_hints=(("name", "/dev/sda"),),
        )
    )
    assert info == {
        "image_source": "http://x/disk.qcow2",
        "image_disk_format": "qcow2",
        "image_os_hash_algo": "sha256",
        "image_os_hash_value": sha,
        "root_device": {"name": "/dev/sda"},
    }
    assert build(ProvisionSpec(ImageSpec("http://x/d", "b" * 32)))["image_os_hash_algo"] == "md5"
    assert (
        build(ProvisionSpec(ImageSpec("http://x/d", "http://x/d.sha256")))["image_checksum"]
        == "http://x/d.sha256"
    )
    with pytest.raises(ValueError, match="checksum"):
        build(ProvisionSpec(ImageSpec("http://x/d")))
    with pytest.raises(ValueError, match="12-character"):
        build(ProvisionSpec(ImageSpec("http://x/d", "c" * 12)))


def test_config_drive_parses_yaml_and_json() -> None:
    drive = IronicProvisioner._config_drive(
        ProvisionSpec(
            ImageSpec("http://x/d", "a" * 64),
            user_data="#cloud-config\n",
            meta_data="local-hostname: h1\n",
            network_data='{"links": []}',
        )
    )
    assert drive == {
        "user_data": "#cloud-config\n",
        "meta_data": {"local-hostname": "h1"},
        "network_data": {"links": []},
    }
    assert IronicProvisioner._config_drive(ProvisionSpec(ImageSpec("http://x/d", "a" * 64))) is None


def test_credentials_digest_detects_any_change_and_hides_the_password() -> None:
    driver = parse_bmc_address("redfish://h/redfish/v1/Systems/1")
    spec = RegistrationSpec(bmc=BMCAccess("redfish://h/redfish/v1/Systems/1", "admin", "pw-original"))
    stored = _credentials_digest("uuid-1", driver, spec, b"0123456789abcdef")
    assert "pw-original" not in stored
    assert _digest_matches(stored, "uuid-1", driver, spec)
    changed = RegistrationSpec(bmc=BMCAccess(spec.bmc.address, "admin", "pw-new"))
    assert not _digest_matches(stored, "uuid-1", driver, changed)
    assert not _digest_matches(stored, "uuid-2", driver, spec)
    insecure = RegistrationSpec(bmc=BMCAccess(spec.bmc.address, "admin", "pw-original", True))
    assert not _digest_matches(stored, "uuid-1", driver, insecure)
    assert not _digest_matches(None, "uuid-1", driver, spec)
    assert not _digest_matches("garbage", "uuid-1", driver, spec)


async def test_unreachable_ironic_raises_provisioner_unavailable() -> None:
    from teapot.hosts.provisioner import ProvisionerUnavailable

    url = f"http://127.0.0.1:{free_port()}"
    prov = IronicProvisioner(IronicProvisionerSettings(url=url))
    started = time.monotonic()
    with pytest.raises(ProvisionerUnavailable, match=re.escape(url)):
        await prov.observe(HostRef("ns", "h"))
    assert time.monotonic() - started < 10


def fake_node(provision_state: str) -> Any:
    """An openstacksdk Node as far as IronicProvisioner reads it."""
    from types import SimpleNamespace

    return SimpleNamespace(
        id="u1",
        name="ns~h",
        provision_state=provision_state,
        power_state="power off",
        target_power_state=None,
        is_maintenance=False,
        last_error=None,
        extra={},
    )


async def test_the_node_read_by_observe_serves_the_next_read_once() -> None:
    """observe() then an action in the same reconcile: one GET, not two; later reads go to Ironic."""
    from types import SimpleNamespace

    calls: list[str] = []
    node = fake_node("available")

    def get_node(ident: str) -> object:
        calls.append(ident)
        return node

    connection = SimpleNamespace(baremetal=SimpleNamespace(get_node=get_node), close=lambda: None)
    prov = IronicProvisioner(IronicProvisionerSettings(url="http://ironic"), connection=connection)  # type: ignore[arg-type]
    try:
        host = HostRef("ns", "h", "u1")
        status = await prov.observe(host)
        assert status is not None and status.engine_state == "available" and len(calls) == 1
        assert prov._find(host) is node and len(calls) == 1  # served from observe's read
        assert prov._find(host) is node and len(calls) == 2  # used once: the next read is fresh
        await prov.observe(host)
        await prov.observe(host)
        assert len(calls) == 4  # observe itself always reads Ironic
    finally:
        prov.close()


async def test_settled_hosts_share_one_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Concurrent observers of stable hosts: one GET /v1/nodes?fields=… (paged) for all of them."""
    from types import SimpleNamespace

    from teapot.hosts.ironic import provisioner as module

    monkeypatch.setattr(module, "_LIST_PAGE", 8)  # 20 nodes: pages of 8, 8, 4

    def item(i: int) -> dict[str, object]:
        return {
            "uuid": f"u{i:02d}",
            "name": f"ns~h{i}",
            "provision_state": "active",
            "power_state": "power on",
            "target_power_state": None,
            "maintenance": False,
            "last_error": None,
        }

    requests: list[dict[str, object]] = []
    gets: list[str] = []

    def get(path: str, params: dict[str, object], microversion: str) -> SimpleNamespace:
        assert path == "/nodes" and microversion == "1.8"
        requests.append(dict(params))
        time.sleep(0.05)  # a slow Ironic: the other callers wait for this listing, not their own
        items = [item(i) for i in range(20) if "marker" not in params or f"u{i:02d}" > str(params["marker"])]
        return SimpleNamespace(status_code=200, json=lambda: {"nodes": items[: int(str(params["limit"]))]})

    def get_node(ident: str) -> SimpleNamespace:
        gets.append(ident)
        return SimpleNamespace(**{**item(99), "id": ident, "is_maintenance": False})

    connection = SimpleNamespace(baremetal=SimpleNamespace(get=get, get_node=get_node), close=lambda: None)
    prov = IronicProvisioner(IronicProvisionerSettings(url="http://ironic"), connection=connection)  # type: ignore[arg-type]
    try:
        hosts = [HostRef("ns", f"h{i}", f"u{i:02d}") for i in range(20)]
        seen = await asyncio.gather(*(prov.observe(h, max_age=30) for h in hosts))
        assert [s.provisioning_id if s else None for s in seen] == [f"u{i:02d}" for i in range(20)]
        assert all(s is not None and s.powered_on and s.engine_state == "active" for s in seen)
        assert [r.get("marker") for r in requests] == [None, "u07", "u15"] and not gets
        assert "provision_state" in str(requests[0]["fields"]) and "power_state" in str(requests[0]["fields"])
        # a host created after the listing, or one whose node was replaced, is read directly
        await prov.observe(HostRef("ns", "h99", "u99"), max_age=30)
        await prov.observe(HostRef("ns", "h3", "u-new"), max_age=30)
        assert len(requests) == 3 and gets == ["u99", "u-new"]
    finally:
        prov.close()


async def test_ironic_concurrent_action_limit_is_busy_not_an_error() -> None:
    """Ironic's 503 ConcurrentActionLimit on provide: try again later (any other 5xx: unavailable)."""
    from types import SimpleNamespace

    import requests
    from openstack import exceptions as os_exc

    from teapot.hosts.provisioner import ProvisionerUnavailable

    def http_error(status: int, details: str) -> os_exc.HttpException:
        response = requests.Response()
        response.status_code = status
        return os_exc.HttpException(message=f"HttpException: {status}", response=response, details=details)

    raised: list[os_exc.HttpException] = []
    node = fake_node("manageable")

    def set_node_provision_state(*_: object, **__: object) -> None:
        raise raised[-1]

    baremetal = SimpleNamespace(
        get_node=lambda ident: node, set_node_provision_state=set_node_provision_state
    )
    connection = SimpleNamespace(baremetal=baremetal, close=lambda: None)
    prov = IronicProvisioner(IronicProvisionerSettings(url="http://ironic"), connection=connection)  # type: ignore[arg-type]
    try:
        raised.append(
            http_error(
                503,
                "Unable to process request at this time. The concurrent action limit for "
                "automated_clean has been reached. Please contact your administrator",
            )
        )
        result = await prov.provide(HostRef("ns", "h", "u1"))
        assert result.in_progress and result.error is None
        raised.append(http_error(503, "Service Unavailable"))
        with pytest.raises(ProvisionerUnavailable):
            await prov.provide(HostRef("ns", "h", "u1"))
    finally:
        prov.close()


async def test_a_refused_power_change_is_an_error_result() -> None:
    """Ironic's 400 on a power change is the host's power-management error, not an exception."""
    from types import SimpleNamespace

    from openstack import exceptions as os_exc

    def set_node_power_state(*_: object) -> None:
        raise os_exc.BadRequestException(message="HttpException: 400", details="no power interface")

    node = fake_node("manageable")
    baremetal = SimpleNamespace(get_node=lambda ident: node, set_node_power_state=set_node_power_state)
    connection = SimpleNamespace(baremetal=baremetal, close=lambda: None)
    prov = IronicProvisioner(IronicProvisionerSettings(url="http://ironic"), connection=connection)  # type: ignore[arg-type]
    try:
        result = await prov.power(HostRef("ns", "h", "u1"), True)
        assert result.error is not None and result.error.type.value == "power management error"
        assert "no power interface" in result.error.message
    finally:
        prov.close()
