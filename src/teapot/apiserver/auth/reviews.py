"""Access reviews: the request/response shapes behind ``kubectl auth can-i``.

Why it exists: SelfSubjectAccessReview, SubjectAccessReview and LocalSubjectAccessReview ask the
authorizer a hypothetical question; turning their ``spec`` into :class:`RequestAttributes` and the
decision into a ``status`` is the same small mapping kube does, kept next to the authorizer so the
server's handlers stay thin. (SelfSubjectRulesReview is :meth:`Authorizer.rules_review`.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from teapot.apiserver.auth.rbac import Decision, RequestAttributes
from teapot.apiserver.auth.users import UserInfo


class AccessReviewError(ValueError):
    """An invalid review spec; ``field`` is the path to report in the 422 Status cause."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def review_attributes(user: UserInfo, spec: Mapping[str, Any], namespace: str = "") -> RequestAttributes:
    """``RequestAttributes`` for a review spec asked on behalf of ``user``.

    ``namespace`` is the LocalSubjectAccessReview's own namespace: when given it must equal
    ``spec.resourceAttributes.namespace`` (or fill it in when empty), as kube enforces.
    """
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if bool(resource) == bool(non_resource):
        raise AccessReviewError(
            "spec.resourceAttributes",
            "Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )
    if non_resource:
        return RequestAttributes(
            user=user,
            verb=str(non_resource.get("verb", "")),
            path=str(non_resource.get("path", "")),
            is_resource_request=False,
        )
    assert resource is not None
    review_ns = str(resource.get("namespace", "") or "")
    if namespace:
        if review_ns and review_ns != namespace:
            raise AccessReviewError(
                "spec.resourceAttributes.namespace",
                f"Invalid value: {review_ns!r}: must match metadata.namespace",
            )
        review_ns = namespace
    return RequestAttributes(
        user=user,
        verb=str(resource.get("verb", "")),
        api_group=str(resource.get("group", "")),
        api_version=str(resource.get("version", "")),
        resource=str(resource.get("resource", "")),
        subresource=str(resource.get("subresource", "")),
        namespace=review_ns,
        name=str(resource.get("name", "")),
        is_resource_request=True,
    )


def subject_from_review(spec: Mapping[str, Any]) -> UserInfo:
    """The user a (Local)SubjectAccessReview asks about: ``spec.user``/``groups``/``uid`` verbatim.

    Unlike authentication, nothing is added (kube does not add ``system:authenticated`` here).
    """
    user = str(spec.get("user", "") or "")
    groups = tuple(str(g) for g in spec.get("groups") or ())
    if not user and not groups:
        raise AccessReviewError(
            "spec.user", 'Invalid value: "": at least one of user or group must be specified'
        )
    return UserInfo(name=user, uid=str(spec.get("uid", "") or ""), groups=groups)


def review_status(decision: Decision) -> dict[str, Any]:
    """The review's ``status`` (``allowed`` always; ``reason`` when there is one)."""
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def self_subject_review_status(user: UserInfo) -> dict[str, Any]:
    """The ``status`` of an authentication.k8s.io/v1 SelfSubjectReview (``kubectl auth whoami``)."""
    info: dict[str, Any] = {"username": user.name}
    if user.uid:
        info["uid"] = user.uid
    if user.groups:
        info["groups"] = list(user.groups)
    return {"userInfo": info}
