"""Where the tenancy controllers' resources live, and the annotation keys they own.

Why one module: the allocation controller, the tenant controller and the CLI (``teapot explain``,
``teapot whatif``) must agree on every key they read and write; a key spelled twice drifts.

Annotations carry state that ``teapot.api`` has no field for yet (see docs/tenancy.md, "API gaps"):
the holder details of a bound BareMetalHost (band, since, reservation, pending reclaim) and the
admitted snapshot of a Tenant's guarantees / a Reservation's spec. Everything that matters lives
in the API, never only in memory, so a restarted (or second) controller converges to the same state.
"""

from __future__ import annotations

from teapot.api import labels
from teapot.runtime import ResourceRef

GROUP = "teapot.dev"
API_VERSION = "teapot.dev/v1alpha1"

TENANTS = ResourceRef(GROUP, "v1alpha1", "tenants", namespaced=False, kind="Tenant")
HOSTCLASSES = ResourceRef(GROUP, "v1alpha1", "hostclasses", namespaced=False, kind="HostClass")
RESERVATIONS = ResourceRef(GROUP, "v1alpha1", "reservations", namespaced=True, kind="Reservation")
HOSTCLAIMS = ResourceRef(GROUP, "v1alpha1", "hostclaims", namespaced=True, kind="HostClaim")
BAREMETALHOSTS = ResourceRef("metal3.io", "v1alpha1", "baremetalhosts", namespaced=True, kind="BareMetalHost")
NAMESPACES = ResourceRef("", "v1", "namespaces", namespaced=False, kind="Namespace")
EVENTS = ResourceRef("", "v1", "events", namespaced=True, kind="Event")
RBAC = "rbac.authorization.k8s.io"
ROLES = ResourceRef(RBAC, "v1", "roles", namespaced=True, kind="Role")
ROLEBINDINGS = ResourceRef(RBAC, "v1", "rolebindings", namespaced=True, kind="RoleBinding")
CLUSTERROLES = ResourceRef(RBAC, "v1", "clusterroles", namespaced=False, kind="ClusterRole")
CLUSTERROLEBINDINGS = ResourceRef(
    RBAC, "v1", "clusterrolebindings", namespaced=False, kind="ClusterRoleBinding"
)

# labels on a bound BareMetalHost (selectable: `kubectl get bmh -l tenancy.teapot.dev/tenant=physics`)
TENANT_LABEL = labels.TENANT
CLAIM_LABEL = labels.CLAIM

_A = "tenancy.teapot.dev/"
# holder details on a bound BareMetalHost
BAND = _A + "band"
SINCE = _A + "since"
RESERVATION = _A + "reservation"
RECLAIMED_BY = _A + "reclaimed-by"  # "namespace/name" of the claim taking the host back
RECLAIM_AT = _A + "reclaim-at"  # RFC 3339 deadline of that reclaim
RECLAIM_REASON = _A + "reclaim-reason"
HOLDER_ANNOTATIONS = (BAND, SINCE, RESERVATION, RECLAIMED_BY, RECLAIM_AT, RECLAIM_REASON)

# the admitted snapshot of a Tenant's guarantees / a Reservation's spec (JSON)
ADMITTED = _A + "admitted"

# finalizer on HostClaims: their hosts are released before the claim goes away
FINALIZER = "tenancy.teapot.dev/release-hosts"

# the single reconcile key of the allocation controller (allocation is global)
WORLD = "world"
