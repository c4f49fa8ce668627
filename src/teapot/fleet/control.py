"""Client for the emulator's fault-injection API (``/teapot/v1/…``), for tests and the CLI.

Why the standard library (``urllib``) rather than an HTTP client package: four tiny synchronous
JSON calls against localhost, usable from sync and async tests alike, with no extra dependency.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from dataclasses import dataclass
from typing import cast

from teapot.fleet.emulator.spec import CONTROL_PREFIX, BmcMode, FaultSpec, PowerMode


class ControlError(RuntimeError):
    """The control API refused a request."""


@dataclass(frozen=True)
class FleetControl:
    """Fault injection for one running emulator.  ``system`` is a host name or UUID."""

    base_url: str
    token: str

    def _call(self, method: str, path: str, body: object | None = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base_url}{CONTROL_PREFIX}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        context = ssl._create_unverified_context() if self.base_url.startswith("https") else None
        try:
            with urllib.request.urlopen(request, timeout=10, context=context) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ControlError(
                f"{method} {path}: HTTP {exc.code}: {exc.read().decode(errors='replace')}"
            ) from None

    def set_faults(
        self, system: str, *, bmc: BmcMode = "up", password: str | None = None, power: PowerMode = "ok"
    ) -> FaultSpec:
        """Replace all faults of ``system`` (anything not given is healthy)."""
        body = {"bmc": bmc, "password": password, "power": power}
        return cast(FaultSpec, self._call("PUT", f"/systems/{system}/faults", body))

    def faults(self, system: str) -> FaultSpec:
        return cast(FaultSpec, self._call("GET", f"/systems/{system}/faults"))

    def bmc_down(self, system: str, *, refuse: bool = True) -> FaultSpec:
        """The BMC stops answering: connections are dropped (``refuse``) or get HTTP 503."""
        return self.set_faults(system, bmc="down" if refuse else "unavailable")

    def change_password(self, system: str, password: str) -> FaultSpec:
        """The BMC's password changes, so the enrolled credentials become wrong."""
        return self.set_faults(system, password=password)

    def fail_power(self, system: str, *, stuck: bool = False) -> FaultSpec:
        """Power actions fail with HTTP 500, or (``stuck``) are accepted and never happen."""
        return self.set_faults(system, power="stuck" if stuck else "error")

    def clear(self, system: str | None = None) -> None:
        """Heal one system, or all of them."""
        self._call("DELETE", f"/systems/{system}/faults" if system else "/faults")
