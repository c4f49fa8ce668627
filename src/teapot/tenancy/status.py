"""Plan → the ``status`` of HostClaims, Tenants and Reservations, and the spec of BareMetalHosts.

Why pure functions over dicts: the controller compares what these return with what the API holds
and writes only differences (a status write that changes nothing would wake every watcher). Every
pending, refused or pre-empted object gets a CamelCase ``reason`` and a ``message`` a person can act
on, mirrored in a condition, so ``kubectl get`` and ``teapot explain`` show the same words.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from teapot.allocation import Band, Conflict, Explanation
from teapot.runtime.conditions import Condition, set_in
from teapot.tenancy import keys
from teapot.tenancy.admission import Verdict
from teapot.tenancy.planner import ClaimView, HostIntent, Plan, next_window
from teapot.tenancy.world import ReservationRecord, TenantRecord, format_time

KubeObject = dict[str, Any]


def _with_condition(
    old: Mapping[str, Any], type_: str, ok: bool, explanation: Explanation, generation: int, now: datetime
) -> list[dict[str, Any]]:
    conditions = copy.deepcopy(list(old.get("conditions") or []))
    set_in(
        conditions,
        Condition(type_, "True" if ok else "False", explanation.reason, explanation.message, generation),
        now,
    )
    return conditions


#: Provisioning states in which a bound host is ready for its tenant: provisioned with the claim's
#: image, or (a claim without an image) powered on and available.
READY_WITH_IMAGE = frozenset({"provisioned"})
READY_WITHOUT_IMAGE = frozenset({"available", "ready"})


def _readiness(view: ClaimView, host_states: Mapping[str, str]) -> tuple[int, Explanation]:
    """How many bound hosts the tenant can use now, and a sentence naming the ones it cannot."""
    with_image = view.record.image is not None
    ready_states = READY_WITH_IMAGE if with_image else READY_WITHOUT_IMAGE
    waiting = {
        n: host_states.get(n) or "unknown" for n in view.hosts if host_states.get(n) not in ready_states
    }
    ready = len(view.hosts) - len(waiting)
    count = view.record.claim.count
    if not waiting and ready >= count:
        word = "provisioned" if with_image else "ready"
        return ready, Explanation("HostsReady", f"all {ready} host(s) {word}")
    if waiting:
        by_state: dict[str, list[str]] = {}
        for name, state in sorted(waiting.items()):
            by_state.setdefault(state, []).append(name)
        detail = "; ".join(f"{state}: {', '.join(names)}" for state, names in sorted(by_state.items()))
        return ready, Explanation("HostsNotReady", f"{ready} of {count} ready ({detail})")
    return ready, Explanation("HostsNotBound", f"{ready} of {count} ready; the rest are not bound yet")


def claim_status(
    view: ClaimView,
    plan: Plan,
    old: Mapping[str, Any],
    generation: int,
    hosts_namespace: str,
    now: datetime,
    host_states: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``host_states``: each host's ``status.provisioning.state`` as last read (for ``Ready``)."""
    states = host_states or {}
    count = view.record.claim.count
    bound = len(view.hosts)
    if view.reclaims:
        phase = "Preempting"
    elif bound >= count:
        phase = "Bound"
    elif bound:
        phase = "PartiallyBound"
    else:
        phase = "Pending"
    hosts: list[dict[str, Any]] = []
    for name in view.hosts:
        host = plan.inventory.hosts[name]
        entry: dict[str, Any] = {"name": name, "namespace": hosts_namespace}
        host_class = plan.inventory.host_class(name)
        if host_class is not None:
            entry["hostClass"] = host_class
        if host.holder is not None:
            entry["since"] = format_time(host.holder.since)
            entry["preemptible"] = host.holder.band is Band.PREEMPTIBLE
        reclaim = view.reclaims.get(name)
        if reclaim is not None:
            entry["reclaimAt"] = format_time(reclaim.at)
        if states.get(name):
            entry["state"] = states[name]
        hosts.append(entry)
    explanation = view.explanation
    ready, readiness = _readiness(view, states)
    conditions = _with_condition(old, "Bound", bound >= count, explanation, generation, now)
    conditions = _with_condition(
        {"conditions": conditions}, "Ready", readiness.reason == "HostsReady", readiness, generation, now
    )
    return {
        "phase": phase,
        "reason": explanation.reason,
        "message": explanation.message,
        "bound": bound,
        "ready": ready,
        "hosts": hosts,
        "conditions": conditions,
        "observedGeneration": generation,
    }


def _risk_of(conflicts: tuple[Conflict, ...], prefix: str) -> Conflict | None:
    for conflict in conflicts:
        if any(key.startswith(prefix) or key == prefix.rstrip("/") for key in conflict.guarantees):
            return conflict
    return None


def tenant_status(
    record: TenantRecord, verdict: Verdict, plan: Plan, old: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    effective = plan.admission.tenants.get(record.name, record.effective)
    usage = Counter({k: v for k, v in plan.inventory.usage(record.name).items() if k is not None})
    classes = sorted(
        set(usage) | {c for c, _ in effective.guarantees} | {c for c, _ in record.spec_tenant.maximums}
    )
    rows = []
    for cls in classes:
        guaranteed = effective.guarantee(cls)
        rows.append(
            {
                "hostClass": cls,
                "bound": usage[cls],
                "guaranteed": guaranteed,
                "borrowed": max(0, usage[cls] - guaranteed),
            }
        )
    risk = _risk_of(plan.admission.at_risk.conflicts, f"tenant/{record.name}/")
    explanation = verdict.explanation
    conditions = _with_condition(old, "Admitted", verdict.admitted, explanation, record.generation, now)
    at_risk = Explanation("GuaranteesSafe", "every guarantee can be met by the healthy hosts")
    if risk is not None:
        at_risk = Explanation("GuaranteeAtRisk", risk.explanation.message)
    set_in(
        conditions,
        Condition(
            "GuaranteesAtRisk",
            "True" if risk else "False",
            at_risk.reason,
            at_risk.message,
            record.generation,
        ),
        now,
    )
    phase = "Admitted" if verdict.admitted else "Refused"
    if verdict.admitted and risk is not None:
        explanation = at_risk
    return {
        "phase": phase,
        "reason": explanation.reason,
        "message": explanation.message,
        "usage": rows,
        "conditions": conditions,
        "observedGeneration": record.generation,
    }


def reservation_status(
    record: ReservationRecord, verdict: Verdict, plan: Plan, old: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    window = next_window(record, now)
    explanation = verdict.explanation
    if not verdict.admitted:
        phase = "Refused"
    elif window is None:
        phase = "Expired"
        explanation = Explanation("Expired", "the reservation's last window has ended")
    elif window.contains(now):
        phase = "Active"
        explanation = Explanation(
            "Active", f"{explanation.message}; window open until {format_time(window.end)}"
        )
    else:
        phase = "Admitted"
    risk = _risk_of(plan.admission.at_risk.conflicts, f"reservation/{record.name}/")
    conditions = _with_condition(
        old, "Admitted", verdict.admitted, verdict.explanation, record.generation, now
    )
    if risk is not None:
        explanation = Explanation("GuaranteeAtRisk", risk.explanation.message)
    set_in(
        conditions,
        Condition(
            "GuaranteesAtRisk",
            "True" if risk else "False",
            "GuaranteeAtRisk" if risk else "GuaranteesSafe",
            risk.explanation.message if risk else "the reservation can be met by the healthy hosts",
            record.generation,
        ),
        now,
    )
    status: dict[str, Any] = {
        "phase": phase,
        "reason": explanation.reason,
        "message": explanation.message,
        "nextWindow": None,
        "conditions": conditions,
        "observedGeneration": record.generation,
    }
    if window is not None:
        status["nextWindow"] = {"start": format_time(window.start), "end": format_time(window.end)}
    return status


def host_class_counts(plan: Plan) -> dict[str, dict[str, Any]]:
    """``status`` of each HostClass: hosts in it, healthy ones, free ones (not held, not cleaning)."""
    out: dict[str, dict[str, Any]] = {}
    for name, host in plan.inventory.hosts.items():
        cls = plan.inventory.host_class(name)
        if cls is None:
            continue
        row = out.setdefault(cls, {"hosts": 0, "healthy": 0, "free": 0})
        row["hosts"] += 1
        row["healthy"] += int(host.healthy)
        row["free"] += int(host.healthy and host.holder is None)
    return out


def status_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether writing ``new`` would change anything (``None`` values mean "absent")."""
    return any(old.get(k) != v for k, v in new.items() if v is not None) or any(
        k in old for k, v in new.items() if v is None
    )


def render_host(obj: KubeObject, intent: HostIntent) -> KubeObject:
    """The BareMetalHost as the intent wants it (a copy; ``metadata.resourceVersion`` kept, so the
    PUT fails with 409 if anyone changed the host since it was read)."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.setdefault("metadata", {})
    labels: dict[str, str] = dict(meta.get("labels") or {})
    annotations: dict[str, str] = dict(meta.get("annotations") or {})
    spec: dict[str, Any] = out.setdefault("spec", {})
    for key in keys.HOLDER_ANNOTATIONS:
        annotations.pop(key, None)
    binding = intent.binding
    if binding is None:
        labels.pop(keys.TENANT_LABEL, None)
        labels.pop(keys.CLAIM_LABEL, None)
        for field in ("consumerRef", "image", "userData"):
            spec.pop(field, None)
        if intent.reclaim is not None:  # released for a reclaiming claim: it decides first
            annotations[keys.RECLAIMED_BY] = intent.reclaim.by
    else:
        claim = binding.claim
        labels[keys.TENANT_LABEL] = claim.claim.tenant
        labels[keys.CLAIM_LABEL] = claim.name
        spec["consumerRef"] = {
            "apiVersion": keys.API_VERSION,
            "kind": "HostClaim",
            "name": claim.name,
            "namespace": claim.namespace,
            "uid": claim.uid,
        }
        if claim.image is not None:
            spec["image"] = dict(claim.image)
        else:
            spec.pop("image", None)
        if claim.user_data is not None:
            spec["userData"] = dict(claim.user_data)
        else:
            spec.pop("userData", None)
        spec["online"] = True
        annotations[keys.BAND] = str(binding.band)
        annotations[keys.SINCE] = format_time(binding.since)
        if binding.reservation:
            annotations[keys.RESERVATION] = binding.reservation
        if intent.reclaim is not None:
            annotations[keys.RECLAIMED_BY] = intent.reclaim.by
            annotations[keys.RECLAIM_AT] = format_time(intent.reclaim.at)
            annotations[keys.RECLAIM_REASON] = intent.reclaim.reason
    meta["labels"] = labels
    meta["annotations"] = annotations
    return out


def host_differs(obj: Mapping[str, Any], rendered: Mapping[str, Any]) -> bool:
    old_meta = obj.get("metadata") or {}
    new_meta = rendered.get("metadata") or {}
    return bool(
        (obj.get("spec") or {}) != rendered.get("spec")
        or (old_meta.get("labels") or {}) != new_meta.get("labels")
        or (old_meta.get("annotations") or {}) != new_meta.get("annotations")
    )
