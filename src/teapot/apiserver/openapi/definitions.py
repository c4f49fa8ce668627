"""Schema definitions: the committed built-in ones, CRD ones, and the v2 → v3 rewrite.

Why it exists: the OpenAPI documents are assembled from definitions of two origins — built-in
kinds (generated at build time into ``builtin_definitions.json`` by ``_generate``) and custom
resources (the CRD version's ``openAPIV3Schema``, published the way kube's apiextensions builder
does: ``metadata`` becomes a reference to ObjectMeta, ``apiVersion``/``kind`` are described, and
the definition carries ``x-kubernetes-group-version-kind``). Both are kept in Swagger 2.0 form
(``#/definitions/...`` references) and rewritten for OpenAPI v3 (``#/components/schemas/...``,
references with siblings wrapped in ``allOf`` as kube does) when a v3 document is built.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping
from importlib import resources as importlib_resources
from typing import Any

import orjson

from teapot.apiserver.resources import ResourceInfo

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
OBJECT_META = f"{META}.ObjectMeta"
LIST_META = f"{META}.ListMeta"
STATUS = f"{META}.Status"
DELETE_OPTIONS = f"{META}.DeleteOptions"
WATCH_EVENT = f"{META}.WatchEvent"
PATCH = f"{META}.Patch"
SCALE = "io.k8s.api.autoscaling.v1.Scale"

V2_PREFIX = "#/definitions/"
V3_PREFIX = "#/components/schemas/"

Schema = dict[str, Any]

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
_OBJECT_META_DOC = (
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_LIST_META_DOC = (
    "Standard list's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)


@functools.cache
def builtin_definitions() -> Mapping[str, Schema]:
    """The committed definitions of the built-in kinds and meta types (Swagger 2.0 form)."""
    raw = importlib_resources.files(__package__).joinpath("builtin_definitions.json").read_bytes()
    definitions: dict[str, Schema] = orjson.loads(raw)["definitions"]
    return definitions


@functools.cache
def _builtin_by_gvk() -> Mapping[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, definition in builtin_definitions().items():
        for gvk in definition.get("x-kubernetes-group-version-kind", ()):
            index[(gvk["group"], gvk["version"], gvk["kind"])] = name
    return index


def builtin_definition_name(group: str, version: str, kind: str) -> str | None:
    """kube's definition name of a built-in kind (``io.k8s.api.core.v1.ConfigMap``), if known."""
    return _builtin_by_gvk().get((group, version, kind))


def crd_definition_name(group: str, version: str, kind: str) -> str:
    """Definition name kube's CRD builder uses: the group reversed, then version and kind.

    ``teapot.dev``, ``v1alpha1``, ``Tenant`` → ``dev.teapot.v1alpha1.Tenant``.
    """
    reversed_group = ".".join(reversed(group.split("."))) if group else "core"
    return f"{reversed_group}.{version}.{kind}"


def list_kind(resource: ResourceInfo) -> str:
    return resource.list_kind or f"{resource.kind}List"


def gvk_extension(group: str, version: str, kind: str) -> list[dict[str, str]]:
    return [{"group": group, "kind": kind, "version": version}]


def _ref(name: str) -> Schema:
    return {"$ref": V2_PREFIX + name}


def to_v2_structural(schema: Mapping[str, Any]) -> Schema:
    """Rewrite a structural v3 schema for Swagger 2.0 like kube's ``ToStructuralOpenAPIV2``.

    Swagger 2.0 cannot say "nullable", "keep unknown fields" or use ``oneOf``/``anyOf``/``not``,
    and kubectl validates manifests against v2 schemas client-side (``kind: List`` manifests), so
    anything it would wrongly reject is loosened: nullable values and objects that preserve
    unknown fields lose their type and structure (descriptions stay), combinators are dropped.
    """
    out: Schema = {}
    loose = bool(schema.get("nullable")) or schema.get("x-kubernetes-preserve-unknown-fields") is True
    for key, value in schema.items():
        if key in ("nullable", "oneOf", "anyOf", "not", "allOf"):
            continue
        if loose and key in ("type", "items", "properties", "additionalProperties", "required"):
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {k: to_v2_structural(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = to_v2_structural(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def crd_definitions(resource: ResourceInfo, *, v2: bool) -> dict[str, Schema]:
    """The object and list definitions of one served CRD version (Swagger 2.0 reference form)."""
    name = crd_definition_name(resource.group, resource.version, resource.kind)
    source: Mapping[str, Any] = resource.schema or {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    schema: Schema = to_v2_structural(source) if v2 else copy.deepcopy(dict(source))
    properties: dict[str, Any] = dict(schema.get("properties") or {})
    properties["apiVersion"] = {"description": _API_VERSION_DOC, "type": "string"}
    properties["kind"] = {"description": _KIND_DOC, "type": "string"}
    properties["metadata"] = {**_ref(OBJECT_META), "description": _OBJECT_META_DOC}
    schema["properties"] = dict(sorted(properties.items()))
    schema.setdefault("type", "object")
    schema["x-kubernetes-group-version-kind"] = gvk_extension(resource.group, resource.version, resource.kind)
    kind_list = list_kind(resource)
    list_schema: Schema = {
        "description": f"{kind_list} is a list of {resource.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": _API_VERSION_DOC, "type": "string"},
            "items": {
                "description": f"List of {resource.resource}. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
                "type": "array",
                "items": _ref(name),
            },
            "kind": {"description": _KIND_DOC, "type": "string"},
            "metadata": {**_ref(LIST_META), "description": _LIST_META_DOC},
        },
        "x-kubernetes-group-version-kind": gvk_extension(resource.group, resource.version, kind_list),
    }
    return {name: schema, crd_definition_name(resource.group, resource.version, kind_list): list_schema}


def referenced(schema: Any, prefix: str = V2_PREFIX) -> Iterable[str]:
    """Definition names referenced anywhere inside ``schema``."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                yield ref[len(prefix) :]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def closure(roots: Iterable[str], definitions: Mapping[str, Schema]) -> list[str]:
    """All definitions reachable from ``roots`` (sorted); unknown names are skipped."""
    seen: set[str] = set()
    todo = [r for r in roots if r in definitions]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(n for n in referenced(definitions[name]) if n in definitions and n not in seen)
    return sorted(seen)


def to_v3(node: Any) -> Any:
    """Rewrite a Swagger 2.0 schema (or any fragment) for OpenAPI v3.

    References move to ``#/components/schemas/``; a reference with sibling keys (a description)
    becomes ``allOf: [{$ref}]`` plus the siblings, because v3 ignores siblings of ``$ref`` — the
    same shape kube publishes, which kubectl's explain and patch code expect.
    """
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            new_ref = V3_PREFIX + ref[len(V2_PREFIX) :] if ref.startswith(V2_PREFIX) else ref
            if len(node) == 1:
                return {"$ref": new_ref}
            rest = {k: to_v3(v) for k, v in node.items() if k != "$ref"}
            return {"allOf": [{"$ref": new_ref}], **rest}
        return {k: to_v3(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_v3(v) for v in node]
    return node
