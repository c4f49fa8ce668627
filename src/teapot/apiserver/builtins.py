"""The built-in kinds the embedded server serves, described as ``ResourceInfo`` records.

Why it exists: kube-apiserver compiles its built-in types in; here they are data, so discovery,
routing, RBAC and storage treat them exactly like CRD-defined resources. Only what Teapot and its
clients (kubectl, client libraries, controllers) need is served.
"""

from __future__ import annotations

from teapot.apiserver.resources import ResourceInfo

_CREATE_ONLY: tuple[str, ...] = ("create",)

BUILTIN_RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="",
        version="v1",
        resource="namespaces",
        kind="Namespace",
        singular="namespace",
        namespaced=False,
        list_kind="NamespaceList",
        short_names=("ns",),
        subresources=frozenset({"status", "finalize"}),
        selectable_fields=(".status.phase",),
        builtin=True,
    ),
    ResourceInfo(
        group="",
        version="v1",
        resource="secrets",
        kind="Secret",
        singular="secret",
        namespaced=True,
        list_kind="SecretList",
        selectable_fields=(".type",),
        builtin=True,
    ),
    ResourceInfo(
        group="",
        version="v1",
        resource="configmaps",
        kind="ConfigMap",
        singular="configmap",
        namespaced=True,
        list_kind="ConfigMapList",
        short_names=("cm",),
        builtin=True,
    ),
    ResourceInfo(
        group="",
        version="v1",
        resource="serviceaccounts",
        kind="ServiceAccount",
        singular="serviceaccount",
        namespaced=True,
        list_kind="ServiceAccountList",
        short_names=("sa",),
        builtin=True,
    ),
    ResourceInfo(
        group="",
        version="v1",
        resource="events",
        kind="Event",
        singular="event",
        namespaced=True,
        list_kind="EventList",
        short_names=("ev",),
        selectable_fields=(
            ".involvedObject.kind",
            ".involvedObject.namespace",
            ".involvedObject.name",
            ".involvedObject.uid",
            ".involvedObject.apiVersion",
            ".involvedObject.resourceVersion",
            ".involvedObject.fieldPath",
            ".reason",
            ".reportingComponent",
            ".source",
            ".type",
        ),
        builtin=True,
    ),
    ResourceInfo(
        group="events.k8s.io",
        version="v1",
        resource="events",
        kind="Event",
        singular="event",
        namespaced=True,
        list_kind="EventList",
        short_names=("ev",),
        # kube: pkg/apis/events/v1 field label conversions (onto core Event's selectable fields)
        selectable_fields=(
            ".regarding.kind",
            ".regarding.namespace",
            ".regarding.name",
            ".regarding.uid",
            ".regarding.apiVersion",
            ".regarding.resourceVersion",
            ".regarding.fieldPath",
            ".reason",
            ".reportingController",
            ".type",
        ),
        builtin=True,
    ),
    ResourceInfo(
        group="coordination.k8s.io",
        version="v1",
        resource="leases",
        kind="Lease",
        singular="lease",
        namespaced=True,
        list_kind="LeaseList",
        builtin=True,
    ),
    ResourceInfo(
        group="apiextensions.k8s.io",
        version="v1",
        resource="customresourcedefinitions",
        kind="CustomResourceDefinition",
        singular="customresourcedefinition",
        namespaced=False,
        list_kind="CustomResourceDefinitionList",
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        subresources=frozenset({"status"}),
        builtin=True,
    ),
    *(
        ResourceInfo(
            group="rbac.authorization.k8s.io",
            version="v1",
            resource=plural,
            kind=kind,
            singular=kind.lower(),
            namespaced=namespaced,
            list_kind=kind + "List",
            builtin=True,
        )
        for plural, kind, namespaced in (
            ("roles", "Role", True),
            ("rolebindings", "RoleBinding", True),
            ("clusterroles", "ClusterRole", False),
            ("clusterrolebindings", "ClusterRoleBinding", False),
        )
    ),
    *(
        ResourceInfo(
            group="authorization.k8s.io",
            version="v1",
            resource=plural,
            kind=kind,
            singular=kind.lower(),
            namespaced=namespaced,
            list_kind=kind + "List",
            verbs=_CREATE_ONLY,
            builtin=True,
        )
        for plural, kind, namespaced in (
            ("selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
            ("selfsubjectrulesreviews", "SelfSubjectRulesReview", False),
            ("subjectaccessreviews", "SubjectAccessReview", False),
            ("localsubjectaccessreviews", "LocalSubjectAccessReview", True),
        )
    ),
)

BUILTIN_RESOURCES = (
    *BUILTIN_RESOURCES,
    ResourceInfo(
        group="authentication.k8s.io",
        version="v1",
        resource="selfsubjectreviews",
        kind="SelfSubjectReview",
        singular="selfsubjectreview",
        namespaced=False,
        list_kind="SelfSubjectReviewList",
        verbs=_CREATE_ONLY,
        builtin=True,
    ),
)

# Kinds that are computed per request and never stored.
VIRTUAL_KINDS: frozenset[str] = frozenset(
    {
        "SelfSubjectAccessReview",
        "SelfSubjectRulesReview",
        "SubjectAccessReview",
        "LocalSubjectAccessReview",
        "SelfSubjectReview",
    }
)
