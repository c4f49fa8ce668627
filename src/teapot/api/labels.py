"""Label and annotation keys Teapot reads and writes — one place, so nobody spells them twice.

Host labels derived from inspection are Teapot's (``hardware.teapot.dev/...``); topology labels are
set by the operator (or the emulated fleet) and only read by Teapot.
"""

from __future__ import annotations

PREFIX = "teapot.dev"

# topology (set by the operator, kept by Teapot)
TOPOLOGY_REGION = "topology.teapot.dev/region"
TOPOLOGY_ZONE = "topology.teapot.dev/zone"
TOPOLOGY_ROOM = "topology.teapot.dev/room"
TOPOLOGY_ROW = "topology.teapot.dev/row"
TOPOLOGY_RACK = "topology.teapot.dev/rack"
TOPOLOGY_PDU = "topology.teapot.dev/pdu"
TOPOLOGY_LEVELS: tuple[str, ...] = (
    TOPOLOGY_REGION,
    TOPOLOGY_ZONE,
    TOPOLOGY_ROOM,
    TOPOLOGY_ROW,
    TOPOLOGY_RACK,
)

# hardware traits derived from inspection (HardwareData), written by the host controller
HW_CPU_ARCH = "hardware.teapot.dev/cpu-arch"
HW_CPU_MODEL = "hardware.teapot.dev/cpu-model"
HW_CPU_CORES = "hardware.teapot.dev/cpu-cores"
HW_MEMORY_GIB = "hardware.teapot.dev/memory-gib"
HW_DISK_TYPE = "hardware.teapot.dev/disk-type"  # fastest disk type present: nvme > ssd > hdd
HW_DISK_GIB = "hardware.teapot.dev/disk-gib"
HW_NIC_GBPS = "hardware.teapot.dev/nic-gbps"
HW_GPU_MODEL = "hardware.teapot.dev/gpu-model"
HW_GPU_COUNT = "hardware.teapot.dev/gpu-count"

# tenancy
TENANT = "tenancy.teapot.dev/tenant"
CLAIM = "tenancy.teapot.dev/claim"

# Metal3 annotations
PAUSED = "baremetalhost.metal3.io/paused"
DETACHED = "baremetalhost.metal3.io/detached"
REBOOT = "reboot.metal3.io"
INSPECT = "inspect.metal3.io"
BMH_FINALIZER = "baremetalhost.metal3.io"
