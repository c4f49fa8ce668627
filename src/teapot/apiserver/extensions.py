"""Wiring of the server's pluggable parts: schemas, field managers, patches, tables, OpenAPI.

Why it exists: ``ObjectService`` and the HTTP handlers depend on small Protocols; this module binds
them to their implementations (``schema``, ``merge``, ``tables``, ``openapi``) and owns the caches
that must be dropped when the set of served resources changes (a CRD created, updated or deleted).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from teapot.apiserver.errors import Cause
from teapot.apiserver.merge import (
    MergeSchema,
    builtin_merge_schema,
    schema_from_openapi,
    server_side_apply,
    strategic_merge_patch,
    update_managed_fields,
)
from teapot.apiserver.meta import now_rfc3339
from teapot.apiserver.objects import WriteContext
from teapot.apiserver.openapi import OpenAPIBuilder
from teapot.apiserver.openapi.definitions import OBJECT_META, builtin_definition_name, builtin_definitions
from teapot.apiserver.registry import Registry
from teapot.apiserver.resources import ResourceInfo
from teapot.apiserver.schema import CompiledSchema, FieldError, SchemaError, compile_schema, validate_crd
from teapot.apiserver.tables import table_for

Obj = dict[str, Any]
_Key = tuple[str, str, str]


def causes_from(errors: list[FieldError]) -> list[Cause]:
    return [Cause(e.type, e.message, e.field) for e in errors]


def _inline(definitions: Mapping[str, Any], node: Any, seen: frozenset[str]) -> Any:
    """``node`` with every ``$ref`` to ``definitions`` inlined (a recursive one keeps any fields)."""
    if isinstance(node, list):
        return [_inline(definitions, item, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        target = definitions.get(name)
        if target is None or name in seen:
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        return _inline(definitions, target, seen | {name})
    if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return {**_inline(definitions, node["allOf"][0], seen), **_inline(definitions, rest, seen)}
    out = {k: _inline(definitions, v, seen) for k, v in node.items()}
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True  # free-form (FieldsV1, RawExtension)
    return out


@functools.cache
def _object_meta_schema() -> CompiledSchema:
    defs = builtin_definitions()
    return compile_schema(_inline(defs, defs[OBJECT_META], frozenset({OBJECT_META})))


def builtin_schema(info: ResourceInfo) -> CompiledSchema | None:
    """A built-in kind's schema from kube's OpenAPI definitions, to drop (and report) unknown fields.

    kube decodes built-in kinds into Go structs, which silently drops unknown fields (reported under
    ``fieldValidation=Warn``/``Strict``). Pruning with the kind's inlined definition does the same.
    ``metadata`` is pruned with ObjectMeta's definition (``compile_schema`` forbids describing it in
    an object schema, as CRDs must not). None when the kind has no usable definition (CRDs: their
    JSONSchemaProps schema is recursive and validated in code).
    """
    name = builtin_definition_name(info.group, info.version, info.kind)
    if name is None:
        return None
    defs = builtin_definitions()
    schema = _inline(defs, defs[name], frozenset({name}))
    if "metadata" in (schema.get("properties") or {}):
        schema["properties"]["metadata"] = {"type": "object"}  # the root's metadata is never pruned
    try:
        return compile_schema(schema)
    except SchemaError:
        return None


class SchemaAdmission:
    """Structural schemas: CRDs prune unknown fields, default, validate (incl. CEL); built-in kinds
    only drop unknown fields (their validation is kube's code, in ``kinds``)."""

    def __init__(self) -> None:
        self._compiled: dict[_Key, tuple[int, CompiledSchema | None]] = {}

    def reset(self) -> None:
        self._compiled.clear()

    def compiled(self, info: ResourceInfo) -> CompiledSchema | None:
        key = (info.group, info.version, info.resource)
        schema_id = id(info.schema)
        hit = self._compiled.get(key)
        if hit is not None and hit[0] == schema_id:
            return hit[1]
        compiled: CompiledSchema | None = None
        if info.builtin:
            compiled = builtin_schema(info)
        elif info.schema is not None:
            try:
                compiled = compile_schema(info.schema)
            except SchemaError:
                compiled = None  # validate_crd refused such CRDs; stay permissive for legacy data
        self._compiled[key] = (schema_id, compiled)
        return compiled

    def admit(self, info: ResourceInfo, obj: Obj, old: Obj | None) -> tuple[list[Cause], list[str]]:
        compiled = self.compiled(info)
        if compiled is None:
            return [], []
        pruned = compiled.prune(obj)
        if info.builtin:
            meta = obj.get("metadata")
            if isinstance(meta, dict):
                pruned += [f"metadata.{p}" for p in _object_meta_schema().prune(meta)]
            return [], pruned
        compiled.default(obj)
        return causes_from(compiled.validate(obj, old)), pruned


class MergeSchemas:
    """``MergeSchema`` per resource: from the CRD schema, or kube's metadata for built-ins."""

    def __init__(self) -> None:
        self._cache: dict[_Key, tuple[int, MergeSchema]] = {}

    def reset(self) -> None:
        self._cache.clear()

    def for_resource(self, info: ResourceInfo) -> MergeSchema:
        key = (info.group, info.version, info.resource)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == id(info.schema):
            return hit[1]
        schema = (
            builtin_merge_schema(info.group, info.kind)
            if info.builtin or info.schema is None
            else schema_from_openapi(info.schema)
        )
        self._cache[key] = (id(info.schema), schema)
        return schema


def _ignored(info: ResourceInfo, subresource: str) -> tuple[tuple[str, ...], ...]:
    """Fields a write cannot own: status for the main resource, all but status for /status."""
    if "status" not in info.subresources:
        return ()
    if subresource == "status":
        return (("spec",),)
    return (("status",),)


class FieldManagers:
    """``objects.FieldManagers``: managedFields bookkeeping for every non-apply write."""

    def __init__(self, schemas: MergeSchemas) -> None:
        self.schemas = schemas

    def track(self, info: ResourceInfo, old: Obj | None, new: Obj, ctx: WriteContext, now: str) -> Obj:
        if ctx.field_manager == "" or ctx.operation == "Apply":
            return new
        return update_managed_fields(
            old,
            new,
            manager=ctx.field_manager,
            api_version=info.group_version,
            subresource=ctx.subresource,
            schema=self.schemas.for_resource(info),
            now=now,
            ignored=_ignored(info, ctx.subresource),
        )


class Patcher:
    """``handlers.Patcher``: strategic merge patch and server-side apply."""

    def __init__(self, schemas: MergeSchemas, clock: Callable[[], str] = now_rfc3339) -> None:
        self.schemas = schemas
        self.clock = clock

    def strategic(self, info: ResourceInfo, original: Obj, patch: Obj) -> Obj:
        return strategic_merge_patch(original, patch, self.schemas.for_resource(info))

    def apply(
        self,
        info: ResourceInfo,
        live: Obj | None,
        applied: Obj,
        manager: str,
        force: bool,
        subresource: str = "",
    ) -> Obj:
        return server_side_apply(
            live,
            applied,
            manager=manager,
            api_version=info.group_version,
            force=force,
            schema=self.schemas.for_resource(info),
            now=self.clock(),
            subresource=subresource,
            ignored=_ignored(info, subresource),
        )


def tables(
    info: ResourceInfo, objects: list[Obj], *, list_meta: Obj | None, include_object: str, wide: bool
) -> Obj:
    return table_for(info, objects, list_meta=list_meta, include_object=include_object, wide=wide)


@dataclass
class Extensions:
    registry: Registry
    admission: SchemaAdmission
    field_managers: FieldManagers
    patcher: Patcher
    openapi: OpenAPIBuilder
    tables: Callable[..., Obj] = tables
    _merge: MergeSchemas = field(default_factory=MergeSchemas)

    def validate_crd(self, crd: Obj) -> list[Cause]:
        return causes_from(validate_crd(crd))

    def resources_changed(self) -> None:
        self.openapi.set_resources(self.registry.all())


def build_extensions(registry: Registry) -> Extensions:
    merge = MergeSchemas()
    return Extensions(
        registry=registry,
        admission=SchemaAdmission(),
        field_managers=FieldManagers(merge),
        patcher=Patcher(merge),
        openapi=OpenAPIBuilder(registry.all()),
        _merge=merge,
    )
