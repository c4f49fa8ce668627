"""``teapot.fleet`` — an emulated datacenter: Redfish BMCs from sushy-tools for demos and tests.

Why it exists: Teapot drives real Ironic over real Redfish; to show and test that without a
datacenter, this package describes one (racks, PDUs, heterogeneous hardware) in YAML and serves
a BMC per host from one sushy-tools process with realistic inventory, per-host credentials,
optional TLS, exact power timing and run-time fault injection.  It is emulation: the product
(``teapot.hosts`` …) never imports it; the CLI, tests and benchmarks do.

Public interface (imported lazily, so ``teapot.fleet.emulator`` can run in the services
virtualenv without Teapot's own dependencies): :class:`Fleet`, :class:`FleetHost`,
:class:`FleetControl`, :func:`load_datacenter`, :func:`loads_datacenter`,
:func:`generate_datacenter`, :class:`FleetSpecError`, :class:`Datacenter`, :class:`Host`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from teapot.fleet.control import FleetControl
    from teapot.fleet.fleet import Fleet, FleetError, FleetHost
    from teapot.fleet.generate import generate_datacenter
    from teapot.fleet.model import Datacenter, Host
    from teapot.fleet.parse import FleetSpecError, load_datacenter, loads_datacenter

_EXPORTS = {
    "Fleet": "teapot.fleet.fleet",
    "FleetError": "teapot.fleet.fleet",
    "FleetHost": "teapot.fleet.fleet",
    "FleetControl": "teapot.fleet.control",
    "generate_datacenter": "teapot.fleet.generate",
    "Datacenter": "teapot.fleet.model",
    "Host": "teapot.fleet.model",
    "FleetSpecError": "teapot.fleet.parse",
    "load_datacenter": "teapot.fleet.parse",
    "loads_datacenter": "teapot.fleet.parse",
}

__all__ = [
    "Datacenter",
    "Fleet",
    "FleetControl",
    "FleetError",
    "FleetHost",
    "FleetSpecError",
    "Host",
    "generate_datacenter",
    "load_datacenter",
    "loads_datacenter",
]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'teapot.fleet' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)
