"""The generated CRDs are structural and served: Metal3's example applies; bad BMC input is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from teapot.api import all_crds
from teapot.api.metal3 import BareMetalHostSpec
from tests.conftest import RunningAPIServer

HERE = Path(__file__).parent


def _walk(node: Any, path: str = "") -> list[str]:
    """Paths of schema nodes that are not structural (no type, or $ref/anyOf left over)."""
    bad: list[str] = []
    if not isinstance(node, dict):
        return bad
    for key in ("$ref", "anyOf", "oneOf", "allOf", "$defs", "title"):
        if key in node:
            bad.append(f"{path}: {key}")
    if (
        "type" not in node
        and not node.get("x-kubernetes-int-or-string")
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        bad.append(f"{path}: no type")
    for name, child in (node.get("properties") or {}).items():
        bad += _walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        bad += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        bad += _walk(node["additionalProperties"], f"{path}{{}}")
    return bad


def test_generated_crds_are_structural() -> None:
    crds = all_crds()
    assert {c["metadata"]["name"] for c in crds} == {
        "baremetalhosts.metal3.io",
        "hardwaredata.metal3.io",
        "hostclasses.teapot.dev",
        "tenants.teapot.dev",
        "reservations.teapot.dev",
        "hostclaims.teapot.dev",
    }
    for crd in crds:
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert _walk(schema) == [], crd["metadata"]["name"]


def test_models_read_metal3_manifests() -> None:
    docs = list(yaml.safe_load_all((HERE / "metal3_example.yaml").read_text()))
    spec = BareMetalHostSpec.model_validate(docs[1]["spec"])
    assert spec.bmc is not None and spec.bmc.credentials_name == "worker-0-bmc-secret"
    assert spec.boot_mac_address == "00:11:22:33:44:55"
    assert spec.to_wire()["bootMACAddress"] == "00:11:22:33:44:55"


@pytest.mark.e2e
def test_metal3_example_applies_and_bad_bmc_input_is_refused(
    apiserver: RunningAPIServer, namespace: str
) -> None:
    apiserver.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(all_crds()))
    apiserver.kubectl("wait", "--for=condition=Established", "crd/baremetalhosts.metal3.io", "--timeout=30s")
    apiserver.kubectl("apply", "-n", namespace, "-f", str(HERE / "metal3_example.yaml"))
    hosts = apiserver.kubectl_json("get", "bmh", "-n", namespace)
    assert sorted(h["metadata"]["name"] for h in hosts["items"]) == ["worker-0", "worker-1"]
    assert hosts["items"][0]["spec"]["automatedCleaningMode"] == "metadata"
    printed = apiserver.kubectl("get", "bmh", "-n", namespace).stdout
    assert printed.split("\n")[0].split() == ["NAME", "STATE", "CONSUMER", "ONLINE", "ERROR", "AGE"]
    assert "worker-1-machine" in printed

    def bad(spec: dict[str, Any]) -> str:
        body = {
            "apiVersion": "metal3.io/v1alpha1",
            "kind": "BareMetalHost",
            "metadata": {"name": "bad"},
            "spec": spec,
        }
        result = apiserver.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(body), check=False)
        assert result.returncode != 0
        return result.stderr

    good_bmc = {"address": "redfish://10.0.0.1/redfish/v1/Systems/1", "credentialsName": "s"}
    assert "spec.bmc.address" in bad(
        {"online": True, "bmc": {"address": "ftp://10.0.0.1", "credentialsName": "s"}}
    )
    assert "spec.bootMACAddress" in bad({"online": True, "bmc": good_bmc, "bootMACAddress": "00:11:22"})
    assert "spec.bmc.credentialsName" in bad({"online": True, "bmc": {"address": "ipmi://10.0.0.1"}})
