"""Kubernetes objects → the frozen values of :mod:`teapot.allocation`.

Why a module of its own: this conversion is where a wrong label or a mis-parsed duration would turn
into a wrong allocation, so it is pure (dicts in, frozen dataclasses out), fast, and unit-tested on
its own. The raw dicts stop here; everything above works on :class:`World` and the domain values.

Conventions (see docs/tenancy.md):

- a HostClaim or Reservation is named ``namespace/name`` in the domain; its tenant is the Tenant
  whose ``spec.namespaces`` lists the namespace;
- a BareMetalHost's traits are its labels minus ``topology.teapot.dev/*`` and ``tenancy.teapot.dev/*``
  (those change with placement and binding and would split equivalence classes); its resources
  come from the ``hardware.teapot.dev/*`` count labels; its topology from ``topology.teapot.dev/*``;
- a host is *healthy* (counts as capacity) when it has no ``status.errorType``, is online-able and
  its provisioning state is one a tenant can get a machine out of (available, ready, provisioning,
  provisioned, deprovisioning);
- a host is held when ``spec.consumerRef`` names a HostClaim; holder details come from annotations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from teapot.allocation import (
    Band,
    Claim,
    Holder,
    Host,
    HostClass,
    LabelRequirement,
    Level,
    Operator,
    Recurrence,
    Requirements,
    Reservation,
    Spread,
    Tenant,
    Topology,
    TopologyRule,
    Window,
    labels_of,
    resources_of,
)
from teapot.api import labels as L
from teapot.api import tenancy as api
from teapot.tenancy import keys

KubeObject = dict[str, Any]

USABLE_STATES = frozenset({"available", "ready", "provisioning", "provisioned", "deprovisioning"})
#: States in which a host without a consumer may be handed out: it has been cleaned.
FREE_STATES = frozenset({"available", "ready"})
#: The pseudo-claim holding a host between release and the end of its cleaning. Its band is the
#: highest, so it is never a pre-emption victim; its tenant is nobody's.
CLEANING = "(cleaning)"
_RESOURCE_LABELS = {
    L.HW_CPU_CORES: "cpu",
    L.HW_MEMORY_GIB: "memory_gib",
    L.HW_DISK_GIB: "disk_gib",
    L.HW_GPU_COUNT: "gpu",
}
_TOPOLOGY_LABELS = {
    L.TOPOLOGY_REGION: "region",
    L.TOPOLOGY_ZONE: "zone",
    L.TOPOLOGY_ROOM: "room",
    L.TOPOLOGY_ROW: "row",
    L.TOPOLOGY_RACK: "rack",
    L.TOPOLOGY_PDU: "pdu",
}
_LEVELS = {level.noun.lower(): level for level in Level}
_DURATION = re.compile(r"(\d+)([dhms])")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


# -- small parsers ---------------------------------------------------------------------------------


def parse_time(text: str | None) -> datetime | None:
    """RFC 3339 → aware UTC datetime (``Z`` accepted); ``None`` for missing or unparsable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_time(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text: str) -> timedelta:
    """``2h``, ``90m``, ``1h30m``, ``45s``, ``1d`` → timedelta; raises ValueError otherwise."""
    compact = text.strip().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not parts or "".join(a + b for a, b in parts) != compact:
        raise ValueError(f"not a duration: {text!r} (use e.g. 2h, 90m, 1h30m)")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def qualified(obj: Mapping[str, Any]) -> str:
    """``namespace/name`` — the domain name of a namespaced object."""
    m = meta(obj)
    return f"{m.get('namespace', '')}/{m.get('name', '')}"


# -- requirements ----------------------------------------------------------------------------------


def selector_terms(selector: api.HostSelector | None) -> tuple[LabelRequirement, ...]:
    if selector is None:
        return ()
    terms = [
        LabelRequirement(key, Operator.IN, (value,))
        for key, value in sorted((selector.match_labels or {}).items())
    ]
    for expr in selector.match_expressions or []:
        terms.append(LabelRequirement(expr.key, Operator(expr.operator), tuple(expr.values or ())))
    return tuple(terms)


def requirements_of(spec: api.Requirements | None) -> tuple[Requirements, str | None]:
    """API requirements → domain requirements and the optional HostClass restriction."""
    if spec is None:
        return Requirements(), None
    minimums: dict[str, int] = {}
    if spec.resources is not None:
        r = spec.resources
        for name, value in (
            ("cpu", r.cpu_cores),
            ("memory_gib", r.memory_gib),
            ("disk_gib", r.disk_gib),
            ("gpu", r.gpus),
        ):
            if value:
                minimums[name] = value
    return Requirements(selector_terms(spec.selector), resources_of(minimums)), spec.host_class


def topology_rule_of(spec: api.Topology | None) -> TopologyRule:
    if spec is None:
        return TopologyRule()
    spread = tuple(Spread(_LEVELS[s.level], s.max_per_domain) for s in spec.spread or [])
    return TopologyRule(spread, _LEVELS[spec.affinity] if spec.affinity else None)


# -- objects ---------------------------------------------------------------------------------------


def host_class_of(obj: KubeObject) -> HostClass:
    spec = api.HostClassSpec.model_validate(obj.get("spec") or {})
    return HostClass(str(meta(obj).get("name", "")), Requirements(selector_terms(spec.selector)), spec.price)


@dataclass(frozen=True)
class TenantRecord:
    """A Tenant as the controllers need it: the domain value built from the *current* spec, the
    guarantees last admitted (``None``: never admitted), and its namespaces, users and groups."""

    name: str
    uid: str
    generation: int
    spec_tenant: Tenant
    admitted: tuple[tuple[str, int], ...] | None
    namespaces: tuple[str, ...]
    users: tuple[str, ...]
    groups: tuple[str, ...]

    @property
    def effective(self) -> Tenant:
        """What the allocator should use: current maximums/weight, admitted guarantees only."""
        guarantees = self.admitted if self.admitted is not None else ()
        t = self.spec_tenant
        return Tenant(t.name, guarantees, t.maximums, t.total_maximum, t.weight)


def tenant_of(obj: KubeObject) -> TenantRecord:
    spec = api.TenantSpec.model_validate(obj.get("spec") or {})
    m = meta(obj)
    name = str(m.get("name", ""))
    guarantees = tuple(sorted((g.host_class, g.count) for g in spec.guarantees or [] if g.count > 0))
    maximums = tuple(sorted((g.host_class, g.count) for g in spec.maximums or []))
    tenant = Tenant(name, guarantees, maximums, spec.max_total, spec.weight or 1)
    admitted: tuple[tuple[str, int], ...] | None = None
    raw = (m.get("annotations") or {}).get(keys.ADMITTED)
    if raw:
        try:
            admitted = tuple(sorted((str(k), int(v)) for k, v in json.loads(raw).items() if int(v) > 0))
        except (ValueError, AttributeError, TypeError):
            admitted = None
    return TenantRecord(
        name,
        str(m.get("uid", "")),
        int(m.get("generation") or 0),
        tenant,
        admitted,
        tuple(spec.namespaces),
        tuple(spec.users or ()),
        tuple(spec.groups or ()),
    )


def reservation_of(name: str, tenant: str, spec: api.ReservationSpec) -> Reservation:
    """Raises ValueError for a spec the domain can't use (bad duration, bad cron, no window)."""
    requirements, host_class = requirements_of(spec.requirements)
    window = None
    recurrence = None
    if spec.recurrence is not None:
        recurrence = Recurrence(spec.recurrence.schedule, parse_duration(spec.recurrence.duration))
    else:
        start, end = parse_time(spec.start), parse_time(spec.end)
        if start is None or end is None:
            raise ValueError("set start and end (RFC 3339), or a recurrence")
        window = Window(start, end)
    return Reservation(
        name,
        tenant,
        spec.count,
        requirements,
        host_class,
        window,
        recurrence,
        guaranteed=spec.guaranteed is not False,
    )


@dataclass(frozen=True)
class ReservationRecord:
    """A Reservation: the domain value of its current spec (``None`` if invalid, with ``error``)
    and of its admitted snapshot (``None``: never admitted)."""

    name: str  # namespace/name
    namespace: str
    uid: str
    generation: int
    created: str
    current: Reservation | None
    admitted: Reservation | None
    error: str | None
    band: Band


def reservation_record_of(obj: KubeObject, tenant: str) -> ReservationRecord:
    m = meta(obj)
    name = qualified(obj)
    raw_spec = obj.get("spec") or {}
    current: Reservation | None = None
    error = None
    band = Band.RESERVED
    try:
        spec = api.ReservationSpec.model_validate(raw_spec)
        band = Band(spec.band or "reserved")
        current = reservation_of(name, tenant, spec)
    except ValueError as exc:
        error = str(exc).splitlines()[0]
    admitted = None
    snapshot = (m.get("annotations") or {}).get(keys.ADMITTED)
    if snapshot:
        try:
            admitted = reservation_of(name, tenant, api.ReservationSpec.model_validate(json.loads(snapshot)))
        except ValueError:
            admitted = None
    return ReservationRecord(
        name,
        str(m.get("namespace", "")),
        str(m.get("uid", "")),
        int(m.get("generation") or 0),
        str(m.get("creationTimestamp") or ""),
        current,
        admitted,
        error,
        band,
    )


@dataclass(frozen=True)
class ClaimRecord:
    """A HostClaim: the domain claim, its identity and what binding needs (image, userData)."""

    claim: Claim
    namespace: str
    name: str
    uid: str
    created: str
    deleting: bool
    has_finalizer: bool
    image: Mapping[str, Any] | None
    user_data: Mapping[str, Any] | None


def claim_of(obj: KubeObject, tenant: str) -> ClaimRecord:
    m = meta(obj)
    spec = api.HostClaimSpec.model_validate(obj.get("spec") or {})
    requirements, host_class = requirements_of(spec.requirements)
    namespace = str(m.get("namespace", ""))
    reservation = f"{namespace}/{spec.reservation_ref.name}" if spec.reservation_ref else None
    claim = Claim(
        qualified(obj),
        tenant,
        spec.count,
        requirements,
        host_class,
        topology_rule_of(spec.topology),
        Band(spec.band or "on-demand"),
        reservation,
    )
    raw = obj.get("spec") or {}
    return ClaimRecord(
        claim,
        namespace,
        str(m.get("name", "")),
        str(m.get("uid", "")),
        str(m.get("creationTimestamp") or ""),
        bool(m.get("deletionTimestamp")),
        keys.FINALIZER in (m.get("finalizers") or []),
        raw.get("image"),
        raw.get("userData"),
    )


@dataclass(frozen=True)
class Consumer:
    """``spec.consumerRef`` of a BareMetalHost when it names a HostClaim."""

    namespace: str
    name: str
    uid: str

    @property
    def claim(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class HostRecord:
    """A BareMetalHost: the domain host plus what writing to it needs."""

    host: Host
    namespace: str
    resource_version: str
    state: str
    consumer: Consumer | None
    foreign: bool  # consumed by something that is not a HostClaim: not ours to allocate
    reclaim_at: datetime | None
    reclaim_reason: str
    promised_to: str | None = None  # a free host released for a reclaiming claim: it decides first


def _int_label(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def host_of(obj: KubeObject, tenant_of_namespace: Mapping[str, str], epoch: datetime) -> HostRecord:
    """``epoch`` is the ``since`` of a holder without a (valid) since annotation."""
    m = meta(obj)
    lbls: Mapping[str, str] = m.get("labels") or {}
    ann: Mapping[str, str] = m.get("annotations") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    traits = {
        k: v
        for k, v in lbls.items()
        if not k.startswith("topology.teapot.dev/") and not k.startswith("tenancy.teapot.dev/")
    }
    resources = {
        name: number
        for key, name in _RESOURCE_LABELS.items()
        if (number := _int_label(lbls.get(key))) is not None
    }
    topology = Topology(**{field: lbls[key] for key, field in _TOPOLOGY_LABELS.items() if lbls.get(key)})
    state = str((status.get("provisioning") or {}).get("state") or "")
    healthy = not status.get("errorType") and state in USABLE_STATES
    ref = spec.get("consumerRef") or None
    consumer: Consumer | None = None
    foreign = False
    holder: Holder | None = None
    reclaim_at = parse_time(ann.get(keys.RECLAIM_AT))
    if ref:
        if ref.get("kind") == "HostClaim" and str(ref.get("apiVersion", "")).startswith(keys.GROUP + "/"):
            consumer = Consumer(
                str(ref.get("namespace") or ""), str(ref.get("name") or ""), str(ref.get("uid") or "")
            )
            try:
                band = Band(ann.get(keys.BAND, "on-demand"))
            except ValueError:
                band = Band.PREEMPTIBLE
            holder = Holder(
                tenant=tenant_of_namespace.get(consumer.namespace, lbls.get(keys.TENANT_LABEL, "")),
                claim=consumer.claim,
                band=band,
                since=parse_time(ann.get(keys.SINCE)) or epoch,
                reservation=ann.get(keys.RESERVATION) or None,
                reclaimed_by=ann.get(keys.RECLAIMED_BY) or None,
            )
        else:
            foreign = True
    elif healthy and state not in FREE_STATES:
        # released but not yet cleaned: nobody may have it until the host controller is done
        holder = Holder(tenant="", claim=CLEANING, band=Band.RESERVED, since=epoch)
    host = Host(
        str(m.get("name", "")),
        labels_of(traits),
        resources_of(resources),
        topology,
        healthy,
        None,
        holder,
    )
    return HostRecord(
        host,
        str(m.get("namespace", "")),
        str(m.get("resourceVersion", "")),
        state,
        consumer,
        foreign,
        reclaim_at if holder is not None and holder.reclaimed_by else None,
        ann.get(keys.RECLAIM_REASON, ""),
        ann.get(keys.RECLAIMED_BY) or None if consumer is None else None,
    )


def tenant_by_namespace(tenants: Iterable[TenantRecord]) -> dict[str, str]:
    """Namespace → tenant; a namespace listed by two tenants goes to the older name (sorted)."""
    owners: dict[str, str] = {}
    for tenant in sorted(tenants, key=lambda t: t.name):
        for namespace in tenant.namespaces:
            owners.setdefault(namespace, tenant.name)
    return owners


@dataclass(frozen=True)
class WorldRecords:
    """Everything one allocation pass (or ``teapot whatif``) reads, converted."""

    hosts: tuple[HostRecord, ...]
    host_classes: tuple[HostClass, ...]
    tenants: tuple[TenantRecord, ...]
    reservations: tuple[ReservationRecord, ...]
    claims: tuple[ClaimRecord, ...]


def records_of(
    tenants: Iterable[KubeObject],
    host_classes: Iterable[KubeObject],
    reservations: Iterable[KubeObject],
    claims: Iterable[KubeObject],
    hosts: Iterable[KubeObject],
    now: datetime,
    host_cache: dict[str, tuple[str, HostRecord]] | None = None,
) -> WorldRecords:
    """Raw objects → records. Reservations outside any tenant's namespaces are ignored (nobody's
    guarantee); claims there are kept with an empty tenant so their status can say why.

    ``host_cache`` (kept by a long-lived caller) reuses the record of a host whose resourceVersion
    and namespace→tenant map are unchanged: converting hosts is most of a steady-state pass."""
    tenant_records = tuple(tenant_of(o) for o in tenants)
    owners = tenant_by_namespace(tenant_records)
    owners_key = repr(sorted(owners.items()))

    def host(obj: KubeObject) -> HostRecord:
        if host_cache is None:
            return host_of(obj, owners, now)
        m = meta(obj)
        key = f"{m.get('resourceVersion', '')}|{owners_key}"
        name = str(m.get("name", ""))
        cached = host_cache.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        record = host_of(obj, owners, now)
        host_cache[name] = (key, record)
        return record

    def owner(obj: KubeObject) -> str:
        return owners.get(str(meta(obj).get("namespace", "")), "")

    return WorldRecords(
        tuple(host(o) for o in hosts),
        tuple(host_class_of(o) for o in host_classes),
        tenant_records,
        tuple(reservation_record_of(o, owner(o)) for o in reservations if owner(o)),
        tuple(claim_of(o, owner(o)) for o in claims),
    )
