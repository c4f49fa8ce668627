"""``teapot.fleet.agent`` — emulated ironic-python-agents for the emulated datacenter.

Why it exists: Ironic's agent-based flows (metadata / express / full disk cleaning, ``direct``
disk-image deploys) need ironic-python-agent running on the host.  Emulated hosts have no disks
and boot nothing, so :class:`AgentFarm` watches the fleet's power and virtual-media notifications
and, whenever a host powers on from the agent ISO, runs an agent for it that speaks Ironic's real
agent protocol (lookup, heartbeat, command API) and takes as long as the host's hardware would.

Public interface: :class:`AgentFarm`, :class:`AgentFarmSettings`, :class:`HardwareTimings`,
:class:`AgentImageMatcher`, :data:`AGENT_ISO_VOLUME_ID`, :class:`StepRecord`,
:class:`EmulatedAgent`.  See ``docs/agent.md``.
"""

from __future__ import annotations

from teapot.fleet.agent.agent import AgentPhase, EmulatedAgent
from teapot.fleet.agent.commands import CommandStatus, StepRecord
from teapot.fleet.agent.farm import AgentFarm, AgentFarmError, AgentFarmSettings
from teapot.fleet.agent.media import AGENT_ISO_VOLUME_ID, AgentImageMatcher
from teapot.fleet.agent.timing import HardwareTimings

__all__ = [
    "AGENT_ISO_VOLUME_ID",
    "AgentFarm",
    "AgentFarmError",
    "AgentFarmSettings",
    "AgentImageMatcher",
    "AgentPhase",
    "CommandStatus",
    "EmulatedAgent",
    "HardwareTimings",
    "StepRecord",
]
