"""Fixtures for host tests: a real sushy-tools Redfish emulator and a real standalone Ironic.

Until ``teapot.fleet`` exists, the emulator is plain ``sushy-emulator`` with its fake systems driver,
started through a small shim (``_SHIM`` below) that (a) makes power changes take 1 s instead of a
random 1-11 s and (b) reports CPU, memory and processors from the system dict — the stock fake driver
reports none, and Ironic's Redfish inspection then fails on the missing ``cpu_arch``/``memory_mb``.
Disks come from sushy-tools' own static ``SUSHY_EMULATOR_STORAGE``/``_DRIVES`` support.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from teapot.hosts.ironic.config import IronicSettings, find_services_bin
from teapot.hosts.ironic.service import IronicService, free_port

_SHIM = r"""
import sys
from sushy_tools.emulator.resources.systems import fakedriver
from sushy_tools.emulator import main as emulator_main

class _Random:
    @staticmethod
    def randint(low, high):
        return 1

fakedriver.random = _Random()

def _get_total_memory(self, identity):
    return self._get(identity).get("memory_gib")

def _get_total_cpus(self, identity):
    return self._get(identity).get("cpus")

def _get_processors(self, identity):
    system = self._get(identity)
    if "cpus" not in system:
        raise fakedriver.error.NotSupportedError("no processors")
    return [
        {"id": f"CPU{i}", "socket": f"CPU {i}", "model": system.get("cpu_model", "Emulated CPU"),
         "vendor": system.get("cpu_vendor", "Emulated"), "cores": system["cpus"], "threads": system["cpus"]}
        for i in range(1)
    ]

fakedriver.FakeDriver.get_total_memory = _get_total_memory
fakedriver.FakeDriver.get_total_cpus = _get_total_cpus
fakedriver.FakeDriver.get_processors = _get_processors
sys.exit(emulator_main.main())
"""


@dataclass(frozen=True)
class EmulatedHost:
    uuid: str
    name: str
    mac: str

    def address(self, port: int, scheme: str = "redfish-virtualmedia+http") -> str:
        return f"{scheme}://127.0.0.1:{port}/redfish/v1/Systems/{self.uuid}"


@dataclass(frozen=True)
class Emulator:
    port: int
    username: str
    password: str
    hosts: tuple[EmulatedHost, ...]
    state_dir: Path


def _htpasswd(username: str, password: str) -> str:
    """bcrypt htpasswd line, computed with the services venv's bcrypt (Teapot's venv has none)."""
    code = "import bcrypt,sys; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(4)).decode())"
    hashed = subprocess.run(
        [str(find_services_bin() / "python"), "-c", code, password],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{username}:{hashed}\n"


def _emulator_config(tmp: Path, port: int, hosts: tuple[EmulatedHost, ...], auth_file: Path) -> str:
    systems = [
        {
            "uuid": h.uuid,
            "name": h.name,
            "power_state": "Off",
            "nics": [{"mac": h.mac, "ip": "192.0.2.10"}],
            "memory_gib": 64,
            "cpus": 16,
            "cpu_model": "Emulated Xeon",
        }
        for h in hosts
    ]
    storage = {
        h.uuid: [{"Id": "1", "Name": "Local Storage Controller", "StorageControllers": [], "Drives": ["d0"]}]
        for h in hosts
    }
    drives = {
        (h.uuid, "1"): [{"Id": "d0", "Name": "sda", "CapacityBytes": 480 * 10**9, "Protocol": "SATA"}]
        for h in hosts
    }
    # Without a volume collection the emulator answers 500 and sushy retries 10 times, 3 s apart.
    volumes: dict[tuple[str, str], list[object]] = {(h.uuid, "1"): [] for h in hosts}
    return "\n".join(
        [
            "SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'",
            f"SUSHY_EMULATOR_LISTEN_PORT = {port}",
            "SUSHY_EMULATOR_FAKE_DRIVER = True",
            f"SUSHY_EMULATOR_FAKE_SYSTEMS = {json.dumps(systems)}",
            f"SUSHY_EMULATOR_STORAGE = {storage!r}",
            f"SUSHY_EMULATOR_DRIVES = {drives!r}",
            f"SUSHY_EMULATOR_VOLUMES = {volumes!r}",
            f"SUSHY_EMULATOR_AUTH_FILE = {str(auth_file)!r}",
            f"SUSHY_EMULATOR_STATE_DIR = {str(tmp / 'state')!r}",
            "SUSHY_EMULATOR_VMEDIA_VERIFY_SSL = False",
            "",
        ]
    )


def _wait_tcp(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _self_signed_cert(tmp_path: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 (for TLS BMC tests)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "emulated-bmc")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "bmc.crt", tmp_path / "bmc.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@contextlib.contextmanager
def running_emulator(tmp_path: Path, tls: bool = False) -> Iterator[Emulator]:
    """A sushy-tools emulator with two fake systems, basic auth, fresh state, on a free port."""
    port = free_port()
    hosts = tuple(
        EmulatedHost(str(uuid.uuid4()), f"node-{i}", f"52:54:00:00:{port % 256:02x}:{i:02x}")
        for i in range(2)
    )
    username, password = "admin", f"pw-{uuid.uuid4().hex[:12]}"
    auth = tmp_path / "htpasswd"
    auth.write_text(_htpasswd(username, password), encoding="utf-8")
    config = tmp_path / "emulator.conf"
    text = _emulator_config(tmp_path, port, hosts, auth)
    if tls:
        cert, key = _self_signed_cert(tmp_path)
        text += f"SUSHY_EMULATOR_SSL_CERT = {str(cert)!r}\nSUSHY_EMULATOR_SSL_KEY = {str(key)!r}\n"
    config.write_text(text, encoding="utf-8")
    shim = tmp_path / "emulator_shim.py"
    shim.write_text(_SHIM, encoding="utf-8")
    log = (tmp_path / "emulator.log").open("wb")
    proc = subprocess.Popen(
        [str(find_services_bin() / "python"), str(shim), "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_tcp(port, timeout=20)
        yield Emulator(port, username, password, hosts, tmp_path / "state")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with running_emulator(tmp_path) as emu:
        yield emu


@pytest.fixture
def tls_emulator(tmp_path: Path) -> Iterator[Emulator]:
    """Like ``emulator`` but serving HTTPS with a self-signed certificate."""
    with running_emulator(tmp_path, tls=True) as emu:
        yield emu


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def ironic(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[IronicService]:
    """One standalone Ironic for the whole session (it takes a few seconds to start)."""
    data_dir = tmp_path_factory.mktemp("ironic")
    settings = IronicSettings(
        data_dir=data_dir,
        api_port=free_port(),
        http_port=free_port(),
        # a dead BMC fails a deploy after ~10 s of retries instead of Ironic's default ~2.5 min
        extra_options=(
            ("redfish", "connection_attempts", "2"),
            ("redfish", "connection_retry_interval", "1"),
        ),
    )
    service = IronicService(settings)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
    print(f"ironic start {service.start_seconds:.2f}s", file=sys.stderr)
