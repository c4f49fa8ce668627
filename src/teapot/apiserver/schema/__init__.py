"""Structural OpenAPI v3 schemas and CEL rules for custom resources, with kube's semantics.

Why it exists: the embedded API server must treat CRD schemas exactly like kube-apiserver's
apiextensions does — prune unknown fields, apply defaults, validate with kube's messages and
field paths, evaluate ``x-kubernetes-validations`` — so that kubectl, client libraries and
controllers see the same behaviour against Teapot as against a real cluster.

Use from the request path::

    compiled = compile_schema(version["schema"]["openAPIV3Schema"])   # once per CRD version
    unknown = compiled.prune(obj)          # -> ['spec.foo'];  unknown_field_messages(unknown)
                                           # -> ['unknown field "spec.foo"'] (warnings / Strict)
    compiled.default(obj)
    errors = compiled.validate(obj, old)   # -> [FieldError], old=None on create

and ``validate_crd(crd)`` before serving a CustomResourceDefinition.
"""

from __future__ import annotations

from teapot.apiserver.schema.compiled import CompiledSchema, compile_schema
from teapot.apiserver.schema.crd import validate_crd
from teapot.apiserver.schema.errors import FieldError, SchemaError
from teapot.apiserver.schema.pruning import unknown_field_messages

__all__ = [
    "CompiledSchema",
    "FieldError",
    "SchemaError",
    "compile_schema",
    "unknown_field_messages",
    "validate_crd",
]
