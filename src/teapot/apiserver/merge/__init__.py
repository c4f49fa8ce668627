"""PATCH semantics of the embedded API server: strategic merge, server-side apply, managed fields.

Why it exists: kube-apiserver's patch and field-ownership behaviour (apimachinery ``strategicpatch``,
structured-merge-diff v4 and the apiserver's ``fieldmanager``) is what kubectl and controllers are
written against. This package reimplements it as pure functions over JSON-like dicts — no I/O, no
clock (the caller passes ``now``) — so the HTTP layer calls one function per request and tests run in
microseconds.

Public interface:

- ``strategic_merge_patch(original, patch, schema)``, ``apply_merge_patch``, ``apply_json_patch``
- ``server_side_apply(live, applied, manager=, api_version=, force=, schema=, now=)`` → object, or
  ``ApplyConflict`` (a 409 ``StatusError`` with kube's message and causes)
- ``update_managed_fields(old, new, manager=, api_version=, schema=, now=)`` for every other write
- ``manager_name(field_manager, user_agent)``: the manager of a request, as kube derives it
- ``MergeSchema`` / ``ListType`` with ``schema_from_openapi`` (CRDs) and ``builtin_merge_schema``

Inputs are never mutated; results are fresh at the top level and in ``metadata`` but may share
deeper unchanged values with the inputs, so treat stored objects as immutable.
"""

from __future__ import annotations

from teapot.apiserver.merge.apply import ApplyConflict, server_side_apply
from teapot.apiserver.merge.managed import (
    ManagedEntry,
    ManagedFieldsError,
    decode,
    manager_name,
    update_managed_fields,
)
from teapot.apiserver.merge.patches import apply_json_patch, apply_merge_patch
from teapot.apiserver.merge.schema import (
    ListType,
    MapType,
    MergeSchema,
    builtin_merge_schema,
    schema_from_openapi,
)
from teapot.apiserver.merge.strategic import strategic_merge_patch

__all__ = [
    "ApplyConflict",
    "ListType",
    "ManagedEntry",
    "ManagedFieldsError",
    "MapType",
    "MergeSchema",
    "apply_json_patch",
    "apply_merge_patch",
    "builtin_merge_schema",
    "decode",
    "manager_name",
    "schema_from_openapi",
    "server_side_apply",
    "strategic_merge_patch",
    "update_managed_fields",
]
