"""Wiring: register the BareMetalHost controller with a runtime :class:`~teapot.runtime.Manager`.

Why a function: ``teapot up`` (and tests, and a future standalone controller process) all need the
same informers, indexes and watches — hosts themselves, and Secrets mapped back to the hosts that
read them, so fixing a wrong BMC password recovers the host without waiting for its back-off.
"""

from __future__ import annotations

import contextlib

from teapot.hosts.controller.machine import HostStateMachine
from teapot.hosts.controller.options import Clock, HostControllerOptions
from teapot.hosts.controller.reconciler import (
    BAREMETALHOSTS,
    SECRET_INDEX,
    SECRETS,
    HostReconciler,
    bmc_secret_index,
)
from teapot.hosts.controller.slots import CLEANING, PROVISIONING, WAITER_INDEX, oldest, released, waiting_for
from teapot.hosts.provisioner import Provisioner
from teapot.runtime import (
    Controller,
    ControllerOptions,
    FuncHandler,
    InformerOptions,
    KubeObject,
    Manager,
    ObjectKey,
    SharedInformer,
    strip_managed_fields,
)

__all__ = ["setup_host_controller"]

#: Waiters woken per freed slot: the slot's next holder, and one more in case that one cannot take it.
_WAKE_PER_RELEASE = 2


def setup_host_controller(
    manager: Manager,
    provisioner: Provisioner,
    *,
    namespace: str | None = None,
    max_concurrent_provisioning: int = 20,
    options: HostControllerOptions | None = None,
    clock: Clock | None = None,
) -> Controller:
    """Add the ``baremetalhost`` controller to *manager*, driving machines through *provisioner*.

    *namespace* limits it to one namespace (``None``: all). *options* overrides every tunable;
    *max_concurrent_provisioning* is a shortcut for the most common one.
    """
    if options is None:
        options = HostControllerOptions(max_concurrent_provisioning=max_concurrent_provisioning)
    informer_options = InformerOptions(namespace=namespace, transform=strip_managed_fields)
    hosts = manager.informer(BAREMETALHOSTS, informer_options)
    secrets = manager.informer(SECRETS, informer_options)
    with contextlib.suppress(ValueError):  # already added by an earlier setup on this manager
        hosts.add_indexer(SECRET_INDEX, bmc_secret_index)
    with contextlib.suppress(ValueError):
        hosts.add_indexer(WAITER_INDEX, waiting_for)
    machine = HostStateMachine(provisioner, options, clock)
    reconciler = HostReconciler(manager.client, hosts, secrets, manager.recorder, machine)

    def hosts_reading(secret: KubeObject) -> list[ObjectKey]:
        key = ObjectKey.of(secret)
        return [ObjectKey.of(h) for h in hosts.store.by_index(SECRET_INDEX, f"{key.namespace}/{key.name}")]

    controller = manager.new_controller(
        "baremetalhost", reconciler, ControllerOptions(workers=options.workers)
    )
    controller.watch(hosts)
    controller.watch(secrets, hosts_reading)
    hosts.add_handler(_slot_waker(hosts, controller, options))
    return controller


def _slot_waker(hosts: SharedInformer, controller: Controller, options: HostControllerOptions) -> FuncHandler:
    """When a host gives up a slot, enqueue the hosts that waited longest for that kind of slot.

    Waiters otherwise only look again every ``delayed_poll``: with hundreds of hosts waiting to
    clean, a short poll floods the work queue and a long one leaves freed slots unused.
    """
    exempt = options.virtual_media_exempt
    limits = {CLEANING: options.max_concurrent_cleaning, PROVISIONING: options.max_concurrent_provisioning}

    def wake(old: KubeObject, new: KubeObject | None) -> None:
        for kind in released(old, new, exempt):
            if limits[kind] > 0:
                waiters = hosts.store.by_index(WAITER_INDEX, kind)
                for host in oldest(waiters, _WAKE_PER_RELEASE):
                    controller.queue.add(ObjectKey.of(host))

    return FuncHandler(update=wake, delete=lambda obj: wake(obj, None))
