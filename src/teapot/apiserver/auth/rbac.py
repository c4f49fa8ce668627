"""The RBAC authorizer: may this user do this verb on this resource (or path)?

Why it exists: a tenant must be confined to its namespaces while operators see everything, with
exactly Kubernetes' semantics so that Roles written for a real cluster mean the same here, and
``kubectl auth can-i`` (SelfSubjectAccessReview / SelfSubjectRulesReview) tells the truth.

Semantics (kube's ``RBACAuthorizer`` + privileged-group authorizer): members of ``system:masters``
are allowed everything; otherwise ClusterRoleBindings grant their role's rules everywhere, and
RoleBindings in the request's namespace grant their Role's or ClusterRole's rules in that
namespace only; a binding whose role is missing contributes an error that appears in the deny
reason (``RBAC: clusterrole.rbac.authorization.k8s.io "x" not found``), as in kube.

Performance: authorization is on every request's hot path. Rules are read from the
:class:`RBACSource` once per generation, compiled per (user, groups) for cluster bindings and per
(user, groups, namespace) for namespaced ones, and the rules matching a (verb, group, resource,
subresource) are memoised, so a cached decision costs a few dict lookups (about 1.5 to 3.5 µs measured on
this 2-core machine, also for a user holding 100 Roles). :meth:`Authorizer.bump` drops
everything; the server calls it whenever a Role, ClusterRole or binding changes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from teapot.apiserver.auth.policy import (
    CompiledRule,
    Obj,
    aggregated_rules,
    compile_rule,
    describe_binding,
    first_applicable_subject,
    go_quote,
)
from teapot.apiserver.auth.requestinfo import RequestInfo
from teapot.apiserver.auth.users import SYSTEM_MASTERS, UserInfo


class RBACSource(Protocol):
    """Where RBAC objects come from: plain dicts as stored (``metadata``, ``rules``, ``roleRef``...)."""

    def cluster_roles(self) -> Iterable[Mapping[str, Any]]: ...

    def cluster_role_bindings(self) -> Iterable[Mapping[str, Any]]: ...

    def roles(self, namespace: str) -> Iterable[Mapping[str, Any]]: ...

    def role_bindings(self, namespace: str) -> Iterable[Mapping[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class RequestAttributes:
    """What is being attempted (kube's ``authorizer.Attributes``)."""

    user: UserInfo
    verb: str
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    is_resource_request: bool = True

    @classmethod
    def from_request_info(cls, user: UserInfo, info: RequestInfo) -> RequestAttributes:
        return cls(
            user=user,
            verb=info.verb,
            api_group=info.api_group,
            api_version=info.api_version,
            resource=info.resource,
            subresource=info.subresource,
            namespace=info.namespace,
            name=info.name,
            path=info.path,
            is_resource_request=info.is_resource_request,
        )


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ResourceRule:
    """authorization.k8s.io/v1 ``ResourceRule`` (SelfSubjectRulesReview)."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {"verbs": list(self.verbs)}
        if self.api_groups:
            out["apiGroups"] = list(self.api_groups)
        if self.resources:
            out["resources"] = list(self.resources)
        if self.resource_names:
            out["resourceNames"] = list(self.resource_names)
        return out


@dataclass(frozen=True, slots=True)
class NonResourceRule:
    """authorization.k8s.io/v1 ``NonResourceRule``."""

    verbs: tuple[str, ...]
    non_resource_urls: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {"verbs": list(self.verbs)}
        if self.non_resource_urls:
            out["nonResourceURLs"] = list(self.non_resource_urls)
        return out


class RulesResult(NamedTuple):
    """What ``rules_for`` returns; unpacks as ``(resource_rules, non_resource_rules, incomplete)``."""

    resource_rules: tuple[ResourceRule, ...]
    non_resource_rules: tuple[NonResourceRule, ...]
    incomplete: bool


_SUPERUSER_RESOURCE_RULE = ResourceRule(verbs=("*",), api_groups=("*",), resources=("*",))
_SUPERUSER_NON_RESOURCE_RULE = NonResourceRule(verbs=("*",), non_resource_urls=("*",))


def aggregate_errors(errors: Iterable[str]) -> str:
    """Go's ``utilerrors.NewAggregate(errs).Error()``: one message bare, several de-duplicated in []."""
    unique = list(dict.fromkeys(errors))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]" if unique else ""


_MEMO_LIMIT = 4096


class _RuleSet:
    """Compiled rules one user gets from one set of bindings, with bounded memos.

    Resource requests memoise, per (verb, group, resource, subresource), the rules that match
    apart from ``resourceNames`` (a key space bounded by the API), so a user bound to hundreds of
    rules pays the scan once; only the name check runs per request. Non-resource requests memoise
    the answer per (verb, path). Memos are dropped wholesale when they reach ``_MEMO_LIMIT``.
    """

    __slots__ = ("_by_verb", "_candidates", "_urls", "errors", "rules")

    def __init__(self, rules: list[CompiledRule], errors: list[str]) -> None:
        self.rules = tuple(rules)
        self.errors = tuple(errors)
        self._by_verb: dict[str, tuple[CompiledRule, ...]] = {}
        self._candidates: dict[tuple[str, str, str, str], tuple[CompiledRule, ...]] = {}
        self._urls: dict[tuple[str, str], CompiledRule | None] = {}

    def for_verb(self, verb: str) -> tuple[CompiledRule, ...]:
        hit = self._by_verb.get(verb)
        if hit is None:
            hit = tuple(r for r in self.rules if r.verb_matches(verb))
            if len(self._by_verb) >= _MEMO_LIMIT:
                self._by_verb.clear()
            self._by_verb[verb] = hit
        return hit

    def first_allowing(self, attrs: RequestAttributes) -> CompiledRule | None:
        if attrs.is_resource_request:
            key = (attrs.verb, attrs.api_group, attrs.resource, attrs.subresource)
            candidates = self._candidates.get(key)
            if candidates is None:
                candidates = tuple(
                    r
                    for r in self.for_verb(attrs.verb)
                    if r.allows_resource(attrs.verb, attrs.api_group, attrs.resource, attrs.subresource, None)
                )
                if len(self._candidates) >= _MEMO_LIMIT:
                    self._candidates.clear()
                self._candidates[key] = candidates
            name = attrs.name
            for rule in candidates:
                if rule.resource_names is None or name in rule.resource_names:
                    return rule
            return None
        url_key = (attrs.verb, attrs.path)
        if url_key in self._urls:
            return self._urls[url_key]
        found = next((r for r in self.for_verb(attrs.verb) if r.allows_url(attrs.verb, attrs.path)), None)
        if len(self._urls) >= _MEMO_LIMIT:
            self._urls.clear()
        self._urls[url_key] = found
        return found


def _not_found(kind: str, name: str) -> str:
    return f"{kind}.rbac.authorization.k8s.io {go_quote(name)} not found"


class _Snapshot:
    """The RBAC objects of one generation, read lazily from the source."""

    def __init__(self, source: RBACSource) -> None:
        self._source = source
        self._cluster_roles: dict[str, Obj] | None = None
        self._cluster_role_bindings: list[Obj] | None = None
        self._effective: dict[str, list[Obj]] = {}
        self._roles: dict[str, dict[str, Obj]] = {}
        self._role_bindings: dict[str, list[Obj]] = {}

    def cluster_roles(self) -> dict[str, Obj]:
        if self._cluster_roles is None:
            self._cluster_roles = {
                str((r.get("metadata") or {}).get("name", "")): r for r in self._source.cluster_roles()
            }
        return self._cluster_roles

    def cluster_role_bindings(self) -> list[Obj]:
        if self._cluster_role_bindings is None:
            self._cluster_role_bindings = list(self._source.cluster_role_bindings())
        return self._cluster_role_bindings

    def role_bindings(self, namespace: str) -> list[Obj]:
        hit = self._role_bindings.get(namespace)
        if hit is None:
            hit = self._role_bindings[namespace] = list(self._source.role_bindings(namespace))
        return hit

    def cluster_role_rules(self, name: str) -> list[Obj] | None:
        hit = self._effective.get(name)
        if hit is None:
            roles = self.cluster_roles()
            role = roles.get(name)
            if role is None:
                return None
            hit = self._effective[name] = aggregated_rules(role, roles)
        return hit

    def role_rules(self, namespace: str, name: str) -> list[Obj] | None:
        roles = self._roles.get(namespace)
        if roles is None:
            roles = self._roles[namespace] = {
                str((r.get("metadata") or {}).get("name", "")): r for r in self._source.roles(namespace)
            }
        role = roles.get(name)
        return None if role is None else list(role.get("rules") or ())

    def ref_rules(self, ref: Obj, binding_namespace: str) -> tuple[list[Obj], str | None]:
        """kube's ``GetRoleReferenceRules``: the rules a roleRef points at, or an error."""
        kind = ref.get("kind")
        name = str(ref.get("name", ""))
        if kind == "ClusterRole":
            rules = self.cluster_role_rules(name)
            return (rules, None) if rules is not None else ([], _not_found("clusterrole", name))
        if kind == "Role":
            rules = self.role_rules(binding_namespace, name) if binding_namespace else None
            return (rules, None) if rules is not None else ([], _not_found("role", name))
        return [], f"unsupported role reference kind: {go_quote(str(kind))}"

    def rule_set(self, user: UserInfo, namespace: str) -> _RuleSet:
        """Rules from ClusterRoleBindings (``namespace == ""``) or from RoleBindings in ``namespace``."""
        bindings = self.role_bindings(namespace) if namespace else self.cluster_role_bindings()
        compiled: list[CompiledRule] = []
        errors: list[str] = []
        for binding in bindings:
            subject = first_applicable_subject(user, binding, namespace)
            if subject is None:
                continue
            rules, error = self.ref_rules(binding.get("roleRef") or {}, namespace)
            if error is not None:
                errors.append(error)
                continue
            source = describe_binding(binding, subject)
            compiled.extend(compile_rule(rule, source) for rule in rules)
        return _RuleSet(compiled, errors)


class Authorizer:
    """Kubernetes RBAC plus the ``system:masters`` superuser group, with per-user rule caches."""

    def __init__(self, source: RBACSource, *, max_cached_users: int = 4096) -> None:
        self._source = source
        self._max = max_cached_users
        self._lock = threading.Lock()
        self._generation = 0
        self._snapshot: _Snapshot | None = None
        self._cluster: dict[tuple[str, tuple[str, ...]], _RuleSet] = {}
        self._namespaced: dict[tuple[str, tuple[str, ...], str], _RuleSet] = {}

    @property
    def generation(self) -> int:
        return self._generation

    def bump(self) -> None:
        """Forget everything read or compiled; call after any RBAC object changes."""
        with self._lock:
            self._generation += 1
            self._snapshot = None
            self._cluster = {}
            self._namespaced = {}

    def _current_snapshot(self) -> tuple[int, _Snapshot]:
        with self._lock:
            if self._snapshot is None:
                self._snapshot = _Snapshot(self._source)
            return self._generation, self._snapshot

    def _rule_set(self, user: UserInfo, namespace: str) -> _RuleSet:
        if namespace:
            nkey = (user.name, user.groups, namespace)
            hit = self._namespaced.get(nkey)
            if hit is not None:
                return hit
        else:
            ckey = (user.name, user.groups)
            hit = self._cluster.get(ckey)
            if hit is not None:
                return hit
        generation, snapshot = self._current_snapshot()
        rule_set = snapshot.rule_set(user, namespace)
        with self._lock:
            if generation == self._generation:  # don't cache what a concurrent bump() made stale
                if namespace:
                    cache_n = self._namespaced
                    if len(cache_n) >= self._max * 4:
                        del cache_n[next(iter(cache_n))]
                    cache_n[nkey] = rule_set
                else:
                    cache_c = self._cluster
                    if len(cache_c) >= self._max:
                        del cache_c[next(iter(cache_c))]
                    cache_c[ckey] = rule_set
        return rule_set

    def authorize(self, attrs: RequestAttributes) -> Decision:
        user = attrs.user
        if SYSTEM_MASTERS in user.groups:
            return Decision(True, "")
        cluster = self._rule_set(user, "")
        rule = cluster.first_allowing(attrs)
        if rule is not None:
            return Decision(True, f"RBAC: allowed by {rule.source}")
        errors = cluster.errors
        if attrs.namespace:
            namespaced = self._rule_set(user, attrs.namespace)
            rule = namespaced.first_allowing(attrs)
            if rule is not None:
                return Decision(True, f"RBAC: allowed by {rule.source}")
            errors = errors + namespaced.errors
        return Decision(False, f"RBAC: {aggregate_errors(errors)}" if errors else "")

    def _policy_rules(self, user: UserInfo, namespace: str) -> tuple[list[CompiledRule], list[str]]:
        sets = [self._rule_set(user, "")]
        if namespace:
            sets.append(self._rule_set(user, namespace))
        return [r for s in sets for r in s.rules], [e for s in sets for e in s.errors]

    def rules_for(self, user: UserInfo, namespace: str) -> RulesResult:
        """What ``user`` may do in ``namespace`` (SelfSubjectRulesReview, ``kubectl auth can-i --list``).

        ``incomplete`` is true when a binding referenced a missing role (see :meth:`rules_review`
        for the evaluation error text).
        """
        resource: list[ResourceRule] = []
        non_resource: list[NonResourceRule] = []
        if SYSTEM_MASTERS in user.groups:
            resource.append(_SUPERUSER_RESOURCE_RULE)
            non_resource.append(_SUPERUSER_NON_RESOURCE_RULE)
        compiled, errors = self._policy_rules(user, namespace)
        for c in compiled:
            rule = c.rule
            verbs = tuple(rule.get("verbs") or ())
            if rule.get("resources"):
                resource.append(
                    ResourceRule(
                        verbs=verbs,
                        api_groups=tuple(rule.get("apiGroups") or ()),
                        resources=tuple(rule.get("resources") or ()),
                        resource_names=tuple(rule.get("resourceNames") or ()),
                    )
                )
            if rule.get("nonResourceURLs"):
                non_resource.append(
                    NonResourceRule(verbs=verbs, non_resource_urls=tuple(rule.get("nonResourceURLs") or ()))
                )
        return RulesResult(tuple(resource), tuple(non_resource), bool(errors))

    def rules_review(self, user: UserInfo, namespace: str) -> dict[str, Any]:
        """The ``status`` of a SelfSubjectRulesReview for ``user`` in ``namespace``."""
        result = self.rules_for(user, namespace)
        status: dict[str, Any] = {
            "resourceRules": [r.to_dict() for r in result.resource_rules],
            "nonResourceRules": [r.to_dict() for r in result.non_resource_rules],
            "incomplete": result.incomplete,
        }
        if result.incomplete:
            status["evaluationError"] = aggregate_errors(self._policy_rules(user, namespace)[1])
        return status


def forbidden_message(attrs: RequestAttributes, reason: str = "") -> str:
    """The message kube-apiserver puts in a 403 Status, word for word."""
    user = go_quote(attrs.user.name)
    if not attrs.is_resource_request:
        msg = f"User {user} cannot {attrs.verb} path {go_quote(attrs.path)}"
    else:
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        where = f"in the namespace {go_quote(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
        msg = (
            f"User {user} cannot {attrs.verb} resource {go_quote(resource)} "
            f"in API group {go_quote(attrs.api_group)} {where}"
        )
    if reason:
        msg = f"{msg}: {reason}"
    qualified = ""
    if attrs.is_resource_request and (attrs.resource or attrs.api_group):
        qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    if not qualified:
        return f"forbidden: {msg}"
    if attrs.name:
        return f"{qualified} {go_quote(attrs.name)} is forbidden: {msg}"
    return f"{qualified} is forbidden: {msg}"


def forbidden_status(attrs: RequestAttributes, reason: str = "") -> dict[str, Any]:
    """A complete ``Status`` object (HTTP 403) as kube-apiserver returns it."""
    details: dict[str, str] = {}
    if attrs.is_resource_request:
        if attrs.name:
            details["name"] = attrs.name
        if attrs.api_group:
            details["group"] = attrs.api_group
        if attrs.resource:
            details["kind"] = attrs.resource
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": forbidden_message(attrs, reason),
        "reason": "Forbidden",
        "details": details,
        "code": 403,
    }
