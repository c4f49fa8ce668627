"""Who holds, and who waits for, the host controller's two concurrency caps.

Why a module: the same rules answer three questions — may this host start (the reconciler counts
holders in the informer cache), which hosts wait (an informer index), and whom to wake when a slot
frees (a watch handler) — and they must agree, or a freed slot goes unused until a poll. Both caps
are read from ``status`` only, so a restarted controller counts exactly what the cluster shows:

- **(de)provisioning** (Metal3's cap): hosts ``provisioning`` or ``deprovisioning``, except
  virtual-media hosts when exempt; waiters are ``available``/``provisioned`` hosts marked ``delayed``.
- **cleaning**: hosts ``deprovisioning`` and hosts ``preparing`` with ``operationalStatus: OK`` (they
  asked Ironic to clean), unless cleaning is disabled; waiters are ``preparing`` hosts marked
  ``delayed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from teapot.hosts.controller.context import uses_virtual_media
from teapot.hosts.provisioner import ProvisioningState

__all__ = [
    "CLEANING",
    "HOLDER_INDEX",
    "PROVISIONING",
    "WAITER_INDEX",
    "holds_cleaning_slot",
    "holds_provisioning_slot",
    "oldest",
    "released",
    "slots_held",
    "waiting_for",
]

S = ProvisioningState
CLEANING = "cleaning"
PROVISIONING = "provisioning"
#: Host index: the kind of slot a ``delayed`` host waits for.
WAITER_INDEX = "teapot.dev/slot-waiters"
#: Host index: the kinds of slot a host holds (counting them is then O(holders), not O(hosts)).
HOLDER_INDEX = "teapot.dev/slot-holders"


def _state(host: dict[str, Any]) -> str | None:
    state = ((host.get("status") or {}).get("provisioning") or {}).get("state")
    return str(state) if state is not None else None


def _delayed(host: dict[str, Any]) -> bool:
    return (host.get("status") or {}).get("operationalStatus") == "delayed"


def holds_provisioning_slot(host: dict[str, Any], exempt_virtual_media: bool) -> bool:
    if _state(host) not in (S.PROVISIONING.value, S.DEPROVISIONING.value):
        return False
    address = ((host.get("spec") or {}).get("bmc") or {}).get("address")
    return not (exempt_virtual_media and uses_virtual_media(address))


def holds_cleaning_slot(host: dict[str, Any]) -> bool:
    if (host.get("spec") or {}).get("automatedCleaningMode") == "disabled":
        return False
    state = _state(host)
    if state == S.DEPROVISIONING.value:
        return True
    # "delayed" waits for a slot and "error" backs off: neither is cleaning
    return state == S.PREPARING.value and (host.get("status") or {}).get("operationalStatus") == "OK"


def slots_held(exempt_virtual_media: bool) -> Callable[[dict[str, Any]], list[str]]:
    """Index function: the kinds of slot a host holds."""

    def held(host: dict[str, Any]) -> list[str]:
        kinds = [CLEANING] if holds_cleaning_slot(host) else []
        if holds_provisioning_slot(host, exempt_virtual_media):
            kinds.append(PROVISIONING)
        return kinds

    return held


def waiting_for(host: dict[str, Any]) -> list[str]:
    """Index function: ``[CLEANING]`` or ``[PROVISIONING]`` for a host waiting for a slot."""
    if not _delayed(host):
        return []
    state = _state(host)
    if state == S.PREPARING.value:
        return [CLEANING]
    if state in (S.AVAILABLE.value, S.PROVISIONED.value):
        return [PROVISIONING]
    return []


def released(old: dict[str, Any], new: dict[str, Any] | None, exempt_virtual_media: bool) -> list[str]:
    """The kinds of slot *old* held that *new* (``None``: deleted) no longer holds."""
    held = slots_held(exempt_virtual_media)
    still = held(new) if new is not None else []
    return [kind for kind in held(old) if kind not in still]


def oldest(waiters: Iterable[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The *count* hosts that have waited longest (``status.lastUpdated``: when they started to)."""
    return sorted(waiters, key=lambda h: str((h.get("status") or {}).get("lastUpdated") or ""))[:count]
