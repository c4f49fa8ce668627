"""Teapot's allocation domain: pure logic, no I/O, no Kubernetes.

Why a separate pure layer: admission, placement and pre-emption are the decisions people argue
about, so they must be reproducible and testable in microseconds. Controllers convert resources
into the frozen values of ``model``, call ``AdmissionLedger`` (may these guarantees be promised?)
and ``Allocator`` (which hosts does this claim get, and whom do we reclaim from?), and write the
returned decisions — each with an ``Explanation`` (CamelCase ``reason`` + human ``message``) — back
as status. Time is always passed in (``now``) or read from an injected ``Clock``.
"""

from __future__ import annotations

from teapot.allocation.admission import (
    AdmissionDecision,
    AdmissionLedger,
    Change,
    Conflict,
    Guarantee,
    Remove,
    Upsert,
)
from teapot.allocation.allocator import (
    Allocator,
    Assignment,
    BandChange,
    ClaimDecision,
    Eviction,
    Policy,
)
from teapot.allocation.calendar import (
    DEFAULT_LEAD_TIME,
    Clock,
    FixedClock,
    active_window,
    occurrences,
    reservation_band,
    upcoming,
)
from teapot.allocation.cron import CronSchedule
from teapot.allocation.inventory import Inventory, Profile
from teapot.allocation.model import (
    Band,
    Claim,
    CostModel,
    Explanation,
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
from teapot.allocation.placement import Candidate, Choice, Family, choose

__all__ = [
    "DEFAULT_LEAD_TIME",
    "AdmissionDecision",
    "AdmissionLedger",
    "Allocator",
    "Assignment",
    "Band",
    "BandChange",
    "Candidate",
    "Change",
    "Choice",
    "Claim",
    "ClaimDecision",
    "Clock",
    "Conflict",
    "CostModel",
    "CronSchedule",
    "Eviction",
    "Explanation",
    "Family",
    "FixedClock",
    "Guarantee",
    "Holder",
    "Host",
    "HostClass",
    "Inventory",
    "LabelRequirement",
    "Level",
    "Operator",
    "Policy",
    "Profile",
    "Recurrence",
    "Remove",
    "Requirements",
    "Reservation",
    "Spread",
    "Tenant",
    "Topology",
    "TopologyRule",
    "Upsert",
    "Window",
    "active_window",
    "choose",
    "labels_of",
    "occurrences",
    "reservation_band",
    "resources_of",
    "upcoming",
]
