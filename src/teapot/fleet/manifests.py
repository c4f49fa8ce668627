"""BareMetalHost + Secret manifests (metal3.io/v1alpha1) that enrol an emulated fleet.

Why: enrolling must go through the same path an operator uses — ``kubectl apply -f -`` of Metal3
manifests — so the fleet produces manifests rather than calling Teapot's API.  Topology labels come
from :mod:`teapot.fleet.labels`; credentials go into one Secret per host (never into the host).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import yaml

from teapot.fleet.fleet import FleetHost


def secret_name(host_name: str) -> str:
    return f"{host_name}-bmc-secret"


def host_manifests(host: FleetHost, namespace: str = "default") -> list[dict[str, Any]]:
    """The Secret and the BareMetalHost for one host (Secret first, so it exists when read)."""

    def b64(value: str) -> str:
        return base64.b64encode(value.encode()).decode()

    model = host.host.model
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name(host.name), "namespace": namespace},
        "type": "Opaque",
        "data": {"username": b64(host.credentials.username), "password": b64(host.credentials.password)},
    }
    bmh = {
        "apiVersion": "metal3.io/v1alpha1",
        "kind": "BareMetalHost",
        "metadata": {"name": host.name, "namespace": namespace, "labels": dict(host.labels)},
        "spec": {
            "online": False,
            "bootMACAddress": host.boot_mac,
            "bootMode": "UEFI",
            "bmc": {
                "address": host.bmc_address,
                "credentialsName": secret_name(host.name),
                "disableCertificateVerification": host.disable_certificate_verification,
            },
            "description": f"{model.manufacturer} {model.product} in rack {host.host.location.rack}",
        },
    }
    return [secret, bmh]


def render(hosts: Iterable[FleetHost], namespace: str = "default") -> str:
    """A multi-document YAML stream for ``kubectl apply -f -``."""
    documents = [doc for host in hosts for doc in host_manifests(host, namespace)]
    return yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True)
