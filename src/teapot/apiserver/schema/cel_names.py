"""Kube's escaping of schema property names for CEL (``self.__namespace__``, ``self.a__dash__b``).

Why it exists: in kube, a rule reaches a property whose name is a CEL reserved word or contains
``-``, ``.``, ``/`` or ``__`` through an escaped name (``namespace`` → ``__namespace__``,
``x-y`` → ``x__dash__y``); properties whose names cannot be escaped are invisible to CEL. CRD
authors write rules that way, so before evaluation the value handed to CEL gets the same renamed
keys. The renaming plan is computed once per schema node; schemas without such names (most)
pay nothing per request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from teapot.apiserver.schema.structural import Node

RESERVED: Final = frozenset(
    {
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    }
)
_EXPAND: Final = re.compile(r"(__|[-./]|[^a-zA-Z0-9\-./_])")
_REPLACEMENTS: Final = {"__": "__underscores__", ".": "__dot__", "-": "__dash__", "/": "__slash__"}


def escape(name: str) -> str | None:
    """Kube's ``cel.Escape``: the CEL-visible name of a property, or None if it has none."""
    if not name or name[0].isdigit():
        return None
    if name in RESERVED:
        return f"__{name}__"
    ok = True

    def replace(m: re.Match[str]) -> str:
        nonlocal ok
        text = m.group(0)
        if text in _REPLACEMENTS:
            return _REPLACEMENTS[text]
        ok = False
        return ""

    escaped = _EXPAND.sub(replace, name)
    return escaped if ok else None


@dataclass(frozen=True, slots=True)
class Plan:
    """Where keys must be renamed (``renames``; None = drop) below one schema node."""

    renames: dict[str, str | None]
    children: dict[str, Plan]
    items: Plan | None = None
    additional: Plan | None = None


def plan_for(node: Node | None) -> Plan | None:
    """The renaming plan for values of ``node``; None when nothing below needs renaming."""
    if node is None:
        return None
    renames: dict[str, str | None] = {}
    children: dict[str, Plan] = {}
    for name, sub in (node.properties or {}).items():
        escaped = escape(name)
        if escaped != name:
            renames[name] = escaped
        child = plan_for(sub)
        if child is not None:
            children[name] = child
    items = plan_for(node.items)
    additional = plan_for(node.additional_schema)
    if not renames and not children and items is None and additional is None:
        return None
    return Plan(renames=renames, children=children, items=items, additional=additional)


def apply(value: Any, plan: Plan | None) -> Any:
    """A copy of ``value`` with keys renamed per ``plan`` (only the affected parts are copied)."""
    if plan is None:
        return value
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, sub in value.items():
            child = plan.children.get(key)
            if child is None and key not in plan.renames and plan.additional is not None:
                child = plan.additional
            new_value = apply(sub, child) if child is not None else sub
            if key in plan.renames:
                new_key = plan.renames[key]
                if new_key is None:
                    continue
                out[new_key] = new_value
            else:
                out[key] = new_value
        return out
    if isinstance(value, list) and plan.items is not None:
        return [apply(item, plan.items) for item in value]
    return value
