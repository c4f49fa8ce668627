"""Kubeconfig documents and server URLs."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
import yaml

from teapot.apiserver.auth import (
    ClientCertCredentials,
    TokenCredentials,
    admin_credentials,
    build_kubeconfig,
    ensure_pki,
    parse_token_csv,
    server_url,
    write_kubeconfig,
    write_token_kubeconfig,
)


@pytest.mark.parametrize(
    ("bind", "port", "url"),
    [
        ("127.0.0.1", 6443, "https://127.0.0.1:6443"),
        ("0.0.0.0", 6443, "https://127.0.0.1:6443"),
        ("::", 1, "https://[::1]:1"),
        ("[::1]", 2, "https://[::1]:2"),
        ("fd00::5", 3, "https://[fd00::5]:3"),
        ("localhost", 4, "https://localhost:4"),
    ],
)
def test_server_url(bind: str, port: int, url: str) -> None:
    assert server_url(bind, port) == url


def test_token_kubeconfig_document(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n")
    path = write_token_kubeconfig(
        tmp_path / "kc", "https://127.0.0.1:1", ca, "tok", user="alice", namespace="acme"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = yaml.safe_load(path.read_text())
    assert doc["current-context"] == "teapot"
    assert doc["contexts"][0]["context"] == {"cluster": "teapot", "user": "alice", "namespace": "acme"}
    assert doc["users"] == [{"name": "alice", "user": {"token": "tok"}}]
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:1"
    assert base64.b64decode(cluster["certificate-authority-data"]) == ca.read_bytes()


def test_rewrite_makes_file_private(tmp_path: Path) -> None:
    path = tmp_path / "kc"
    path.write_text("old")
    path.chmod(0o644)
    write_kubeconfig(path, build_kubeconfig("https://x:1", b"ca", TokenCredentials("t")))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [path]  # no temp files left behind


def test_admin_credentials_choice(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)
    cert = admin_credentials(pki)
    assert isinstance(cert, ClientCertCredentials)
    assert cert.cert_pem == pki.admin_cert.read_bytes()
    assert "BEGIN" not in repr(cert)
    tokens = parse_token_csv('a,alice,1,"dev"\nb,root,2,"x,system:masters"\nc,root2,3,system:masters\n')
    assert admin_credentials(pki, tokens) == TokenCredentials("b")
    no_masters = parse_token_csv("a,alice,1\n")
    assert isinstance(admin_credentials(pki, no_masters), ClientCertCredentials)
