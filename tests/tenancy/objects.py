"""Builders of raw Kubernetes objects for the tenancy tests, and a tiny in-memory "cluster" that
applies a :class:`~teapot.tenancy.planner.Plan` the way the controller does (render, bump the
resourceVersion, write snapshots/status), so unit tests can run several passes without a server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from teapot.api import labels as L
from teapot.tenancy import keys
from teapot.tenancy.options import TenancyOptions
from teapot.tenancy.planner import Plan, plan
from teapot.tenancy.status import claim_status, render_host, reservation_status, tenant_status
from teapot.tenancy.world import meta, records_of

Obj = dict[str, Any]


def bmh(
    name: str,
    *,
    rack: str = "r1",
    cls: str = "small",
    cores: int = 8,
    gpu: int = 0,
    state: str = "available",
    error: str = "",
    namespace: str = "teapot-hosts",
) -> Obj:
    labels = {
        L.TOPOLOGY_REGION: "eu",
        L.TOPOLOGY_ZONE: "z1",
        L.TOPOLOGY_ROW: "row1",
        L.TOPOLOGY_RACK: rack,
        L.HW_CPU_CORES: str(cores),
        L.HW_MEMORY_GIB: "64",
        "class": cls,
    }
    if gpu:
        labels[L.HW_GPU_COUNT] = str(gpu)
        labels[L.HW_GPU_MODEL] = "a100"
    status: Obj = {"provisioning": {"state": state}}
    if error:
        status["errorType"] = error
    return {
        "apiVersion": "metal3.io/v1alpha1",
        "kind": "BareMetalHost",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "resourceVersion": "1",
            "uid": f"u-{name}",
        },
        "spec": {"online": False},
        "status": status,
    }


def host_class(name: str, price: float) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"class": name}}, "price": price},
    }


def tenant(name: str, namespaces: list[str], guarantees: dict[str, int] | None = None, **extra: Any) -> Obj:
    spec: Obj = {"namespaces": namespaces, **extra}
    if guarantees:
        spec["guarantees"] = [{"hostClass": c, "count": n} for c, n in guarantees.items()]
    return {
        "metadata": {"name": name, "uid": f"u-{name}", "generation": 1, "resourceVersion": "1"},
        "spec": spec,
    }


def claim(namespace: str, name: str, count: int, created: str = "2026-01-01T00:00:00Z", **spec: Any) -> Obj:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"u-{namespace}-{name}",
            "generation": 1,
            "creationTimestamp": created,
            "resourceVersion": "1",
        },
        "spec": {"count": count, **spec},
    }


def reservation(namespace: str, name: str, count: int, start: str, end: str, **spec: Any) -> Obj:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"u-r-{name}",
            "generation": 1,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "resourceVersion": "1",
        },
        "spec": {"count": count, "start": start, "end": end, **spec},
    }


@dataclass
class Cluster:
    """Objects by kind; ``step(now)`` plans and applies like the controller (minus HTTP)."""

    hosts: list[Obj] = field(default_factory=list)
    classes: list[Obj] = field(default_factory=list)
    tenants: list[Obj] = field(default_factory=list)
    reservations: list[Obj] = field(default_factory=list)
    claims: list[Obj] = field(default_factory=list)
    options: TenancyOptions = field(default_factory=TenancyOptions)

    def host(self, name: str) -> Obj:
        return next(h for h in self.hosts if meta(h)["name"] == name)

    def claim(self, namespace: str, name: str) -> Obj:
        return next(c for c in self.claims if meta(c)["name"] == name and meta(c)["namespace"] == namespace)

    def plan(self, now: datetime) -> Plan:
        w = records_of(self.tenants, self.classes, self.reservations, self.claims, self.hosts, now)
        return plan(w.hosts, w.host_classes, w.tenants, w.reservations, w.claims, now, self.options)

    def step(self, now: datetime) -> Plan:
        w = records_of(self.tenants, self.classes, self.reservations, self.claims, self.hosts, now)
        p = plan(w.hosts, w.host_classes, w.tenants, w.reservations, w.claims, now, self.options)
        for intent in p.hosts:
            index = next(i for i, h in enumerate(self.hosts) if meta(h)["name"] == intent.host)
            old = self.hosts[index]
            new = render_host(old, intent)
            new["status"] = old["status"]
            new["metadata"]["resourceVersion"] = str(int(old["metadata"]["resourceVersion"]) + 1)
            self.hosts[index] = new
        for record in p.add_finalizers:
            self.claim(record.namespace, record.name)["metadata"].setdefault("finalizers", []).append(
                keys.FINALIZER
            )
        for record in p.remove_finalizers:
            self.claims.remove(self.claim(record.namespace, record.name))  # deletion completes
        for t in w.tenants:
            verdict = p.admission.verdicts[f"Tenant/{t.name}"]
            obj = next(o for o in self.tenants if meta(o)["name"] == t.name)
            if verdict.admitted:
                obj["metadata"].setdefault("annotations", {})[keys.ADMITTED] = json.dumps(
                    dict(t.spec_tenant.guarantees)
                )
            obj["status"] = tenant_status(t, verdict, p, obj.get("status") or {}, now)
        for r in w.reservations:
            verdict = p.admission.verdicts[f"Reservation/{r.name}"]
            obj = next(o for o in self.reservations if f"{meta(o)['namespace']}/{meta(o)['name']}" == r.name)
            if verdict.admitted:
                obj["metadata"].setdefault("annotations", {})[keys.ADMITTED] = json.dumps(obj["spec"])
            obj["status"] = reservation_status(r, verdict, p, obj.get("status") or {}, now)
        for view in p.claims:
            obj = self.claim(view.record.namespace, view.record.name)
            states = {h.host.name: h.state for h in w.hosts}
            obj["status"] = claim_status(view, p, obj.get("status") or {}, 1, "teapot-hosts", now, states)
        return p

    def holders(self) -> dict[str, str]:
        """host → claim (namespace/name) from consumerRef."""
        out = {}
        for h in self.hosts:
            ref = h["spec"].get("consumerRef")
            if ref:
                out[meta(h)["name"]] = f"{ref['namespace']}/{ref['name']}"
        return out
