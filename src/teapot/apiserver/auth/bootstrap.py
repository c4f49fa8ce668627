"""The RBAC objects a fresh server creates at first start (kube's bootstrap policy, trimmed).

Why it exists: without them nobody but ``system:masters`` could even discover the API. Any
authenticated user may read discovery, OpenAPI, version and health endpoints and ask what they may
do (SelfSubjectAccessReview / SelfSubjectRulesReview); ``admin``/``edit``/``view`` are the usual
aggregated user-facing roles for RoleBindings, and other components (Teapot's own CRDs) extend
them by labelling a ClusterRole ``rbac.authorization.k8s.io/aggregate-to-{admin,edit,view}:
"true"``. Names, labels, annotations and rules follow kube's ``bootstrappolicy`` for the kinds this
server serves (workload kinds it does not serve are left out).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from teapot.apiserver.auth.policy import aggregation_updates
from teapot.apiserver.auth.users import AUTHENTICATED, SYSTEM_MASTERS, UNAUTHENTICATED

RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"
_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]


def _rule(
    verbs: list[str],
    groups: list[str] | None = None,
    resources: list[str] | None = None,
    urls: list[str] | None = None,
) -> dict[str, Any]:
    rule: dict[str, Any] = {"verbs": verbs}
    if groups is not None:
        rule["apiGroups"] = groups
    if resources is not None:
        rule["resources"] = resources
    if urls is not None:
        rule["nonResourceURLs"] = urls
    return rule


def _cluster_role(
    name: str,
    rules: list[dict[str, Any]],
    *,
    labels: dict[str, str] | None = None,
    aggregate_from: str = "",
) -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {**_LABELS, **(labels or {})},
            "annotations": dict(_ANNOTATIONS),
        },
        "rules": rules,
    }
    if aggregate_from:
        role["aggregationRule"] = {
            "clusterRoleSelectors": [{"matchLabels": {AGGREGATE_TO + aggregate_from: "true"}}]
        }
    return role


def _binding(name: str, role: str, groups: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(_LABELS), "annotations": dict(_ANNOTATIONS)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in groups],
    }


_PUBLIC_INFO_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
_DISCOVERY_URLS = [
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/openapi",
    "/openapi/*",
    "/readyz",
    "/version",
    "/version/",
]

_CLUSTER_ROLES: list[dict[str, Any]] = [
    _cluster_role("cluster-admin", [_rule(["*"], ["*"], ["*"]), _rule(["*"], urls=["*"])]),
    _cluster_role("system:discovery", [_rule(["get"], urls=_DISCOVERY_URLS)]),
    _cluster_role("system:public-info-viewer", [_rule(["get"], urls=_PUBLIC_INFO_URLS)]),
    _cluster_role(
        "system:basic-user",
        [
            _rule(
                ["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]
            ),
            _rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
        ],
    ),
    _cluster_role("admin", [], aggregate_from="admin"),
    _cluster_role("edit", [], aggregate_from="edit", labels={AGGREGATE_TO + "admin": "true"}),
    _cluster_role("view", [], aggregate_from="view", labels={AGGREGATE_TO + "edit": "true"}),
    _cluster_role(
        "system:aggregate-to-admin",
        [
            _rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
            _rule(
                [*_WRITE, "get", "list", "watch"], ["rbac.authorization.k8s.io"], ["rolebindings", "roles"]
            ),
        ],
        labels={AGGREGATE_TO + "admin": "true"},
    ),
    _cluster_role(
        "system:aggregate-to-edit",
        [
            _rule(["impersonate"], [""], ["serviceaccounts"]),
            _rule(_WRITE, [""], ["configmaps", "secrets", "serviceaccounts"]),
            _rule(["create"], [""], ["serviceaccounts/token"]),
            _rule(_READ, [""], ["secrets"]),
        ],
        labels={AGGREGATE_TO + "edit": "true"},
    ),
    _cluster_role(
        "system:aggregate-to-view",
        [
            _rule(
                _READ,
                [""],
                ["configmaps", "endpoints", "persistentvolumeclaims", "pods", "serviceaccounts", "services"],
            ),
            _rule(_READ, [""], ["events", "limitranges", "namespaces/status", "resourcequotas"]),
            _rule(_READ, [""], ["namespaces"]),
        ],
        labels={AGGREGATE_TO + "view": "true"},
    ),
]

_CLUSTER_ROLE_BINDINGS: list[dict[str, Any]] = [
    _binding("cluster-admin", "cluster-admin", [SYSTEM_MASTERS]),
    _binding("system:discovery", "system:discovery", [AUTHENTICATED]),
    _binding("system:basic-user", "system:basic-user", [AUTHENTICATED]),
    _binding("system:public-info-viewer", "system:public-info-viewer", [AUTHENTICATED, UNAUTHENTICATED]),
]


@dataclass(frozen=True)
class BootstrapPolicy:
    """ClusterRoles and ClusterRoleBindings to create (if absent) at first start, as plain dicts."""

    cluster_roles: tuple[dict[str, Any], ...]
    cluster_role_bindings: tuple[dict[str, Any], ...]

    def objects(self) -> tuple[dict[str, Any], ...]:
        """Roles first, then bindings (the order to create them in)."""
        return self.cluster_roles + self.cluster_role_bindings


def bootstrap_policy() -> BootstrapPolicy:
    """A fresh deep copy of the bootstrap objects (callers may mutate what they get).

    Aggregated roles (``admin``, ``edit``, ``view``) come with their aggregate already in ``rules``,
    as they would look on a kube cluster after the aggregation controller ran.
    """
    roles = copy.deepcopy(_CLUSTER_ROLES)
    updates = aggregation_updates(roles)
    for role in roles:
        rules = updates.get(role["metadata"]["name"])
        if rules is not None:
            role["rules"] = copy.deepcopy([dict(r) for r in rules])
    return BootstrapPolicy(
        cluster_roles=tuple(roles),
        cluster_role_bindings=tuple(copy.deepcopy(_CLUSTER_ROLE_BINDINGS)),
    )
