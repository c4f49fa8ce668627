"""Value validation of a custom object against its structural schema (OpenAPI keywords).

Why it exists: kube-apiserver validates custom resources with kube-openapi's ``SchemaValidator``
and then converts its results to ``field.Error`` (``kubeOpenAPIResultToFieldErrors``). Clients
and people depend on the exact wording and on which keyword wins when several fail, so this is a
faithful port of that validator's order and messages rather than a generic JSON-schema library
(``jsonschema`` would produce different paths, messages and combinator behaviour). It also hosts
the ``x-kubernetes-list-type`` set/map uniqueness check (``listtype.ValidateListSetsAndMaps``).
"""

from __future__ import annotations

import math
from typing import Any

from teapot.apiserver.schema import errors as fe
from teapot.apiserver.schema import formats
from teapot.apiserver.schema.errors import FieldError
from teapot.apiserver.schema.structural import NO_DEFAULT, Node


def _kind(value: Any) -> str:
    """The JSON type of an unstructured value, as kube-openapi's ``schemaInfoForType`` sees it."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "null" if value is None else "unknown"


def _is_json_integer(f: float) -> bool:
    if math.isnan(f) or math.isinf(f):
        return False
    if f.is_integer():
        return True
    g = float(int(f))
    return abs(f - g) / min(abs(f) + abs(g), 1.7976931348623157e308) < 1e-9


def _type_check(node: Node, value: Any, kind: str, path: str, errs: list[FieldError]) -> None:
    types = node.types
    if value is None:
        if types and "null" not in types and not node.nullable:
            msg = f'{path} in body must be of type {",".join(types)}: "null"'
            errs.append(fe.type_invalid(path, "null", msg))
        return
    is_float_int = kind == "number" and "integer" in types and _is_json_integer(value)
    is_int_float = kind == "integer" and "number" in types
    if (
        node.format
        and kind not in ("string", "array")
        and not (kind in types or is_float_int or is_int_float)
    ):
        go_format = {"integer": "int64", "number": "float64"}.get(kind, "")
        errs.append(
            fe.type_invalid(
                path, go_format, f"{path} in body must be of type {node.raw_format}: {fe.go_quote(go_format)}"
            )
        )
        return
    if node.format and "number" not in types and "integer" not in types and kind in ("string", "array"):
        return
    if not types:
        return
    if not (kind in types or is_float_int or is_int_float):
        msg = f"{path} in body must be of type {','.join(types)}: {fe.go_quote(kind)}"
        errs.append(fe.type_invalid(path, kind, msg))


def _enum_matches(enum: tuple[Any, ...], value: Any) -> bool:
    if value is None:
        return False  # kube-openapi: a nil value never matches (reflect.ValueOf(nil) is invalid)
    kind = _kind(value)
    numeric = kind in ("integer", "number")
    for candidate in enum:
        ckind = _kind(candidate)
        if numeric and ckind in ("integer", "number"):
            if candidate == value:
                return True
        elif ckind == kind and candidate == value:
            return True
    return False


def _enum_error(node: Node, value: Any, path: str) -> FieldError:
    assert node.enum is not None
    values = [v if isinstance(v, str) else fe.go_json(v) for v in node.enum]
    return fe.not_supported(path, value, values)


def _number_checks(node: Node, value: int | float, path: str, errs: list[FieldError]) -> None:
    is_int = isinstance(value, int)
    if node.multiple_of is not None:
        factor = node.multiple_of
        if is_int and int(factor) != 0:
            ifactor = int(factor)
            if value % ifactor != 0:
                errs.append(fe.invalid(path, value, f"{path} in body should be a multiple of {ifactor}"))
        elif factor > 0:
            mult = (1 / factor * value) if factor < 1 else (value / factor)
            if not _is_json_integer(float(mult)):
                errs.append(
                    fe.invalid(path, value, f"{path} in body should be a multiple of {fe.go_v(factor)}")
                )
    if node.minimum is not None:
        bound: int | float = int(node.minimum) if is_int else node.minimum
        exclusive = node.exclusive_minimum
        if (value <= bound) if exclusive else (value < bound):
            rel = "greater than" if exclusive else "greater than or equal to"
            errs.append(fe.invalid(path, value, f"{path} in body should be {rel} {fe.go_v(bound)}"))
    if node.maximum is not None:
        bound = int(node.maximum) if is_int else node.maximum
        exclusive = node.exclusive_maximum
        if (value >= bound) if exclusive else (value > bound):
            rel = "less than" if exclusive else "less than or equal to"
            errs.append(fe.invalid(path, value, f"{path} in body should be {rel} {fe.go_v(bound)}"))


def _string_checks(node: Node, value: str, path: str, errs: list[FieldError]) -> None:
    if node.max_length is not None and len(value) > node.max_length:
        errs.append(fe.too_long(path, node.max_length))
        return
    if node.min_length is not None and len(value) < node.min_length:
        errs.append(
            fe.invalid(path, value, f"{path} in body should be at least {node.min_length} chars long")
        )
        return
    if node.pattern:
        if node.pattern_re is None:
            errs.append(
                fe.invalid(
                    path, value, f"{path} in body should match '{node.pattern}, but pattern is invalid'"
                )
            )
        elif not node.pattern_re.search(value):
            errs.append(fe.invalid(path, value, f"{path} in body should match '{node.pattern}'"))


def _combinators(node: Node, value: Any, path: str, errs: list[FieldError]) -> None:
    if node.any_of:
        best: list[FieldError] | None = None
        for sub in node.any_of:
            sub_errs: list[FieldError] = []
            validate_node(sub, value, path, sub_errs)
            if not sub_errs:
                best = None
                break
            if best is None or len(sub_errs) < len(best):
                best = sub_errs
        else:
            errs.append(fe.invalid(path, "", f"{path} must validate at least one schema (anyOf)"))
            if best:
                errs.extend(best)
    if node.one_of:
        valid = 0
        best = None
        for sub in node.one_of:
            sub_errs = []
            validate_node(sub, value, path, sub_errs)
            if not sub_errs:
                valid += 1
            elif valid == 0 and (best is None or len(sub_errs) < len(best)):
                best = sub_errs
        if valid != 1:
            extra = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
            errs.append(
                fe.invalid(path, "", f"{path} must validate one and only one schema (oneOf). {extra}")
            )
            if valid == 0 and best:
                errs.extend(best)
    if node.all_of:
        ok = 0
        for sub in node.all_of:
            sub_errs = []
            validate_node(sub, value, path, sub_errs)
            if not sub_errs:
                ok += 1
            errs.extend(sub_errs)
        if ok != len(node.all_of):
            extra = ". None validated" if ok == 0 else ""
            errs.append(fe.invalid(path, "", f"{path} must validate all the schemas (allOf){extra}"))
    if node.not_ is not None:
        sub_errs = []
        validate_node(node.not_, value, path, sub_errs)
        if not sub_errs:
            errs.append(fe.invalid(path, "", f"{path} must not validate the schema (not)"))


_KINDS: dict[type, str] = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    dict: "object",
    list: "array",
    type(None): "null",
}


def validate_node(node: Node, value: Any, path: str, errs: list[FieldError]) -> None:
    """Validate ``value`` at ``path`` against ``node``, appending kube-worded errors to ``errs``.

    The order of checks is kube-openapi's: type, allOf/anyOf/oneOf/not, string, format, number,
    array, enum, object.
    """
    kind = _KINDS.get(type(value)) or _kind(value)
    ok = node.ok_kinds
    if (ok is not None and kind not in ok) or (ok is None and node.format):
        _type_check(node, value, kind, path, errs)
    if kind == "null":
        if node.enum is not None:
            errs.append(_enum_error(node, value, path))
        return
    if node.combinators:
        _combinators(node, value, path, errs)
    if kind == "object":
        if node.enum is not None and not _enum_matches(node.enum, value):
            errs.append(_enum_error(node, value, path))
        if (
            node.min_properties is not None
            or node.max_properties is not None
            or node.additional_properties is not None
        ):
            _object_checks(node, value, path, errs)
            return
        props = node.properties
        if props:
            prefix = path + "." if path else ""
            for name, sub_value in value.items():
                sub = props.get(name)
                if sub is not None:
                    validate_node(sub, sub_value, prefix + name, errs)
        for name in node.required:
            if name not in value:
                errs.append(fe.required(path + "." + name if path else name))
        return
    if kind == "string":
        if node.string_checks:
            _string_checks(node, value, path, errs)
            if node.format and not formats.check(node.format, value):
                msg = f"{path} in body must be of type {node.raw_format}: {fe.go_quote(value)}"
                errs.append(fe.type_invalid(path, value, msg))
    elif kind == "integer" or kind == "number":
        if node.number_checks:
            _number_checks(node, value, path, errs)
    elif kind == "array":
        items = node.items
        if items is not None:
            for i, item in enumerate(value):
                validate_node(items, item, f"{path}[{i}]", errs)
        size = len(value)
        if node.min_items is not None and size < node.min_items:
            errs.append(fe.invalid(path, size, f"{path} in body should have at least {node.min_items} items"))
        if node.max_items is not None and size > node.max_items:
            errs.append(fe.too_many(path, size, node.max_items))
        if node.unique_items and _has_duplicates(value):
            errs.append(fe.invalid(path, "", f"{path} in body shouldn't contain duplicates"))
    enum = node.enum
    if enum is not None:
        keys = node.enum_keys
        if keys is not None and kind in ("string", "boolean"):
            if (type(value), value) not in keys:
                errs.append(_enum_error(node, value, path))
        elif not _enum_matches(enum, value):
            errs.append(_enum_error(node, value, path))


def _object_checks(node: Node, value: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    size = len(value)
    if node.min_properties is not None and size < node.min_properties:
        errs.append(
            fe.invalid(path, size, f"{path} in body should have at least {node.min_properties} properties")
        )
        return
    if node.max_properties is not None and size > node.max_properties:
        errs.append(fe.too_many(path, size, node.max_properties))
        return
    props = node.properties
    additional = node.additional_properties
    prefix = path + "." if path else ""
    if additional is False:
        for key in value:
            if props is None or key not in props:
                errs.append(fe.invalid(path, key, f"{path}.{key} in body is a forbidden property"))
    elif additional is not None and additional is not True:
        for key, sub_value in value.items():
            if props is None or key not in props:
                validate_node(additional, sub_value, f"{path}.{key}", errs)
    if props:
        for name, sub in props.items():
            if name in value:
                validate_node(sub, value[name], prefix + name, errs)
    for name in node.required:
        if name not in value:
            errs.append(fe.required(prefix + name))


def _freeze(value: Any) -> Any:
    """A hashable stand-in that keeps JSON type distinctions (1 vs 1.0 vs True)."""
    if isinstance(value, dict):
        return ("o", tuple(sorted((k, _freeze(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("a", tuple(_freeze(v) for v in value))
    return (_kind(value), value)


def _has_duplicates(values: list[Any]) -> bool:
    seen: set[Any] = set()
    for v in values:
        key = _freeze(v)
        if key in seen:
            return True
        seen.add(key)
    return False


# --- x-kubernetes-list-type (listtype/validation.go) -------------------------------------------


def validate_list_types(node: Node | None, value: Any, path: str, errs: list[FieldError]) -> None:
    """Report duplicates in ``set`` lists and duplicate keys in ``map`` lists, recursively."""
    if node is None or not node.subtree_list_types:
        return
    if isinstance(value, list):
        if node.list_type == "set" and len(value) > 1:
            counts: dict[Any, int] = {}
            for i, item in enumerate(value):
                key = _freeze(item)
                times = counts.get(key, 0)
                counts[key] = times + 1
                if times == 1:
                    errs.append(fe.duplicate(f"{path}[{i}]", item))
        elif node.list_type == "map" and len(value) > 1:
            _validate_list_map(node, value, path, errs)
        if node.items is not None:
            for i, item in enumerate(value):
                validate_list_types(node.items, item, f"{path}[{i}]", errs)
    elif isinstance(value, dict):
        props = node.properties
        additional = node.additional_schema
        prefix = path + "." if path else ""
        for key, sub_value in value.items():
            if props is not None and key in props:
                validate_list_types(props[key], sub_value, prefix + key, errs)
            elif additional is not None:
                validate_list_types(additional, sub_value, f"{path}[{key}]", errs)


def _validate_list_map(node: Node, value: list[Any], path: str, errs: list[FieldError]) -> None:
    item_props = node.items.properties if node.items is not None else None
    seen: dict[Any, int] = {}
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            errs.append(fe.invalid(f"{path}[{i}]", item, "must be an object for an array of list-type map"))
            continue
        if not item:
            errs.append(fe.invalid(f"{path}[{i}]", item, "must not be empty for an array of list-type map"))
            continue
        keys: dict[str, Any] = {}
        for k in node.list_map_keys:
            if k in item:
                keys[k] = item[k]
            elif item_props is not None and k in item_props and item_props[k].default is not NO_DEFAULT:
                keys[k] = item_props[k].default
            else:
                keys[k] = None
        frozen = _freeze(keys)
        times = seen.get(frozen, 0)
        seen[frozen] = times + 1
        if times == 1:
            errs.append(fe.duplicate(f"{path}[{i}]", keys))
