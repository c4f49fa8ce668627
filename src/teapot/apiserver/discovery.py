"""Discovery documents: /api, /apis, /apis/GROUP and the per-version resource lists.

Why it exists: kubectl and every client library learn what the server serves — names, short names,
verbs, scope, categories — from these documents before they do anything else. They are derived from
the registry and cached per registry generation, because clients fetch them constantly.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from teapot.apiserver.registry import Registry
from teapot.apiserver.resources import ResourceInfo

_SUB_VERBS = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
    "finalize": ["update"],
}


def _storage_hash(info: ResourceInfo) -> str:
    digest = hashlib.sha256(f"{info.group}/{info.stored_version}/{info.kind}".encode()).digest()
    import base64

    return base64.b64encode(digest[:8]).decode()


def api_resource(info: ResourceInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": info.resource,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": list(info.verbs),
    }
    if info.short_names:
        out["shortNames"] = list(info.short_names)
    if info.categories:
        out["categories"] = list(info.categories)
    if "get" in info.verbs:
        out["storageVersionHash"] = _storage_hash(info)
    return out


def sub_resources(info: ResourceInfo) -> list[dict[str, Any]]:
    out = []
    for sub in sorted(info.subresources):
        entry: dict[str, Any] = {
            "name": f"{info.resource}/{sub}",
            "singularName": "",
            "namespaced": info.namespaced,
            "kind": "Scale" if sub == "scale" else info.kind,
            "verbs": _SUB_VERBS.get(sub, ["get"]),
        }
        if sub == "scale":
            entry["group"] = "autoscaling"
            entry["version"] = "v1"
        out.append(entry)
    return out


class Discovery:
    """Cached discovery documents, rebuilt when the registry's generation changes."""

    def __init__(self, registry: Registry, server_address: str = "") -> None:
        self.registry = registry
        self.server_address = server_address
        self._generation = -1
        self._cache: dict[str, bytes] = {}

    def _refresh(self) -> None:
        if self._generation != self.registry.generation:
            self._cache = {}
            self._generation = self.registry.generation

    def _cached(self, key: str, build: Any) -> bytes:
        self._refresh()
        data = self._cache.get(key)
        if data is None:
            data = self._cache[key] = orjson.dumps(build())
        return data

    def api_versions(self) -> bytes:
        return self._cached(
            "/api",
            lambda: {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}
                ],
            },
        )

    def _group(self, name: str) -> dict[str, Any] | None:
        group = self.registry.group(name)
        if group is None:
            return None
        return {
            "name": group.name,
            "versions": [{"groupVersion": f"{group.name}/{v}", "version": v} for v in group.versions],
            "preferredVersion": {
                "groupVersion": f"{group.name}/{group.preferred}",
                "version": group.preferred,
            },
        }

    def api_groups(self) -> bytes:
        def build() -> dict[str, Any]:
            groups = [self._group(g.name) for g in self.registry.groups()]
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [g for g in groups if g]}

        return self._cached("/apis", build)

    def api_group(self, name: str) -> bytes | None:
        if self.registry.group(name) is None:
            return None
        return self._cached(
            f"/apis/{name}", lambda: {"kind": "APIGroup", "apiVersion": "v1", **(self._group(name) or {})}
        )

    def resource_list(self, group: str, version: str) -> bytes | None:
        infos = self.registry.in_group_version(group, version)
        if not infos:
            return None

        def build() -> dict[str, Any]:
            resources: list[dict[str, Any]] = []
            for info in sorted(infos, key=lambda i: i.resource):
                resources.append(api_resource(info))
                resources.extend(sub_resources(info))
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources,
            }

        return self._cached(f"{group}/{version}", build)
