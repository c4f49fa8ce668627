"""Strategic merge patch (``application/strategic-merge-patch+json``) for built-in kinds.

Why it exists: ``kubectl edit``, ``kubectl patch`` (its default patch type), ``kubectl label``,
``kubectl annotate`` and client-side ``kubectl apply`` send strategic merge patches for built-in kinds.
This is apimachinery's ``strategicpatch.StrategicMergePatch`` as a pure function: maps merge key by key
and ``null`` deletes; lists merge by their merge key (map lists), as sets (scalar sets) or are replaced
(atomic); and the directives ``$patch: replace|delete`` (maps and list items), ``$retainKeys``,
``$deleteFromPrimitiveList/<field>`` and ``$setElementOrder/<field>`` behave as in Kubernetes. The merge
strategy of each list comes from the same ``MergeSchema`` server-side apply uses. Written by hand because
no maintained Python library implements strategic merge; inputs are never mutated.
"""

from __future__ import annotations

import json
from typing import Any

from teapot.apiserver.errors import Cause, StatusError, bad_request
from teapot.apiserver.merge.schema import ITEMS, VALUES, MergeSchema, SchemaPath

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
SET_ORDER = "$setElementOrder/"

_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_BAD_SET_ORDER = "invalid patch format of setElementOrder list"


def _unprocessable(message: str) -> StatusError:
    """kube's ``NewGenericServerResponse(422, ...)`` for patches that are well-formed but cannot apply."""
    return StatusError(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
        causes=[Cause("UnexpectedServerResponse", message)],
    )


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def strategic_merge_patch(original: dict[str, Any], patch: Any, schema: MergeSchema) -> dict[str, Any]:
    """``original`` with the strategic merge ``patch`` applied. Raises ``StatusError`` 400/422."""
    if not isinstance(patch, dict):
        raise bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
    return _merge_map(original, patch, (), schema)


def _child(sp: SchemaPath, key: str, schema: MergeSchema) -> SchemaPath:
    return (*sp, VALUES) if schema.map_type(sp) == "granular" else (*sp, key)


def _merge_map(
    original: dict[str, Any] | None, patch: dict[str, Any], sp: SchemaPath, schema: MergeSchema
) -> dict[str, Any]:
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == "replace":
            return {k: v for k, v in patch.items() if k != DIRECTIVE}
        if directive == "delete":
            return {}
        raise bad_request(f"unknown patch type: {directive} in map: {_show(patch)}")
    out = dict(original) if original else {}
    pending = dict(patch)

    if RETAIN_KEYS in pending:
        out = _retain_keys(out, pending)
    for key in [k for k in pending if k.startswith(SET_ORDER)]:
        _set_element_order(out, pending, key, sp, schema)

    for key, value in pending.items():
        if key.startswith(DELETE_PRIMITIVE):
            field = key[len(DELETE_PRIMITIVE) :]
            if not isinstance(value, list):
                raise bad_request(_BAD_PRIMITIVE_LIST)
            current = out.get(field)
            if isinstance(current, list):
                out[field] = [item for item in current if item not in value]
            continue
        if value is None:
            out.pop(key, None)
            continue
        csp = _child(sp, key, schema)
        current = out.get(key)
        if type(current) is dict and type(value) is dict:
            out[key] = _merge_map(current, value, csp, schema)
        elif type(current) is list and type(value) is list:
            out[key] = _merge_list(current, value, csp, schema)
        else:
            out[key] = _fresh(value, csp, schema)
    return out


def _fresh(value: Any, sp: SchemaPath, schema: MergeSchema) -> Any:
    """A patch value for a field the original lacks: taken as is, minus nulls (kube's
    ``discardNullValuesFromPatch``) and directives (resolved for maps, dropped from lists)."""
    if type(value) is dict:
        return _merge_map(None, value, sp, schema)
    if type(value) is list:
        return [_drop_nulls(item) for item in value if not (type(item) is dict and DIRECTIVE in item)]
    return value


def _drop_nulls(value: Any) -> Any:
    if type(value) is dict:
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if type(value) is list:
        return [_drop_nulls(v) for v in value]
    return value


def _strategy_is_merge(sp: SchemaPath, schema: MergeSchema) -> bool:
    return schema.list_type(sp).kind != "atomic"


def _merge_key(sp: SchemaPath, schema: MergeSchema) -> str:
    lt = schema.list_type(sp)
    return lt.keys[0] if lt.kind == "map" and lt.keys else ""


def _retain_keys(out: dict[str, Any], pending: dict[str, Any]) -> dict[str, Any]:
    keep = pending.pop(RETAIN_KEYS)
    if not isinstance(keep, list):
        raise bad_request(_BAD_RETAIN_KEYS)
    allowed = {k for k in keep if isinstance(k, str)}
    for key, value in pending.items():
        if value is None or key.startswith((DELETE_PRIMITIVE, SET_ORDER)):
            continue
        if key not in allowed:
            raise bad_request(_BAD_RETAIN_KEYS)
    return {k: v for k, v in out.items() if k in allowed}


def _merge_list(original: list[Any], patch: list[Any], sp: SchemaPath, schema: MergeSchema) -> list[Any]:
    if not _strategy_is_merge(sp, schema):
        return patch
    if not original and not patch:
        return original
    maps = _element_kind(original, patch)
    merge_key = _merge_key(sp, schema)
    if not maps:
        merged: list[Any] = []
        for item in [*original, *patch]:
            if item not in merged:
                merged.append(item)
        return _normalize(merged, patch, original, "")
    if not merge_key:
        raise _unprocessable(f"cannot merge lists without merge key for {'.'.join(sp)}")
    isp = (*sp, ITEMS)
    base, plain = _special_elements(original, patch, merge_key)
    merged = list(base)
    for item in plain:
        if merge_key not in item:
            raise _unprocessable(f"map: {_show(item)} does not contain declared merge key: {merge_key}")
        at = _find(merged, merge_key, item[merge_key])
        if at >= 0:
            merged[at] = _merge_map(merged[at], item, isp, schema)
        else:
            merged.append(_merge_map(None, item, isp, schema))
    return _normalize(merged, plain, original, merge_key)


def _element_kind(original: list[Any], patch: list[Any]) -> bool:
    """True for lists of maps, False for scalars; mixed lists are rejected like kube."""
    kinds = {type(item) is dict for item in (*original, *patch)}
    if len(kinds) > 1:
        raise bad_request("unable to merge lists: the items are of mismatched types")
    if any(type(item) is list for item in (*original, *patch)):
        raise _unprocessable("lists of lists are not supported")
    return kinds == {True}


def _special_elements(original: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Apply ``$patch`` items: delete matching entries, or replace the whole list."""
    plain: list[Any] = []
    replace = False
    base = original
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise _unprocessable(f"map: {_show(item)} does not contain declared merge key: {merge_key}")
            base = [x for x in base if not (type(x) is dict and x.get(merge_key) == item[merge_key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise bad_request("merging lists cannot yet be specified in the patch")
        else:
            raise bad_request(f"unknown patch type: {directive} in map: {_show(item)}")
    if replace:
        return [], plain
    return base, plain


def _find(items: list[Any], merge_key: str, value: Any) -> int:
    for i, item in enumerate(items):
        if type(item) is dict and item.get(merge_key) == value:
            return i
    return -1


def _index(order: list[Any], item: Any, merge_key: str) -> int:
    if merge_key:
        return _find(order, merge_key, item.get(merge_key) if type(item) is dict else None)
    try:
        return order.index(item)
    except ValueError:
        return -1


def _normalize(
    merged: list[Any], patch_order: list[Any], server_order: list[Any], merge_key: str
) -> list[Any]:
    """kube's ``normalizeElementOrder``: patch items in patch order, server-only items interleaved."""
    patch_items = [i for i in merged if _index(patch_order, i, merge_key) >= 0]
    server_only = [i for i in merged if _index(patch_order, i, merge_key) < 0]
    patch_items = _sort_by(patch_items, patch_order, merge_key)
    server_only = _sort_by(server_only, server_order, merge_key)
    return _merge_sorted(server_only, patch_items, server_order, merge_key)


def _sort_by(items: list[Any], order: list[Any], merge_key: str) -> list[Any]:
    def rank(item: Any) -> int:
        at = _index(order, item, merge_key)
        return at if at >= 0 else len(order)

    return sorted(items, key=rank)


def _merge_sorted(left: list[Any], right: list[Any], server_order: list[Any], merge_key: str) -> list[Any]:
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _index(server_order, left[i], merge_key)
            ri = _index(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _set_element_order(
    out: dict[str, Any], pending: dict[str, Any], key: str, sp: SchemaPath, schema: MergeSchema
) -> None:
    """Merge the list named by ``$setElementOrder/<field>`` and order it as the directive says."""
    order = pending.pop(key)
    if not isinstance(order, list):
        raise bad_request(_BAD_SET_ORDER)
    field = key[len(SET_ORDER) :]
    csp = _child(sp, field, schema)
    merge_key = _merge_key(csp, schema)
    original = out.get(field)
    patch_list = pending.get(field)
    if original is not None and not isinstance(original, list):
        return
    if patch_list is not None and not isinstance(patch_list, list):
        raise bad_request(_BAD_SET_ORDER)
    _check_order(patch_list or [], order, merge_key)
    if original is None and patch_list is None:
        return
    if patch_list is None:
        merged = list(original or [])
    else:
        merged = _merge_list(original or [], patch_list, csp, schema)
    patch_items = [i for i in merged if _index(order, i, merge_key) >= 0]
    server_only = [i for i in merged if _index(order, i, merge_key) < 0]
    patch_items = _sort_by(patch_items, order, merge_key)
    server_only = _sort_by(server_only, original or [], merge_key)
    out[field] = _merge_sorted(server_only, patch_items, original or [], merge_key)
    pending.pop(field, None)


def _check_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """Every (non-directive) patch item must appear in the order list, in the same relative order."""
    last = -1
    for item in patch_list:
        if type(item) is dict and DIRECTIVE in item:
            continue
        at = _index(order, item, merge_key)
        if at < 0 or at < last:
            raise bad_request(_BAD_SET_ORDER)
        last = at
