"""BmcGate as a plain WSGI middleware (no server): per-host auth, faults and the control API."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment
from wsgiref.util import setup_testing_defaults

import pytest

from teapot.fleet.emulator.gate import BmcGate, FaultTable
from teapot.fleet.emulator.spec import SystemSpec

UUID_A = "11111111-1111-1111-1111-111111111111"
UUID_B = "22222222-2222-2222-2222-222222222222"
TOKEN = "t0ken"


def _system(uuid: str, name: str, password: str) -> SystemSpec:
    return {
        "uuid": uuid,
        "name": name,
        "username": "admin",
        "password": password,
        "power_state": "Off",
        "manufacturer": "m",
        "model": "m",
        "serial": "s",
        "bios_version": "1",
        "memory_gib": 1,
        "processors": [],
        "drives": [],
        "nics": [],
        "pcie_devices": [],
    }


def backend(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Stands in for sushy-tools: echoes the path, lists both systems."""
    if environ["PATH_INFO"].rstrip("/") == "/redfish/v1/Systems":
        members = [{"@odata.id": f"/redfish/v1/Systems/{u}"} for u in (UUID_A, UUID_B)]
        body = json.dumps({"Members": members, "Members@odata.count": 2}).encode()
    else:
        body = json.dumps({"path": environ["PATH_INFO"]}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


@pytest.fixture
def gate() -> BmcGate:
    faults = FaultTable([_system(UUID_A, "host-a", "pw-a"), _system(UUID_B, "host-b", "pw-b")])
    return BmcGate(backend, faults, TOKEN)


def call(
    gate: BmcGate,
    path: str,
    method: str = "GET",
    auth: tuple[str, str] | None = None,
    bearer: str | None = None,
    body: object = None,
) -> tuple[int, dict[str, str], Any]:
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": method}
    setup_testing_defaults(environ)
    if auth:
        environ["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    if bearer:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"
    data = json.dumps(body).encode() if body is not None else b""
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(data), str(len(data))
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = int(status.split()[0]), dict(headers)
        return lambda _: None

    payload = b"".join(gate(environ, start_response))
    return seen["status"], seen["headers"], json.loads(payload) if payload else None


def test_service_root_is_open(gate: BmcGate) -> None:
    assert call(gate, "/redfish/v1/")[0] == 200


def test_each_host_has_its_own_credentials(gate: BmcGate) -> None:
    assert call(gate, f"/redfish/v1/Systems/{UUID_A}", auth=("admin", "pw-a"))[0] == 200
    assert call(gate, f"/redfish/v1/Managers/{UUID_A}", auth=("admin", "pw-a"))[0] == 200
    status, headers, body = call(gate, f"/redfish/v1/Systems/{UUID_A}/Processors", auth=("admin", "pw-b"))
    assert status == 401 and "WWW-Authenticate" in headers and "error" in body
    assert call(gate, "/redfish/v1/Systems/host-b", auth=("admin", "pw-b"))[0] == 200  # by name
    assert call(gate, f"/redfish/v1/Systems/{UUID_A}")[0] == 401


def test_collection_lists_what_the_credentials_open(gate: BmcGate) -> None:
    status, _, body = call(gate, "/redfish/v1/Systems", auth=("admin", "pw-b"))
    assert status == 200 and body["Members"] == [{"@odata.id": f"/redfish/v1/Systems/{UUID_B}"}]
    assert body["Members@odata.count"] == 1
    assert call(gate, "/redfish/v1/Chassis", auth=("admin", "nope"))[0] == 401


def test_faults(gate: BmcGate) -> None:
    put = call(gate, f"/teapot/v1/systems/{UUID_A}/faults", "PUT", bearer=TOKEN, body={"bmc": "unavailable"})
    assert put[0] == 200 and put[2] == {"bmc": "unavailable", "password": None, "power": "ok"}
    status, headers, _ = call(gate, f"/redfish/v1/Systems/{UUID_A}", auth=("admin", "pw-a"))
    assert status == 503 and headers["Retry-After"] == "1"
    assert call(gate, f"/redfish/v1/Systems/{UUID_B}", auth=("admin", "pw-b"))[0] == 200

    call(gate, "/teapot/v1/systems/host-a/faults", "PUT", bearer=TOKEN, body={"bmc": "down"})
    with pytest.raises(ConnectionAbortedError):
        call(gate, f"/redfish/v1/Systems/{UUID_A}", auth=("admin", "pw-a"))

    call(gate, "/teapot/v1/systems/host-a/faults", "PUT", bearer=TOKEN, body={"password": "changed"})
    assert call(gate, f"/redfish/v1/Systems/{UUID_A}", auth=("admin", "pw-a"))[0] == 401
    assert call(gate, f"/redfish/v1/Systems/{UUID_A}", auth=("admin", "changed"))[0] == 200

    call(gate, "/teapot/v1/systems/host-a/faults", "PUT", bearer=TOKEN, body={"power": "error"})
    reset = f"/redfish/v1/Systems/{UUID_A}/Actions/ComputerSystem.Reset"
    assert call(gate, reset, "POST", auth=("admin", "pw-a"))[0] == 500
    assert call(gate, f"/redfish/v1/Systems/{UUID_A}", auth=("admin", "pw-a"))[0] == 200  # reads still work

    listing = call(gate, "/teapot/v1/faults", bearer=TOKEN)[2]
    assert listing == {UUID_A: {"bmc": "up", "password": None, "power": "error"}}
    assert call(gate, "/teapot/v1/faults", "DELETE", bearer=TOKEN)[0] == 200
    assert call(gate, reset, "POST", auth=("admin", "pw-a"))[0] == 200


@pytest.mark.parametrize(
    "body",
    [{"bmc": "sideways"}, {"power": "maybe"}, {"password": 3}, {"colour": "red"}, ["bmc"]],
)
def test_control_api_rejects_bad_faults(gate: BmcGate, body: object) -> None:
    status, _, reply = call(gate, f"/teapot/v1/systems/{UUID_A}/faults", "PUT", bearer=TOKEN, body=body)
    assert status == 400 and reply["error"]


def test_control_api_requires_the_token(gate: BmcGate) -> None:
    assert call(gate, "/teapot/v1/faults")[0] == 401
    assert call(gate, "/teapot/v1/faults", bearer="guess")[0] == 401
    assert call(gate, "/teapot/v1/systems/nobody/faults", bearer=TOKEN)[0] == 404
    assert call(gate, f"/teapot/v1/systems/{UUID_A}/faults", "POST", bearer=TOKEN, body={})[0] == 405
