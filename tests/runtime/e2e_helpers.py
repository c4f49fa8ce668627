"""Shared pieces of the e2e tests: a CRD to play with and small waiting helpers."""

from __future__ import annotations

import asyncio
from typing import Any

from teapot.runtime.client import ApiError, KubeClient
from teapot.runtime.resources import CRDS, NAMESPACES, ResourceRef

WIDGETS = ResourceRef("e2e.teapot.dev", "v1", "widgets", namespaced=True, kind="Widget")

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.e2e.teapot.dev"},
    "spec": {
        "group": "e2e.teapot.dev",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}


async def ensure_namespace(client: KubeClient, name: str) -> None:
    try:
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except ApiError as exc:
        if exc.status != 409:
            raise


async def ensure_widget_crd(client: KubeClient, timeout: float = 20.0) -> None:
    try:
        await client.create(CRDS, WIDGET_CRD)
    except ApiError as exc:
        if exc.status != 409:
            raise
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await client.list(WIDGETS, limit=1)
            return
        except ApiError as exc:
            if exc.status != 404 or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.1)


def widget(name: str, namespace: str, size: int, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "e2e.teapot.dev/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"size": size},
    }
