"""The agent's command bookkeeping: results as IPA serialises them, errors as IPA reports them.

Why a module of its own: Ironic is strict about the shape of what the agent says — it looks for
the *last* command named ``execute_clean_step`` (without the ``clean.`` prefix), reads
``command_result.clean_step`` to see which step finished, takes ``command_error.details`` as the
message, and recognises a busy agent by HTTP 409 or "agent is busy" in ``faultstring``.  Keeping
those shapes in one place, as frozen values, makes them testable without a server.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

__all__ = [
    "AgentCommandError",
    "CommandRecord",
    "CommandStatus",
    "StepRecord",
    "split_command",
]


class CommandStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    VERSION_MISMATCH = "VERSION_MISMATCH"


class AgentCommandError(Exception):
    """A command failed (or could not be started); ``code`` is the HTTP status IPA would use."""

    code = 500
    type_name = "CommandExecutionError"
    message = "Command execution failed"

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self.details = details

    def serialize(self) -> dict[str, Any]:
        return {"type": self.type_name, "code": self.code, "message": self.message, "details": self.details}

    @property
    def faultstring(self) -> str:
        return f"{self.message}: {self.details}"


class InvalidCommand(AgentCommandError):
    code = 400
    type_name = "InvalidCommandError"
    message = "Invalid command"


class UnknownExtension(AgentCommandError):
    code = 404
    type_name = "RequestedObjectNotFoundError"
    message = "Requested object not found"


class AgentBusy(AgentCommandError):
    code = 409
    type_name = "AgentIsBusy"
    message = "Agent is busy"


class VersionMismatch(AgentCommandError):
    type_name = "VersionMismatch"
    message = "Hardware managers version mismatch"


class Unauthorized(AgentCommandError):
    code = 401
    type_name = "InvalidAgentToken"
    message = "Unauthorized"


def split_command(name: str) -> tuple[str, str]:
    """``"clean.execute_clean_step"`` → ``("clean", "execute_clean_step")``."""
    extension, dot, command = name.partition(".")
    if not dot or not extension or not command:
        raise InvalidCommand("Command name must be of the form <extension>.<name>")
    return extension, command


@dataclass(frozen=True)
class CommandRecord:
    """One command as ``GET /v1/commands/`` lists it (``command_name`` without the extension)."""

    command_name: str
    command_params: Mapping[str, Any]
    command_status: CommandStatus = CommandStatus.RUNNING
    command_result: Any = None
    command_error: Mapping[str, Any] | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def succeeded(self, result: Any) -> CommandRecord:
        return replace(self, command_status=CommandStatus.SUCCEEDED, command_result=result)

    def failed(self, error: AgentCommandError) -> CommandRecord:
        status = (
            CommandStatus.VERSION_MISMATCH if isinstance(error, VersionMismatch) else CommandStatus.FAILED
        )
        return replace(self, command_status=status, command_error=error.serialize())

    @property
    def done(self) -> bool:
        return self.command_status is not CommandStatus.RUNNING

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command_name": self.command_name,
            "command_params": _public_params(self.command_params),
            "command_status": self.command_status.value,
            "command_result": self.command_result,
            "command_error": dict(self.command_error) if self.command_error is not None else None,
        }


def _public_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params as echoed back: the node document is large and carries secrets; IPA echoes it,
    Ironic never reads it back, so it is summarised."""
    return {
        k: ({"uuid": v.get("uuid")} if k == "node" and isinstance(v, Mapping) else v)
        for k, v in params.items()
    }


@dataclass(frozen=True)
class StepRecord:
    """What an agent did, for reports and tests: ``emulated_s`` on real hardware, ``real_s`` here."""

    host: str
    boot: int
    command: str  # e.g. "clean.execute_clean_step"
    step: str | None  # e.g. "erase_devices_metadata"
    status: CommandStatus
    emulated_s: float
    real_s: float
    error: str | None = None
