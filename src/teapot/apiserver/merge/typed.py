"""Schema-aware walks over objects: field sets, comparison, merge and removal.

Why it exists: these are the four operations of structured-merge-diff's ``typed`` package that server-side
apply and managed-fields tracking are built from — ``ToFieldSet`` (which fields does a configuration
set), ``Compare`` (which fields did a write add, modify or remove), ``Merge`` (apply a configuration onto
the live object) and ``RemoveItems`` (prune fields nobody owns any more). There is no maintained Python
port of structured-merge-diff, so they are written here, following its rules: atomic lists and maps and
scalars are leaves; set and map lists are identified item by item (``v:``/``k:``); struct fields and
granular-map keys are ``f:`` elements; empty and null containers are leaves so "empty" and "absent"
stay distinct.

Every walk skips equal sub-trees with one ``==`` (done in C), so the cost of comparing two versions
of an object is proportional to what changed, not to its size.
"""

from __future__ import annotations

from typing import Any, Final

from teapot.apiserver.merge import fieldset
from teapot.apiserver.merge.fieldset import MEMBER, Node, is_member, key_pe, value_pe
from teapot.apiserver.merge.schema import ITEMS, VALUES, ListType, MergeSchema, SchemaPath


class _Missing:
    """Marks an absent value (distinct from JSON null)."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
_EMPTY: Final[dict[str, Any]] = {}


class InvalidListError(ValueError):
    """A set or map list whose items cannot be identified (missing key field, duplicates)."""

    def __init__(self, path: list[str], message: str) -> None:
        self.path = fieldset.path_to_string(tuple(path))
        super().__init__(f"{self.path}: {message}" if self.path else message)


def item_pe(lt: ListType, item: Any) -> str | None:
    """The path element of a list item, or None when it cannot have one."""
    if lt.kind == "map":
        if type(item) is not dict:
            return None
        fields = {}
        for key in lt.keys:
            if key not in item:
                return None
            fields[key] = item[key]
        return key_pe(fields)
    if isinstance(item, (dict, list)):
        return None
    return value_pe(item)


def _index(items: Any, lt: ListType) -> dict[str, Any] | None:
    """Items by path element; None if any item has no element or two share one."""
    if not items:
        return {}
    out: dict[str, Any] = {}
    for item in items:
        pe = item_pe(lt, item)
        if pe is None or pe in out:
            return None
        out[pe] = item
    return out


def _as_member(node: Node | None) -> Node:
    if not node:
        return {}
    if MEMBER in node:
        return node
    return {MEMBER: {}, **node}


# --- ToFieldSet -------------------------------------------------------------------------------


def to_field_set(obj: dict[str, Any], schema: MergeSchema) -> Node:
    """The set of fields an (applied) object sets. Raises ``InvalidListError`` for bad set/map lists."""
    return _fs(obj, (), schema, []) or {}


def _fs(value: Any, sp: SchemaPath, schema: MergeSchema, path: list[str]) -> Node | None:
    if type(value) is dict:
        mt = schema.map_type(sp)
        if mt == "atomic":
            return {}
        struct = mt == "struct"
        children: Node = {}
        for key, child in value.items():
            pe = "f:" + key
            path.append(pe)
            node = _fs(child, (*sp, key) if struct else (*sp, VALUES), schema, path)
            path.pop()
            if not struct:  # keys of granular maps are owned themselves; struct fields via leaves
                node = _as_member(node)
            if node is not None:
                children[pe] = node
        return children or None
    if type(value) is list:
        lt = schema.list_type(sp)
        if lt.kind == "atomic":
            return {}
        items: Node = {}
        isp = (*sp, ITEMS)
        for i, item in enumerate(value):
            pe = item_pe(lt, item)
            if pe is None:
                raise InvalidListError(path, _bad_item_message(lt, i, item))
            if pe in items:
                path.append(pe)
                raise InvalidListError(path, "duplicate entries for key")
            path.append(pe)
            items[pe] = _as_member(_fs(item, isp, schema, path))
            path.pop()
        return items or None
    return {}


def _bad_item_message(lt: ListType, index: int, item: Any) -> str:
    if lt.kind == "map":
        if type(item) is not dict:
            return f"element {index}: expected map, got {type(item).__name__}"
        missing = next(k for k in lt.keys if k not in item)
        return (
            f"element {index}: associative list with keys has an element that omits key field "
            f'"{missing}" (and doesn\'t have default value)'
        )
    return f"element {index}: associative list without keys has an element that's a map type"


# --- Compare ----------------------------------------------------------------------------------


class Comparison:
    """Fields added, modified and removed between two versions of an object."""

    __slots__ = ("added", "modified", "removed")

    def __init__(self) -> None:
        self.added: Node = {}
        self.modified: Node = {}
        self.removed: Node = {}

    def changed(self) -> Node:
        """Added | modified: the fields a writer takes ownership of."""
        return fieldset.union(self.added, self.modified)

    def is_empty(self) -> bool:
        return not (self.added or self.modified or self.removed)


def compare(lhs: dict[str, Any], rhs: dict[str, Any], schema: MergeSchema) -> Comparison:
    """What changed from ``lhs`` to ``rhs`` (structured-merge-diff's ``TypedValue.Compare``)."""
    out = Comparison()
    if lhs != rhs:
        _cmp(lhs, rhs, (), [], schema, out)
    return out


def _leaf(lhs: Any, rhs: Any, path: list[str], out: Comparison) -> None:
    if lhs is MISSING:
        fieldset.insert(out.added, path)
    elif rhs is MISSING:
        fieldset.insert(out.removed, path)
    else:
        fieldset.insert(out.modified, path)


def _cmp(lhs: Any, rhs: Any, sp: SchemaPath, path: list[str], schema: MergeSchema, out: Comparison) -> None:
    # Precondition: lhs != rhs, and at most one of them is MISSING.
    ld = type(lhs) is dict
    rd = type(rhs) is dict
    if ld or rd:
        if (not ld and lhs is not MISSING and lhs is not None) or (
            not rd and rhs is not MISSING and rhs is not None
        ):
            _leaf(lhs, rhs, path, out)  # the type changed
            return
        mt = schema.map_type(sp)
        if mt == "atomic" or (not lhs and not rhs):
            _leaf(lhs, rhs, path, out)
            return
        struct = mt == "struct"
        lm: dict[str, Any] = lhs if ld else _EMPTY
        rm: dict[str, Any] = rhs if rd else _EMPTY
        if path:  # the container itself first, so "." leads its node as in kube's encoding
            if lhs is MISSING:
                fieldset.insert(out.added, path)
            elif rhs is MISSING:
                fieldset.insert(out.removed, path)
        for key, lv in lm.items():
            rv = rm.get(key, MISSING)
            if rv is MISSING or lv != rv:
                path.append("f:" + key)
                _cmp(lv, rv, (*sp, key) if struct else (*sp, VALUES), path, schema, out)
                path.pop()
        for key, rv in rm.items():
            if key not in lm:
                path.append("f:" + key)
                _cmp(MISSING, rv, (*sp, key) if struct else (*sp, VALUES), path, schema, out)
                path.pop()
        return
    ll = type(lhs) is list
    rl = type(rhs) is list
    if ll or rl:
        if (not ll and lhs is not MISSING and lhs is not None) or (
            not rl and rhs is not MISSING and rhs is not None
        ):
            _leaf(lhs, rhs, path, out)
            return
        lt = schema.list_type(sp)
        if lt.kind == "atomic" or (not lhs and not rhs):
            _leaf(lhs, rhs, path, out)
            return
        lmap = _index(lhs, lt)
        rmap = _index(rhs, lt)
        if lmap is None or rmap is None:
            _leaf(lhs, rhs, path, out)  # duplicates or unkeyed items: compare as a whole
            return
        if lhs is MISSING:
            fieldset.insert(out.added, path)
        elif rhs is MISSING:
            fieldset.insert(out.removed, path)
        isp = (*sp, ITEMS)
        for pe, li in lmap.items():
            ri = rmap.get(pe, MISSING)
            if ri is MISSING or li != ri:
                path.append(pe)
                _cmp(li, ri, isp, path, schema, out)
                path.pop()
        for pe, ri in rmap.items():
            if pe not in lmap:
                path.append(pe)
                _cmp(MISSING, ri, isp, path, schema, out)
                path.pop()
        return
    _leaf(lhs, rhs, path, out)


# --- Merge ------------------------------------------------------------------------------------


def merge(live: Any, config: Any, schema: MergeSchema, sp: SchemaPath = ()) -> Any:
    """``config`` merged onto ``live`` (structured-merge-diff's ``TypedValue.Merge``).

    Unchanged sub-trees of either side are shared with the result, not copied.
    """
    if live is MISSING or live is None or live is config:
        return config
    if type(config) is dict and type(live) is dict:
        if live == config:
            return live  # unchanged: share the live sub-tree (one C-level comparison)
        if not live and not config:
            return config
        mt = schema.map_type(sp)
        if mt == "atomic":
            return config
        struct = mt == "struct"
        out = dict(live)
        for key, cv in config.items():
            lv = live.get(key, MISSING)
            out[key] = cv if lv is MISSING else merge(lv, cv, schema, (*sp, key) if struct else (*sp, VALUES))
        return out
    if type(config) is list and type(live) is list:
        if live == config:
            return live
        if not live and not config:
            return config
        lt = schema.list_type(sp)
        if lt.kind == "atomic":
            return config
        return _merge_list(live, config, lt, (*sp, ITEMS), schema)
    return config


def _merge_list(
    live: list[Any], config: list[Any], lt: ListType, isp: SchemaPath, schema: MergeSchema
) -> list[Any]:
    """Item-wise merge keeping structured-merge-diff's order: config order, live-only items in place."""
    lpes = [item_pe(lt, item) for item in live]
    rpes = [item_pe(lt, item) for item in config]
    lobs = {pe: item for pe, item in zip(lpes, live, strict=True) if pe is not None}
    robs = {pe: item for pe, item in zip(rpes, config, strict=True) if pe is not None}
    if len(lobs) != len(live) or len(robs) != len(config):
        return config  # live duplicates: the configuration replaces the list
    shared = [pe for pe in rpes if pe in lobs]
    shared_i = 0
    next_shared = shared[0] if shared else None
    merged_rhs: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    nl, nr = len(lpes), len(rpes)
    while li < nl or ri < nr:
        if li < nl and ri < nr:
            pe = lpes[li]
            if pe == rpes[ri]:
                assert pe is not None
                merged_rhs.add(pe)
                out.append(merge(lobs[pe], robs[pe], schema, isp))
                li += 1
                ri += 1
                shared_i += 1
                next_shared = shared[shared_i] if shared_i < len(shared) else None
                continue
            if pe in robs and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < nl:
            pe = lpes[li]
            if pe not in robs:
                out.append(live[li])
                li += 1
                continue
            if pe in merged_rhs:
                li += 1
                continue
        if ri < nr:
            rpe = rpes[ri]
            assert rpe is not None
            merged_rhs.add(rpe)
            lv = lobs.get(rpe, MISSING)
            out.append(robs[rpe] if lv is MISSING else merge(lv, robs[rpe], schema, isp))
            ri += 1
            if next_shared is not None and next_shared == rpe:
                shared_i += 1
                next_shared = shared[shared_i] if shared_i < len(shared) else None
    return out


# --- RemoveItems and EnsureNamedFieldsAreMembers ----------------------------------------------


def remove_items(value: Any, fields: Node, schema: MergeSchema, sp: SchemaPath = ()) -> Any:
    """``value`` without the sub-trees at the member paths of ``fields``."""
    if not fields:
        return value
    if type(value) is dict:
        mt = schema.map_type(sp)
        if mt == "atomic":
            return value
        struct = mt == "struct"
        out: dict[str, Any] | None = None
        for pe, child in fields.items():
            if not pe.startswith("f:"):
                continue
            key = pe[2:]
            if key not in value:
                continue
            if is_member(child):
                if out is None:
                    out = dict(value)
                del out[key]
            else:
                new = remove_items(value[key], child, schema, (*sp, key) if struct else (*sp, VALUES))
                if new is not value[key]:
                    if out is None:
                        out = dict(value)
                    out[key] = new
        return value if out is None else out
    if type(value) is list:
        lt = schema.list_type(sp)
        if lt.kind == "atomic":
            return value
        isp = (*sp, ITEMS)
        items: list[Any] = []
        changed = False
        for item in value:
            ipe = item_pe(lt, item)
            child = fields.get(ipe) if ipe is not None else None
            if child is None:
                items.append(item)
                continue
            changed = True
            if not is_member(child):
                items.append(remove_items(item, child, schema, isp))
        return items if changed else value
    return value


def ensure_named_fields(fields: Node, schema: MergeSchema, sp: SchemaPath = ()) -> Node:
    """``fields`` plus every struct field on the way to a member (``EnsureNamedFieldsAreMembers``).

    Used by pruning so that a struct nobody owns anything under any more is removed whole.
    """
    out: Node = {}
    struct: bool | None = None
    for pe, child in fields.items():
        if pe == MEMBER or not child:
            out[pe] = child
            continue
        if pe.startswith("f:"):
            if struct is None:
                struct = schema.map_type(sp) == "struct"
            sub = ensure_named_fields(child, schema, (*sp, pe[2:]) if struct else (*sp, VALUES))
            if struct and MEMBER not in sub:
                sub = {MEMBER: {}, **sub}
        else:
            sub = ensure_named_fields(child, schema, (*sp, ITEMS))
        out[pe] = sub
    return out
