"""The server's small PKI: a CA, a serving certificate and an admin client certificate.

Why it exists: kubectl and the client libraries speak HTTPS and verify the server against a CA
from the kubeconfig, so the embedded server needs a CA of its own on first start — without asking
the operator to run openssl. Like k3s, we generate an ECDSA P-256 CA (fast to generate, accepted by
Go, OpenSSL and browsers) into ``<data-dir>/pki``, keep it across restarts, and re-issue only leaf
certificates that are missing, broken, expiring within 30 days, not signed by the current CA, or
(serving certificate) not covering a requested name. The same CA verifies client certificates, so
the generated admin certificate (``CN=teapot-admin, O=system:masters``) authenticates as superuser.
Everything is done with the ``cryptography`` library; nothing shells out.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from teapot.apiserver.auth.files import ensure_private_dir, write_private
from teapot.apiserver.auth.tokens import ADMIN_USER
from teapot.apiserver.auth.users import SYSTEM_MASTERS

CA_DAYS = 3650
LEAF_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=30)
CLOCK_SKEW = dt.timedelta(hours=1)
DEFAULT_SANS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class PKIPaths:
    """Where the PKI files of one data dir are (all PEM; keys are PKCS#8, mode 0600)."""

    dir: Path
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path

    @classmethod
    def in_dir(cls, pki_dir: Path) -> PKIPaths:
        return cls(
            dir=pki_dir,
            ca_cert=pki_dir / "ca.crt",
            ca_key=pki_dir / "ca.key",
            serving_cert=pki_dir / "apiserver.crt",
            serving_key=pki_dir / "apiserver.key",
            admin_cert=pki_dir / "admin.crt",
            admin_key=pki_dir / "admin.key",
        )


@dataclass(frozen=True)
class SubjectAltNames:
    """The DNS names and IP addresses a serving certificate must cover."""

    dns: frozenset[str]
    ips: frozenset[IPAddress]

    @classmethod
    def parse(cls, names: Sequence[str]) -> SubjectAltNames:
        """Each name is an IP address (``[::1]`` brackets allowed) or else a DNS name."""
        dns: set[str] = set()
        ips: set[IPAddress] = set()
        for raw in names:
            name = raw.strip()
            if not name:
                continue
            try:
                ips.add(ipaddress.ip_address(name.strip("[]")))
            except ValueError:
                dns.add(name.lower())
        return cls(frozenset(dns), frozenset(ips))

    def covered_by(self, cert: x509.Certificate) -> bool:
        have = _cert_sans(cert)
        return self.dns <= have.dns and self.ips <= have.ips


def serving_names(bind_address: str, extra_sans: Sequence[str] = ()) -> SubjectAltNames:
    """Default names + ``extra_sans`` + the bind address unless it is a wildcard (0.0.0.0, ::)."""
    names = [*DEFAULT_SANS, *extra_sans]
    try:
        if not ipaddress.ip_address(bind_address.strip("[]")).is_unspecified:
            names.append(bind_address)
    except ValueError:
        names.append(bind_address)  # a host name
    return SubjectAltNames.parse(names)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _cert_sans(cert: x509.Certificate) -> SubjectAltNames:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return SubjectAltNames(frozenset(), frozenset())
    return SubjectAltNames(
        frozenset(n.lower() for n in ext.get_values_for_type(x509.DNSName)),
        frozenset(ext.get_values_for_type(x509.IPAddress)),  # type: ignore[arg-type]
    )


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_pair(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The certificate and its key, or ``None`` if either is missing, unreadable or they don't match."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.public_key() != key.public_key():
        return None
    return cert, key


def _usable(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - RENEW_BEFORE > now


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _make_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    name = _name(f"teapot-ca@{int(now.timestamp())}")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_leaf(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    now: dt.datetime,
    sans: SubjectAltNames | None = None,
    days: int = LEAF_DAYS,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = _new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if sans is not None:
        general: list[x509.GeneralName] = [x509.DNSName(d) for d in sorted(sans.dns)]
        general += [x509.IPAddress(ip) for ip in sorted(sans.ips, key=lambda a: (a.version, int(a)))]
        builder = builder.add_extension(x509.SubjectAlternativeName(general), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _signed_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _write_pair(
    cert_path: Path, key_path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> None:
    write_private(key_path, _key_pem(key))
    write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def ensure_pki(
    data_dir: str | Path,
    *,
    bind_address: str = "127.0.0.1",
    extra_sans: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> PKIPaths:
    """Create or reuse ``<data_dir>/pki``; return where the files are.

    Reuses every valid file; re-issues a leaf when needed (see module docstring). A missing or
    broken CA is regenerated, which re-issues both leaves (old kubeconfigs then stop working, as
    they must). ``now`` exists for tests of expiry handling.
    """
    now = now or _now()
    paths = PKIPaths.in_dir(ensure_private_dir(Path(data_dir) / "pki"))

    ca = _load_pair(paths.ca_cert, paths.ca_key)
    if ca is None or not (ca[0].not_valid_before_utc <= now < ca[0].not_valid_after_utc):
        ca = _make_ca(now)
        _write_pair(paths.ca_cert, paths.ca_key, *ca)

    sans = serving_names(bind_address, extra_sans)
    serving = _load_pair(paths.serving_cert, paths.serving_key)
    if (
        serving is None
        or not _usable(serving[0], now)
        or not _signed_by(serving[0], ca[0])
        or not sans.covered_by(serving[0])
    ):
        cert, key = _make_leaf(ca, _name("teapot-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, now, sans)
        _write_pair(paths.serving_cert, paths.serving_key, cert, key)

    admin_subject = _name(ADMIN_USER, [SYSTEM_MASTERS])
    admin = _load_pair(paths.admin_cert, paths.admin_key)
    if (
        admin is None
        or not _usable(admin[0], now)
        or not _signed_by(admin[0], ca[0])
        or admin[0].subject != admin_subject
    ):
        cert, key = _make_leaf(ca, admin_subject, ExtendedKeyUsageOID.CLIENT_AUTH, now)
        _write_pair(paths.admin_cert, paths.admin_key, cert, key)
    return paths


def issue_client_cert(
    pki: PKIPaths,
    common_name: str,
    organizations: Sequence[str],
    cert_path: str | Path,
    key_path: str | Path,
    *,
    days: int = LEAF_DAYS,
) -> tuple[Path, Path]:
    """Sign a client certificate (CN = user, O = groups) with the data dir's CA; files 0600."""
    ca = _load_pair(pki.ca_cert, pki.ca_key)
    if ca is None:
        raise FileNotFoundError(f"no usable CA in {pki.dir}; call ensure_pki first")
    cert, key = _make_leaf(
        ca, _name(common_name, organizations), ExtendedKeyUsageOID.CLIENT_AUTH, _now(), days=days
    )
    cp, kp = Path(cert_path), Path(key_path)
    _write_pair(cp, kp, cert, key)
    return cp, kp


def server_ssl_context(pki: PKIPaths) -> ssl.SSLContext:
    """TLS ≥1.2 server context; asks for (does not require) a client cert verified against the CA.

    A client without a certificate still connects (and may use a bearer token); a client with a
    certificate that does not chain to the CA fails the handshake, as with kube-apiserver.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pki.serving_cert, pki.serving_key)
    ctx.load_verify_locations(cafile=pki.ca_cert)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def client_ssl_context(
    pki: PKIPaths, cert: str | Path | None = None, key: str | Path | None = None
) -> ssl.SSLContext:
    """A client context trusting the data dir's CA, optionally presenting ``cert``/``key``."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca_cert))
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx
