"""Start the embedded API server (``teapot apiserver``) as a subprocess for e2e tests.

Uses only the command-line interface of issue 2 (``--data-dir``, ``--bind-address``,
``--secure-port``; admin kubeconfig written to ``<data-dir>/kubeconfig``), so the runtime is tested
against the server exactly as a user runs it, and never imports ``teapot.apiserver``.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def teapot_command() -> list[str]:
    script = Path(sys.executable).with_name("teapot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "teapot.cli.main"]


class ApiServer:
    def __init__(self, data_dir: Path, port: int | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "apiserver.log"

    @property
    def kubeconfig(self) -> str:
        return str(self.data_dir / "kubeconfig")

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            *teapot_command(),
            "apiserver",
            "--data-dir",
            str(self.data_dir),
            "--bind-address",
            "127.0.0.1",
            "--secure-port",
            str(self.port),
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"teapot apiserver exited with {self.process.returncode}: {self.log.read_text()[-3000:]}"
                )
            if Path(self.kubeconfig).exists():
                try:
                    with urllib.request.urlopen(
                        f"{self.url}/readyz", context=insecure, timeout=2
                    ) as response:
                        if response.status == 200:
                            return
                except (OSError, urllib.error.URLError):
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"teapot apiserver not ready after {timeout}s: {self.log.read_text()[-3000:]}")

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def kubectl(self, *args: str) -> str:
        kubectl = Path(sys.executable).with_name("kubectl")
        env = {**os.environ, "KUBECONFIG": self.kubeconfig}
        done = subprocess.run([str(kubectl), *args], env=env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {done.stderr}")
        return done.stdout
