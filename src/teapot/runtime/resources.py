"""Resource coordinates and object keys.

Why: the runtime talks to *any* resource — built-in kinds, Leases, Events and CRDs alike — so it
needs one small value that says where a resource lives on the API (group, version, plural,
scope) and turns that into URL paths. Controllers pass these around instead of typed API classes,
which only exist for built-in kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

#: A Kubernetes object as the API returns it (decoded JSON). The runtime is generic over every
#: resource, so it stays a mapping here; typed models live in ``teapot.api``.
KubeObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """Where a resource is served: ``/apis/{group}/{version}/[namespaces/{ns}/]{plural}``."""

    group: str
    version: str
    plural: str
    namespaced: bool = True
    kind: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection_path(self, namespace: str | None = None) -> str:
        """The list/watch/create path; ``namespace=None`` means all namespaces."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None, subresource: str = "") -> str:
        if self.namespaced and not namespace:
            raise ValueError(f"{self.plural} is namespaced: a namespace is required")
        path = f"{self.collection_path(namespace)}/{quote(name, safe='')}"
        return f"{path}/{subresource}" if subresource else path

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}/{self.version}" if self.group else f"{self.plural}/{self.version}"


LEASES = ResourceRef("coordination.k8s.io", "v1", "leases", namespaced=True, kind="Lease")
EVENTS = ResourceRef("", "v1", "events", namespaced=True, kind="Event")
NAMESPACES = ResourceRef("", "v1", "namespaces", namespaced=False, kind="Namespace")
CONFIGMAPS = ResourceRef("", "v1", "configmaps", namespaced=True, kind="ConfigMap")
CRDS = ResourceRef(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    namespaced=False,
    kind="CustomResourceDefinition",
)


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    """``namespace/name`` (namespace empty for cluster-scoped objects): the unit of reconciliation."""

    namespace: str
    name: str

    @classmethod
    def of(cls, obj: KubeObject) -> ObjectKey:
        meta = obj.get("metadata") or {}
        return cls(str(meta.get("namespace") or ""), str(meta.get("name") or ""))

    @classmethod
    def parse(cls, text: str) -> ObjectKey:
        namespace, sep, name = text.partition("/")
        return cls(namespace, name) if sep else cls("", namespace)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name
