"""What real kubectl 1.37 sends as protobuf, decoded — and accepted by the real server as JSON.

A plain-HTTP recording proxy on 127.0.0.1 sits between kubectl and a real ``teapot apiserver``:
discovery and every other request pass through untouched; a request whose body is
``application/vnd.kubernetes.protobuf`` is recorded, decoded with :func:`decode_object` and forwarded
as JSON. So each test checks three things: the decoder understands kubectl's bytes, the dict equals
what the same kubectl prints for the object with ``--dry-run=client -o json`` (Go's JSON of the very
struct it encodes — an oracle independent of our tables), and the server accepts that dict.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from teapot.apiserver.protobuf import PROTOBUF, ProtobufError, decode_object
from tests.conftest import KUBECTL, RunningAPIServer

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    body: bytes


@dataclass
class Proxy:
    kubeconfig: Path
    recorded: list[Recorded] = field(default_factory=list)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [KUBECTL, "--kubeconfig", str(self.kubeconfig), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def take(self) -> list[Recorded]:
        out = list(self.recorded)
        self.recorded.clear()
        return out


def _upstream_context(kubeconfig: Path, scratch: Path) -> tuple[str, ssl.SSLContext]:
    cfg = yaml.safe_load(kubeconfig.read_text())
    cluster = cfg["clusters"][0]["cluster"]
    user = cfg["users"][0]["user"]
    ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    cert, key = scratch / "client.crt", scratch / "client.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    ctx.load_cert_chain(str(cert), str(key))
    return str(cluster["server"]), ctx


@pytest.fixture(scope="module")
def proxy_server(apiserver: RunningAPIServer) -> Iterator[tuple[ThreadingHTTPServer, list[Recorded]]]:
    recorded: list[Recorded] = []
    scratch = Path(tempfile.mkdtemp(prefix="pbproxy"))
    upstream, ctx = _upstream_context(apiserver.kubeconfig, scratch)

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ctype = self.headers.get("Content-Type", "")
            if ctype.split(";")[0].strip() == PROTOBUF:
                recorded.append(Recorded(self.command, self.path, body))
                try:
                    body, ctype = orjson.dumps(decode_object(body)), "application/json"
                except ProtobufError as exc:
                    self._reply(
                        415, "application/json", orjson.dumps({"kind": "Status", "message": str(exc)})
                    )
                    return
            headers = {"Accept": self.headers.get("Accept", "application/json"), "User-Agent": "pbproxy"}
            if ctype:
                headers["Content-Type"] = ctype
            request = urllib.request.Request(
                upstream + self.path, data=body or None, method=self.command, headers=headers
            )
            try:
                with urllib.request.urlopen(request, context=ctx, timeout=30) as response:
                    self._reply(response.status, response.headers.get("Content-Type", ""), response.read())
            except urllib.error.HTTPError as error:
                self._reply(error.code, error.headers.get("Content-Type", ""), error.read())

        def _reply(self, status: int, ctype: str, payload: bytes) -> None:
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, recorded
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(proxy_server: tuple[ThreadingHTTPServer, list[Recorded]], namespace: str, tmp_path: Path) -> Proxy:
    server, recorded = proxy_server
    recorded.clear()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "proxy", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}
                ],
                "users": [{"name": "anonymous", "user": {}}],
                "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "anonymous"}}],
                "current-context": "proxy",
            }
        )
    )
    return Proxy(kubeconfig, recorded)


def _created(proxy: Proxy, *args: str) -> dict[str, Any]:
    """Run ``kubectl <args>``, return the decoded protobuf body of its one POST, checked against the oracle."""
    oracle = json.loads(proxy.kubectl(*args, "--dry-run=client", "-o", "json").stdout)
    proxy.take()
    proxy.kubectl(*args)
    posts = [r for r in proxy.take() if r.method == "POST"]
    assert len(posts) == 1, posts
    assert posts[0].body.startswith(b"k8s\x00")
    decoded = decode_object(posts[0].body)
    assert decoded == oracle
    return decoded


def test_create_configmap(proxy: Proxy, apiserver: RunningAPIServer, namespace: str) -> None:
    got = _created(
        proxy, "create", "configmap", "cm1", "-n", namespace, "--from-literal=a=b", "--from-literal=c="
    )
    assert got == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "cm1", "namespace": namespace},
        "data": {"a": "b", "c": ""},
    }
    stored = apiserver.kubectl_json("get", "configmap", "cm1", "-n", namespace)
    assert stored["data"] == {"a": "b", "c": ""}


def test_create_configmap_from_binary_file(
    proxy: Proxy, apiserver: RunningAPIServer, namespace: str, tmp_path: Path
) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\xff\xfe binary")
    got = _created(proxy, "create", "configmap", "bin", "-n", namespace, f"--from-file=blob={blob}")
    assert got["binaryData"] == {"blob": base64.b64encode(b"\x00\xff\xfe binary").decode()}
    stored = apiserver.kubectl_json("get", "configmap", "bin", "-n", namespace)
    assert stored["binaryData"] == got["binaryData"]


def test_create_secret(proxy: Proxy, apiserver: RunningAPIServer, namespace: str) -> None:
    got = _created(proxy, "create", "secret", "generic", "s1", "-n", namespace, "--from-literal=p=q")
    assert got == {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "s1", "namespace": namespace},
        "data": {"p": "cQ=="},  # kubectl leaves type empty; the server defaults it
    }
    stored = apiserver.kubectl_json("get", "secret", "s1", "-n", namespace)
    assert stored["data"] == {"p": "cQ=="} and stored["type"] == "Opaque"
    registry = _created(
        proxy,
        "create",
        "secret",
        "docker-registry",
        "reg",
        "-n",
        namespace,
        "--docker-server=registry.example.com",
        "--docker-username=u",
        "--docker-password=p",
    )
    assert registry["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(registry["data"][".dockerconfigjson"]))
    assert config["auths"]["registry.example.com"]["username"] == "u"


def test_create_namespace_and_serviceaccount(
    proxy: Proxy, apiserver: RunningAPIServer, namespace: str
) -> None:
    name = f"{namespace}-pb"
    got = _created(proxy, "create", "namespace", name)
    assert got == {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": name},
        "spec": {},
        "status": {},
    }
    assert apiserver.kubectl_json("get", "namespace", name)["status"]["phase"] == "Active"
    apiserver.kubectl("delete", "namespace", name, "--wait=false")
    got = _created(proxy, "create", "serviceaccount", "robot", "-n", namespace)
    assert got["metadata"]["name"] == "robot"
    apiserver.kubectl("get", "serviceaccount", "robot", "-n", namespace)


def test_create_rbac_objects(proxy: Proxy, apiserver: RunningAPIServer, namespace: str) -> None:
    role = _created(
        proxy, "create", "role", "reader", "-n", namespace, "--verb=get,list", "--resource=configmaps,secrets"
    )
    assert role["rules"] == [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps", "secrets"]}
    ]
    binding = _created(
        proxy,
        "create",
        "rolebinding",
        "read",
        "-n",
        namespace,
        "--role=reader",
        "--user=alice",
        "--group=devs",
        f"--serviceaccount={namespace}:robot",
    )
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}
    assert {s["kind"] for s in binding["subjects"]} == {"User", "Group", "ServiceAccount"}
    cluster_role = f"{namespace}-health"
    got = _created(proxy, "create", "clusterrole", cluster_role, "--verb=get", "--non-resource-url=/healthz")
    assert got["rules"] == [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]
    aggregated = _created(proxy, "create", "clusterrole", f"{namespace}-agg", "--aggregation-rule=team=a")
    assert aggregated["aggregationRule"] == {"clusterRoleSelectors": [{"matchLabels": {"team": "a"}}]}
    crb = _created(
        proxy,
        "create",
        "clusterrolebinding",
        f"{namespace}-crb",
        f"--clusterrole={cluster_role}",
        "--user=bob",
    )
    assert crb["subjects"] == [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"}]
    for kind, name in (
        ("clusterrole", cluster_role),
        ("clusterrole", f"{namespace}-agg"),
        ("clusterrolebinding", f"{namespace}-crb"),
    ):
        apiserver.kubectl("get", kind, name)
        apiserver.kubectl("delete", kind, name)
    assert (
        apiserver.kubectl_json("get", "rolebinding", "read", "-n", namespace)["roleRef"]["name"] == "reader"
    )


def test_auth_can_i(proxy: Proxy, namespace: str) -> None:
    result = proxy.kubectl("auth", "can-i", "list", "pods", "-n", namespace)
    assert result.stdout.strip() == "yes"
    posts = [r for r in proxy.take() if r.method == "POST"]
    assert [p.path for p in posts] == ["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]
    assert decode_object(posts[0].body) == {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {},
        "spec": {"resourceAttributes": {"namespace": namespace, "verb": "list", "resource": "pods"}},
        "status": {"allowed": False},
    }


def test_auth_can_i_non_resource_and_subresource(proxy: Proxy, namespace: str) -> None:
    assert proxy.kubectl("auth", "can-i", "get", "/healthz").stdout.strip() == "yes"
    review = decode_object(proxy.take()[-1].body)
    assert review["spec"] == {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}
    proxy.kubectl("auth", "can-i", "get", "pods", "--subresource=log", "-n", namespace)
    review = decode_object([r for r in proxy.take() if r.method == "POST"][-1].body)
    assert review["spec"]["resourceAttributes"]["subresource"] == "log"


def test_auth_can_i_list(proxy: Proxy, namespace: str) -> None:
    result = proxy.kubectl("auth", "can-i", "--list", "-n", namespace)
    assert "Resources" in result.stdout
    posts = [r for r in proxy.take() if r.method == "POST"]
    assert [p.path for p in posts] == ["/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"]
    assert decode_object(posts[0].body) == {
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {},
        "spec": {"namespace": namespace},
        "status": {"resourceRules": None, "nonResourceRules": None, "incomplete": False},
    }


def test_auth_whoami(proxy: Proxy) -> None:
    result = proxy.kubectl("auth", "whoami", "-o", "json", check=False)
    posts = [r for r in proxy.take() if r.method == "POST"]
    assert [p.path for p in posts] == ["/apis/authentication.k8s.io/v1/selfsubjectreviews"]
    assert decode_object(posts[0].body) == {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {},
        "status": {"userInfo": {}},
    }
    assert result.returncode == 0, result.stderr


def test_create_token_body(proxy: Proxy, namespace: str) -> None:
    """``kubectl create token`` posts a TokenRequest; the server may not serve the subresource yet."""
    proxy.kubectl(
        "create", "token", "robot", "-n", namespace, "--duration=10m", "--audience=api", check=False
    )
    posts = [r for r in proxy.take() if r.method == "POST"]
    assert [p.path for p in posts] == [f"/api/v1/namespaces/{namespace}/serviceaccounts/robot/token"]
    assert decode_object(posts[0].body) == {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {},
        "spec": {"audiences": ["api"], "expirationSeconds": 600, "boundObjectRef": None},
        "status": {"token": "", "expirationTimestamp": None},
    }
