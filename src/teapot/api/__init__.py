"""Teapot's resource types: the single source of truth for every CRD Teapot serves.

``all_crds()`` returns the CustomResourceDefinition manifests (``teapot crds`` prints them) built
from the pydantic models in :mod:`.metal3` and :mod:`.tenancy`.
"""

from __future__ import annotations

from typing import Any

from teapot.api.crdgen import CRDSpec, K8sModel, crd_manifest
from teapot.api.metal3 import BAREMETALHOST, HARDWAREDATA
from teapot.api.tenancy import HOSTCLAIM, HOSTCLASS, RESERVATION, TENANT

CRD_SPECS: tuple[CRDSpec, ...] = (BAREMETALHOST, HARDWAREDATA, HOSTCLASS, TENANT, RESERVATION, HOSTCLAIM)


def all_crds() -> list[dict[str, Any]]:
    return [crd_manifest(spec) for spec in CRD_SPECS]


__all__ = ["CRD_SPECS", "CRDSpec", "K8sModel", "all_crds", "crd_manifest"]
