"""Label keys the emulated fleet puts on its BareMetalHosts.

Why: topology labels (region … PDU) are set by the operator, not discovered, and the scheduler
spreads claims over them; a typo would silently break spreading. The topology keys are the
product's own (``teapot.api.labels``, which the host and tenancy controllers read); this module only
adds the fleet's informational keys. The fleet may import lower layers; the product never imports it.
"""

from __future__ import annotations

from teapot.api import labels as product

REGION = product.TOPOLOGY_REGION
ZONE = product.TOPOLOGY_ZONE
ROOM = product.TOPOLOGY_ROOM
ROW = product.TOPOLOGY_ROW
RACK = product.TOPOLOGY_RACK
PDU = product.TOPOLOGY_PDU

# Also used by Kubernetes itself for nodes; set so tools that know only these keys still spread.
K8S_REGION = "topology.kubernetes.io/region"
K8S_ZONE = "topology.kubernetes.io/zone"

# Which emulated datacenter and hardware model a host came from (informational, not topology).
FLEET = "fleet.teapot.dev/datacenter"
HARDWARE_MODEL = "fleet.teapot.dev/hardware-model"

TOPOLOGY_KEYS: tuple[str, ...] = (REGION, ZONE, ROOM, ROW, RACK, PDU)
