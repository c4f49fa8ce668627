"""Shared fixtures: a real ``teapot apiserver`` process, kubectl and the official client against it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

VENV_BIN = Path(sys.executable).parent
KUBECTL = shutil.which("kubectl", path=str(VENV_BIN)) or shutil.which("kubectl") or "kubectl"


@dataclass
class RunningAPIServer:
    """A ``teapot apiserver`` subprocess with its data dir and admin kubeconfig."""

    data_dir: Path
    kubeconfig: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        import yaml

        cfg = yaml.safe_load(self.kubeconfig.read_text())
        return str(cfg["clusters"][0]["cluster"]["server"])

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, kubeconfig: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = [KUBECTL, "--kubeconfig", str(kubeconfig or self.kubeconfig), *args]
        result = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}{result.stdout}"
            )
        return result

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def api_client(self) -> Any:
        from kubernetes import client, config

        cfg = client.Configuration()
        config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=cfg)
        return client.ApiClient(cfg)


def _die_with_parent() -> None:
    """A server started by a test dies with the test process, even when pytest is killed."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def start_apiserver(data_dir: Path, *extra: str) -> RunningAPIServer:
    kubeconfig = data_dir / "kubeconfig"
    if kubeconfig.exists():
        kubeconfig.unlink()
    log = open(data_dir.parent / f"{data_dir.name}.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [str(VENV_BIN / "teapot"), "apiserver", "--data-dir", str(data_dir), "--secure-port", "0", *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_die_with_parent,
    )
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"teapot apiserver exited with {proc.returncode}; see {log.name}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("teapot apiserver did not start within 30 s")
        time.sleep(0.05)
    return RunningAPIServer(data_dir, kubeconfig, proc)


def stop_apiserver(server: RunningAPIServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPIServer]:
    data_dir = tmp_path_factory.mktemp("apiserver") / "data"
    data_dir.mkdir()
    server = start_apiserver(data_dir)
    yield server
    stop_apiserver(server)


_counter = 0


@pytest.fixture
def namespace(apiserver: RunningAPIServer) -> Iterator[str]:
    """A fresh namespace for one test."""
    global _counter
    _counter += 1
    name = f"t{os.getpid() % 10000}-{_counter}"
    from kubernetes import client

    with apiserver.api_client() as api:
        client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    yield name
