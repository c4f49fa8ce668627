"""The Manager: one process's client, shared informers, controllers, leader election and metrics.

Why: every Teapot controller process needs the same wiring and the same shutdown order, and
getting it wrong is how controllers leak watches or keep acting after losing leadership. The
Manager owns it, like controller-runtime's: informers (caches) run on every replica so a new
leader starts warm; controllers run only while this replica leads; SIGINT/SIGTERM stop
controllers gracefully (in-flight reconciles finish), release the Lease, then close watches
and the connection pool. Losing leadership ends :meth:`Manager.run` with :class:`LeadershipLost`
so the process exits and restarts clean, as client-go's ``OnStoppedLeading`` usually does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

from teapot.runtime.client import ClientSettings, KubeClient, ObjectClient, connect
from teapot.runtime.controller import Controller, ControllerOptions, Reconciler
from teapot.runtime.events import EventRecorder, EventSource
from teapot.runtime.informer import InformerFactory, InformerOptions, SharedInformer
from teapot.runtime.leaderelection import LeaderCallbacks, LeaderElectionConfig, LeaderElector
from teapot.runtime.metrics_server import MetricsServer
from teapot.runtime.resources import ResourceRef

log = logging.getLogger(__name__)


class LeadershipLost(Exception):
    """This replica stopped being the leader; the process should exit (and be restarted)."""


@dataclass(frozen=True, slots=True)
class ManagerOptions:
    component: str = "teapot"
    #: ``host:port`` for ``/metrics``, ``/healthz``, ``/readyz``; port 0 picks a free one; None = off.
    metrics_bind_address: str | None = "127.0.0.1:8080"
    leader_election: LeaderElectionConfig | None = None
    handle_signals: bool = True


class Manager:
    def __init__(self, client: ObjectClient, options: ManagerOptions = ManagerOptions()):
        self.client = client
        self.options = options
        self.informers = InformerFactory(client)
        self.recorder = EventRecorder(client, EventSource(options.component))
        self.controllers: list[Controller] = []
        self.elector = (
            LeaderElector(client, options.leader_election) if options.leader_election is not None else None
        )
        self.metrics_server: MetricsServer | None = None
        if options.metrics_bind_address is not None:
            host, _, port = options.metrics_bind_address.rpartition(":")
            self.metrics_server = MetricsServer(host or "127.0.0.1", int(port), ready=self.ready)
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._owned_client: KubeClient | None = None

    @classmethod
    async def create(
        cls, settings: ClientSettings = ClientSettings(), options: ManagerOptions = ManagerOptions()
    ) -> Manager:
        client = await connect(settings)
        manager = cls(client, options)
        manager._owned_client = client  # closed when run() ends
        return manager

    # --- wiring ----------------------------------------------------------------------------
    def informer(self, ref: ResourceRef, options: InformerOptions = InformerOptions()) -> SharedInformer:
        return self.informers.informer(ref, options)

    def add_controller(self, controller: Controller) -> Controller:
        self.controllers.append(controller)
        return controller

    def new_controller(
        self, name: str, reconciler: Reconciler, options: ControllerOptions = ControllerOptions()
    ) -> Controller:
        return self.add_controller(Controller(name, reconciler, options))

    def ready(self) -> bool:
        return all(informer.has_synced for informer in self.informers.informers)

    @property
    def metrics_port(self) -> int:
        return self.metrics_server.port if self.metrics_server is not None else 0

    def stop(self) -> None:
        """Ask :meth:`run` to shut down (safe to call from signal handlers and other tasks)."""
        self._stop_requested = True
        if self._stop is not None:
            self._stop.set()

    # --- running ---------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until :meth:`stop` or SIGINT/SIGTERM; raises :class:`LeadershipLost` if leadership ends."""
        self._stop = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM) if self.options.handle_signals else ()
        for sig in signals:
            loop.add_signal_handler(sig, self.stop)
        lost = False
        try:
            if self.metrics_server is not None:
                await self.metrics_server.start()
            self.informers.start()
            self.recorder.start()
            work = asyncio.create_task(self._work(), name="manager work")
            stopper = asyncio.create_task(self._stop.wait(), name="manager stop")
            await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if work.done():
                lost = work.exception() is None or isinstance(work.exception(), LeadershipLost)
                if not lost:
                    work.result()  # re-raise a crash
            else:
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            await self.recorder.stop()
            await self.informers.stop()
            if self.metrics_server is not None:
                await self.metrics_server.stop()
            if self._owned_client is not None:
                await self._owned_client.close()
        if lost:
            raise LeadershipLost(
                self.options.leader_election.lease_name if self.options.leader_election else ""
            )

    async def _work(self) -> None:
        if self.elector is None:
            await self._run_controllers()
            return
        await self.elector.run(LeaderCallbacks(on_started_leading=self._run_controllers))
        raise LeadershipLost(self.elector.config.lease_name)

    async def _run_controllers(self) -> None:
        if not self.controllers:
            await asyncio.Future()  # nothing to run: lead until stopped
        await asyncio.gather(*(controller.run() for controller in self.controllers))
