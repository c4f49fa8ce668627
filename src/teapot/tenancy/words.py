"""Words for people: what ``teapot explain`` prints about a HostClaim, Reservation or Tenant.

Why a light module of its own: ``teapot explain`` only renders what the allocation controller
already wrote (status + Events), so it must not pay for importing the solver stack (numpy, scipy,
HiGHS) on every call — on a busy machine that import alone takes seconds. Pure and unit-tested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

KubeObject = dict[str, Any]


def parse_time(text: str | None) -> datetime | None:
    """RFC 3339 → aware UTC datetime; ``None`` for missing or unparsable (as ``world.parse_time``)."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def humanize(seconds: float) -> str:
    """Kubernetes-style short duration: 45s, 2m, 3h, 4d."""
    whole = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


KINDS: Mapping[str, str] = {
    "hostclaim": "HostClaim",
    "hostclaims": "HostClaim",
    "hcl": "HostClaim",
    "reservation": "Reservation",
    "reservations": "Reservation",
    "rsv": "Reservation",
    "tenant": "Tenant",
    "tenants": "Tenant",
    "tn": "Tenant",
}

HINTS: Mapping[str, str] = {
    "NoTenant": "ask an operator to list the namespace in a Tenant's spec.namespaces",
    "QuotaExceeded": "release hosts elsewhere, lower spec.count, or ask an operator to raise the tenant's maximums",
    "InsufficientCapacity": "wait for hosts to free up, lower spec.count or relax the requirements",
    "TopologyConstrained": "relax spec.topology (a higher maxPerDomain, or no affinity)",
    "NoMatchingHosts": "compare spec.requirements with `kubectl get bmh -n teapot-hosts --show-labels`",
    "Preempting": "nothing: the hosts lent to others come back after their grace period",
    "Preempted": "the hosts were lent above your guarantee; ask for a guarantee, or claim within it",
    "GuaranteesOverCommitted": "lower the request, pick another time or class; try alternatives with `teapot whatif -f`",
    "GuaranteeAtRisk": "hosts have failed; an operator should repair them or add capacity",
    "InvalidSpec": "fix the spec (durations like 2h or 90m; RFC 3339 times)",
}


def kind_of(text: str) -> str:
    kind = KINDS.get(text.lower())
    if kind is None:
        raise ValueError(f"unknown kind {text!r}: use hostclaim, reservation or tenant")
    return kind


def _ago(stamp: str | None, now: datetime) -> str:
    instant = parse_time(stamp)
    return f"{humanize((now - instant).total_seconds())} ago" if instant is not None else "?"


def explain_text(kind: str, obj: KubeObject, events: Sequence[KubeObject], now: datetime) -> str:
    """A few lines: state, why, what to do, hosts, conditions, recent events (newest last)."""
    m = _meta(obj)
    name = f"{m.get('namespace')}/{m.get('name')}" if m.get("namespace") else str(m.get("name"))
    status: Mapping[str, Any] = obj.get("status") or {}
    spec: Mapping[str, Any] = obj.get("spec") or {}
    phase = status.get("phase") or "Unknown (not yet seen by the allocation controller)"
    lines = [f"{kind} {name}: {phase}"]
    if kind == "HostClaim":
        lines[0] += f" ({status.get('bound', 0)} of {spec.get('count', '?')} bound)"
    reason, message = status.get("reason"), status.get("message")
    if reason:
        lines.append(f"  why:  {message}  [{reason}]")
        if reason in HINTS and phase not in ("Bound", "Admitted", "Active"):
            lines.append(f"  what to do: {HINTS[reason]}")
    if m.get("deletionTimestamp"):
        lines.append(
            "  being deleted: its hosts are released first (finalizer tenancy.teapot.dev/release-hosts)"
        )
    hosts = status.get("hosts") or []
    if hosts:
        lines.append("  hosts:")
        for h in hosts:
            details = [h.get("hostClass") or "no class", f"since {h.get('since', '?')}"]
            if h.get("preemptible"):
                details.append("preemptible (borrowed above the guarantee)")
            if h.get("reclaimAt"):
                details.append(f"taken back at {h['reclaimAt']}")
            lines.append(f"    {h.get('name')}: {', '.join(details)}")
    for row in status.get("usage") or []:
        lines.append(
            f"  {row.get('hostClass')}: {row.get('bound')} bound, {row.get('guaranteed')} guaranteed, "
            f"{row.get('borrowed')} borrowed"
        )
    window = status.get("nextWindow")
    if window:
        lines.append(f"  window: {window.get('start')} → {window.get('end')}")
    for cond in status.get("conditions") or []:
        lines.append(
            f"  condition {cond.get('type')}={cond.get('status')} ({cond.get('reason')}): {cond.get('message')}"
        )
    mine = [e for e in events if (e.get("involvedObject") or {}).get("uid") in (None, m.get("uid"))]
    mine.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    if mine:
        lines.append("  recent events:")
        for e in mine[-8:]:
            count = int(e.get("count") or 1)
            times = f" (x{count})" if count > 1 else ""
            lines.append(
                f"    {_ago(e.get('lastTimestamp'), now):>8}  {e.get('type')}  {e.get('reason')}: {e.get('message')}{times}"
            )
    return "\n".join(lines)
