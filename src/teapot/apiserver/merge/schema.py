"""How each field of an object merges: the one question every patch flavour asks the schema.

Why it exists: strategic merge patch, server-side apply and managed-fields tracking all need to know,
for a given position in an object, whether a list is atomic, a set of scalars or a map keyed by some
fields, and whether a map is a struct (declared fields), a granular map (free keys, merged key by key)
or atomic. Kubernetes answers this from ``x-kubernetes-list-type``/``-list-map-keys``/``-map-type``
for CRDs and from Go struct tags (``patchStrategy``/``patchMergeKey``, ``+listType``) for built-in
kinds. ``MergeSchema`` is that question as a Protocol; ``schema_from_openapi`` answers it for a CRD's
OpenAPI v3 schema and ``builtin_merge_schema`` for the built-in kinds the embedded server serves.

Schema paths are tuples of field names, with ``"[]"`` for the items of a list and ``"*"`` for the
values of a granular map, so the number of distinct paths is bounded by the schema, not the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol

SchemaPath = tuple[str, ...]
MapType = Literal["struct", "granular", "atomic"]
ITEMS = "[]"
VALUES = "*"


@dataclass(frozen=True)
class ListType:
    """How a list merges: ``atomic`` (replaced whole), ``set`` (of scalars) or ``map`` (keyed items)."""

    kind: Literal["atomic", "set", "map"]
    keys: tuple[str, ...] = ()


ATOMIC_LIST = ListType("atomic")
SET_LIST = ListType("set")


class MergeSchema(Protocol):
    """Merge behaviour of the fields of one kind (see the module docstring for the path format)."""

    def list_type(self, path: SchemaPath) -> ListType:
        """How the list at ``path`` merges."""
        ...

    def map_type(self, path: SchemaPath) -> MapType:
        """Whether the map at ``path`` is a struct, a granular map or atomic."""
        ...


class _TableSchema:
    """A schema given as explicit tables, with a default for every path it does not name."""

    def __init__(
        self,
        lists: dict[SchemaPath, ListType],
        maps: dict[SchemaPath, MapType],
        default_map: MapType = "struct",
    ) -> None:
        self._lists = lists
        self._maps = maps
        self._default_map: MapType = default_map

    def list_type(self, path: SchemaPath) -> ListType:
        return self._lists.get(path, ATOMIC_LIST)

    def map_type(self, path: SchemaPath) -> MapType:
        return self._maps.get(path, self._default_map)


# ObjectMeta, as Kubernetes' Go tags declare it (shared by every kind, CRDs included).
_META_LISTS: dict[SchemaPath, ListType] = {
    ("metadata", "finalizers"): SET_LIST,
    ("metadata", "ownerReferences"): ListType("map", ("uid",)),
    ("metadata", "managedFields"): ATOMIC_LIST,
}
_META_MAPS: dict[SchemaPath, MapType] = {
    ("metadata",): "struct",
    ("metadata", "labels"): "granular",
    ("metadata", "annotations"): "granular",
}

_CONDITIONS = ListType("map", ("type",))
_BY_NAME = ListType("map", ("name",))

# Per built-in kind: what differs from "structs everywhere, lists atomic".
_BUILTIN_LISTS: dict[str, dict[SchemaPath, ListType]] = {
    "Namespace": {("status", "conditions"): _CONDITIONS},
    # imagePullSecrets is atomic in current Kubernetes (kubectl's strategic patch replaces it).
    "ServiceAccount": {("secrets",): _BY_NAME},
    "CustomResourceDefinition": {("status", "conditions"): _CONDITIONS},
    # Role/ClusterRole rules, RoleBinding subjects, Event fields: atomic, the default.
}
_BUILTIN_MAPS: dict[str, dict[SchemaPath, MapType]] = {
    "Secret": {("data",): "granular", ("stringData",): "granular"},
    "ConfigMap": {("data",): "granular", ("binaryData",): "granular"},
    "CustomResourceDefinition": {
        # JSONSchemaProps is recursive and opaque to merging: replace the schema whole.
        ("spec", "versions", ITEMS, "schema"): "atomic",
    },
    "RoleBinding": {("roleRef",): "atomic"},
    "ClusterRoleBinding": {("roleRef",): "atomic"},
}


@lru_cache(maxsize=64)
def builtin_merge_schema(group: str, kind: str) -> MergeSchema:
    """The merge schema of a built-in kind (unknown kinds get ObjectMeta's rules only).

    Conditions lists are keyed by ``type`` for every kind, as Kubernetes' own types declare them.
    """
    del group  # the kinds we serve have unique names across their groups
    lists = {**_META_LISTS, ("status", "conditions"): _CONDITIONS, **_BUILTIN_LISTS.get(kind, {})}
    maps = {**_META_MAPS, **_BUILTIN_MAPS.get(kind, {})}
    return _TableSchema(lists, maps)


class _OpenAPISchema:
    """Answers merge questions from a structural OpenAPI v3 schema (a CRD version's ``openAPIV3Schema``).

    ``metadata`` follows ObjectMeta whatever the CRD says, like the apiserver. Results are memoised per
    path: lookups happen on every write, and paths are bounded by the schema (see module docstring).
    """

    def __init__(self, root: dict[str, Any]) -> None:
        self._root = root
        self._lists: dict[SchemaPath, ListType] = {}
        self._maps: dict[SchemaPath, MapType] = {}

    def _node(self, path: SchemaPath) -> dict[str, Any] | None:
        """The schema node at ``path``; None when the path leaves the schema (unknown fields)."""
        node: dict[str, Any] | None = self._root
        for name in path:
            if node is None:
                return None
            if name == ITEMS:
                items = node.get("items")
                node = items if isinstance(items, dict) else None
            elif name == VALUES:
                extra = node.get("additionalProperties")
                node = extra if isinstance(extra, dict) else None
            else:
                props = node.get("properties")
                child = props.get(name) if isinstance(props, dict) else None
                if child is None:
                    extra = node.get("additionalProperties")
                    child = extra if isinstance(extra, dict) else None
                node = child if isinstance(child, dict) else None
        return node

    def list_type(self, path: SchemaPath) -> ListType:
        found = self._lists.get(path)
        if found is not None:
            return found
        if path and path[0] == "metadata":
            result = _META_LISTS.get(path, ATOMIC_LIST)
        else:
            node = self._node(path)
            result = ATOMIC_LIST
            if node is not None:
                kind = node.get("x-kubernetes-list-type")
                if kind == "set":
                    result = SET_LIST
                elif kind == "map":
                    keys = node.get("x-kubernetes-list-map-keys") or ()
                    result = ListType("map", tuple(str(k) for k in keys))
        self._lists[path] = result
        return result

    def map_type(self, path: SchemaPath) -> MapType:
        found = self._maps.get(path)
        if found is not None:
            return found
        result: MapType
        if path and path[0] == "metadata":
            result = _META_MAPS.get(path, "struct")
        else:
            node = self._node(path)
            if node is None:
                # Unknown (preserved) fields: Kubernetes deduces a granular map with atomic lists.
                result = "granular"
            elif node.get("x-kubernetes-map-type") == "atomic":
                result = "atomic"
            elif (isinstance(node.get("properties"), dict) and node["properties"]) or node.get(
                "x-kubernetes-embedded-resource"
            ):
                result = "struct"
            else:
                result = "granular"
        self._maps[path] = result
        return result


def schema_from_openapi(openapi_v3: dict[str, Any]) -> MergeSchema:
    """A merge schema for a CRD version from its ``openAPIV3Schema`` (lists default to atomic)."""
    return _OpenAPISchema(openapi_v3)
