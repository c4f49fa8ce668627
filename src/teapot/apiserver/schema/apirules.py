"""Per-node rules the CRD API imposes on schemas, beyond structural-ness.

Why it exists: ``ValidateCustomResourceDefinitionOpenAPISchema`` rejects schema features that
are structurally fine but unsupported or unsafe in CRDs — ``$ref``, ``additionalProperties:
false``, ``uniqueItems: true`` (quadratic), malformed list/map extensions, bad rule metadata. They
apply when a CRD is created or updated (:func:`..crd.validate_crd`), not when an already-stored
schema is compiled, so they live apart from :mod:`.structural`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from teapot.apiserver.schema import errors as fe
from teapot.apiserver.schema.errors import FieldError
from teapot.apiserver.schema.structural import key_path as _key
from teapot.apiserver.schema.structural import to_int as _int
from teapot.apiserver.schema.structural import to_num as _num

_SCALARS: Final = frozenset({"string", "integer", "number", "boolean"})


def validate_api_rules(raw: Mapping[str, Any], path: str) -> list[FieldError]:
    """The per-node checks ``ValidateCustomResourceDefinitionOpenAPISchema`` does for v1 CRDs."""
    errs: list[FieldError] = []
    _api_rules(raw, path, errs)
    return errs


def _api_rules(s: Any, path: str, errs: list[FieldError]) -> None:
    if not isinstance(s, Mapping):
        return
    unsupported = (
        ("$ref", "$ref is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("additionalItems", "additionalItems is not supported"),
    )
    for key, detail in unsupported:
        if key in s:
            errs.append(fe.forbidden(f"{path}.{key}", detail))
    type_ = s.get("type", "")
    if type_ and type_ not in ("object", "array", "string", "integer", "number", "boolean", "null"):
        errs.append(
            fe.not_supported(
                path + ".type", type_, ["array", "boolean", "integer", "number", "object", "string"]
            )
        )
    if type_ == "null":
        errs.append(fe.forbidden(path + ".type", 'type cannot be set to "null"'))
    if s.get("uniqueItems") is True:
        errs.append(
            fe.forbidden(
                path + ".uniqueItems",
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    ap = s.get("additionalProperties")
    if ap is False:
        errs.append(
            fe.forbidden(path + ".additionalProperties", "additionalProperties cannot be set to false")
        )
    if ap is not None and s.get("properties"):
        errs.append(
            fe.forbidden(
                path + ".additionalProperties", "additionalProperties and properties are mutual exclusive"
            )
        )
    for key in ("maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties"):
        value = s.get(key)
        if value is not None and (_int(value) is None or (_int(value) or 0) < 0):
            errs.append(fe.invalid(f"{path}.{key}", value, "must be a non-negative integer"))
    if "multipleOf" in s:
        mo = _num(s.get("multipleOf"))
        if mo is None or mo <= 0:
            errs.append(fe.invalid(path + ".multipleOf", s.get("multipleOf"), "must be greater than zero"))
    for exclusive, bound in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
        if s.get(exclusive) is True and bound not in s:
            errs.append(fe.required(f"{path}.{bound}", f"{bound} must be set when {exclusive} is true"))
    required = s.get("required")
    if required is not None:
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            errs.append(fe.invalid(path + ".required", required, "must be a list of strings"))
        elif len(set(required)) != len(required):
            errs.append(fe.invalid(path + ".required", required, "must not contain duplicates"))

    list_type = s.get("x-kubernetes-list-type")
    if list_type is not None:
        lt_path = path + ".x-kubernetes-list-type"
        items = s.get("items") if isinstance(s.get("items"), Mapping) else {}
        assert isinstance(items, Mapping)
        if type_ != "array":
            errs.append(fe.invalid(lt_path, list_type, "must only be used if type is array"))
        elif list_type not in ("atomic", "set", "map"):
            errs.append(fe.not_supported(lt_path, list_type, ["atomic", "set", "map"]))
        elif list_type == "set":
            item_type = items.get("type", "")
            atomic_obj = item_type in ("object", "array") and (
                items.get("x-kubernetes-map-type") == "atomic"
                or items.get("x-kubernetes-list-type") == "atomic"
            )
            if item_type not in _SCALARS and not atomic_obj and not items.get("x-kubernetes-int-or-string"):
                errs.append(
                    fe.invalid(
                        path + ".items.type",
                        item_type,
                        "must be a scalar type or an atomic object/array if x-kubernetes-list-type is set",
                    )
                )
        elif list_type == "map":
            keys = s.get("x-kubernetes-list-map-keys")
            if not keys:
                errs.append(
                    fe.required(
                        path + ".x-kubernetes-list-map-keys",
                        "must not be empty if x-kubernetes-list-type is map",
                    )
                )
            if items.get("type") != "object":
                errs.append(
                    fe.invalid(
                        path + ".items.type",
                        items.get("type", ""),
                        "must be object if x-kubernetes-list-type is map",
                    )
                )
            elif isinstance(keys, list):
                iprops = items.get("properties") if isinstance(items.get("properties"), Mapping) else {}
                assert isinstance(iprops, Mapping)
                ireq = items.get("required") or []
                for i, k in enumerate(keys):
                    kpath = f"{path}.x-kubernetes-list-map-keys[{i}]"
                    prop = iprops.get(k)
                    if not isinstance(prop, Mapping):
                        errs.append(fe.invalid(kpath, k, "entries must all be names of item properties"))
                        continue
                    if prop.get("type") not in _SCALARS and not prop.get("x-kubernetes-int-or-string"):
                        errs.append(
                            fe.invalid(
                                _key(path + ".items.properties", k) + ".type",
                                prop.get("type", ""),
                                "must be a scalar type if the field is a map key",
                            )
                        )
                    if k not in ireq and "default" not in prop:
                        errs.append(
                            fe.required(
                                _key(path + ".items.properties", k),
                                "all map keys must be required or have a default value",
                            )
                        )
    if "x-kubernetes-list-map-keys" in s and list_type != "map":
        errs.append(
            fe.forbidden(path + ".x-kubernetes-list-map-keys", 'requires x-kubernetes-list-type to be "map"')
        )
    map_type = s.get("x-kubernetes-map-type")
    if map_type is not None:
        mt_path = path + ".x-kubernetes-map-type"
        if type_ != "object":
            errs.append(fe.invalid(mt_path, map_type, "must only be used if type is object"))
        elif map_type not in ("granular", "atomic"):
            errs.append(fe.not_supported(mt_path, map_type, ["granular", "atomic"]))

    for i, entry in enumerate(s.get("x-kubernetes-validations") or ()):
        rpath = f"{path}.x-kubernetes-validations[{i}]"
        if not isinstance(entry, Mapping):
            errs.append(fe.invalid(rpath, entry, "must be an object"))
            continue
        if not str(entry.get("rule") or "").strip():
            errs.append(fe.required(rpath + ".rule", "rule is not specified"))
        message = entry.get("message")
        if isinstance(message, str) and message and not message.strip():
            errs.append(fe.invalid(rpath + ".message", message, "message must be non-empty if specified"))
        if isinstance(message, str) and "\n" in message:
            errs.append(fe.invalid(rpath + ".message", message, "message must not contain line breaks"))
        reason = entry.get("reason")
        reasons = ["FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"]
        if reason is not None and reason not in reasons:
            errs.append(fe.not_supported(rpath + ".reason", reason, reasons))

    props = s.get("properties")
    if isinstance(props, Mapping):
        for k, v in props.items():
            _api_rules(v, _key(path + ".properties", k), errs)
    _api_rules(s.get("items"), path + ".items", errs)
    if isinstance(ap, Mapping):
        _api_rules(ap, path + ".additionalProperties", errs)
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(s.get(key) or ()):
            _api_rules(sub, f"{path}.{key}[{i}]", errs)
    _api_rules(s.get("not"), path + ".not", errs)
