"""What one reconcile decided: the data the state machine hands to the reconciler to write.

Why a value instead of writes inside the state machine: the machine is then testable without an API
server (a unit test applies a :class:`Step` to a dict), and the reconciler owns the write order that
makes a crash at any point harmless — HardwareData, then labels/annotations, then status, then the
finalizer — so every partial write is repeated idempotently by the next reconcile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["HostEvent", "SecretData", "Step", "World"]


@dataclass(frozen=True)
class HostEvent:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class SecretData:
    """A Secret as the machine sees it: name, version and decoded data (never printed)."""

    name: str
    resource_version: str
    data: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class Step:
    #: The complete new ``status`` (wire format); the reconciler writes it only if it changed.
    status: dict[str, Any]
    #: ``None``: wait for the next watch event; otherwise look again after this many seconds.
    requeue_after: float | None = None
    #: Label changes: a value sets, ``None`` removes. Only ``hardware.teapot.dev/...`` keys.
    labels: Mapping[str, str | None] = field(default_factory=dict)
    remove_annotations: tuple[str, ...] = ()
    #: ``HardwareData.spec.hardware`` to write (same name as the host, owned by it).
    hardware: dict[str, Any] | None = None
    add_finalizer: bool = False
    remove_finalizer: bool = False
    events: tuple[HostEvent, ...] = ()


class World(Protocol):
    """What the machine reads besides the host and the provisioner (informer caches in production)."""

    def secret(self, namespace: str, name: str) -> SecretData | None: ...

    def acquire_provisioning_slot(self, namespace: str, name: str) -> bool:
        """True if the host may start (de)provisioning under the concurrency cap."""
        ...

    def acquire_cleaning_slot(self, namespace: str, name: str) -> bool:
        """True if the host may start automated cleaning (``preparing``) under the cleaning cap."""
        ...
