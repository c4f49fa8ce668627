"""The contract between the BareMetalHost controller and whatever provisions machines.

Why this module exists: the host controller must not know Ironic. It reconciles Metal3's
``BareMetalHost`` state machine and, at each step, asks a :class:`Provisioner` to move a machine one
step and report what it observes. Keeping that boundary small (frozen dataclasses in and out, no
Ironic types) lets the controller be unit-tested against a fake, lets Teapot drive an Ironic it
started or an existing one, and keeps credentials inside one layer.

Level-triggered contract: every method is idempotent. Calling it again while the operation runs
only reports progress; calling it after it finished reports success without acting again. Each call
returns a :class:`Result`: ``in_progress`` plus ``requeue_after`` tell the controller to come back,
``error`` carries a Metal3 ``errorType`` and a message that is safe to put in ``status`` (never any
credentials). The Protocol is ``async`` because the controller runs on an asyncio loop; blocking
implementations hop to a thread inside the implementation, not in every caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = [
    "CPU",
    "GPU",
    "NIC",
    "BMCAccess",
    "BootMode",
    "CleaningMode",
    "ErrorType",
    "HardwareDetails",
    "HostRef",
    "ImageFormat",
    "ImageSpec",
    "InspectResult",
    "NodeStatus",
    "ProvisionSpec",
    "Provisioner",
    "ProvisionerError",
    "ProvisionerUnavailable",
    "ProvisioningState",
    "RegistrationSpec",
    "Result",
    "Storage",
]


class ProvisioningState(StrEnum):
    """Metal3's ``status.provisioning.state`` values."""

    NONE = ""
    UNMANAGED = "unmanaged"
    REGISTERING = "registering"
    INSPECTING = "inspecting"
    PREPARING = "preparing"
    AVAILABLE = "available"
    PROVISIONING = "provisioning"
    PROVISIONED = "provisioned"
    EXTERNALLY_PROVISIONED = "externally provisioned"
    DEPROVISIONING = "deprovisioning"
    POWERING_OFF_BEFORE_DELETE = "powering off before delete"
    DELETING = "deleting"


class ErrorType(StrEnum):
    """Metal3's ``status.errorType`` values."""

    REGISTRATION = "registration error"
    INSPECTION = "inspection error"
    PREPARATION = "preparation error"
    PROVISIONING = "provisioning error"
    PROVISIONED_REGISTRATION = "provisioned registration error"
    POWER_MANAGEMENT = "power management error"
    DETACH = "detach error"


class CleaningMode(StrEnum):
    """Disk wiping between tenants: Metal3's two modes plus Teapot's ``express``.

    ``express`` asks for the fastest destructive erase the hardware offers (NVMe/ATA crypto or
    secure erase) and falls back to a metadata erase where none is offered.
    """

    DISABLED = "disabled"
    METADATA = "metadata"
    EXPRESS = "express"


class BootMode(StrEnum):
    UEFI = "UEFI"
    UEFI_SECURE_BOOT = "UEFISecureBoot"
    LEGACY = "legacy"


class ImageFormat(StrEnum):
    RAW = "raw"
    QCOW2 = "qcow2"
    VDI = "vdi"
    VMDK = "vmdk"
    LIVE_ISO = "live-iso"


@dataclass(frozen=True)
class HostRef:
    """Which machine: the BareMetalHost's namespace/name and, once known, the provisioner's ID."""

    namespace: str
    name: str
    provisioning_id: str | None = None

    def with_id(self, provisioning_id: str | None) -> HostRef:
        return HostRef(self.namespace, self.name, provisioning_id)


@dataclass(frozen=True)
class BMCAccess:
    """BMC address (Metal3 URL syntax) and credentials. The password never appears in ``repr``."""

    address: str
    username: str
    password: str = field(repr=False)
    disable_certificate_verification: bool = False


@dataclass(frozen=True)
class RegistrationSpec:
    bmc: BMCAccess
    boot_mac: str | None = None
    boot_mode: BootMode = BootMode.UEFI
    architecture: str | None = None
    #: ``disabled`` skips inspection; ``agent`` uses in-band inspection; ``fast``/``None`` out-of-band.
    inspection_mode: str | None = None
    automated_cleaning_mode: CleaningMode = CleaningMode.METADATA


@dataclass(frozen=True)
class ImageSpec:
    url: str
    checksum: str | None = None
    #: ``md5``, ``sha256``, ``sha512`` or ``None`` (auto-detect from the checksum's length).
    checksum_type: str | None = None
    format: ImageFormat | None = None


@dataclass(frozen=True)
class ProvisionSpec:
    image: ImageSpec
    user_data: str | None = None
    network_data: str | None = None
    meta_data: str | None = None
    root_device_hints: tuple[tuple[str, str], ...] = ()


class ProvisionerUnavailable(RuntimeError):
    """The provisioning engine itself cannot be reached: requeue, but do not blame the host."""


@dataclass(frozen=True)
class ProvisionerError:
    """A failure in words a person can act on; safe for ``status`` (credentials removed)."""

    type: ErrorType
    message: str


@dataclass(frozen=True)
class NodeStatus:
    """What the provisioner observes about one machine."""

    provisioning_id: str
    #: The engine's own state name (for Ironic: ``provision_state``), for messages and debugging.
    engine_state: str
    #: The Metal3 state this engine state corresponds to.
    state: ProvisioningState
    powered_on: bool | None
    #: A power change or provisioning operation is under way.
    busy: bool
    maintenance: bool
    last_error: str | None


@dataclass(frozen=True)
class Result:
    status: NodeStatus | None
    in_progress: bool = False
    requeue_after: float | None = None
    error: ProvisionerError | None = None

    @property
    def done(self) -> bool:
        return not self.in_progress and self.error is None


@dataclass(frozen=True)
class CPU:
    arch: str
    model: str
    count: int
    clock_megahertz: float | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class NIC:
    name: str
    mac: str
    speed_gbps: float | None = None
    ip: str | None = None
    pxe: bool = False


@dataclass(frozen=True)
class Storage:
    name: str
    size_bytes: int
    #: ``HDD``, ``SSD`` or ``NVME``.
    type: str
    rotational: bool
    model: str | None = None
    serial: str | None = None


@dataclass(frozen=True)
class GPU:
    vendor: str
    model: str
    pci_address: str | None = None


@dataclass(frozen=True)
class HardwareDetails:
    """Inspection results, shaped like Metal3's ``HardwareData.spec.hardware`` (plus GPUs)."""

    cpu: CPU
    ram_mebibytes: int
    nics: tuple[NIC, ...] = ()
    storage: tuple[Storage, ...] = ()
    gpus: tuple[GPU, ...] = ()
    system_vendor: tuple[tuple[str, str], ...] = ()
    firmware: tuple[tuple[str, str], ...] = ()
    hostname: str | None = None


@dataclass(frozen=True)
class InspectResult(Result):
    """A :class:`Result` that carries the hardware details once inspection has finished."""

    details: HardwareDetails | None = None


@runtime_checkable
class Provisioner(Protocol):
    """What the BareMetalHost controller calls. Every method is idempotent (see module docstring)."""

    async def observe(self, host: HostRef, *, max_age: float = 0.0) -> NodeStatus | None:
        """Current state of the machine, or ``None`` if the provisioner does not know it.

        *max_age* > 0 accepts an answer up to that many seconds old, so a provisioner may serve
        many hosts in stable states from one listing; every action re-reads the machine itself,
        so a stale answer costs at most an action that turns out to be a no-op.
        """
        ...

    async def register(self, host: HostRef, spec: RegistrationSpec, *, force: bool = False) -> Result:
        """Create or update the machine from its BMC and check that power/management work.

        Changed credentials are detected and applied. A failed check is reported as an error until
        the credentials change or *force* asks to check again (the controller's back-off decides).
        ``Result.status.provisioning_id`` is the ID to store in ``status.provisioning.ID``.
        """
        ...

    async def inspect(self, host: HostRef, *, force: bool = False) -> InspectResult:
        """Inspect once; ``details`` is set when inspection has finished.

        *force* starts a new inspection unless one is running (a failed one is retried); pass it on
        the first call only, as for the ``inspect.metal3.io`` annotation.
        """
        ...

    async def prepare(self, host: HostRef, cleaning: CleaningMode) -> Result:
        """Clean a registered, not-yet-available machine (manual cleaning)."""
        ...

    async def provide(self, host: HostRef) -> Result:
        """Make a prepared machine available for provisioning."""
        ...

    async def provision(self, host: HostRef, spec: ProvisionSpec) -> Result:
        """Write *spec*'s image (or boot a live ISO) and reach the provisioned state."""
        ...

    async def deprovision(self, host: HostRef, cleaning: CleaningMode) -> Result:
        """Remove the deployment, clean per *cleaning*, and become available again."""
        ...

    async def power(self, host: HostRef, on: bool, *, hard: bool = False) -> Result:
        """Reach the requested power state (soft power off unless *hard*)."""
        ...

    async def reboot(self, host: HostRef) -> Result:
        """Start a reboot; the result is done once the reboot was accepted."""
        ...

    async def detach(self, host: HostRef) -> Result:
        """Forget the machine without touching it (no power or provisioning action)."""
        ...

    async def delete(self, host: HostRef) -> Result:
        """Remove the machine from the provisioner (after deprovisioning)."""
        ...
