"""Access-review mapping (SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview)."""

from __future__ import annotations

import pytest

from teapot.apiserver.auth import (
    AccessReviewError,
    Authorizer,
    Decision,
    MemoryRBACSource,
    UserInfo,
    authenticated_user,
    bootstrap_policy,
    review_attributes,
    review_status,
    self_subject_review_status,
    subject_from_review,
)


@pytest.fixture
def authz() -> Authorizer:
    src = MemoryRBACSource(bootstrap_policy().objects())
    src.put(
        {
            "kind": "RoleBinding",
            "metadata": {"name": "v", "namespace": "team"},
            "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice"}],
        }
    )
    return Authorizer(src)


def test_self_subject_access_review(authz: Authorizer) -> None:
    alice = authenticated_user("alice")
    spec = {"resourceAttributes": {"namespace": "team", "verb": "list", "resource": "configmaps"}}
    status = review_status(authz.authorize(review_attributes(alice, spec)))
    assert status == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "v/team" of ClusterRole "view" to User "alice"',
    }
    spec = {"resourceAttributes": {"namespace": "team", "verb": "delete", "resource": "configmaps"}}
    assert review_status(authz.authorize(review_attributes(alice, spec))) == {"allowed": False}
    spec_nr = {"nonResourceAttributes": {"path": "/apis", "verb": "get"}}
    assert authz.authorize(review_attributes(alice, spec_nr)).allowed


def test_subject_access_review_uses_spec_user_verbatim(authz: Authorizer) -> None:
    spec = {
        "user": "alice",
        "groups": ["g"],
        "resourceAttributes": {"namespace": "team", "verb": "get", "resource": "configmaps", "name": "x"},
    }
    who = subject_from_review(spec)
    assert who == UserInfo("alice", "", ("g",))
    assert authz.authorize(review_attributes(who, spec)).allowed
    # without system:authenticated, discovery is not granted (kube adds nothing to SAR users)
    assert not authz.authorize(
        review_attributes(who, {"nonResourceAttributes": {"path": "/api", "verb": "get"}})
    ).allowed
    with pytest.raises(AccessReviewError) as err:
        subject_from_review({"resourceAttributes": {}})
    assert err.value.field == "spec.user"


def test_local_review_namespace_rules() -> None:
    u = authenticated_user("u")
    attrs = review_attributes(u, {"resourceAttributes": {"verb": "get", "resource": "pods"}}, namespace="ns")
    assert attrs.namespace == "ns"
    with pytest.raises(AccessReviewError, match=r"must match metadata\.namespace"):
        review_attributes(u, {"resourceAttributes": {"verb": "get", "namespace": "other"}}, namespace="ns")


@pytest.mark.parametrize(
    "spec",
    [{}, {"resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"path": "/", "verb": "get"}}],
)
def test_exactly_one_attribute_kind(spec: dict[str, object]) -> None:
    with pytest.raises(AccessReviewError, match="exactly one of"):
        review_attributes(authenticated_user("u"), spec)


def test_review_status_omits_empty_reason() -> None:
    assert review_status(Decision(True)) == {"allowed": True}


def test_self_subject_review_status() -> None:
    assert self_subject_review_status(authenticated_user("alice", "u1", ["acme"])) == {
        "userInfo": {"username": "alice", "uid": "u1", "groups": ["acme", "system:authenticated"]}
    }
    assert self_subject_review_status(UserInfo("x")) == {"userInfo": {"username": "x"}}
