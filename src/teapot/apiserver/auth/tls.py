"""Expose the TLS client certificate to the ASGI app under uvicorn.

Why it exists: uvicorn (0.54, both the httptools and h11 protocols) puts no TLS information into
the ASGI scope, so an app cannot see which client certificate a connection presented. This
subclass of uvicorn's httptools protocol reads the verified peer certificate once per connection
(``transport.get_extra_info("peercert")``) and adds it to every request's scope as the ASGI TLS
extension (``scope["extensions"]["tls"]``: ``client_cert_chain``, ``client_cert_name``,
``tls_version``, ...) plus the decoded certificate under the extra key ``"peercert"``, ready for
:meth:`~teapot.apiserver.auth.authn.Authenticator.authenticate`.

Use it with ``uvicorn.Config(app, http=PeerCertHttpToolsProtocol, ssl_context_factory=...)``.
It relies on uvicorn's ``connection_made`` / ``on_message_begin`` hooks; a uvicorn upgrade that
renames them breaks the test in ``tests/apiserver/test_auth_tls.py``, not production silently.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from teapot.apiserver.auth.authn import PeerCert

_TLS_VERSIONS = {
    "TLSv1.2": 0x0303,
    "TLSv1.3": 0x0304,
}


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI TLS extension dict for a connection, or ``None`` for plain HTTP.

    Called once per connection: the certificate is parsed here (with ``cryptography``, for the
    RFC 4514 subject and the PEM the spec asks for), never per request.
    """
    ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    peercert: PeerCert | None = transport.get_extra_info("peercert") or None
    der = ssl_object.getpeercert(binary_form=True) if peercert else None
    name: str | None = None
    chain: list[str] = []
    if der:
        cert = x509.load_der_x509_certificate(der)
        name = cert.subject.rfc4514_string()
        chain = [cert.public_bytes(serialization.Encoding.PEM).decode("ascii")]
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
        "peercert": peercert,
    }


def peer_cert_from_scope(scope: dict[str, Any] | Any) -> PeerCert | None:
    """The verified client certificate of the request's connection, if any."""
    tls = (scope.get("extensions") or {}).get("tls")
    if not tls:
        return None
    cert: PeerCert | None = tls.get("peercert")
    return cert


class PeerCertHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus ``scope["extensions"]["tls"]``."""

    _tls: dict[str, Any] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._tls = tls_extension(transport)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is not None:
            self.scope["extensions"] = {"tls": cast("dict[object, object]", self._tls)}
