"""The tenant controller: a Tenant's namespaces and the RBAC that confines its users to them.

Why RBAC objects and not an admission check: the API server (embedded or real) already enforces
RBAC on every request, including watches and kubectl, so a tenant user's view of the world is
exactly what these Roles grant — nothing to forget in a custom check. What a tenant's users get:

- in each of its namespaces (created if missing, labelled ``tenancy.teapot.dev/tenant``): full
  CRUD of Reservations and HostClaims, read of their status and of Events;
- cluster-wide: read of HostClasses (the price list) and of their own Tenant object;
- in the hosts namespace: ``get``/``watch`` of exactly the BareMetalHosts bound to them
  (``resourceNames``; re-written when bindings change). Never Secrets (BMC credentials live there).

Every RBAC object carries an ownerReference to the Tenant, so deleting the tenant garbage-collects
its RBAC. Namespaces are labelled but deliberately *not* owned: deleting a tenant must not delete
workloads an operator may still want to move elsewhere.
"""

from __future__ import annotations

import logging
from typing import Any

from teapot.runtime import (
    ApiError,
    Controller,
    ControllerOptions,
    FuncHandler,
    InformerOptions,
    Manager,
    ObjectKey,
    ResourceRef,
    Result,
    generation_changed,
)
from teapot.tenancy import keys
from teapot.tenancy.world import meta, tenant_of

log = logging.getLogger(__name__)
KubeObject = dict[str, Any]
ROLE = "teapot-tenant"
RBAC_GROUP = "rbac.authorization.k8s.io"
WRITE = ["get", "list", "watch", "create", "update", "patch", "delete"]
READ = ["get", "list", "watch"]


def namespace_rules() -> list[dict[str, Any]]:
    return [
        {"apiGroups": [keys.GROUP], "resources": ["reservations", "hostclaims"], "verbs": WRITE},
        {
            "apiGroups": [keys.GROUP],
            "resources": ["reservations/status", "hostclaims/status"],
            "verbs": ["get"],
        },
        {"apiGroups": [""], "resources": ["events"], "verbs": READ},
    ]


def cluster_rules(tenant: str) -> list[dict[str, Any]]:
    return [
        {"apiGroups": [keys.GROUP], "resources": ["hostclasses"], "verbs": READ},
        {
            "apiGroups": [keys.GROUP],
            "resources": ["tenants"],
            "verbs": ["get", "watch"],
            "resourceNames": [tenant],
        },
    ]


def host_rules(hosts: list[str]) -> list[dict[str, Any]]:
    """Only the named hosts; no rule at all when none is bound (empty resourceNames means *all*)."""
    if not hosts:
        return []
    return [
        {
            "apiGroups": ["metal3.io"],
            "resources": ["baremetalhosts"],
            "verbs": ["get", "watch"],
            "resourceNames": hosts,
        }
    ]


def subjects(users: tuple[str, ...], groups: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"kind": "User", "apiGroup": RBAC_GROUP, "name": u} for u in users] + [
        {"kind": "Group", "apiGroup": RBAC_GROUP, "name": g} for g in groups
    ]


def owner_reference(tenant: KubeObject) -> dict[str, Any]:
    m = meta(tenant)
    return {
        "apiVersion": keys.API_VERSION,
        "kind": "Tenant",
        "name": m.get("name"),
        "uid": m.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def desired_objects(
    tenant: KubeObject, bound_hosts: list[str], hosts_namespace: str
) -> list[tuple[ResourceRef, KubeObject]]:
    """Every RBAC object the tenant should have (pure; unit-tested)."""
    record = tenant_of(tenant)
    name = record.name
    labels = {keys.TENANT_LABEL: name}
    owner = [owner_reference(tenant)]
    subs = subjects(record.users, record.groups)
    scoped = f"{ROLE}:{name}"

    def metadata(obj_name: str, namespace: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"name": obj_name, "labels": labels, "ownerReferences": owner}
        if namespace is not None:
            out["namespace"] = namespace
        return out

    role_ref = {"apiGroup": RBAC_GROUP, "kind": "Role", "name": ROLE}
    objects: list[tuple[ResourceRef, KubeObject]] = []
    for namespace in record.namespaces:
        objects.append((keys.ROLES, {"metadata": metadata(ROLE, namespace), "rules": namespace_rules()}))
        objects.append(
            (
                keys.ROLEBINDINGS,
                {"metadata": metadata(ROLE, namespace), "roleRef": role_ref, "subjects": subs},
            )
        )
    objects.append((keys.CLUSTERROLES, {"metadata": metadata(scoped), "rules": cluster_rules(name)}))
    objects.append(
        (
            keys.CLUSTERROLEBINDINGS,
            {
                "metadata": metadata(scoped),
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": scoped},
                "subjects": subs,
            },
        )
    )
    objects.append(
        (keys.ROLES, {"metadata": metadata(scoped, hosts_namespace), "rules": host_rules(bound_hosts)})
    )
    objects.append(
        (
            keys.ROLEBINDINGS,
            {
                "metadata": metadata(scoped, hosts_namespace),
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": scoped},
                "subjects": subs,
            },
        )
    )
    for ref, obj in objects:
        obj["apiVersion"] = ref.api_version
        obj["kind"] = ref.kind
    return objects


def _differs(existing: KubeObject, wanted: KubeObject) -> bool:
    em, wm = meta(existing), meta(wanted)
    return any(existing.get(k) != wanted.get(k) for k in ("rules", "roleRef", "subjects")) or any(
        em.get(k) != wm.get(k) for k in ("labels", "ownerReferences")
    )


class TenantReconciler:
    def __init__(self, manager: Manager, hosts_namespace: str) -> None:
        self.client = manager.client
        self.hosts_namespace = hosts_namespace
        self.tenants = manager.informer(keys.TENANTS)
        self.hosts = manager.informer(keys.BAREMETALHOSTS, InformerOptions(namespace=hosts_namespace))

    def bound_hosts(self, tenant: str) -> list[str]:
        return sorted(
            str(meta(h).get("name"))
            for h in self.hosts.store.list(self.hosts_namespace)
            if (meta(h).get("labels") or {}).get(keys.TENANT_LABEL) == tenant
            and (h.get("spec") or {}).get("consumerRef")
        )

    async def reconcile(self, key: ObjectKey) -> Result:
        tenant = self.tenants.store.get(key)
        if tenant is None or meta(tenant).get("deletionTimestamp"):
            return Result()  # ownerReferences garbage-collect the RBAC
        record = tenant_of(tenant)
        for namespace in record.namespaces:
            await self._ensure_namespace(namespace, record.name)
        wanted = desired_objects(tenant, self.bound_hosts(record.name), self.hosts_namespace)
        for ref, obj in wanted:
            await self._apply(ref, obj)
        await self._prune(record.name, set(record.namespaces) | {self.hosts_namespace})
        return Result(requeue_after=300)

    async def _ensure_namespace(self, namespace: str, tenant: str) -> None:
        try:
            existing = await self.client.get(keys.NAMESPACES, namespace)
        except ApiError as exc:
            if not exc.not_found:
                raise
            body = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace, "labels": {keys.TENANT_LABEL: tenant}},
            }
            try:
                await self.client.create(keys.NAMESPACES, body)
            except ApiError as create_exc:
                if create_exc.status != 409:
                    raise
            return
        if (meta(existing).get("labels") or {}).get(keys.TENANT_LABEL) != tenant:
            await self.client.patch(
                keys.NAMESPACES, namespace, {"metadata": {"labels": {keys.TENANT_LABEL: tenant}}}
            )

    async def _apply(self, ref: ResourceRef, obj: KubeObject) -> None:
        m = meta(obj)
        name, namespace = str(m["name"]), m.get("namespace")
        try:
            existing = await self.client.get(ref, name, namespace)
        except ApiError as exc:
            if not exc.not_found:
                raise
            await self.client.create(ref, obj, namespace)
            return
        if _differs(existing, obj):
            updated = dict(obj)
            updated["metadata"] = {**m, "resourceVersion": meta(existing).get("resourceVersion")}
            await self.client.replace(ref, updated)

    async def _prune(self, tenant: str, namespaces: set[str]) -> None:
        """Empty the RoleBindings left in namespaces the tenant no longer lists.

        Emptied rather than deleted: the runtime's ``ObjectClient`` protocol has no ``delete``;
        a binding without subjects grants nothing, and the tenant's deletion collects it."""
        listed = await self.client.list(
            keys.ROLEBINDINGS, None, label_selector=f"{keys.TENANT_LABEL}={tenant}"
        )
        for item in listed.get("items") or []:
            if meta(item).get("namespace") not in namespaces and item.get("subjects"):
                emptied = dict(item)
                emptied["subjects"] = []
                try:
                    await self.client.replace(keys.ROLEBINDINGS, emptied)
                except ApiError as exc:
                    if not (exc.not_found or exc.conflict):
                        raise


def setup_tenant_controller(manager: Manager, *, hosts_namespace: str = "teapot-hosts") -> Controller:
    reconciler = TenantReconciler(manager, hosts_namespace)
    controller = manager.new_controller("tenant", reconciler, ControllerOptions(workers=2))
    controller.watch(reconciler.tenants, update_filter=generation_changed)

    def tenant_key(obj: KubeObject) -> ObjectKey | None:
        tenant = (meta(obj).get("labels") or {}).get(keys.TENANT_LABEL)
        return ObjectKey("", tenant) if tenant else None

    def enqueue(*objs: KubeObject) -> None:
        for obj in objs:
            key = tenant_key(obj)
            if key is not None:
                controller.queue.add(key)

    def on_update(old: KubeObject, new: KubeObject) -> None:
        if tenant_key(old) != tenant_key(new) or (old.get("spec") or {}).get("consumerRef") != (
            new.get("spec") or {}
        ).get("consumerRef"):
            enqueue(old, new)

    # a binding or release changes which hosts the tenant may read
    reconciler.hosts.add_handler(FuncHandler(add=enqueue, update=on_update, delete=enqueue))
    return controller
