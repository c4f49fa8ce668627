#!/usr/bin/env python3
"""Benchmark the BareMetalHost lifecycle of the whole system: ``teapot up --fleet N``.

Starts ``teapot up --data-dir TMP --secure-port 0 --fleet N`` (embedded API server + controllers in
one process; Ironic, its image server and the sushy-tools emulator as child processes), watches the
BareMetalHosts in ``teapot-hosts`` and measures:

* ``to_available_s``: from the first BareMetalHost created (seen through a watch) until all N are
  ``available`` (``enrol_s``: first to last created; ``enrolled_to_available_s`` from the last one);
* ``to_provisioned_s``: from the first patch setting ``spec.image`` (a generated live ISO served by
  Ironic's image server, no download) and ``spec.online: true`` until all N are ``provisioned``;
* per process (``controller`` = the ``teapot up`` process, ``ironic`` (with its workers), ``emulator``,
  ``image_server``): peak RSS (largest single-process ``VmHWM``, or the highest sampled ``VmRSS`` sum of the tree) and CPU seconds
  (``utime+stime``, plus reaped children's ``cutime+cstime`` except for ``controller``, whose reaped
  children are ``ironic-dbsync`` runs), per phase and in total;
* the idle CPU of every process over ``--idle`` seconds once everything is stable
  (issue target: the controller < 5 % of a core at 1,000 hosts);
* per-host step durations from ``status.operationHistory`` and from the watch (time in each state).

``--enrol harness`` runs ``teapot up`` without ``--fleet`` and starts the emulator and enrols the hosts
from here instead (virtual-media BMCs, ``automatedCleaningMode: disabled``), for as long as ``teapot up
--fleet N`` enrols hosts that cannot become ``available`` / take a live ISO without an agent ramdisk.

Prints progress to stderr and ONE JSON line to stdout. ``load_1m`` is the 1-minute load average at the
end of the measured phases (``load_1m_start`` / ``load_1m_max`` bracket it): the machine is shared.
Stops ``teapot up`` with SIGINT (it shuts down Ironic and the emulator) and SIGKILLs the tree after
``--stop-timeout``; ``--keep`` leaves it running for inspection instead.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import configparser
import contextlib
import itertools
import json
import os
import platform
import re
import resource
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

NAMESPACE = "teapot-hosts"
BMH_PATH = f"/apis/metal3.io/v1alpha1/namespaces/{NAMESPACE}/baremetalhosts"
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
#: Metal3 provisioning states in lifecycle order (for the per-state durations).
LIFECYCLE = ("registering", "inspecting", "preparing", "available", "provisioning", "provisioned")
ROLES = ("controller", "ironic", "emulator", "image_server")


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- /proc (pure parsing + thin readers) ------------------------------------------------------------


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/PID/stat`` this benchmark uses (times in clock ticks)."""

    pid: int
    comm: str
    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int
    num_threads: int
    starttime: int

    def cpu_ticks(self, *, children: bool) -> int:
        own = self.utime + self.stime
        return own + self.cutime + self.cstime if children else own


def parse_stat(text: str) -> ProcStat:
    """Parse ``/proc/PID/stat``; ``comm`` may hold spaces and parentheses, so split at the last ')'."""
    head, _, tail = text.rpartition(")")
    pid_text, _, comm = head.partition(" (")
    rest = tail.split()
    # rest[0] is field 3 (state): field k of proc(5) is rest[k - 3].
    return ProcStat(
        pid=int(pid_text),
        comm=comm,
        ppid=int(rest[1]),
        utime=int(rest[11]),
        stime=int(rest[12]),
        cutime=int(rest[13]),
        cstime=int(rest[14]),
        num_threads=int(rest[17]),
        starttime=int(rest[19]),
    )


def parse_status_kib(text: str, key: str = "VmHWM") -> int | None:
    """A ``kB`` value from ``/proc/PID/status`` (``VmHWM`` = peak RSS); ``None`` if absent (zombie)."""
    prefix = key + ":"
    for line in text.splitlines():
        if line.startswith(prefix):
            return int(line.split()[1])
    return None


def classify(argv: Sequence[str]) -> str:
    """Which role a direct child of ``teapot up`` plays, from its command line."""
    joined = " ".join(argv)
    names = [Path(a).name for a in argv[:3]]
    if "teapot.fleet.emulator" in joined:
        return "emulator"
    if any(n.startswith("ironic-dbsync") for n in names):
        return "ironic_dbsync"
    if "http.server" in joined:
        return "image_server"
    # Ironic's master and workers rename themselves (setproctitle): "ironic: master process [...]".
    if joined.startswith("ironic") or any(n == "ironic" or n.startswith("ironic-") for n in names):
        return "ironic"
    if "bin/ironic" in joined or "ironic/launch.py" in joined:  # teapot.hosts.ironic.launch
        return "ironic"
    if "teapot.fleet" in joined or "agent" in joined:
        return "agents"
    return "other:" + (names[0] if names else "?")


def read_stat(pid: int, proc: Path = Path("/proc")) -> ProcStat | None:
    try:
        return parse_stat((proc / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def read_hwm_kib(pid: int, proc: Path = Path("/proc")) -> int | None:
    try:
        return parse_status_kib((proc / str(pid) / "status").read_text())
    except OSError:
        return None


def read_mem_kib(pid: int, proc: Path = Path("/proc")) -> tuple[int | None, int | None]:
    """(VmHWM, VmRSS) of *pid* in kB; ``None`` where unknown."""
    try:
        text = (proc / str(pid) / "status").read_text()
    except OSError:
        return None, None
    return parse_status_kib(text, "VmHWM"), parse_status_kib(text, "VmRSS")


def read_argv(pid: int, proc: Path = Path("/proc")) -> list[str]:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def all_stats(proc: Path = Path("/proc")) -> dict[int, ProcStat]:
    stats: dict[int, ProcStat] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            st = read_stat(int(entry.name), proc)
            if st is not None:
                stats[st.pid] = st
    return stats


def descendants(root: int, stats: Mapping[int, ProcStat]) -> dict[int, int]:
    """Every descendant of *root* → the direct child of *root* it descends from."""
    children: dict[int, list[int]] = {}
    for st in stats.values():
        children.setdefault(st.ppid, []).append(st.pid)
    found: dict[int, int] = {}
    for top in children.get(root, []):
        stack = [top]
        while stack:
            pid = stack.pop()
            found[pid] = top
            stack.extend(children.get(pid, []))
    return found


def thread_ticks(pid: int, proc: Path = Path("/proc")) -> tuple[int, int]:
    """CPU ticks of the main thread (the event loop) and of all other threads of *pid*."""
    main = other = 0
    try:
        tasks = list((proc / str(pid) / "task").iterdir())
    except OSError:
        return 0, 0
    for task in tasks:
        try:
            st = parse_stat((task / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue
        if st.pid == pid:
            main += st.utime + st.stime
        else:
            other += st.utime + st.stime
    return main, other


@dataclass
class RoleSample:
    cpu_ticks: int = 0
    hwm_kib: int = 0
    pids: int = 0


class TreeSampler:
    """Samples CPU and peak RSS of the ``teapot up`` process and of its child process trees, by role."""

    def __init__(self, root: int, proc: Path = Path("/proc")) -> None:
        self.root = root
        self.proc = proc
        self.roles: dict[tuple[int, int], str] = {}  # (pid, starttime) of direct children → role
        #: Highest VmHWM seen per (pid, starttime): processes that exit keep their peak.
        self.hwm: dict[tuple[int, int], tuple[str, int]] = {}
        #: Highest sampled sum of current RSS (VmRSS) of a role's live processes.
        self.tree_rss_max: dict[str, int] = {}
        #: Last CPU total per role of processes no longer alive, so exits do not lose CPU time.
        self.cpu_last: dict[str, int] = {}
        self.main_thread_ticks = 0
        self.other_thread_ticks = 0
        #: Processes started by the harness itself (pid → role), sampled with their descendants.
        self.extra_roots: dict[int, str] = {}

    def sample(self) -> dict[str, RoleSample]:
        stats = all_stats(self.proc)
        result: dict[str, RoleSample] = {}
        rss_now: dict[str, int] = {}
        root = stats.get(self.root)
        if root is not None:
            ctl = result.setdefault("controller", RoleSample())
            ctl.cpu_ticks = root.cpu_ticks(children=False)
            ctl.pids = 1
            self._memory("controller", root, rss_now)
            self.main_thread_ticks, self.other_thread_ticks = thread_ticks(self.root, self.proc)
        tree = descendants(self.root, stats)
        # Top processes of a role count their reaped children (Ironic's workers); live descendants
        # count their own time (their reaped children are in their cutime).
        for pid, top in tree.items():
            st = stats[pid]
            top_stat = stats[top]
            key = (top, top_stat.starttime)
            role = self.roles.get(key)
            if role is None:
                role = classify(read_argv(top, self.proc))
                if role.startswith("other:") and not read_argv(top, self.proc):
                    continue  # exited between the scan and the read
                self.roles[key] = role
            sample = result.setdefault(role, RoleSample())
            sample.cpu_ticks += st.cpu_ticks(children=True)
            sample.pids += 1
            self._memory(role, st, rss_now)
        for extra, role in self.extra_roots.items():
            if extra not in stats:
                continue
            members = [extra, *descendants(extra, stats)]
            sample = result.setdefault(role, RoleSample())
            for pid in members:
                st = stats[pid]
                sample.cpu_ticks += st.cpu_ticks(children=True)
                sample.pids += 1
                self._memory(role, st, rss_now)
        # A role whose processes all exited (e.g. ironic-dbsync) keeps the CPU last seen.
        for role, sample in result.items():
            self.cpu_last[role] = max(sample.cpu_ticks, self.cpu_last.get(role, 0))
        for role, ticks in self.cpu_last.items():
            result.setdefault(role, RoleSample(cpu_ticks=ticks))
        for role, kib in rss_now.items():
            self.tree_rss_max[role] = max(kib, self.tree_rss_max.get(role, 0))
        for role, kib in self.peak_kib().items():
            result.setdefault(role, RoleSample()).hwm_kib = kib
        return result

    def _memory(self, role: str, st: ProcStat, rss_now: dict[str, int]) -> None:
        hwm, rss = read_mem_kib(st.pid, self.proc)
        key = (st.pid, st.starttime)
        if hwm is not None:
            self.hwm[key] = (role, max(hwm, self.hwm.get(key, ("", 0))[1]))
        if rss is not None:
            rss_now[role] = rss_now.get(role, 0) + rss

    def largest_kib(self) -> dict[str, int]:
        """The largest single-process peak by role (the sum double-counts pages shared after fork)."""
        largest: dict[str, int] = {}
        for role, kib in self.hwm.values():
            largest[role] = max(largest.get(role, 0), kib)
        return largest

    def peak_kib(self) -> dict[str, int]:
        """Peak memory by role: the larger of the largest single-process VmHWM (exact for one
        process) and the highest sampled sum of the role's live processes' VmRSS (a tree's peak,
        seen at the sampling period). Summing VmHWM would count short-lived helper processes
        (Ironic's ``prlimit``/``qemu-img`` runs) that never lived at the same time."""
        largest = self.largest_kib()
        return {role: max(kib, self.tree_rss_max.get(role, 0)) for role, kib in largest.items()}

    def pids(self) -> list[int]:
        """Live descendants of the root (for the SIGKILL fallback)."""
        return sorted(descendants(self.root, all_stats(self.proc)))


def cpu_seconds(sample: Mapping[str, RoleSample]) -> dict[str, float]:
    return {role: round(s.cpu_ticks / CLK_TCK, 2) for role, s in sorted(sample.items())}


def cpu_delta(after: Mapping[str, float], before: Mapping[str, float]) -> dict[str, float]:
    return {role: round(after[role] - before.get(role, 0.0), 2) for role in sorted(after)}


def core_pct(delta: Mapping[str, float], wall_s: float) -> dict[str, float]:
    return {role: round(100.0 * v / wall_s, 1) for role, v in delta.items()} if wall_s > 0 else {}


# -- statistics over hosts (pure) -------------------------------------------------------------------


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def summarise(values: Iterable[float]) -> dict[str, float] | None:
    """n, p50, p90, max of *values* (seconds, rounded); ``None`` when empty."""
    data = sorted(values)
    if not data:
        return None
    p90 = data[min(len(data) - 1, round(0.9 * (len(data) - 1)))]
    return {
        "n": len(data),
        "p50": round(statistics.median(data), 2),
        "p90": round(p90, 2),
        "max": round(data[-1], 2),
    }


def operation_durations(hosts: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float] | None]:
    """Per-operation durations (``status.operationHistory.<op>.end - start``) over all hosts."""
    per_op: dict[str, list[float]] = {}
    for host in hosts:
        history = (host.get("status") or {}).get("operationHistory") or {}
        for op, span in history.items():
            start, end = parse_time((span or {}).get("start")), parse_time((span or {}).get("end"))
            if start is not None and end is not None:
                per_op.setdefault(op, []).append((end - start).total_seconds())
    return {op: summarise(values) for op, values in sorted(per_op.items())}


def state_durations(first_seen: Iterable[Mapping[str, float]]) -> dict[str, dict[str, float] | None]:
    """Time each host spent from entering a lifecycle state until it entered the next one it reached.

    *first_seen* holds, per host, state → monotonic time the watch first showed it (``created`` = the
    ADDED event, before any status).
    """
    spans: dict[str, list[float]] = {}
    order = ("created", *LIFECYCLE)
    for seen in first_seen:
        reached = [s for s in order if s in seen]
        for this, following in itertools.pairwise(reached):
            spans.setdefault(this, []).append(seen[following] - seen[this])
    return {s: summarise(spans[s]) for s in order if s in spans}


def host_state(host: Mapping[str, Any]) -> str:
    return str(((host.get("status") or {}).get("provisioning") or {}).get("state") or "")


def host_error(host: Mapping[str, Any]) -> str:
    return str((host.get("status") or {}).get("errorType") or "")


_IRONIC_API_LINE = re.compile(
    r"ironic\.api \[.*?\] \S+ - (?P<method>[A-Z]+) (?P<path>\S+) - (?P<status>\d{3}) \((?P<ms>[0-9.]+)ms\)"
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def ironic_api_summary(lines: Iterable[str], top: int = 8) -> dict[str, Any]:
    """Ironic API requests from ``ironic.log`` access lines: total, and count / mean / total ms of
    the busiest endpoints (UUIDs and node names replaced by ``ID``, query strings dropped)."""
    per: dict[str, list[float]] = {}
    for line in lines:
        m = _IRONIC_API_LINE.search(line)
        if m is None:
            continue
        path = _UUID.sub("ID", m["path"].split("?", 1)[0])
        path = re.sub(r"/v1/nodes/[^/]*~[^/]*", "/v1/nodes/ID", path)  # looked up by name
        per.setdefault(f"{m['method']} {path} {m['status']}", []).append(float(m["ms"]))
    busiest = sorted(per.items(), key=lambda kv: -sum(kv[1]))[:top]
    return {
        "requests": sum(len(v) for v in per.values()),
        "busiest": {k: {"n": len(v), "mean_ms": round(statistics.fmean(v), 1)} for k, v in busiest},
    }


def build_result(
    *,
    hosts: int,
    to_available_s: float | None,
    to_provisioned_s: float | None,
    rss_mib: Mapping[str, float],
    cpu_s: Mapping[str, float],
    load_1m: float,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON line: the required keys first, then context."""
    result: dict[str, Any] = {
        "bench": "hosts",
        "hosts": hosts,
        "to_available_s": None if to_available_s is None else round(to_available_s, 2),
        "to_provisioned_s": None if to_provisioned_s is None else round(to_provisioned_s, 2),
        "rss_mib": dict(rss_mib),
        "cpu_s": dict(cpu_s),
        "load_1m": round(load_1m, 2),
    }
    result.update(extra or {})
    return result


# -- the Kubernetes side ---------------------------------------------------------------------------


class Kube:
    """Minimal aiohttp client from an admin kubeconfig (client certificate or token)."""

    def __init__(self, kubeconfig: Path, scratch: Path) -> None:
        import aiohttp
        import yaml

        self._aiohttp = aiohttp
        cfg = yaml.safe_load(kubeconfig.read_text())
        ctx_name = cfg.get("current-context") or cfg["contexts"][0]["name"]
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        self.server = str(cluster["server"]).rstrip("/")
        sslctx = ssl.create_default_context()
        scratch.mkdir(parents=True, exist_ok=True)
        if "certificate-authority-data" in cluster:
            ca = scratch / "ca.crt"
            ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
            sslctx.load_verify_locations(cafile=str(ca))
        self.headers: dict[str, str] = {}
        if "token" in user:
            self.headers["Authorization"] = f"Bearer {user['token']}"
        if "client-certificate-data" in user:
            crt, key = scratch / "client.crt", scratch / "client.key"
            crt.write_bytes(base64.b64decode(user["client-certificate-data"]))
            key.touch(mode=0o600)
            key.write_bytes(base64.b64decode(user["client-key-data"]))
            sslctx.load_cert_chain(str(crt), str(key))
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=sslctx, limit=0), headers=self.headers
        )

    async def close(self) -> None:
        await self.session.close()

    async def request(self, method: str, path: str, body: Any = None, ctype: str = "application/json") -> Any:
        import orjson

        data = orjson.dumps(body) if body is not None else None
        async with self.session.request(
            method, self.server + path, data=data, headers={"Content-Type": ctype}
        ) as r:
            text = await r.read()
            if r.status >= 400:
                raise KubeError(r.status, f"{method} {path}: {r.status} {text[:300]!r}")
            return orjson.loads(text) if text else None


class KubeError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class HostRecord:
    obj: dict[str, Any]
    #: state (or ``created``) → monotonic time first seen; ``available`` after the image patch is
    #: not re-recorded, so provisioning times come from ``provisioning``/``provisioned``.
    first_seen: dict[str, float] = field(default_factory=dict)


class Tracker:
    """The BareMetalHosts as the watch shows them, with first-seen times per state."""

    def __init__(self) -> None:
        self.hosts: dict[str, HostRecord] = {}
        self.changed = asyncio.Event()
        self.events = 0

    def observe(self, obj: dict[str, Any], now: float, deleted: bool = False) -> None:
        name = str(obj["metadata"]["name"])
        self.events += 1
        if deleted:
            self.hosts.pop(name, None)
        else:
            record = self.hosts.get(name)
            if record is None:
                record = self.hosts[name] = HostRecord(obj, {"created": now})
            record.obj = obj
            state = host_state(obj)
            if state:
                record.first_seen.setdefault(state, now)
        self.changed.set()

    def count(self, state: str) -> int:
        return sum(1 for r in self.hosts.values() if host_state(r.obj) == state and not host_error(r.obj))

    def states(self) -> Counter[str]:
        return Counter(host_state(r.obj) or "new" for r in self.hosts.values())

    def errors(self) -> dict[str, Any]:
        by_type = Counter(host_error(r.obj) for r in self.hosts.values() if host_error(r.obj))
        sample = next(
            (
                f"{name}: {(r.obj.get('status') or {}).get('errorMessage', '')}"[:400]
                for name, r in sorted(self.hosts.items())
                if host_error(r.obj)
            ),
            None,
        )
        return {"by_type": dict(by_type), "example": sample} if by_type else {}

    def line(self) -> str:
        text = ", ".join(f"{n} {s}" for s, n in sorted(self.states().items()))
        errors = self.errors().get("by_type")
        return text + (f" (errors: {errors})" if errors else "")


async def watch_hosts(kube: Kube, tracker: Tracker) -> None:
    """List + watch BareMetalHosts forever (relists on 410 / disconnects; waits for the CRD)."""
    import orjson

    aiohttp = kube._aiohttp
    while True:
        try:
            listing = await kube.request("GET", BMH_PATH)
        except (KubeError, aiohttp.ClientError, OSError):
            await asyncio.sleep(0.2)  # CRD not served yet, or the server is restarting
            continue
        now = time.monotonic()
        for item in listing.get("items", []):
            tracker.observe(item, now)
        rv = listing["metadata"]["resourceVersion"]
        url = f"{kube.server}{BMH_PATH}?watch=1&allowWatchBookmarks=true&resourceVersion={rv}"
        try:
            async with kube.session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as r:
                if r.status != 200:
                    await asyncio.sleep(0.5)
                    continue
                async for line in r.content:
                    if not line.strip():
                        continue
                    event = orjson.loads(line)
                    kind = event.get("type")
                    if kind == "ERROR":
                        break  # 410 Expired etc.: relist
                    if kind == "BOOKMARK":
                        continue
                    tracker.observe(event["object"], time.monotonic(), deleted=kind == "DELETED")
        except (TimeoutError, aiohttp.ClientError, OSError):
            await asyncio.sleep(0.2)
        except Exception as exc:  # a bad event must not silently stop the measurement: relist
            say(f"watch: {type(exc).__name__}: {exc}; relisting")
            await asyncio.sleep(0.5)


# -- orchestration ---------------------------------------------------------------------------------


@dataclass
class Run:
    args: argparse.Namespace
    data_dir: Path
    proc: subprocess.Popen[bytes]
    sampler: TreeSampler
    tracker: Tracker = field(default_factory=Tracker)
    started: float = field(default_factory=time.monotonic)
    load_max: float = 0.0
    last: dict[str, RoleSample] = field(default_factory=dict)
    phase_cpu: dict[str, dict[str, float]] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)
    #: ``--enrol harness``: the emulated fleet this harness started (a ``teapot.fleet.Fleet``).
    fleet: Any = None

    def sample(self) -> dict[str, RoleSample]:
        self.last = self.sampler.sample()
        self.load_max = max(self.load_max, os.getloadavg()[0])
        return self.last

    def mark(self, name: str) -> None:
        """Remember the time and every process's CPU seconds at a phase boundary."""
        self.marks[name] = time.monotonic()
        self.phase_cpu[name] = cpu_seconds(self.sample())

    async def sample_forever(self, interval: float) -> None:
        while True:
            self.sample()
            await asyncio.sleep(interval)

    def check_alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise Failure(f"teapot up exited with {code}: {tail(self.data_dir / 'up.log')}")


class Failure(RuntimeError):
    pass


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def image_server_url(data_dir: Path, up_log: Path) -> str:
    """Ironic's ``[deploy]http_url`` from its generated config, else from ``teapot up``'s output."""
    conf = data_dir / "ironic" / "ironic.conf"
    if conf.exists():
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(conf)
        if parser.has_option("deploy", "http_url"):
            return parser.get("deploy", "http_url").rstrip("/")
    for line in reversed(up_log.read_text(errors="replace").splitlines()):
        if "images served from " in line:
            return line.rsplit("images served from ", 1)[1].split()[0].rstrip("/")
    raise Failure("cannot find Ironic's image server URL (is Ironic started by teapot up?)")


async def wait_until(run: Run, done: Any, timeout: float, what: str, progress_every: float = 10.0) -> float:
    """Wait until ``done()`` holds, printing progress; returns the time it first held (monotonic)."""
    deadline = time.monotonic() + timeout
    last_line, last_print = "", 0.0
    while True:
        if done():
            return time.monotonic()
        run.check_alive()
        now = time.monotonic()
        line = run.tracker.line()
        if line != last_line or now - last_print > progress_every:
            say(f"{what}: {line or 'no hosts yet'}")
            last_line, last_print = line, now
        if now > deadline:
            raise TimeoutError(f"{what}: timed out after {timeout:.0f}s ({line})")
        run.tracker.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.tracker.changed.wait(), timeout=1.0)


async def patch_all(kube: Kube, names: Sequence[str], body: dict[str, Any], concurrency: int) -> None:
    queue = list(names)

    async def worker() -> None:
        while queue:
            name = queue.pop()
            await kube.request("PATCH", f"{BMH_PATH}/{name}", body, "application/merge-patch+json")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def measure(run: Run) -> dict[str, Any]:
    args, n, tracker = run.args, run.args.hosts, run.tracker
    kubeconfig = run.data_dir / "kubeconfig"
    deadline = time.monotonic() + args.timeout
    while not kubeconfig.exists() or "users" not in kubeconfig.read_text():
        run.check_alive()
        if time.monotonic() > deadline:
            raise Failure(f"no kubeconfig after {args.timeout:.0f}s")
        await asyncio.sleep(0.1)
    run.mark("api_up")
    say(f"API server up after {run.marks['api_up'] - run.started:.1f}s; watching {NAMESPACE}")
    kube = Kube(kubeconfig, run.data_dir / "bench-client")
    watcher = asyncio.create_task(watch_hosts(kube, tracker))
    extra: dict[str, Any] = {}
    to_available = to_provisioned = None
    try:
        # Phase 1: enrolment (by teapot up, or here) → all available.
        if args.enrol == "harness":
            await enrol_from_harness(run, kube)
        await wait_until(run, lambda: len(tracker.hosts) > 0, args.timeout, "waiting for enrolment")
        first_created = min(r.first_seen["created"] for r in tracker.hosts.values())
        run.marks["first_host"] = first_created
        run.phase_cpu["first_host"] = cpu_seconds(run.sample())
        say(f"first BareMetalHost after {first_created - run.started:.1f}s")
        phase_deadline = first_created + args.timeout
        await wait_until(run, lambda: len(tracker.hosts) >= n, phase_deadline - time.monotonic(), "enrolling")
        enrolled = max(r.first_seen["created"] for r in tracker.hosts.values())
        extra["enrol_s"] = round(enrolled - first_created, 2)
        say(f"all {n} BareMetalHosts exist ({extra['enrol_s']}s after the first)")
        bmc = next(iter(tracker.hosts.values())).obj.get("spec", {}).get("bmc", {}).get("address", "")
        extra["bmc_scheme"] = bmc.split("://", 1)[0]
        extra["automated_cleaning_mode"] = (
            next(iter(tracker.hosts.values())).obj.get("spec", {}).get("automatedCleaningMode") or "(default)"
        )
        try:
            t_avail = await wait_until(
                run,
                lambda: tracker.count("available") >= n,
                phase_deadline - time.monotonic(),
                "to available",
            )
            to_available = t_avail - first_created
            extra["enrolled_to_available_s"] = round(t_avail - enrolled, 2)
            run.mark("available")
            say(f"all {n} available {to_available:.1f}s after the first host was created")
        except TimeoutError as exc:
            extra["error"] = str(exc)
            run.mark("available")
            say(str(exc))
        extra["steps_to_available"] = {
            "operation_history_s": operation_durations(r.obj for r in tracker.hosts.values()),
            "watch_state_s": state_durations(r.first_seen for r in tracker.hosts.values()),
        }
        extra["errors_to_available"] = tracker.errors()

        # Phase 2: image + online → all provisioned.
        if to_available is not None and not args.skip_provision:
            from teapot.hosts.ironic.images import write_live_iso

            http_root = run.data_dir / "ironic" / "httpboot"
            iso = write_live_iso(http_root / "bench-live.iso")
            image = {
                "url": f"{image_server_url(run.data_dir, run.data_dir / 'up.log')}/{iso.name}",
                "format": "live-iso",
            }
            if "virtualmedia" not in extra["bmc_scheme"]:
                say(
                    f"warning: BMC scheme {extra['bmc_scheme']!r} has no virtual media: Ironic's ramdisk "
                    "deploy of a live ISO needs redfish-virtualmedia://"
                )
            for record in tracker.hosts.values():  # forget pre-image observations of these states
                for state in ("provisioning", "provisioned"):
                    record.first_seen.pop(state, None)
            run.mark("patch")
            await patch_all(
                kube, sorted(tracker.hosts), {"spec": {"image": image, "online": True}}, args.concurrency
            )
            patched = time.monotonic()
            extra["patch_s"] = round(patched - run.marks["patch"], 2)
            say(f"image {image['url']} set on {n} hosts in {extra['patch_s']}s")
            try:
                t_prov = await wait_until(
                    run,
                    lambda: tracker.count("provisioned") >= n,
                    args.timeout,
                    "to provisioned",
                )
                to_provisioned = t_prov - run.marks["patch"]
                run.mark("provisioned")
                say(f"all {n} provisioned {to_provisioned:.1f}s after the first patch")
            except TimeoutError as exc:
                extra["error"] = str(exc)
                run.mark("provisioned")
                say(str(exc))
            extra["steps_to_provisioned"] = {
                "operation_history_s": {
                    k: v
                    for k, v in operation_durations(r.obj for r in tracker.hosts.values()).items()
                    if k == "provision"
                },
                "watch_state_s": {
                    k: v
                    for k, v in state_durations(
                        {s: t for s, t in r.first_seen.items() if s in ("provisioning", "provisioned")}
                        | {"available": run.marks["patch"]}
                        for r in tracker.hosts.values()
                    ).items()
                    if k in ("available", "provisioning")
                },
            }
            extra["errors_to_provisioned"] = tracker.errors()
        extra["load_1m_end_of_phases"] = round(os.getloadavg()[0], 2)

        # Idle: everything stable, nobody asks for anything.
        if args.idle > 0:
            say(f"settling {args.settle:.0f}s, then measuring idle CPU over {args.idle:.0f}s")
            await asyncio.sleep(args.settle)
            events_before = tracker.events
            run.mark("idle_start")
            await asyncio.sleep(args.idle)
            run.mark("idle_end")
            idle = cpu_delta(run.phase_cpu["idle_end"], run.phase_cpu["idle_start"])
            extra["idle_core_pct"] = core_pct(idle, run.marks["idle_end"] - run.marks["idle_start"])
            extra["idle_s"] = args.idle
            extra["idle_watch_events"] = tracker.events - events_before
            say(f"idle: % of a core {extra['idle_core_pct']} ({extra['idle_watch_events']} host events)")
        extra["final_states"] = dict(tracker.states())
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await kube.close()
    extra["to_available_s_"] = to_available
    extra["to_provisioned_s_"] = to_provisioned
    return extra


def harness_manifests(
    docs: Iterable[dict[str, Any]], cleaning: str = "disabled"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The fleet's Secrets and BareMetalHosts, hosts with ``automatedCleaningMode`` set."""
    secrets, hosts = [], []
    for doc in docs:
        if doc["kind"] == "Secret":
            secrets.append(doc)
        else:
            doc = {**doc, "spec": {**doc["spec"], "automatedCleaningMode": cleaning}}
            hosts.append(doc)
    return secrets, hosts


async def enrol_from_harness(run: Run, kube: Kube) -> None:
    """Start the emulated fleet here and enrol it as an operator would (Secrets, then hosts).

    For when ``teapot up --fleet N`` cannot bring hosts to ``available`` by itself: the hosts get a
    virtual-media BMC scheme (live-ISO deploys need one) and ``automatedCleaningMode: disabled`` (no
    agent ramdisk is configured), as in ``tests/hosts/test_host_e2e.py``.
    """
    from teapot.fleet import Fleet, generate_datacenter

    args = run.args
    deadline = time.monotonic() + args.timeout
    # Enrol when teapot up is completely up (Ironic and controllers), as `teapot up --fleet` does.
    while "Teapot is up" not in (run.data_dir / "up.log").read_text(errors="replace"):
        run.check_alive()
        if time.monotonic() > deadline:
            raise Failure(f"teapot up not up after {args.timeout:.0f}s: {tail(run.data_dir / 'up.log')}")
        await asyncio.sleep(0.2)
    while True:  # the namespace (teapot up applies it after the CRDs) and the BMH resource
        try:
            await kube.request("GET", f"/api/v1/namespaces/{NAMESPACE}")
            await kube.request("GET", BMH_PATH + "?limit=1")
            break
        except KubeError:
            run.check_alive()
            if time.monotonic() > deadline:
                raise Failure(f"namespace {NAMESPACE} / BareMetalHost resource not served") from None
            await asyncio.sleep(0.2)
    fleet = Fleet(
        generate_datacenter(args.hosts),
        state_dir=run.data_dir / "bench-fleet",
        power_delay_s=args.power_delay,
        scheme="redfish-virtualmedia",
    )
    await asyncio.to_thread(fleet.start)
    run.fleet = fleet
    if fleet.pid is not None:
        run.sampler.extra_roots[fleet.pid] = "emulator"
    say(f"emulator for {args.hosts} hosts up in {fleet.startup_s:.1f}s; enrolling")
    secrets, hosts = harness_manifests(fleet.manifests(NAMESPACE))
    secret_path = f"/api/v1/namespaces/{NAMESPACE}/secrets"

    async def create_all(path: str, docs: list[dict[str, Any]]) -> None:
        queue = list(reversed(docs))

        async def worker() -> None:
            while queue:
                await kube.request("POST", path, queue.pop())

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))

    await create_all(secret_path, secrets)
    await create_all(BMH_PATH, hosts)


def phase_report(run: Run) -> dict[str, Any]:
    """CPU seconds and % of a core per process for each phase between the recorded marks."""
    order = [
        ("startup", "start", "first_host"),
        ("to_available", "first_host", "available"),
        ("to_provisioned", "patch", "provisioned"),
        ("idle", "idle_start", "idle_end"),
    ]
    marks = {"start": run.started, **run.marks}
    cpu = {"start": {}, **run.phase_cpu}
    out: dict[str, Any] = {}
    for name, a, b in order:
        if a in marks and b in marks and a in cpu and b in cpu:
            delta = cpu_delta(cpu[b], cpu[a])
            wall = marks[b] - marks[a]
            out[name] = {"wall_s": round(wall, 2), "cpu_s": delta, "core_pct": core_pct(delta, wall)}
    return out


def stop(run: Run, timeout: float) -> dict[str, Any]:
    """SIGINT ``teapot up``; SIGKILL it and what is left of its tree after *timeout*."""
    pids = run.sampler.pids()
    t0 = time.monotonic()
    run.proc.send_signal(signal.SIGINT)
    killed = False
    try:
        run.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        say(f"teapot up still running {timeout:.0f}s after SIGINT: SIGKILL")
        run.proc.kill()
        run.proc.wait()
        killed = True
    left = [p for p in pids if read_stat(p) is not None]
    for pid in left:  # our descendants (own sessions), by pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return {
        "stop_s": round(time.monotonic() - t0, 2),
        "stop_sigkill": killed,
        "stop_orphans_killed": len(left),
    }


def git_commit(repo: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="bench-hosts-")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [str(args.teapot), "up", "--data-dir", str(data_dir), "--secure-port", "0"]
    if args.enrol == "up":
        cmd += ["--fleet", str(args.hosts)]
    cmd += args.up_arg
    load_start = os.getloadavg()[0]
    say(f"load average {os.getloadavg()}; starting {' '.join(cmd)} (log: {data_dir / 'up.log'})")
    with (data_dir / "up.log").open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    run = Run(args, data_dir, proc, TreeSampler(proc.pid))
    sampler = asyncio.create_task(run.sample_forever(args.sample_interval))
    extra: dict[str, Any] = {}
    failed: str | None = None
    try:
        extra = await measure(run)
    except (Failure, TimeoutError) as exc:
        failed = str(exc)
        say(f"failed: {failed}")
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        final = run.sample()
    to_available = extra.pop("to_available_s_", None)
    to_provisioned = extra.pop("to_provisioned_s_", None)
    if failed:
        extra["error"] = failed
    load_end = os.getloadavg()[0]
    rss = {role: round(s.hwm_kib / 1024, 1) for role, s in sorted(final.items()) if s.hwm_kib}
    cpu = cpu_seconds(final)
    own = resource.getrusage(resource.RUSAGE_SELF)
    extra.update(
        {
            "rss_mib_largest_process": {
                role: round(kib / 1024, 1) for role, kib in sorted(run.sampler.largest_kib().items())
            },
            "load_1m_start": round(load_start, 2),
            "load_1m_max": round(run.load_max, 2),
            "phases": phase_report(run),
            "controller_threads_cpu_s": {
                "event_loop": round(run.sampler.main_thread_ticks / CLK_TCK, 2),
                "other_threads": round(run.sampler.other_thread_ticks / CLK_TCK, 2),
            },
            "harness_cpu_s": round(own.ru_utime + own.ru_stime, 2),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "commit": git_commit(Path(__file__).resolve().parents[1]),
            "command": " ".join(cmd),
            "enrol": args.enrol,
            "data_dir": str(data_dir),
        }
    )
    ironic_log = data_dir / "ironic" / "logs" / "ironic.log"
    if ironic_log.exists():
        with ironic_log.open(errors="replace") as lines:
            extra["ironic_api"] = ironic_api_summary(lines)
    if args.keep:
        say(f"--keep: teapot up (pid {proc.pid}) left running; KUBECONFIG={data_dir / 'kubeconfig'}")
        extra["kept_pid"] = proc.pid
    else:
        extra.update(stop(run, args.stop_timeout))
        if run.fleet is not None:
            run.fleet.stop()
        if not args.keep_data:
            import shutil

            shutil.rmtree(data_dir, ignore_errors=True)
    return build_result(
        hosts=args.hosts,
        to_available_s=to_available,
        to_provisioned_s=to_provisioned,
        rss_mib=rss,
        cpu_s=cpu,
        load_1m=load_end,
        extra=extra,
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=10, help="emulated hosts (teapot up --fleet N; default 10)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per phase (default 900)")
    ap.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measurement (0: skip)")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds to wait before the idle measurement")
    ap.add_argument("--concurrency", type=int, default=8, help="concurrent image patches (default 8)")
    ap.add_argument(
        "--enrol",
        choices=("up", "harness"),
        default="up",
        help="who starts the emulated fleet and enrols it: 'up' (teapot up --fleet N, default) or "
        "'harness' (this script; virtual-media BMCs, automatedCleaningMode: disabled)",
    )
    ap.add_argument(
        "--power-delay", type=float, default=1.0, help="--enrol harness: emulated power change time (1 s)"
    )
    ap.add_argument("--skip-provision", action="store_true", help="stop after all hosts are available")
    ap.add_argument("--sample-interval", type=float, default=1.0, help="/proc sampling period in seconds")
    ap.add_argument("--stop-timeout", type=float, default=60.0, help="SIGKILL this long after SIGINT")
    ap.add_argument("--keep", action="store_true", help="leave teapot up running (and its data dir)")
    ap.add_argument(
        "--keep-data", action="store_true", help="keep the data dir (logs, Ironic DB) after stopping"
    )
    ap.add_argument("--data-dir", type=Path, help="data dir for teapot up (default: a new temporary dir)")
    ap.add_argument(
        "--teapot",
        type=Path,
        default=Path(sys.executable).with_name("teapot"),
        help="the teapot executable (default: next to this Python)",
    )
    ap.add_argument(
        "--up-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for teapot up, repeatable (e.g. --up-arg=--max-concurrent-cleaning=10)",
    )
    args = ap.parse_args(argv)
    if args.keep:
        args.keep_data = True
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(main_async(args))
    print(json.dumps(result), flush=True)
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    raise SystemExit(main())
