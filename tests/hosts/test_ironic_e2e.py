"""End to end: IronicProvisioner against real standalone Ironic and a real Redfish emulator."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import pytest

from teapot.hosts.ironic.images import sha256_of, write_live_iso, write_raw_image
from teapot.hosts.ironic.provisioner import (
    EXPRESS_RUNBOOK,
    IronicProvisioner,
    IronicProvisionerSettings,
    node_name,
)
from teapot.hosts.ironic.service import IronicService
from teapot.hosts.provisioner import (
    BMCAccess,
    CleaningMode,
    ErrorType,
    HostRef,
    ImageFormat,
    ImageSpec,
    InspectResult,
    ProvisioningState,
    ProvisionSpec,
    RegistrationSpec,
    Result,
)

if TYPE_CHECKING:
    from tests.hosts.conftest import Emulator

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def until_done(step: Callable[[], Awaitable[Result]], timeout: float = 90.0) -> Result:
    """Call a level-triggered step until it is no longer in progress (as the controller would)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await step()
        if not result.in_progress:
            return result
        assert time.monotonic() < deadline, f"still in progress: {result.status}"
        await asyncio_sleep(min(result.requeue_after or 1.0, 0.5))


async def asyncio_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def wait_for_engine_state(
    prov: IronicProvisioner, host: HostRef, state: str, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while (status := await prov.observe(host)) is None or status.engine_state != state:
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.3)


def provisioner_for(ironic: IronicService) -> IronicProvisioner:
    return IronicProvisioner(IronicProvisionerSettings(url=ironic.url, poll_interval=0.5))


def registration(emulator: Emulator, index: int = 0, password: str | None = None) -> RegistrationSpec:
    host = emulator.hosts[index]
    return RegistrationSpec(
        bmc=BMCAccess(
            address=host.address(emulator.port),
            username=emulator.username,
            password=password if password is not None else emulator.password,
        ),
        boot_mac=host.mac,
        automated_cleaning_mode=CleaningMode.DISABLED,
    )


async def test_full_lifecycle_live_iso(ironic: IronicService, emulator: Emulator) -> None:
    prov = provisioner_for(ironic)
    host = HostRef("default", f"lifecycle-{emulator.port}")
    timings: dict[str, float] = {}

    def timed(name: str, started: float) -> None:
        timings[name] = round(time.monotonic() - started, 2)

    t = time.monotonic()
    registered = await until_done(lambda: prov.register(host, registration(emulator)))
    timed("register", t)
    assert registered.error is None, registered.error
    assert registered.status is not None
    assert registered.status.engine_state == "manageable"
    host = host.with_id(registered.status.provisioning_id)
    # idempotent: registering again changes nothing and reports done at once
    again = await prov.register(host, registration(emulator))
    assert again.done and again.status is not None and again.status.engine_state == "manageable"

    t = time.monotonic()
    inspected = await until_done(lambda: prov.inspect(host))
    timed("inspect", t)
    assert isinstance(inspected, InspectResult)
    assert inspected.error is None, inspected.error
    details = inspected.details
    assert details is not None
    assert details.cpu.arch == "x86_64"
    assert details.cpu.count == 16
    assert details.cpu.model == "Emulated Xeon"
    assert details.ram_mebibytes == 64 * 1024
    assert [(s.name, s.size_bytes, s.type) for s in details.storage] == [("sda", 480 * 10**9, "HDD")]
    assert emulator.hosts[0].mac in [n.mac for n in details.nics]

    t = time.monotonic()
    prepared = await until_done(lambda: prov.prepare(host, CleaningMode.DISABLED))
    assert prepared.done
    provided = await until_done(lambda: prov.provide(host))
    timed("provide", t)
    assert provided.error is None, provided.error
    assert provided.status is not None and provided.status.state is ProvisioningState.AVAILABLE

    iso = write_live_iso(ironic.http_root / f"live-{emulator.port}.iso")
    spec = ProvisionSpec(
        image=ImageSpec(
            url=f"{ironic.http_url}/{iso.name}", checksum=sha256_of(iso), format=ImageFormat.LIVE_ISO
        )
    )
    t = time.monotonic()
    provisioned = await until_done(lambda: prov.provision(host, spec), timeout=120)
    timed("provision_live_iso", t)
    assert provisioned.error is None, provisioned.error
    assert provisioned.status is not None
    assert provisioned.status.state is ProvisioningState.PROVISIONED
    assert provisioned.status.powered_on is True

    # express cleaning sets the runbook; without an agent ramdisk it fails fast and says why
    t = time.monotonic()
    failed = await until_done(lambda: prov.deprovision(host, CleaningMode.EXPRESS), timeout=120)
    timed("undeploy_then_express_cleaning_fails_without_agent", t)
    assert failed.error is not None and failed.error.type is ErrorType.PROVISIONING
    assert "deploy_kernel" in failed.error.message
    runbook = prov.baremetal.get_runbook(EXPRESS_RUNBOOK)
    assert [s["step"] for s in runbook.steps] == ["erase_devices_express"]
    node = prov.baremetal.get_node(host.provisioning_id)
    assert node.driver_info["cleaning_runbook"] == EXPRESS_RUNBOOK
    await wait_for_engine_state(prov, host, "manageable")

    t = time.monotonic()
    deprovisioned = await until_done(lambda: prov.deprovision(host, CleaningMode.DISABLED), timeout=120)
    timed("deprovision_from_manageable_cleaning_disabled", t)
    assert deprovisioned.error is None, deprovisioned.error
    assert deprovisioned.status is not None and deprovisioned.status.engine_state == "available"
    assert "cleaning_runbook" not in prov.baremetal.get_node(host.provisioning_id).driver_info

    t = time.monotonic()
    deleted = await until_done(lambda: prov.delete(host))
    timed("delete", t)
    assert deleted.done and deleted.status is None
    assert await prov.observe(host) is None
    print(f"TIMINGS {timings}", file=sys.stderr)


async def test_wrong_credentials_are_reported_without_the_password(
    ironic: IronicService, emulator: Emulator
) -> None:
    prov = provisioner_for(ironic)
    host = HostRef("default", f"badcreds-{emulator.port}")
    wrong = "Wr0ng-S3cret-pass"
    spec = registration(emulator, index=1, password=wrong)
    t = time.monotonic()
    result = await until_done(lambda: prov.register(host, spec))
    elapsed = time.monotonic() - t
    assert result.error is not None
    assert result.error.type is ErrorType.REGISTRATION
    assert spec.bmc.address in result.error.message
    assert "authentication failed" in result.error.message
    assert wrong not in result.error.message
    assert result.status is not None and result.status.engine_state == "enroll"
    assert result.status.last_error is not None and wrong not in result.status.last_error
    # level-triggered: asking again reports the same error without retrying
    again = await prov.register(host, spec)
    assert again.error is not None and not again.in_progress
    # fixing the Secret recovers on its own
    fixed = await until_done(lambda: prov.register(host, registration(emulator, index=1)))
    assert fixed.error is None, fixed.error
    assert fixed.status is not None and fixed.status.engine_state == "manageable"
    print(f"TIMINGS wrong_credentials={elapsed:.2f} message={result.error.message!r}", file=sys.stderr)
    await until_done(lambda: prov.delete(host))


async def test_power_on_off_and_detach(ironic: IronicService, emulator: Emulator) -> None:
    prov = provisioner_for(ironic)
    host = HostRef("default", f"power-{emulator.port}")
    spec = dataclasses.replace(registration(emulator), inspection_mode="disabled")
    registered = await until_done(lambda: prov.register(host, spec))
    assert registered.done, registered.error
    assert registered.status is not None and registered.status.powered_on is False
    # inspectionMode: disabled → inspection is a no-op that reports no details
    skipped = await prov.inspect(host)
    assert skipped.done and skipped.details is None
    assert skipped.status is not None and skipped.status.engine_state == "manageable"

    t = time.monotonic()
    on = await until_done(lambda: prov.power(host, True))
    t_on = time.monotonic() - t
    assert on.done and on.status is not None and on.status.powered_on is True
    # stable hosts may be answered from one listing of all nodes (GET /v1/nodes?fields=…)
    listed = await prov.observe(host, max_age=60)
    assert listed is not None and listed.powered_on is True
    assert listed.provisioning_id == on.status.provisioning_id and listed.engine_state == "manageable"
    t = time.monotonic()
    off = await until_done(lambda: prov.power(host, False, hard=True))
    t_off = time.monotonic() - t
    assert off.done and off.status is not None and off.status.powered_on is False
    stale = await prov.observe(host, max_age=60)  # the same listing: no request per host
    assert stale is not None and stale.powered_on is True
    fresh = await prov.observe(host, max_age=1e-6)  # too old now: listed again
    assert fresh is not None and fresh.powered_on is False
    assert (await prov.observe(host)) == fresh

    t = time.monotonic()
    rebooted = await prov.reboot(host)
    assert rebooted.error is None and not rebooted.in_progress
    on_again = await until_done(lambda: prov.power(host, True))
    t_reboot = time.monotonic() - t
    assert on_again.status is not None and on_again.status.powered_on is True

    detached = await prov.detach(host)
    assert detached.done
    assert await prov.observe(host) is None
    assert await prov.observe(host, max_age=1e-6) is None  # not in a new listing: asked directly
    print(
        f"TIMINGS power_on={t_on:.2f} power_off={t_off:.2f} reboot={t_reboot:.2f} ironic_start={ironic.start_seconds}",
        file=sys.stderr,
    )
    assert node_name(host) == f"default~power-{emulator.port}"


async def test_agent_steps_without_an_agent_fail_fast_and_say_why(
    ironic: IronicService, emulator: Emulator
) -> None:
    """Metadata cleaning and ``direct`` deploys need ironic-python-agent; without a deploy ramdisk
    configured they must fail quickly with an actionable error, not hang until a callback timeout."""
    prov = provisioner_for(ironic)
    host = HostRef("default", f"noagent-{emulator.port}")
    registered = await until_done(lambda: prov.register(host, registration(emulator)))
    assert registered.done, registered.error

    t = time.monotonic()
    prepared = await until_done(lambda: prov.prepare(host, CleaningMode.METADATA))
    assert prepared.error is not None and prepared.error.type is ErrorType.PREPARATION
    assert "deploy_kernel" in prepared.error.message
    assert time.monotonic() - t < 30
    # the failed cleaning is turned back into "manageable" so a later retry can start again
    await wait_for_engine_state(prov, host, "manageable")

    provided = await until_done(lambda: prov.provide(host))
    assert provided.done, provided.error
    image = write_raw_image(ironic.http_root / f"disk-{emulator.port}.raw")
    spec = ProvisionSpec(
        ImageSpec(f"{ironic.http_url}/{image.name}", sha256_of(image), format=ImageFormat.RAW)
    )
    provisioned = await until_done(lambda: prov.provision(host, spec))
    assert provisioned.error is not None and provisioned.error.type is ErrorType.PROVISIONING
    assert "deploy" in provisioned.error.message and "deploy_kernel" in provisioned.error.message
    assert provisioned.status is not None and provisioned.status.engine_state == "available"
    await until_done(lambda: prov.delete(host))


async def test_tls_bmc_needs_trust_or_disabled_verification(
    ironic: IronicService, tls_emulator: Emulator
) -> None:
    prov = provisioner_for(ironic)
    base = registration(tls_emulator)
    https = tls_emulator.hosts[0].address(tls_emulator.port, scheme="redfish-virtualmedia+https")

    strict = HostRef("default", f"tls-strict-{tls_emulator.port}")
    spec = dataclasses.replace(base, bmc=dataclasses.replace(base.bmc, address=https))
    refused = await until_done(lambda: prov.register(strict, spec))
    assert refused.error is not None and refused.error.type is ErrorType.REGISTRATION
    assert "disableCertificateVerification" in refused.error.message

    relaxed = HostRef("default", f"tls-relaxed-{tls_emulator.port}")
    spec = dataclasses.replace(spec, bmc=dataclasses.replace(spec.bmc, disable_certificate_verification=True))
    accepted = await until_done(lambda: prov.register(relaxed, spec))
    assert accepted.error is None, accepted.error
    assert accepted.status is not None and accepted.status.engine_state == "manageable"
    for host in (strict, relaxed):
        await until_done(lambda host=host: prov.delete(host))
