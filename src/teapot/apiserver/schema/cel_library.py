"""Kubernetes' own CEL list and regex functions, for rules that use them.

Why it exists: kube-apiserver adds libraries to CEL beyond the standard and the strings/optional
extensions — CRD rules commonly call ``self.items.isSorted()``, ``self.weights.sum() == 100``,
``self.ports.min()``, ``self.name.find('[0-9]+')``. cel-cpp does not ship them, so they are written
here in Python against cel-expr-python's extension API, with kube's names and semantics
(``k8s.io/apiserver/pkg/cel/library/lists.go`` and ``regex.go``). Only rules that call them pay
for the Python round trip. Quantity, URL, IP/CIDR, format and authz libraries are not provided.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from cel_expr_python import cel as _cel  # type: ignore[import-untyped]

from teapot.apiserver.schema.structural import Pattern


def _is_sorted(values: Sequence[Any]) -> bool:
    return all(values[i] <= values[i + 1] for i in range(len(values) - 1))


def _sum(values: Sequence[Any]) -> Any:
    total: Any = 0
    for v in values:
        total = total + v
    return total


def _min(values: Sequence[Any]) -> Any:
    if not values:
        raise ValueError("min called on empty list")
    return min(values)


def _max(values: Sequence[Any]) -> Any:
    if not values:
        raise ValueError("max called on empty list")
    return max(values)


def _index_of(values: Sequence[Any], item: Any) -> int:
    for i, v in enumerate(values):
        if v == item:
            return i
    return -1


def _last_index_of(values: Sequence[Any], item: Any) -> int:
    for i in range(len(values) - 1, -1, -1):
        if values[i] == item:
            return i
    return -1


@functools.lru_cache(maxsize=256)
def _pattern(regex: str) -> Pattern:
    return Pattern(regex)


def _find(text: str, regex: str) -> str:
    compiled = _pattern(regex).regex
    match = compiled.search(text)
    return "" if match is None else str(match.group(0))


def _find_all(text: str, regex: str, limit: int = -1) -> list[str]:
    compiled = _pattern(regex).regex
    found: list[str] = []
    for match in compiled.finditer(text):
        if limit >= 0 and len(found) >= limit:
            break
        found.append(str(match.group(0)))
    return found


def kubernetes_library() -> Any:
    """A cel-expr-python extension declaring kube's list and regex functions."""
    t = _cel.Type
    dyn_list = t.List(t.DYN)

    def member(name: str, overload: str, ret: Any, params: list[Any], impl: Any) -> Any:
        return _cel.FunctionDecl(name, [_cel.Overload(overload, ret, params, is_member=True, impl=impl)])

    return _cel.CelExtension(
        "kubernetes",
        [
            member("isSorted", "k8s_list_is_sorted", t.BOOL, [dyn_list], _is_sorted),
            member("sum", "k8s_list_sum", t.DYN, [dyn_list], _sum),
            member("min", "k8s_list_min", t.DYN, [dyn_list], _min),
            member("max", "k8s_list_max", t.DYN, [dyn_list], _max),
            _cel.FunctionDecl(
                "find",
                [
                    _cel.Overload(
                        "k8s_string_find", t.STRING, [t.STRING, t.STRING], is_member=True, impl=_find
                    )
                ],
            ),
            _cel.FunctionDecl(
                "findAll",
                [
                    _cel.Overload(
                        "k8s_string_find_all",
                        t.List(t.STRING),
                        [t.STRING, t.STRING],
                        is_member=True,
                        impl=_find_all,
                    ),
                    _cel.Overload(
                        "k8s_string_find_all_n",
                        t.List(t.STRING),
                        [t.STRING, t.STRING, t.INT],
                        is_member=True,
                        impl=_find_all,
                    ),
                ],
            ),
            _cel.FunctionDecl(
                "indexOf",
                [
                    _cel.Overload(
                        "k8s_list_index_of", t.INT, [dyn_list, t.DYN], is_member=True, impl=_index_of
                    )
                ],
            ),
            _cel.FunctionDecl(
                "lastIndexOf",
                [
                    _cel.Overload(
                        "k8s_list_last_index_of",
                        t.INT,
                        [dyn_list, t.DYN],
                        is_member=True,
                        impl=_last_index_of,
                    )
                ],
            ),
        ],
    )
