"""The field tables of the built-in Kubernetes messages kubectl sends as protobuf.

Why it exists: kubectl's typed clients encode request bodies per the go-to-protobuf
``generated.proto`` files of k8s.io/api and k8s.io/apimachinery, but the server must see exactly the
dict the same client would have sent as JSON, i.e. Go's ``encoding/json`` view of the decoded struct.
The ``.proto`` files give field numbers and wire types; they do not say which Go fields are pointers
or carry ``omitempty``, and that decides whether an absent or empty field becomes a missing key, a
zero value or ``null``. So each field here records its number, JSON name, type, cardinality and that
JSON presence rule, taken from the Go ``types.go`` tags (``json:"…,omitempty"`` and ``*T``) of
Kubernetes 1.37. Only the messages reachable from the supported kinds are listed; anything else on the
wire is skipped as an unknown field. Names are ``<package>.<Message>`` so the two ``Event`` and
``EventSeries`` messages (core/v1 and events.k8s.io/v1) do not collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "KINDS",
    "MESSAGES",
    "SCALARS",
    "SPECIAL",
    "Card",
    "Field",
    "Presence",
]

# scalar types (decoded straight from one wire value)
STRING, INT, BOOL, BYTES = "string", "int", "bool", "bytes"
SCALARS = frozenset({STRING, INT, BOOL, BYTES})
# messages with a custom JSON form (meta/v1, util/intstr, api/resource, authorization ExtraValue)
TIME, MICROTIME, FIELDSV1, INTORSTRING, QUANTITY, EXTRAVALUE = (
    "Time",
    "MicroTime",
    "FieldsV1",
    "IntOrString",
    "Quantity",
    "ExtraValue",
)
SPECIAL = frozenset({TIME, MICROTIME, FIELDSV1, INTORSTRING, QUANTITY, EXTRAVALUE})


class Card(Enum):
    """How many values a field holds: one, a repeated list, or a proto2 map (entries key=1 value=2)."""

    ONE = "one"
    LIST = "list"
    MAP = "map"


class Presence(Enum):
    """How Go's ``encoding/json`` renders the field, which is what a JSON request body would contain.

    ``OMITEMPTY``: a value field tagged ``omitempty`` — left out when zero ("", 0, false, empty list or
    map); struct-typed value fields are never left out (Go ignores ``omitempty`` on structs), so an
    absent one is rendered as the zero struct (``null`` for ``Time``).
    ``POINTER``: a ``*T`` field — present in JSON exactly when present on the wire, even if zero.
    ``ALWAYS``: no ``omitempty`` — always rendered; absent scalars as their zero value, absent lists
    and maps as ``null`` (a nil Go slice).
    ``NULLABLE``: a ``*T`` field without ``omitempty`` — like ``POINTER``, but ``null`` when absent.
    ``OMITZERO``: a struct tagged ``omitzero`` (Go 1.24) — left out when it is its zero value; so far
    only ``ObjectMeta.creationTimestamp`` (since Kubernetes 1.34 kubectl no longer sends
    ``"creationTimestamp": null``).
    """

    OMITEMPTY = "omitempty"
    POINTER = "pointer"
    ALWAYS = "always"
    OMITZERO = "omitzero"
    NULLABLE = "nullable"


@dataclass(frozen=True, slots=True)
class Field:
    number: int
    name: str
    type: str
    card: Card = Card.ONE
    presence: Presence = Presence.OMITEMPTY


def _f(
    number: int, name: str, type_: str = STRING, *, ptr: bool = False, keep: bool = False, zero: bool = False
) -> Field:
    """One field; ``ptr``: a ``*T``, ``keep``: no ``omitempty`` (both: NULLABLE), ``zero``: ``omitzero``."""
    if ptr:
        presence = Presence.NULLABLE if keep else Presence.POINTER
    else:
        presence = Presence.ALWAYS if keep else Presence.OMITZERO if zero else Presence.OMITEMPTY
    return Field(number, name, type_, Card.ONE, presence)


def _list(number: int, name: str, type_: str = STRING, *, keep: bool = False) -> Field:
    return Field(number, name, type_, Card.LIST, Presence.ALWAYS if keep else Presence.OMITEMPTY)


def _map(number: int, name: str, value: str = STRING) -> Field:
    return Field(number, name, value, Card.MAP, Presence.OMITEMPTY)


_META = "meta.ObjectMeta"

# Fields are listed in Go declaration order, which is the order Go writes JSON keys in.
MESSAGES: dict[str, tuple[Field, ...]] = {
    # ---- k8s.io/apimachinery/pkg/apis/meta/v1
    "meta.ObjectMeta": (
        _f(1, "name"),
        _f(2, "generateName"),
        _f(3, "namespace"),
        _f(4, "selfLink"),
        _f(5, "uid"),
        _f(6, "resourceVersion"),
        _f(7, "generation", INT),
        _f(8, "creationTimestamp", TIME, zero=True),
        _f(9, "deletionTimestamp", TIME, ptr=True),
        _f(10, "deletionGracePeriodSeconds", INT, ptr=True),
        _map(11, "labels"),
        _map(12, "annotations"),
        _list(13, "ownerReferences", "meta.OwnerReference"),
        _list(14, "finalizers"),
        _list(17, "managedFields", "meta.ManagedFieldsEntry"),
    ),
    "meta.OwnerReference": (
        _f(5, "apiVersion", keep=True),
        _f(1, "kind", keep=True),
        _f(3, "name", keep=True),
        _f(4, "uid", keep=True),
        _f(6, "controller", BOOL, ptr=True),
        _f(7, "blockOwnerDeletion", BOOL, ptr=True),
    ),
    "meta.ManagedFieldsEntry": (
        _f(1, "manager"),
        _f(2, "operation"),
        _f(3, "apiVersion"),
        _f(4, "time", TIME, ptr=True),
        _f(6, "fieldsType"),
        _f(7, "fieldsV1", FIELDSV1, ptr=True),
        _f(8, "subresource"),
    ),
    "meta.LabelSelector": (
        _map(1, "matchLabels"),
        _list(2, "matchExpressions", "meta.LabelSelectorRequirement"),
    ),
    "meta.LabelSelectorRequirement": (
        _f(1, "key", keep=True),
        _f(2, "operator", keep=True),
        _list(3, "values"),
    ),
    "meta.FieldSelectorRequirement": (
        _f(1, "key", keep=True),
        _f(2, "operator", keep=True),
        _list(3, "values"),
    ),
    "meta.DeleteOptions": (
        _f(1, "gracePeriodSeconds", INT, ptr=True),
        _f(2, "preconditions", "meta.Preconditions", ptr=True),
        _f(3, "orphanDependents", BOOL, ptr=True),
        _f(4, "propagationPolicy", ptr=True),
        _list(5, "dryRun"),
        _f(6, "ignoreStoreReadErrorWithClusterBreakingPotential", BOOL, ptr=True),
    ),
    "meta.Preconditions": (
        _f(1, "uid", ptr=True),
        _f(2, "resourceVersion", ptr=True),
    ),
    # ---- k8s.io/api/core/v1
    "core.Namespace": (
        _f(1, "metadata", _META),
        _f(2, "spec", "core.NamespaceSpec"),
        _f(3, "status", "core.NamespaceStatus"),
    ),
    "core.NamespaceSpec": (_list(1, "finalizers"),),
    "core.NamespaceStatus": (
        _f(1, "phase"),
        _list(2, "conditions", "core.NamespaceCondition"),
    ),
    "core.NamespaceCondition": (
        _f(1, "type", keep=True),
        _f(2, "status", keep=True),
        _f(4, "lastTransitionTime", TIME),
        _f(5, "reason"),
        _f(6, "message"),
    ),
    "core.ConfigMap": (
        _f(1, "metadata", _META),
        _f(4, "immutable", BOOL, ptr=True),
        _map(2, "data"),
        _map(3, "binaryData", BYTES),
    ),
    "core.Secret": (
        _f(1, "metadata", _META),
        _f(5, "immutable", BOOL, ptr=True),
        _map(2, "data", BYTES),
        _map(4, "stringData"),
        _f(3, "type"),
    ),
    "core.ServiceAccount": (
        _f(1, "metadata", _META),
        _list(2, "secrets", "core.ObjectReference"),
        _list(3, "imagePullSecrets", "core.LocalObjectReference"),
        _f(4, "automountServiceAccountToken", BOOL, ptr=True),
    ),
    "core.ObjectReference": (
        _f(1, "kind"),
        _f(2, "namespace"),
        _f(3, "name"),
        _f(4, "uid"),
        _f(5, "apiVersion"),
        _f(6, "resourceVersion"),
        _f(7, "fieldPath"),
    ),
    "core.LocalObjectReference": (_f(1, "name"),),
    "core.Event": (
        _f(1, "metadata", _META),
        _f(2, "involvedObject", "core.ObjectReference"),
        _f(3, "reason"),
        _f(4, "message"),
        _f(5, "source", "core.EventSource"),
        _f(6, "firstTimestamp", TIME),
        _f(7, "lastTimestamp", TIME),
        _f(8, "count", INT),
        _f(9, "type"),
        _f(10, "eventTime", MICROTIME),
        _f(11, "series", "core.EventSeries", ptr=True),
        _f(12, "action"),
        _f(13, "related", "core.ObjectReference", ptr=True),
        _f(14, "reportingComponent", keep=True),
        _f(15, "reportingInstance", keep=True),
    ),
    "core.EventSource": (
        _f(1, "component"),
        _f(2, "host"),
    ),
    "core.EventSeries": (
        _f(1, "count", INT),
        _f(2, "lastObservedTime", MICROTIME),
    ),
    # ---- k8s.io/api/events/v1
    "events.Event": (
        _f(1, "metadata", _META),
        _f(2, "eventTime", MICROTIME),
        _f(3, "series", "events.EventSeries", ptr=True),
        _f(4, "reportingController"),
        _f(5, "reportingInstance"),
        _f(6, "action"),
        _f(7, "reason"),
        _f(8, "regarding", "core.ObjectReference"),
        _f(9, "related", "core.ObjectReference", ptr=True),
        _f(10, "note"),
        _f(11, "type"),
        _f(12, "deprecatedSource", "core.EventSource"),
        _f(13, "deprecatedFirstTimestamp", TIME),
        _f(14, "deprecatedLastTimestamp", TIME),
        _f(15, "deprecatedCount", INT),
    ),
    "events.EventSeries": (
        _f(1, "count", INT, keep=True),
        _f(2, "lastObservedTime", MICROTIME),
    ),
    # ---- k8s.io/api/coordination/v1
    "coordination.Lease": (
        _f(1, "metadata", _META),
        _f(2, "spec", "coordination.LeaseSpec"),
    ),
    "coordination.LeaseSpec": (
        _f(1, "holderIdentity", ptr=True),
        _f(2, "leaseDurationSeconds", INT, ptr=True),
        _f(3, "acquireTime", MICROTIME, ptr=True),
        _f(4, "renewTime", MICROTIME, ptr=True),
        _f(5, "leaseTransitions", INT, ptr=True),
        _f(6, "strategy", ptr=True),
        _f(7, "preferredHolder", ptr=True),
    ),
    # ---- k8s.io/api/rbac/v1
    "rbac.Role": (
        _f(1, "metadata", _META),
        _list(2, "rules", "rbac.PolicyRule", keep=True),
    ),
    "rbac.ClusterRole": (
        _f(1, "metadata", _META),
        _list(2, "rules", "rbac.PolicyRule", keep=True),
        _f(3, "aggregationRule", "rbac.AggregationRule", ptr=True),
    ),
    "rbac.RoleBinding": (
        _f(1, "metadata", _META),
        _list(2, "subjects", "rbac.Subject"),
        _f(3, "roleRef", "rbac.RoleRef"),
    ),
    "rbac.PolicyRule": (
        _list(1, "verbs", keep=True),
        _list(2, "apiGroups"),
        _list(3, "resources"),
        _list(4, "resourceNames"),
        _list(5, "nonResourceURLs"),
    ),
    "rbac.AggregationRule": (_list(1, "clusterRoleSelectors", "meta.LabelSelector"),),
    "rbac.Subject": (
        _f(1, "kind", keep=True),
        _f(2, "apiGroup"),
        _f(3, "name", keep=True),
        _f(4, "namespace"),
    ),
    "rbac.RoleRef": (
        _f(1, "apiGroup", keep=True),
        _f(2, "kind", keep=True),
        _f(3, "name", keep=True),
    ),
    # ---- k8s.io/api/authorization/v1
    "authorization.SubjectAccessReview": (
        _f(1, "metadata", _META),
        _f(2, "spec", "authorization.SubjectAccessReviewSpec"),
        _f(3, "status", "authorization.SubjectAccessReviewStatus"),
    ),
    "authorization.SelfSubjectAccessReview": (
        _f(1, "metadata", _META),
        _f(2, "spec", "authorization.SelfSubjectAccessReviewSpec"),
        _f(3, "status", "authorization.SubjectAccessReviewStatus"),
    ),
    "authorization.SelfSubjectRulesReview": (
        _f(1, "metadata", _META),
        _f(2, "spec", "authorization.SelfSubjectRulesReviewSpec"),
        _f(3, "status", "authorization.SubjectRulesReviewStatus"),
    ),
    "authorization.SubjectAccessReviewSpec": (
        _f(1, "resourceAttributes", "authorization.ResourceAttributes", ptr=True),
        _f(2, "nonResourceAttributes", "authorization.NonResourceAttributes", ptr=True),
        _f(3, "user"),
        _list(4, "groups"),
        _map(5, "extra", EXTRAVALUE),
        _f(6, "uid"),
        _f(7, "authorizationOptions", "authorization.AuthorizationOptions", ptr=True),
    ),
    "authorization.SelfSubjectAccessReviewSpec": (
        _f(1, "resourceAttributes", "authorization.ResourceAttributes", ptr=True),
        _f(2, "nonResourceAttributes", "authorization.NonResourceAttributes", ptr=True),
        _f(3, "authorizationOptions", "authorization.AuthorizationOptions", ptr=True),
    ),
    "authorization.ResourceAttributes": (
        _f(1, "namespace"),
        _f(2, "verb"),
        _f(3, "group"),
        _f(4, "version"),
        _f(5, "resource"),
        _f(6, "subresource"),
        _f(7, "name"),
        _f(8, "fieldSelector", "authorization.FieldSelectorAttributes", ptr=True),
        _f(9, "labelSelector", "authorization.LabelSelectorAttributes", ptr=True),
    ),
    "authorization.FieldSelectorAttributes": (
        _f(1, "rawSelector"),
        _list(2, "requirements", "meta.FieldSelectorRequirement"),
    ),
    "authorization.LabelSelectorAttributes": (
        _f(1, "rawSelector"),
        _list(2, "requirements", "meta.LabelSelectorRequirement"),
    ),
    "authorization.NonResourceAttributes": (
        _f(1, "path"),
        _f(2, "verb"),
    ),
    "authorization.AuthorizationOptions": (_list(1, "handledDecisionTypes", keep=True),),
    # conditionalDecision (field 5) is server output behind an alpha gate: skipped as unknown
    "authorization.SubjectAccessReviewStatus": (
        _f(1, "allowed", BOOL, keep=True),
        _f(4, "denied", BOOL),
        _f(2, "reason"),
        _f(3, "evaluationError"),
    ),
    "authorization.SelfSubjectRulesReviewSpec": (_f(1, "namespace"),),
    "authorization.SubjectRulesReviewStatus": (
        _list(1, "resourceRules", "authorization.ResourceRule", keep=True),
        _list(2, "nonResourceRules", "authorization.NonResourceRule", keep=True),
        _f(3, "incomplete", BOOL, keep=True),
        _f(4, "evaluationError"),
    ),
    "authorization.ResourceRule": (
        _list(1, "verbs", keep=True),
        _list(2, "apiGroups"),
        _list(3, "resources"),
        _list(4, "resourceNames"),
    ),
    "authorization.NonResourceRule": (
        _list(1, "verbs", keep=True),
        _list(2, "nonResourceURLs"),
    ),
    # ---- k8s.io/api/authentication/v1 (kubectl auth whoami)
    "authentication.SelfSubjectReview": (
        _f(1, "metadata", _META),
        _f(2, "status", "authentication.SelfSubjectReviewStatus"),
    ),
    "authentication.SelfSubjectReviewStatus": (_f(1, "userInfo", "authentication.UserInfo"),),
    # TokenRequest (kubectl create token; POST serviceaccounts/<name>/token)
    "authentication.TokenRequest": (
        _f(1, "metadata", _META),
        _f(2, "spec", "authentication.TokenRequestSpec"),
        _f(3, "status", "authentication.TokenRequestStatus"),
    ),
    "authentication.TokenRequestSpec": (
        _list(1, "audiences", keep=True),
        _f(4, "expirationSeconds", INT, ptr=True, keep=True),
        _f(3, "boundObjectRef", "authentication.BoundObjectReference", ptr=True, keep=True),
    ),
    "authentication.TokenRequestStatus": (
        _f(1, "token", keep=True),
        _f(2, "expirationTimestamp", TIME, keep=True),
    ),
    "authentication.BoundObjectReference": (
        _f(1, "kind"),
        _f(2, "apiVersion"),
        _f(3, "name"),
        _f(4, "uid"),
    ),
    "authentication.UserInfo": (
        _f(1, "username"),
        _f(2, "uid"),
        _list(3, "groups"),
        _map(4, "extra", EXTRAVALUE),
    ),
}

# LocalSubjectAccessReview and ClusterRoleBinding share their message layout with a sibling.
MESSAGES["authorization.LocalSubjectAccessReview"] = MESSAGES["authorization.SubjectAccessReview"]
MESSAGES["rbac.ClusterRoleBinding"] = MESSAGES["rbac.RoleBinding"]

_DELETE = "meta.DeleteOptions"

# (apiVersion, kind) -> message. DeleteOptions is registered in every group version, as in Kubernetes.
KINDS: dict[tuple[str, str], str] = {
    ("v1", "Namespace"): "core.Namespace",
    ("v1", "ConfigMap"): "core.ConfigMap",
    ("v1", "Secret"): "core.Secret",
    ("v1", "ServiceAccount"): "core.ServiceAccount",
    ("v1", "Event"): "core.Event",
    ("v1", "ObjectReference"): "core.ObjectReference",
    ("v1", "LocalObjectReference"): "core.LocalObjectReference",
    ("events.k8s.io/v1", "Event"): "events.Event",
    ("coordination.k8s.io/v1", "Lease"): "coordination.Lease",
    ("rbac.authorization.k8s.io/v1", "Role"): "rbac.Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "rbac.ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "rbac.RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "rbac.ClusterRoleBinding",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "authorization.SubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "authorization.SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "authorization.LocalSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "authorization.SelfSubjectRulesReview",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "authentication.SelfSubjectReview",
    ("authentication.k8s.io/v1", "TokenRequest"): "authentication.TokenRequest",
    ("meta.k8s.io/v1", "DeleteOptions"): _DELETE,
    **{
        (api_version, "DeleteOptions"): _DELETE
        for api_version in (
            "v1",
            "events.k8s.io/v1",
            "coordination.k8s.io/v1",
            "rbac.authorization.k8s.io/v1",
            "authorization.k8s.io/v1",
            "authentication.k8s.io/v1",
        )
    },
}
