"""Shape of the OpenAPI v2/v3 documents: refs resolve, GVK extensions, kubectl's markers."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest

from teapot.apiserver.openapi import (
    OpenAPIBuilder,
    builtin_definition_name,
    builtin_definitions,
    content_hash,
)
from teapot.apiserver.openapi import _generate as generator
from teapot.apiserver.registry import Registry
from teapot.apiserver.resources import ResourceInfo

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
RBAC = "rbac.authorization.k8s.io"

TENANT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A tenant of the cloud.",
    "properties": {
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "description": "What the tenant is guaranteed.",
            "required": ["weight"],
            "properties": {
                "weight": {"type": "integer", "minimum": 1, "description": "share of spare capacity"},
                "note": {"type": "string", "nullable": True},
                "pick": {"oneOf": [{"required": ["a"]}, {"required": ["b"]}], "type": "object"},
            },
        },
        "status": {
            "type": "object",
            "description": "Observed state.",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"phase": {"type": "string"}},
        },
    },
}


def builtin(group: str, kind: str, resource: str, namespaced: bool, **kw: Any) -> ResourceInfo:
    return ResourceInfo(group, "v1", resource, kind, kind.lower(), namespaced, builtin=True, **kw)


RESOURCES = (
    builtin("", "Namespace", "namespaces", False, subresources=frozenset({"status", "finalize"})),
    builtin("", "ConfigMap", "configmaps", True),
    builtin("", "Secret", "secrets", True),
    builtin("", "ServiceAccount", "serviceaccounts", True),
    builtin("", "Event", "events", True),
    builtin("events.k8s.io", "Event", "events", True),
    builtin("coordination.k8s.io", "Lease", "leases", True),
    builtin("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", False,
            subresources=frozenset({"status"})),
    builtin(RBAC, "Role", "roles", True),
    builtin(RBAC, "ClusterRole", "clusterroles", False),
    builtin(RBAC, "RoleBinding", "rolebindings", True),
    builtin(RBAC, "ClusterRoleBinding", "clusterrolebindings", False),
    builtin("authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False, verbs=("create",)),
    builtin("authorization.k8s.io", "SubjectAccessReview", "subjectaccessreviews", False, verbs=("create",)),
    builtin("authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews", False, verbs=("create",)),
    builtin("authorization.k8s.io", "LocalSubjectAccessReview", "localsubjectaccessreviews", True, verbs=("create",)),
    ResourceInfo("teapot.dev", "v1alpha1", "tenants", "Tenant", "tenant", False,
                 subresources=frozenset({"status", "scale"}), schema=TENANT_SCHEMA),
)  # fmt: skip


@pytest.fixture(scope="module")
def builder() -> OpenAPIBuilder:
    return OpenAPIBuilder(RESOURCES)


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def v3(builder: OpenAPIBuilder, key: str) -> dict[str, Any]:
    data = builder.v3_group_version(key)
    assert data is not None
    doc: dict[str, Any] = json.loads(data)
    return doc


def schema_for_gvk(doc: dict[str, Any], group: str, version: str, kind: str) -> dict[str, Any]:
    for schema in doc["components"]["schemas"].values():
        if {"group": group, "version": version, "kind": kind} in schema.get(
            "x-kubernetes-group-version-kind", []
        ):
            return dict(schema)
    raise AssertionError(f"no schema for {group}/{version} {kind}")


def test_committed_definitions_match_the_generator() -> None:
    """builtin_definitions.json is what _generate produces from the installed kubernetes client."""
    assert generator.generate()["definitions"] == dict(builtin_definitions())


def test_builtin_definitions_use_kube_names_and_carry_patch_metadata() -> None:
    defs = builtin_definitions()
    cm = defs["io.k8s.api.core.v1.ConfigMap"]
    assert cm["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "ConfigMap", "version": "v1"}]
    assert cm["description"] == "ConfigMap holds configuration data for pods to consume."
    assert cm["properties"]["data"]["additionalProperties"] == {"type": "string"}
    assert cm["properties"]["metadata"]["$ref"] == f"#/definitions/{META}.ObjectMeta"
    assert cm["properties"]["metadata"]["description"].startswith("Standard object's metadata")
    owner_refs = defs[f"{META}.ObjectMeta"]["properties"]["ownerReferences"]
    assert owner_refs["x-kubernetes-patch-strategy"] == "merge"
    assert owner_refs["x-kubernetes-patch-merge-key"] == "uid"
    assert owner_refs["x-kubernetes-list-map-keys"] == ["uid"]
    finalizers = defs[f"{META}.ObjectMeta"]["properties"]["finalizers"]
    assert finalizers["x-kubernetes-list-type"] == "set"
    conditions = defs["io.k8s.api.core.v1.NamespaceStatus"]["properties"]["conditions"]
    assert conditions["x-kubernetes-patch-merge-key"] == "type"
    assert defs["io.k8s.api.rbac.v1.RoleRef"]["required"] == ["kind", "name"]  # as in the 1.37 client
    assert defs["io.k8s.api.coordination.v1.LeaseSpec"]["properties"]["renewTime"]["format"] == "date-time"
    for name in (
        "io.k8s.api.events.v1.Event",
        "io.k8s.api.core.v1.Event",
        f"{META}.Table",
        f"{META}.WatchEvent",
    ):
        assert name in defs


def test_v2_document_is_swagger_with_resolving_refs(builder: OpenAPIBuilder) -> None:
    doc = json.loads(builder.v2())
    assert doc["swagger"] == "2.0"
    for ref in refs(doc):
        assert ref.startswith("#/definitions/")
        assert ref.removeprefix("#/definitions/") in doc["definitions"], ref
    patch = doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"]
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "kind": "ConfigMap", "version": "v1"}
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    params = {p["name"]: p for p in patch["parameters"]}
    for name in ("fieldValidation", "dryRun", "fieldManager", "force", "body"):
        assert name in params
    assert params["fieldValidation"]["in"] == "query"
    assert params["force"]["type"] == "boolean"
    assert params["body"]["schema"] == {"$ref": f"#/definitions/{META}.Patch"}
    post = doc["paths"]["/api/v1/namespaces/{namespace}/configmaps"]["post"]
    assert {p["name"] for p in post["parameters"]} >= {"body", "dryRun", "fieldManager", "fieldValidation"}
    list_op = doc["paths"]["/api/v1/configmaps"]["get"]
    assert list_op["operationId"] == "listCoreV1ConfigMapForAllNamespaces"
    assert list_op["responses"]["200"]["schema"]["$ref"] == "#/definitions/io.k8s.api.core.v1.ConfigMapList"
    # CRD: published from its schema, v2 cannot express nullable/oneOf so they are dropped
    tenant = doc["definitions"]["dev.teapot.v1alpha1.Tenant"]
    assert tenant["properties"]["metadata"]["$ref"] == f"#/definitions/{META}.ObjectMeta"
    spec = tenant["properties"]["spec"]
    assert spec["properties"]["note"] == {}
    assert "oneOf" not in spec["properties"]["pick"]
    assert spec["properties"]["weight"]["minimum"] == 1
    # kubectl's v2 client-side validation must not reject the unknown fields this object keeps
    assert tenant["properties"]["status"] == {
        "description": "Observed state.",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    tenant_patch = doc["paths"]["/apis/teapot.dev/v1alpha1/tenants/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in tenant_patch["consumes"]


def test_v3_index_points_at_hashed_documents(builder: OpenAPIBuilder) -> None:
    index = json.loads(builder.v3_index())
    assert set(index["paths"]) == {
        "api/v1",
        "apis/events.k8s.io/v1",
        "apis/coordination.k8s.io/v1",
        "apis/apiextensions.k8s.io/v1",
        f"apis/{RBAC}/v1",
        "apis/authorization.k8s.io/v1",
        "apis/teapot.dev/v1alpha1",
    }
    for key, entry in index["paths"].items():
        data = builder.v3_group_version(key)
        assert data is not None
        assert entry["serverRelativeURL"] == f"/openapi/v3/{key}?hash={content_hash(data)}"
        assert builder.v3_hash(key) == content_hash(data)


@pytest.mark.parametrize(
    "key",
    ["api/v1", "apis/teapot.dev/v1alpha1", f"apis/{RBAC}/v1", "apis/authorization.k8s.io/v1"],
)
def test_v3_documents_have_resolving_refs(builder: OpenAPIBuilder, key: str) -> None:
    doc = v3(builder, key)
    assert doc["openapi"].startswith("3.0")
    schemas = doc["components"]["schemas"]
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    for path in doc["paths"]:
        prefix = "/" + key + "/"
        assert path.startswith(prefix), path


def test_v3_patch_operations_advertise_field_validation(builder: OpenAPIBuilder) -> None:
    """kubectl's QueryParamVerifierV3: a PATCH op with the GVK extension and a fieldValidation query param."""
    for key, gvk in (
        ("api/v1", ("", "v1", "Namespace")),
        ("apis/teapot.dev/v1alpha1", ("teapot.dev", "v1alpha1", "Tenant")),
    ):
        doc = v3(builder, key)
        found = [
            item["patch"]
            for item in doc["paths"].values()
            if "patch" in item
            and item["patch"]["x-kubernetes-group-version-kind"]
            == {"group": gvk[0], "version": gvk[1], "kind": gvk[2]}
        ]
        assert found
        for op in found:
            assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in op["parameters"])
            content = op["requestBody"]["content"]
            assert ("application/strategic-merge-patch+json" in content) == (gvk[0] == "")


def test_v3_crd_schema_is_published_like_kube(builder: OpenAPIBuilder) -> None:
    doc = v3(builder, "apis/teapot.dev/v1alpha1")
    tenant = schema_for_gvk(doc, "teapot.dev", "v1alpha1", "Tenant")
    assert tenant["description"] == "A tenant of the cloud."
    assert tenant["properties"]["metadata"]["allOf"] == [{"$ref": f"#/components/schemas/{META}.ObjectMeta"}]
    assert tenant["properties"]["kind"]["type"] == "string"
    spec = tenant["properties"]["spec"]
    assert spec["properties"]["note"] == {"type": "string", "nullable": True}
    assert spec["required"] == ["weight"]
    listing = schema_for_gvk(doc, "teapot.dev", "v1alpha1", "TenantList")
    assert listing["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/dev.teapot.v1alpha1.Tenant"
    }
    paths = doc["paths"]
    assert set(paths) == {
        "/apis/teapot.dev/v1alpha1/tenants",
        "/apis/teapot.dev/v1alpha1/tenants/{name}",
        "/apis/teapot.dev/v1alpha1/tenants/{name}/status",
        "/apis/teapot.dev/v1alpha1/tenants/{name}/scale",
    }
    scale = paths["/apis/teapot.dev/v1alpha1/tenants/{name}/scale"]["put"]
    assert scale["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "kind": "Scale",
        "version": "v1",
    }
    assert scale["operationId"] == "replaceTeapotDevV1alpha1TenantScale"
    delete_options = doc["components"]["schemas"][f"{META}.DeleteOptions"]
    assert {"group": "teapot.dev", "kind": "DeleteOptions", "version": "v1alpha1"} in delete_options[
        "x-kubernetes-group-version-kind"
    ]


def test_v3_builtin_documents(builder: OpenAPIBuilder) -> None:
    core = v3(builder, "api/v1")
    cm = schema_for_gvk(core, "", "v1", "ConfigMap")
    assert cm["properties"]["metadata"]["allOf"] == [{"$ref": f"#/components/schemas/{META}.ObjectMeta"}]
    namespace_ops = core["paths"]["/api/v1/namespaces/{name}/status"]
    assert set(namespace_ops) == {"get", "put", "patch", "parameters"}
    finalize = core["paths"]["/api/v1/namespaces/{name}/finalize"]
    assert set(finalize) == {"put", "parameters"}
    assert finalize["put"]["operationId"] == "replaceCoreV1NamespaceFinalize"
    authz = v3(builder, "apis/authorization.k8s.io/v1")
    assert set(authz["paths"]) == {
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        "/apis/authorization.k8s.io/v1/namespaces/{namespace}/localsubjectaccessreviews",
    }
    schema_for_gvk(authz, "authorization.k8s.io", "v1", "LocalSubjectAccessReview")
    review = authz["paths"]["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]
    assert set(review) == {"post", "parameters"}
    assert review["post"]["operationId"] == "createAuthorizationV1SelfSubjectAccessReview"
    schema_for_gvk(authz, "authorization.k8s.io", "v1", "SelfSubjectAccessReview")
    rbac = v3(builder, f"apis/{RBAC}/v1")
    assert "/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings/{name}" in rbac["paths"]
    assert (
        schema_for_gvk(rbac, RBAC, "v1", "Role")["properties"]["rules"]["x-kubernetes-list-type"] == "atomic"
    )


def test_unknown_group_version_and_plain_spelling(builder: OpenAPIBuilder) -> None:
    assert builder.v3_group_version("apis/nope.dev/v1") is None
    assert builder.v3_hash("apis/nope.dev/v1") is None
    assert builder.v3_group_version("teapot.dev/v1alpha1") == builder.v3_group_version(
        "apis/teapot.dev/v1alpha1"
    )
    assert builder.v3_group_version("v1") == builder.v3_group_version("/api/v1")


def test_documents_are_cached_and_rebuilt_only_on_change() -> None:
    b = OpenAPIBuilder(RESOURCES)
    v2, index = b.v2(), b.v3_index()
    assert b.v2() is v2
    assert b.set_resources(list(RESOURCES)) is False
    assert b.v3_index() is index
    # a schema change alone (ResourceInfo equality ignores schemas) must be noticed
    schema = json.loads(json.dumps(TENANT_SCHEMA))
    schema["properties"]["spec"]["properties"]["weight"]["description"] = "changed"
    changed = [dataclasses.replace(r, schema=schema) if r.group == "teapot.dev" else r for r in RESOURCES]
    old_hash = b.v3_hash("apis/teapot.dev/v1alpha1")
    assert b.set_resources(changed) is True
    assert b.v3_hash("apis/teapot.dev/v1alpha1") != old_hash
    assert b.v3_hash("api/v1") == OpenAPIBuilder(RESOURCES).v3_hash("api/v1")
    assert b"changed" in b.v2()
    # a CRD going away drops its group/version
    assert b.set_resources([r for r in RESOURCES if r.group != "teapot.dev"]) is True
    assert "apis/teapot.dev/v1alpha1" not in json.loads(b.v3_index())["paths"]
    assert b.v3_group_version("apis/teapot.dev/v1alpha1") is None


def test_crd_without_schema_preserves_unknown_fields() -> None:
    loose = ResourceInfo("example.com", "v1", "widgets", "Widget", "widget", True)
    doc = v3(OpenAPIBuilder([loose]), "apis/example.com/v1")
    widget = doc["components"]["schemas"]["com.example.v1.Widget"]
    assert widget["x-kubernetes-preserve-unknown-fields"] is True
    assert widget["properties"]["metadata"]["allOf"][0]["$ref"].endswith(".ObjectMeta")


def test_every_builtin_the_server_registers_has_a_kube_definition() -> None:
    served = [r for r in Registry().all() if r.builtin]
    assert served
    missing = [r.kind for r in served if builtin_definition_name(r.group, r.version, r.kind) is None]
    assert missing == []
