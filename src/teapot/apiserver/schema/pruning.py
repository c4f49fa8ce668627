"""Dropping fields a structural schema does not declare (kube's ``pruning`` package).

Why it exists: kube-apiserver silently removes unknown fields from custom objects before storing
them, and reports them as warnings or, with ``fieldValidation=Strict``, as errors
(``unknown field "spec.foo"``). This module ports that algorithm — including the exceptions for
``x-kubernetes-preserve-unknown-fields``, ``x-kubernetes-embedded-resource`` and the
``apiVersion``/``kind``/``metadata`` of the resource root — and returns the removed paths in kube's
notation and order.
"""

from __future__ import annotations

from typing import Any

from teapot.apiserver.schema.structural import Node

_META_FIELDS = frozenset({"apiVersion", "kind", "metadata"})


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def prune(obj: Any, root: Node) -> list[str]:
    """Remove undeclared fields from ``obj`` in place; return the removed paths, sorted."""
    pruned: list[str] = []
    _prune(obj, root, "", pruned, is_root=True)
    pruned.sort()
    return pruned


def _is_meta(key: str, value: Any) -> bool:
    if key in ("apiVersion", "kind"):
        return isinstance(value, str)
    return key == "metadata" and isinstance(value, dict)


def _prune(x: Any, s: Node | None, path: str, pruned: list[str], is_root: bool = False) -> None:
    if s is not None and s.preserve_unknown:
        _skip_prune(x, s, path, pruned, is_root)
        return
    if isinstance(x, dict):
        if s is None:
            for key in list(x):
                pruned.append(_join(path, key))
                del x[key]
            return
        embedded = is_root or s.embedded_resource
        props = s.properties
        additional = s.additional_properties
        for key in list(x):
            value = x[key]
            if embedded and key in _META_FIELDS and _is_meta(key, value):
                continue
            if props is not None and key in props:
                _prune(value, props[key], _join(path, key), pruned)
            elif additional is not None and additional is not False:
                sub = additional if isinstance(additional, Node) else None
                if sub is not None or isinstance(value, dict | list):
                    _prune(value, sub, _join(path, key), pruned)
            else:
                pruned.append(_join(path, key))
                del x[key]
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for i, item in enumerate(x):
            _prune(item, items, f"{path}[{i}]", pruned)


def _skip_prune(x: Any, s: Node, path: str, pruned: list[str], is_root: bool) -> None:
    """Inside ``x-kubernetes-preserve-unknown-fields`` keep unknown keys, but prune known ones."""
    if isinstance(x, dict):
        embedded = is_root or s.embedded_resource
        props = s.properties
        additional = s.additional_schema
        for key, value in x.items():
            if embedded and key in _META_FIELDS:
                continue
            if props is not None and key in props:
                _prune(value, props[key], _join(path, key), pruned)
            elif additional is not None:
                _prune(value, additional, _join(path, key), pruned)
    elif isinstance(x, list) and s.items is not None:
        for i, item in enumerate(x):
            _skip_prune(item, s.items, f"{path}[{i}]", pruned, False)


def unknown_field_messages(paths: list[str]) -> list[str]:
    """Kube's wording for pruned fields: warnings, or errors under ``fieldValidation=Strict``."""
    return [f'unknown field "{p}"' for p in paths]
