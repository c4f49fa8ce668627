"""The dry run behind ``teapot whatif``: admission of changed Tenants / Reservations / HostClasses
against the live world, changing nothing.

Why here and not in the CLI: it is a pure function of objects the CLI fetched, so it is
unit-tested without a server, and it reuses exactly the conversion and admission code the
controller runs — a what-if that used different code would answer a different question.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from teapot.allocation import Inventory
from teapot.tenancy import keys
from teapot.tenancy.admission import AdmissionOutcome, Verdict, admit
from teapot.tenancy.words import HINTS
from teapot.tenancy.world import meta, records_of

KubeObject = dict[str, Any]

# -- what if ---------------------------------------------------------------------------------------

WHATIF_KINDS = ("Tenant", "HostClass", "Reservation")


@dataclass(frozen=True)
class WhatIfResult:
    """Verdicts of the changed objects, and admitted guarantees the change would put at risk."""

    verdicts: tuple[Verdict, ...]
    new_risks: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return all(v.admitted for v in self.verdicts) and not self.new_risks


def _key(kind: str, obj: Mapping[str, Any], default_namespace: str) -> tuple[str, str, str]:
    """``kind`` is passed in: items of a list response may lack ``kind``."""
    m = meta(obj)
    namespace = str(m.get("namespace") or default_namespace) if kind == "Reservation" else ""
    return (kind, namespace, str(m.get("name", "")))


def merge_changes(
    live: Mapping[str, Sequence[KubeObject]], changes: Iterable[KubeObject], default_namespace: str
) -> tuple[dict[str, list[KubeObject]], list[tuple[str, str, str]]]:
    """The live world with ``changes`` applied (by kind/namespace/name). A changed object keeps
    the live one's admitted snapshot, so it is checked incrementally as the controller would."""
    merged = {kind: [copy.deepcopy(o) for o in objs] for kind, objs in live.items()}
    changed: list[tuple[str, str, str]] = []
    for change in changes:
        kind = str(change.get("kind"))
        if kind not in WHATIF_KINDS:
            raise ValueError(f"whatif takes {', '.join(WHATIF_KINDS)}; not {kind!r}")
        key = _key(kind, change, default_namespace)
        obj = copy.deepcopy(change)
        obj.setdefault("metadata", {})
        if kind == "Reservation":
            obj["metadata"]["namespace"] = key[1]
            obj["metadata"].setdefault("creationTimestamp", "9999-12-31T00:00:00Z")  # newest: checked last
        items = merged.setdefault(kind, [])
        previous = next((o for o in items if _key(kind, o, default_namespace) == key), None)
        if previous is not None:
            snapshot = (meta(previous).get("annotations") or {}).get(keys.ADMITTED)
            if snapshot is not None:
                obj["metadata"].setdefault("annotations", {})[keys.ADMITTED] = snapshot
            for field in ("uid", "creationTimestamp"):
                if field in meta(previous):
                    obj["metadata"][field] = meta(previous)[field]
            items.remove(previous)
        items.append(obj)
        changed.append(key)
    return merged, changed


def _outcome(
    world: Mapping[str, Sequence[KubeObject]], hosts: Sequence[KubeObject], now: datetime, lead: timedelta
) -> AdmissionOutcome:
    w = records_of(
        world.get("Tenant", ()), world.get("HostClass", ()), world.get("Reservation", ()), (), hosts, now
    )
    inventory = Inventory([h.host for h in w.hosts if not h.foreign], w.host_classes)
    return admit(inventory, w.tenants, w.reservations, now, lead)


def what_if(
    live: Mapping[str, Sequence[KubeObject]],
    hosts: Sequence[KubeObject],
    changes: Sequence[KubeObject],
    now: datetime,
    lead_time: timedelta,
    default_namespace: str = "default",
) -> WhatIfResult:
    """Admission as a dry run of ``changes`` against the live world. Changes nothing."""
    before = _outcome(live, hosts, now, lead_time)
    merged, changed = merge_changes(live, changes, default_namespace)
    after = _outcome(merged, hosts, now, lead_time)
    verdicts: list[Verdict] = []
    for kind, namespace, name in changed:
        if kind == "HostClass":
            continue
        key = f"Tenant/{name}" if kind == "Tenant" else f"Reservation/{namespace}/{name}"
        verdict = after.verdicts.get(key)
        if verdict is None:
            raise ValueError(
                f"{kind} {namespace + '/' if namespace else ''}{name}: its namespace belongs to no Tenant"
            )
        verdicts.append(verdict)
    known = {c.explanation.message for c in before.at_risk.conflicts}
    risks = tuple(
        c.explanation.message for c in after.at_risk.conflicts if c.explanation.message not in known
    )
    return WhatIfResult(tuple(verdicts), risks)


def what_if_text(result: WhatIfResult) -> str:
    lines = []
    for v in result.verdicts:
        word = "admitted" if v.admitted else "REFUSED"
        lines.append(f"{v.kind} {v.name}: {word} — {v.explanation.message}  [{v.explanation.reason}]")
        if not v.admitted and v.explanation.reason in HINTS:
            lines.append(f"  what to do: {HINTS[v.explanation.reason]}")
    for risk in result.new_risks:
        lines.append(f"would put at risk: {risk}")
    if not lines:
        lines.append("nothing to check (HostClass changes only, and no admitted guarantee is put at risk)")
    return "\n".join(lines)
