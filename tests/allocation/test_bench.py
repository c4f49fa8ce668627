"""The benchmark runs end to end in quick mode and prints one JSON line per scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "allocation.py"


def test_bench_quick_mode() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, check=True, timeout=120
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["scenario"] for line in lines] == ["admission", "placement", "throughput"]
    assert all(line["peak_rss_mib"] > 0 for line in lines)
    admission, placement, throughput = lines
    assert admission["satisfiable"] is True
    assert admission["full_ms"] > 0 and admission["incremental_ms"] > 0
    assert placement["p50_ms"] <= placement["p99_ms"]
    assert throughput["hosts_placed"] > 0 and throughput["hosts_per_s"] > 0
