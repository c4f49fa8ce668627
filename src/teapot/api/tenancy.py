"""Teapot's tenancy resources (teapot.dev/v1alpha1): HostClass, Tenant, Reservation, HostClaim.

Why it exists: these are the words of the allocation domain as a Kubernetes API — hardware classes
with prices, tenants with guaranteed minimums and maximum quotas, time-windowed reservations, and
claims for hosts. Every pending, refused or pre-empted object explains itself in ``status`` with a
machine-readable ``reason`` and a ``message`` a person can act on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from teapot.api.crdgen import Column, CRDSpec, K8sModel
from teapot.api.metal3 import Condition, Image, SecretReference

GROUP = "teapot.dev"
VERSION = "v1alpha1"

Band = Literal["reserved", "on-demand", "preemptible"]


class SelectorRequirement(K8sModel):
    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: list[str] | None = None


class HostSelector(K8sModel):
    """Which hosts qualify: labels (traits) and resource minimums."""

    match_labels: dict[str, str] | None = None
    match_expressions: list[SelectorRequirement] | None = None


class ResourceMinimums(K8sModel):
    cpu_cores: int | None = Field(default=None, ge=0)
    memory_gib: int | None = Field(default=None, ge=0, alias="memoryGiB")
    disk_gib: int | None = Field(default=None, ge=0, alias="diskGiB")
    gpus: int | None = Field(default=None, ge=0)


class Requirements(K8sModel):
    host_class: str | None = Field(default=None, description="Only hosts of this HostClass.")
    selector: HostSelector | None = None
    resources: ResourceMinimums | None = None


class SpreadRule(K8sModel):
    level: Literal["region", "zone", "room", "row", "rack", "pdu"]
    max_per_domain: int = Field(ge=1, description="At most this many hosts per domain of the level.")


class Topology(K8sModel):
    spread: list[SpreadRule] | None = None
    affinity: Literal["region", "zone", "room", "row", "rack", "pdu"] | None = Field(
        default=None, description="All hosts in one domain of this level."
    )


class HostClassSpec(K8sModel):
    selector: HostSelector = Field(description="Hosts whose labels match belong to this class.")
    price: float = Field(ge=0, description="Cost of one host for one hour, in the operator's unit.")
    description: str | None = None


class HostClassStatus(K8sModel):
    hosts: int | None = None
    healthy: int | None = None
    free: int | None = None
    conditions: list[Condition] | None = None


class ClassAmount(K8sModel):
    host_class: str = Field(min_length=1)
    count: int = Field(ge=0)


class TenantSpec(K8sModel):
    namespaces: list[str] = Field(
        min_length=1, description="Namespaces the tenant owns (created if missing)."
    )
    users: list[str] | None = Field(default=None, description="Users who act for the tenant.")
    groups: list[str] | None = Field(default=None, description="Groups whose members act for the tenant.")
    guarantees: list[ClassAmount] | None = Field(default=None, description="Hosts guaranteed per HostClass.")
    maximums: list[ClassAmount] | None = Field(
        default=None, description="At most this many hosts per HostClass."
    )
    max_total: int | None = Field(default=None, ge=0, description="At most this many hosts in all.")
    weight: int | None = Field(
        default=1,
        ge=1,
        description=(
            "Share of idle capacity when tenants compete: pending claims of the tenant with the fewest "
            "borrowed hosts per unit of weight are served first."
        ),
    )


class TenantUsage(K8sModel):
    host_class: str
    bound: int
    guaranteed: int
    borrowed: int


class TenantStatus(K8sModel):
    phase: str | None = None
    reason: str | None = None
    message: str | None = None
    usage: list[TenantUsage] | None = None
    conditions: list[Condition] | None = None
    observed_generation: int | None = None


class Recurrence(K8sModel):
    schedule: str = Field(min_length=1, description="Cron expression (5 fields, UTC) for window starts.")
    duration: str = Field(min_length=1, description="Window length, e.g. 2h or 90m.")
    until: str | None = None


class ReservationSpec(K8sModel):
    count: int = Field(ge=1)
    requirements: Requirements | None = None
    start: str | None = Field(default=None, description="RFC 3339 start of a one-off window.")
    end: str | None = Field(default=None, description="RFC 3339 end of a one-off window.")
    recurrence: Recurrence | None = None
    guaranteed: bool | None = Field(default=True, description="Admitted only if it can always be met.")
    band: Band | None = "reserved"


class Window(K8sModel):
    start: str
    end: str


class ReservationStatus(K8sModel):
    phase: Literal["Pending", "Admitted", "Refused", "Active", "Expired"] | None = None
    reason: str | None = None
    message: str | None = None
    next_window: Window | None = None
    conditions: list[Condition] | None = None
    observed_generation: int | None = None


class ReservationRef(K8sModel):
    name: str


class HostClaimSpec(K8sModel):
    count: int = Field(ge=0)
    requirements: Requirements | None = None
    topology: Topology | None = None
    band: Band | None = "on-demand"
    image: Image | None = Field(default=None, description="Provision bound hosts with this image.")
    user_data: SecretReference | None = None
    reservation_ref: ReservationRef | None = None


class BoundHost(K8sModel):
    name: str
    namespace: str
    host_class: str | None = None
    since: str | None = None
    preemptible: bool | None = None
    reclaim_at: str | None = Field(default=None, description="When a pre-empted host will be taken back.")
    state: str | None = Field(default=None, description="The host's provisioning state, as last seen.")


class HostClaimStatus(K8sModel):
    phase: Literal["Pending", "Bound", "PartiallyBound", "Preempting", "Released"] | None = None
    reason: str | None = None
    message: str | None = None
    bound: int | None = None
    ready: int | None = Field(
        default=None, description="Bound hosts the tenant can use now (provisioned with the image, if any)."
    )
    hosts: list[BoundHost] | None = None
    conditions: list[Condition] | None = None
    observed_generation: int | None = None


_TIME_RULES = [
    {
        "rule": "!has(self.start) || !has(self.end) || timestamp(self.start) < timestamp(self.end)",
        "message": "end must be after start",
        "fieldPath": ".end",
    },
    {
        "rule": "has(self.recurrence) || (has(self.start) && has(self.end))",
        "message": "set start and end, or a recurrence",
    },
]

HOSTCLASS = CRDSpec(
    group=GROUP,
    version=VERSION,
    kind="HostClass",
    plural="hostclasses",
    scope="Cluster",
    spec_model=HostClassSpec,
    status_model=HostClassStatus,
    short_names=("hc",),
    categories=("teapot",),
    description="A named hardware class: which hosts belong to it, and their price.",
    columns=(
        Column("Price", ".spec.price", type="number"),
        Column("Hosts", ".status.hosts", type="integer"),
        Column("Free", ".status.free", type="integer"),
        Column("Age", ".metadata.creationTimestamp", type="date"),
    ),
)

TENANT = CRDSpec(
    group=GROUP,
    version=VERSION,
    kind="Tenant",
    plural="tenants",
    scope="Cluster",
    spec_model=TenantSpec,
    status_model=TenantStatus,
    short_names=("tn",),
    categories=("teapot",),
    description="A tenant: its namespaces and users, guaranteed minimums and maximum quotas per HostClass.",
    columns=(
        Column("Phase", ".status.phase"),
        Column("Reason", ".status.reason", priority=1),
        Column("Age", ".metadata.creationTimestamp", type="date"),
    ),
)

RESERVATION = CRDSpec(
    group=GROUP,
    version=VERSION,
    kind="Reservation",
    plural="reservations",
    scope="Namespaced",
    spec_model=ReservationSpec,
    status_model=ReservationStatus,
    short_names=("rsv",),
    categories=("teapot",),
    description="Capacity reserved for a time window (one-off or recurring), guaranteed or best-effort.",
    columns=(
        Column("Count", ".spec.count", type="integer"),
        Column("Phase", ".status.phase"),
        Column("Start", ".status.nextWindow.start"),
        Column("End", ".status.nextWindow.end"),
        Column("Reason", ".status.reason", priority=1),
        Column("Age", ".metadata.creationTimestamp", type="date"),
    ),
    patches={"spec": {"x-kubernetes-validations": _TIME_RULES}},
)

HOSTCLAIM = CRDSpec(
    group=GROUP,
    version=VERSION,
    kind="HostClaim",
    plural="hostclaims",
    scope="Namespaced",
    spec_model=HostClaimSpec,
    status_model=HostClaimStatus,
    short_names=("hcl",),
    categories=("teapot",),
    description="A claim for N hosts like this, spread like that; bound hosts are provisioned.",
    columns=(
        Column("Count", ".spec.count", type="integer"),
        Column("Bound", ".status.bound", type="integer"),
        Column("Ready", ".status.ready", type="integer"),
        Column("Phase", ".status.phase"),
        Column("Reason", ".status.reason"),
        Column("Message", ".status.message", priority=1),
        Column("Age", ".metadata.creationTimestamp", type="date"),
    ),
)
