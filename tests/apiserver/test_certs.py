"""PKI generation and reuse, and real TLS handshakes with client certificates."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from teapot.apiserver.auth import (
    PKIPaths,
    client_ssl_context,
    ensure_pki,
    issue_client_cert,
    server_ssl_context,
    user_from_peercert,
)


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def sans(cert: x509.Certificate) -> set[str]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in ext.get_values_for_type(x509.DNSName)} | {
        str(v) for v in ext.get_values_for_type(x509.IPAddress)
    }


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKIPaths:
    return ensure_pki(
        tmp_path_factory.mktemp("data"), bind_address="127.0.0.2", extra_sans=["teapot.example"]
    )


def test_generated_files(pki: PKIPaths) -> None:
    for path in (pki.ca_cert, pki.ca_key, pki.serving_cert, pki.serving_key, pki.admin_cert, pki.admin_key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(pki.dir.stat().st_mode) == 0o700
    ca, serving, admin = load(pki.ca_cert), load(pki.serving_cert), load(pki.admin_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    serving.verify_directly_issued_by(ca)
    admin.verify_directly_issued_by(ca)
    assert sans(serving) == {"localhost", "127.0.0.1", "::1", "127.0.0.2", "teapot.example"}
    assert serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    assert admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "teapot-admin"
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    )


def test_reuse_and_reissue(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path)
    files = {
        p: p.read_bytes() for p in (first.ca_cert, first.serving_cert, first.admin_cert, first.admin_key)
    }
    again = ensure_pki(tmp_path)
    assert again == first
    assert all(p.read_bytes() == data for p, data in files.items())  # nothing regenerated

    # a new name re-issues only the serving certificate, under the same CA
    ensure_pki(tmp_path, extra_sans=["10.0.0.5"])
    assert first.ca_cert.read_bytes() == files[first.ca_cert]
    assert first.admin_cert.read_bytes() == files[first.admin_cert]
    assert "10.0.0.5" in sans(load(first.serving_cert))
    # a wildcard bind address adds nothing
    before = first.serving_cert.read_bytes()
    ensure_pki(tmp_path, bind_address="0.0.0.0", extra_sans=["10.0.0.5"])
    assert first.serving_cert.read_bytes() == before

    # near expiry, leaves are re-issued; the CA stays
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=340)
    ensure_pki(tmp_path, extra_sans=["10.0.0.5"], now=later)
    assert first.ca_cert.read_bytes() == files[first.ca_cert]
    assert first.admin_cert.read_bytes() != files[first.admin_cert]
    assert load(first.admin_cert).not_valid_after_utc > later + dt.timedelta(days=300)

    # a broken CA key regenerates the CA and every leaf with it
    first.ca_key.write_bytes(b"garbage")
    ensure_pki(tmp_path)
    ca = load(first.ca_cert)
    assert first.ca_cert.read_bytes() != files[first.ca_cert]
    load(first.serving_cert).verify_directly_issued_by(ca)
    load(first.admin_cert).verify_directly_issued_by(ca)


def test_issue_client_cert(pki: PKIPaths, tmp_path: Path) -> None:
    cert_path, key_path = issue_client_cert(
        pki, "alice", ["acme", "dev"], tmp_path / "a.crt", tmp_path / "a.key"
    )
    cert = load(cert_path)
    cert.verify_directly_issued_by(load(pki.ca_cert))
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "acme",
        "dev",
    ]
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    with pytest.raises(FileNotFoundError):
        issue_client_cert(PKIPaths.in_dir(tmp_path / "none"), "x", [], tmp_path / "x.crt", tmp_path / "x.key")


# --- TLS handshakes against a tiny asyncio server ------------------------------------------


@pytest.fixture
async def tls_server(pki: PKIPaths) -> AsyncIterator[int]:
    """Answers each connection with the user its client certificate authenticates (or null)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        user = user_from_peercert(writer.get_extra_info("peercert"))
        body = None if user is None else {"name": user.name, "groups": list(user.groups)}
        writer.write(json.dumps(body).encode() + b"\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ssl_context(pki))
    port = server.sockets[0].getsockname()[1]
    yield port
    server.close()
    await server.wait_closed()


async def ask(port: int, ctx: ssl.SSLContext, server_hostname: str = "localhost") -> object:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname=server_hostname
    )
    try:
        line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    if not line:
        raise ConnectionError("closed without answer")
    return json.loads(line)


@pytest.mark.e2e
async def test_handshake_with_admin_client_cert(pki: PKIPaths, tls_server: int) -> None:
    ctx = client_ssl_context(pki, pki.admin_cert, pki.admin_key)
    answer = await ask(tls_server, ctx)
    assert answer == {"name": "teapot-admin", "groups": ["system:masters", "system:authenticated"]}
    # the serving certificate is valid for the IP and for the extra DNS name too
    assert await ask(tls_server, ctx, server_hostname="127.0.0.1") == answer


@pytest.mark.e2e
async def test_handshake_without_client_cert_is_allowed(pki: PKIPaths, tls_server: int) -> None:
    assert await ask(tls_server, client_ssl_context(pki)) is None


@pytest.mark.e2e
async def test_client_cert_from_foreign_ca_is_rejected(
    pki: PKIPaths, tls_server: int, tmp_path: Path
) -> None:
    other = ensure_pki(tmp_path / "other")
    ctx = client_ssl_context(pki, other.admin_cert, other.admin_key)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await ask(tls_server, ctx)


@pytest.mark.e2e
async def test_server_cert_cannot_be_used_as_client_cert(pki: PKIPaths, tls_server: int) -> None:
    ctx = client_ssl_context(pki, pki.serving_cert, pki.serving_key)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await ask(tls_server, ctx)


@pytest.mark.e2e
async def test_client_rejects_server_for_unknown_name_or_ca(
    pki: PKIPaths, tls_server: int, tmp_path: Path
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await ask(tls_server, client_ssl_context(pki), server_hostname="evil.example")
    other = ensure_pki(tmp_path / "other")
    with pytest.raises(ssl.SSLCertVerificationError):
        await ask(tls_server, client_ssl_context(other))


def test_ip_sans_are_ip_addresses(pki: PKIPaths) -> None:
    ext = load(pki.serving_cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("::1") in ext.get_values_for_type(x509.IPAddress)
