"""The structural schema tree, and kube's rules for what makes a schema structural.

Why it exists: kube-apiserver never walks a CRD's raw ``openAPIV3Schema`` dict per request. It
converts it once into a *structural* schema (``apiextensions-apiserver/pkg/apiserver/schema``):
every node has a type, every field that value validations (``allOf``/``anyOf``/``oneOf``/``not``)
talk about is also declared in the structure, and the vendor extensions are consistent. This
module does the same: :func:`parse` turns the dict into immutable :class:`Node` objects (with
patterns compiled, numbers normalised) that the pruner, defaulter, validator and CEL layer walk
cheaply, and :func:`validate_structural` reports what kube's ``ValidateStructural`` would, with
kube's field paths (``properties[spec].type``) and wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import re2  # type: ignore[import-untyped]

from teapot.apiserver.schema import errors as fe
from teapot.apiserver.schema.errors import FieldError

NO_DEFAULT: Final = object()

# Formats kube-apiserver validates for CRDs (apiextensions ``supportedFormats``); every other
# format (int32, int64, float, double, ...) is stripped before validation and so is ignored.
SUPPORTED_FORMATS: Final = frozenset(
    {
        "bsonobjectid",
        "uri",
        "email",
        "hostname",
        "ipv4",
        "ipv6",
        "cidr",
        "mac",
        "uuid",
        "uuid3",
        "uuid4",
        "uuid5",
        "isbn",
        "isbn10",
        "isbn13",
        "creditcard",
        "ssn",
        "hexcolor",
        "rgbcolor",
        "byte",
        "password",
        "date",
        "duration",
        "datetime",
    }
)


def normalize_format(fmt: str) -> str:
    """go-openapi's strfmt name normalisation: ``date-time`` == ``datetime``."""
    return fmt.lower().replace("-", "").replace("_", "").replace(" ", "")


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``x-kubernetes-validations`` entry as written in the schema."""

    rule: str
    message: str = ""
    message_expression: str = ""
    reason: str = ""
    field_path: str = ""
    optional_old_self: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    """One schema node. ``type`` is "" when unset; ``types`` is what values may be."""

    type: str = ""
    types: tuple[str, ...] = ()
    format: str = ""  # normalised, and only if kube validates it
    raw_format: str = ""
    nullable: bool = False
    default: Any = NO_DEFAULT
    enum: tuple[Any, ...] | None = None
    maximum: float | None = None
    exclusive_maximum: bool = False
    minimum: float | None = None
    exclusive_minimum: bool = False
    multiple_of: float | None = None
    max_length: int | None = None
    min_length: int | None = None
    pattern: str = ""
    pattern_re: Pattern | None = None
    max_items: int | None = None
    min_items: int | None = None
    unique_items: bool = False
    max_properties: int | None = None
    min_properties: int | None = None
    required: tuple[str, ...] = ()
    properties: Mapping[str, Node] | None = None
    items: Node | None = None
    additional_properties: Node | bool | None = None
    all_of: tuple[Node, ...] = ()
    any_of: tuple[Node, ...] = ()
    one_of: tuple[Node, ...] = ()
    not_: Node | None = None
    preserve_unknown: bool = False
    embedded_resource: bool = False
    int_or_string: bool = False
    list_type: str = ""
    list_map_keys: tuple[str, ...] = ()
    map_type: str = ""
    rules: tuple[Rule, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)
    # precomputed for the per-request walks
    ok_kinds: frozenset[str] | None = None  # value kinds that need no type check; None = any
    combinators: bool = False
    string_checks: bool = False
    number_checks: bool = False
    enum_keys: frozenset[Any] | None = None  # hashable (kind, value) pairs of a scalar enum
    subtree_embedded: bool = False
    subtree_list_types: bool = False

    @property
    def additional_schema(self) -> Node | None:
        ap = self.additional_properties
        return ap if isinstance(ap, Node) else None

    @property
    def has_value_validation(self) -> bool:
        return bool(self.all_of or self.any_of or self.one_of or self.not_ is not None)


def to_num(value: Any) -> float | None:
    """A JSON number as float; None for anything else (bools included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def to_int(value: Any) -> int | None:
    """A JSON integer (or integral float) as int; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


class Pattern:
    """A schema ``pattern``: Go regexp semantics (RE2, linear time, unanchored search).

    google-re2's Python-level ``search()`` costs ~18 µs per call on this machine because it
    maps byte offsets back to characters for the match object; we only need a yes/no, so we
    call the compiled program directly (~1 µs), falling back to the public API if the
    binding's internals ever change.
    """

    __slots__ = ("_compiled", "_program")

    def __init__(self, pattern: str) -> None:
        self._compiled = re2.compile(pattern)
        program = getattr(self._compiled, "_regexp", None)
        anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
        self._program = (program, anchor) if program is not None and anchor is not None else None

    @property
    def regex(self) -> Any:
        """The google-re2 compiled pattern, for callers that need match objects."""
        return self._compiled

    def search(self, text: str) -> bool:
        if self._program is not None:
            program, anchor = self._program
            data = text.encode("utf-8", "surrogatepass")
            return bool(program.Match(anchor, data, 0, len(data))[0][0] != -1)
        return self._compiled.search(text) is not None


def _compile_pattern(pattern: str) -> Pattern | None:
    try:
        return Pattern(pattern)
    except Exception:
        return None


def parse(raw: Mapping[str, Any]) -> Node:
    """Convert a JSONSchemaProps dict into a :class:`Node` tree (no validation of the schema)."""
    if not isinstance(raw, Mapping):
        return Node(raw={})
    type_ = raw.get("type") if isinstance(raw.get("type"), str) else ""
    assert isinstance(type_, str)
    int_or_string = raw.get("x-kubernetes-int-or-string") is True
    if int_or_string:
        types: tuple[str, ...] = ("integer", "string")
    elif type_:
        types = (type_,)
    else:
        types = ()
    raw_format = raw.get("format") if isinstance(raw.get("format"), str) else ""
    assert isinstance(raw_format, str)
    fmt = normalize_format(raw_format)
    if fmt not in SUPPORTED_FORMATS:
        fmt = ""

    props_raw = raw.get("properties")
    properties: dict[str, Node] | None = None
    if isinstance(props_raw, Mapping):
        properties = {str(k): parse(v) for k, v in props_raw.items()}

    items_raw = raw.get("items")
    items = parse(items_raw) if isinstance(items_raw, Mapping) else None

    ap_raw = raw.get("additionalProperties")
    additional: Node | bool | None
    if isinstance(ap_raw, bool):
        additional = ap_raw
    elif isinstance(ap_raw, Mapping):
        additional = parse(ap_raw)
    else:
        additional = None

    enum_raw = raw.get("enum")
    enum = tuple(enum_raw) if isinstance(enum_raw, list) else None
    pattern = raw.get("pattern") if isinstance(raw.get("pattern"), str) else ""
    assert isinstance(pattern, str)

    rules: list[Rule] = []
    for entry in raw.get("x-kubernetes-validations") or ():
        if isinstance(entry, Mapping):
            rules.append(
                Rule(
                    rule=str(entry.get("rule") or ""),
                    message=str(entry.get("message") or ""),
                    message_expression=str(entry.get("messageExpression") or ""),
                    reason=str(entry.get("reason") or ""),
                    field_path=str(entry.get("fieldPath") or ""),
                    optional_old_self=entry.get("optionalOldSelf") is True,
                    raw=entry,
                )
            )

    def sub(key: str) -> tuple[Node, ...]:
        value = raw.get(key)
        return tuple(parse(v) for v in value if isinstance(v, Mapping)) if isinstance(value, list) else ()

    not_raw = raw.get("not")
    required_raw = raw.get("required")
    keys_raw = raw.get("x-kubernetes-list-map-keys")
    children = [
        *(properties or {}).values(),
        *([items] if items else []),
        *([additional] if isinstance(additional, Node) else []),
    ]
    embedded = raw.get("x-kubernetes-embedded-resource") is True
    list_type = str(raw.get("x-kubernetes-list-type") or "")
    all_of, any_of, one_of = sub("allOf"), sub("anyOf"), sub("oneOf")
    not_node = parse(not_raw) if isinstance(not_raw, Mapping) else None
    return Node(
        type=type_,
        types=types,
        format=fmt,
        raw_format=raw_format,
        nullable=raw.get("nullable") is True,
        default=raw.get("default", NO_DEFAULT),
        enum=enum,
        maximum=to_num(raw.get("maximum")),
        exclusive_maximum=raw.get("exclusiveMaximum") is True,
        minimum=to_num(raw.get("minimum")),
        exclusive_minimum=raw.get("exclusiveMinimum") is True,
        multiple_of=to_num(raw.get("multipleOf")),
        max_length=to_int(raw.get("maxLength")),
        min_length=to_int(raw.get("minLength")),
        pattern=pattern,
        pattern_re=_compile_pattern(pattern) if pattern else None,
        max_items=to_int(raw.get("maxItems")),
        min_items=to_int(raw.get("minItems")),
        unique_items=raw.get("uniqueItems") is True,
        max_properties=to_int(raw.get("maxProperties")),
        min_properties=to_int(raw.get("minProperties")),
        required=tuple(str(r) for r in required_raw) if isinstance(required_raw, list) else (),
        properties=properties,
        items=items,
        additional_properties=additional,
        all_of=all_of,
        any_of=any_of,
        one_of=one_of,
        not_=not_node,
        preserve_unknown=raw.get("x-kubernetes-preserve-unknown-fields") is True,
        embedded_resource=embedded,
        int_or_string=int_or_string,
        list_type=list_type,
        list_map_keys=tuple(str(k) for k in keys_raw) if isinstance(keys_raw, list) else (),
        map_type=str(raw.get("x-kubernetes-map-type") or ""),
        rules=tuple(rules),
        raw=raw,
        ok_kinds=_ok_kinds(types, raw.get("nullable") is True),
        combinators=bool(all_of or any_of or one_of or not_node is not None),
        string_checks=bool(
            pattern or raw.get("maxLength") is not None or raw.get("minLength") is not None or fmt
        ),
        number_checks=any(raw.get(k) is not None for k in ("maximum", "minimum", "multipleOf")),
        enum_keys=_enum_keys(enum),
        subtree_embedded=embedded or any(c.subtree_embedded for c in children),
        subtree_list_types=list_type in ("set", "map") or any(c.subtree_list_types for c in children),
    )


def _ok_kinds(types: tuple[str, ...], nullable: bool) -> frozenset[str] | None:
    if not types:
        return None
    kinds = set(types)
    if "number" in kinds:
        kinds.add("integer")
    if nullable:
        kinds.add("null")
    return frozenset(kinds)


def _enum_keys(enum: tuple[Any, ...] | None) -> frozenset[Any] | None:
    """(kind, value) pairs for an all-string/bool enum, for O(1) membership; None otherwise."""
    if enum is None or not all(isinstance(v, str | bool) for v in enum):
        return None
    return frozenset((type(v), v) for v in enum)


# --- structural invariants (pkg/apiserver/schema/validation.go) -----------------------------------

_ROOT, _ITEM, _FIELD = 0, 1, 2


def key_path(path: str, key: str) -> str:
    """Go's ``field.Path.Key``: ``path[key]``."""
    return f"{path}[{key}]"


def _is_int_or_string_any_of(any_of: Any) -> bool:
    return (
        isinstance(any_of, list)
        and len(any_of) == 2
        and any_of[0] == {"type": "integer"}
        and any_of[1] == {"type": "string"}
    )


def validate_structural(raw: Mapping[str, Any], path: str) -> list[FieldError]:
    """Kube's ``ValidateStructural`` on a raw schema dict; errors sorted like kube sorts them."""
    errs: list[FieldError] = []
    _invariants(raw, _ROOT, path, errs)
    _completeness(raw, path, errs)
    errs.sort(key=lambda e: e.message)
    return errs


def _invariants(s: Mapping[str, Any], lvl: int, path: str, errs: list[FieldError]) -> None:
    type_ = s.get("type", "")
    items = s.get("items")
    if type_ == "array" and items is None:
        errs.append(fe.required(path + ".items", "must be specified"))
    if isinstance(items, Mapping):
        _invariants(items, _ITEM, path + ".items", errs)
    props = s.get("properties")
    if isinstance(props, Mapping):
        for k, v in props.items():
            if isinstance(v, Mapping):
                _invariants(v, _FIELD, key_path(path + ".properties", k), errs)
    ap = s.get("additionalProperties")
    if ap is not None:
        if lvl == _ROOT:
            errs.append(fe.forbidden(path + ".additionalProperties", "must not be used at the root"))
        if isinstance(ap, Mapping):
            _invariants(ap, _FIELD, path + ".additionalProperties", errs)

    int_or_string = s.get("x-kubernetes-int-or-string") is True
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    embedded = s.get("x-kubernetes-embedded-resource") is True
    if int_or_string and preserve:
        errs.append(
            fe.invalid(
                path + ".x-kubernetes-preserve-unknown-fields",
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    if int_or_string and embedded:
        errs.append(
            fe.invalid(
                path + ".x-kubernetes-embedded-resource",
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )

    skip_any_of = _is_int_or_string_any_of(s.get("anyOf"))
    all_of = s.get("allOf")
    skip_first_all_of_any_of = (
        isinstance(all_of, list)
        and len(all_of) >= 1
        and isinstance(all_of[0], Mapping)
        and _is_int_or_string_any_of(all_of[0].get("anyOf"))
    )
    _value_validation(s, skip_any_of, skip_first_all_of_any_of, lvl, path, errs, allow_cel=True)

    check_metadata = lvl == _ROOT or embedded
    if embedded and type_ != "object":
        if not type_:
            errs.append(
                fe.required(path + ".type", "must be object if x-kubernetes-embedded-resource is true")
            )
        else:
            errs.append(
                fe.invalid(path + ".type", type_, "must be object if x-kubernetes-embedded-resource is true")
            )
    elif not type_ and not int_or_string and not preserve:
        detail = {
            _ROOT: "must not be empty at the root",
            _ITEM: "must not be empty for specified array items",
            _FIELD: "must not be empty for specified object fields",
        }[lvl]
        errs.append(fe.required(path + ".type", detail))
    if embedded and ap is not None:
        errs.append(
            fe.forbidden(
                path + ".additionalProperties", "must not be used if x-kubernetes-embedded-resource is set"
            )
        )
    if lvl == _ROOT and type_ and type_ != "object":
        errs.append(fe.invalid(path + ".type", type_, "must be object at the root"))

    if isinstance(props, Mapping):
        for name in ("kind", "apiVersion"):
            sub = props.get(name)
            if isinstance(sub, Mapping) and check_metadata and sub.get("type", "") != "string":
                errs.append(
                    fe.invalid(
                        key_path(path + ".properties", name) + ".type", sub.get("type", ""), "must be string"
                    )
                )
        meta = props.get("metadata")
        if isinstance(meta, Mapping):
            mpath = key_path(path + ".properties", "metadata")
            if check_metadata and meta.get("type", "") != "object":
                errs.append(fe.invalid(mpath + ".type", meta.get("type", ""), "must be object"))
            if lvl == _ROOT:
                rest = {k: v for k, v in meta.items() if k not in ("type", "default", "properties")}
                mprops = meta.get("properties")
                extra_props = isinstance(mprops, Mapping) and not set(mprops) <= {"name", "generateName"}
                if rest or extra_props:
                    errs.append(
                        fe.forbidden(
                            mpath,
                            "must not specify anything other than name and generateName, "
                            "but metadata is implicitly specified",
                        )
                    )
    if embedded and not preserve and not props:
        errs.append(
            fe.required(
                path + ".properties",
                "must not be empty if x-kubernetes-embedded-resource is true without "
                "x-kubernetes-preserve-unknown-fields",
            )
        )


def _value_validation(
    s: Mapping[str, Any],
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    lvl: int,
    path: str,
    errs: list[FieldError],
    allow_cel: bool,
) -> None:
    if not skip_any_of:
        for i, v in enumerate(s.get("anyOf") or ()):
            _nested(v, False, lvl, f"{path}.anyOf[{i}]", errs)
    for i, v in enumerate(s.get("allOf") or ()):
        _nested(v, skip_first_all_of_any_of and i == 0, lvl, f"{path}.allOf[{i}]", errs)
    for i, v in enumerate(s.get("oneOf") or ()):
        _nested(v, False, lvl, f"{path}.oneOf[{i}]", errs)
    if isinstance(s.get("not"), Mapping):
        _nested(s["not"], False, lvl, path + ".not", errs)
    pattern = s.get("pattern")
    if isinstance(pattern, str) and pattern and _compile_pattern(pattern) is None:
        errs.append(
            fe.invalid(
                path + ".pattern",
                pattern,
                f"must be a valid regular expression, but isn't: error parsing regexp: invalid pattern `{pattern}`",
            )
        )


def _nested(v: Any, skip_any_of: bool, lvl: int, path: str, errs: list[FieldError]) -> None:
    if not isinstance(v, Mapping):
        return
    _value_validation(v, skip_any_of, False, lvl, path, errs, allow_cel=False)
    if isinstance(v.get("items"), Mapping):
        _nested(v["items"], False, lvl, path + ".items", errs)
    props = v.get("properties")
    if isinstance(props, Mapping):
        for k, sub in props.items():
            _nested(sub, False, _FIELD, key_path(path + ".properties", k), errs)
    checks: tuple[tuple[str, bool, str], ...] = (
        ("type", bool(v.get("type")), "must be empty to be structural"),
        (
            "additionalProperties",
            v.get("additionalProperties") is not None,
            "must be undefined to be structural",
        ),
        ("default", v.get("default") is not None, "must be undefined to be structural"),
        ("title", bool(v.get("title")), "must be empty to be structural"),
        ("description", bool(v.get("description")), "must be empty to be structural"),
        ("nullable", v.get("nullable") is True, "must be false to be structural"),
        (
            "x-kubernetes-preserve-unknown-fields",
            v.get("x-kubernetes-preserve-unknown-fields") is True,
            "must be false to be structural",
        ),
        (
            "x-kubernetes-embedded-resource",
            v.get("x-kubernetes-embedded-resource") is True,
            "must be false to be structural",
        ),
        (
            "x-kubernetes-int-or-string",
            v.get("x-kubernetes-int-or-string") is True,
            "must be false to be structural",
        ),
        (
            "x-kubernetes-list-map-keys",
            bool(v.get("x-kubernetes-list-map-keys")),
            "must be empty to be structural",
        ),
        (
            "x-kubernetes-list-type",
            v.get("x-kubernetes-list-type") is not None,
            "must be undefined to be structural",
        ),
        (
            "x-kubernetes-map-type",
            v.get("x-kubernetes-map-type") is not None,
            "must be undefined to be structural",
        ),
        (
            "x-kubernetes-validations",
            bool(v.get("x-kubernetes-validations")),
            "must be empty to be structural",
        ),
    )
    for key, bad, detail in checks:
        if bad:
            errs.append(fe.forbidden(f"{path}.{key}", detail))
    if isinstance(props, Mapping) and "metadata" in props:
        errs.append(
            fe.forbidden(
                key_path(path + ".properties", "metadata"), "must not be specified in a nested context"
            )
        )


def _completeness(s: Mapping[str, Any], path: str, errs: list[FieldError]) -> None:
    """Every field or items named in a value validation must exist in the structure."""

    def check(nested: Any, structure: Mapping[str, Any], spath: str, where: str) -> None:
        if not isinstance(nested, Mapping):
            return
        nprops = nested.get("properties")
        if isinstance(nprops, Mapping):
            sprops = structure.get("properties")
            sprops = sprops if isinstance(sprops, Mapping) else {}
            for k, sub in nprops.items():
                if k not in sprops:
                    if isinstance(structure.get("additionalProperties"), Mapping):
                        check(sub, structure["additionalProperties"], spath, f"{where}.properties[{k}]")
                        continue
                    errs.append(
                        fe.required(
                            key_path(spath + ".properties", k),
                            f"because it is defined in {where}.properties[{k}]",
                        )
                    )
                else:
                    check(sub, sprops[k], key_path(spath + ".properties", k), f"{where}.properties[{k}]")
        if isinstance(nested.get("items"), Mapping):
            sitems = structure.get("items")
            if not isinstance(sitems, Mapping):
                errs.append(fe.required(spath + ".items", f"because it is defined in {where}.items"))
            else:
                check(nested["items"], sitems, spath + ".items", f"{where}.items")
        for key in ("allOf", "anyOf", "oneOf"):
            for i, sub in enumerate(nested.get(key) or ()):
                check(sub, structure, spath, f"{where}.{key}[{i}]")
        if isinstance(nested.get("not"), Mapping):
            check(nested["not"], structure, spath, f"{where}.not")

    def walk(node: Any, npath: str) -> None:
        if not isinstance(node, Mapping):
            return
        for key in ("allOf", "anyOf", "oneOf"):
            for i, sub in enumerate(node.get(key) or ()):
                check(sub, node, npath, f"{key}[{i}]")
        if isinstance(node.get("not"), Mapping):
            check(node["not"], node, npath, "not")
        props = node.get("properties")
        if isinstance(props, Mapping):
            for k, v in props.items():
                walk(v, key_path(npath + ".properties", k))
        walk(node.get("items"), npath + ".items")
        walk(node.get("additionalProperties"), npath + ".additionalProperties")

    walk(s, path)
