"""Authentication, authorization (RBAC) and certificates for the embedded API server.

Why it exists: the server must refuse strangers (401), confine tenants to their namespaces (403
with kube's exact message) and let kubectl connect over HTTPS with nothing but a kubeconfig. All of
it is pure, synchronous and I/O-free on the request path, so the HTTP layer calls it inline:

- :mod:`.certs` — CA, serving and admin client certificates in ``<data-dir>/pki``; SSL contexts.
- :mod:`.tokens` — kube's static token CSV; the generated admin token.
- :mod:`.authn` — headers + verified peer certificate → :class:`UserInfo` or ``None``.
- :mod:`.tls` — a uvicorn protocol that exposes the client certificate in the ASGI scope.
- :mod:`.kubeconfig` — admin and per-token kubeconfigs.
- :mod:`.requestinfo` — kube's RequestInfoFactory (path + method → verb, resource, namespace, ...).
- :mod:`.rbac` / :mod:`.policy` — the RBAC authorizer; :mod:`.bootstrap` — default roles;
  :mod:`.reviews` — access-review mapping; :mod:`.memory` — an in-memory RBAC source.

``tls`` imports uvicorn and is not re-exported here.
"""

from __future__ import annotations

from teapot.apiserver.auth.authn import Authenticator, PeerCert, bearer_token, user_from_peercert
from teapot.apiserver.auth.bootstrap import BootstrapPolicy, bootstrap_policy
from teapot.apiserver.auth.certs import (
    PKIPaths,
    client_ssl_context,
    ensure_pki,
    issue_client_cert,
    server_ssl_context,
)
from teapot.apiserver.auth.kubeconfig import (
    ClientCertCredentials,
    TokenCredentials,
    admin_credentials,
    build_kubeconfig,
    server_url,
    write_admin_kubeconfig,
    write_kubeconfig,
    write_token_kubeconfig,
)
from teapot.apiserver.auth.memory import MemoryRBACSource
from teapot.apiserver.auth.policy import aggregated_rules, aggregation_updates
from teapot.apiserver.auth.rbac import (
    Authorizer,
    Decision,
    NonResourceRule,
    RBACSource,
    RequestAttributes,
    ResourceRule,
    RulesResult,
    forbidden_message,
    forbidden_status,
)
from teapot.apiserver.auth.requestinfo import RequestInfo, parse_request
from teapot.apiserver.auth.reviews import (
    AccessReviewError,
    review_attributes,
    review_status,
    self_subject_review_status,
    subject_from_review,
)
from teapot.apiserver.auth.tokens import (
    TokenAuthenticator,
    TokenEntry,
    TokenFile,
    TokenFileError,
    ensure_admin_token_file,
    load_token_file,
    parse_token_csv,
)
from teapot.apiserver.auth.users import (
    ANONYMOUS,
    AUTHENTICATED,
    SYSTEM_MASTERS,
    UNAUTHENTICATED,
    UserInfo,
    authenticated_user,
    service_account_user,
)

__all__ = [
    "ANONYMOUS",
    "AUTHENTICATED",
    "SYSTEM_MASTERS",
    "UNAUTHENTICATED",
    "AccessReviewError",
    "Authenticator",
    "Authorizer",
    "BootstrapPolicy",
    "ClientCertCredentials",
    "Decision",
    "MemoryRBACSource",
    "NonResourceRule",
    "PKIPaths",
    "PeerCert",
    "RBACSource",
    "RequestAttributes",
    "RequestInfo",
    "ResourceRule",
    "RulesResult",
    "TokenAuthenticator",
    "TokenCredentials",
    "TokenEntry",
    "TokenFile",
    "TokenFileError",
    "UserInfo",
    "admin_credentials",
    "aggregated_rules",
    "aggregation_updates",
    "authenticated_user",
    "bearer_token",
    "bootstrap_policy",
    "build_kubeconfig",
    "client_ssl_context",
    "ensure_admin_token_file",
    "ensure_pki",
    "forbidden_message",
    "forbidden_status",
    "issue_client_cert",
    "load_token_file",
    "parse_request",
    "parse_token_csv",
    "review_attributes",
    "review_status",
    "self_subject_review_status",
    "server_ssl_context",
    "server_url",
    "service_account_user",
    "subject_from_review",
    "user_from_peercert",
    "write_admin_kubeconfig",
    "write_kubeconfig",
    "write_token_kubeconfig",
]
