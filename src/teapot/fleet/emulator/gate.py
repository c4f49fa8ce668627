"""WSGI middleware in front of sushy-tools: one BMC per host, faults, and the control API.

Why: sushy-tools serves every system from one process with one htpasswd file, but a datacenter
has one BMC per host, each with its own credentials, and tests need BMCs that go away, change
their password or fail power actions *while Ironic is talking to them*.  This layer maps a
request to the host it addresses (``/redfish/v1/Systems/<id>/…`` and ``/Managers/<id>/…``),
applies that host's faults and credentials, and only then hands it to sushy-tools.  Paths shared
by all hosts (the service root stays open like on real BMCs; ``/Systems``, ``/Chassis``, …) accept
any host's credentials, and the ``/Systems`` collection then lists only the systems those
credentials open — as if each host had its own BMC.

The control API (``/teapot/v1/…``, bearer token) sets faults at run time; see
:class:`teapot.fleet.control.FleetControl` for the client.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import logging
import re
import socket
import threading
from collections.abc import Iterable
from typing import Any, NoReturn, cast
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from teapot.fleet.emulator.spec import CONTROL_PREFIX, NO_FAULTS, FaultSpec, SystemSpec

LOG = logging.getLogger("teapot.fleet.emulator")

_HOST_PATH = re.compile(r"^/redfish/v1/(?:Systems|Managers)/([^/]+)")
_OPEN_PATHS = frozenset(("", "/redfish", "/redfish/v1", "/redfish/v1/odata", "/redfish/v1/$metadata"))
_RESET = re.compile(r"^/redfish/v1/Systems/[^/]+/Actions/ComputerSystem\.Reset$")
_FAULTS_PATH = re.compile(rf"^{re.escape(CONTROL_PREFIX)}/systems/([^/]+)/faults$")


def _redfish_error(message: str, message_id: str) -> bytes:
    return json.dumps(
        {
            "error": {
                "code": f"Base.1.0.{message_id}",
                "message": message,
                "@Message.ExtendedInfo": [{"MessageId": f"Base.1.0.{message_id}", "Message": message}],
            }
        }
    ).encode()


def _respond(
    start_response: StartResponse, status: str, body: bytes, extra: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra]
    start_response(status, headers)
    return [body]


class FaultTable:
    """Per-system faults and credentials, shared by the middleware and the systems driver."""

    def __init__(self, systems: Iterable[SystemSpec]) -> None:
        self._lock = threading.Lock()
        self._credentials: dict[str, tuple[str, str]] = {}
        self._aliases: dict[str, str] = {}
        for system in systems:
            self._credentials[system["uuid"]] = (system["username"], system["password"])
            self._aliases[system["uuid"]] = system["uuid"]
            self._aliases[system["name"]] = system["uuid"]
        self._faults: dict[str, FaultSpec] = {}

    def resolve(self, identity: str) -> str | None:
        """The UUID of the system addressed by UUID or name, or None."""
        return self._aliases.get(identity)

    def get(self, uuid: str) -> FaultSpec:
        with self._lock:
            return cast(FaultSpec, dict(self._faults.get(uuid, NO_FAULTS)))

    def put(self, uuid: str, faults: FaultSpec) -> None:
        with self._lock:
            self._faults[uuid] = faults

    def clear(self, uuid: str | None = None) -> None:
        with self._lock:
            if uuid is None:
                self._faults.clear()
            else:
                self._faults.pop(uuid, None)

    def snapshot(self) -> dict[str, FaultSpec]:
        with self._lock:
            return {uuid: cast(FaultSpec, dict(f)) for uuid, f in self._faults.items()}

    def credentials(self, uuid: str) -> tuple[str, str]:
        username, password = self._credentials[uuid]
        override = self.get(uuid)["password"]
        return username, override if override is not None else password

    def check(self, uuid: str, username: str, password: str) -> bool:
        want_user, want_password = self.credentials(uuid)
        user_ok = hmac.compare_digest(username.encode(), want_user.encode())
        return hmac.compare_digest(password.encode(), want_password.encode()) and user_ok

    def opened_by(self, username: str, password: str) -> set[str]:
        """UUIDs of the systems (BMCs up) whose credentials these are."""
        return {
            uuid
            for uuid in self._credentials
            if self.get(uuid)["bmc"] == "up" and self.check(uuid, username, password)
        }


def _basic_auth(environ: WSGIEnvironment) -> tuple[str, str] | None:
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


_FAULT_VALUES: dict[str, tuple[str, ...]] = {
    "bmc": ("up", "down", "unavailable"),
    "power": ("ok", "error", "stuck"),
}


def _parse_faults(body: object) -> FaultSpec:
    if not isinstance(body, dict) or set(body) - {"bmc", "password", "power"}:
        raise ValueError("expected an object with fields bmc, password, power")
    faults = dict(NO_FAULTS)
    for key, allowed in _FAULT_VALUES.items():
        if key in body:
            if body[key] not in allowed:
                raise ValueError(f"{key} must be one of {', '.join(allowed)}")
            faults[key] = body[key]
    if body.get("password") is not None:
        if not isinstance(body["password"], str):
            raise ValueError("password must be a string or null")
        faults["password"] = body["password"]
    return cast(FaultSpec, faults)


class BmcGate:
    """The middleware; ``app`` is sushy-tools' WSGI app."""

    def __init__(self, app: WSGIApplication, faults: FaultTable, control_token: str) -> None:
        self.app = app
        self.faults = faults
        self._token = control_token

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or ""
        if path.startswith(CONTROL_PREFIX + "/"):
            return self._control(environ, start_response, path)
        if path.rstrip("/") in _OPEN_PATHS:
            return self.app(environ, start_response)
        credentials = _basic_auth(environ)
        match = _HOST_PATH.match(path)
        uuid = self.faults.resolve(match.group(1)) if match else None
        if uuid is None:
            return self._shared(environ, start_response, path, credentials)
        faults = self.faults.get(uuid)
        if faults["bmc"] == "down":
            self._drop(environ)
        if faults["bmc"] == "unavailable":
            return _respond(
                start_response,
                "503 Service Unavailable",
                _redfish_error("The BMC is not available.", "ServiceTemporarilyUnavailable"),
                [("Retry-After", "1")],
            )
        if credentials is None or not self.faults.check(uuid, *credentials):
            return self._unauthorized(start_response)
        if faults["power"] == "error" and environ.get("REQUEST_METHOD") == "POST" and _RESET.match(path):
            return _respond(
                start_response,
                "500 Internal Server Error",
                _redfish_error("The power action failed (injected fault).", "InternalError"),
            )
        return self.app(environ, start_response)

    @staticmethod
    def _drop(environ: WSGIEnvironment) -> NoReturn:
        """Emulate an unreachable BMC: close the connection without an answer."""
        sock = environ.get("werkzeug.socket")
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        raise ConnectionAbortedError("BMC is down (injected fault)")

    @staticmethod
    def _unauthorized(start_response: StartResponse) -> list[bytes]:
        return _respond(
            start_response,
            "401 Unauthorized",
            _redfish_error("Authentication failed: wrong user name or password.", "InsufficientPrivilege"),
            [("WWW-Authenticate", 'Basic realm="Teapot emulated BMC"')],
        )

    def _shared(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        path: str,
        credentials: tuple[str, str] | None,
    ) -> Iterable[bytes]:
        opened = self.faults.opened_by(*credentials) if credentials else set()
        if not opened:
            return self._unauthorized(start_response)
        if path.rstrip("/") != "/redfish/v1/Systems" or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        return self._filtered_collection(environ, start_response, opened)

    def _filtered_collection(
        self, environ: WSGIEnvironment, start_response: StartResponse, opened: set[str]
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not str(captured.get("status", "")).startswith("200"):
            start_response(captured["status"], captured["headers"])
            return [body]
        document = json.loads(body)
        members = [
            m
            for m in document.get("Members", [])
            if m.get("@odata.id", "").rstrip("/").rsplit("/", 1)[-1] in opened
        ]
        document["Members"] = members
        document["Members@odata.count"] = len(members)
        return _respond(start_response, "200 OK", json.dumps(document).encode())

    def _control(self, environ: WSGIEnvironment, start_response: StartResponse, path: str) -> list[bytes]:
        supplied = environ.get("HTTP_AUTHORIZATION", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {self._token}".encode()):
            return _respond(start_response, "401 Unauthorized", b'{"error": "bad control token"}')
        method = environ.get("REQUEST_METHOD", "GET")
        if path == f"{CONTROL_PREFIX}/faults":
            if method == "DELETE":
                self.faults.clear()
                return _respond(start_response, "200 OK", b"{}")
            return _respond(start_response, "200 OK", json.dumps(self.faults.snapshot()).encode())
        match = _FAULTS_PATH.match(path)
        uuid = self.faults.resolve(match.group(1)) if match else None
        if uuid is None:
            return _respond(start_response, "404 Not Found", b'{"error": "no such system"}')
        if method == "GET":
            return _respond(start_response, "200 OK", json.dumps(self.faults.get(uuid)).encode())
        if method == "DELETE":
            self.faults.clear(uuid)
            return _respond(start_response, "200 OK", json.dumps(NO_FAULTS).encode())
        if method != "PUT":
            return _respond(start_response, "405 Method Not Allowed", b'{"error": "use GET, PUT or DELETE"}')
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            faults = _parse_faults(json.loads(environ["wsgi.input"].read(length) or b"{}"))
        except ValueError as exc:
            return _respond(start_response, "400 Bad Request", json.dumps({"error": str(exc)}).encode())
        self.faults.put(uuid, faults)
        LOG.info(
            "faults for %s: %s", uuid, {k: ("***" if k == "password" and v else v) for k, v in faults.items()}
        )
        return _respond(start_response, "200 OK", json.dumps(faults).encode())
