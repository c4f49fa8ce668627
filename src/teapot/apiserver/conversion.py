"""Conversion between the version a resource is served at and the form it is stored in.

Why it exists: kube-apiserver stores one object per resource and serves it at several versions or
even in several groups. A CRD with several served versions and conversion strategy ``None`` changes
only ``apiVersion``; ``events.k8s.io/v1`` Event and core ``v1`` Event are two views of the same stored
object (an Event recorded through one API is listed by the other, so ``kubectl events`` shows what a
controller recorded with the new API). Everything else in the server reads and writes through
``to_storage`` / ``from_storage`` and never needs to know which view a client used.
"""

from __future__ import annotations

from typing import Any

from teapot.apiserver.resources import ResourceInfo

Obj = dict[str, Any]

# (group, resource) served as a view of another resource: -> (group, version, resource) stored.
STORED_AS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("events.k8s.io", "events"): ("", "v1", "events"),
}

# events.k8s.io/v1 field -> core/v1 field (kube: pkg/apis/events/v1/conversion.go).
_EVENT_FIELDS: tuple[tuple[str, str], ...] = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
)


def stored_gvr(info: ResourceInfo) -> tuple[str, str, str]:
    """(group, version, resource) objects of ``info`` are stored as."""
    return STORED_AS.get((info.group, info.resource), (info.group, info.stored_version, info.resource))


def storage_key(info: ResourceInfo) -> str:
    """Where objects of ``info`` live in the store (shared by every view of a resource)."""
    group, _, resource = stored_gvr(info)
    return f"{group}/{resource}"


def needs_conversion(info: ResourceInfo) -> bool:
    """Whether stored bytes differ from what a client of ``info`` must see."""
    return info.version != info.stored_version or (info.group, info.resource) in STORED_AS


def _api_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def _rename(obj: Obj, pairs: tuple[tuple[str, str], ...], api_version: str) -> Obj:
    out: Obj = {}
    mapping = dict(pairs)
    for key, value in obj.items():
        out[mapping.get(key, key)] = value
    out["apiVersion"] = api_version
    return out


def to_storage(info: ResourceInfo, obj: Obj) -> Obj:
    """The stored form of ``obj`` (served at ``info``); ``obj`` itself is not modified."""
    if not needs_conversion(info):
        return obj
    group, version, _ = stored_gvr(info)
    if (info.group, info.resource) == ("events.k8s.io", "events"):
        return _rename(obj, _EVENT_FIELDS, _api_version(group, version))
    out = dict(obj)
    out["apiVersion"] = _api_version(group, version)
    return out


def from_storage(info: ResourceInfo, obj: Obj) -> Obj:
    """``obj`` as stored, seen at ``info`` (may reuse ``obj``, which must be a fresh parse)."""
    if not needs_conversion(info):
        return obj
    if (info.group, info.resource) == ("events.k8s.io", "events"):
        return _rename(obj, tuple((core, new) for new, core in _EVENT_FIELDS), info.group_version)
    obj["apiVersion"] = info.group_version
    return obj
