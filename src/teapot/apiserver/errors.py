"""Kubernetes ``Status`` errors.

Why it exists: every rejection the server makes must reach the client as a ``meta/v1 Status`` with a
reason, a code and ``details.causes`` that name the field, because kubectl and the client libraries
print exactly that to the person. Raising ``StatusError`` anywhere in a request turns into such a
response; nothing is half-written because handlers validate before they write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cause:
    """One ``details.causes`` entry: the field and what is wrong with it."""

    reason: str  # e.g. "FieldValueInvalid"
    message: str
    field: str = ""

    def to_dict(self) -> dict[str, str]:
        # kube's cause message is the part after "<field>: "; the Status message keeps the whole text
        message = self.message
        if self.field and message.startswith(self.field + ": "):
            message = message[len(self.field) + 2 :]
        out = {"reason": self.reason, "message": message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class StatusError(Exception):
    """An API error carried to the client as a ``Status`` object."""

    code: int
    reason: str
    message: str
    group: str = ""
    kind: str = ""
    name: str = ""
    causes: list[Cause] = field(default_factory=list)
    retry_after_seconds: int = 0

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after_seconds:
            details["retryAfterSeconds"] = self.retry_after_seconds
        if details:
            status["details"] = details
        return status


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        404, "NotFound", f'{_qualified(resource, group)} "{name}" not found', group, resource, name
    )


def already_exists(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        409, "AlreadyExists", f'{_qualified(resource, group)} "{name}" already exists', group, resource, name
    )


def conflict(resource: str, group: str, name: str, detail: str) -> StatusError:
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {detail}',
        group,
        resource,
        name,
    )


def modified_conflict(resource: str, group: str, name: str) -> StatusError:
    return conflict(
        resource,
        group,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
    )


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> StatusError:
    summary = ", ".join(c.message for c in causes) if causes else "invalid object"
    prefix = f"{kind}.{group}" if group else kind
    if len(causes) > 1:
        summary = "[" + summary + "]"
    return StatusError(
        422, "Invalid", f'{prefix} "{name}" is invalid: {summary}', group, kind, name, list(causes)
    )


def bad_request(message: str, causes: list[Cause] | None = None) -> StatusError:
    return StatusError(400, "BadRequest", message, causes=list(causes or []))


def forbidden(message: str, group: str = "", kind: str = "", name: str = "") -> StatusError:
    return StatusError(403, "Forbidden", message, group, kind, name)


def method_not_allowed(message: str) -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/apply-patch+yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json; got "{content_type}"',
    )


def too_large(limit: int) -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def internal(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}")
