"""IronicService as a process owner: restart after kill -9 keeps nodes, stop is clean."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import sys
import urllib.request
from pathlib import Path

import pytest

from teapot.hosts.ironic.config import IronicSettings
from teapot.hosts.ironic.provisioner import IronicProvisioner, IronicProvisionerSettings
from teapot.hosts.ironic.service import IronicService, IronicStartError, free_port, wait_for_ironic
from teapot.hosts.provisioner import HostRef

pytestmark = pytest.mark.e2e


def settings(data_dir: Path) -> IronicSettings:
    return IronicSettings(data_dir=data_dir, api_port=free_port(), http_port=free_port(), start_timeout=60)


async def test_restart_after_kill_keeps_nodes_and_serves_http_root(tmp_path: Path) -> None:
    first = IronicService(settings(tmp_path))
    await first.start()
    try:
        assert first.schema_seconds is not None
        with contextlib.closing(sqlite3.connect(first.settings.database_file)) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # readers never block writers
        (first.http_root / "hello.txt").write_text("hi", encoding="utf-8")
        with urllib.request.urlopen(f"{first.http_url}/hello.txt", timeout=5) as response:
            assert response.read() == b"hi"
        prov = IronicProvisioner(IronicProvisionerSettings(url=first.url))
        node = prov.baremetal.create_node(name="ns~survivor", driver="fake-hardware")
        assert first.pid is not None
        os.kill(first.pid, signal.SIGKILL)  # no goodbye: SQLite must still be consistent
    finally:
        await first.stop()

    second = IronicService(settings(tmp_path))
    async with second:
        assert second.schema_seconds is None  # schema existed: upgraded, not recreated
        prov = IronicProvisioner(IronicProvisionerSettings(url=second.url))
        status = await prov.observe(HostRef("ns", "survivor"))
        assert status is not None and status.provisioning_id == node.id
        await wait_for_ironic(second.url, timeout=5)  # what --ironic-url uses for an existing Ironic
        print(
            f"TIMINGS first_start={first.start_seconds:.2f} restart={second.start_seconds:.2f}",
            file=sys.stderr,
        )
    assert second.pid is None


async def test_bad_config_fails_start_with_the_log(tmp_path: Path) -> None:
    broken = IronicSettings(
        data_dir=tmp_path,
        api_port=free_port(),
        http_port=free_port(),
        start_timeout=30,
        extra_options=(("DEFAULT", "enabled_inspect_interfaces", "inspector-that-does-not-exist"),),
    )
    service = IronicService(broken)
    with pytest.raises(IronicStartError) as info:
        await service.start()
    assert "inspector-that-does-not-exist" in str(info.value)
    assert service.pid is None
