"""Ironic as Teapot's provisioning engine: run it (``service``), drive it (``provisioner``).

Why a sub-package: everything that knows Ironic's API, config file or process lives here, behind the
Ironic-free :class:`teapot.hosts.provisioner.Provisioner` protocol the host controller uses.
"""

from __future__ import annotations

from teapot.hosts.ironic.config import IronicSettings
from teapot.hosts.ironic.provisioner import IronicProvisioner, IronicProvisionerSettings
from teapot.hosts.ironic.service import IronicService, IronicStartError, wait_for_ironic

__all__ = [
    "IronicProvisioner",
    "IronicProvisionerSettings",
    "IronicService",
    "IronicSettings",
    "IronicStartError",
    "wait_for_ironic",
]
