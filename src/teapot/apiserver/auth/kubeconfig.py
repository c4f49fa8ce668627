"""Kubeconfig files for the embedded server: the admin's, and any user's by token.

Why it exists: a kubeconfig is how kubectl, the client libraries and Teapot's controllers find the
server, trust its CA and prove who they are. The admin kubeconfig must work on another machine
after a copy, so the CA and the credentials are embedded (``certificate-authority-data``,
``client-certificate-data``/``client-key-data`` or ``token``) rather than referenced by path; the
file is written 0600 because it is a credential.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from teapot.apiserver.auth.certs import PKIPaths
from teapot.apiserver.auth.files import write_private
from teapot.apiserver.auth.tokens import ADMIN_USER, TokenFile
from teapot.apiserver.auth.users import SYSTEM_MASTERS


@dataclass(frozen=True)
class TokenCredentials:
    token: str = field(repr=False)


@dataclass(frozen=True)
class ClientCertCredentials:
    cert_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)

    @classmethod
    def from_files(cls, cert: str | Path, key: str | Path) -> ClientCertCredentials:
        return cls(Path(cert).read_bytes(), Path(key).read_bytes())


Credentials = TokenCredentials | ClientCertCredentials


def server_url(bind_address: str, port: int) -> str:
    """``https://HOST:PORT`` a local client should use; wildcard binds map to loopback."""
    host = bind_address.strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return f"https://{host}:{port}"
    if ip.is_unspecified:
        ip = ipaddress.ip_address("::1" if ip.version == 6 else "127.0.0.1")
    return f"https://[{ip}]:{port}" if ip.version == 6 else f"https://{ip}:{port}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def build_kubeconfig(
    server: str,
    ca_pem: bytes,
    credentials: Credentials,
    *,
    user: str = ADMIN_USER,
    cluster: str = "teapot",
    context: str = "teapot",
    namespace: str = "",
) -> dict[str, Any]:
    """A kubeconfig document (``kind: Config``) with one cluster, user and context."""
    if isinstance(credentials, TokenCredentials):
        user_entry: dict[str, str] = {"token": credentials.token}
    else:
        user_entry = {
            "client-certificate-data": _b64(credentials.cert_pem),
            "client-key-data": _b64(credentials.key_pem),
        }
    context_entry: dict[str, str] = {"cluster": cluster, "user": user}
    if namespace:
        context_entry["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster, "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)}}
        ],
        "users": [{"name": user, "user": user_entry}],
        "contexts": [{"name": context, "context": context_entry}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(path: str | Path, config: dict[str, Any]) -> Path:
    """Write a kubeconfig document as YAML, atomically, mode 0600."""
    return write_private(Path(path), yaml.safe_dump(config, sort_keys=False).encode())


def admin_credentials(pki: PKIPaths, token_file: TokenFile | None = None) -> Credentials:
    """The first ``system:masters`` token of an operator-given token file, else the admin client cert."""
    if token_file is not None:
        token = token_file.first_token_in_group(SYSTEM_MASTERS)
        if token is not None:
            return TokenCredentials(token)
    return ClientCertCredentials.from_files(pki.admin_cert, pki.admin_key)


def write_admin_kubeconfig(
    path: str | Path, server: str, pki: PKIPaths, token_file: TokenFile | None = None
) -> Path:
    """The admin kubeconfig (``<data-dir>/kubeconfig`` and ``--write-kubeconfig``)."""
    config = build_kubeconfig(server, pki.ca_cert.read_bytes(), admin_credentials(pki, token_file))
    return write_kubeconfig(path, config)


def write_token_kubeconfig(
    path: str | Path, server: str, ca_cert: str | Path, token: str, *, user: str = "user", namespace: str = ""
) -> Path:
    """A kubeconfig that authenticates with ``token`` (e.g. to act as a tenant user in tests)."""
    config = build_kubeconfig(
        server, Path(ca_cert).read_bytes(), TokenCredentials(token), user=user, namespace=namespace
    )
    return write_kubeconfig(path, config)
