"""One CRD version's schema, checked and compiled once, applied to every request.

Why it exists: the API server's create/update/patch path needs four operations per custom object
— prune unknown fields, apply defaults, validate, evaluate CEL rules — and must not re-parse the
schema or re-compile CEL for each request. :func:`compile_schema` does all of the schema work up
front (structural checks, node tree, compiled rules) and returns a :class:`CompiledSchema` whose
methods run in the order and with the error semantics of kube-apiserver's
``customResourceStrategy``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, Final

from teapot.apiserver.schema import errors as fe
from teapot.apiserver.schema.cel import DEFAULT_TIME_BUDGET_S, CelValidator, build
from teapot.apiserver.schema.defaulting import apply_defaults
from teapot.apiserver.schema.errors import FieldError, SchemaError
from teapot.apiserver.schema.pruning import prune
from teapot.apiserver.schema.structural import NO_DEFAULT, Node, parse, validate_structural
from teapot.apiserver.schema.validation import validate_list_types, validate_node

# Error types after which kube does not run CEL rules (``hasBlockingErr``).
_BLOCKING: Final = frozenset({fe.NOT_SUPPORTED, fe.REQUIRED, fe.TOO_LONG, fe.TOO_MANY, fe.TYPE_INVALID})
_TOKEN: Final = re.compile(r"\[([^\]]*)\]|\.?([^.\[]+)")
_DNS_SUBDOMAIN: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class CompiledSchema:
    """A structural schema ready for per-request use. Thread-safe; holds no per-request state."""

    __slots__ = ("_cel", "root")

    def __init__(self, root: Node, cel: CelValidator | None) -> None:
        self.root = root
        self._cel = cel

    @property
    def has_cel_rules(self) -> bool:
        return self._cel is not None

    def prune(self, obj: dict[str, Any]) -> list[str]:
        """Drop unknown fields in place; return their paths (``spec.foo``), sorted.

        Root ``apiVersion``, ``kind`` and ``metadata`` are kept (metadata is ObjectMeta's job).
        """
        return prune(obj, self.root)

    def default(self, obj: dict[str, Any]) -> None:
        """Apply schema defaults in place, then drop nulls of non-nullable undefaulted fields."""
        apply_defaults(obj, self.root)

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[FieldError]:
        """Validate a (pruned, defaulted) object; ``old`` is the stored object on update.

        Root ``metadata`` is checked only against what the schema says about it (kube allows
        ``name``/``generateName`` restrictions); ObjectMeta rules are the server's job.
        On update, schema errors on values unchanged from ``old`` are ratcheted (dropped), and
        CEL transition rules see ``oldSelf``.
        """
        errs: list[FieldError] = []
        root = self.root
        validate_node(root, obj, "", errs)
        if root.subtree_embedded:
            _validate_embedded(root, obj, "", errs, is_root=True)
        if root.subtree_list_types:
            validate_list_types(root, obj, "", errs)
        if old is not None and errs:
            errs = [e for e in errs if not _unchanged(root, obj, old, e.field)]
        if self._cel is not None:
            if any(e.type in _BLOCKING for e in errs):
                errs.append(
                    fe.invalid(
                        "<nil>",
                        None,
                        "some validation rules were not checked because the object was invalid; "
                        "correct the existing errors to complete validation",
                    )
                )
            else:
                errs.extend(self._cel.validate(obj, old))
        return errs

    def validate_default_values(self, path: str) -> list[FieldError]:
        """Kube requires every ``default`` to be valid against its own schema and prune-stable."""
        errs: list[FieldError] = []
        _check_defaults(self.root, path, errs)
        return errs


def compile_schema(
    openapi_v3_schema: Mapping[str, Any],
    *,
    field_path: str = "openAPIV3Schema",
    cel_time_budget_s: float = DEFAULT_TIME_BUDGET_S,
) -> CompiledSchema:
    """Check that the schema is structural, compile its CEL rules, and return it ready for use.

    Raises :class:`SchemaError` whose errors carry paths under ``field_path`` (e.g.
    ``spec.versions[0].schema.openAPIV3Schema.properties[spec].type``).
    """
    if not isinstance(openapi_v3_schema, Mapping):
        raise SchemaError([fe.required(field_path, "")])
    errs = validate_structural(openapi_v3_schema, field_path)
    root = parse(openapi_v3_schema)
    cel_errs: list[FieldError] = []
    cel_root = build(root, field_path, cel_errs)
    errs.extend(cel_errs)
    if errs:
        raise SchemaError(errs)
    return CompiledSchema(root, CelValidator(cel_root, cel_time_budget_s) if cel_root is not None else None)


# --- embedded resources (objectmeta.Validate) ----------------------------------------------------


def _validate_embedded(
    node: Node, value: Any, path: str, errs: list[FieldError], is_root: bool = False
) -> None:
    if not node.subtree_embedded:
        return
    if isinstance(value, dict):
        if node.embedded_resource and not is_root:
            _check_embedded(value, path, errs)
        props = node.properties
        additional = node.additional_schema
        prefix = path + "." if path else ""
        for key, sub_value in value.items():
            if is_root and key == "metadata":
                continue
            if props is not None and key in props:
                _validate_embedded(props[key], sub_value, prefix + key, errs)
            elif additional is not None:
                _validate_embedded(additional, sub_value, f"{path}[{key}]", errs)
    elif isinstance(value, list) and node.items is not None:
        for i, item in enumerate(value):
            _validate_embedded(node.items, item, f"{path}[{i}]", errs)


def _check_embedded(obj: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    for key in ("apiVersion", "kind"):
        value = obj.get(key)
        if value is None or value == "":
            errs.append(fe.required(f"{path}.{key}", "must not be empty"))
        elif not isinstance(value, str):
            errs.append(fe.type_invalid(f"{path}.{key}", value, "must be a string"))
    meta = obj.get("metadata")
    if meta is None:
        return
    if not isinstance(meta, dict):
        errs.append(fe.type_invalid(f"{path}.metadata", meta, "must be an object"))
        return
    name = meta.get("name")
    if name is not None:
        if not isinstance(name, str):
            errs.append(fe.type_invalid(f"{path}.metadata.name", name, "must be a string"))
        elif name and (len(name) > 253 or not _DNS_SUBDOMAIN.match(name)):
            errs.append(
                fe.invalid(
                    f"{path}.metadata.name",
                    name,
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                )
            )
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            errs.append(fe.type_invalid(f"{path}.metadata.{key}", value, "must be a map of strings"))


# --- ratcheting --------------------------------------------------------------------------------


def _unchanged(root: Node, obj: Any, old: Any, path: str) -> bool:
    """True if ``path`` or one of its ancestors is correlatable with ``old`` and unchanged.

    This is kube-openapi's ratcheting rule: errors under a node that is deep-equal to its old
    value are dropped (kube turns them into warnings). Correlation follows object keys and
    ``map``/``set`` list items; items of atomic lists are not correlatable.
    """
    node: Node | None = root
    new_v, old_v = obj, old
    for m in _TOKEN.finditer(path):
        if new_v == old_v:
            return True  # an unchanged correlatable ancestor ratchets everything below it
        if node is None:
            return False
        index, name = m.group(1), m.group(2)
        if name is not None:
            if not isinstance(new_v, dict) or not isinstance(old_v, dict):
                return False
            if name not in new_v or name not in old_v:
                return False
            new_v, old_v = new_v[name], old_v[name]
            props = node.properties
            node = props[name] if props is not None and name in props else node.additional_schema
        elif index is not None:
            if not isinstance(new_v, list) or not isinstance(old_v, list) or not index.isdigit():
                if isinstance(new_v, dict) and isinstance(old_v, dict) and index in new_v and index in old_v:
                    new_v, old_v = new_v[index], old_v[index]
                    node = node.additional_schema
                    continue
                return False
            i = int(index)
            if i >= len(new_v):
                return False
            item = new_v[i]
            if node.list_type == "map" and isinstance(item, dict):
                keys = node.list_map_keys
                match = [
                    o for o in old_v if isinstance(o, dict) and all(o.get(k) == item.get(k) for k in keys)
                ]
                if not match:
                    return False
                new_v, old_v = item, match[0]
            elif node.list_type == "set":
                if item not in old_v:
                    return False
                new_v, old_v = item, item
            else:
                return False
            node = node.items
    return bool(new_v == old_v)


def _check_defaults(node: Node, path: str, errs: list[FieldError]) -> None:
    if node.default is not NO_DEFAULT and node.default is not None:
        value = copy.deepcopy(node.default)
        sub_errs: list[FieldError] = []
        validate_node(node, value, path + ".default", sub_errs)
        errs.extend(sub_errs)
        if isinstance(value, dict | list):
            wrapper = {"x": value}
            holder = Node(type="object", types=("object",), properties={"x": node})
            pruned = prune(wrapper, holder)
            if pruned:
                errs.append(fe.invalid(path + ".default", node.default, "must not have unknown fields"))
    if node.properties:
        for name, sub in node.properties.items():
            _check_defaults(sub, f"{path}.properties[{name}]", errs)
    if node.items is not None:
        _check_defaults(node.items, path + ".items", errs)
    additional = node.additional_schema
    if additional is not None:
        _check_defaults(additional, path + ".additionalProperties", errs)
