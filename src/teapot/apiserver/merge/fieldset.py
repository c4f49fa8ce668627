"""Sets of field paths, kept in the exact shape of ``managedFields[].fieldsV1``.

Why it exists: managed-fields bookkeeping runs on every write of the server, so the sets it works on
must cost nothing to decode and encode. A ``FieldsV1`` document already *is* a trie: each key is a
path element (``f:name``, ``k:{"name":"x"}``, ``v:"a"``, ``i:0``), a node is a member of the set when
it is ``{}`` or holds ``"."``, and other nodes only lead to members below. The functions here do set
algebra directly on that shape (structured-merge-diff's ``fieldpath.Set``), never mutating their
inputs; results may share unchanged sub-tries with the inputs.

The root of a set is never a member itself: ``{}`` at the root is the empty set.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson

Node = dict[str, Any]

MEMBER = "."


def is_member(node: Node) -> bool:
    """Whether a (non-root) node is itself a member of the set."""
    return not node or MEMBER in node


def _make(member: bool, children: Node) -> Node | None:
    if not children:
        return {} if member else None
    if member:
        return {MEMBER: {}, **children}
    return children


def union(a: Node, b: Node) -> Node:
    """``a | b`` (roots)."""
    if a is b or not b:
        return a
    if not a:
        return b
    out = dict(a)
    out.pop(MEMBER, None)
    for key, bn in b.items():
        if key == MEMBER:
            continue
        an = out.get(key)
        out[key] = bn if an is None else _union_node(an, bn)
    return out


def _union_node(a: Node, b: Node) -> Node:
    if a is b or a == b:
        return a
    member = is_member(a) or is_member(b)
    children = {k: v for k, v in a.items() if k != MEMBER}
    for key, bn in b.items():
        if key == MEMBER:
            continue
        an = children.get(key)
        children[key] = bn if an is None else _union_node(an, bn)
    made = _make(member, children)
    assert made is not None
    return made


def difference(a: Node, b: Node) -> Node:
    """``a - b`` (roots): the paths of ``a`` that are not paths of ``b`` (exact paths, not prefixes).

    Returns ``a`` itself when nothing is removed, so callers can detect "unchanged" by identity.
    """
    if not a or not b:
        return a
    out: Node | None = None
    for key, bn in b.items():
        an = a.get(key)
        if an is None or key == MEMBER:
            continue
        d = _difference_node(an, bn)
        if d is an:
            continue
        if out is None:
            out = dict(a)
            out.pop(MEMBER, None)
        if d is None:
            del out[key]
        else:
            out[key] = d
    return a if out is None else out


def _difference_node(a: Node, b: Node) -> Node | None:
    if a is b or a == b:
        return None
    a_member = is_member(a)
    member = a_member and not is_member(b)
    children: Node | None = None
    for key, bn in b.items():
        if key == MEMBER:
            continue
        an = a.get(key)
        if an is None:
            continue
        d = _difference_node(an, bn)
        if d is an:
            continue
        if children is None:
            children = {k: v for k, v in a.items() if k != MEMBER}
        if d is None:
            del children[key]
        else:
            children[key] = d
    if children is None:
        if member == a_member:
            return a
        children = {k: v for k, v in a.items() if k != MEMBER}
    return _make(member, children)


def intersection(a: Node, b: Node) -> Node:
    """``a & b`` (roots)."""
    if not a or not b:
        return {}
    if len(b) < len(a):
        a, b = b, a
    out: Node = {}
    for key, an in a.items():
        if key == MEMBER:
            continue
        bn = b.get(key)
        if bn is not None:
            i = _intersection_node(an, bn)
            if i is not None:
                out[key] = i
    return out


def _intersection_node(a: Node, b: Node) -> Node | None:
    if a is b or a == b:
        return a
    member = is_member(a) and is_member(b)
    children: Node = {}
    if len(b) < len(a):
        a, b = b, a
    for key, an in a.items():
        if key == MEMBER:
            continue
        bn = b.get(key)
        if bn is not None:
            i = _intersection_node(an, bn)
            if i is not None:
                children[key] = i
    return _make(member, children)


def without_prefixes(a: Node, prefixes: tuple[tuple[str, ...], ...]) -> Node:
    """``a`` without every path at or below one of ``prefixes`` (paths of ``f:`` elements).

    This is structured-merge-diff's ``RecursiveDifference`` for the reset fields of a subresource.
    """
    out = a
    for prefix in prefixes:
        if prefix:
            out = _drop(out, tuple(field_pe(name) for name in prefix), member=False) or {}
    return out


def _drop(node: Node, prefix: tuple[str, ...], *, member: bool) -> Node | None:
    key = prefix[0]
    child = node.get(key)
    if child is None:
        return node
    children = {k: v for k, v in node.items() if k not in (MEMBER, key)}
    if len(prefix) > 1:
        rest = _drop(child, prefix[1:], member=is_member(child))
        if rest is not None:
            children[key] = rest
    return _make(member, children)


def insert(root: Node, path: list[str]) -> None:
    """Add ``path`` to the set ``root`` in place (only for sets being built by this package)."""
    node = root
    last = len(path) - 1
    for i, pe in enumerate(path):
        child = node.get(pe)
        if i == last:
            if child is None:
                node[pe] = {}
            elif child:
                child[MEMBER] = {}
            return
        if child is None:
            child = node[pe] = {}
        elif not child:
            child[MEMBER] = {}  # it was a member leaf: keep it a member while adding children
        node = child


def iter_paths(root: Node) -> Iterator[tuple[str, ...]]:
    """Every member path, in structured-merge-diff's order (members, then children, each sorted)."""
    yield from _iter(root, ())


def _iter(node: Node, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    keys = sorted((k for k in node if k != MEMBER), key=_pe_sort_key)
    for key in keys:
        if is_member(node[key]):
            yield (*prefix, key)
    for key in keys:
        child = node[key]
        if child and not (len(child) == 1 and MEMBER in child):
            yield from _iter(child, (*prefix, key))


_PE_ORDER = {"f": 0, "k": 1, "v": 2, "i": 3}


def _pe_sort_key(pe: str) -> tuple[int, str]:
    return (_PE_ORDER.get(pe[:1], 4), pe[2:])


def pe_to_string(pe: str) -> str:
    """One path element as Kubernetes prints it: ``.name``, ``[name="x"]``, ``[="a"]``, ``[0]``."""
    kind, raw = pe[:1], pe[2:]
    if kind == "f":
        return "." + raw
    if kind == "k":
        try:
            fields = json.loads(raw)
        except ValueError:
            return "[" + raw + "]"
        return "[" + ",".join(f"{k}={_value_string(v)}" for k, v in sorted(fields.items())) + "]"
    if kind == "v":
        try:
            return "[=" + _value_string(json.loads(raw)) + "]"
        except ValueError:
            return "[=" + raw + "]"
    if kind == "i":
        return "[" + raw + "]"
    return "{{invalid path element}}"


def _value_string(value: Any) -> str:
    """structured-merge-diff's ``value.ToString``: strings quoted, other scalars bare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_value_string(v)}" for k, v in sorted(value.items())) + "}"
    return str(value)


def path_to_string(path: tuple[str, ...]) -> str:
    """A whole path as Kubernetes prints it in conflicts, e.g. ``.spec.containers[name="a"].image``."""
    return "".join(pe_to_string(pe) for pe in path)


def field_pe(name: str) -> str:
    return "f:" + name


def _json(value: Any) -> str:
    """Compact JSON with sorted keys and raw UTF-8, as Go's encoder writes path elements."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # integers beyond 64 bits
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_pe(fields: dict[str, Any]) -> str:
    """The ``k:`` element of a map-list item (keys sorted, compact JSON, like Kubernetes)."""
    return "k:" + _json(fields)


def value_pe(value: Any) -> str:
    """The ``v:`` element of a set-list item."""
    return "v:" + _json(value)


def canonical(root: Node) -> Node:
    """A copy of a client-supplied set with every ``k:`` key re-encoded canonically and leaves as ``{}``."""
    out: Node = {}
    for key, child in root.items():
        if key == MEMBER:
            continue
        canon_key = key
        if key.startswith("k:"):
            try:
                canon_key = key_pe(json.loads(key[2:]))
            except ValueError:
                canon_key = key
        sub = canonical(child) if isinstance(child, dict) else {}
        made = _make(isinstance(child, dict) and is_member(child), sub)
        if made is not None:
            out[canon_key] = made
    return out
