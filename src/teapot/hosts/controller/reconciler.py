"""The BareMetalHost reconciler: informer caches in, :class:`~.machine.HostStateMachine` in the
middle, Kubernetes writes out.

Why separate from the machine: this is the only part that talks to the API server. It reads the
host and its Secrets from shared informer caches (no API reads per reconcile), asks the machine for
one :class:`~.step.Step`, and writes it in a crash-safe order — HardwareData, then the host's
metadata (finalizer, trait labels, consumed annotations), then ``status``, then finalizer removal —
so a kill -9 between two writes is repaired by the next reconcile repeating the same idempotent
step. Writes carry the resourceVersion they were computed from; a conflict (stale cache) is a
quiet rate-limited retry, not an error.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import time
from typing import Any

from teapot.api import labels as L
from teapot.hosts.controller.context import FALLBACK_FINALIZER, FINALIZERS
from teapot.hosts.controller.machine import HostStateMachine
from teapot.hosts.controller.slots import CLEANING, HOLDER_INDEX, PROVISIONING, slots_held
from teapot.hosts.controller.step import SecretData, Step
from teapot.runtime import ApiError, EventRecorder, ObjectKey, ResourceRef, Result, SharedInformer
from teapot.runtime.client import ObjectClient

__all__ = ["BAREMETALHOSTS", "HARDWAREDATA", "SECRETS", "HostReconciler", "bmc_secret_index"]

log = logging.getLogger(__name__)

BAREMETALHOSTS = ResourceRef("metal3.io", "v1alpha1", "baremetalhosts", kind="BareMetalHost")
HARDWAREDATA = ResourceRef("metal3.io", "v1alpha1", "hardwaredata", kind="HardwareData")
SECRETS = ResourceRef("", "v1", "secrets", kind="Secret")
#: Host index: ``namespace/secret`` of every Secret a host reads (BMC credentials, user data …).
SECRET_INDEX = "teapot.dev/secrets"
#: A slot taken by this process counts until the cache shows the host in (de)provisioning.
_CLAIM_TTL = 30.0


def bmc_secret_index(obj: dict[str, Any]) -> list[str]:
    namespace = str((obj.get("metadata") or {}).get("namespace") or "")
    spec = obj.get("spec") or {}
    names = [(spec.get("bmc") or {}).get("credentialsName")]
    for field in ("userData", "networkData", "metaData"):
        ref = spec.get(field) or {}
        names.append(ref.get("name") if not ref.get("namespace") or ref["namespace"] == namespace else None)
    return sorted({f"{namespace}/{name}" for name in names if name})


def _decode(data: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in data.items():
        try:
            out[str(key)] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            continue
    return out


class HostReconciler:
    """``reconcile(key)`` for BareMetalHosts; also the machine's :class:`~.step.World`."""

    def __init__(
        self,
        client: ObjectClient,
        hosts: SharedInformer,
        secrets: SharedInformer,
        recorder: EventRecorder,
        machine: HostStateMachine,
        *,
        field_manager: str = "teapot-host-controller",
    ) -> None:
        self.client = client
        self.hosts = hosts
        self.secrets = secrets
        self.recorder = recorder
        self.machine = machine
        self.field_manager = field_manager
        #: Slots granted here, by kind, that the cache may not show yet.
        self._claims: dict[str, dict[ObjectKey, float]] = {PROVISIONING: {}, CLEANING: {}}
        with contextlib.suppress(ValueError):  # already added by an earlier reconciler on this informer
            hosts.add_indexer(HOLDER_INDEX, slots_held(machine.options.virtual_media_exempt))

    # -- World -----------------------------------------------------------------------------------
    def secret(self, namespace: str, name: str) -> SecretData | None:
        obj = self.secrets.store.get(ObjectKey(namespace, name))
        if obj is None:
            return None
        data = _decode(obj.get("data") or {})
        data.update({str(k): str(v) for k, v in (obj.get("stringData") or {}).items()})
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        return SecretData(name, version, data)

    def acquire_provisioning_slot(self, namespace: str, name: str) -> bool:
        return self._acquire(
            PROVISIONING, ObjectKey(namespace, name), self.machine.options.max_concurrent_provisioning
        )

    def acquire_cleaning_slot(self, namespace: str, name: str) -> bool:
        return self._acquire(
            CLEANING, ObjectKey(namespace, name), self.machine.options.max_concurrent_cleaning
        )

    def _acquire(self, kind: str, key: ObjectKey, limit: int) -> bool:
        """Take one of *limit* slots of *kind* (0: no cap) for *key*: hosts the cache shows holding
        one count, and so does a slot granted here until the cache catches up (a concurrent worker
        cannot overshoot)."""
        if limit <= 0:
            return True
        now = time.monotonic()
        holders = {ObjectKey.of(host) for host in self.hosts.store.by_index(HOLDER_INDEX, kind)}
        claims = {k: t for k, t in self._claims[kind].items() if now - t < _CLAIM_TTL and k not in holders}
        self._claims[kind] = claims
        holders.update(claims)
        holders.discard(key)
        if len(holders) >= limit:
            return False
        claims[key] = now
        return True

    # -- Reconciler ------------------------------------------------------------------------------
    async def reconcile(self, key: ObjectKey) -> Result:
        cached = self.hosts.store.get(key)
        if cached is None:
            return Result()  # gone: the finalizer made sure the provisioner node went first
        step = await self.machine.step(cached, self)
        try:
            await self._apply(cached, step)
        except ApiError as exc:
            if exc.conflict or exc.not_found:
                log.debug("%s: %s; retrying with a fresh cache", key, exc)
                return Result(requeue=True)
            raise
        finally:
            for event in step.events:
                self.recorder.event(cached, event.type, event.reason, event.message)
        if step.requeue_after is not None:
            return Result(requeue_after=max(step.requeue_after, 0.001))
        return Result()

    async def _apply(self, host: dict[str, Any], step: Step) -> None:
        meta = host.get("metadata") or {}
        name, namespace = str(meta["name"]), str(meta.get("namespace") or "")
        version = str(meta.get("resourceVersion") or "")
        if step.hardware is not None:
            await self._write_hardware(host, step.hardware)
        patch_meta: dict[str, Any] = {}
        if step.labels:
            patch_meta["labels"] = dict(step.labels)
        removals = [a for a in step.remove_annotations if a in (meta.get("annotations") or {})]
        if removals:
            patch_meta["annotations"] = dict.fromkeys(removals)
        finalizers = list(meta.get("finalizers") or [])
        if step.add_finalizer and not set(FINALIZERS) & set(finalizers):
            patch_meta["finalizers"] = [*finalizers, L.BMH_FINALIZER]
        if patch_meta:
            patch_meta["resourceVersion"] = version
            try:
                updated = await self.client.patch(BAREMETALHOSTS, name, {"metadata": patch_meta}, namespace)
            except ApiError as exc:
                if exc.status != 422 or "finalizers" not in str(exc) or "finalizers" not in patch_meta:
                    raise
                patch_meta["finalizers"] = [*finalizers, FALLBACK_FINALIZER]
                updated = await self.client.patch(BAREMETALHOSTS, name, {"metadata": patch_meta}, namespace)
            version = str((updated.get("metadata") or {}).get("resourceVersion") or version)
        if step.status != (host.get("status") or {}):
            body = {**host, "metadata": {**meta, "resourceVersion": version}, "status": step.status}
            updated = await self.client.replace(BAREMETALHOSTS, body, subresource="status")
            version = str((updated.get("metadata") or {}).get("resourceVersion") or version)
        if step.remove_finalizer and set(FINALIZERS) & set(finalizers):
            remaining = [f for f in finalizers if f not in FINALIZERS]
            patch = {"metadata": {"finalizers": remaining, "resourceVersion": version}}
            await self.client.patch(BAREMETALHOSTS, name, patch, namespace)

    async def _write_hardware(self, host: dict[str, Any], hardware: dict[str, Any]) -> None:
        """HardwareData of the host's name, owned by the host (garbage-collected with it)."""
        meta = host.get("metadata") or {}
        name, namespace = str(meta["name"]), str(meta.get("namespace") or "")
        owner = {
            "apiVersion": "metal3.io/v1alpha1",
            "kind": "BareMetalHost",
            "name": name,
            "uid": meta.get("uid"),
            "controller": True,
            "blockOwnerDeletion": True,
        }
        body = {
            "apiVersion": "metal3.io/v1alpha1",
            "kind": "HardwareData",
            "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner]},
            "spec": {"hardware": hardware},
        }
        try:
            await self.client.create(HARDWAREDATA, body, namespace)
        except ApiError as exc:
            if not exc.conflict:
                raise
            current = await self.client.get(HARDWAREDATA, name, namespace)
            current.setdefault("metadata", {})["ownerReferences"] = [owner]
            current["spec"] = {"hardware": hardware}
            await self.client.replace(HARDWAREDATA, current)
