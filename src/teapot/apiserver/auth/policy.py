"""RBAC building blocks: compiled policy rules, subject matching and ClusterRole aggregation.

Why it exists: the authorizer runs on every request, so each stored ``PolicyRule`` dict is compiled
once into frozensets and flags; the matching semantics are ported from kube's ``rbac/v1`` helpers
(``VerbMatches``, ``APIGroupMatches``, ``ResourceMatches`` incl. ``*/subresource``,
``ResourceNameMatches``, ``NonResourceURLMatches`` with a trailing ``*``) and ``appliesTo`` for
subjects. ClusterRole ``aggregationRule`` is resolved here too (the union, in name order, of the
rules of every ClusterRole whose labels match a selector, like kube's aggregation controller), so
RBAC is correct whether or not something has written the aggregated rules back into storage.

Label selectors are matched by the small function below rather than a library: RBAC needs only
the ``LabelSelector`` dict form (``matchLabels`` + ``matchExpressions``) and must not depend on the
server's query-string selector parser.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from teapot.apiserver.auth.users import SERVICE_ACCOUNT_PREFIX, UserInfo

Obj = Mapping[str, Any]


def go_quote(value: str) -> str:
    """Go's ``%q`` for the printable strings kube names are made of."""
    return json.dumps(value, ensure_ascii=False)


def _strings(rule: Obj, key: str) -> tuple[str, ...]:
    value = rule.get(key) or ()
    return tuple(str(v) for v in value)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One ``PolicyRule`` ready for fast matching, with the binding it came through."""

    all_verbs: bool
    verbs: frozenset[str]
    all_groups: bool
    api_groups: frozenset[str]
    all_resources: bool
    resources: frozenset[str]  # exact "res" or "res/sub"
    any_resource_subresources: frozenset[str]  # from "*/sub"
    resource_names: frozenset[str] | None  # None: not restricted
    all_urls: bool
    urls: frozenset[str]
    url_prefixes: tuple[str, ...]
    source: str  # e.g. ClusterRoleBinding "x" of ClusterRole "y" to Group "z"
    rule: Mapping[str, Any]

    def verb_matches(self, verb: str) -> bool:
        return self.all_verbs or verb in self.verbs

    def allows_resource(
        self, verb: str, group: str, resource: str, subresource: str, name: str | None
    ) -> bool:
        """kube's ``RuleAllows`` for a resource request; ``name=None`` skips the resourceNames check."""
        if not (self.all_verbs or verb in self.verbs):
            return False
        if not (self.all_groups or group in self.api_groups):
            return False
        if not self.all_resources:
            combined = f"{resource}/{subresource}" if subresource else resource
            if combined not in self.resources and not (
                subresource and subresource in self.any_resource_subresources
            ):
                return False
        return name is None or self.resource_names is None or name in self.resource_names

    def allows_url(self, verb: str, path: str) -> bool:
        if not (self.all_verbs or verb in self.verbs):
            return False
        if self.all_urls or path in self.urls:
            return True
        return any(path.startswith(p) for p in self.url_prefixes)


def compile_rule(rule: Obj, source: str = "") -> CompiledRule:
    verbs = _strings(rule, "verbs")
    groups = _strings(rule, "apiGroups")
    resources = _strings(rule, "resources")
    names = _strings(rule, "resourceNames")
    urls = _strings(rule, "nonResourceURLs")
    return CompiledRule(
        all_verbs="*" in verbs,
        verbs=frozenset(verbs),
        all_groups="*" in groups,
        api_groups=frozenset(groups),
        all_resources="*" in resources,
        resources=frozenset(resources),
        any_resource_subresources=frozenset(r[2:] for r in resources if r.startswith("*/") and len(r) > 2),
        resource_names=frozenset(names) if names else None,
        all_urls="*" in urls,
        urls=frozenset(urls),
        url_prefixes=tuple(u.rstrip("*") for u in urls if u.endswith("*") and u != "*"),
        source=source,
        rule=rule,
    )


def subject_applies(user: UserInfo, subject: Obj, namespace: str) -> bool:
    """kube's ``appliesToUser``; ``namespace`` is the binding's ("" for ClusterRoleBindings)."""
    kind = subject.get("kind")
    name = subject.get("name", "")
    if kind == "User":
        return bool(user.name == name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        if not sa_namespace:
            return False
        return user.name == f"{SERVICE_ACCOUNT_PREFIX}{sa_namespace}:{name}"
    return False


def first_applicable_subject(user: UserInfo, binding: Obj, namespace: str) -> Obj | None:
    subjects: Iterable[Obj] = binding.get("subjects") or ()
    for subject in subjects:
        if subject_applies(user, subject, namespace):
            return subject
    return None


def describe_subject(subject: Obj, binding_namespace: str) -> str:
    kind = str(subject.get("kind", ""))
    name = str(subject.get("name", ""))
    if kind == "ServiceAccount":
        return f"{kind} {go_quote(name + '/' + (subject.get('namespace') or binding_namespace))}"
    return f"{kind} {go_quote(name)}"


def describe_binding(binding: Obj, subject: Obj) -> str:
    """kube's ``clusterRoleBindingDescriber`` / ``roleBindingDescriber`` text."""
    meta = binding.get("metadata") or {}
    ref = binding.get("roleRef") or {}
    namespace = str(meta.get("namespace") or "")
    name = str(meta.get("name", ""))
    if namespace:
        head = f"RoleBinding {go_quote(name + '/' + namespace)}"
    else:
        head = f"ClusterRoleBinding {go_quote(name)}"
    return (
        f"{head} of {ref.get('kind', '')} {go_quote(str(ref.get('name', '')))} to "
        f"{describe_subject(subject, namespace)}"
    )


# --- label selectors and aggregation ---------------------------------------------------------


def selector_matches(selector: Obj | None, labels: Mapping[str, str]) -> bool:
    """``metav1.LabelSelector`` semantics: ``None`` matches nothing, ``{}`` matches everything."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key = expr.get("key", "")
        op = expr.get("operator")
        values = expr.get("values") or ()
        if op == "In":
            if key not in labels or labels[key] not in values:
                return False
        elif op == "NotIn":
            if key in labels and labels[key] in values:
                return False
        elif op == "Exists":
            if key not in labels:
                return False
        elif op == "DoesNotExist":
            if key in labels:
                return False
        else:
            return False  # kube rejects unknown operators; never match on them
    return True


def _rule_key(rule: Obj) -> tuple[tuple[str, ...], ...]:
    return tuple(
        _strings(rule, k) for k in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")
    )


def aggregated_rules(
    role: Obj, roles_by_name: Mapping[str, Obj], _visiting: frozenset[str] = frozenset()
) -> list[Obj]:
    """The effective rules of a ClusterRole.

    Without ``aggregationRule`` these are its own rules. With one, they are the de-duplicated union
    of the (recursively effective) rules of every other ClusterRole matching any selector, roles
    taken in name order per selector — the rules kube's aggregation controller would store.
    A cycle falls back to the stored rules of the role closing it.
    """
    name = str((role.get("metadata") or {}).get("name", ""))
    aggregation = role.get("aggregationRule")
    if not aggregation or name in _visiting:
        return list(role.get("rules") or ())
    visiting = _visiting | {name}
    result: list[Obj] = []
    seen: set[tuple[tuple[str, ...], ...]] = set()
    for selector in aggregation.get("clusterRoleSelectors") or ():
        for other_name in sorted(roles_by_name):
            if other_name == name:
                continue
            other = roles_by_name[other_name]
            labels = (other.get("metadata") or {}).get("labels") or {}
            if not selector_matches(selector, labels):
                continue
            for rule in aggregated_rules(other, roles_by_name, visiting):
                key = _rule_key(rule)
                if key not in seen:
                    seen.add(key)
                    result.append(rule)
    return result


def aggregation_updates(cluster_roles: Iterable[Obj]) -> dict[str, list[Obj]]:
    """ClusterRoles whose stored ``rules`` differ from their aggregate, mapped to the rules to store.

    The authorizer aggregates at evaluation time anyway; this lets the server also write the
    aggregate back (as kube's controller does) so ``kubectl get clusterrole admin -o yaml`` shows it.
    Call it after any ClusterRole is created, changed or deleted; apply every update it returns.
    """
    by_name = {str((r.get("metadata") or {}).get("name", "")): r for r in cluster_roles}
    updates: dict[str, list[Obj]] = {}
    for name, role in by_name.items():
        if not role.get("aggregationRule"):
            continue
        rules = aggregated_rules(role, by_name)
        if [_rule_key(r) for r in rules] != [_rule_key(r) for r in role.get("rules") or ()]:
            updates[name] = rules
    return updates
