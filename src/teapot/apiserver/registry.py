"""Which resources are served right now: built-ins plus every Established CRD version.

Why it exists: routing, discovery and OpenAPI all need one consistent, changing view of the served
API. CRDs come and go at run time; the registry turns a stored CustomResourceDefinition into one
``ResourceInfo`` per served version and keeps a generation number so caches (discovery documents,
OpenAPI) know when to rebuild.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from teapot.apiserver.builtins import BUILTIN_RESOURCES
from teapot.apiserver.conversion import storage_key, stored_gvr
from teapot.apiserver.resources import PrinterColumn, ResourceInfo

__all__ = ["GroupInfo", "Registry", "resources_from_crd", "storage_key", "version_priority"]

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key like kube's CompareKubeAwareVersionStrings: GA > beta > alpha > others, higher first."""
    m = _VERSION_RE.match(version)
    if not m:
        return (3, 0, 0, version)
    major = int(m.group(1))
    if m.group(2) is None:
        return (0, -major, 0, version)
    minor = int(m.group(3))
    return (1 if m.group(2) == "beta" else 2, -major, -minor, version)


@dataclass(frozen=True)
class GroupInfo:
    name: str
    versions: tuple[str, ...]  # in priority order; the first is preferred

    @property
    def preferred(self) -> str:
        return self.versions[0]


def resources_from_crd(crd: dict[str, Any]) -> list[ResourceInfo]:
    """One ``ResourceInfo`` per served version of a (valid) CRD."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    versions = spec.get("versions") or []
    storage = next((v["name"] for v in versions if v.get("storage")), versions[0]["name"] if versions else "")
    out: list[ResourceInfo] = []
    for v in versions:
        if not v.get("served", True):
            continue
        subs = v.get("subresources") or {}
        scale = subs.get("scale") or {}
        columns = tuple(
            PrinterColumn(
                name=c.get("name", ""),
                type=c.get("type", "string"),
                json_path=c.get("jsonPath", ""),
                description=c.get("description", ""),
                format=c.get("format", ""),
                priority=int(c.get("priority", 0) or 0),
            )
            for c in v.get("additionalPrinterColumns") or []
        )
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        out.append(
            ResourceInfo(
                group=group,
                version=v["name"],
                resource=names.get("plural", ""),
                kind=names.get("kind", ""),
                singular=names.get("singular") or names.get("kind", "").lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                list_kind=names.get("listKind") or names.get("kind", "") + "List",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=frozenset(k for k in ("status", "scale") if k in subs),
                storage_version=storage,
                printer_columns=columns,
                selectable_fields=tuple(f.get("jsonPath", "") for f in v.get("selectableFields") or ()),
                schema=schema,
                builtin=False,
                scale_spec_path=scale.get("specReplicasPath", ""),
                scale_status_path=scale.get("statusReplicasPath", ""),
                scale_selector_path=scale.get("labelSelectorPath", ""),
            )
        )
    return out


class Registry:
    """The served resources, indexed for routing and discovery."""

    def __init__(self, builtins: Iterable[ResourceInfo] = BUILTIN_RESOURCES) -> None:
        self._builtins = tuple(builtins)
        self._crds: dict[str, list[ResourceInfo]] = {}  # CRD name -> its served versions
        self.generation = 0
        self._rebuild()

    def _rebuild(self) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceInfo] = {}
        self._all: list[ResourceInfo] = []
        self._views: dict[str, list[ResourceInfo]] = {}
        for info in (*self._builtins, *(i for infos in self._crds.values() for i in infos)):
            self._by_gvr[(info.group, info.version, info.resource)] = info
            self._all.append(info)
            self._views.setdefault(storage_key(info), []).append(info)
        versions: dict[str, set[str]] = {}
        for info in self._all:
            versions.setdefault(info.group, set()).add(info.version)
        self._groups = {
            g: GroupInfo(g, tuple(sorted(vs, key=version_priority))) for g, vs in versions.items()
        }
        self.generation += 1

    # -- CRDs ------------------------------------------------------------------------------
    def set_crd(self, name: str, crd: dict[str, Any]) -> None:
        self._crds[name] = resources_from_crd(crd)
        self._rebuild()

    def remove_crd(self, name: str) -> None:
        if self._crds.pop(name, None) is not None:
            self._rebuild()

    def crd_resources(self, name: str) -> list[ResourceInfo]:
        return list(self._crds.get(name, ()))

    # -- lookups ---------------------------------------------------------------------------
    def lookup(self, group: str, version: str, resource: str) -> ResourceInfo | None:
        return self._by_gvr.get((group, version, resource))

    def all(self) -> list[ResourceInfo]:
        return list(self._all)

    def group(self, name: str) -> GroupInfo | None:
        return self._groups.get(name)

    def groups(self) -> list[GroupInfo]:
        """Named API groups (not the core group), built-ins first then CRD groups by name."""
        builtin_order: list[str] = []
        for info in self._builtins:
            if info.group and info.group not in builtin_order:
                builtin_order.append(info.group)
        others = sorted(g for g in self._groups if g and g not in builtin_order)
        return [self._groups[g] for g in (*builtin_order, *others) if g in self._groups]

    def in_group_version(self, group: str, version: str) -> list[ResourceInfo]:
        return [i for i in self._all if i.group == group and i.version == version]

    def for_kind(self, group: str, kind: str) -> list[ResourceInfo]:
        return [i for i in self._all if i.group == group and i.kind == kind]

    def storage_info(self, info: ResourceInfo) -> ResourceInfo:
        """The ``ResourceInfo`` of the version objects of ``info`` are stored at."""
        return self._by_gvr.get(stored_gvr(info), info)

    def views(self, key: str) -> list[ResourceInfo]:
        """Every served version (and group) whose objects live under storage ``key``."""
        return self._views.get(key, [])
