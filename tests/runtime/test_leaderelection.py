from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from teapot.runtime import metrics
from teapot.runtime.leaderelection import LeaderCallbacks, LeaderElectionConfig, LeaderElector
from teapot.runtime.resources import LEASES
from tests.runtime.fakes import FakeApi


def _config(identity: str, release: bool = True) -> LeaderElectionConfig:
    return LeaderElectionConfig(
        "teapot-controllers",
        "kube-system",
        identity=identity,
        lease_duration=0.6,
        renew_deadline=0.4,
        retry_period=0.1,
        release_on_cancel=release,
    )


class Candidate:
    def __init__(self, api: FakeApi, identity: str, release: bool = True):
        self.elector = LeaderElector(api, _config(identity, release))
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.leaders: list[str] = []
        self.work_cancelled = False
        self.task = asyncio.create_task(
            self.elector.run(LeaderCallbacks(self._lead, self.stopped.set, self.leaders.append))
        )

    async def _lead(self) -> None:
        self.started.set()
        try:
            await asyncio.Future()
        except asyncio.CancelledError:
            self.work_cancelled = True
            raise

    async def cancel(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def test_single_candidate_leads_and_releases_on_cancel() -> None:
    api = FakeApi()
    cand = Candidate(api, "a")
    await asyncio.wait_for(cand.started.wait(), 2)
    lease = await api.get(LEASES, "teapot-controllers", "kube-system")
    assert lease["spec"]["holderIdentity"] == "a" and lease["spec"]["leaseDurationSeconds"] == 1
    assert cand.elector.is_leader and cand.leaders == ["a"]
    assert (
        metrics.REGISTRY.get_sample_value("leader_election_master_status", {"name": "teapot-controllers"})
        == 1
    )
    await asyncio.sleep(0.35)  # renewals keep the lease fresh
    renewed = await api.get(LEASES, "teapot-controllers", "kube-system")
    assert renewed["spec"]["renewTime"] > lease["spec"]["renewTime"]
    assert renewed["spec"]["acquireTime"] == lease["spec"]["acquireTime"]
    await cand.cancel()
    assert cand.work_cancelled and cand.stopped.is_set()
    released = await api.get(LEASES, "teapot-controllers", "kube-system")
    assert released["spec"]["holderIdentity"] == ""
    assert (
        metrics.REGISTRY.get_sample_value("leader_election_master_status", {"name": "teapot-controllers"})
        == 0
    )


async def test_only_one_of_two_leads_and_release_hands_over_at_once() -> None:
    api = FakeApi()
    a, b = Candidate(api, "a"), Candidate(api, "b")
    done, _ = await asyncio.wait(
        [asyncio.create_task(a.started.wait()), asyncio.create_task(b.started.wait())],
        timeout=2,
        return_when=asyncio.FIRST_COMPLETED,
    )
    assert done
    await asyncio.sleep(0.5)
    assert a.started.is_set() != b.started.is_set()
    leader, follower = (a, b) if a.started.is_set() else (b, a)
    assert follower.elector.leader == leader.elector.config.identity
    begin = time.monotonic()
    await leader.cancel()
    await asyncio.wait_for(follower.started.wait(), 2)
    assert time.monotonic() - begin < 0.5  # released: no need to wait out lease_duration (0.6 s)
    lease = await api.get(LEASES, "teapot-controllers", "kube-system")
    assert lease["spec"]["holderIdentity"] == follower.elector.config.identity
    assert lease["spec"]["leaseTransitions"] == 0  # taking a released (holderless) lease is not a transition
    await follower.cancel()


async def test_crashed_leader_is_replaced_only_after_lease_duration() -> None:
    api = FakeApi()
    a = Candidate(api, "a", release=False)
    await asyncio.wait_for(a.started.wait(), 2)
    await a.cancel()  # dies without releasing
    begin = time.monotonic()
    b = Candidate(api, "b")
    await asyncio.wait_for(b.started.wait(), 3)
    assert time.monotonic() - begin >= 0.6
    lease = await api.get(LEASES, "teapot-controllers", "kube-system")
    assert lease["spec"]["holderIdentity"] == "b" and lease["spec"]["leaseTransitions"] == 1
    await b.cancel()


async def test_leader_that_cannot_renew_stops_leading_within_renew_deadline() -> None:
    api = FakeApi()
    a = Candidate(api, "a", release=False)
    await asyncio.wait_for(a.started.wait(), 2)
    api.fail_writes = 1000
    begin = time.monotonic()
    await asyncio.wait_for(a.task, 2)  # run() returns: leadership lost
    elapsed = time.monotonic() - begin
    assert 0.3 <= elapsed < 0.9, elapsed  # ~renew_deadline (0.4 s), allowing for a loaded CI machine
    assert a.work_cancelled and a.stopped.is_set()


def test_config_validates_timing() -> None:
    with pytest.raises(ValueError):
        LeaderElectionConfig("x", lease_duration=10, renew_deadline=15, retry_period=2)
