"""An in-memory :class:`~teapot.apiserver.auth.rbac.RBACSource`.

Why it exists: the authorizer is pure logic and deserves tests (and benchmarks) that run in
microseconds without a database; this is also the simplest correct source for a caller that keeps
RBAC objects in memory anyway. The server's real source reads its storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class MemoryRBACSource:
    """Holds Roles, ClusterRoles, RoleBindings and ClusterRoleBindings given as stored dicts."""

    def __init__(self, objects: Iterable[Mapping[str, Any]] = ()) -> None:
        self._by_kind: dict[str, dict[tuple[str, str], Mapping[str, Any]]] = {
            "ClusterRole": {},
            "ClusterRoleBinding": {},
            "Role": {},
            "RoleBinding": {},
        }
        for obj in objects:
            self.put(obj)

    @staticmethod
    def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        return str(meta.get("namespace") or ""), str(meta.get("name", ""))

    def put(self, obj: Mapping[str, Any]) -> None:
        """Create or replace an object (by kind, namespace and name)."""
        kind = str(obj.get("kind", ""))
        if kind not in self._by_kind:
            raise ValueError(f"not an RBAC kind: {kind!r}")
        self._by_kind[kind][self._key(obj)] = obj

    def delete(self, kind: str, name: str, namespace: str = "") -> None:
        self._by_kind[kind].pop((namespace, name), None)

    def cluster_roles(self) -> Iterable[Mapping[str, Any]]:
        return list(self._by_kind["ClusterRole"].values())

    def cluster_role_bindings(self) -> Iterable[Mapping[str, Any]]:
        return list(self._by_kind["ClusterRoleBinding"].values())

    def roles(self, namespace: str) -> Iterable[Mapping[str, Any]]:
        return [o for (ns, _), o in self._by_kind["Role"].items() if ns == namespace]

    def role_bindings(self, namespace: str) -> Iterable[Mapping[str, Any]]:
        return [o for (ns, _), o in self._by_kind["RoleBinding"].items() if ns == namespace]
