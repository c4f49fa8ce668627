"""What a request is about: kube's ``RequestInfoFactory`` for routing and authorization.

Why it exists: RBAC decides on (verb, API group, resource, subresource, namespace, name), not on
URLs, and the router needs the same split. Kubernetes defines the mapping precisely
(k8s.io/apiserver ``endpoints/request/requestinfo.go``) and clients depend on its corners, so this is
a faithful port rather than a router-specific guess:

- ``/api/v1/...`` (core, no group) and ``/apis/GROUP/VERSION/...`` are resource requests; any other
  path, or a shorter one (``/api``, ``/apis/apps``), is a non-resource request whose verb is the
  lower-cased HTTP method.
- ``/api/v1/watch/...`` and ``/api/v1/proxy/...`` set the verb from the path (legacy forms).
- Otherwise POST → create, GET/HEAD → get, PUT → update, PATCH → patch, DELETE → delete;
  a ``get`` without a name becomes ``list``, or ``watch`` when ``?watch`` is present and not
  ``0``/``false``; a ``delete`` without a name becomes ``deletecollection``.
- ``/namespaces/NS/RESOURCE...`` is namespaced; ``/namespaces/NS`` (and its ``status`` and
  ``finalize`` subresources) is the namespace object itself (resource ``namespaces``, name NS).
- ``RESOURCE/NAME/SUBRESOURCE`` fills the subresource (``status``, ``scale``, ...).
- A list or watch with ``fieldSelector=metadata.name=X`` is treated as about ``X`` (so
  ``resourceNames`` rules can grant watching a single object), as kube does.

Parsing is a handful of ``str`` operations; the query string is only decoded for collection GETs.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_plus

_METHOD_VERBS: dict[str, str] = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The parsed request (kube's ``request.RequestInfo``)."""

    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()


def _query_values(query: str, key: str) -> list[str] | None:
    """The decoded values of ``key`` (like ``parse_qs(..., keep_blank_values=True).get(key)``),
    decoding only the pairs whose key matches."""
    if key not in query:  # cheap pre-check for the common case
        return None
    values: list[str] = []
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == key or (("%" in name or "+" in name) and unquote_plus(name) == key):
            values.append(unquote_plus(value))
    return values or None


def _watch_requested(query: str) -> bool:
    values = _query_values(query, "watch")
    if not values:
        return False
    return values[0] != "0" and values[0].lower() != "false"


def _split_selector_terms(selector: str) -> list[str]:
    """Split a field selector on commas not escaped with a backslash."""
    terms: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in selector:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch == ",":
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return terms


def _unescape(value: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped or ch != "\\":
            out.append(ch)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def field_selector_exact_name(query: str) -> str:
    """``X`` if the ``fieldSelector`` requires ``metadata.name`` = ``X`` and X is a valid path segment."""
    values = _query_values(query, "fieldSelector")
    if not values:
        return ""
    for term in _split_selector_terms(values[0]):
        if "!=" in term:
            continue
        key, sep, value = term.partition("==") if "==" in term else term.partition("=")
        if sep and key.strip() == "metadata.name":
            name = _unescape(value.strip())
            if name and name not in (".", "..") and "/" not in name and "%" not in name:
                return name
            return ""
    return ""


def parse_request(method: str, path: str, query: str | bytes = "") -> RequestInfo:
    """Parse one request. ``path`` is the percent-decoded path (ASGI ``scope["path"]``),
    ``query`` the raw query string (ASGI ``scope["query_string"]`` may be passed as is)."""
    method = method.upper()
    parts = path.strip("/").split("/") if path.strip("/") else []
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return RequestInfo(is_resource_request=False, path=path, verb=method.lower())
    prefix = parts[0]
    rest = parts[1:]
    group = ""
    if prefix == "apis":
        if len(rest) < 3:
            return RequestInfo(is_resource_request=False, path=path, verb=method.lower())
        group = rest[0]
        rest = rest[1:]
    version = rest[0]
    rest = rest[1:]

    if rest[0] in _SPECIAL_VERBS:
        if len(rest) < 2:
            # kube answers this with an error; treat it as a request about nothing in particular
            return RequestInfo(
                is_resource_request=True,
                path=path,
                verb=rest[0],
                api_prefix=prefix,
                api_group=group,
                api_version=version,
            )
        verb = rest[0]
        rest = rest[1:]
    else:
        verb = _METHOD_VERBS.get(method, "")

    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]

    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 and verb != "proxy" else ""

    if not name and verb == "get":
        q = query.decode("latin-1") if isinstance(query, bytes) else query
        if q:
            verb = "watch" if _watch_requested(q) else "list"
            name = field_selector_exact_name(q)
        else:
            verb = "list"
    if not name and verb == "delete":
        verb = "deletecollection"
    return RequestInfo(
        is_resource_request=True,
        path=path,
        verb=verb,
        api_prefix=prefix,
        api_group=group,
        api_version=version,
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=name,
        parts=tuple(rest),
    )
