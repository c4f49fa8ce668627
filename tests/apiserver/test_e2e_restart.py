"""Durability: an acknowledged write survives kill -9; resourceVersions stay monotonic across restarts;
a watch from before the restart gets 410 Gone as an ERROR event and the client re-lists."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import requests  # type: ignore[import-untyped]
from kubernetes import client

from tests.conftest import start_apiserver, stop_apiserver

pytestmark = pytest.mark.e2e


def test_kill_9_keeps_acknowledged_writes_and_versions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    server = start_apiserver(data)
    try:
        with server.api_client() as api:
            v1 = client.CoreV1Api(api)
            last_rv = 0
            for i in range(50):
                cm = v1.create_namespaced_config_map(
                    "default", {"metadata": {"name": f"c{i}"}, "data": {"i": str(i)}}
                )
                rv = int(cm.metadata.resource_version)
                assert rv > last_rv
                last_rv = rv
            v1.delete_namespaced_config_map("c49", "default")
            deleted_rv = int(v1.list_namespaced_config_map("default").metadata.resource_version)
            assert deleted_rv > last_rv
    finally:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()

    server = start_apiserver(data)
    try:
        with server.api_client() as api:
            v1 = client.CoreV1Api(api)
            names = {c.metadata.name for c in v1.list_namespaced_config_map("default").items}
            assert names == {f"c{i}" for i in range(49)}
            assert v1.read_namespaced_config_map("c7", "default").data == {"i": "7"}
            cm = v1.create_namespaced_config_map("default", {"metadata": {"name": "after"}})
            # monotonic even though the highest-versioned object was deleted before the crash
            assert int(cm.metadata.resource_version) > deleted_rv
            cfg = api.configuration
            url = f"{cfg.host}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={last_rv}&timeoutSeconds=2"
            resp = requests.get(url, verify=cfg.ssl_ca_cert, cert=(cfg.cert_file, cfg.key_file), timeout=10)
            first = json.loads(resp.text.splitlines()[0])
            assert first["type"] == "ERROR"
            assert first["object"]["code"] == 410 and first["object"]["reason"] == "Expired"
    finally:
        stop_apiserver(server)
