"""The allocation controller: one level-triggered reconciler over the whole world.

Why one key for everything: allocation is global — a Tenant's new guarantee, a host failing or a
claim being deleted can change what every other claim gets — so any change of a Tenant, HostClass,
Reservation, HostClaim or BareMetalHost enqueues the single key ``world``; the work queue never runs
it twice at once and coalesces bursts. Each pass reads the informer caches, calls the pure
:func:`teapot.tenancy.planner.plan` and writes only what changed.

Why nothing is ever bound twice: a binding is a PUT of the BareMetalHost carrying the
``resourceVersion`` it was read at. If another replica (or this one before a kill -9) changed the host
since, the server answers 409, the write is dropped and the pass is retried from fresh caches.
Because the holder is recorded on the host itself (``spec.consumerRef`` + annotations), a restarted
controller reads back exactly what was bound.

Why an overlay: after a write, the informer cache lags until the watch event arrives; a pass in
between would see the host as free again. The overlay remembers the written object until the cache
shows a newer version than the one the write replaced.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from teapot.runtime import (
    ApiError,
    Controller,
    ControllerOptions,
    InformerOptions,
    Manager,
    ObjectKey,
    ResourceRef,
    Result,
    SharedInformer,
    generation_changed,
)
from teapot.tenancy import keys
from teapot.tenancy.options import TenancyOptions
from teapot.tenancy.planner import Plan, plan
from teapot.tenancy.status import (
    claim_status,
    host_class_counts,
    host_differs,
    render_host,
    reservation_status,
    status_changed,
    tenant_status,
)
from teapot.tenancy.world import HostRecord, ReservationRecord, TenantRecord, WorldRecords, meta, records_of

log = logging.getLogger(__name__)
KubeObject = dict[str, Any]
WORLD_KEY = ObjectKey("", keys.WORLD)


def utcnow() -> datetime:
    return datetime.now(UTC)


class AllocationReconciler:
    """Reads the world from caches, plans, writes the differences."""

    def __init__(
        self,
        manager: Manager,
        hosts_namespace: str = "teapot-hosts",
        options: TenancyOptions = TenancyOptions(),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.client = manager.client
        self.recorder = manager.recorder
        self.hosts_namespace = hosts_namespace
        self.options = options
        self.clock = clock
        self.tenants = manager.informer(keys.TENANTS)
        self.classes = manager.informer(keys.HOSTCLASSES)
        self.reservations = manager.informer(keys.RESERVATIONS)
        self.claims = manager.informer(keys.HOSTCLAIMS)
        self.hosts = manager.informer(keys.BAREMETALHOSTS, InformerOptions(namespace=hosts_namespace))
        self._overlay: dict[str, tuple[str, KubeObject]] = {}
        self._host_cache: dict[str, tuple[str, HostRecord]] = {}
        self.last_plan: Plan | None = None
        self._last_pass = -float("inf")

    # -- reading --------------------------------------------------------------------------------

    def _host_objects(self) -> dict[str, KubeObject]:
        out: dict[str, KubeObject] = {}
        for obj in self.hosts.store.list(self.hosts_namespace):
            name = str(meta(obj).get("name", ""))
            overlay = self._overlay.get(name)
            if overlay is not None:
                replaced_rv, written = overlay
                if str(meta(obj).get("resourceVersion", "")) == replaced_rv:
                    obj = written  # the cache has not caught up with our write yet
                else:
                    del self._overlay[name]
            out[name] = obj
        return out

    def read_world(self, now: datetime) -> tuple[dict[str, KubeObject], WorldRecords]:
        host_objs = self._host_objects()
        records = records_of(
            self.tenants.store.list(),
            self.classes.store.list(),
            self.reservations.store.list(),
            self.claims.store.list(),
            host_objs.values(),
            now,
            self._host_cache,
        )
        for gone in set(self._host_cache) - set(host_objs):
            del self._host_cache[gone]
        return host_objs, records

    # -- the pass -------------------------------------------------------------------------------

    async def reconcile(self, key: ObjectKey) -> Result:
        since = time.monotonic() - self._last_pass
        wait = self.options.min_pass_interval.total_seconds() - since
        if wait > 0:
            return Result(requeue_after=wait)  # events meanwhile coalesce into the one pass after
        self._last_pass = time.monotonic()
        now = self.clock()
        host_objs, w = self.read_world(now)
        tenants, reservations = list(w.tenants), list(w.reservations)
        p = plan(w.hosts, w.host_classes, w.tenants, w.reservations, w.claims, now, self.options)
        self.last_plan = p
        conflicts = 0
        conflicts += await self._write_snapshots(p, tenants, reservations)
        conflicts += await self._write_finalizers(p)
        conflicts += await self._write_hosts(p, host_objs)
        if conflicts:
            # some intents did not land: statuses written now would describe bindings that don't exist
            log.info("allocation: %d write conflict(s); retrying from fresh caches", conflicts)
            return Result(requeue=True)
        await self._write_statuses(p, tenants, reservations, now, {h.host.name: h.state for h in w.hosts})
        self._emit_events(p)
        return Result(requeue_after=p.requeue_after)

    async def _write_hosts(self, p: Plan, host_objs: dict[str, KubeObject]) -> int:
        conflicts = 0
        for intent in p.hosts:
            obj = host_objs.get(intent.host)
            if obj is None:
                continue
            rendered = render_host(obj, intent)
            if not host_differs(obj, rendered):
                continue
            try:
                written = await self.client.replace(keys.BAREMETALHOSTS, rendered)
            except ApiError as exc:
                if exc.conflict or exc.not_found:
                    conflicts += 1
                    continue
                raise
            self._overlay[intent.host] = (str(meta(obj).get("resourceVersion", "")), written)
        return conflicts

    async def _write_finalizers(self, p: Plan) -> int:
        conflicts = 0
        for record, add in [(r, True) for r in p.add_finalizers] + [(r, False) for r in p.remove_finalizers]:
            obj = self.claims.store.get(ObjectKey(record.namespace, record.name))
            if obj is None:
                continue
            finalizers = [f for f in meta(obj).get("finalizers") or [] if f != keys.FINALIZER]
            if add:
                finalizers.append(keys.FINALIZER)
            body = {
                "metadata": {"finalizers": finalizers, "resourceVersion": meta(obj).get("resourceVersion")}
            }
            try:
                await self.client.patch(keys.HOSTCLAIMS, record.name, body, record.namespace)
            except ApiError as exc:
                if exc.conflict or exc.not_found:
                    conflicts += 1
                    continue
                raise
        return conflicts

    async def _write_snapshots(
        self, p: Plan, tenants: list[TenantRecord], reservations: list[ReservationRecord]
    ) -> int:
        """Record newly admitted guarantees on the objects themselves (see ``admission``)."""
        conflicts = 0
        for t in tenants:
            verdict = p.admission.verdicts.get(f"Tenant/{t.name}")
            if verdict is None or not verdict.admitted or t.admitted == t.spec_tenant.guarantees:
                continue
            obj = self.tenants.store.get(ObjectKey("", t.name))
            snapshot = json.dumps(dict(t.spec_tenant.guarantees), sort_keys=True)
            conflicts += await self._annotate(keys.TENANTS, obj, snapshot)
        for r in reservations:
            verdict = p.admission.verdicts.get(f"Reservation/{r.name}")
            if verdict is None or not verdict.admitted or r.current is None or r.admitted == r.current:
                continue
            namespace, _, name = r.name.partition("/")
            obj = self.reservations.store.get(ObjectKey(namespace, name))
            snapshot = json.dumps((obj or {}).get("spec") or {}, sort_keys=True)
            conflicts += await self._annotate(keys.RESERVATIONS, obj, snapshot)
        return conflicts

    async def _annotate(self, ref: ResourceRef, obj: KubeObject | None, snapshot: str) -> int:
        if obj is None:
            return 0
        m = meta(obj)
        body = {
            "metadata": {
                "annotations": {keys.ADMITTED: snapshot},
                "resourceVersion": m.get("resourceVersion"),
            }
        }
        try:
            await self.client.patch(ref, str(m.get("name")), body, m.get("namespace") or None)
        except ApiError as exc:
            if exc.conflict or exc.not_found:
                return 1
            raise
        return 0

    async def _patch_status(self, ref: ResourceRef, obj: KubeObject, status: dict[str, Any]) -> None:
        old = obj.get("status") or {}
        if not status_changed(old, status):
            return
        if (
            ref in (keys.TENANTS, keys.RESERVATIONS)
            and status.get("reason") in _WARN
            and (
                old.get("reason"),
                old.get("message"),
            )
            != (status.get("reason"), status.get("message"))
        ):
            # refusals and risks: one Event when the verdict changes, not one per pass
            self.recorder.event(obj, "Warning", str(status["reason"]), str(status.get("message", "")))
        m = meta(obj)
        try:
            await self.client.patch(
                ref, str(m.get("name")), {"status": status}, m.get("namespace") or None, subresource="status"
            )
        except ApiError as exc:
            if not exc.not_found:
                raise

    async def _write_statuses(
        self,
        p: Plan,
        tenants: list[TenantRecord],
        reservations: list[ReservationRecord],
        now: datetime,
        host_states: Mapping[str, str],
    ) -> None:
        for view in p.claims:
            obj = self.claims.store.get(ObjectKey(view.record.namespace, view.record.name))
            if obj is None:
                continue
            generation = int(meta(obj).get("generation") or 0)
            status = claim_status(
                view, p, obj.get("status") or {}, generation, self.hosts_namespace, now, host_states
            )
            await self._patch_status(keys.HOSTCLAIMS, obj, status)
        for t in tenants:
            verdict = p.admission.verdicts.get(f"Tenant/{t.name}")
            obj = self.tenants.store.get(ObjectKey("", t.name))
            if verdict is None or obj is None:
                continue
            await self._patch_status(
                keys.TENANTS, obj, tenant_status(t, verdict, p, obj.get("status") or {}, now)
            )
        for r in reservations:
            verdict = p.admission.verdicts.get(f"Reservation/{r.name}")
            namespace, _, name = r.name.partition("/")
            obj = self.reservations.store.get(ObjectKey(namespace, name))
            if verdict is None or obj is None:
                continue
            status = reservation_status(r, verdict, p, obj.get("status") or {}, now)
            await self._patch_status(keys.RESERVATIONS, obj, status)
        counts = host_class_counts(p)
        for obj in self.classes.store.list():
            name = str(meta(obj).get("name", ""))
            await self._patch_status(
                keys.HOSTCLASSES, obj, counts.get(name, {"hosts": 0, "healthy": 0, "free": 0})
            )

    def _emit_events(self, p: Plan) -> None:
        informers: dict[str, SharedInformer] = {
            "HostClaim": self.claims,
            "Tenant": self.tenants,
            "Reservation": self.reservations,
        }
        for event in p.events:
            obj = informers[event.kind].store.get(ObjectKey.parse(event.key))
            if obj is not None:
                self.recorder.event(
                    obj, "Warning" if event.type == "Warning" else "Normal", event.reason, event.message
                )


_WARN = frozenset({"GuaranteesOverCommitted", "GuaranteeAtRisk", "InvalidSpec"})


def setup_allocation_controller(
    manager: Manager,
    *,
    hosts_namespace: str = "teapot-hosts",
    options: TenancyOptions = TenancyOptions(),
    clock: Callable[[], datetime] = utcnow,
) -> tuple[Controller, AllocationReconciler]:
    reconciler = AllocationReconciler(manager, hosts_namespace, options, clock)
    controller = manager.new_controller("allocation", reconciler, ControllerOptions(workers=1))

    def world(_: KubeObject) -> list[ObjectKey]:
        return [WORLD_KEY]

    for informer in (reconciler.tenants, reconciler.classes, reconciler.reservations, reconciler.claims):
        controller.watch(informer, world, update_filter=generation_changed)
    # hosts: every change matters (health, provisioning state, labels, our own bindings)
    controller.watch(reconciler.hosts, world)
    return controller, reconciler
