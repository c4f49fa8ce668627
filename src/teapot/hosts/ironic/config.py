"""Settings for the Ironic that Teapot starts, and the ``ironic.conf`` generated from them.

Why this module exists: Ironic's behaviour is decided almost entirely by its config file, and a
handful of its options are traps (the no-op inspect interface is called ``no-inspect``; a wrong
interface name kills the process at start; a short power-sync interval eats a third of a core).
Keeping the whole file in one typed, frozen place makes every choice visible and testable without
starting anything. The file is rendered with :mod:`configparser` (oslo.config reads INI files) rather
than a template engine: there is no logic in it beyond key/value pairs.
"""

from __future__ import annotations

import configparser
import io
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: Hardware types Teapot enables. ``idrac`` needs only ``sushy`` (its OEM extension ships inside
#: sushy since 5.x), so it loads without extra dependencies. ``ipmi`` is added only when the
#: ``ipmitool`` executable exists: Ironic shells out to it and refuses to start without it.
HARDWARE_TYPES: tuple[str, ...] = ("redfish", "idrac", "fake-hardware", "manual-management")
IPMI_HARDWARE_TYPES: tuple[str, ...] = ("ipmi",)

#: Interfaces enabled per interface kind. Every enabled hardware type needs at least one enabled
#: interface of every kind it supports, or Ironic refuses to start.
INTERFACES: dict[str, tuple[str, ...]] = {
    "bios": ("redfish", "idrac-redfish", "no-bios", "fake"),
    "boot": ("redfish-virtual-media", "idrac-redfish-virtual-media", "redfish-https", "ipxe", "pxe", "fake"),
    "console": ("no-console", "fake"),
    "deploy": ("direct", "ramdisk", "fake"),
    "firmware": ("redfish", "no-firmware", "fake"),
    "inspect": ("redfish", "idrac-redfish", "agent", "no-inspect", "fake"),
    "management": ("redfish", "idrac-redfish", "noop", "fake"),
    "network": ("noop",),
    "power": ("redfish", "idrac-redfish", "fake"),
    "raid": ("redfish", "idrac-redfish", "agent", "no-raid", "fake"),
    "rescue": ("no-rescue", "fake"),
    "storage": ("noop", "fake"),
    "vendor": ("redfish", "idrac-redfish", "no-vendor", "fake"),
}
IPMI_INTERFACES: dict[str, tuple[str, ...]] = {
    "management": ("ipmitool",),
    "power": ("ipmitool",),
    "vendor": ("ipmitool",),
}

#: Defaults for interfaces whose built-in default would need services Teapot does not run
#: (Neutron for networking). Deploy/boot/inspect are chosen per node by the provisioner: a global
#: default must be valid for every enabled hardware type (``idrac`` rejects ``redfish`` inspect).
DEFAULT_INTERFACES: dict[str, str] = {
    "network": "noop",
    "rescue": "no-rescue",
    "console": "no-console",
}


def find_services_bin() -> Path:
    """Locate the directory holding the ``ironic`` executables.

    Ironic lives in its own virtualenv (``.venv-services``) because its pins clash with Teapot's.
    Order: ``$TEAPOT_SERVICES_BIN``, ``.venv-services/bin`` next to the running virtualenv, ``PATH``.
    """
    env = os.environ.get("TEAPOT_SERVICES_BIN")
    if env:
        return Path(env)
    sibling = Path(sys.prefix).parent / ".venv-services" / "bin"
    if (sibling / "ironic").exists():
        return sibling
    found = shutil.which("ironic")
    if found:
        return Path(found).parent
    raise FileNotFoundError(
        "cannot find the 'ironic' executable: install requirements-services.txt into .venv-services "
        "or set TEAPOT_SERVICES_BIN"
    )


@dataclass(frozen=True)
class IronicSettings:
    """Everything needed to run one standalone Ironic and the HTTP server for its images.

    ``data_dir`` holds ``ironic.conf``, the SQLite database, logs, the image cache and ``http_root``;
    it survives restarts so Ironic's nodes do too.
    """

    data_dir: Path
    host: str = "127.0.0.1"
    api_port: int = 6385
    http_port: int = 6180
    services_bin: Path | None = None
    #: Ironic's own default; 10 s cost about a third of a core for 17 nodes on a 2-core machine.
    sync_power_state_interval: int = 60
    #: Revert out-of-band power changes (Ironic's default is True; Metal3 sets False).
    force_power_state_during_sync: bool = False
    #: Seconds between IPMI commands to one BMC (Ironic's default 5 s is slow for emulated BMCs).
    ipmi_min_command_interval: int = 1
    start_timeout: float = 90.0
    stop_timeout: float = 15.0
    #: How long Ironic waits for an agent callback during deploy/clean before failing.
    deploy_callback_timeout: int = 1800
    debug: bool = False
    #: Seconds an agent may go without heartbeating ([api]ramdisk_heartbeat_timeout; Ironic default 300).
    ramdisk_heartbeat_timeout: int = 30
    #: Enable the ``ipmi`` hardware type; ``None`` means "if ``ipmitool`` is on PATH".
    enable_ipmi: bool | None = None
    #: Start Ironic through :mod:`teapot.hosts.ironic.launch`, which replaces the 0.3 CPU-s PBKDF2
    #: Ironic runs on every Redfish call to key its session cache (88 % of its CPU in a profile) with
    #: a keyed HMAC; ``False`` runs Ironic unchanged.
    fast_redfish_session_keys: bool = True
    extra_options: tuple[tuple[str, str, str], ...] = field(default=())
    """Additional ``(section, key, value)`` triples, applied last (for tests and experiments)."""

    def __post_init__(self) -> None:
        if self.sync_power_state_interval < 60:
            raise ValueError("sync_power_state_interval must be at least 60 s (see REFERENCES.md)")

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "ironic.conf"

    @property
    def database_file(self) -> Path:
        return self.data_dir / "ironic.sqlite"

    @property
    def http_root(self) -> Path:
        return self.data_dir / "httpboot"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def ipmi_enabled(self) -> bool:
        return self.enable_ipmi if self.enable_ipmi is not None else shutil.which("ipmitool") is not None

    def bin_dir(self) -> Path:
        return self.services_bin if self.services_bin is not None else find_services_bin()


def render_config(settings: IronicSettings) -> str:
    """Return the text of ``ironic.conf`` for *settings*."""
    data = settings.data_dir.resolve()
    ipmi = settings.ipmi_enabled()
    hardware_types = HARDWARE_TYPES + (IPMI_HARDWARE_TYPES if ipmi else ())
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str  # type: ignore[assignment,method-assign]  # keep keys' case
    default = {
        "auth_strategy": "noauth",
        "rpc_transport": "none",
        "host": settings.host,
        "debug": str(settings.debug),
        "use_stderr": "false",
        "log_file": str(data / "logs" / "ironic.log"),
        "state_path": str(data / "state"),
        "tempdir": str(data / "tmp"),
        "enabled_hardware_types": ",".join(hardware_types),
        "default_resource_class": "baremetal",
    }
    for kind, names in INTERFACES.items():
        extra = IPMI_INTERFACES.get(kind, ()) if ipmi else ()
        default[f"enabled_{kind}_interfaces"] = ",".join(names + extra)
    for kind, name in DEFAULT_INTERFACES.items():
        default[f"default_{kind}_interface"] = name
    conf["DEFAULT"] = default
    conf["api"] = {
        "host_ip": settings.host,
        "port": str(settings.api_port),
        "api_workers": "1",
        # agents heartbeat at 0.3-0.6 x this; a heartbeat skipped because the node is locked then costs
        # seconds, not the default 300 s window's minutes
        "ramdisk_heartbeat_timeout": str(settings.ramdisk_heartbeat_timeout),
    }
    conf["database"] = {
        "connection": f"sqlite:///{data / 'ironic.sqlite'}",
        # Ironic retries "database is locked" for this long (default 10 s) before failing the
        # operation; 100 hosts inspecting at once exceeded 10 s and failed an inspection hook.
        "sqlite_max_wait_for_retry": "60",
    }
    conf["oslo_concurrency"] = {"lock_path": str(data / "locks")}
    conf["conductor"] = {
        "automated_clean": "true",
        "sync_power_state_interval": str(settings.sync_power_state_interval),
        "force_power_state_during_sync": str(settings.force_power_state_during_sync).lower(),
        "deploy_callback_timeout": str(settings.deploy_callback_timeout),
        "clean_callback_timeout": str(settings.deploy_callback_timeout),
        "send_sensor_data": "false",
        "permitted_image_formats": "raw,gpt,qcow2,iso",
        # Teapot's ``express`` cleaning: a per-node runbook (driver_info/cleaning_runbook) with the
        # agent's erase_devices_express step; without one, the metadata erase below runs.
        "automated_cleaning_step_source": "hybrid",
        "automated_cleaning_runbook_from_node": "true",
        "automated_cleaning_runbook_validate_traits": "false",
    }
    conf["deploy"] = {
        "http_root": str(data / "httpboot"),
        "http_url": settings.http_url,
        "default_boot_option": "local",
        "fast_track": "false",
        "erase_devices_priority": "0",
        # Metal3's choice: automated cleaning wipes metadata only (full erase is opt-in).
        "erase_devices_metadata_priority": "10",
    }
    conf["dhcp"] = {"dhcp_provider": "none"}
    conf["service_catalog"] = {"endpoint_override": settings.api_url}
    conf["redfish"] = {"use_swift": "false", "kernel_append_params": "nofb nomodeset vga=normal"}
    conf["ipmi"] = {"min_command_interval": str(settings.ipmi_min_command_interval)}
    conf["inventory"] = {"data_backend": "database"}
    conf["agent"] = {
        "deploy_logs_collect": "never",
        # Ironic 39 requires TLS agent callbacks and stores agents' CA files here (default /var/lib/ironic)
        "certificates_path": str(data / "agent-certs"),
        "post_deploy_get_power_state_retry_interval": "1",
        "command_wait_interval": "1",
    }
    conf["pxe"] = {"tftp_root": str(data / "tftpboot"), "images_path": str(data / "images")}
    conf["json_rpc"] = {"auth_strategy": "noauth"}
    for section, key, value in settings.extra_options:
        if section != "DEFAULT" and not conf.has_section(section):
            conf.add_section(section)
        conf[section][key] = value
    out = io.StringIO()
    conf.write(out)
    return out.getvalue()


def write_config(settings: IronicSettings) -> Path:
    """Create the data dir layout and write ``ironic.conf``; return its path."""
    for sub in ("logs", "state", "tmp", "locks", "httpboot", "tftpboot", "images"):
        (settings.data_dir / sub).mkdir(parents=True, exist_ok=True)
    path = settings.config_file
    path.write_text(render_config(settings), encoding="utf-8")
    return path
