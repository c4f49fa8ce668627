"""Metal3's ``BareMetalHost`` and ``HardwareData`` (metal3.io/v1alpha1), as Teapot serves them.

Why it exists: speaking Metal3's API means existing manifests and tools work unchanged. Field names,
enums, states and printer columns follow Metal3's CRDs for every field Teapot supports; Teapot adds
``express`` cleaning, conditions and a record of each cleaning's duration. Invalid BMC schemes,
malformed MACs and missing credential names are refused by the API with the field path.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from teapot.api.crdgen import Column, CRDSpec, K8sModel

GROUP = "metal3.io"
VERSION = "v1alpha1"

BMC_SCHEMES: tuple[str, ...] = (
    "ipmi",
    "redfish",
    "redfish+http",
    "redfish+https",
    "redfish-virtualmedia",
    "redfish-virtualmedia+http",
    "redfish-virtualmedia+https",
    "redfish-uefihttp",
    "redfish-uefihttp+http",
    "redfish-uefihttp+https",
    "idrac-redfish",
    "idrac-redfish+http",
    "idrac-redfish+https",
    "idrac-virtualmedia",
    "idrac-virtualmedia+http",
    "idrac-virtualmedia+https",
)
MAC_PATTERN = "^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$"


class ProvisioningState(StrEnum):
    NONE = ""
    UNMANAGED = "unmanaged"
    REGISTERING = "registering"
    MATCH_PROFILE = "match profile"
    PREPARING = "preparing"
    READY = "ready"
    AVAILABLE = "available"
    PROVISIONING = "provisioning"
    PROVISIONED = "provisioned"
    EXTERNALLY_PROVISIONED = "externally provisioned"
    DEPROVISIONING = "deprovisioning"
    INSPECTING = "inspecting"
    POWERING_OFF_BEFORE_DELETE = "powering off before delete"
    DELETING = "deleting"


class OperationalStatus(StrEnum):
    OK = "OK"
    DISCOVERED = "discovered"
    ERROR = "error"
    DELAYED = "delayed"
    DETACHED = "detached"
    SERVICING = "servicing"


class ErrorType(StrEnum):
    NONE = ""
    PROVISIONED_REGISTRATION = "provisioned registration error"
    REGISTRATION = "registration error"
    INSPECTION = "inspection error"
    PREPARATION = "preparation error"
    PROVISIONING = "provisioning error"
    POWER_MANAGEMENT = "power management error"
    DETACH = "detach error"
    SERVICING = "servicing error"


class BMCDetails(K8sModel):
    address: str = Field(
        description="How to reach the BMC: scheme://host[:port][/path], e.g. redfish://10.0.0.1/redfish/v1/Systems/1."
    )
    credentials_name: str = Field(
        min_length=1, description="Name of the Secret (same namespace) with `username` and `password`."
    )
    disable_certificate_verification: bool | None = Field(
        default=None, description="Skip TLS verification of the BMC."
    )


class Image(K8sModel):
    url: str = Field(min_length=1, description="Where the image is downloaded from.")
    checksum: str | None = Field(default=None, description="Checksum of the image, or a URL to it.")
    checksum_type: Literal["md5", "sha256", "sha512", "auto"] | None = Field(default=None)
    format: Literal["raw", "qcow2", "vdi", "vmdk", "live-iso"] | None = Field(default=None)


class SecretReference(K8sModel):
    name: str | None = None
    namespace: str | None = None


class ObjectReference(K8sModel):
    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class RootDeviceHints(K8sModel):
    device_name: str | None = None
    hctl: str | None = None
    model: str | None = None
    vendor: str | None = None
    serial_number: str | None = None
    min_size_gigabytes: int | None = Field(default=None, ge=0)
    wwn: str | None = None
    wwn_with_extension: str | None = None
    wwn_vendor_extension: str | None = None
    rotational: bool | None = None


class CustomDeploy(K8sModel):
    method: str


class BareMetalHostSpec(K8sModel):
    bmc: BMCDetails | None = Field(
        default=None, description="How to reach the host's baseboard management controller."
    )
    online: bool = Field(description="Whether the host should be powered on.")
    boot_mac_address: str | None = Field(default=None, alias="bootMACAddress", pattern=MAC_PATTERN)
    boot_mode: Literal["UEFI", "UEFISecureBoot", "legacy"] | None = Field(default=None)
    architecture: str | None = None
    image: Image | None = Field(default=None, description="Setting it provisions the host with this image.")
    custom_deploy: CustomDeploy | None = None
    user_data: SecretReference | None = None
    network_data: SecretReference | None = None
    meta_data: SecretReference | None = None
    consumer_ref: ObjectReference | None = Field(
        default=None, description="Who uses the host; non-empty means in use."
    )
    root_device_hints: RootDeviceHints | None = None
    automated_cleaning_mode: Literal["metadata", "disabled", "express"] | None = Field(
        default="metadata",
        description="Cleaning between tenants: metadata (erase partition tables), express (crypto-erase "
        "where the hardware offers it, else metadata; Teapot), or disabled.",
    )
    externally_provisioned: bool | None = None
    inspection_mode: Literal["disabled", "agent", "fast"] | None = None
    description: str | None = None
    hardware_profile: str | None = None
    preprovisioning_network_data_name: str | None = None


class CPU(K8sModel):
    arch: str | None = None
    model: str | None = None
    clock_megahertz: float | None = None
    flags: list[str] | None = None
    count: int | None = None


class NIC(K8sModel):
    name: str | None = None
    model: str | None = None
    mac: str | None = None
    ip: str | None = None
    speed_gbps: int | None = None
    vlans: list[dict[str, str | int]] | None = None
    vlan_id: int | None = None
    pxe: bool | None = None


class Storage(K8sModel):
    name: str | None = None
    alternate_names: list[str] | None = None
    rotational: bool | None = None
    type: Literal["HDD", "SSD", "NVME"] | None = None
    size_bytes: int | None = None
    vendor: str | None = None
    model: str | None = None
    serial_number: str | None = None
    wwn: str | None = None
    hctl: str | None = None


class GPU(K8sModel):
    vendor: str | None = None
    model: str | None = None
    count: int | None = None


class HardwareSystemVendor(K8sModel):
    manufacturer: str | None = None
    product_name: str | None = None
    serial_number: str | None = None


class Firmware(K8sModel):
    bios: dict[str, str] | None = None


class HardwareDetails(K8sModel):
    system_vendor: HardwareSystemVendor | None = None
    firmware: Firmware | None = None
    ram_mebibytes: int | None = None
    nics: list[NIC] | None = None
    storage: list[Storage] | None = None
    cpu: CPU | None = None
    hostname: str | None = None
    gpus: list[GPU] | None = Field(default=None, description="GPUs where the BMC reports them (Teapot).")


class OperationMetric(K8sModel):
    start: str | None = None
    end: str | None = None


class OperationHistory(K8sModel):
    register_: OperationMetric | None = Field(default=None, alias="register")
    inspect: OperationMetric | None = None
    provision: OperationMetric | None = None
    deprovision: OperationMetric | None = None


class CredentialsStatus(K8sModel):
    credentials: SecretReference | None = None
    credentials_version: str | None = None


class ProvisionStatus(K8sModel):
    state: str | None = None
    id: str | None = Field(default=None, alias="ID")
    image: Image | None = None
    root_device_hints: RootDeviceHints | None = None
    boot_mode: str | None = None
    custom_deploy: CustomDeploy | None = None


class CleaningRecord(K8sModel):
    mode: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_seconds: float | None = None


class Condition(K8sModel):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str | None = None
    message: str | None = None
    observed_generation: int | None = None
    last_transition_time: str | None = None


class BareMetalHostStatus(K8sModel):
    operational_status: Literal["OK", "discovered", "error", "delayed", "detached", "servicing"] | None = None
    error_type: str | None = None
    error_message: str | None = None
    error_count: int | None = None
    last_updated: str | None = None
    hardware_profile: str | None = None
    hardware: HardwareDetails | None = None
    provisioning: ProvisionStatus | None = None
    good_credentials: CredentialsStatus | None = None
    tried_credentials: CredentialsStatus | None = None
    powered_on: bool | None = None
    operation_history: OperationHistory | None = None
    last_cleaning: CleaningRecord | None = Field(
        default=None, description="The last cleaning and how long it took (Teapot)."
    )
    conditions: list[Condition] | None = None


class HardwareDataSpec(K8sModel):
    hardware: HardwareDetails | None = None


_SCHEME_RULE = (
    "!self.address.contains('://') || "
    "self.address.matches('^(ipmi|redfish(-virtualmedia|-uefihttp)?(\\\\+https?)?|idrac-(redfish|virtualmedia)(\\\\+https?)?)://')"
)

BAREMETALHOST = CRDSpec(
    group=GROUP,
    version=VERSION,
    kind="BareMetalHost",
    plural="baremetalhosts",
    scope="Namespaced",
    spec_model=BareMetalHostSpec,
    status_model=BareMetalHostStatus,
    short_names=("bmh", "bmhost"),
    categories=("metal3",),
    description="BareMetalHost is the Schema for the baremetalhosts API (Metal3-compatible).",
    columns=(
        Column("Status", ".status.operationalStatus", priority=1, description="Operational status"),
        Column("State", ".status.provisioning.state", description="Provisioning status"),
        Column("Consumer", ".spec.consumerRef.name", description="Consumer using this host"),
        Column("BMC", ".spec.bmc.address", priority=1, description="Address of management controller"),
        Column("Online", ".spec.online", description="Whether the host is online or not"),
        Column("Error", ".status.errorType", description="Type of the most recent error"),
        Column("Age", ".metadata.creationTimestamp", type="date"),
    ),
    patches={
        "spec.bmc": {
            "x-kubernetes-validations": [
                {
                    "rule": _SCHEME_RULE,
                    "message": "unsupported BMC address scheme; use one of: "
                    + ", ".join(f"{s}://" for s in BMC_SCHEMES),
                    "fieldPath": ".address",
                    "reason": "FieldValueInvalid",
                }
            ]
        },
    },
)

HARDWAREDATA = CRDSpec(
    group=GROUP,
    version=VERSION,
    kind="HardwareData",
    plural="hardwaredata",
    scope="Namespaced",
    spec_model=HardwareDataSpec,
    short_names=("hd",),
    categories=("metal3",),
    description="HardwareData holds the inspection results of a BareMetalHost of the same name.",
    columns=(Column("Age", ".metadata.creationTimestamp", type="date"),),
    spec_required=False,
)
