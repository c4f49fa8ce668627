"""``IronicProvisioner``: the :class:`~teapot.hosts.provisioner.Provisioner` over real Ironic.

Why this module exists: it is the only place that knows Ironic's API. Each method reads the node,
decides the one next Ironic call that moves it towards the requested end state (or none), and
reports what it sees — so the host controller stays level-triggered: calling again is always safe.

openstacksdk's baremetal proxy is blocking, so each public coroutine runs its synchronous twin in a
worker thread (its own executor, ``settings.threads``); the Protocol is async because its caller is an asyncio
controller and hiding the thread hop here keeps every caller simple. Works the same against the
Ironic Teapot starts (:mod:`teapot.hosts.ironic.service`) and an existing one (``--ironic-url``):
only the endpoint differs. All messages pass :func:`~teapot.hosts.ironic.states.sanitize`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import hmac
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from keystoneauth1 import exceptions as ks_exc
from openstack import connection as os_connection
from openstack import exceptions as os_exc

from teapot.hosts.ironic.drivers import BMCDriver, UnknownBMCError, parse_bmc_address
from teapot.hosts.ironic.inventory import parse_inventory
from teapot.hosts.ironic.states import BUSY_STATES, FAILED_STATES, explain_bmc_error, metal3_state, sanitize
from teapot.hosts.provisioner import (
    BootMode,
    CleaningMode,
    ErrorType,
    HardwareDetails,
    HostRef,
    ImageFormat,
    ImageSpec,
    InspectResult,
    NodeStatus,
    ProvisionerError,
    ProvisionerUnavailable,
    ProvisionSpec,
    RegistrationSpec,
    Result,
)

__all__ = ["EXPRESS_RUNBOOK", "IronicProvisioner", "IronicProvisionerSettings", "node_name"]

T = TypeVar("T")
Node = Any  # openstack.baremetal.v1.node.Node (untyped library)

#: Runbook used for ``express`` cleaning (IPA's erase_devices_express: NVMe/ATA secure or crypto
#: erase where offered, metadata erase elsewhere).
EXPRESS_RUNBOOK = "CUSTOM_TEAPOT_EXPRESS"
_EXPRESS_STEPS = [{"interface": "deploy", "step": "erase_devices_express", "args": {}, "order": 1}]
_MANUAL_STEPS: dict[CleaningMode, list[dict[str, object]]] = {
    CleaningMode.METADATA: [{"interface": "deploy", "step": "erase_devices_metadata"}],
    CleaningMode.EXPRESS: [{"interface": "deploy", "step": "erase_devices_express"}],
}
#: How long a node read by ``observe`` may stand in for the next read of the same host.
_OBSERVED_TTL = 0.5
#: What :meth:`IronicProvisioner._status` reads: all a listing of stable hosts needs to return
#: (``fields`` needs API 1.8; a page is Ironic's default ``[api] max_limit``).
_LIST_MICROVERSION = "1.8"
_LIST_PAGE = 1000
_LISTED_FIELDS = (
    "uuid",
    "name",
    "provision_state",
    "power_state",
    "target_power_state",
    "maintenance",
    "last_error",
)
_CREDENTIALS_KEY = "teapot_credentials"
_PREPARED_KEY = "teapot_prepared"
_BOOT_MODES = {BootMode.UEFI: "uefi", BootMode.UEFI_SECURE_BOOT: "uefi", BootMode.LEGACY: "bios"}
_HASH_ALGOS = {32: "md5", 64: "sha256", 128: "sha512"}


def node_name(host: HostRef) -> str:
    """Ironic node name for a host: Metal3's ``<namespace>~<name>`` convention."""
    return f"{host.namespace}~{host.name}"


@dataclass(frozen=True)
class IronicProvisionerSettings:
    url: str
    #: Agent ramdisk for agent-based steps (cleaning, ``direct`` deploys, agent inspection):
    #: an ISO for virtual-media BMCs, kernel + ramdisk for network boot. ``None``: not available.
    deploy_iso: str | None = None
    deploy_kernel: str | None = None
    deploy_ramdisk: str | None = None
    #: How soon to look again while Ironic is busy.
    poll_interval: float = 2.0
    #: Bare-metal API microversion ceiling; ``None`` lets openstacksdk negotiate.
    api_version: str | None = None
    #: Threads for the blocking openstacksdk calls: one per host-controller worker (asyncio's default
    #: executor has cpu + 4 threads, 6 on a 2-core machine, and is shared with everything else).
    threads: int = 4


@dataclass(frozen=True)
class _ListedNode:
    """A node as a listing of :data:`_LISTED_FIELDS` shows it (what :meth:`IronicProvisioner._status` reads)."""

    id: str
    name: str
    provision_state: str | None
    power_state: str | None
    target_power_state: str | None
    is_maintenance: bool
    last_error: str | None

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> _ListedNode:
        return cls(
            id=str(item["uuid"]),
            name=str(item["name"]),
            provision_state=item.get("provision_state"),
            power_state=item.get("power_state"),
            target_power_state=item.get("target_power_state"),
            is_maintenance=bool(item.get("maintenance")),
            last_error=item.get("last_error"),
        )


def _credentials_digest(node_uuid: str, driver: BMCDriver, spec: RegistrationSpec, salt: bytes) -> str:
    """A salted PBKDF2 digest of everything in ``driver_info`` that came from the BMC spec.

    Stored in the node's ``extra`` so a changed Secret is noticed on any call, after any restart,
    without keeping credentials anywhere but Ironic.
    """
    material = "\0".join(
        (
            node_uuid,
            spec.bmc.address,
            spec.bmc.username,
            spec.bmc.password,
            str(spec.bmc.disable_certificate_verification),
            driver.driver,
        )
    ).encode()
    digest = hashlib.pbkdf2_hmac("sha256", material, salt, 5000)
    return f"pbkdf2-sha256${salt.hex()}${digest.hex()}"


def _digest_matches(stored: object, node_uuid: str, driver: BMCDriver, spec: RegistrationSpec) -> bool:
    if not isinstance(stored, str) or stored.count("$") != 2:
        return False
    _, salt_hex, _ = stored.split("$")
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    return hmac.compare_digest(stored, _credentials_digest(node_uuid, driver, spec, salt))


def _as_inspect(result: Result) -> InspectResult:
    return InspectResult(result.status, result.in_progress, result.requeue_after, result.error)


class IronicProvisioner:
    """Drives Ironic nodes for BareMetalHosts (see the module docstring)."""

    def __init__(
        self, settings: IronicProvisionerSettings, connection: os_connection.Connection | None = None
    ) -> None:
        self.settings = settings
        if connection is None:
            if settings.api_version is not None:
                connection = os_connection.Connection(
                    auth_type="none",
                    baremetal_endpoint_override=settings.url,
                    baremetal_api_version=settings.api_version,
                )
            else:
                connection = os_connection.Connection(
                    auth_type="none", baremetal_endpoint_override=settings.url
                )
        self._conn = connection
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=settings.threads, thread_name_prefix="ironic-call"
        )
        self._secrets: dict[str, frozenset[str]] = {}
        self._observed: dict[str, tuple[float, Node]] = {}
        self._listing: tuple[float, dict[str, _ListedNode]] = (float("-inf"), {})
        self._listing_lock = threading.Lock()
        self._lock = threading.Lock()

    @property
    def baremetal(self) -> Any:
        return self._conn.baremetal

    # -- plumbing -----------------------------------------------------------------------------

    async def _run(self, func: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, func)
        except (os_exc.SDKException, ks_exc.ClientException, OSError) as exc:
            if (
                isinstance(exc, os_exc.HttpException)
                and exc.status_code is not None
                and exc.status_code < 500
            ):
                raise
            raise ProvisionerUnavailable(
                f"Ironic at {self.settings.url} unavailable: {sanitize(str(exc))}"
            ) from exc

    def _remember(self, host: HostRef, *secrets: str) -> None:
        with self._lock:
            self._secrets[node_name(host)] = frozenset(s for s in secrets if s)

    def _clean(self, host: HostRef, message: str | None) -> str:
        return self._sanitize(node_name(host), message)

    def _sanitize(self, name: str | None, message: str | None) -> str:
        with self._lock:
            secrets = self._secrets.get(name or "", frozenset())
        return sanitize(message, secrets)

    def _status(self, node: Node) -> NodeStatus:
        state = node.provision_state or ""
        power = node.power_state
        return NodeStatus(
            provisioning_id=node.id,
            engine_state=state,
            state=metal3_state(state),
            powered_on=None if power is None else power == "power on",
            busy=state in BUSY_STATES or node.target_power_state is not None,
            maintenance=bool(node.is_maintenance),
            last_error=self._sanitize(node.name, node.last_error) or None,
        )

    def _find(self, host: HostRef) -> Node | None:
        # The controller observes a host and then acts on it in the same reconcile: the node read
        # by observe() is used once, if fresh, instead of a second GET (one Ironic call fewer per
        # reconcile; at 1,000 hosts the controller's throughput was bound by Ironic round trips).
        with self._lock:
            seen = self._observed.pop(node_name(host), None)
        if seen is not None and time.monotonic() - seen[0] < _OBSERVED_TTL:
            return seen[1]
        return self._fetch(host)

    def _fetch(self, host: HostRef) -> Node | None:
        for ident in (host.provisioning_id, node_name(host)):
            if not ident:
                continue
            try:
                return self.baremetal.get_node(ident)
            except os_exc.NotFoundException:
                continue
        return None

    def _busy(self, node: Node) -> Result:
        return Result(self._status(node), in_progress=True, requeue_after=self.settings.poll_interval)

    def _error(self, host: HostRef, node: Node | None, kind: ErrorType, message: str | None) -> Result:
        return Result(
            self._status(node) if node is not None else None,
            error=ProvisionerError(kind, self._clean(host, message) or kind.value),
        )

    def _not_registered(self, host: HostRef, kind: ErrorType) -> Result:
        return Result(None, error=ProvisionerError(kind, f"host {node_name(host)} is not registered"))

    def _set_state(self, host: HostRef, node: Node, target: str, kind: ErrorType, **options: Any) -> Result:
        """Ask Ironic for a provision-state change; a refusal becomes an error, a lock a retry."""
        try:
            self.baremetal.set_node_provision_state(node, target, **options)
        except os_exc.ConflictException:
            return self._busy(node)
        except os_exc.BadRequestException as exc:
            return self._error(host, node, kind, f"Ironic refused '{target}': {exc.details or exc}")
        except os_exc.HttpException as exc:
            if exc.status_code != 503 or "concurrent" not in str(exc.details or exc).lower():
                raise
            # Ironic's ConcurrentActionLimit ([conductor] max_concurrent_deploy/clean): it is busy
            # with other nodes, not down; try again later like a locked node.
            return self._busy(node)
        return self._busy(self.baremetal.get_node(node.id))

    def _patch(self, node: Node, patch: list[dict[str, object]]) -> Node:
        return self.baremetal.patch_node(node, patch) if patch else node

    # -- observe ------------------------------------------------------------------------------

    async def observe(self, host: HostRef, *, max_age: float = 0.0) -> NodeStatus | None:
        if max_age > 0:
            listed = await self._run(lambda: self._listed(host, max_age))
            if listed is not None:
                return self._status(listed)
        node = await self._run(lambda: self._fetch(host))
        if node is not None:
            with self._lock:
                self._observed[node_name(host)] = (time.monotonic(), node)
        return self._status(node) if node is not None else None

    def _listed(self, host: HostRef, max_age: float) -> Node | None:
        """The host's node from a listing of all nodes at most *max_age* old (``None``: not in it).

        Hosts in stable states are looked at every couple of minutes only to notice drift (power,
        a lost node); at 1,000 hosts one GET per host is ~8 requests/s of Ironic's single process
        for nothing. One ``GET /v1/nodes?fields=…`` per *max_age* answers all of them; concurrent
        callers wait for the same refresh instead of listing again.
        """
        with self._listing_lock:
            taken, nodes = self._listing
            if time.monotonic() - taken >= max_age:
                started = time.monotonic()
                nodes = self._list_nodes()
                self._listing = (started, nodes)
        node = nodes.get(node_name(host))
        if node is None or (host.provisioning_id and node.id != host.provisioning_id):
            return None  # new since the listing, or renamed: read it directly
        return node

    def _list_nodes(self) -> dict[str, _ListedNode]:
        """All nodes by name, :data:`_LISTED_FIELDS` only, page by page.

        Plain JSON rather than openstacksdk's ``nodes()``: building 1,000 SDK resources cost more
        of the controller's CPU than the request itself (py-spy, 1,000 hosts).
        """
        nodes: dict[str, _ListedNode] = {}
        params: dict[str, object] = {"fields": ",".join(_LISTED_FIELDS), "limit": _LIST_PAGE}
        while True:
            response = self.baremetal.get("/nodes", params=params, microversion=_LIST_MICROVERSION)
            os_exc.raise_from_response(response)
            page = response.json().get("nodes") or []
            for item in page:
                if item.get("name"):
                    nodes[item["name"]] = _ListedNode.of(item)
            if len(page) < _LIST_PAGE or not page:
                return nodes
            params["marker"] = page[-1]["uuid"]

    # -- register -----------------------------------------------------------------------------

    async def register(self, host: HostRef, spec: RegistrationSpec, *, force: bool = False) -> Result:
        self._remember(host, spec.bmc.password)
        return await self._run(lambda: self._register(host, spec, force))

    def _node_fields(self, driver: BMCDriver, spec: RegistrationSpec) -> dict[str, object]:
        capabilities = f"boot_mode:{_BOOT_MODES[spec.boot_mode]}"
        if spec.boot_mode is BootMode.UEFI_SECURE_BOOT:
            capabilities += ",secure_boot:true"
        properties: dict[str, object] = {"capabilities": capabilities}
        if spec.architecture:
            properties["cpu_arch"] = spec.architecture
        inspect = "no-inspect" if spec.inspection_mode == "disabled" else driver.inspect_interface
        if spec.inspection_mode == "agent":
            inspect = "agent"
        info = dict(driver.driver_info(spec.bmc))
        if self.settings.deploy_iso and driver.supports_iso:
            info["deploy_iso"] = self.settings.deploy_iso
        if self.settings.deploy_kernel and self.settings.deploy_ramdisk:
            info["deploy_kernel"] = self.settings.deploy_kernel
            info["deploy_ramdisk"] = self.settings.deploy_ramdisk
        return {
            "driver": driver.driver,
            "driver_info": info,
            "inspect_interface": inspect,
            "automated_clean": spec.automated_cleaning_mode is not CleaningMode.DISABLED,
            "properties": properties,
            **driver.interfaces(),
        }

    def _register(self, host: HostRef, spec: RegistrationSpec, force: bool) -> Result:
        address = spec.bmc.address
        try:
            driver = parse_bmc_address(address)
        except UnknownBMCError as exc:
            return self._error(host, None, ErrorType.REGISTRATION, str(exc))
        fields = self._node_fields(driver, spec)
        node = self._find(host)
        changed = False
        if node is None:
            # Choosing the UUID lets the credentials digest go in with the create: one call, not two.
            node_uuid = str(uuid.uuid4())
            extra = {_CREDENTIALS_KEY: _credentials_digest(node_uuid, driver, spec, os.urandom(16))}
            try:
                node = self.baremetal.create_node(
                    uuid=node_uuid, name=node_name(host), deploy_interface="direct", extra=extra, **fields
                )
            except os_exc.BadRequestException as exc:
                return self._error(host, None, ErrorType.REGISTRATION, f"BMC {address}: {exc.details or exc}")
            changed = True
        if not _digest_matches((node.extra or {}).get(_CREDENTIALS_KEY), node.id, driver, spec):
            if node.provision_state in BUSY_STATES:
                return self._busy(node)
            digest = _credentials_digest(node.id, driver, spec, os.urandom(16))
            patch: list[dict[str, object]] = [
                {"op": "add", "path": f"/{key}", "value": value}
                for key, value in fields.items()
                if key not in ("properties", "automated_clean")
            ]
            patch.append({"op": "add", "path": f"/extra/{_CREDENTIALS_KEY}", "value": digest})
            try:
                node = self._patch(node, patch)
            except os_exc.ConflictException:
                return self._busy(node)
            except os_exc.BadRequestException as exc:
                return self._error(host, node, ErrorType.REGISTRATION, f"BMC {address}: {exc.details or exc}")
            changed = True
        self._ensure_port(node, spec.boot_mac)
        state = node.provision_state
        if state == "enroll":
            if node.last_error and not (changed or force):
                message = explain_bmc_error(self._clean(host, node.last_error))
                return self._error(host, node, ErrorType.REGISTRATION, f"BMC {address}: {message}")
            return self._set_state(host, node, "manage", ErrorType.REGISTRATION)
        if state == "verifying":
            return self._busy(node)
        failure = self._validation_failure(node, ("power", "management"))
        if failure is not None:
            return self._error(host, node, ErrorType.REGISTRATION, f"BMC {address}: {failure}")
        return Result(self._status(node))

    def _validation_failure(self, node: Node, interfaces: tuple[str, ...]) -> str | None:
        """Ironic's driver validation of *interfaces* (no BMC traffic): the first failure, if any."""
        validation = self.baremetal.validate_node(node.id, required=None)
        for name in interfaces:
            check = validation.get(name)
            if check is not None and check.result is False:
                return f"{name} validation failed: {check.reason}"
        return None

    def _ensure_port(self, node: Node, mac: str | None) -> None:
        if not mac:
            return
        mac = mac.lower()
        if any(p.address.lower() == mac for p in self.baremetal.ports(node_uuid=node.id, details=True)):
            return
        # A conflict means the MAC belongs to another node; Ironic's validation will report it.
        with contextlib.suppress(os_exc.ConflictException):
            self.baremetal.create_port(node_uuid=node.id, address=mac, is_pxe_enabled=True)

    # -- inspect ------------------------------------------------------------------------------

    async def inspect(self, host: HostRef, *, force: bool = False) -> InspectResult:
        return await self._run(lambda: self._inspect(host, force))

    def _inspect(self, host: HostRef, force: bool) -> InspectResult:
        node = self._find(host)
        if node is None:
            return _as_inspect(self._not_registered(host, ErrorType.INSPECTION))
        state = node.provision_state
        if state in ("inspecting", "inspect wait"):
            return _as_inspect(self._busy(node))
        if state == "inspect failed":
            if force:
                return _as_inspect(self._set_state(host, node, "inspect", ErrorType.INSPECTION))
            return _as_inspect(self._error(host, node, ErrorType.INSPECTION, node.last_error))
        if not force:
            details = self._details(node)
            if details is not None:
                return InspectResult(self._status(node), details=details)
        if node.inspect_interface == "no-inspect":
            # inspectionMode: disabled. Nothing to run, nothing to report.
            return InspectResult(self._status(node))
        if state == "available":
            return _as_inspect(self._set_state(host, node, "manage", ErrorType.INSPECTION))
        if state != "manageable":
            return _as_inspect(
                self._error(host, node, ErrorType.INSPECTION, f"cannot inspect in Ironic state {state!r}")
            )
        return _as_inspect(self._set_state(host, node, "inspect", ErrorType.INSPECTION))

    def _details(self, node: Node) -> HardwareDetails | None:
        """Parsed inventory of the last inspection, ``None`` if the node was never inspected."""
        try:
            data = self.baremetal.get_node_inventory(node.id)
        except os_exc.NotFoundException:
            return None
        inventory = data.get("inventory") if isinstance(data, Mapping) else None
        if not isinstance(inventory, Mapping):
            return None
        return parse_inventory(inventory)

    # -- prepare / provide --------------------------------------------------------------------

    async def prepare(self, host: HostRef, cleaning: CleaningMode) -> Result:
        return await self._run(lambda: self._prepare(host, cleaning))

    def _prepare(self, host: HostRef, cleaning: CleaningMode) -> Result:
        node = self._find(host)
        if node is None:
            return self._not_registered(host, ErrorType.PREPARATION)
        state = node.provision_state
        if state in ("cleaning", "clean wait"):
            return self._busy(node)
        if state == "clean failed":
            if _PREPARED_KEY in (node.extra or {}):
                node = self._patch(node, [{"op": "remove", "path": f"/extra/{_PREPARED_KEY}"}])
            result = self._error(host, node, ErrorType.PREPARATION, node.last_error)
            self._set_state(host, node, "manage", ErrorType.PREPARATION)
            return result
        if state != "manageable" or cleaning is CleaningMode.DISABLED:
            return Result(self._status(node))
        if (node.extra or {}).get(_PREPARED_KEY) == cleaning.value:
            return Result(self._status(node))
        node = self._patch(node, [{"op": "add", "path": f"/extra/{_PREPARED_KEY}", "value": cleaning.value}])
        result = self._set_state(
            host, node, "clean", ErrorType.PREPARATION, clean_steps=_MANUAL_STEPS[cleaning]
        )
        if result.error is not None:
            self._patch(node, [{"op": "remove", "path": f"/extra/{_PREPARED_KEY}"}])
        return result

    async def provide(self, host: HostRef) -> Result:
        return await self._run(lambda: self._provide(host))

    def _provide(self, host: HostRef) -> Result:
        node = self._find(host)
        if node is None:
            return self._not_registered(host, ErrorType.PREPARATION)
        state = node.provision_state
        if state in ("cleaning", "clean wait"):
            return self._busy(node)
        if state == "clean failed":
            result = self._error(host, node, ErrorType.PREPARATION, node.last_error)
            self._set_state(host, node, "manage", ErrorType.PREPARATION)
            return result
        if state == "manageable":
            if _PREPARED_KEY in (node.extra or {}):
                node = self._patch(node, [{"op": "remove", "path": f"/extra/{_PREPARED_KEY}"}])
            return self._set_state(host, node, "provide", ErrorType.PREPARATION)
        return Result(self._status(node))

    # -- provision ----------------------------------------------------------------------------

    async def provision(self, host: HostRef, spec: ProvisionSpec) -> Result:
        return await self._run(lambda: self._provision(host, spec))

    def _provision(self, host: HostRef, spec: ProvisionSpec) -> Result:
        node = self._find(host)
        if node is None:
            return self._not_registered(host, ErrorType.PROVISIONING)
        state = node.provision_state
        if state in ("deploying", "wait call-back", "cleaning", "clean wait"):
            return self._busy(node)
        if state == "active":
            return Result(self._status(node))
        if state in ("deploy failed", "error"):
            return self._error(host, node, ErrorType.PROVISIONING, node.last_error)
        if state == "manageable":
            return self._set_state(host, node, "provide", ErrorType.PROVISIONING)
        if state != "available":
            return self._error(
                host, node, ErrorType.PROVISIONING, f"cannot provision in Ironic state {state!r}"
            )
        live = spec.image.format is ImageFormat.LIVE_ISO
        if live and node.boot_interface not in ("redfish-virtual-media", "idrac-redfish-virtual-media"):
            return self._error(
                host,
                node,
                ErrorType.PROVISIONING,
                "live-iso images need a virtual-media BMC (redfish-virtualmedia:// or idrac-virtualmedia://)",
            )
        try:
            instance_info = self._instance_info(spec)
        except ValueError as exc:
            return self._error(host, node, ErrorType.PROVISIONING, str(exc))
        node = self._patch(
            node,
            [
                {"op": "add", "path": "/deploy_interface", "value": "ramdisk" if live else "direct"},
                {"op": "add", "path": "/instance_info", "value": instance_info},
            ],
        )
        failure = self._validation_failure(node, ("boot", "deploy", "power", "management"))
        if failure is not None:
            return self._error(host, node, ErrorType.PROVISIONING, failure)
        options: dict[str, object] = {}
        config_drive = None if live else self._config_drive(spec)
        if config_drive is not None:
            options["config_drive"] = config_drive
        return self._set_state(host, node, "active", ErrorType.PROVISIONING, **options)

    @staticmethod
    def _instance_info(spec: ProvisionSpec) -> dict[str, object]:
        image: ImageSpec = spec.image
        if image.format is ImageFormat.LIVE_ISO:
            return {"boot_iso": image.url}
        info: dict[str, object] = {"image_source": image.url}
        if image.format is not None:
            info["image_disk_format"] = image.format.value
        if image.checksum:
            if image.checksum.startswith(("http://", "https://", "file://")):
                info["image_checksum"] = image.checksum
            else:
                algo = image.checksum_type or _HASH_ALGOS.get(len(image.checksum))
                if algo is None:
                    raise ValueError(
                        f"cannot tell the checksum type of a {len(image.checksum)}-character checksum"
                    )
                info["image_os_hash_algo"] = algo
                info["image_os_hash_value"] = image.checksum
        elif not image.url.startswith("file://"):
            raise ValueError("disk images need a checksum")
        if spec.root_device_hints:
            info["root_device"] = dict(spec.root_device_hints)
        return info

    @staticmethod
    def _config_drive(spec: ProvisionSpec) -> dict[str, object] | None:
        if spec.user_data is None and spec.meta_data is None and spec.network_data is None:
            return None
        drive: dict[str, object] = {}
        if spec.user_data is not None:
            drive["user_data"] = spec.user_data
        for key, text in (("meta_data", spec.meta_data), ("network_data", spec.network_data)):
            if text is not None:
                drive[key] = yaml.safe_load(text) or {}
        return drive

    # -- deprovision --------------------------------------------------------------------------

    async def deprovision(self, host: HostRef, cleaning: CleaningMode) -> Result:
        return await self._run(lambda: self._deprovision(host, cleaning))

    def _ensure_express_runbook(self) -> None:
        try:
            self.baremetal.get_runbook(EXPRESS_RUNBOOK)
        except os_exc.NotFoundException:
            self.baremetal.create_runbook(name=EXPRESS_RUNBOOK, steps=_EXPRESS_STEPS)

    def _deprovision(self, host: HostRef, cleaning: CleaningMode) -> Result:
        node = self._find(host)
        if node is None:
            return self._not_registered(host, ErrorType.PROVISIONING)
        state = node.provision_state
        if state in ("deleting", "cleaning", "clean wait", "deploying", "wait call-back"):
            return self._busy(node)
        if state in ("available", "enroll", "verifying"):
            return Result(self._status(node))
        if state == "manageable":
            node = self._apply_cleaning(node, cleaning)
            return self._set_state(host, node, "provide", ErrorType.PROVISIONING)
        if state == "clean failed":
            result = self._error(host, node, ErrorType.PROVISIONING, node.last_error)
            self._set_state(host, node, "manage", ErrorType.PROVISIONING)
            return result
        if state not in ("active", "deploy failed", "error", "inspect failed"):
            return self._error(
                host, node, ErrorType.PROVISIONING, f"cannot deprovision in Ironic state {state!r}"
            )
        node = self._apply_cleaning(node, cleaning)
        target = "manage" if state == "inspect failed" else "deleted"
        return self._set_state(host, node, target, ErrorType.PROVISIONING)

    def _apply_cleaning(self, node: Node, cleaning: CleaningMode) -> Node:
        """Set the node's automated cleaning to *cleaning* (express = a runbook in driver_info)."""
        patch: list[dict[str, object]] = []
        enabled = cleaning is not CleaningMode.DISABLED
        if node.is_automated_clean_enabled is not enabled:
            patch.append({"op": "add", "path": "/automated_clean", "value": enabled})
        runbook = (node.driver_info or {}).get("cleaning_runbook")
        if cleaning is CleaningMode.EXPRESS and runbook != EXPRESS_RUNBOOK:
            self._ensure_express_runbook()
            patch.append({"op": "add", "path": "/driver_info/cleaning_runbook", "value": EXPRESS_RUNBOOK})
        elif cleaning is not CleaningMode.EXPRESS and runbook is not None:
            patch.append({"op": "remove", "path": "/driver_info/cleaning_runbook"})
        return self._patch(node, patch)

    # -- power --------------------------------------------------------------------------------

    async def power(self, host: HostRef, on: bool, *, hard: bool = False) -> Result:
        return await self._run(lambda: self._power(host, on, hard))

    def _power(self, host: HostRef, on: bool, hard: bool) -> Result:
        node = self._find(host)
        if node is None:
            return self._not_registered(host, ErrorType.POWER_MANAGEMENT)
        wanted = "power on" if on else "power off"
        if node.target_power_state is not None:
            return self._busy(node)
        if node.power_state == wanted:
            return Result(self._status(node))
        target = wanted if on or hard else "soft power off"
        return self._power_action(host, node, target)

    def _power_action(self, host: HostRef, node: Node, target: str) -> Result:
        try:
            self.baremetal.set_node_power_state(node, target)
        except os_exc.ConflictException:
            return self._busy(node)
        except os_exc.BadRequestException as exc:
            return self._error(
                host, node, ErrorType.POWER_MANAGEMENT, f"{target} refused: {exc.details or exc}"
            )
        return self._busy(self.baremetal.get_node(node.id))

    async def reboot(self, host: HostRef) -> Result:
        return await self._run(lambda: self._reboot(host))

    def _reboot(self, host: HostRef) -> Result:
        node = self._find(host)
        if node is None:
            return self._not_registered(host, ErrorType.POWER_MANAGEMENT)
        if node.target_power_state is not None:
            return self._busy(node)
        result = self._power_action(host, node, "rebooting")
        if result.error is not None:
            return result
        return Result(result.status)

    # -- detach / delete ----------------------------------------------------------------------

    async def detach(self, host: HostRef) -> Result:
        return await self._run(lambda: self._remove(host, ErrorType.DETACH, detach=True))

    async def delete(self, host: HostRef) -> Result:
        return await self._run(lambda: self._remove(host, ErrorType.PROVISIONING, detach=False))

    def _remove(self, host: HostRef, kind: ErrorType, detach: bool) -> Result:
        node = self._find(host)
        if node is None:
            return Result(None)
        state = node.provision_state
        if not detach and (state in BUSY_STATES or node.target_power_state is not None):
            return self._busy(node)
        deletable = state in (
            "available",
            "manageable",
            "enroll",
            "adopt failed",
            "inspect failed",
            "clean failed",
        )
        try:
            if not deletable and not node.is_maintenance:
                reason = "detached by Teapot" if detach else "deleted by Teapot"
                node = self.baremetal.set_node_maintenance(node, reason=reason)
            self.baremetal.delete_node(node, ignore_missing=True)
        except os_exc.ConflictException:
            return self._busy(node)
        except os_exc.BadRequestException as exc:
            return self._error(host, node, kind, f"cannot remove the Ironic node: {exc.details or exc}")
        with self._lock:
            self._secrets.pop(node_name(host), None)
        return Result(None)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._conn.close()

    def failed_state_error(self, status: NodeStatus) -> ErrorType | None:
        """The Metal3 error type for a node in a failure state (for controllers that only observe)."""
        return FAILED_STATES.get(status.engine_state)
