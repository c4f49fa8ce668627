"""Metal3's BareMetalHost state machine over a :class:`~teapot.hosts.provisioner.Provisioner`.

Why this shape: one reconcile = read the host → decide → at most one provisioner action → a
:class:`~.step.Step` describing what to write. The table :data:`HostStateMachine._handlers` maps
each ``status.provisioning.state`` to one handler, in the manner of Ironic's explicit transition
table; cross-cutting rules run before it in a fixed order: paused → deleting → detached →
error back-off → (re-)registration → state handler. Every decision is a function of the host
object, the Secrets and what the provisioner reports, so kill -9 at any point and a restart
continues from ``status`` (the node is found again by ``status.provisioning.ID`` or by name).

Transitions (Metal3's): registering → inspecting | preparing | externally provisioned;
inspecting → preparing; preparing → available; available → provisioning (image set) | inspecting
(``inspect.metal3.io``) | externally provisioned; provisioning → provisioned | deprovisioning (image
removed); provisioned → deprovisioning (image removed or changed); deprovisioning → available;
any → (deprovisioning →) powering off before delete → deleting when the host is deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from teapot.api import labels as L
from teapot.api.metal3 import BareMetalHostSpec
from teapot.hosts.controller.context import STABLE_STATES, HostContext, uses_virtual_media
from teapot.hosts.controller.options import Clock, HostControllerOptions, SystemClock, format_time, parse_time
from teapot.hosts.controller.step import SecretData, Step, World
from teapot.hosts.controller.traits import TRAIT_LABELS, hardware_document, trait_labels
from teapot.hosts.provisioner import (
    BMCAccess,
    BootMode,
    CleaningMode,
    ErrorType,
    ImageFormat,
    ImageSpec,
    Provisioner,
    ProvisionerUnavailable,
    ProvisioningState,
    ProvisionSpec,
    RegistrationSpec,
    Result,
)

__all__ = ["HostStateMachine"]

log = logging.getLogger(__name__)
S = ProvisioningState
_SLOT_STATES = (S.PROVISIONING, S.DEPROVISIONING)
#: After a transition: the status write's own watch event brings the host back (no timer needed).
_NEXT: float | None = None
Handler = Callable[[HostContext, World], Awaitable[Step]]


def _message(result: Result) -> str:
    """The provisioner's error message; a bare error type gets the engine's state added."""
    assert result.error is not None
    message = result.error.message
    if message == result.error.type.value and result.status is not None:
        message = f"{message} (provisioner state {result.status.engine_state!r})"
    return message


class HostStateMachine:
    def __init__(
        self,
        provisioner: Provisioner,
        options: HostControllerOptions = HostControllerOptions(),
        clock: Clock | None = None,
    ) -> None:
        self.provisioner = provisioner
        self.options = options
        self.clock: Clock = clock or SystemClock()
        self._handlers: dict[ProvisioningState, Handler] = {
            S.NONE: self._new,
            S.UNMANAGED: self._unmanaged,
            S.REGISTERING: self._registering,
            S.INSPECTING: self._inspecting,
            S.PREPARING: self._preparing,
            S.AVAILABLE: self._available,
            S.PROVISIONING: self._provisioning,
            S.PROVISIONED: self._provisioned,
            S.EXTERNALLY_PROVISIONED: self._externally_provisioned,
            S.DEPROVISIONING: self._deprovisioning,
            S.POWERING_OFF_BEFORE_DELETE: self._registering,  # only reached while deleting
            S.DELETING: self._registering,
        }

    # -- entry point -----------------------------------------------------------------------------
    async def step(self, obj: dict[str, Any], world: World) -> Step:
        """Decide one step for the host *obj* (a BareMetalHost as read from the API)."""
        raw_spec = obj.get("spec") or {}
        spec = BareMetalHostSpec.model_validate({"online": False, **raw_spec})
        ctx = HostContext(obj, spec, self.options, self.clock.now())
        if ctx.annotated(L.PAUSED):
            return Step(status=ctx.status)  # Metal3: a paused host is not reconciled at all
        if not ctx.has_finalizer and not ctx.deleting:
            step = await self._dispatch(ctx, world)
            return replace(step, add_finalizer=True)
        return await self._dispatch(ctx, world)

    async def _dispatch(self, ctx: HostContext, world: World) -> Step:
        try:
            if ctx.deleting:
                return await self._delete(ctx, world)
            if ctx.annotated(L.DETACHED):
                return await self._detach(ctx)
            if ctx.status.get("operationalStatus") == "detached":
                ctx.status["operationalStatus"] = "OK"
                ctx.status.pop("goodCredentials", None)  # re-register: the node was removed
                ctx.event("Normal", "Attached", "detached annotation removed; registering again")
            waiting = self._wait_for_backoff(ctx, world)
            if waiting is not None:
                return waiting
            if ctx.state not in (S.NONE, S.UNMANAGED, S.REGISTERING):
                # Transient states learn the node's state from their own call; looking it up as
                # well would double the load on the engine while many hosts are busy.
                observed = ctx.retrying or ctx.state in STABLE_STATES or ctx.state == S.PROVISIONING
                if observed:
                    ctx.node = await self.provisioner.observe(ctx.ref, max_age=self._observe_age(ctx))
                if self._needs_registration(ctx, world, observed):
                    registered = await self._register(ctx, world)
                    if registered is not None:
                        return registered
            return await self._handlers[ctx.state](ctx, world)
        except ProvisionerUnavailable as exc:
            log.warning("%s: provisioner unavailable: %s", ctx.key, exc)
            ctx.event("Warning", "ProvisionerUnavailable", str(exc))
            return ctx.finish(self.options.unavailable_poll)

    # -- cross-cutting ---------------------------------------------------------------------------
    def _wait_for_backoff(self, ctx: HostContext, world: World) -> Step | None:
        """While an error's back-off runs, do nothing — unless the spec or the credentials changed."""
        if not ctx.error_type:
            return None
        ready: dict[str, Any] = next(
            (c for c in ctx.status.get("conditions") or [] if c.get("type") == "Ready"), {}
        )
        spec_changed = ready.get("observedGeneration") not in (None, ctx.generation)
        if (
            ctx.error_type == ErrorType.PROVISIONING.value
            and ctx.state == S.PROVISIONING
            and ctx.error_count > self.options.provisioning_retries
            and not spec_changed
        ):
            return Step(status=ctx.status)  # out of retries: wait for a new spec
        remaining = ctx.backoff_remaining()
        if remaining > 0 and not spec_changed and not self._credentials_changed(ctx, world):
            return Step(status=ctx.status, requeue_after=remaining)
        ctx.retrying = True
        ctx.clear_error()
        return None

    def _observe_age(self, ctx: HostContext) -> float:
        """How old an observation may be: ``stable_observe_age`` for a host that has been in its
        stable state at least that long (so the answer cannot predate the state), else fresh."""
        age = self.options.stable_observe_age
        if age <= 0 or ctx.retrying or ctx.state not in STABLE_STATES:
            return 0.0
        since = parse_time(ctx.status.get("lastUpdated"))
        return age if since is not None and (ctx.now - since).total_seconds() >= age else 0.0

    def _credentials(self, ctx: HostContext, world: World) -> SecretData | None:
        if ctx.spec.bmc is None:
            return None
        return world.secret(ctx.namespace, ctx.spec.bmc.credentials_name)

    def _credentials_changed(self, ctx: HostContext, world: World) -> bool:
        secret = self._credentials(ctx, world)
        tried = ctx.status.get("triedCredentials") or {}
        return secret is not None and (
            tried.get("credentialsVersion") != secret.resource_version
            or (tried.get("credentials") or {}).get("name") != secret.name
        )

    def _needs_registration(self, ctx: HostContext, world: World, observed: bool) -> bool:
        if observed and ctx.node is None:
            return True
        secret = self._credentials(ctx, world)
        good = ctx.status.get("goodCredentials") or {}
        return secret is None or (
            good.get("credentialsVersion") != secret.resource_version
            or (good.get("credentials") or {}).get("name") != secret.name
        )

    async def _register(self, ctx: HostContext, world: World) -> Step | None:
        """Create/update the node from the BMC spec and Secret; ``None`` when registered."""
        bmc = ctx.spec.bmc
        assert bmc is not None
        provisioned = ctx.state in (S.PROVISIONED, S.EXTERNALLY_PROVISIONED)
        kind = ErrorType.PROVISIONED_REGISTRATION if provisioned else ErrorType.REGISTRATION
        secret = self._credentials(ctx, world)
        if secret is None:
            return ctx.fail(kind, f"BMC {bmc.address}: credentials Secret {bmc.credentials_name!r} not found")
        username, password = secret.data.get("username"), secret.data.get("password")
        if not username or not password:
            return ctx.fail(
                kind, f"BMC {bmc.address}: Secret {bmc.credentials_name!r} needs 'username' and 'password'"
            )
        version = {
            "credentials": {"name": secret.name, "namespace": ctx.namespace},
            "credentialsVersion": secret.resource_version,
        }
        ctx.status["triedCredentials"] = version
        spec = RegistrationSpec(
            bmc=BMCAccess(bmc.address, username, password, bool(bmc.disable_certificate_verification)),
            boot_mac=ctx.spec.boot_mac_address,
            boot_mode=BootMode(ctx.spec.boot_mode or "UEFI"),
            architecture=ctx.spec.architecture,
            inspection_mode=ctx.spec.inspection_mode,
            automated_cleaning_mode=self._cleaning(ctx),
        )
        result = await self.provisioner.register(ctx.ref, spec, force=ctx.retrying)
        if result.error is not None:
            message = _message(result)
            if bmc.address not in message:
                message = f"BMC {bmc.address}: {message}"
            return ctx.fail(kind, message)
        if result.status is not None:
            ctx.provisioning["ID"] = result.status.provisioning_id
            ctx.node = result.status
        if result.in_progress:
            return ctx.finish(self._poll(ctx, result))
        ctx.status["goodCredentials"] = version
        ctx.observe_power(result.status)
        if ctx.error_type == "":
            ctx.status.setdefault("operationalStatus", "OK")
        return None

    def _slot(self, ctx: HostContext, world: World) -> bool:
        address = ctx.spec.bmc.address if ctx.spec.bmc else None
        if self.options.virtual_media_exempt and uses_virtual_media(address):
            return True
        return world.acquire_provisioning_slot(ctx.namespace, ctx.name)

    @staticmethod
    def _cleaning(ctx: HostContext) -> CleaningMode:
        return CleaningMode(ctx.spec.automated_cleaning_mode or "metadata")

    def _poll(self, ctx: HostContext, result: Result | None = None) -> float:
        """How soon to look at a busy host again: the provisioner's hint at first, then slower the
        longer the state lasts (a 10-minute cleaning need not be polled every second)."""
        base = (result.requeue_after if result is not None else None) or self.options.busy_poll
        since = parse_time(ctx.status.get("lastUpdated"))
        elapsed = (ctx.now - since).total_seconds() if since is not None else 0.0
        return min(max(base, elapsed * self.options.poll_growth), max(base, self.options.busy_poll_cap))

    # -- states ----------------------------------------------------------------------------------
    async def _new(self, ctx: HostContext, world: World) -> Step:
        if ctx.spec.bmc is None:
            ctx.goto(S.UNMANAGED, "no BMC address")
            ctx.status["operationalStatus"] = "discovered"
            return ctx.finish(None)
        ctx.status.setdefault("errorCount", 0)
        ctx.status["operationalStatus"] = "OK"
        ctx.goto(S.REGISTERING)
        return ctx.finish(_NEXT)

    async def _unmanaged(self, ctx: HostContext, world: World) -> Step:
        if ctx.spec.bmc is not None:
            ctx.status["operationalStatus"] = "OK"
            ctx.goto(S.REGISTERING, "BMC address set")
            return ctx.finish(_NEXT)
        return ctx.finish(None)

    async def _registering(self, ctx: HostContext, world: World) -> Step:
        if ctx.spec.bmc is None:
            ctx.goto(S.UNMANAGED, "no BMC address")
            return ctx.finish(None)
        step = await self._register(ctx, world)
        if step is not None:
            return step
        ctx.succeeded()
        inspect_off = ctx.spec.inspection_mode == "disabled" or ctx.annotations.get(L.INSPECT) == "disabled"
        if ctx.spec.externally_provisioned:
            ctx.goto(S.EXTERNALLY_PROVISIONED, "registered; externallyProvisioned")
        elif inspect_off:
            self._enter_preparing(ctx, world, "registered; inspection disabled")
        else:
            ctx.goto(S.INSPECTING, "registered")
        return ctx.finish(_NEXT)

    async def _inspecting(self, ctx: HostContext, world: World) -> Step:
        requested = ctx.annotated(L.INSPECT) and ctx.annotations[L.INSPECT] != "disabled"
        result = await self.provisioner.inspect(ctx.ref, force=requested or ctx.retrying)
        if result.error is not None:
            return ctx.fail(ErrorType.INSPECTION, _message(result))
        if requested and result.status is not None and result.status.state == S.INSPECTING:
            ctx.remove_annotations.append(L.INSPECT)  # the requested inspection has started
        if result.in_progress or result.details is None:
            return ctx.finish(self._poll(ctx, result))
        if requested:
            ctx.remove_annotations.append(L.INSPECT)
        document = hardware_document(result.details)
        ctx.hardware = document
        ctx.status["hardware"] = document
        wanted = trait_labels(result.details)
        current = ctx.meta.get("labels") or {}
        ctx.labels.update({key: None for key in TRAIT_LABELS if key in current and key not in wanted})
        ctx.labels.update({k: v for k, v in wanted.items() if current.get(k) != v})
        ctx.observe_power(result.status)
        ctx.succeeded()
        self._enter_preparing(ctx, world, "inspection complete")
        return ctx.finish(_NEXT)

    def _enter_preparing(self, ctx: HostContext, world: World, why: str) -> None:
        """Go to ``preparing``, taking a cleaning slot now or waiting for one as ``delayed``."""
        ctx.goto(S.PREPARING, why)
        if self._cleaning(ctx) is not CleaningMode.DISABLED and not world.acquire_cleaning_slot(
            ctx.namespace, ctx.name
        ):
            ctx.status["operationalStatus"] = "delayed"

    async def _preparing(self, ctx: HostContext, world: World) -> Step:
        # Teapot has no RAID/firmware settings (Metal3's manual cleaning in this state), so
        # preparing is Ironic's "provide": automated cleaning per automatedCleaningMode. A host
        # that holds no cleaning slot (delayed, or retrying after an error) takes one first.
        cleans = self._cleaning(ctx) is not CleaningMode.DISABLED
        waiting = ctx.status.get("operationalStatus") == "delayed" or ctx.retrying
        if cleans and waiting and not world.acquire_cleaning_slot(ctx.namespace, ctx.name):
            ctx.status["operationalStatus"] = "delayed"
            return ctx.finish(self.options.delayed_poll)
        if ctx.status.get("operationalStatus") == "delayed":
            ctx.status["operationalStatus"] = "OK"
        result = await self.provisioner.provide(ctx.ref)
        if result.error is not None:
            return ctx.fail(ErrorType.PREPARATION, _message(result))
        if result.in_progress:
            return ctx.finish(self._poll(ctx, result))
        ctx.observe_power(result.status)
        ctx.succeeded()
        ctx.goto(S.AVAILABLE, "ready for provisioning")
        return ctx.finish(_NEXT)

    async def _available(self, ctx: HostContext, world: World) -> Step:
        if ctx.annotated(L.INSPECT) and ctx.annotations[L.INSPECT] != "disabled":
            ctx.goto(S.INSPECTING, "inspect.metal3.io annotation")
            return ctx.finish(_NEXT)
        if ctx.spec.externally_provisioned:
            ctx.goto(S.EXTERNALLY_PROVISIONED, "externallyProvisioned set")
            return ctx.finish(_NEXT)
        if ctx.spec.image is not None:
            if not self._slot(ctx, world):
                ctx.status["operationalStatus"] = "delayed"
                return ctx.finish(self.options.delayed_poll)
            ctx.status["operationalStatus"] = "OK"
            ctx.provisioning["image"] = ctx.spec.image.to_wire()
            ctx.goto(S.PROVISIONING, f"image {ctx.spec.image.url}")
            return ctx.finish(_NEXT)
        if ctx.status.get("operationalStatus") == "delayed":
            ctx.status["operationalStatus"] = "OK"
        node = ctx.node
        if node is not None and node.state == S.PREPARING and not node.busy:
            # Re-registered (after detach or a lost Ironic database): make the node available again.
            result = await self.provisioner.provide(ctx.ref)
            if result.error is not None:
                return ctx.fail(ErrorType.PREPARATION, _message(result))
            return ctx.finish(self._poll(ctx, result))
        return await self._manage_power(ctx)

    async def _provisioning(self, ctx: HostContext, world: World) -> Step:
        if ctx.spec.image is None:
            ctx.goto(S.DEPROVISIONING, "image removed")
            return ctx.finish(_NEXT)
        image = ctx.spec.image.to_wire()
        if ctx.provisioning.get("image") != image:
            ctx.provisioning["image"] = image
            ctx.status["errorCount"] = 0  # a new image gets its own retries
        node = ctx.node
        if node is not None and node.state == S.DEPROVISIONING:
            return ctx.finish(self._poll(ctx))  # undeploying after a failed attempt
        if ctx.retrying and node is not None and node.state == S.PROVISIONING and not node.busy:
            # A failed deployment: undeploy (Ironic "deleted"), then deploy again.
            result = await self.provisioner.deprovision(ctx.ref, self._cleaning(ctx))
            if result.error is not None:
                return ctx.fail(ErrorType.PROVISIONING, _message(result))
            ctx.event(
                "Normal",
                "ProvisioningRetry",
                f"attempt {ctx.error_count + 1} of {self.options.provisioning_retries + 1}",
            )
            return ctx.finish(self._poll(ctx, result))
        try:
            spec = self._provision_spec(ctx, world)
        except ValueError as exc:
            return ctx.fail(ErrorType.PROVISIONING, str(exc))
        result = await self.provisioner.provision(ctx.ref, spec)
        if result.error is not None:
            return ctx.fail(ErrorType.PROVISIONING, _message(result))
        if result.in_progress:
            return ctx.finish(self._poll(ctx, result))
        ctx.observe_power(result.status)
        ctx.succeeded()
        ctx.goto(S.PROVISIONED, f"image {ctx.spec.image.url}")
        return ctx.finish(_NEXT)

    def _provision_spec(self, ctx: HostContext, world: World) -> ProvisionSpec:
        image = ctx.spec.image
        assert image is not None
        fmt = ImageFormat(image.format) if image.format else None
        checksum_type = None if image.checksum_type in (None, "auto") else image.checksum_type

        def secret_text(ref: Any, keys: tuple[str, ...]) -> str | None:
            if ref is None or not ref.name:
                return None
            secret = world.secret(ref.namespace or ctx.namespace, ref.name)
            if secret is None:
                raise ValueError(f"Secret {ref.name!r} not found")
            for key in keys:
                if key in secret.data:
                    return secret.data[key]
            raise ValueError(f"Secret {ref.name!r} has none of the keys {', '.join(keys)}")

        hints = ctx.spec.root_device_hints.model_dump(exclude_none=True) if ctx.spec.root_device_hints else {}
        return ProvisionSpec(
            image=ImageSpec(image.url, image.checksum, checksum_type, fmt),
            user_data=secret_text(ctx.spec.user_data, ("userData", "value")),
            network_data=secret_text(ctx.spec.network_data, ("networkData", "nmstate", "value")),
            meta_data=secret_text(ctx.spec.meta_data, ("metaData", "value")),
            root_device_hints=tuple(sorted((k, str(v)) for k, v in hints.items())),
        )

    async def _provisioned(self, ctx: HostContext, world: World) -> Step:
        image = ctx.spec.image
        if image is None or (ctx.provisioning.get("image") or {}).get("url") != image.url:
            if not self._slot(ctx, world):
                ctx.status["operationalStatus"] = "delayed"
                return ctx.finish(self.options.delayed_poll)
            ctx.status["operationalStatus"] = "OK"
            ctx.goto(S.DEPROVISIONING, "image removed" if image is None else "image changed")
            return ctx.finish(_NEXT)
        return await self._manage_power(ctx)

    async def _externally_provisioned(self, ctx: HostContext, world: World) -> Step:
        if not ctx.spec.externally_provisioned:
            self._enter_preparing(ctx, world, "externallyProvisioned cleared")
            return ctx.finish(_NEXT)
        return await self._manage_power(ctx)

    async def _deprovisioning(self, ctx: HostContext, world: World) -> Step:
        mode = self._cleaning(ctx)
        result = await self.provisioner.deprovision(ctx.ref, mode)
        if result.error is not None:
            return ctx.fail(ErrorType.PROVISIONING, _message(result))
        if result.in_progress:
            return ctx.finish(self._poll(ctx, result))
        started = parse_time(
            ((ctx.status.get("operationHistory") or {}).get("deprovision") or {}).get("start")
        )
        finished = ctx.stamp()
        ctx.status["lastCleaning"] = {
            "mode": mode.value,
            "startedAt": finished if started is None else format_time(started),
            "finishedAt": finished,
            "durationSeconds": round((ctx.now - started).total_seconds(), 3) if started else 0.0,
        }
        ctx.provisioning.pop("image", None)
        ctx.observe_power(result.status)
        ctx.succeeded()
        if ctx.deleting:
            ctx.goto(S.POWERING_OFF_BEFORE_DELETE, f"deprovisioned ({mode.value} cleaning)")
        else:
            ctx.goto(S.AVAILABLE, f"deprovisioned ({mode.value} cleaning)")
        return ctx.finish(_NEXT)

    # -- power -----------------------------------------------------------------------------------
    async def _manage_power(self, ctx: HostContext) -> Step:
        """Stable states: apply the reboot annotation and keep the power as ``spec.online`` says."""
        node = ctx.node
        ctx.observe_power(node)
        if ctx.annotated(L.REBOOT):
            result = await self.provisioner.reboot(ctx.ref)
            if result.error is not None:
                return ctx.fail(ErrorType.POWER_MANAGEMENT, _message(result))
            if result.in_progress:
                return ctx.finish(self._poll(ctx, result))
            ctx.remove_annotations.append(L.REBOOT)
            ctx.event("Normal", "Rebooted", "reboot requested by the reboot.metal3.io annotation")
            return ctx.finish(self.options.busy_poll)
        held_off = any(key.startswith(L.REBOOT + "/") for key in ctx.annotations)
        wanted = ctx.spec.online and not held_off
        if node is not None and node.powered_on is not None and node.powered_on != wanted:
            result = await self.provisioner.power(ctx.ref, wanted)
            if result.error is not None:
                return ctx.fail(ErrorType.POWER_MANAGEMENT, _message(result))
            if result.in_progress or (result.status is not None and result.status.powered_on != wanted):
                if not node.busy:
                    ctx.event(
                        "Normal",
                        "PowerOn" if wanted else "PowerOff",
                        f"powering {'on' if wanted else 'off'} (online: {ctx.spec.online})",
                    )
                return ctx.finish(self._poll(ctx, result))
            ctx.observe_power(result.status)
        if ctx.error_count and ctx.state in STABLE_STATES:
            ctx.succeeded()
        return ctx.finish(self.options.stable_poll)

    # -- detach and delete -----------------------------------------------------------------------
    async def _detach(self, ctx: HostContext) -> Step:
        if ctx.status.get("operationalStatus") == "detached":
            return ctx.finish(None)
        waiting = ctx.backoff_remaining()
        if waiting > 0:
            return Step(status=ctx.status, requeue_after=waiting)
        ctx.clear_error()
        result = await self.provisioner.detach(ctx.ref)
        if result.error is not None:
            return ctx.fail(ErrorType.DETACH, _message(result))
        if result.in_progress:
            return ctx.finish(self._poll(ctx, result))
        ctx.status["operationalStatus"] = "detached"
        ctx.provisioning.pop("ID", None)
        ctx.event("Normal", "Detached", "removed from the provisioner without deprovisioning")
        return ctx.finish(None)

    async def _delete(self, ctx: HostContext, world: World) -> Step:
        if not ctx.has_finalizer:
            return Step(status=ctx.status)
        if ctx.spec.bmc is None or ctx.state in (S.NONE, S.UNMANAGED) or ctx.annotated(L.DETACHED):
            if ctx.annotated(L.DETACHED) and ctx.status.get("operationalStatus") != "detached":
                result = await self.provisioner.detach(ctx.ref)
                if result.error is not None or result.in_progress:
                    return ctx.fail(ErrorType.DETACH, _message(result) if result.error else "detaching")
            return self._release(ctx)
        remaining = ctx.backoff_remaining()
        if remaining > 0:
            return Step(status=ctx.status, requeue_after=remaining)
        errors = ctx.error_count if ctx.error_type else 0
        ctx.clear_error()
        node = await self.provisioner.observe(ctx.ref)
        state = ctx.state
        if node is None and state != S.DELETING:
            ctx.goto(S.DELETING, "no provisioner node")
            return ctx.finish(_NEXT)
        if state in (S.PROVISIONING, S.PROVISIONED) and not ctx.spec.externally_provisioned:
            ctx.goto(S.DEPROVISIONING, "host deleted")
            return ctx.finish(_NEXT)
        if state == S.DEPROVISIONING:
            return await self._deprovisioning(ctx, world)
        if state not in (S.POWERING_OFF_BEFORE_DELETE, S.DELETING):
            ctx.goto(S.POWERING_OFF_BEFORE_DELETE, "host deleted")
            return ctx.finish(_NEXT)
        if state == S.POWERING_OFF_BEFORE_DELETE:
            registered = bool((ctx.status.get("goodCredentials") or {}).get("credentialsVersion"))
            if node is None or node.powered_on is False or not registered:
                ctx.goto(S.DELETING, "powered off")
                return ctx.finish(_NEXT)
            result = await self.provisioner.power(ctx.ref, False, hard=True)
            if result.error is not None:
                if errors + 1 >= self.options.delete_power_off_attempts:
                    ctx.goto(S.DELETING, f"giving up powering off: {_message(result)}")
                    return ctx.finish(_NEXT)
                return ctx.fail(ErrorType.POWER_MANAGEMENT, _message(result))
            ctx.observe_power(result.status)
            if result.in_progress or (result.status is not None and result.status.powered_on):
                return ctx.finish(self._poll(ctx, result))
            ctx.goto(S.DELETING, "powered off")
            return ctx.finish(_NEXT)
        result = await self.provisioner.delete(ctx.ref)
        if result.error is not None:
            return ctx.fail(ErrorType.PROVISIONING, _message(result))
        if result.in_progress:
            return ctx.finish(self._poll(ctx, result))
        return self._release(ctx)

    @staticmethod
    def _release(ctx: HostContext) -> Step:
        ctx.event("Normal", "Deleted", "provisioner node removed; finalizer released")
        step = ctx.finish(None)
        return replace(step, remove_finalizer=True)
