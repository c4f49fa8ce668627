"""What the server knows about a kind of resource: one immutable record per served group/version.

Why it exists: every part of the server (routing, discovery, OpenAPI, validation, tables, storage,
RBAC) asks the same questions about a resource — its names, scope, verbs, subresources, schema.
Built-in kinds and CRD versions are both described by ``ResourceInfo`` so nothing downstream needs
to care where a resource came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)


@dataclass(frozen=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry (shown by ``kubectl get``)."""

    name: str
    type: str
    json_path: str
    description: str = ""
    format: str = ""
    priority: int = 0


@dataclass(frozen=True)
class ResourceInfo:
    """A resource served at one group/version.

    ``schema`` is the OpenAPI v3 schema of the whole object (CRDs: ``openAPIV3Schema`` of this
    version; built-ins: may be ``None`` when the server validates them in code).
    """

    group: str  # "" for the core group
    version: str
    resource: str  # plural, e.g. "baremetalhosts"
    kind: str
    singular: str
    namespaced: bool
    list_kind: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: frozenset[str] = frozenset()  # {"status", "scale"}
    storage_version: str = ""  # the version objects are stored at; "" = this version
    printer_columns: tuple[PrinterColumn, ...] = ()
    selectable_fields: tuple[str, ...] = ()  # JSON paths like ".spec.color"
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    builtin: bool = False
    # scale subresource paths (CRD spec.versions[].subresources.scale)
    scale_spec_path: str = ""
    scale_status_path: str = ""
    scale_selector_path: str = ""

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def group_resource(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def stored_version(self) -> str:
        return self.storage_version or self.version
