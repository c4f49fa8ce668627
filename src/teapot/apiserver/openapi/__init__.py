"""OpenAPI v2 and v3 documents of the embedded API server.

Why it exists: kubectl and the client libraries learn about kinds from OpenAPI — ``kubectl explain``
reads the v3 per-group/version documents, ``kubectl apply`` looks for the ``fieldValidation``
parameter there to decide whether the server validates fields, and computes strategic merge patches
from the published patch metadata. This sub-package builds those documents for built-in kinds
(definitions generated from the official client's models, see ``_generate``) and for CRDs (from
their structural schemas), as pure functions of the served ``ResourceInfo`` set. The v2 document
is also available as gnostic protobuf (``V2_PROTOBUF``), the only form kubectl accepts for it.
"""

from __future__ import annotations

from teapot.apiserver.openapi.builder import OpenAPIBuilder, content_hash, gv_key
from teapot.apiserver.openapi.definitions import (
    builtin_definition_name,
    builtin_definitions,
    crd_definition_name,
)
from teapot.apiserver.openapi.v2proto import MEDIA_TYPE as V2_PROTOBUF

__all__ = [
    "V2_PROTOBUF",
    "OpenAPIBuilder",
    "builtin_definition_name",
    "builtin_definitions",
    "content_hash",
    "crd_definition_name",
    "gv_key",
]
