"""`teapot up` as a user runs it: starts, enrols an emulated fleet, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import KUBECTL

pytestmark = pytest.mark.e2e
TEAPOT = Path(sys.executable).with_name("teapot")


def test_up_enrols_fleet_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    data = tmp_path / "tp"
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(TEAPOT), "up", "--data-dir", str(data), "--secure-port", "0", "--no-ironic", "--fleet", "3"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while b"Teapot is up" not in log.read_bytes():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        kubeconfig = data / "kubeconfig"
        out_json = subprocess.run(
            [KUBECTL, "--kubeconfig", str(kubeconfig), "get", "bmh", "-n", "teapot-hosts", "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        hosts = json.loads(out_json)["items"]
        assert len(hosts) == 3
        assert all(h["spec"]["bmc"]["address"].startswith("redfish") for h in hosts)
        assert all(h["spec"]["bmc"]["credentialsName"] for h in hosts)
        crds = subprocess.run(
            [KUBECTL, "--kubeconfig", str(kubeconfig), "get", "crd", "-o", "name"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "hostclaims.teapot.dev" in crds and "baremetalhosts.metal3.io" in crds
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    text = log.read_text()
    assert code == 0, text
    assert "stopped" in text
    assert "Traceback" not in text
    assert "hosts after" in text and "3 registering" in text  # the progress line, from the informer cache
