"""Shared objects and schemas for the merge/apply tests (a CRD shaped like a small workload)."""

from __future__ import annotations

from typing import Any

API_VERSION = "teapot.dev/v1alpha1"
T0 = "2026-11-22T03:00:00Z"
T1 = "2026-11-22T03:00:01Z"
T2 = "2026-11-22T03:00:02Z"

CRD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "image": {"type": "string"},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name", "protocol"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "protocol": {"type": "string"},
                            "port": {"type": "integer"},
                        },
                    },
                },
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "args": {"type": "array", "items": {"type": "string"}},
                "selector": {
                    "type": "object",
                    "x-kubernetes-map-type": "atomic",
                    "additionalProperties": {"type": "string"},
                },
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "template": {
                    "type": "object",
                    "properties": {"size": {"type": "string"}, "zone": {"type": "string"}},
                },
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "phase": {"type": "string"},
                "conditions": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["type"],
                    "items": {
                        "type": "object",
                        "properties": {"type": {"type": "string"}, "status": {"type": "string"}},
                    },
                },
            },
        },
    },
}


def widget(spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    """A Widget object with ``metadata.name`` set (and any extra metadata)."""
    obj: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default", **metadata},
    }
    if spec is not None:
        obj["spec"] = spec
    return obj


def entries(obj: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """managedFields by (manager, operation, subresource)."""
    return {
        (e["manager"], e["operation"], e.get("subresource", "")): e
        for e in obj["metadata"].get("managedFields", [])
    }


def fields_of(obj: dict[str, Any], manager: str, operation: str = "Apply", subresource: str = "") -> Any:
    return entries(obj)[(manager, operation, subresource)]["fieldsV1"]
