"""Unit tests of the slot rules (who holds, who waits) and of waking the longest waiters when a host
gives up a slot — the index and handler ``setup_host_controller`` installs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from teapot.hosts.controller import BAREMETALHOSTS, HostControllerOptions
from teapot.hosts.controller.setup import _slot_waker
from teapot.hosts.controller.slots import (
    CLEANING,
    PROVISIONING,
    WAITER_INDEX,
    holds_cleaning_slot,
    holds_provisioning_slot,
    released,
    slots_held,
    waiting_for,
)
from teapot.runtime import ObjectKey, SharedInformer

VM = "redfish-virtualmedia://bmc/redfish/v1/Systems/1"
PXE = "redfish://bmc/redfish/v1/Systems/1"


def host(
    name: str,
    state: str,
    operational: str = "OK",
    *,
    address: str = VM,
    cleaning: str | None = None,
    since: str = "2026-01-01T00:00:00.000000Z",
) -> dict[str, Any]:
    spec: dict[str, Any] = {"bmc": {"address": address, "credentialsName": f"{name}-bmc"}}
    if cleaning:
        spec["automatedCleaningMode"] = cleaning
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "spec": spec,
        "status": {
            "provisioning": {"state": state},
            "operationalStatus": operational,
            "lastUpdated": since,
        },
    }


def test_who_holds_and_who_waits() -> None:
    assert holds_cleaning_slot(host("a", "preparing"))
    assert holds_cleaning_slot(host("a", "deprovisioning"))
    assert not holds_cleaning_slot(host("a", "preparing", "delayed"))
    assert not holds_cleaning_slot(host("a", "preparing", "error"))
    assert not holds_cleaning_slot(host("a", "preparing", cleaning="disabled"))
    assert not holds_cleaning_slot(host("a", "available"))
    assert holds_provisioning_slot(host("a", "provisioning", address=PXE), True)
    assert not holds_provisioning_slot(host("a", "provisioning"), True)  # virtual media: exempt
    assert holds_provisioning_slot(host("a", "provisioning"), False)
    assert waiting_for(host("a", "preparing", "delayed")) == [CLEANING]
    assert waiting_for(host("a", "available", "delayed")) == [PROVISIONING]
    assert waiting_for(host("a", "provisioned", "delayed")) == [PROVISIONING]
    assert waiting_for(host("a", "preparing")) == []
    assert released(host("a", "preparing"), host("a", "available"), True) == [CLEANING]
    assert released(host("a", "deprovisioning", address=PXE), None, True) == [CLEANING, PROVISIONING]
    assert released(host("a", "preparing"), host("a", "preparing"), True) == []
    assert released(host("a", "inspecting"), host("a", "preparing"), True) == []
    assert slots_held(True)(host("a", "deprovisioning", address=PXE)) == [CLEANING, PROVISIONING]
    assert slots_held(True)(host("a", "deprovisioning")) == [CLEANING]
    assert slots_held(False)(host("a", "provisioning")) == [PROVISIONING]
    assert slots_held(False)(host("a", "available")) == []


def test_a_freed_slot_wakes_the_longest_waiters_of_its_kind() -> None:
    informer = SharedInformer(None, BAREMETALHOSTS)  # type: ignore[arg-type]
    informer.add_indexer(WAITER_INDEX, waiting_for)
    for i, minute in enumerate([5, 1, 3, 2]):
        informer.store.upsert(host(f"w{i}", "preparing", "delayed", since=f"2026-01-01T00:0{minute}:00Z"))
    informer.store.upsert(host("p0", "available", "delayed", address=PXE))
    added: list[ObjectKey] = []
    controller = SimpleNamespace(queue=SimpleNamespace(add=added.append))
    handler = _slot_waker(informer, controller, HostControllerOptions())  # type: ignore[arg-type]

    handler.on_update(host("i", "inspecting"), host("i", "preparing"))  # took no slot, freed none
    assert added == []
    handler.on_update(host("c", "preparing"), host("c", "available"))  # finished cleaning
    assert added == [ObjectKey("ns", "w1"), ObjectKey("ns", "w3")]  # waiting since 00:01 and 00:02
    added.clear()
    handler.on_delete(host("d", "deprovisioning", address=PXE))  # both kinds freed
    assert set(added) == {ObjectKey("ns", "w1"), ObjectKey("ns", "w3"), ObjectKey("ns", "p0")}
    added.clear()
    uncapped = _slot_waker(informer, controller, HostControllerOptions(max_concurrent_cleaning=0))  # type: ignore[arg-type]
    uncapped.on_update(host("c", "preparing"), host("c", "available"))
    assert added == []  # no cap: nobody waits for a cleaning slot
