"""``status.conditions`` helpers with Kubernetes semantics (``meta.SetStatusCondition``).

Why: every Teapot resource reports "why is it pending / failed" through conditions, and the rules
are easy to get subtly wrong: ``lastTransitionTime`` changes only when ``status`` changes (not on
a new reason or message), ``observedGeneration`` records which spec the condition describes, and
an unchanged condition must not cause a write (or controllers would spin on their own updates).
The functions work on plain conditions lists (what typed models serialise to) and on whole
objects (``obj["status"]["conditions"]``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from teapot.runtime.resources import KubeObject

ConditionStatus = Literal["True", "False", "Unknown"]


def rfc3339(moment: datetime | None = None) -> str:
    """Kubernetes' timestamp format, second precision, always UTC (``2026-01-02T03:04:05Z``)."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: ConditionStatus
    reason: str
    message: str = ""
    observed_generation: int | None = None
    last_transition_time: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "status": self.status, "reason": self.reason}
        out["message"] = self.message
        if self.observed_generation is not None:
            out["observedGeneration"] = self.observed_generation
        out["lastTransitionTime"] = self.last_transition_time
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Condition:
        status = str(data.get("status", "Unknown"))
        generation = data.get("observedGeneration")
        return cls(
            type=str(data.get("type", "")),
            status=status if status in ("True", "False") else "Unknown",  # type: ignore[arg-type]
            reason=str(data.get("reason", "")),
            message=str(data.get("message", "")),
            observed_generation=int(generation) if generation is not None else None,
            last_transition_time=str(data.get("lastTransitionTime", "")),
        )


def find(conditions: list[dict[str, Any]], type_: str) -> Condition | None:
    for item in conditions:
        if item.get("type") == type_:
            return Condition.from_dict(item)
    return None


def set_in(conditions: list[dict[str, Any]], condition: Condition, now: datetime | None = None) -> bool:
    """Set ``condition`` in the list in place; returns whether anything changed.

    ``lastTransitionTime`` is kept from the existing condition unless the status changes (or
    ``condition`` carries its own time, as when copying conditions).
    """
    for index, item in enumerate(conditions):
        if item.get("type") != condition.type:
            continue
        existing = Condition.from_dict(item)
        if existing.status != condition.status:
            stamp = condition.last_transition_time or rfc3339(now)
        else:
            stamp = existing.last_transition_time or condition.last_transition_time or rfc3339(now)
        updated = replace(condition, last_transition_time=stamp).to_dict()
        if updated == item:
            return False
        conditions[index] = updated
        return True
    conditions.append(
        replace(condition, last_transition_time=condition.last_transition_time or rfc3339(now)).to_dict()
    )
    return True


def remove_from(conditions: list[dict[str, Any]], type_: str) -> bool:
    for index, item in enumerate(conditions):
        if item.get("type") == type_:
            del conditions[index]
            return True
    return False


# --- whole objects ---------------------------------------------------------------------------
def _conditions_of(obj: KubeObject, create: bool) -> list[dict[str, Any]]:
    status = obj.get("status")
    if not isinstance(status, dict):
        if not create:
            return []
        status = obj["status"] = {}
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        if not create:
            return []
        conditions = status["conditions"] = []
    return conditions


def get_condition(obj: KubeObject, type_: str) -> Condition | None:
    return find(_conditions_of(obj, create=False), type_)


def set_condition(
    obj: KubeObject,
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str = "",
    now: datetime | None = None,
) -> bool:
    """Set a condition on ``obj['status']['conditions']``, stamping ``metadata.generation`` as
    ``observedGeneration``; returns whether anything changed (i.e. whether a status write is due)."""
    generation = (obj.get("metadata") or {}).get("generation")
    condition = Condition(type_, status, reason, message, int(generation) if generation is not None else None)
    return set_in(_conditions_of(obj, create=True), condition, now)


def remove_condition(obj: KubeObject, type_: str) -> bool:
    return remove_from(_conditions_of(obj, create=False), type_)


def is_true(obj: KubeObject, type_: str) -> bool:
    condition = get_condition(obj, type_)
    return condition is not None and condition.status == "True"


def is_current(obj: KubeObject, type_: str) -> bool:
    """True when the condition describes the current spec (observedGeneration == generation)."""
    condition = get_condition(obj, type_)
    generation = (obj.get("metadata") or {}).get("generation")
    return condition is not None and condition.observed_generation == generation
