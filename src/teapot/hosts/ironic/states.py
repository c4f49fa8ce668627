"""Ironic provision states as seen through Metal3's eyes, and credential-free error messages.

Why this module exists: Ironic's state machine has ~30 states; Metal3's host API has a dozen. The
mapping (and which Ironic states are "busy", which are failures of which Metal3 error type) is a
table, so it lives here as one, testable without Ironic. Error messages come from Ironic verbatim
and some of them quote ``driver_info`` — including BMC passwords — so every message leaving this
package goes through :func:`sanitize`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from teapot.hosts.provisioner import ErrorType, ProvisioningState

__all__ = ["BUSY_STATES", "FAILED_STATES", "METAL3_STATE", "explain_bmc_error", "metal3_state", "sanitize"]

S = ProvisioningState

#: Ironic ``provision_state`` → the Metal3 state a host in it is in (or moving through).
METAL3_STATE: dict[str, ProvisioningState] = {
    "enroll": S.REGISTERING,
    "verifying": S.REGISTERING,
    "manageable": S.PREPARING,
    "inspecting": S.INSPECTING,
    "inspect wait": S.INSPECTING,
    "inspect failed": S.INSPECTING,
    "cleaning": S.PREPARING,
    "clean wait": S.PREPARING,
    "clean failed": S.PREPARING,
    "clean hold": S.PREPARING,
    "available": S.AVAILABLE,
    "deploying": S.PROVISIONING,
    "wait call-back": S.PROVISIONING,
    "deploy failed": S.PROVISIONING,
    "deploy hold": S.PROVISIONING,
    "active": S.PROVISIONED,
    "deleting": S.DEPROVISIONING,
    "error": S.DEPROVISIONING,
    "adopting": S.EXTERNALLY_PROVISIONED,
    "adopt failed": S.EXTERNALLY_PROVISIONED,
    "servicing": S.PROVISIONED,
    "service wait": S.PROVISIONED,
    "service failed": S.PROVISIONED,
    "service hold": S.PROVISIONED,
    "rescuing": S.PROVISIONED,
    "rescue wait": S.PROVISIONED,
    "rescue": S.PROVISIONED,
    "rescue failed": S.PROVISIONED,
    "unrescuing": S.PROVISIONED,
    "unrescue failed": S.PROVISIONED,
}

#: States in which Ironic is doing something and a new request would be refused.
BUSY_STATES: frozenset[str] = frozenset(
    {
        "verifying",
        "inspecting",
        "inspect wait",
        "cleaning",
        "clean wait",
        "deploying",
        "wait call-back",
        "deleting",
        "adopting",
        "servicing",
        "service wait",
        "rescuing",
        "rescue wait",
        "unrescuing",
    }
)

#: Failure states and the Metal3 error type they report.
FAILED_STATES: dict[str, ErrorType] = {
    "inspect failed": ErrorType.INSPECTION,
    "clean failed": ErrorType.PREPARATION,
    "deploy failed": ErrorType.PROVISIONING,
    "error": ErrorType.PROVISIONING,
    "adopt failed": ErrorType.PROVISIONED_REGISTRATION,
    "service failed": ErrorType.PROVISIONING,
    "rescue failed": ErrorType.PROVISIONING,
    "unrescue failed": ErrorType.PROVISIONING,
}


def metal3_state(provision_state: str | None) -> ProvisioningState:
    if provision_state is None:
        return S.NONE
    return METAL3_STATE.get(provision_state, S.NONE)


_SECRET_KEY = r"[A-Za-z0-9_]*(?:password|passwd|secret|token|key)[A-Za-z0-9_]*"
_PATTERNS: tuple[re.Pattern[str], ...] = (
    # 'redfish_password': 'x'  /  "ipmi_password": "x"
    re.compile(rf"""(['"]{_SECRET_KEY}['"]\s*:\s*)(['"])(?:\\.|(?!\2).)*\2""", re.IGNORECASE),
    # password=x, password: x (up to a separator)
    re.compile(rf"""(\b{_SECRET_KEY}\s*[=:]\s*)(?!['"])[^\s,;)}}\]]+""", re.IGNORECASE),
    # ipmitool ... -P secret
    re.compile(r"(\s-P\s+)\S+"),
    # user:password@host in URLs
    re.compile(r"(://[^/\s:@]+:)[^@\s/]+(@)"),
)

REDACTED = "***"


def sanitize(message: str | None, secrets: Iterable[str] = ()) -> str:
    """Remove credentials from *message*: known *secrets* verbatim plus password-like fields."""
    if not message:
        return ""
    text = message
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, REDACTED)
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}{m.group(2)}", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _PATTERNS[2].sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _PATTERNS[3].sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(2)}", text)
    return text


#: First match wins: TLS failures also say "Max retries exceeded", so they come before "unreachable".
_BMC_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"CERTIFICATE_VERIFY_FAILED|SSLError", re.IGNORECASE),
        "the BMC's TLS certificate is not trusted: fix it or set disableCertificateVerification",
    ),
    (
        re.compile(
            r"returned code 401|Incorrect username or password|AccessError|Unauthorized", re.IGNORECASE
        ),
        "authentication failed: check the username and password in the BMC credentials Secret",
    ),
    (
        re.compile(r"returned code 404|ResourceNotFoundError", re.IGNORECASE),
        "the BMC has no such system: check the system path in the BMC address",
    ),
    (
        re.compile(
            r"Connection refused|Max retries exceeded|timed out|Name or service not known|ConnectionError",
            re.IGNORECASE,
        ),
        "the BMC is unreachable: check the address and the network path to it",
    ),
)


def explain_bmc_error(message: str) -> str:
    """Prefix a BMC failure with what a person should do about it (the raw message follows)."""
    for pattern, hint in _BMC_HINTS:
        if pattern.search(message):
            return f"{hint} ({message})"
    return message
