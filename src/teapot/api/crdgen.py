"""Turn pydantic models into structural CRD manifests: one source of truth for every resource.

Why it exists: Teapot's resources are used in two ways — controllers read and write them as typed
objects, and the API server validates them from the CRD's OpenAPI v3 schema. Writing both by hand
drifts. Here the pydantic model *is* the schema: this module converts its JSON schema into a
Kubernetes *structural* schema (no ``$ref``, no ``anyOf`` for optionals, every node typed) and adds
what pydantic cannot express (printer columns, CEL rules, list types) from a small ``CRDSpec``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

Obj = dict[str, Any]


class K8sModel(BaseModel):
    """Base for API types: camelCase on the wire, unknown fields kept (forward compatible)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def to_wire(self) -> Obj:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


@dataclass(frozen=True)
class Column:
    name: str
    json_path: str
    type: str = "string"
    priority: int = 0
    description: str = ""


@dataclass(frozen=True)
class CRDSpec:
    group: str
    version: str
    kind: str
    plural: str
    scope: str  # Namespaced | Cluster
    spec_model: type[BaseModel]
    status_model: type[BaseModel] | None = None
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    description: str = ""
    # extra keywords merged into schema nodes, by dotted path from the object root (e.g. "spec.bmc")
    patches: dict[str, Obj] = field(default_factory=dict)
    selectable_fields: tuple[str, ...] = ()
    spec_required: bool = True

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"


_DROP = ("title", "discriminator", "examples")


def _resolve(node: Any, defs: dict[str, Obj]) -> Any:
    if isinstance(node, list):
        return [_resolve(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].split("/")[-1]]
        merged = {**_resolve(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}
        return _resolve(merged, defs)
    return {k: _resolve(v, defs) for k, v in node.items() if k != "$defs"}


def structural(node: Obj) -> Obj:
    """Rewrite one JSON-schema node (refs already resolved) as a structural OpenAPI v3 node."""
    node = dict(node)
    for key in _DROP:
        node.pop(key, None)
    for combo in ("anyOf", "oneOf"):
        if combo in node:
            options = [o for o in node.pop(combo) if o.get("type") != "null"]
            if len(options) == 1:
                rest = {k: v for k, v in node.items()}
                node = {**structural(options[0]), **rest}
            elif all(o.get("type") in ("integer", "string") for o in options) and len(options) == 2:
                node["x-kubernetes-int-or-string"] = True
            else:
                node["x-kubernetes-preserve-unknown-fields"] = True
                node.setdefault("type", "object")
    if "allOf" in node and len(node["allOf"]) == 1:
        node = {**structural(node.pop("allOf")[0]), **node}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("default") is None:
        node.pop("default", None)
    t = node.get("type")
    if t == "object" or "properties" in node:
        node["type"] = "object"
        props = node.get("properties")
        if props:
            node["properties"] = {k: structural(v) for k, v in props.items()}
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            node["additionalProperties"] = structural(extra)
        elif extra is True or (not props and "additionalProperties" not in node):
            node.pop("additionalProperties", None)
            if not props:
                node["x-kubernetes-preserve-unknown-fields"] = True
        elif extra is False:
            node.pop("additionalProperties")
        if "required" in node and not node["required"]:
            node.pop("required")
    elif t == "array":
        node["items"] = structural(node.get("items") or {"type": "string"})
    return node


def model_schema(model: type[BaseModel]) -> Obj:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    return structural(_resolve(raw, defs))


def _patch(schema: Obj, path: str, extra: Obj) -> None:
    node = schema
    for part in path.split("."):
        if part == "[]":
            node = node["items"]
        else:
            node = node["properties"][part]
    for k, v in extra.items():
        if k == "x-kubernetes-validations":
            node.setdefault(k, []).extend(v)
        else:
            node[k] = v


def crd_manifest(spec: CRDSpec) -> Obj:
    """The CustomResourceDefinition for ``spec`` (apiextensions.k8s.io/v1)."""
    root: Obj = {
        "type": "object",
        "description": spec.description,
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "APIVersion of this representation of the object.",
            },
            "kind": {"type": "string", "description": "Kind of this object."},
            "metadata": {"type": "object"},
            "spec": model_schema(spec.spec_model),
        },
    }
    if spec.spec_required:
        root["required"] = ["spec"]
    if spec.status_model is not None:
        root["properties"]["status"] = model_schema(spec.status_model)
    for path, extra in spec.patches.items():
        _patch(root, path, extra)
    version: Obj = {
        "name": spec.version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": root},
        "subresources": {"status": {}} if spec.status_model is not None else {},
    }
    if spec.columns:
        version["additionalPrinterColumns"] = [
            {
                k: v
                for k, v in {
                    "name": c.name,
                    "type": c.type,
                    "jsonPath": c.json_path,
                    "priority": c.priority or None,
                    "description": c.description or None,
                }.items()
                if v is not None
            }
            for c in spec.columns
        ]
    if spec.selectable_fields:
        version["selectableFields"] = [{"jsonPath": p} for p in spec.selectable_fields]
    names: Obj = {
        "plural": spec.plural,
        "singular": spec.kind.lower(),
        "kind": spec.kind,
        "listKind": f"{spec.kind}List",
    }
    if spec.short_names:
        names["shortNames"] = list(spec.short_names)
    if spec.categories:
        names["categories"] = list(spec.categories)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": spec.name},
        "spec": {"group": spec.group, "names": names, "scope": spec.scope, "versions": [version]},
    }
