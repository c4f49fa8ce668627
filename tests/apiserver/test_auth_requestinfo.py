"""kube's RequestInfoFactory cases, ported as a table (expected values from requestinfo_test.go)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teapot.apiserver.auth.requestinfo import RequestInfo, field_selector_exact_name, parse_request

# method, path, query, verb, group, version, namespace, resource, subresource, name
RESOURCE_CASES: list[tuple[str, str, str, str, str, str, str, str, str, str]] = [
    ("GET", "/api/v1/namespaces", "", "list", "", "v1", "", "namespaces", "", ""),
    ("GET", "/api/v1/namespaces/other", "", "get", "", "v1", "other", "namespaces", "", "other"),
    ("GET", "/api/v1/namespaces/other/pods", "", "list", "", "v1", "other", "pods", "", ""),
    ("GET", "/api/v1/namespaces/other/pods/foo", "", "get", "", "v1", "other", "pods", "", "foo"),
    ("HEAD", "/api/v1/namespaces/other/pods/foo", "", "get", "", "v1", "other", "pods", "", "foo"),
    ("GET", "/api/v1/pods", "", "list", "", "v1", "", "pods", "", ""),
    ("HEAD", "/api/v1/pods", "", "list", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/namespaces/other/pods/foo", "", "get", "", "v1", "other", "pods", "", "foo"),
    ("GET", "/api/v1/namespaces/other/pods", "", "list", "", "v1", "other", "pods", "", ""),
    # special verbs
    ("GET", "/api/v1/proxy/namespaces/other/pods/foo", "", "proxy", "", "v1", "other", "pods", "", "foo"),
    (
        "GET",
        "/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource",
        "",
        "proxy",
        "",
        "v1",
        "other",
        "pods",
        "",
        "foo",
    ),
    ("GET", "/api/v1/watch/pods", "", "watch", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods", "watch=true", "watch", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods", "watch=false", "list", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods", "watch=0", "list", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods", "watch=1", "watch", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods", "watch=", "watch", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/pods", "watch=FALSE&limit=5", "list", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/watch/namespaces/other/pods", "", "watch", "", "v1", "other", "pods", "", ""),
    ("GET", "/api/v1/watch/namespaces/other/pods/foo", "", "watch", "", "v1", "other", "pods", "", "foo"),
    # subresource identification
    (
        "GET",
        "/api/v1/namespaces/other/pods/foo/status",
        "",
        "get",
        "",
        "v1",
        "other",
        "pods",
        "status",
        "foo",
    ),
    (
        "GET",
        "/api/v1/namespaces/other/pods/foo/proxy/subpath",
        "",
        "get",
        "",
        "v1",
        "other",
        "pods",
        "proxy",
        "foo",
    ),
    (
        "PUT",
        "/api/v1/namespaces/other/finalize",
        "",
        "update",
        "",
        "v1",
        "other",
        "namespaces",
        "finalize",
        "other",
    ),
    (
        "PUT",
        "/api/v1/namespaces/other/status",
        "",
        "update",
        "",
        "v1",
        "other",
        "namespaces",
        "status",
        "other",
    ),
    # verb identification
    ("PATCH", "/api/v1/namespaces/other/pods/foo", "", "patch", "", "v1", "other", "pods", "", "foo"),
    ("DELETE", "/api/v1/namespaces/other/pods/foo", "", "delete", "", "v1", "other", "pods", "", "foo"),
    ("POST", "/api/v1/namespaces/other/pods", "", "create", "", "v1", "other", "pods", "", ""),
    ("PUT", "/api/v1/namespaces/other/pods/foo", "", "update", "", "v1", "other", "pods", "", "foo"),
    ("DELETE", "/api/v1/namespaces/other/pods", "", "deletecollection", "", "v1", "other", "pods", "", ""),
    # deletecollection verb identification
    ("DELETE", "/api/v1/nodes", "", "deletecollection", "", "v1", "", "nodes", "", ""),
    ("DELETE", "/api/v1/namespaces", "", "deletecollection", "", "v1", "", "namespaces", "", ""),
    ("DELETE", "/api/v1/namespaces/other/pods", "", "deletecollection", "", "v1", "other", "pods", "", ""),
    (
        "DELETE",
        "/apis/extensions/v1/namespaces/other/pods",
        "",
        "deletecollection",
        "extensions",
        "v1",
        "other",
        "pods",
        "",
        "",
    ),
    # api group identification
    (
        "POST",
        "/apis/extensions/v1/namespaces/other/pods",
        "",
        "create",
        "extensions",
        "v1",
        "other",
        "pods",
        "",
        "",
    ),
    # api version identification
    (
        "POST",
        "/apis/extensions/v1beta3/namespaces/other/pods",
        "",
        "create",
        "extensions",
        "v1beta3",
        "other",
        "pods",
        "",
        "",
    ),
    # custom resources, cluster-scoped and namespaced, with status and scale
    (
        "GET",
        "/apis/teapot.dev/v1alpha1/tenants/acme",
        "",
        "get",
        "teapot.dev",
        "v1alpha1",
        "",
        "tenants",
        "",
        "acme",
    ),
    (
        "PATCH",
        "/apis/metal3.io/v1alpha1/namespaces/hosts/baremetalhosts/h1/status",
        "",
        "patch",
        "metal3.io",
        "v1alpha1",
        "hosts",
        "baremetalhosts",
        "status",
        "h1",
    ),
    (
        "PUT",
        "/apis/teapot.dev/v1alpha1/namespaces/t/hostclaims/c/scale",
        "",
        "update",
        "teapot.dev",
        "v1alpha1",
        "t",
        "hostclaims",
        "scale",
        "c",
    ),
    # field selector on metadata.name names the object for list and watch
    (
        "GET",
        "/api/v1/namespaces/ns/configmaps",
        "fieldSelector=metadata.name%3Dcm1",
        "list",
        "",
        "v1",
        "ns",
        "configmaps",
        "",
        "cm1",
    ),
    (
        "GET",
        "/api/v1/namespaces/ns/configmaps",
        "fieldSelector=metadata.name%3D%3Dcm1&watch=1",
        "watch",
        "",
        "v1",
        "ns",
        "configmaps",
        "",
        "cm1",
    ),
    (
        "GET",
        "/api/v1/namespaces/ns/configmaps",
        "fieldSelector=metadata.name%21%3Dcm1",
        "list",
        "",
        "v1",
        "ns",
        "configmaps",
        "",
        "",
    ),
    (
        "GET",
        "/api/v1/namespaces/ns/configmaps",
        "fieldSelector=metadata.name%3D..",
        "list",
        "",
        "v1",
        "ns",
        "configmaps",
        "",
        "",
    ),
    (
        "GET",
        "/api/v1/namespaces/ns/configmaps",
        "fieldSelector=metadata.namespace%3Dx",
        "list",
        "",
        "v1",
        "ns",
        "configmaps",
        "",
        "",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "query", "verb", "group", "version", "namespace", "resource", "sub", "name"),
    RESOURCE_CASES,
)
def test_resource_requests(
    method: str,
    path: str,
    query: str,
    verb: str,
    group: str,
    version: str,
    namespace: str,
    resource: str,
    sub: str,
    name: str,
) -> None:
    info = parse_request(method, path, query)
    assert info.is_resource_request
    assert (
        info.verb,
        info.api_group,
        info.api_version,
        info.namespace,
        info.resource,
        info.subresource,
        info.name,
    ) == (verb, group, version, namespace, resource, sub, name)
    assert info.path == path


@pytest.mark.parametrize(
    ("method", "path", "verb"),
    [
        ("GET", "/api", "get"),
        ("GET", "/api/v1", "get"),
        ("GET", "/apis", "get"),
        ("GET", "/apis/teapot.dev", "get"),
        ("GET", "/apis/teapot.dev/v1alpha1", "get"),
        ("GET", "/healthz", "get"),
        ("GET", "/openapi/v3/apis/teapot.dev/v1alpha1", "get"),
        ("GET", "/", "get"),
        ("POST", "/foo/bar/baz", "post"),
        ("DELETE", "/other/path", "delete"),
    ],
)
def test_non_resource_requests(method: str, path: str, verb: str) -> None:
    info = parse_request(method, path)
    assert info == RequestInfo(is_resource_request=False, path=path, verb=verb)


def test_query_may_be_bytes_as_in_asgi_scope() -> None:
    assert parse_request("GET", "/api/v1/pods", b"watch=true&resourceVersion=5").verb == "watch"


def test_watch_on_single_item_is_get_like_kube() -> None:
    # kube only turns a *collection* GET into list/watch
    assert parse_request("GET", "/api/v1/namespaces/a/pods/p", "watch=1").verb == "get"


def test_parts_are_relative_to_resource() -> None:
    info = parse_request("GET", "/api/v1/namespaces/ns/pods/p/log")
    assert info.parts == ("pods", "p", "log")


def test_special_verb_without_resource_does_not_crash() -> None:
    info = parse_request("GET", "/api/v1/watch")
    assert info.is_resource_request and info.verb == "watch" and info.resource == ""


def test_field_selector_escaped_commas() -> None:
    assert field_selector_exact_name(r"fieldSelector=spec.x%3Da\,b,metadata.name%3Dfoo") == "foo"
    assert field_selector_exact_name("fieldSelector=metadata.name%3Da%2Fb") == ""


_segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-:", min_size=0, max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    prefix=st.sampled_from(["api", "apis", "other", ""]),
    segments=st.lists(
        st.one_of(_segment, st.sampled_from(["namespaces", "watch", "proxy", "status"])), max_size=7
    ),
    query=st.sampled_from(["", "watch=1", "watch=false", "fieldSelector=metadata.name%3Dx", "a=%zz&watch"]),
)
def test_parse_request_invariants(method: str, prefix: str, segments: list[str], query: str) -> None:
    path = "/" + "/".join([prefix, *segments])
    info = parse_request(method, path, query)
    assert info.path == path
    if not info.is_resource_request:
        assert info.verb == method.lower()
        return
    assert info.api_prefix == prefix
    assert info.verb in {
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
        "proxy",
        "",
    }
    if info.namespace:
        assert f"/namespaces/{info.namespace}" in path
    if info.verb in ("list", "deletecollection") and "fieldSelector" not in query:
        assert info.name == ""
    if info.verb in ("get", "delete"):  # without a name these become list/deletecollection
        assert info.name
