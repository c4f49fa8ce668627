"""Start sushy-tools with Teapot's drivers for one fleet: ``python -m teapot.fleet.emulator SPEC``.

Why a launcher instead of ``sushy-emulator --config``: sushy-tools picks its systems driver by
config (``SUSHY_EMULATOR_FAKE_DRIVER``) and looks the class up as ``fakedriver.FakeDriver`` when
the app first needs it; the launcher points that name (and the virtual media driver's) at Teapot's
subclasses, puts Teapot's templates in front of sushy-tools' own, adds the PCIe/Memory routes,
wraps the app in :class:`~teapot.fleet.emulator.gate.BmcGate`, and serves it with werkzeug's
threaded server on a port it reports back (port 0 = any free port) — none of which the stock
command line can do.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import ssl
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from teapot.fleet.emulator.driver import (
    CONFIG_FAULTS,
    CONFIG_SPEC,
    TeapotIndicatorsDriver,
    TeapotSystemsDriver,
    TeapotVmediaDriver,
)
from teapot.fleet.emulator.gate import BmcGate, FaultTable
from teapot.fleet.emulator.spec import EmulatorSpec, SystemSpec

TEMPLATES = Path(__file__).with_name("templates")
LOG = logging.getLogger("teapot.fleet.emulator")


def sushy_config(spec: EmulatorSpec, faults: FaultTable) -> dict[str, Any]:
    """sushy-tools configuration keys for the fleet (storage and drives are keyed by system)."""
    systems: list[dict[str, Any]] = []
    storage: dict[str, list[dict[str, Any]]] = {}
    drives: dict[tuple[str, str], list[dict[str, Any]]] = {}
    volumes: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for system in spec["systems"]:
        systems.append(_fake_system(system, notify=bool(spec["notify_url"])))
        uuid = system["uuid"]
        if not system["drives"]:
            storage[uuid] = []
            continue
        nvme = all(d["protocol"] == "NVMe" for d in system["drives"])
        storage[uuid] = [
            {
                "Id": "1",
                "Name": "Local Storage Controller",
                "StorageControllers": [
                    {"MemberId": "0", "Name": "NVMe Controller" if nvme else "SAS/SATA HBA", "SpeedGbps": 12}
                ],
                "Drives": [d["id"] for d in system["drives"]],
            }
        ]
        drives[(uuid, "1")] = [
            {
                "Id": d["id"],
                "Name": d["name"],
                "CapacityBytes": d["capacity_bytes"],
                "Protocol": d["protocol"],
                "MediaType": d["media_type"],
                "Model": d["model"],
                "Manufacturer": d["manufacturer"],
                "SerialNumber": d["serial"],
                "RotationSpeedRPM": d["rpm"],
            }
            for d in system["drives"]
        ]
        volumes[(uuid, "1")] = []
    return {
        "SUSHY_EMULATOR_FAKE_DRIVER": True,
        "SUSHY_EMULATOR_FAKE_SYSTEMS": systems,
        "SUSHY_EMULATOR_STATE_DIR": spec["state_dir"],
        "SUSHY_EMULATOR_STORAGE": storage,
        "SUSHY_EMULATOR_DRIVES": drives,
        "SUSHY_EMULATOR_VOLUMES": volumes,
        "SUSHY_EMULATOR_FEATURE_SET": "full",
        "EXTERNAL_NOTIFICATION_URL": spec["notify_url"] or "",
        CONFIG_SPEC: spec,
        CONFIG_FAULTS: faults,
    }


def _fake_system(system: SystemSpec, notify: bool) -> dict[str, Any]:
    return {
        "uuid": system["uuid"],
        "name": system["name"],
        "power_state": system["power_state"],
        "external_notifier": notify,
        "nics": [{"mac": nic["mac"]} for nic in system["nics"]],
    }


def build_app(spec: EmulatorSpec) -> tuple[Any, BmcGate]:
    """sushy-tools' Flask app configured for ``spec``, and the gate in front of it."""
    import jinja2  # type: ignore[import-not-found]  # services virtualenv only
    from sushy_tools.emulator import main as sushy_main

    from teapot.fleet.emulator import routes

    # sushy-tools resolves these module attributes when it first builds its drivers.
    sushy_main.fakedriver.FakeDriver = TeapotSystemsDriver
    sushy_main.vmddriver.StaticDriver = TeapotVmediaDriver
    sushy_main.inddriver.StaticDriver = TeapotIndicatorsDriver
    faults = FaultTable(spec["systems"])
    app = sushy_main.app
    app.configure(extra_config=sushy_config(spec, faults))
    app.jinja_loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(TEMPLATES)), app.jinja_loader])
    app.jinja_env.globals["teapot_inventory"] = lambda uuid: app.systems.inventory(uuid)
    app.jinja_env.globals["teapot_boot_override"] = lambda uuid: app.systems.get_boot_override(uuid)
    routes.register(app)
    routes.record_boot_override(app, sushy_main.flask.request)
    return app, BmcGate(app, faults, spec["control_token"])


def serve(spec: EmulatorSpec) -> int:
    from werkzeug.serving import make_server  # type: ignore[import-not-found]

    started = time.monotonic()
    os.makedirs(spec["state_dir"], exist_ok=True)
    app, gate = build_app(spec)
    app.systems  # noqa: B018 - build the driver (and its state database) before accepting requests
    ssl_context = None
    if spec["tls_cert"] and spec["tls_key"]:
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_context.load_cert_chain(spec["tls_cert"], spec["tls_key"])
    server = make_server(spec["listen_host"], spec["port"], gate, threaded=True, ssl_context=ssl_context)
    port = server.socket.getsockname()[1]
    ready = {"port": port, "pid": os.getpid(), "startup_s": round(time.monotonic() - started, 3)}
    tmp = spec["ready_file"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(ready, handle)
    os.replace(tmp, spec["ready_file"])
    LOG.info("serving %d systems on port %d", len(spec["systems"]), port)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    if spec["parent_pid"]:
        threading.Thread(target=_exit_with_parent, args=(spec["parent_pid"], server), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _exit_with_parent(parent_pid: int, server: Any) -> None:
    """Stop serving once the parent is gone (it was killed without stopping us)."""
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    LOG.warning("parent process %d is gone; stopping", parent_pid)
    server.shutdown()


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m teapot.fleet.emulator SPEC.json", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=os.environ.get("TEAPOT_EMULATOR_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    with open(argv[0], encoding="utf-8") as handle:
        spec: EmulatorSpec = json.load(handle)
    return serve(spec)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
