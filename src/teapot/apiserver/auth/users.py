"""Who is calling: the authenticated user as every other part of the server sees it.

Why it exists: authentication (tokens, client certificates) produces a user and authorization (RBAC)
consumes one; both, and the access-review endpoints, must agree on one small immutable record and on
Kubernetes' well-known user and group names, so they live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM_MASTERS = "system:masters"
"""Members of this group are superusers: every request is allowed without consulting RBAC."""

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
SERVICE_ACCOUNTS = "system:serviceaccounts"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An authenticated user (kube's ``user.Info`` without ``extra``).

    ``groups`` keeps the order the credential gave, de-duplicated; authenticators add
    ``system:authenticated`` as kube does.
    """

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()

    @property
    def is_superuser(self) -> bool:
        return SYSTEM_MASTERS in self.groups


ANONYMOUS = UserInfo(name="system:anonymous", uid="", groups=(UNAUTHENTICATED,))
"""Who a request with no credentials at all is, when anonymous requests are enabled (kube's default;
RBAC then only lets it read ``/healthz``, ``/livez``, ``/readyz`` and ``/version``)."""


def authenticated_user(name: str, uid: str = "", groups: tuple[str, ...] | list[str] = ()) -> UserInfo:
    """A ``UserInfo`` with ``system:authenticated`` appended (once), empty group names dropped."""
    seen: dict[str, None] = {}
    for group in groups:
        if group:
            seen.setdefault(group, None)
    seen.setdefault(AUTHENTICATED, None)
    return UserInfo(name=name, uid=uid, groups=tuple(seen))


def service_account_username(namespace: str, name: str) -> str:
    """``system:serviceaccount:NS:NAME``, the user name of a ServiceAccount."""
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def service_account_groups(namespace: str) -> tuple[str, str]:
    """The groups every ServiceAccount of ``namespace`` belongs to."""
    return (SERVICE_ACCOUNTS, f"{SERVICE_ACCOUNTS}:{namespace}")


def service_account_user(namespace: str, name: str, uid: str = "") -> UserInfo:
    """The full ``UserInfo`` of a ServiceAccount, as a token for it would authenticate."""
    return authenticated_user(
        service_account_username(namespace, name), uid, service_account_groups(namespace)
    )
