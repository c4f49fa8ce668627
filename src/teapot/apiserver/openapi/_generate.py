"""Build-time generator for ``builtin_definitions.json`` (run: ``python -m teapot.apiserver.openapi._generate``).

Why it exists: the embedded server must publish the same OpenAPI definitions as kube-apiserver for
the built-in kinds it serves, so ``kubectl explain`` and kubectl's strategic-merge-patch code see
familiar names, descriptions and patch metadata. We have no Go toolchain and must not download
kube's ``swagger.json``, but the official ``kubernetes`` Python client (a test dependency) is
generated from that very document: every model class carries ``openapi_types``, ``attribute_map``,
the kind's description (class docstring) and each field's description (pydantic ``Field``). This
script walks the models reachable from the served kinds, maps them back to kube's definition names
and writes a compact JSON file in Swagger 2.0 form that is committed next to it, so the runtime
never imports the client.

What the Python models do not carry is added here from small tables written against kube's
``types.go``: patch strategies, list types, group/version/kind extensions and a few meta types the
client has no model for (Table, PartialObjectMetadata, Patch, Scale).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("builtin_definitions.json")

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
CORE = "io.k8s.api.core.v1"
EVENTS = "io.k8s.api.events.v1"
COORD = "io.k8s.api.coordination.v1"
APIEXT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1"
RBAC = "io.k8s.api.rbac.v1"
AUTHZ = "io.k8s.api.authorization.v1"
AUTOSCALING = "io.k8s.api.autoscaling.v1"

# (python model, group, version, kind) of every served kind and its list.
ROOTS: tuple[tuple[str, str, str, str], ...] = (
    ("V1Namespace", "", "v1", "Namespace"),
    ("V1NamespaceList", "", "v1", "NamespaceList"),
    ("V1Secret", "", "v1", "Secret"),
    ("V1SecretList", "", "v1", "SecretList"),
    ("V1ConfigMap", "", "v1", "ConfigMap"),
    ("V1ConfigMapList", "", "v1", "ConfigMapList"),
    ("V1ServiceAccount", "", "v1", "ServiceAccount"),
    ("V1ServiceAccountList", "", "v1", "ServiceAccountList"),
    ("CoreV1Event", "", "v1", "Event"),
    ("CoreV1EventList", "", "v1", "EventList"),
    ("EventsV1Event", "events.k8s.io", "v1", "Event"),
    ("EventsV1EventList", "events.k8s.io", "v1", "EventList"),
    ("V1Lease", "coordination.k8s.io", "v1", "Lease"),
    ("V1LeaseList", "coordination.k8s.io", "v1", "LeaseList"),
    ("V1CustomResourceDefinition", "apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
    ("V1CustomResourceDefinitionList", "apiextensions.k8s.io", "v1", "CustomResourceDefinitionList"),
    ("V1Role", "rbac.authorization.k8s.io", "v1", "Role"),
    ("V1RoleList", "rbac.authorization.k8s.io", "v1", "RoleList"),
    ("V1ClusterRole", "rbac.authorization.k8s.io", "v1", "ClusterRole"),
    ("V1ClusterRoleList", "rbac.authorization.k8s.io", "v1", "ClusterRoleList"),
    ("V1RoleBinding", "rbac.authorization.k8s.io", "v1", "RoleBinding"),
    ("V1RoleBindingList", "rbac.authorization.k8s.io", "v1", "RoleBindingList"),
    ("V1ClusterRoleBinding", "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
    ("V1ClusterRoleBindingList", "rbac.authorization.k8s.io", "v1", "ClusterRoleBindingList"),
    ("V1SelfSubjectAccessReview", "authorization.k8s.io", "v1", "SelfSubjectAccessReview"),
    ("V1SubjectAccessReview", "authorization.k8s.io", "v1", "SubjectAccessReview"),
    ("V1SelfSubjectReview", "authentication.k8s.io", "v1", "SelfSubjectReview"),
    ("V1SelfSubjectRulesReview", "authorization.k8s.io", "v1", "SelfSubjectRulesReview"),
    ("V1LocalSubjectAccessReview", "authorization.k8s.io", "v1", "LocalSubjectAccessReview"),
    ("V1Status", "", "v1", "Status"),
    ("V1DeleteOptions", "", "v1", "DeleteOptions"),
    ("V1WatchEvent", "", "v1", "WatchEvent"),
)

# Python model name -> kube package, for every model reachable from ROOTS. Unknown models fail
# the generator loudly instead of being guessed.
PACKAGES: dict[str, str] = {
    **dict.fromkeys(
        [
            "V1DeleteOptions",
            "V1FieldSelectorRequirement",
            "V1LabelSelector",
            "V1LabelSelectorRequirement",
            "V1ListMeta",
            "V1ManagedFieldsEntry",
            "V1ObjectMeta",
            "V1OwnerReference",
            "V1Preconditions",
            "V1Status",
            "V1StatusCause",
            "V1StatusDetails",
            "V1WatchEvent",
            "V1ShardInfo",
        ],
        META,
    ),
    **dict.fromkeys(
        [
            "V1Namespace",
            "V1NamespaceList",
            "V1NamespaceSpec",
            "V1NamespaceStatus",
            "V1NamespaceCondition",
            "V1Secret",
            "V1SecretList",
            "V1ConfigMap",
            "V1ConfigMapList",
            "V1ServiceAccount",
            "V1ServiceAccountList",
            "CoreV1Event",
            "CoreV1EventList",
            "CoreV1EventSeries",
            "V1EventSource",
            "V1LocalObjectReference",
            "V1ObjectReference",
        ],
        CORE,
    ),
    **dict.fromkeys(["EventsV1Event", "EventsV1EventList", "EventsV1EventSeries"], EVENTS),
    **dict.fromkeys(["V1Lease", "V1LeaseList", "V1LeaseSpec"], COORD),
    **dict.fromkeys(
        [
            "ApiextensionsV1ServiceReference",
            "ApiextensionsV1WebhookClientConfig",
            "V1CustomResourceColumnDefinition",
            "V1CustomResourceConversion",
            "V1CustomResourceDefinition",
            "V1CustomResourceDefinitionCondition",
            "V1CustomResourceDefinitionList",
            "V1CustomResourceDefinitionNames",
            "V1CustomResourceDefinitionSpec",
            "V1CustomResourceDefinitionStatus",
            "V1CustomResourceDefinitionVersion",
            "V1CustomResourceSubresourceScale",
            "V1CustomResourceSubresources",
            "V1CustomResourceValidation",
            "V1ExternalDocumentation",
            "V1JSONSchemaProps",
            "V1SelectableField",
            "V1ValidationRule",
            "V1WebhookConversion",
        ],
        APIEXT,
    ),
    **dict.fromkeys(
        [
            "RbacV1Subject",
            "V1AggregationRule",
            "V1ClusterRole",
            "V1ClusterRoleBinding",
            "V1ClusterRoleBindingList",
            "V1ClusterRoleList",
            "V1PolicyRule",
            "V1Role",
            "V1RoleBinding",
            "V1RoleBindingList",
            "V1RoleList",
            "V1RoleRef",
        ],
        RBAC,
    ),
    **dict.fromkeys(
        ["V1SelfSubjectReview", "V1SelfSubjectReviewStatus", "V1UserInfo"], "io.k8s.api.authentication.v1"
    ),
    **dict.fromkeys(
        [
            "V1FieldSelectorAttributes",
            "V1LocalSubjectAccessReview",
            "V1LabelSelectorAttributes",
            "V1NonResourceAttributes",
            "V1NonResourceRule",
            "V1ResourceAttributes",
            "V1ResourceRule",
            "V1SelfSubjectAccessReview",
            "V1SelfSubjectAccessReviewSpec",
            "V1SelfSubjectRulesReview",
            "V1SelfSubjectRulesReviewSpec",
            "V1SubjectAccessReview",
            "V1SubjectAccessReviewSpec",
            "V1SubjectAccessReviewStatus",
            "V1SubjectRulesReviewStatus",
        ],
        AUTHZ,
    ),
}

_PREFIX = re.compile(r"^(?:Core|Events|Rbac|Apiextensions)?V1")

# Field metadata from kube's types.go struct tags and +listType markers, which the Python client
# drops. Keyed by (definition short name, JSON field name).
_MERGE_BY_TYPE = {
    "x-kubernetes-list-map-keys": ["type"],
    "x-kubernetes-list-type": "map",
    "x-kubernetes-patch-merge-key": "type",
    "x-kubernetes-patch-strategy": "merge",
}
_ATOMIC = {"x-kubernetes-list-type": "atomic"}
FIELD_EXTENSIONS: dict[tuple[str, str], dict[str, Any]] = {
    (f"{META}.ObjectMeta", "finalizers"): {
        "x-kubernetes-list-type": "set",
        "x-kubernetes-patch-strategy": "merge",
    },
    (f"{META}.ObjectMeta", "ownerReferences"): {
        "x-kubernetes-list-map-keys": ["uid"],
        "x-kubernetes-list-type": "map",
        "x-kubernetes-patch-merge-key": "uid",
        "x-kubernetes-patch-strategy": "merge",
    },
    (f"{META}.ObjectMeta", "managedFields"): _ATOMIC,
    (f"{META}.StatusDetails", "causes"): _ATOMIC,
    (f"{META}.LabelSelector", "matchExpressions"): _ATOMIC,
    (f"{META}.LabelSelectorRequirement", "values"): _ATOMIC,
    (f"{META}.DeleteOptions", "dryRun"): _ATOMIC,
    (f"{META}.FieldSelectorRequirement", "values"): _ATOMIC,
    (f"{CORE}.NamespaceSpec", "finalizers"): _ATOMIC,
    (f"{CORE}.NamespaceStatus", "conditions"): _MERGE_BY_TYPE,
    (f"{CORE}.ServiceAccount", "secrets"): {
        "x-kubernetes-patch-merge-key": "name",
        "x-kubernetes-patch-strategy": "merge",
    },
    (f"{CORE}.ServiceAccount", "imagePullSecrets"): _ATOMIC,
    (f"{RBAC}.Role", "rules"): _ATOMIC,
    (f"{RBAC}.ClusterRole", "rules"): _ATOMIC,
    (f"{RBAC}.AggregationRule", "clusterRoleSelectors"): _ATOMIC,
    (f"{RBAC}.RoleBinding", "subjects"): _ATOMIC,
    (f"{RBAC}.ClusterRoleBinding", "subjects"): _ATOMIC,
    **{
        (f"{RBAC}.PolicyRule", f): _ATOMIC
        for f in ("apiGroups", "resources", "resourceNames", "verbs", "nonResourceURLs")
    },
    (f"{APIEXT}.CustomResourceDefinitionSpec", "versions"): _ATOMIC,
    (f"{APIEXT}.CustomResourceDefinitionStatus", "conditions"): {
        "x-kubernetes-list-map-keys": ["type"],
        "x-kubernetes-list-type": "map",
    },
    (f"{APIEXT}.CustomResourceDefinitionStatus", "storedVersions"): _ATOMIC,
    (f"{APIEXT}.CustomResourceDefinitionNames", "shortNames"): _ATOMIC,
    (f"{APIEXT}.CustomResourceDefinitionNames", "categories"): _ATOMIC,
    (f"{APIEXT}.CustomResourceDefinitionVersion", "additionalPrinterColumns"): _ATOMIC,
    (f"{APIEXT}.CustomResourceDefinitionVersion", "selectableFields"): _ATOMIC,
    (f"{APIEXT}.WebhookConversion", "conversionReviewVersions"): _ATOMIC,
    (f"{AUTHZ}.SubjectAccessReviewSpec", "groups"): _ATOMIC,
    (f"{AUTHZ}.SubjectRulesReviewStatus", "resourceRules"): _ATOMIC,
    (f"{AUTHZ}.SubjectRulesReviewStatus", "nonResourceRules"): _ATOMIC,
}

# Descriptions kube attaches to reference-typed fields (the Python client keeps them only for
# scalar fields).
REF_DESCRIPTIONS: dict[str, str] = {
    f"{META}.ObjectMeta": (
        "Standard object's metadata. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
    ),
    f"{META}.ListMeta": (
        "Standard list metadata. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
    ),
}

_API_VERSION_DOC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should "
    "convert recognized schemas to the latest internal value, and may reject unrecognized values. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_KIND_DOC = (
    "Kind is a string value representing the REST resource this object represents. Servers may "
    "infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/definitions/{name}"}


def _type_meta() -> dict[str, Any]:
    return {
        "apiVersion": {"description": _API_VERSION_DOC, "type": "string"},
        "kind": {"description": _KIND_DOC, "type": "string"},
    }


def extra_definitions() -> dict[str, dict[str, Any]]:
    """Meta types the Python client has no model for, written from kube's Go types."""
    str_t = {"type": "string"}
    return {
        f"{META}.Patch": {
            "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
            "type": "object",
        },
        f"{META}.Time": {
            "description": "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON.",
            "format": "date-time",
            "type": "string",
        },
        f"{META}.TableColumnDefinition": {
            "description": "TableColumnDefinition contains information about a column returned in the Table.",
            "type": "object",
            "required": ["name", "type", "format", "description", "priority"],
            "properties": {
                "name": {"description": "name is a human readable name for the column.", **str_t},
                "type": {
                    "description": "type is an OpenAPI type definition for this column, such as number, "
                    "integer, string, or array.",
                    **str_t,
                },
                "format": {
                    "description": "format is an optional OpenAPI type modifier for this column.",
                    **str_t,
                },
                "description": {
                    "description": "description is a human readable description of this column.",
                    **str_t,
                },
                "priority": {
                    "description": "priority is an integer defining the relative importance of this column "
                    "compared to others. Lower numbers are considered higher priority.",
                    "type": "integer",
                    "format": "int32",
                },
            },
        },
        f"{META}.TableRow": {
            "description": "TableRow is an individual row in a table.",
            "type": "object",
            "required": ["cells"],
            "properties": {
                "cells": {
                    "description": "cells will be as wide as the column definitions array and may contain "
                    "strings, numbers (float64 or int64), booleans, simple maps, lists, or null.",
                    "type": "array",
                    "items": {"type": "object"},
                    "x-kubernetes-list-type": "atomic",
                },
                "conditions": {
                    "description": "conditions describe additional status of a row that are relevant for a human user.",
                    "type": "array",
                    "items": {"type": "object"},
                    "x-kubernetes-list-type": "atomic",
                },
                "object": {
                    "description": "This field contains the requested additional information about each object "
                    "based on the includeObject policy when requesting the Table.",
                    "type": "object",
                },
            },
        },
        f"{META}.Table": {
            "description": "Table is a tabular representation of a set of API resources.",
            "type": "object",
            "required": ["columnDefinitions", "rows"],
            "properties": {
                **_type_meta(),
                "metadata": {**_ref(f"{META}.ListMeta"), "description": REF_DESCRIPTIONS[f"{META}.ListMeta"]},
                "columnDefinitions": {
                    "description": "columnDefinitions describes each column in the returned items array.",
                    "type": "array",
                    "items": _ref(f"{META}.TableColumnDefinition"),
                    "x-kubernetes-list-type": "atomic",
                },
                "rows": {
                    "description": "rows is the list of items in the table.",
                    "type": "array",
                    "items": _ref(f"{META}.TableRow"),
                    "x-kubernetes-list-type": "atomic",
                },
            },
            "x-kubernetes-group-version-kind": [{"group": "meta.k8s.io", "kind": "Table", "version": "v1"}],
        },
        f"{META}.PartialObjectMetadata": {
            "description": "PartialObjectMetadata is a generic representation of any object with ObjectMeta.",
            "type": "object",
            "properties": {
                **_type_meta(),
                "metadata": {
                    **_ref(f"{META}.ObjectMeta"),
                    "description": REF_DESCRIPTIONS[f"{META}.ObjectMeta"],
                },
            },
            "x-kubernetes-group-version-kind": [
                {"group": "meta.k8s.io", "kind": "PartialObjectMetadata", "version": "v1"}
            ],
        },
        f"{META}.PartialObjectMetadataList": {
            "description": "PartialObjectMetadataList contains a list of objects containing only their metadata.",
            "type": "object",
            "required": ["items"],
            "properties": {
                **_type_meta(),
                "metadata": {**_ref(f"{META}.ListMeta"), "description": REF_DESCRIPTIONS[f"{META}.ListMeta"]},
                "items": {
                    "description": "items contains each of the included items.",
                    "type": "array",
                    "items": _ref(f"{META}.PartialObjectMetadata"),
                },
            },
            "x-kubernetes-group-version-kind": [
                {"group": "meta.k8s.io", "kind": "PartialObjectMetadataList", "version": "v1"}
            ],
        },
        f"{AUTOSCALING}.ScaleSpec": {
            "description": "ScaleSpec describes the attributes of a scale subresource.",
            "type": "object",
            "properties": {
                "replicas": {
                    "description": "replicas is the desired number of instances for the scaled object.",
                    "type": "integer",
                    "format": "int32",
                }
            },
        },
        f"{AUTOSCALING}.ScaleStatus": {
            "description": "ScaleStatus represents the current status of a scale subresource.",
            "type": "object",
            "required": ["replicas"],
            "properties": {
                "replicas": {
                    "description": "replicas is the actual number of observed instances of the scaled object.",
                    "type": "integer",
                    "format": "int32",
                },
                "selector": {
                    "description": "selector is the label query over pods that should match the replicas count.",
                    **str_t,
                },
            },
        },
        f"{AUTOSCALING}.Scale": {
            "description": "Scale represents a scaling request for a resource.",
            "type": "object",
            "properties": {
                **_type_meta(),
                "metadata": {
                    **_ref(f"{META}.ObjectMeta"),
                    "description": REF_DESCRIPTIONS[f"{META}.ObjectMeta"],
                },
                "spec": {
                    **_ref(f"{AUTOSCALING}.ScaleSpec"),
                    "description": "spec defines the behavior of the scale.",
                },
                "status": {
                    **_ref(f"{AUTOSCALING}.ScaleStatus"),
                    "description": "status is the current status of the scale. Read-only.",
                },
            },
            "x-kubernetes-group-version-kind": [{"group": "autoscaling", "kind": "Scale", "version": "v1"}],
        },
    }


class _Walker:
    """Turns Python client models into Swagger 2.0 definitions."""

    def __init__(self, models: Any) -> None:
        self.models = models
        self.definitions: dict[str, dict[str, Any]] = {}

    def name_of(self, model: str) -> str:
        try:
            package = PACKAGES[model]
        except KeyError:
            raise SystemExit(f"no kube package known for Python model {model}; add it to PACKAGES") from None
        return f"{package}.{_PREFIX.sub('', model)}"

    def class_description(self, model: str) -> str:
        doc = getattr(self.models, model).__doc__ or ""
        text = doc.split("Attributes:")[0]
        return " ".join(text.split())

    def walk(self, model: str) -> str:
        name = self.name_of(model)
        if name in self.definitions:
            return name
        cls = getattr(self.models, model)
        definition: dict[str, Any] = {"description": self.class_description(model), "type": "object"}
        self.definitions[name] = definition  # registered before recursion: JSONSchemaProps is recursive
        properties: dict[str, Any] = {}
        required: list[str] = []
        fields = {f.serialization_alias or f.alias or n: f for n, f in cls.model_fields.items()}
        for attr, type_str in cls.openapi_types.items():
            json_name = cls.attribute_map[attr]
            field = fields[json_name]
            prop = self.schema_for(type_str, name, json_name)
            description = field.description or ""
            if "$ref" in prop and not description:
                description = REF_DESCRIPTIONS.get(
                    prop["$ref"].rsplit("/", 1)[1], ""
                ) or self.definitions.get(prop["$ref"].rsplit("/", 1)[1], {}).get("description", "")
            if description:
                prop = {"description": description, **prop}
            prop.update(FIELD_EXTENSIONS.get((name, json_name), {}))
            properties[json_name] = prop
            if field.is_required():
                required.append(json_name)
        definition["properties"] = dict(sorted(properties.items()))
        if required:
            definition["required"] = sorted(required)
        return name

    def schema_for(self, type_str: str, owner: str, field: str) -> dict[str, Any]:
        type_str = type_str.strip()
        if type_str.startswith("List["):
            return {"type": "array", "items": self.schema_for(type_str[5:-1], owner, field)}
        if type_str.startswith("Dict[str, "):
            return {"type": "object", "additionalProperties": self.schema_for(type_str[10:-1], owner, field)}
        scalars: dict[str, dict[str, Any]] = {
            "str": {"type": "string"},
            "int": {"type": "integer"},
            "float": {"type": "number", "format": "double"},
            "bool": {"type": "boolean"},
            "bytes": {"type": "string", "format": "byte"},
            "datetime": {"type": "string", "format": "date-time"},
        }
        if type_str in scalars:
            return dict(scalars[type_str])
        if type_str == "object":
            if owner.startswith(APIEXT):
                return {}  # apiextensions JSON / JSONSchemaPropsOrBool / OrArray: any JSON value
            return {"type": "object"}  # FieldsV1, RawExtension
        return {"$ref": f"#/definitions/{self.walk(type_str)}"}


def generate() -> dict[str, Any]:
    try:
        import kubernetes
        import kubernetes.client.models as models
    except ImportError:  # pragma: no cover - build-time only
        raise SystemExit("the generator needs the 'kubernetes' client (pip install '.[test]')") from None
    walker = _Walker(models)
    for model, group, version, kind in ROOTS:
        name = walker.walk(model)
        walker.definitions[name]["x-kubernetes-group-version-kind"] = [
            {"group": group, "kind": kind, "version": version}
        ]
    definitions = {**walker.definitions, **extra_definitions()}
    return {
        "source": f"generated by teapot.apiserver.openapi._generate from kubernetes {kubernetes.__version__}",
        "definitions": dict(sorted(definitions.items())),
    }


def main() -> None:
    data = generate()
    OUTPUT.write_text(json.dumps(data, indent=None, sort_keys=False, separators=(",", ":")) + "\n")
    sys.stdout.write(f"wrote {len(data['definitions'])} definitions to {OUTPUT}\n")


if __name__ == "__main__":
    main()
