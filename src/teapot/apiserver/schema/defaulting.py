"""Applying schema ``default`` values to custom objects (kube's ``structuraldefaulting``).

Why it exists: kube fills in defaults when it reads an object (from a request or from storage)
with a precise, documented algorithm: a default applies when the field is absent, or null while
the schema says it is not nullable; defaults are deep-copied; items and additionalProperties get
their defaults too; and afterwards null values of non-nullable fields without a default are
dropped. Controllers rely on exactly these semantics, so this is a direct port.
"""

from __future__ import annotations

import copy
from typing import Any

from teapot.apiserver.schema.structural import NO_DEFAULT, Node


def _copy(value: Any) -> Any:
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


def apply_defaults(x: Any, s: Node | None) -> None:
    """Fill in defaults, then drop nulls that may not be null, in one walk.

    Equivalent to kube's ``structuraldefaulting.Default`` followed by
    ``PruneNonNullableNullsWithoutDefaults``: a property default applies when the key is absent or
    null and not nullable; additionalProperties and items defaults replace non-nullable nulls;
    remaining nulls of non-nullable, undefaulted fields are removed (list items are kept).
    """
    if s is None:
        return
    if type(x) is dict:
        props = s.properties
        if props:
            for key, prop in props.items():
                default = prop.default
                if default is NO_DEFAULT:
                    continue
                if key not in x or (x[key] is None and not prop.nullable):
                    x[key] = _copy(default)
        additional = s.additional_schema
        drop: list[str] | None = None
        for key, value in x.items():
            sub = props.get(key) if props is not None else None
            if sub is None:
                sub = additional
                if sub is None:
                    continue
            if value is None:
                if sub.nullable:
                    continue
                if sub.default is NO_DEFAULT:
                    drop = drop or []
                    drop.append(key)
                    continue
                x[key] = value = _copy(sub.default)
            if type(value) is dict or type(value) is list:
                apply_defaults(value, sub)
        if drop:
            for key in drop:
                del x[key]
    elif type(x) is list:
        items = s.items
        if items is None:
            return
        for i, value in enumerate(x):
            if value is None and not items.nullable and items.default is not NO_DEFAULT:
                x[i] = value = _copy(items.default)
            if type(value) is dict or type(value) is list:
                apply_defaults(value, items)
