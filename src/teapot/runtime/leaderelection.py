"""Leader election on a coordination.k8s.io/v1 Lease, with client-go's timing rules.

Why: Teapot's controllers run in several replicas for availability, but two active controllers
for the same hosts would fight (double provisioning, flapping power). Exactly one replica — the
holder of the Lease — runs controllers; the others keep warm caches and wait.

Rules (as client-go's ``leaderelection``):

* a candidate tries every ``retry_period`` (jittered); it may take the Lease when it is free
  (no holder) or when the holder has not renewed it for ``lease_duration``, measured on *this*
  process's monotonic clock from when it last saw the record change — never by comparing the
  holder's timestamps with the local clock, so clock skew cannot cause two leaders;
* every write carries the ``resourceVersion`` it read, so of two racing candidates exactly one
  wins (the other gets 409 Conflict);
* the leader renews every ``retry_period``; if it cannot renew for ``renew_deadline`` it stops
  leading (its work is cancelled) — before anyone else may take over (``renew_deadline <
  lease_duration``);
* on a clean shutdown the leader releases the Lease (empty holder), so a successor starts at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from teapot.runtime import metrics
from teapot.runtime.client import ApiError, ObjectClient
from teapot.runtime.resources import LEASES, KubeObject

log = logging.getLogger(__name__)


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class LeaderElectionConfig:
    lease_name: str
    lease_namespace: str = "default"
    identity: str = field(default_factory=default_identity)
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period * 1.2 > 0:
            raise ValueError("need lease_duration > renew_deadline > 1.2 * retry_period > 0")


@dataclass(frozen=True, slots=True)
class LeaderCallbacks:
    on_started_leading: Callable[[], Coroutine[Any, Any, None]]
    on_stopped_leading: Callable[[], None] | None = None
    on_new_leader: Callable[[str], None] | None = None


class LeaderElector:
    def __init__(self, client: ObjectClient, config: LeaderElectionConfig):
        self.client = client
        self.config = config
        self._observed_spec: dict[str, Any] = {}
        self._observed_at = 0.0
        self._leader = ""
        self._gauge = metrics.LEADER_ELECTION_MASTER.labels(config.lease_name)
        self._gauge.set(0)

    @property
    def is_leader(self) -> bool:
        return self._observed_spec.get("holderIdentity") == self.config.identity and (
            time.monotonic() < self._observed_at + self.config.lease_duration
        )

    @property
    def leader(self) -> str:
        """The identity of the current holder as last observed ("" if none)."""
        return self._leader

    async def run(self, callbacks: LeaderCallbacks) -> None:
        """Acquire, lead (running ``on_started_leading``) and renew; returns when leadership is lost
        or the leading work ends. Cancelling it releases the Lease (if ``release_on_cancel``)."""
        leading: asyncio.Task[None] | None = None
        try:
            while not await self._attempt(callbacks):
                await asyncio.sleep(self.config.retry_period * (1.0 + 0.2 * random.random()))
            log.info("%s: became leader of lease %s", self.config.identity, self.config.lease_name)
            self._gauge.set(1)
            leading = asyncio.create_task(callbacks.on_started_leading(), name="leading")
            await self._renew_until_lost(leading, callbacks)
        finally:
            self._gauge.set(0)
            if leading is not None:
                leading.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await leading
                if callbacks.on_stopped_leading is not None:
                    callbacks.on_stopped_leading()
                if self.config.release_on_cancel:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(self.release())

    async def _renew_until_lost(self, leading: asyncio.Task[None], callbacks: LeaderCallbacks) -> None:
        deadline = time.monotonic() + self.config.renew_deadline
        while not leading.done():
            done, _ = await asyncio.wait({leading}, timeout=self.config.retry_period)
            if done:
                return
            remaining = deadline - time.monotonic()
            renewed = False
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    renewed = await asyncio.wait_for(self._attempt(callbacks), remaining)
            if renewed:
                deadline = time.monotonic() + self.config.renew_deadline
            elif time.monotonic() >= deadline:
                log.warning(
                    "%s: failed to renew lease %s; stopping", self.config.identity, self.config.lease_name
                )
                return

    async def _attempt(self, callbacks: LeaderCallbacks) -> bool:
        """One try to acquire or renew; False on any failure (logged), never raises API errors."""
        try:
            return await self._try_acquire_or_renew(callbacks)
        except (ApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("%s: lease %s: %s", self.config.identity, self.config.lease_name, exc)
            return False

    async def _try_acquire_or_renew(self, callbacks: LeaderCallbacks) -> bool:
        cfg = self.config
        now = _micro_time()
        try:
            lease = await self.client.get(LEASES, cfg.lease_name, cfg.lease_namespace)
        except ApiError as exc:
            if not exc.not_found:
                raise
            spec = self._spec(now, now, 0)
            body: KubeObject = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": cfg.lease_name, "namespace": cfg.lease_namespace},
                "spec": spec,
            }
            try:
                await self.client.create(LEASES, body, cfg.lease_namespace)
            except ApiError as create_exc:
                if create_exc.conflict:
                    return False
                raise
            self._observe(spec, callbacks)
            return True

        spec = dict(lease.get("spec") or {})
        if spec != self._observed_spec:
            self._observe(spec, callbacks)
        holder = str(spec.get("holderIdentity") or "")
        if holder and holder != cfg.identity and time.monotonic() < self._observed_at + cfg.lease_duration:
            return False
        if holder == cfg.identity:
            new_spec = self._spec(
                str(spec.get("acquireTime") or now), now, int(spec.get("leaseTransitions") or 0)
            )
        else:
            new_spec = self._spec(now, now, int(spec.get("leaseTransitions") or 0) + (1 if holder else 0))
        lease["spec"] = new_spec
        try:
            await self.client.replace(LEASES, lease)  # carries metadata.resourceVersion: optimistic
        except ApiError as exc:
            if exc.conflict:
                return False
            raise
        self._observe(new_spec, callbacks)
        return True

    def _spec(self, acquire_time: str, renew_time: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.config.identity,
            "leaseDurationSeconds": max(1, round(self.config.lease_duration)),
            "acquireTime": acquire_time,
            "renewTime": renew_time,
            "leaseTransitions": transitions,
        }

    def _observe(self, spec: dict[str, Any], callbacks: LeaderCallbacks) -> None:
        self._observed_spec = spec
        self._observed_at = time.monotonic()
        holder = str(spec.get("holderIdentity") or "")
        if holder != self._leader:
            self._leader = holder
            if callbacks.on_new_leader is not None and holder:
                callbacks.on_new_leader(holder)

    async def release(self) -> bool:
        """Give the Lease up if we hold it (empty holder, 1 s duration, like client-go)."""
        cfg = self.config
        try:
            lease = await self.client.get(LEASES, cfg.lease_name, cfg.lease_namespace)
        except ApiError:
            return False
        spec = dict(lease.get("spec") or {})
        if spec.get("holderIdentity") != cfg.identity:
            return False
        now = _micro_time()
        lease["spec"] = {
            "holderIdentity": "",
            "leaseDurationSeconds": 1,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": int(spec.get("leaseTransitions") or 0),
        }
        try:
            await self.client.replace(LEASES, lease)
        except ApiError:
            return False
        self._observed_spec = lease["spec"]
        self._leader = ""
        return True
