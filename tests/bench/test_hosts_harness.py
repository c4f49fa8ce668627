"""The pure parts of ``bench/hosts.py``: /proc parsing, process classification, statistics, JSON shape.

Nothing here starts the system; the benchmark itself is run by hand (see docs/hosts-benchmark.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "hosts.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_hosts", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


hosts = _load()

# A real /proc/PID/stat line, with a comm that holds spaces and a parenthesis (setproctitle does that).
STAT = (
    "4242 (ironic: maste) r) S 4200 4242 4242 0 -1 4194560 5000 0 0 0 "
    "1234 567 89 10 20 0 3 0 987654 123456789 4321 18446744073709551615 1 1 0 0 0 0 0 16781312 0 0 0 0 17 1 0 0 0 0 0"
)


def test_parse_stat_handles_comm_with_spaces_and_parentheses() -> None:
    st = hosts.parse_stat(STAT)
    assert (st.pid, st.comm, st.ppid) == (4242, "ironic: maste) r", 4200)
    assert (st.utime, st.stime, st.cutime, st.cstime) == (1234, 567, 89, 10)
    assert st.num_threads == 3 and st.starttime == 987654
    assert st.cpu_ticks(children=False) == 1801 and st.cpu_ticks(children=True) == 1900


def test_parse_stat_of_this_process() -> None:
    st = hosts.read_stat(os.getpid())
    assert st is not None and st.pid == os.getpid() and st.ppid == os.getppid()
    assert hosts.read_hwm_kib(os.getpid()) > 0


def test_parse_status_kib() -> None:
    text = "Name:\tpython\nVmPeak:\t  300000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40000 kB\n"
    assert hosts.parse_status_kib(text) == 51234
    assert hosts.parse_status_kib(text, "VmRSS") == 40000
    assert hosts.parse_status_kib("Name:\tzombie\nState:\tZ (zombie)\n") is None


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        (["/v/.venv-services/bin/python", "-m", "teapot.fleet.emulator", "/d/spec.json"], "emulator"),
        (["/v/.venv-services/bin/python3", "/v/.venv-services/bin/ironic", "--config-file", "x"], "ironic"),
        (["ironic: master process [/v/.venv-services/bin/ironic --config-file /d/ironic.conf]"], "ironic"),
        (["ironic: ServiceWrapper worker(0)"], "ironic"),
        (
            ["/v/.venv-services/bin/python", "-P", "/s/teapot/hosts/ironic/launch.py", "--config-file", "c"],
            "ironic",
        ),
        (["/v/.venv-services/bin/ironic-dbsync", "--config-file", "c", "create_schema"], "ironic_dbsync"),
        (["/v/python", "-m", "http.server", "--directory", "/d/ironic/httpboot", "6180"], "image_server"),
        (["/usr/bin/sleep", "1"], "other:sleep"),
    ],
)
def test_classify(argv: list[str], role: str) -> None:
    assert hosts.classify(argv) == role


def test_descendants_map_to_their_top_child() -> None:
    def st(pid: int, ppid: int) -> Any:
        return hosts.ProcStat(pid, "x", ppid, 0, 0, 0, 0, 1, pid)

    stats = {p.pid: p for p in (st(1, 0), st(10, 1), st(11, 10), st(12, 11), st(20, 1), st(30, 2))}
    assert hosts.descendants(1, stats) == {10: 10, 11: 10, 12: 10, 20: 20}


def test_tree_sampler_on_this_process() -> None:
    sampler = hosts.TreeSampler(os.getpid())
    sample = sampler.sample()
    assert sample["controller"].cpu_ticks > 0 and sample["controller"].hwm_kib > 0
    assert sampler.main_thread_ticks > 0


def test_state_and_operation_durations() -> None:
    seen = [
        {"created": 0.0, "registering": 0.5, "inspecting": 4.5, "preparing": 6.0, "available": 7.0},
        {"created": 0.1, "registering": 0.2, "inspecting": 8.2, "available": 9.2},  # preparing not seen
    ]
    spans = hosts.state_durations(seen)
    assert spans["created"] == {"n": 2, "p50": 0.3, "p90": 0.5, "max": 0.5}
    assert spans["registering"]["max"] == 8.0
    assert spans["inspecting"] == {"n": 2, "p50": 1.25, "p90": 1.5, "max": 1.5}
    assert "available" not in spans
    host = {
        "status": {
            "operationHistory": {
                "register": {"start": "2026-11-22T03:00:00.000000Z", "end": "2026-11-22T03:00:03.500000Z"},
                "inspect": {"start": "2026-11-22T03:00:03.600000Z", "end": None},
            }
        }
    }
    ops = hosts.operation_durations([host, {"status": {}}, {}])
    assert ops == {"register": {"n": 1, "p50": 3.5, "p90": 3.5, "max": 3.5}}
    assert hosts.summarise([]) is None


def test_json_shape() -> None:
    result = hosts.build_result(
        hosts=10,
        to_available_s=61.234,
        to_provisioned_s=None,
        rss_mib={"controller": 190.5, "ironic": 300.0, "emulator": 70.1},
        cpu_s={"controller": 12.5, "ironic": 100.0, "emulator": 2.0},
        load_1m=1.234,
        extra={"phases": {}},
    )
    line = json.dumps(result)
    assert "\n" not in line
    decoded = json.loads(line)
    assert list(decoded)[:8] == [
        "bench",
        "hosts",
        "to_available_s",
        "to_provisioned_s",
        "rss_mib",
        "cpu_s",
        "load_1m",
        "phases",
    ]
    assert decoded["to_available_s"] == 61.23 and decoded["to_provisioned_s"] is None
    assert decoded["load_1m"] == 1.23
    assert set(decoded["rss_mib"]) == set(decoded["cpu_s"]) == {"controller", "ironic", "emulator"}


def test_harness_manifests_disable_cleaning_without_touching_the_input() -> None:
    docs = [
        {"kind": "Secret", "metadata": {"name": "h1-bmc-secret"}},
        {"kind": "BareMetalHost", "metadata": {"name": "h1"}, "spec": {"online": False}},
    ]
    secrets, bmhs = hosts.harness_manifests(docs)
    assert [s["metadata"]["name"] for s in secrets] == ["h1-bmc-secret"]
    assert bmhs[0]["spec"] == {"online": False, "automatedCleaningMode": "disabled"}
    assert "automatedCleaningMode" not in docs[1]["spec"]


def test_cpu_delta_and_core_pct() -> None:
    delta = hosts.cpu_delta({"a": 3.0, "b": 1.0}, {"a": 1.5})
    assert delta == {"a": 1.5, "b": 1.0}
    assert hosts.core_pct(delta, 30.0) == {"a": 5.0, "b": 3.3}
    assert hosts.core_pct(delta, 0.0) == {}


def test_parse_args_defaults() -> None:
    args = hosts.parse_args(["--hosts", "3", "--keep"])
    assert args.hosts == 3 and args.keep and args.keep_data and args.enrol == "up" and args.idle == 30.0


def test_ironic_api_summary_groups_endpoints() -> None:
    prefix = "2026-11-22 03:59:39.206 14108 INFO ironic.api [None req-80d1 - - - - - -] 127.0.0.1 - "
    lines = [
        prefix + "GET /v1/nodes/755450fc-50ac-4957-8c59-891d21f77258 - 200 (600.0ms)",
        prefix + "GET /v1/nodes/da11053f-f7af-411c-8bd3-c82a045df366?fields=uuid - 200 (400.0ms)",
        prefix + "GET /v1/nodes/teapot-hosts~r001-u09 - 404 (10.0ms)",
        prefix + "PUT /v1/nodes/da11053f-f7af-411c-8bd3-c82a045df366/states/provision - 202 (2500.5ms)",
        "2026-11-22 03:59:39.116 14108 INFO ironic.drivers.modules.redfish.boot [None] Boot media ejected",
    ]
    summary = hosts.ironic_api_summary(lines)
    assert summary["requests"] == 4
    assert summary["busiest"] == {
        "PUT /v1/nodes/ID/states/provision 202": {"n": 1, "mean_ms": 2500.5},
        "GET /v1/nodes/ID 200": {"n": 2, "mean_ms": 500.0},
        "GET /v1/nodes/ID 404": {"n": 1, "mean_ms": 10.0},
    }


def test_peak_memory_does_not_add_up_processes_that_never_overlapped() -> None:
    sampler = hosts.TreeSampler(os.getpid())
    # Ironic: master + worker alive together (160 + 190 MiB RSS sampled), 50 short helpers of 60 MiB each.
    sampler.hwm = {(1, 1): ("ironic", 170_000), (2, 2): ("ironic", 200_000)}
    sampler.hwm.update({(100 + i, i): ("ironic", 60_000) for i in range(50)})
    sampler.tree_rss_max = {"ironic": 350_000}
    sampler.hwm[(3, 3)] = ("emulator", 80_000)
    assert sampler.peak_kib() == {"ironic": 350_000, "emulator": 80_000}
    assert sampler.largest_kib() == {"ironic": 200_000, "emulator": 80_000}
