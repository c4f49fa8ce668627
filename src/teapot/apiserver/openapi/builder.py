"""Assemble and cache the ``/openapi/v2`` and ``/openapi/v3`` documents for a set of resources.

Why it exists: the HTTP layer needs ready-to-send bytes and stable content hashes (clients cache
v3 documents by ``?hash=``), and the set of served resources changes at runtime whenever a CRD is
created, changed or deleted. ``OpenAPIBuilder`` owns that: it is given the full resource set,
notices whether anything (schemas included) changed, and builds each document lazily once per set.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from teapot.apiserver.openapi import definitions as defs
from teapot.apiserver.openapi.paths import PathItem, path_items, render_v2, render_v3, tag
from teapot.apiserver.openapi.v2proto import encode_document
from teapot.apiserver.resources import ResourceInfo

_SECURITY = {
    "BearerToken": {
        "description": "Bearer Token authentication",
        "in": "header",
        "name": "authorization",
        "type": "apiKey",
    }
}
_ALWAYS = (defs.STATUS, defs.DELETE_OPTIONS, defs.WATCH_EVENT, defs.PATCH)


def gv_key(group: str, version: str) -> str:
    """The v3 index key of a group/version: ``api/v1`` or ``apis/<group>/<version>``."""
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _fingerprint(resources: Iterable[ResourceInfo]) -> bytes:
    # ResourceInfo compares without its schema, so the schema is hashed explicitly.
    digest = hashlib.sha256()
    for r in sorted(resources, key=lambda r: (r.group, r.version, r.resource)):
        digest.update(repr(r).encode())
        digest.update(orjson.dumps(r.schema, option=orjson.OPT_SORT_KEYS))
    return digest.digest()


def content_hash(data: bytes) -> str:
    """Hash used in ``?hash=`` and as an ETag: SHA-512 in upper-case hex, as kube-apiserver uses."""
    return hashlib.sha512(data).hexdigest().upper()


@dataclass(frozen=True)
class _Kind:
    resource: ResourceInfo
    definition: str
    list_definition: str


@dataclass
class _Snapshot:
    """Everything derived from one resource set; documents are filled in lazily."""

    kinds: tuple[_Kind, ...]
    pool_v2: Mapping[str, defs.Schema]
    pool_v3: Mapping[str, defs.Schema]
    server_version: str
    v2: bytes | None = None
    v2_doc: dict[str, Any] | None = None
    v2_protobuf: bytes | None = None
    v3_docs: dict[str, bytes] = field(default_factory=dict)
    v3_index: bytes | None = None

    def group_versions(self) -> list[str]:
        return sorted({gv_key(k.resource.group, k.resource.version) for k in self.kinds})


def _build_snapshot(resources: Sequence[ResourceInfo], server_version: str) -> _Snapshot:
    builtin = defs.builtin_definitions()
    pool_v2: dict[str, defs.Schema] = dict(builtin)
    pool_v3: dict[str, defs.Schema] = dict(builtin)
    kinds: list[_Kind] = []
    group_versions: set[tuple[str, str]] = set()
    for r in sorted(resources, key=lambda r: (r.group, r.version, r.resource)):
        if r.resource.count("/"):
            continue  # subresources are described by their parent
        group_versions.add((r.group, r.version))
        name = defs.builtin_definition_name(r.group, r.version, r.kind) if r.builtin else None
        list_name = defs.builtin_definition_name(r.group, r.version, defs.list_kind(r)) if r.builtin else None
        if name is None:
            for pool, v2 in ((pool_v2, True), (pool_v3, False)):
                for n, schema in defs.crd_definitions(r, v2=v2).items():
                    pool[n] = schema
            name = defs.crd_definition_name(r.group, r.version, r.kind)
            list_name = defs.crd_definition_name(r.group, r.version, defs.list_kind(r))
        kinds.append(_Kind(r, name, list_name or defs.STATUS))
    # kube lists every served group/version on the shared option/event kinds so clients find them.
    for shared in (defs.DELETE_OPTIONS, defs.WATCH_EVENT):
        gvks = [{"group": "", "kind": shared.rsplit(".", 1)[1], "version": "v1"}]
        gvks += [
            {"group": g, "kind": shared.rsplit(".", 1)[1], "version": v}
            for g, v in sorted(group_versions)
            if g
        ]
        for pool in (pool_v2, pool_v3):
            pool[shared] = {**pool[shared], "x-kubernetes-group-version-kind": gvks}
    return _Snapshot(tuple(kinds), pool_v2, pool_v3, server_version)


def _paths(kinds: Iterable[_Kind], v2: bool) -> tuple[dict[str, Any], set[str]]:
    paths: dict[str, Any] = {}
    used: set[str] = set(_ALWAYS)
    for k in kinds:
        items: list[PathItem] = list(path_items(k.resource, k.definition, k.list_definition))
        tags = [tag(k.resource)]
        for item in items:
            paths[item.path] = render_v2(item, tags) if v2 else render_v3(item, tags)
            for op in item.operations:
                used.update(ref for _, ref in op.responses)
                if op.body:
                    used.add(op.body)
        used.update((k.definition, k.list_definition))
    return dict(sorted(paths.items())), used


class OpenAPIBuilder:
    """Serves OpenAPI documents for a resource set; call ``set_resources`` when it changes.

    All methods return cached bytes until the resource set (including schemas) changes. Safe to
    call from several threads.
    """

    def __init__(self, resources: Sequence[ResourceInfo] = (), *, server_version: str = "v1.37.0") -> None:
        self._lock = threading.Lock()
        self._server_version = server_version
        self._fingerprint = _fingerprint(resources)
        self._snapshot = _build_snapshot(resources, server_version)

    def set_resources(self, resources: Sequence[ResourceInfo]) -> bool:
        """Replace the resource set; returns whether anything changed (caches are dropped if so)."""
        fingerprint = _fingerprint(resources)
        with self._lock:
            if fingerprint == self._fingerprint:
                return False
            self._fingerprint = fingerprint
            self._snapshot = _build_snapshot(resources, self._server_version)
            return True

    def v2(self) -> bytes:
        """The Swagger 2.0 document (``/openapi/v2``, JSON)."""
        snap = self._snapshot
        if snap.v2 is None:
            snap.v2 = orjson.dumps(_v2_doc(snap))
        return snap.v2

    def v2_protobuf(self) -> bytes:
        """The Swagger 2.0 document as gnostic protobuf: what kubectl asks for (``v2proto.MEDIA_TYPE``)."""
        snap = self._snapshot
        if snap.v2_protobuf is None:
            snap.v2_protobuf = encode_document(_v2_doc(snap))
        return snap.v2_protobuf

    def v2_etag(self) -> str:
        return content_hash(self.v2())

    def v3_group_version(self, gv: str) -> bytes | None:
        """The v3 document of one group/version, or None if not served.

        ``gv`` is the index key (``api/v1``, ``apis/teapot.dev/v1alpha1``); a plain group/version
        (``v1``, ``teapot.dev/v1alpha1``) is accepted too.
        """
        return _v3_doc(self._snapshot, self._normalise(gv))

    def v3_hash(self, gv: str) -> str | None:
        data = self.v3_group_version(gv)
        return None if data is None else content_hash(data)

    def v3_index(self) -> bytes:
        """The ``/openapi/v3`` discovery document: one entry per served group/version."""
        snap = self._snapshot
        if snap.v3_index is None:
            paths: dict[str, Any] = {}
            for key in snap.group_versions():
                data = _v3_doc(snap, key)
                assert data is not None
                paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={content_hash(data)}"}
            snap.v3_index = orjson.dumps({"paths": paths})
        return snap.v3_index

    @staticmethod
    def _normalise(gv: str) -> str:
        gv = gv.strip("/")
        if gv.startswith(("api/", "apis/")):
            return gv
        group, _, version = gv.rpartition("/")
        return gv_key(group, version)


def _v2_doc(snap: _Snapshot) -> dict[str, Any]:
    if snap.v2_doc is None:
        paths, used = _paths(snap.kinds, v2=True)
        names = defs.closure(used, snap.pool_v2)
        snap.v2_doc = {
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": snap.server_version},
            "paths": paths,
            "definitions": {n: snap.pool_v2[n] for n in names},
            "securityDefinitions": _SECURITY,
            "security": [{"BearerToken": []}],
        }
    return snap.v2_doc


def _v3_doc(snap: _Snapshot, key: str) -> bytes | None:
    cached = snap.v3_docs.get(key)
    if cached is not None:
        return cached
    kinds = [k for k in snap.kinds if gv_key(k.resource.group, k.resource.version) == key]
    if not kinds:
        return None
    paths, used = _paths(kinds, v2=False)
    names = defs.closure(used, snap.pool_v3)
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": snap.server_version},
        "paths": paths,
        "components": {
            "schemas": {n: defs.to_v3(snap.pool_v3[n]) for n in names},
            "securitySchemes": _SECURITY,
        },
        "security": [{"BearerToken": []}],
    }
    data = orjson.dumps(doc)
    snap.v3_docs[key] = data
    return data
