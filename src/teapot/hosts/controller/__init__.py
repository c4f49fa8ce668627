"""The BareMetalHost controller: Metal3's host lifecycle, level-triggered, over a Provisioner.

Why a sub-package: the state machine (:mod:`.machine`, with the shared bookkeeping in
:mod:`.context`) is pure decision logic testable with a fake provisioner; :mod:`.reconciler` is the
only part that touches the Kubernetes API; :mod:`.traits` turns inspection results into labels; and
:func:`setup_host_controller` wires it all to a runtime Manager. See docs/hosts.md.
"""

from __future__ import annotations

from teapot.hosts.controller.machine import HostStateMachine
from teapot.hosts.controller.options import Clock, HostControllerOptions, SystemClock, backoff_delay
from teapot.hosts.controller.reconciler import BAREMETALHOSTS, HARDWAREDATA, SECRETS, HostReconciler
from teapot.hosts.controller.setup import setup_host_controller
from teapot.hosts.controller.step import HostEvent, SecretData, Step, World
from teapot.hosts.controller.traits import TRAIT_LABELS, hardware_document, trait_labels

__all__ = [
    "BAREMETALHOSTS",
    "HARDWAREDATA",
    "SECRETS",
    "TRAIT_LABELS",
    "Clock",
    "HostControllerOptions",
    "HostEvent",
    "HostReconciler",
    "HostStateMachine",
    "SecretData",
    "Step",
    "SystemClock",
    "World",
    "backoff_delay",
    "hardware_document",
    "setup_host_controller",
    "trait_labels",
]
