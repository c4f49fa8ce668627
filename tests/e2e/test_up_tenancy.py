"""The whole system as ``teapot up --fleet`` runs it: a tenant's HostClaim reaches real machines.

Everything is real and started by ``teapot up`` itself: the embedded API server, Ironic, the emulated
Redfish BMCs and ironic-python-agents, the host controller and the tenancy controllers. The test acts
as an operator (HostClass, Tenant) and as the tenant (HostClaim with a live ISO) and follows the
hand-off: allocation binds hosts (``consumerRef`` + image) → the host controller provisions them
through Ironic → the claim says its hosts are ready → deleting the claim deprovisions and cleans them
(Metal3's default ``metadata`` cleaning, through the emulated agent) → they are free again.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from teapot.hosts.ironic.images import write_live_iso
from teapot.hosts.ironic.provisioner import IronicProvisioner, IronicProvisionerSettings
from tests.conftest import KUBECTL

pytestmark = pytest.mark.e2e
TEAPOT = Path(sys.executable).with_name("teapot")
HOSTS_NS = "teapot-hosts"


@dataclass
class Up:
    proc: subprocess.Popen[bytes]
    data: Path
    log: Path
    ironic_url: str
    http_url: str

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            [KUBECTL, "--kubeconfig", str(self.data / "kubeconfig"), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}{result.stdout}")
        return result.stdout

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def hosts(self) -> dict[str, dict[str, Any]]:
        return {h["metadata"]["name"]: h for h in self.get("bmh", "-n", HOSTS_NS)["items"]}

    def wait(self, what: str, check: Callable[[], bool], timeout: float) -> float:
        started = time.monotonic()
        while not check():
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            if time.monotonic() - started > timeout:
                states = {n: _state(h) for n, h in self.hosts().items()}
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {what}: {states}\n{self.diagnostics()}"
                )
            time.sleep(1.0)
        return time.monotonic() - started

    def diagnostics(self) -> str:
        """The controllers' work-queue metrics and the tenancy objects, for a failure message."""
        found = re.search(r"metrics at (http://\S+/metrics)", self.log.read_text())
        lines: list[str] = []
        if found:
            with urllib.request.urlopen(found.group(1), timeout=10) as response:
                text = response.read().decode()
            lines = [
                line
                for line in text.splitlines()
                if not line.startswith("#")
                and ("allocation" in line or "tenant" in line)
                and "bucket" not in line
            ]
        objects = self.kubectl("get", "tenants,hostclasses,hostclaims", "-A", "-o", "yaml", check=False)
        return "\n".join(lines) + "\n" + objects

    def ironic_states(self) -> dict[str, str]:
        prov = IronicProvisioner(IronicProvisionerSettings(url=self.ironic_url))
        try:
            return {n.name: n.provision_state for n in prov.baremetal.nodes(details=True)}
        finally:
            prov.close()


def _state(host: dict[str, Any]) -> str:
    status = host.get("status") or {}
    return str((status.get("provisioning") or {}).get("state") or "") + (
        f" ({status['errorType']})" if status.get("errorType") else ""
    )


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    data = tmp_path / "tp"
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(TEAPOT),
                "up",
                "--data-dir",
                str(data),
                "--secure-port",
                "0",
                "--metrics-port",
                "0",
                "--fleet",
                "3",
                # the three hosts take turns cleaning (tested below)
                "--max-concurrent-cleaning",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while b"Teapot is up" not in log.read_bytes():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        found = re.search(r"Ironic at (\S+), images served from (\S+)", log.read_text())
        assert found, log.read_text()
        yield Up(proc, data, log, found.group(1), found.group(2))
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=90)
        text = log.read_text()
        print(f"teapot up log: {log}", file=sys.stderr)
    assert code == 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]


def test_claim_provisions_real_hosts_and_release_cleans_them(up: Up) -> None:
    cleaning: list[int] = []  # hosts cleaning (preparing, not delayed), per look
    delayed: set[str] = set()

    def all_available() -> bool:
        hosts = up.hosts()
        preparing = {
            n: (h.get("status") or {}).get("operationalStatus")
            for n, h in hosts.items()
            if _state(h) == "preparing"
        }
        cleaning.append(sum(1 for op in preparing.values() if op == "OK"))
        delayed.update(n for n, op in preparing.items() if op == "delayed")
        return [_state(h) for h in hosts.values()] == ["available"] * 3

    to_available = up.wait("3 hosts available", all_available, timeout=300)
    # --max-concurrent-cleaning 1: never two at once, and the others waited as "delayed"
    assert max(cleaning) <= 1 and delayed, (cleaning, delayed)
    iso = write_live_iso(up.data / "ironic" / "httpboot" / "tenant-live.iso")
    image = {"url": f"{up.http_url.rstrip('/')}/{iso.name}", "format": "live-iso"}
    operator = [
        {
            "apiVersion": "teapot.dev/v1alpha1",
            "kind": "HostClass",
            "metadata": {"name": "any"},
            "spec": {
                "selector": {
                    "matchExpressions": [{"key": "hardware.teapot.dev/cpu-arch", "operator": "Exists"}]
                },
                "price": 1,
            },
        },
        {
            "apiVersion": "teapot.dev/v1alpha1",
            "kind": "Tenant",
            "metadata": {"name": "physics"},
            "spec": {"namespaces": ["physics"], "guarantees": [{"hostClass": "any", "count": 2}]},
        },
    ]
    up.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(operator))
    up.wait(
        "tenant admitted",
        lambda: (up.get("tenant", "physics").get("status") or {}).get("phase") == "Admitted",
        60,
    )
    claim = {
        "apiVersion": "teapot.dev/v1alpha1",
        "kind": "HostClaim",
        "metadata": {"name": "job", "namespace": "physics"},
        "spec": {"count": 2, "requirements": {"hostClass": "any"}, "image": image},
    }
    up.kubectl("apply", "-f", "-", input=yaml.safe_dump(claim))

    def claim_status() -> dict[str, Any]:
        return dict(up.get("hostclaim", "job", "-n", "physics").get("status") or {})

    up.wait("claim bound", lambda: claim_status().get("phase") == "Bound", 60)
    bound = {h["name"] for h in claim_status()["hosts"]}
    assert len(bound) == 2
    to_ready = up.wait("claim ready", lambda: claim_status().get("ready") == 2, 300)
    status = claim_status()
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and ready["reason"] == "HostsReady", status
    assert {h["state"] for h in status["hosts"]} == {"provisioned"}
    hosts = up.hosts()
    for name in bound:
        spec = hosts[name]["spec"]
        assert spec["consumerRef"]["name"] == "job" and spec["consumerRef"]["namespace"] == "physics"
        assert (
            spec["image"]["url"] == image["url"]
            and hosts[name]["status"]["provisioning"]["image"]["url"] == image["url"]
        )
    ironic = up.ironic_states()
    assert {ironic[f"{HOSTS_NS}~{n}"] for n in bound} == {"active"}
    (free,) = set(hosts) - bound
    assert ironic[f"{HOSTS_NS}~{free}"] == "available" and "consumerRef" not in hosts[free]["spec"]
    printed = up.kubectl("get", "hostclaim", "-n", "physics")
    assert printed.split()[:7] == ["NAME", "COUNT", "BOUND", "READY", "PHASE", "REASON", "AGE"]

    up.kubectl("delete", "hostclaim", "job", "-n", "physics", "--wait=false")

    def released() -> bool:
        hosts = up.hosts()
        return all(_state(hosts[n]) == "available" and "consumerRef" not in hosts[n]["spec"] for n in bound)

    to_released = up.wait("hosts cleaned and free", released, 300)
    hosts = up.hosts()
    for name in bound:
        cleaning = hosts[name]["status"]["lastCleaning"]
        assert cleaning["mode"] == "metadata" and cleaning["durationSeconds"] > 0
        assert "image" not in hosts[name]["spec"]
    up.wait(
        "claim gone", lambda: up.kubectl("get", "hostclaim", "job", "-n", "physics", check=False) == "", 60
    )
    assert {up.ironic_states()[f"{HOSTS_NS}~{n}"] for n in bound} == {"available"}
    print(
        f"\nteapot up --fleet 3: available {to_available:.1f}s; claim ready {to_ready:.1f}s; "
        f"released and cleaned {to_released:.1f}s",
        file=sys.stderr,
    )
