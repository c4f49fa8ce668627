"""Differential test: the compiled, cached authorizer against a direct transcription of kube's
``RuleAllows`` / ``appliesToUser`` / ``VisitRulesFor`` on random RBAC worlds."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from teapot.apiserver.auth import Authorizer, MemoryRBACSource, RequestAttributes, UserInfo

VERBS = ["get", "list", "create", "*"]
GROUPS = ["", "a.io", "*"]
RESOURCES = ["pods", "pods/status", "*/status", "*", "cms"]
NAMES = ["x", "y"]
URLS = ["/a", "/a/*", "*", "/b"]
NAMESPACES = ["n1", "n2"]
SUBJECTS = [
    {"kind": "User", "name": "alice"},
    {"kind": "User", "name": "bob"},
    {"kind": "Group", "name": "g1"},
    {"kind": "ServiceAccount", "name": "sa"},
    {"kind": "ServiceAccount", "name": "sa", "namespace": "n2"},
]
USERS = [
    UserInfo("alice", groups=("g1",)),
    UserInfo("bob", groups=("g2",)),
    UserInfo("system:serviceaccount:n1:sa", groups=("system:serviceaccounts",)),
    UserInfo("system:serviceaccount:n2:sa", groups=()),
]

rules = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "verbs": st.lists(st.sampled_from(VERBS), min_size=1, max_size=2),
                "apiGroups": st.lists(st.sampled_from(GROUPS), min_size=1, max_size=2),
                "resources": st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=2),
                "resourceNames": st.sampled_from([[], [], [], ["x"], ["x", "y"]]),
            }
        ),
        st.fixed_dictionaries(
            {
                "verbs": st.lists(st.sampled_from(VERBS), min_size=1, max_size=2),
                "nonResourceURLs": st.lists(st.sampled_from(URLS), min_size=1, max_size=2),
            }
        ),
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def worlds(draw: st.DrawFn) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 3))):
        objs.append({"kind": "ClusterRole", "metadata": {"name": f"c{i}"}, "rules": draw(rules)})
    for ns in NAMESPACES:
        for i in range(draw(st.integers(0, 2))):
            objs.append(
                {"kind": "Role", "metadata": {"name": f"r{i}", "namespace": ns}, "rules": draw(rules)}
            )
    refs = st.one_of(
        st.builds(lambda i: {"kind": "ClusterRole", "name": f"c{i}"}, st.integers(0, 2)),
        st.builds(lambda i: {"kind": "Role", "name": f"r{i}"}, st.integers(0, 1)),
    )
    for i in range(draw(st.integers(1, 6))):
        ns = draw(st.sampled_from(["", *NAMESPACES]))
        meta = {"name": f"b{i}", "namespace": ns} if ns else {"name": f"b{i}"}
        objs.append(
            {
                "kind": "RoleBinding" if ns else "ClusterRoleBinding",
                "metadata": meta,
                "roleRef": draw(refs),
                "subjects": draw(st.lists(st.sampled_from(SUBJECTS), min_size=1, max_size=2)),
            }
        )
    return objs


# --- reference: kube's Go, transcribed literally --------------------------------------------


def ref_resource_matches(r: str, combined: str, sub: str) -> bool:
    if r in ("*", combined):
        return True
    return bool(sub) and len(r) == len(sub) + 2 and r.startswith("*/") and r.endswith(sub)


def ref_rule_allows(rule: dict[str, Any], a: RequestAttributes) -> bool:
    verb_ok = any(v in ("*", a.verb) for v in rule.get("verbs", []))
    if a.is_resource_request:
        combined = a.resource + ("/" + a.subresource if a.subresource else "")
        group_ok = any(g in ("*", a.api_group) for g in rule.get("apiGroups", []))
        res_ok = any(ref_resource_matches(r, combined, a.subresource) for r in rule.get("resources", []))
        names = rule.get("resourceNames", [])
        name_ok = len(names) == 0 or a.name in names
        return verb_ok and group_ok and res_ok and name_ok
    url_ok = any(
        u in ("*", a.path) or (u.endswith("*") and a.path.startswith(u.rstrip("*")))
        for u in rule.get("nonResourceURLs", [])
    )
    return verb_ok and url_ok


def ref_applies(user: UserInfo, s: dict[str, str], ns: str) -> bool:
    if s["kind"] == "User":
        return user.name == s["name"]
    if s["kind"] == "Group":
        return s["name"] in user.groups
    sa_ns = s.get("namespace") or ns
    return bool(sa_ns) and user.name == f"system:serviceaccount:{sa_ns}:{s['name']}"


def ref_role_rules(objs: list[dict[str, Any]], ref: dict[str, str], ns: str) -> list[dict[str, Any]]:
    """GetRoleReferenceRules: a missing role contributes no rules (and an error, not modelled)."""
    want_ns = "" if ref["kind"] == "ClusterRole" else ns
    if ref["kind"] == "Role" and not ns:
        return []
    for o in objs:
        if (
            o["kind"] == ref["kind"]
            and o["metadata"]["name"] == ref["name"]
            and o["metadata"].get("namespace", "") == want_ns
        ):
            return list(o["rules"])
    return []


def ref_binding_allows(
    objs: list[dict[str, Any]], binding: dict[str, Any], ns: str, a: RequestAttributes
) -> bool:
    if not any(ref_applies(a.user, s, ns) for s in binding["subjects"]):
        return False
    return any(ref_rule_allows(r, a) for r in ref_role_rules(objs, binding["roleRef"], ns))


def ref_authorize(objs: list[dict[str, Any]], a: RequestAttributes) -> bool:
    for o in objs:
        if o["kind"] == "ClusterRoleBinding" and ref_binding_allows(objs, o, "", a):
            return True
    return bool(a.namespace) and any(
        o["kind"] == "RoleBinding"
        and o["metadata"]["namespace"] == a.namespace
        and ref_binding_allows(objs, o, a.namespace, a)
        for o in objs
    )


attributes = st.one_of(
    st.builds(
        lambda u, v, g, r, s, ns, n: RequestAttributes(
            user=u, verb=v, api_group=g, resource=r, subresource=s, namespace=ns, name=n
        ),
        st.sampled_from(USERS),
        st.sampled_from(["get", "list", "create", "delete"]),
        st.sampled_from(["", "", "a.io", "b.io"]),
        st.sampled_from(["pods", "pods", "cms", "other"]),
        st.sampled_from(["", "", "", "status", "scale"]),
        st.sampled_from(["", *NAMESPACES, *NAMESPACES, "n3"]),
        st.sampled_from(["", "x", "x", "z"]),
    ),
    st.builds(
        lambda u, v, p: RequestAttributes(user=u, verb=v, path=p, is_resource_request=False),
        st.sampled_from(USERS),
        st.sampled_from(["get", "post"]),
        st.sampled_from(["/a", "/a/b", "/ab", "/b", "/c"]),
    ),
)


def _concrete(draw: st.DrawFn, values: list[str], wildcard: list[str]) -> str:
    value = draw(st.sampled_from(values or [""]))
    return draw(st.sampled_from(wildcard)) if value == "*" else value


@st.composite
def near_queries(draw: st.DrawFn, objs: list[dict[str, Any]]) -> RequestAttributes:
    """A query built from one rule of the world, so that matches are common, not rare."""
    bindings = [o for o in objs if "roleRef" in o]
    binding = draw(st.sampled_from(bindings))
    binding_ns = binding["metadata"].get("namespace", "")
    rules = ref_role_rules(objs, binding["roleRef"], binding_ns) or [
        r for o in objs if "rules" in o for r in o["rules"]
    ]
    rule = draw(st.sampled_from(rules))
    subject = draw(st.sampled_from(binding["subjects"]))
    if subject["kind"] == "ServiceAccount":
        sa_ns = subject.get("namespace") or binding_ns or "n1"
        user = UserInfo(f"system:serviceaccount:{sa_ns}:{subject['name']}")
    else:
        user = USERS[0] if subject["name"] in ("alice", "g1") else USERS[1]
    verb = _concrete(draw, rule["verbs"], ["get", "list", "delete"])
    if "nonResourceURLs" in rule:
        path = _concrete(draw, rule["nonResourceURLs"], ["/a", "/z"])
        if path.endswith("*"):
            path = path.rstrip("*") + draw(st.sampled_from(["", "q"]))
        return RequestAttributes(user=user, verb=verb, path=path, is_resource_request=False)
    resource = _concrete(draw, rule["resources"], ["pods", "cms"])
    if resource.startswith("*/"):
        resource = draw(st.sampled_from(["pods", "cms"])) + resource[1:]
    name = _concrete(draw, rule.get("resourceNames") or [""], [""])
    res, _, sub = resource.partition("/")
    return RequestAttributes(
        user=user,
        verb=verb,
        api_group=_concrete(draw, rule["apiGroups"], ["", "b.io"]),
        resource=res,
        subresource=sub,
        namespace=binding_ns or draw(st.sampled_from(["", *NAMESPACES])),
        name=name or draw(st.sampled_from(["", "x"])),
    )


@settings(max_examples=100, deadline=None)
@given(objs=worlds(), data=st.data())
def test_authorizer_matches_reference(objs: list[dict[str, Any]], data: st.DataObject) -> None:
    queries = data.draw(st.lists(st.one_of(attributes, near_queries(objs)), min_size=1, max_size=25))
    authz = Authorizer(MemoryRBACSource(objs))
    for a in queries + queries:  # the second pass is served from the caches
        assert authz.authorize(a).allowed is ref_authorize(objs, a), a
