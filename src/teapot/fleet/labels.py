"""Label keys the emulated fleet puts on its BareMetalHosts — the one place they are spelled.

Why: topology labels (region … PDU) are set by the operator, not discovered, and the scheduler
spreads claims over them; a typo in one place would silently break spreading.  Everything that
writes or reads them in ``teapot.fleet`` uses these constants.  (If the product needs the same
keys, this module should move to ``teapot.api``; the fleet is emulation and is never imported by
the product.)
"""

from __future__ import annotations

PREFIX = "topology.teapot.dev"

REGION = f"{PREFIX}/region"
ZONE = f"{PREFIX}/zone"
ROOM = f"{PREFIX}/room"
ROW = f"{PREFIX}/row"
RACK = f"{PREFIX}/rack"
PDU = f"{PREFIX}/pdu"

# Also used by Kubernetes itself for nodes; set so tools that know only these keys still spread.
K8S_REGION = "topology.kubernetes.io/region"
K8S_ZONE = "topology.kubernetes.io/zone"

# Which emulated datacenter and hardware model a host came from (informational, not topology).
FLEET = "fleet.teapot.dev/datacenter"
HARDWARE_MODEL = "fleet.teapot.dev/hardware-model"

TOPOLOGY_KEYS: tuple[str, ...] = (REGION, ZONE, ROOM, ROW, RACK, PDU)
