"""Request authentication: bearer tokens and verified TLS client certificates → ``UserInfo``.

Why it exists: every request must be tied to a user before RBAC can judge it, and kube's rules for
this are small but exact: a verified client certificate names the user in its CN and the groups in
its O attributes; ``Authorization: Bearer <token>`` (scheme case-insensitive) is looked up in the
token authenticators; the certificate wins when both are present (kube's union order); anything
else is "not authenticated" (``None``), which the server answers with 401.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from teapot.apiserver.auth.tokens import TokenAuthenticatorLike
from teapot.apiserver.auth.users import ANONYMOUS, UserInfo, authenticated_user

PeerCert = Mapping[str, Any]
"""A verified peer certificate as ``ssl.SSLObject.getpeercert()`` returns it (decoded dict form).

Python's ``ssl`` only decodes a certificate the handshake verified, so its presence means the
certificate chains to the CA the server context trusts.
"""


def user_from_peercert(cert: PeerCert | None) -> UserInfo | None:
    """CN → user name, each O → a group (kube's ``CommonNameUserConversion``); no CN → ``None``."""
    if not cert:
        return None
    common_name = ""
    groups: list[str] = []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                common_name = value  # Go's pkix.Name keeps the last CN
            elif key == "organizationName":
                groups.append(value)
    if not common_name:
        return None
    return authenticated_user(common_name, "", groups)


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The token of the first ``Authorization`` header if it is ``Bearer <token>``, else ``None``."""
    for name, value in headers:
        if name.lower() == b"authorization":
            parts = value.decode("latin-1").strip().split(" ", 2)
            if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
                return None
            return parts[1]
    return None


def _has_authorization(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    return any(name.lower() == b"authorization" for name, _ in headers)


class Authenticator:
    """Authenticates one request from its ASGI headers and the connection's verified peer cert."""

    def __init__(
        self,
        token_authenticators: Sequence[TokenAuthenticatorLike] = (),
        *,
        client_certificates: bool = True,
        anonymous: bool = False,
    ) -> None:
        """``anonymous=True`` maps a request without any credential to ``system:anonymous`` (as
        kube-apiserver's ``--anonymous-auth``); a wrong credential is still ``None``."""
        self._token_authenticators = tuple(token_authenticators)
        self._client_certificates = client_certificates
        self._anonymous = anonymous

    def authenticate(
        self, headers: Iterable[tuple[bytes, bytes]], peer_cert: PeerCert | None = None
    ) -> UserInfo | None:
        """The caller, or ``None`` when no credential was given or none was valid (→ 401)."""
        if self._client_certificates and peer_cert:
            user = user_from_peercert(peer_cert)
            if user is not None:
                return user
        token = bearer_token(headers)
        if token is None:
            if self._anonymous and not peer_cert and not _has_authorization(headers):
                return ANONYMOUS
            return None
        for authenticator in self._token_authenticators:
            user = authenticator.authenticate_token(token)
            if user is not None:
                return user
        return None
