"""Real kubectl against the OpenAPI documents: explain, and apply's validation and patch detection.

A minimal HTTP stub serves discovery, the documents from ``OpenAPIBuilder`` and a dict of objects;
it stands in for the embedded server only so this module's output can be checked with the real
peer before (and independently of) the full server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from teapot.apiserver.openapi import OpenAPIBuilder
from teapot.apiserver.openapi.v2proto import MEDIA_TYPE
from teapot.apiserver.resources import PrinterColumn, ResourceInfo
from teapot.apiserver.tables import table_for

KUBECTL = Path(sys.executable).with_name("kubectl")
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

RESOURCES = (
    ResourceInfo("", "v1", "configmaps", "ConfigMap", "configmap", True, builtin=True, short_names=("cm",)),
    ResourceInfo("", "v1", "namespaces", "Namespace", "namespace", False, builtin=True),
    ResourceInfo(
        "teapot.dev",
        "v1alpha1",
        "tenants",
        "Tenant",
        "tenant",
        False,
        subresources=frozenset({"status"}),
        printer_columns=(
            PrinterColumn("Weight", "integer", ".spec.weight"),
            PrinterColumn("Owner", "string", ".spec.owners[0]", priority=1),
            PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
        ),
        schema={
            "type": "object",
            "description": "A tenant of the cloud.",
            "properties": {
                "spec": {
                    "type": "object",
                    "description": "What the tenant is guaranteed.",
                    "properties": {
                        "weight": {"type": "integer", "description": "Share of spare capacity."},
                        "owners": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    ),
)


class _Stub(ThreadingHTTPServer):
    builder: OpenAPIBuilder
    store: dict[str, dict[str, Any]]
    requests: list[tuple[str, str, str, bytes]]  # method, path, content type, body


class _Handler(BaseHTTPRequestHandler):
    server: _Stub

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, obj: Any) -> None:
        self._send(code, json.dumps(obj).encode())

    def _not_found(self) -> None:
        self._json(
            404,
            {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404},
        )

    def _record(self) -> bytes:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append((self.command, self.path, self.headers.get("Content-Type", ""), body))
        return body

    def do_GET(self) -> None:
        self._record()
        path = self.path.split("?")[0]
        if path == "/api":
            return self._json(200, {"kind": "APIVersions", "versions": ["v1"]})
        if path == "/apis":
            gv = {"groupVersion": "teapot.dev/v1alpha1", "version": "v1alpha1"}
            return self._json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                    "groups": [{"name": "teapot.dev", "versions": [gv], "preferredVersion": gv}]})  # fmt: skip
        for r in RESOURCES:
            if path == ("/api/v1" if not r.group else f"/apis/{r.group_version}"):
                listing = [
                    {"name": x.resource, "singularName": x.singular, "namespaced": x.namespaced, "kind": x.kind,
                     "verbs": list(x.verbs), "shortNames": list(x.short_names)}
                    for x in RESOURCES if x.group_version == r.group_version
                ]  # fmt: skip
                return self._json(200, {"kind": "APIResourceList", "groupVersion": r.group_version,
                                        "resources": listing})  # fmt: skip
        if path == "/openapi/v2":
            wants_proto = MEDIA_TYPE in self.headers.get("Accept", "")
            return self._send(
                200, self.server.builder.v2_protobuf() if wants_proto else self.server.builder.v2()
            )
        if path == "/openapi/v3":
            return self._send(200, self.server.builder.v3_index())
        if path.startswith("/openapi/v3/"):
            doc = self.server.builder.v3_group_version(path.removeprefix("/openapi/v3/"))
            return self._send(200, doc) if doc is not None else self._not_found()
        if path in self.server.store:
            return self._json(200, self.server.store[path])
        for r in RESOURCES:
            if path.endswith("/" + r.resource) and "as=Table" in self.headers.get("Accept", ""):
                items = [o for key, o in self.server.store.items() if key.rsplit("/", 1)[0] == path]
                table = table_for(r, items, list_meta={"resourceVersion": "9"}, now=NOW)
                self.send_response(200)
                body = json.dumps(table).encode()
                self.send_header("Content-Type", "application/json;as=Table;v=v1;g=meta.k8s.io")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return None
        return self._not_found()

    def do_POST(self) -> None:
        obj = json.loads(self._record())
        obj["metadata"].update(resourceVersion="1", uid="u-1", creationTimestamp="2026-03-01T11:55:00Z")
        self.server.store[self.path.split("?")[0] + "/" + obj["metadata"]["name"]] = obj
        self._json(201, obj)

    def do_PATCH(self) -> None:
        self._record()
        self._json(200, self.server.store[self.path.split("?")[0]])


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[tuple[_Stub, dict[str, str]]]:
    server = _Stub(("127.0.0.1", 0), _Handler)
    server.builder = OpenAPIBuilder(RESOURCES)
    server.store = {}
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "default"}}],
                "current-context": "c",
            }
        )
    )
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig)}
    try:
        yield server, env
    finally:
        server.shutdown()
        server.server_close()


def kubectl(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBECTL), f"--cache-dir={env['HOME']}/cache", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_kubectl_explain_builtin_and_crd(stub: tuple[_Stub, dict[str, str]]) -> None:
    _, env = stub
    out = kubectl(env, "explain", "configmap.data")
    assert out.returncode == 0, out.stderr
    assert "Data contains the configuration data" in out.stdout
    out = kubectl(env, "explain", "cm.metadata.ownerReferences.uid")
    assert out.returncode == 0, out.stderr
    assert "UID of the referent" in out.stdout
    out = kubectl(env, "explain", "tenants.spec")
    assert out.returncode == 0, out.stderr
    assert "GROUP:      teapot.dev" in out.stdout
    assert "What the tenant is guaranteed." in out.stdout
    assert "weight\t<integer>" in out.stdout
    assert "Share of spare capacity." in out.stdout


CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, finalizers: [%s]}
data: {mode: %s}
"""
TENANT = """
apiVersion: teapot.dev/v1alpha1
kind: Tenant
metadata: {name: acme}
spec: {weight: %d}
"""


def test_kubectl_apply_uses_server_side_validation_and_v3_patch_metadata(
    stub: tuple[_Stub, dict[str, str]],
) -> None:
    server, env = stub
    for manifest in (CONFIGMAP % ("a", "fast"), TENANT % 1):
        out = kubectl(env, "apply", "-f", "-", stdin=manifest)
        assert out.returncode == 0, out.stderr
    posts = [(path, body) for method, path, _, body in server.requests if method == "POST"]
    assert len(posts) == 2
    # the v3 documents told kubectl the server validates fields, so it skipped client-side validation
    assert all("fieldValidation=Strict" in path for path, _ in posts)
    assert not any(path.startswith("/openapi/v2") for _, path, _, _ in server.requests)

    out = kubectl(env, "apply", "-f", "-", stdin=CONFIGMAP % ("a, b", "slow"))
    assert out.returncode == 0, out.stderr
    assert "warning" not in out.stderr.lower()
    method, path, content_type, body = server.requests[-1]
    assert (method, path.split("?")[0]) == ("PATCH", "/api/v1/namespaces/default/configmaps/settings")
    assert content_type == "application/strategic-merge-patch+json"
    patch = json.loads(body)
    # a strategic merge patch computed from the published metadata: finalizers is a merge list
    assert patch["metadata"]["$setElementOrder/finalizers"] == ["a", "b"]
    assert patch["data"] == {"mode": "slow"}
    # ... and from the v3 document: kubectl falls back to /openapi/v2, then to compiled-in types
    assert not any(path.startswith("/openapi/v2") for _, path, _, _ in server.requests)

    out = kubectl(env, "apply", "-f", "-", stdin=TENANT % 2)
    assert out.returncode == 0, out.stderr
    method, path, content_type, body = server.requests[-1]
    assert (method, path.split("?")[0]) == ("PATCH", "/apis/teapot.dev/v1alpha1/tenants/acme")
    assert content_type == "application/merge-patch+json"  # CRDs take no strategic merge patch
    assert json.loads(body)["spec"] == {"weight": 2}


def test_kubectl_get_prints_tables(stub: tuple[_Stub, dict[str, str]]) -> None:
    _, env = stub
    for manifest in (CONFIGMAP % ("a", "fast"), TENANT % 7):
        assert kubectl(env, "apply", "-f", "-", stdin=manifest).returncode == 0
    out = kubectl(env, "get", "configmaps")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["NAME", "DATA", "AGE", "settings", "1", "5m"]
    out = kubectl(env, "get", "tenants")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["NAME", "WEIGHT", "AGE", "acme", "7", "5m"]
    out = kubectl(env, "get", "tenants", "-o", "wide")
    assert out.returncode == 0, out.stderr
    # priority-1 columns appear with -o wide; a missing value (null cell) prints as blank
    assert out.stdout.split() == ["NAME", "WEIGHT", "OWNER", "AGE", "acme", "7", "5m"]
    out = kubectl(env, "get", "tenants", "--show-labels")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "<none>"


LIST = """
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: listed}
  data: {a: b}
- apiVersion: teapot.dev/v1alpha1
  kind: Tenant
  metadata: {name: listed}
  spec: {weight: 5}
"""


def test_kubectl_validates_lists_with_the_v2_protobuf_document(stub: tuple[_Stub, dict[str, str]]) -> None:
    """A ``kind: List`` manifest has no v3 entry, so kubectl validates it with the v2 protobuf."""
    server, env = stub
    out = kubectl(env, "apply", "-f", "-", stdin=LIST)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["configmap/listed", "created", "tenant.teapot.dev/listed", "created"]
    assert any(path.startswith("/openapi/v2") for _, path, _, _ in server.requests)
    # the decoded v2 schemas are really used: an unknown field fails client-side validation
    out = kubectl(env, "create", "-f", "-", stdin=LIST.replace("data: {a: b}", "data: {a: b}\n  bogus: 1"))
    assert out.returncode != 0
    assert 'unknown field "bogus"' in out.stderr
    out = kubectl(env, "create", "-f", "-", stdin=LIST.replace("weight: 5", "weight: five"))
    assert out.returncode != 0
    assert "spec.weight" in out.stderr


def test_kubectl_explain_from_the_v2_protobuf_document(stub: tuple[_Stub, dict[str, str]]) -> None:
    _, env = stub
    out = kubectl(env, "explain", "--output=plaintext-openapiv2", "configmap.data")
    assert out.returncode == 0, out.stderr
    assert "Data contains the configuration data" in out.stdout
    out = kubectl(env, "explain", "--output=plaintext-openapiv2", "tenants.spec")
    assert out.returncode == 0, out.stderr
    assert "Share of spare capacity." in out.stdout
