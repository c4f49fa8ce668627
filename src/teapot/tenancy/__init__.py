"""Teapot's tenancy controllers: allocation of hosts to tenants, and tenants' namespaces and RBAC.

Why two controllers: allocation is global (one level-triggered pass over every Tenant, HostClass,
Reservation, HostClaim and BareMetalHost; see ``controller``), while a tenant's namespaces and RBAC
depend on that tenant alone (``tenants``). The decisions themselves come from the pure
``teapot.allocation`` library; this package converts resources to its values (``world``), admits
guarantees incrementally (``admission``), plans a pass (``planner``) and writes status (``status``).
``words`` and ``explain`` serve ``teapot explain`` / ``teapot whatif``. See docs/tenancy.md.

Importing the package is cheap: the controllers (and with them numpy/scipy/HiGHS) are imported
only when :func:`setup_tenancy_controllers` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from teapot.tenancy.options import TenancyOptions

if TYPE_CHECKING:
    from teapot.runtime import Controller, Manager


def setup_tenancy_controllers(
    manager: Manager, *, hosts_namespace: str = "teapot-hosts", options: TenancyOptions = TenancyOptions()
) -> list[Controller]:
    """Register the allocation and tenant controllers on ``manager`` (``teapot up`` / ``controllers``)."""
    from teapot.tenancy.controller import setup_allocation_controller
    from teapot.tenancy.tenants import setup_tenant_controller

    allocation, _ = setup_allocation_controller(manager, hosts_namespace=hosts_namespace, options=options)
    return [allocation, setup_tenant_controller(manager, hosts_namespace=hosts_namespace)]


__all__ = ["TenancyOptions", "setup_tenancy_controllers"]
