"""Run standalone Ironic (and the HTTP server for its images) as child processes.

Why this module exists: Teapot drives real Ironic, and on a single machine it starts Ironic itself.
That means owning a process lifecycle with sharp edges: the database schema must exist before the
first start; the API answers before the conductor has registered its hardware types (creating a node
then fails with "no valid host"); a bad config leaves the master process alive but useless; and with
dead BMCs Ironic can ignore SIGTERM for ~90 s while sushy retries. ``IronicService`` handles each of
these, and serves ``[deploy]http_root`` at ``[deploy]http_url`` because Ironic republishes virtual
media ISOs there and the BMC downloads them from it.

The image server is the standard library's ``http.server`` run as a child process of Ironic's own
interpreter: static files only, no new dependency, and its I/O never competes with Teapot's event
loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from teapot.hosts.ironic.config import IronicSettings, write_config

__all__ = ["IronicService", "IronicStartError", "free_port", "wait_for_ironic"]


class IronicStartError(RuntimeError):
    """Ironic (or its image server) did not become healthy; the message quotes its log."""


def use_wal(database: Path) -> str:
    """Switch Ironic's SQLite database to write-ahead logging (persistent in the file).

    Ironic's conductor runs many threads that read and update nodes; in SQLite's default rollback
    journal mode a writer excludes every reader, and 100 hosts enrolling at once produced ``database is
    locked`` errors that surfaced as inspection errors. With WAL readers never block the writer (and
    vice versa); a SIGKILL loses nothing that was committed. Returns the journal mode now in effect.
    """
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
        row = db.execute("PRAGMA journal_mode=WAL").fetchone()
    return str(row[0])


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on *host* right now (racy, but fine for tests and demos)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _get_json(url: str, timeout: float) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def _conductor_ready(api_url: str) -> bool:
    """True once the API answers *and* a conductor has registered the ``redfish`` hardware type."""
    try:
        body = _get_json(f"{api_url}/v1/drivers", timeout=2.0)
    except (OSError, ValueError, urllib.error.URLError):
        return False
    if not isinstance(body, dict):
        return False
    drivers = body.get("drivers", [])
    return isinstance(drivers, list) and any(
        isinstance(d, dict) and d.get("name") == "redfish" and d.get("hosts") for d in drivers
    )


async def wait_for_ironic(api_url: str, timeout: float, interval: float = 0.25) -> None:
    """Wait until Ironic at *api_url* can take nodes (also used for an existing Ironic)."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(_conductor_ready, api_url):
        if time.monotonic() > deadline:
            raise IronicStartError(f"Ironic at {api_url} not ready after {timeout:.0f} s")
        await asyncio.sleep(interval)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


#: Log lines that mean Ironic will never become healthy: cotyledon re-forks a crashing worker
#: forever, and a conductor that cannot load its drivers keeps the API up without them.
_FATAL = re.compile(
    r"Child \d+ exited with status [1-9]|Failed to register hardware types|^\S+ \S+ \d+ CRITICAL ",
    re.MULTILINE,
)


async def _stop_process(proc: asyncio.subprocess.Process, timeout: float) -> None:
    """SIGTERM the process group, then SIGKILL it after *timeout* seconds."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when the Teapot process that started it dies.

    Without this, a crashed or killed Teapot leaves Ironic running (it may ignore SIGTERM for
    ~90 s), holding its ports and SQLite database against the next start. Linux-only
    (``prctl(PR_SET_PDEATHSIG)``); elsewhere it does nothing.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


class IronicService:
    """Standalone Ironic (API + conductor in one process, SQLite, noauth) plus its image server.

    Use as ``async with IronicService(settings) as ironic: ironic.url``. ``start_seconds`` records
    how long the last start took (schema creation included).
    """

    def __init__(self, settings: IronicSettings) -> None:
        self.settings = settings
        self._ironic: asyncio.subprocess.Process | None = None
        self._http: asyncio.subprocess.Process | None = None
        self._logs: list[int] = []
        self._log_offset = 0
        self.start_seconds: float | None = None
        self.schema_seconds: float | None = None

    @property
    def url(self) -> str:
        return self.settings.api_url

    @property
    def http_url(self) -> str:
        return self.settings.http_url

    @property
    def http_root(self) -> Path:
        return self.settings.http_root

    @property
    def log_file(self) -> Path:
        return self.settings.log_dir / "ironic.log"

    @property
    def pid(self) -> int | None:
        return self._ironic.pid if self._ironic is not None else None

    def _open_log(self, name: str) -> int:
        fd = os.open(self.settings.log_dir / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._logs.append(fd)
        return fd

    async def _run_checked(self, *argv: str, log: str) -> None:
        fd = self._open_log(log)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=fd, stderr=fd, stdin=asyncio.subprocess.DEVNULL
        )
        if await proc.wait() != 0:
            raise IronicStartError(f"{' '.join(argv)} failed:\n{_tail(self.settings.log_dir / log)}")

    async def start(self) -> None:
        started = time.monotonic()
        s = self.settings
        bin_dir = s.bin_dir()
        config = write_config(s)
        if not s.database_file.exists():
            t = time.monotonic()
            await self._run_checked(
                str(bin_dir / "ironic-dbsync"),
                "--config-file",
                str(config),
                "create_schema",
                log="dbsync.log",
            )
            self.schema_seconds = time.monotonic() - t
        else:
            await self._run_checked(
                str(bin_dir / "ironic-dbsync"), "--config-file", str(config), "upgrade", log="dbsync.log"
            )
        await asyncio.to_thread(use_wal, s.database_file)
        http_log = self._open_log("http.log")
        self._http = await asyncio.create_subprocess_exec(
            str(bin_dir / "python"),
            "-m",
            "http.server",
            "--bind",
            s.host,
            "--directory",
            str(s.http_root),
            str(s.http_port),
            stdout=http_log,
            stderr=http_log,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        out = self._open_log("ironic.stdout.log")
        # launch.py removes Ironic's per-call PBKDF2 hot spot (see its docstring); -P keeps the
        # launcher's own directory off sys.path so its sibling modules cannot shadow anything.
        command = (
            (str(bin_dir / "python"), "-P", str(Path(__file__).with_name("launch.py")))
            if s.fast_redfish_session_keys
            else (str(bin_dir / "ironic"),)
        )
        self._ironic = await asyncio.create_subprocess_exec(
            *command,
            "--config-file",
            str(config),
            stdout=out,
            stderr=out,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            await self._wait_healthy(started + s.start_timeout)
        except BaseException:
            await self.stop()
            raise
        self.start_seconds = time.monotonic() - started

    async def _wait_healthy(self, deadline: float) -> None:
        assert self._ironic is not None and self._http is not None
        ironic_ok = http_ok = False
        while not (ironic_ok and http_ok):
            for name, proc in (("ironic", self._ironic), ("image server", self._http)):
                if proc.returncode is not None:
                    raise IronicStartError(f"{name} exited with {proc.returncode}:\n{self._diagnostics()}")
            fatal = self._fatal_log_line()
            if fatal:
                raise IronicStartError(f"Ironic failed to start ({fatal}):\n{self._diagnostics()}")
            if not http_ok:
                http_ok = await asyncio.to_thread(self._http_ready)
            if not ironic_ok:
                ironic_ok = await asyncio.to_thread(_conductor_ready, self.url)
            if time.monotonic() > deadline:
                raise IronicStartError(
                    f"Ironic not healthy after {self.settings.start_timeout:.0f} s:\n{self._diagnostics()}"
                )
            if not (ironic_ok and http_ok):
                await asyncio.sleep(0.25)

    def _fatal_log_line(self) -> str | None:
        try:
            with self.log_file.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return None
        match = _FATAL.search(text)
        return match.group(0).strip() if match else None

    def _http_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/", timeout=1.0):
                return True
        except (OSError, urllib.error.URLError):
            return False

    def _diagnostics(self) -> str:
        log_dir = self.settings.log_dir
        return "\n".join(
            part
            for part in (
                _tail(log_dir / "ironic.log"),
                _tail(log_dir / "ironic.stdout.log", 5),
                _tail(log_dir / "http.log", 5),
            )
            if part
        )

    async def stop(self) -> None:
        """Stop Ironic first (it may still talk to BMCs), then the image server."""
        timeout = self.settings.stop_timeout
        if self._ironic is not None:
            await _stop_process(self._ironic, timeout)
            self._ironic = None
        if self._http is not None:
            await _stop_process(self._http, timeout)
            self._http = None
        for fd in self._logs:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._logs.clear()

    async def __aenter__(self) -> IronicService:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
