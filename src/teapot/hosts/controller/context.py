"""One reconcile's working state: the host as read, the status being built, and the bookkeeping
every state handler shares (errors and back-off, transitions, operation history, conditions).

Why: Metal3's rules that cut across states — an error sets ``errorType``/``errorMessage``, counts
``errorCount`` and backs off; a transition stamps ``operationHistory`` and emits an Event; every
status carries ``Ready``/``Registered`` conditions with ``observedGeneration`` — live here once,
so each state handler in :mod:`.machine` is only "call the provisioner, decide the next state".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from teapot.api import labels as L
from teapot.api.metal3 import BareMetalHostSpec
from teapot.hosts.controller.options import HostControllerOptions, backoff_delay, format_time, parse_time
from teapot.hosts.controller.step import HostEvent, Step
from teapot.hosts.provisioner import ErrorType, HostRef, NodeStatus, ProvisioningState
from teapot.runtime.conditions import Condition, set_in

__all__ = ["FALLBACK_FINALIZER", "FINALIZERS", "STABLE_STATES", "HostContext", "uses_virtual_media"]

#: Used only where an API server refuses Metal3's unqualified ``baremetalhost.metal3.io`` (real
#: Kubernetes accepts it; Teapot's embedded server currently does not): same meaning, qualified name.
FALLBACK_FINALIZER = "metal3.io/baremetalhost"
FINALIZERS = (L.BMH_FINALIZER, FALLBACK_FINALIZER)

S = ProvisioningState
STABLE_STATES = frozenset({S.UNMANAGED, S.AVAILABLE, S.PROVISIONED, S.EXTERNALLY_PROVISIONED})
#: Which ``operationHistory`` entry a state belongs to.
_OPERATIONS = {
    S.REGISTERING: "register",
    S.INSPECTING: "inspect",
    S.PROVISIONING: "provision",
    S.DEPROVISIONING: "deprovision",
}
_ERROR_REASONS = {
    ErrorType.REGISTRATION: "RegistrationError",
    ErrorType.INSPECTION: "InspectionError",
    ErrorType.PREPARATION: "PreparationError",
    ErrorType.PROVISIONING: "ProvisioningError",
    ErrorType.PROVISIONED_REGISTRATION: "ProvisionedRegistrationError",
    ErrorType.POWER_MANAGEMENT: "PowerManagementError",
    ErrorType.DETACH: "DetachError",
}


def uses_virtual_media(bmc_address: str | None) -> bool:
    """Virtual-media hosts boot from their BMC, not the provisioning network (Metal3 exempts them
    from the (de)provisioning cap, which protects network-boot infrastructure)."""
    scheme = (bmc_address or "").partition("://")[0]
    return "virtualmedia" in scheme


def _camel(state: str) -> str:
    return "".join(word.capitalize() for word in state.split()) or "New"


@dataclass
class HostContext:
    obj: dict[str, Any]
    spec: BareMetalHostSpec
    options: HostControllerOptions
    now: datetime
    status: dict[str, Any] = field(init=False)
    events: list[HostEvent] = field(default_factory=list)
    labels: dict[str, str | None] = field(default_factory=dict)
    remove_annotations: list[str] = field(default_factory=list)
    hardware: dict[str, Any] | None = None
    #: The last error's back-off has passed and this reconcile retries (providers take ``force``).
    retrying: bool = False
    node: NodeStatus | None = None

    def __post_init__(self) -> None:
        self.status = copy.deepcopy(self.obj.get("status") or {})

    # -- reading ---------------------------------------------------------------------------------
    @property
    def meta(self) -> dict[str, Any]:
        return dict(self.obj.get("metadata") or {})

    @property
    def namespace(self) -> str:
        return str(self.meta.get("namespace") or "")

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or "")

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def generation(self) -> int | None:
        value = self.meta.get("generation")
        return int(value) if value is not None else None

    @property
    def annotations(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.meta.get("annotations") or {}).items()}

    def annotated(self, key: str) -> bool:
        return key in self.annotations and key not in self.remove_annotations

    @property
    def has_finalizer(self) -> bool:
        return any(f in FINALIZERS for f in self.meta.get("finalizers") or [])

    @property
    def deleting(self) -> bool:
        return bool(self.meta.get("deletionTimestamp"))

    @property
    def provisioning(self) -> dict[str, Any]:
        value = self.status.setdefault("provisioning", {})
        assert isinstance(value, dict)
        return value

    @property
    def state(self) -> ProvisioningState:
        try:
            return ProvisioningState(self.provisioning.get("state") or "")
        except ValueError:
            return ProvisioningState.NONE

    @property
    def ref(self) -> HostRef:
        return HostRef(self.namespace, self.name, self.provisioning.get("ID") or None)

    @property
    def error_type(self) -> str:
        return str(self.status.get("errorType") or "")

    @property
    def error_count(self) -> int:
        return int(self.status.get("errorCount") or 0)

    # -- time ------------------------------------------------------------------------------------
    def stamp(self) -> str:
        return format_time(self.now)

    def backoff_remaining(self) -> float:
        """Seconds until the current error may be retried (0 when there is none or it is due)."""
        if not self.error_type:
            return 0.0
        since = parse_time(self.status.get("lastUpdated"))
        if since is None:
            return 0.0
        delay = backoff_delay(self.options, self.error_count, self.key)
        return max(0.0, delay - (self.now - since).total_seconds())

    # -- writing ---------------------------------------------------------------------------------
    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append(HostEvent("Warning" if type_ == "Warning" else "Normal", reason, message))

    def fail(self, kind: ErrorType, message: str) -> Step:
        """Record an error, count it, and come back after the host's back-off."""
        count = self.error_count + 1
        self.status.update(
            errorType=kind.value,
            errorMessage=message,
            errorCount=count,
            operationalStatus="error",
            lastUpdated=self.stamp(),
        )
        self.event("Warning", _ERROR_REASONS.get(kind, "Error"), message)
        return self.finish(backoff_delay(self.options, count, self.key))

    def clear_error(self) -> None:
        self.status.pop("errorType", None)
        self.status.pop("errorMessage", None)
        if self.status.get("operationalStatus") in ("error", None):
            self.status["operationalStatus"] = "OK"

    def succeeded(self) -> None:
        """A step completed: the error history starts again."""
        self.clear_error()
        self.status["errorCount"] = 0

    def goto(self, new: ProvisioningState, why: str = "") -> None:
        old = self.state
        if old == new:
            return
        history = self.status.setdefault("operationHistory", {})
        stamp = self.stamp()
        if old in _OPERATIONS:
            history.setdefault(_OPERATIONS[old], {})["end"] = stamp
        if new in _OPERATIONS:
            history[_OPERATIONS[new]] = {"start": stamp}
        self.provisioning["state"] = new.value
        self.status["lastUpdated"] = stamp
        message = f"{old.value or 'new'} → {new.value}" + (f": {why}" if why else "")
        self.event("Normal", _camel(new.value), message)

    def observe_power(self, node: NodeStatus | None) -> None:
        if node is not None and node.powered_on is not None:
            self.status["poweredOn"] = node.powered_on

    def finish(self, requeue_after: float | None) -> Step:
        """Stamp conditions and operational status; package the result."""
        self._conditions()
        return Step(
            status=self.status,
            requeue_after=requeue_after,
            labels=dict(self.labels),
            remove_annotations=tuple(dict.fromkeys(self.remove_annotations)),
            hardware=self.hardware,
            events=tuple(self.events),
        )

    def _conditions(self) -> None:
        state = self.state
        detached = self.status.get("operationalStatus") == "detached"
        if self.error_type:
            ready = Condition(
                "Ready",
                "False",
                _ERROR_REASONS.get(ErrorType(self.error_type), "Error"),
                str(self.status.get("errorMessage") or ""),
                self.generation,
            )
        elif detached:
            ready = Condition(
                "Ready",
                "False",
                "Detached",
                "removed from the provisioner (detached annotation)",
                self.generation,
            )
        elif self.status.get("operationalStatus") == "delayed":
            ready = Condition(
                "Ready",
                "False",
                "Delayed",
                (
                    f"waiting for one of {self.options.max_concurrent_cleaning} cleaning slots"
                    if state == S.PREPARING
                    else f"waiting for one of {self.options.max_concurrent_provisioning} (de)provisioning slots"
                ),
                self.generation,
            )
        elif state in STABLE_STATES:
            ready = Condition("Ready", "True", _camel(state.value), f"host is {state.value}", self.generation)
        else:
            ready = Condition(
                "Ready", "False", _camel(state.value), f"host is {state.value or 'new'}", self.generation
            )
        conditions = self.status.setdefault("conditions", [])
        set_in(conditions, ready, self.now)
        good = self.status.get("goodCredentials") or {}
        if good.get("credentialsVersion") and self.provisioning.get("ID"):
            registered = Condition(
                "Registered",
                "True",
                "Registered",
                f"BMC {self.spec.bmc.address if self.spec.bmc else ''} verified",
                self.generation,
            )
        elif self.error_type in (ErrorType.REGISTRATION.value, ErrorType.PROVISIONED_REGISTRATION.value):
            registered = Condition(
                "Registered",
                "False",
                "RegistrationError",
                str(self.status.get("errorMessage") or ""),
                self.generation,
            )
        else:
            registered = Condition(
                "Registered", "False", "NotRegistered", "not registered yet", self.generation
            )
        set_in(conditions, registered, self.now)
