"""Validation of ``CustomResourceDefinition`` objects themselves (apiextensions.k8s.io/v1).

Why it exists: before the server starts serving a CRD it must reject definitions kube-apiserver
would reject — bad names, a missing or doubled storage version, schemas that are not structural,
invalid CEL rules, printer columns and selectable fields that point nowhere — with kube's field
paths (``spec.versions[0].schema.openAPIV3Schema.properties[spec].type``) so ``kubectl apply``
shows the same errors against Teapot as against a real cluster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from teapot.apiserver.schema import errors as fe
from teapot.apiserver.schema.apirules import validate_api_rules
from teapot.apiserver.schema.compiled import compile_schema
from teapot.apiserver.schema.errors import FieldError, SchemaError
from teapot.apiserver.schema.structural import Node

_DNS1123_LABEL: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL: Final = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

_DNS1123_LABEL_MSG: Final = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1035_LABEL_MSG: Final = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1123_SUBDOMAIN_MSG: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_COLUMN_TYPES: Final = ["boolean", "date", "integer", "number", "string"]
_COLUMN_FORMATS: Final = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password"]
_SELECTABLE_TYPES: Final = ("boolean", "integer", "string")
MAX_SELECTABLE_FIELDS: Final = 8


def _label(value: Any, path: str, errs: list[FieldError], pattern: re.Pattern[str], msg: str) -> None:
    if not isinstance(value, str) or not value:
        errs.append(fe.required(path, ""))
    elif len(value) > 63:
        errs.append(fe.invalid(path, value, "must be no more than 63 characters"))
    elif not pattern.match(value):
        errs.append(fe.invalid(path, value, msg))


def validate_crd(crd: Mapping[str, Any]) -> list[FieldError]:
    """Everything kube checks on create/update of a v1 CRD that Teapot can check; [] if valid."""
    errs: list[FieldError] = []
    spec = crd.get("spec")
    if not isinstance(spec, Mapping):
        return [fe.required("spec", "")]
    meta = crd.get("metadata") if isinstance(crd.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    names = spec.get("names") if isinstance(spec.get("names"), Mapping) else {}
    assert isinstance(names, Mapping)
    group = spec.get("group")
    plural = names.get("plural")

    if meta.get("name") != f"{plural}.{group}":
        errs.append(
            fe.invalid("metadata.name", meta.get("name", ""), 'must be spec.names.plural+"."+spec.group')
        )

    if not group:
        errs.append(fe.required("spec.group", ""))
    elif not isinstance(group, str) or len(group) > 253 or not _DNS1123_SUBDOMAIN.match(group):
        errs.append(fe.invalid("spec.group", group, _DNS1123_SUBDOMAIN_MSG))
    elif "." not in group:
        errs.append(fe.invalid("spec.group", group, "should be a domain with at least one dot"))

    scope = spec.get("scope")
    if not scope:
        errs.append(fe.required("spec.scope", ""))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(fe.not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))

    _validate_names(names, errs)

    if spec.get("preserveUnknownFields") is True:
        errs.append(
            fe.invalid(
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                "spec.versions[*].schema instead",
            )
        )

    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        errs.append(fe.required("spec.versions", "must have exactly one version marked as storage version"))
        return errs
    storage = sum(1 for v in versions if isinstance(v, Mapping) and v.get("storage") is True)
    names_seen: set[str] = set()
    unique = True
    for i, version in enumerate(versions):
        vpath = f"spec.versions[{i}]"
        if not isinstance(version, Mapping):
            errs.append(fe.invalid(vpath, version, "must be an object"))
            continue
        name = version.get("name")
        if isinstance(name, str) and name in names_seen:
            unique = False
        names_seen.add(str(name))
        _label(name, vpath + ".name", errs, _DNS1035_LABEL, _DNS1035_LABEL_MSG)
        for flag in ("served", "storage"):
            if not isinstance(version.get(flag), bool):
                errs.append(fe.required(f"{vpath}.{flag}", ""))
        _validate_version(version, vpath, errs)
    if not unique:
        errs.append(fe.invalid("spec.versions", versions, "must contain unique version names"))
    if storage != 1:
        errs.append(
            fe.invalid("spec.versions", versions, "must have exactly one version marked as storage version")
        )
    if not any(isinstance(v, Mapping) and v.get("served") is True for v in versions):
        errs.append(fe.invalid("spec.versions", versions, "must have at least one version marked as served"))

    conversion = spec.get("conversion")
    if isinstance(conversion, Mapping):
        strategy = conversion.get("strategy")
        if strategy not in (None, "None", "Webhook"):
            errs.append(fe.not_supported("spec.conversion.strategy", strategy, ["None", "Webhook"]))
    return errs


def _validate_names(names: Mapping[str, Any], errs: list[FieldError]) -> None:
    _label(names.get("plural"), "spec.names.plural", errs, _DNS1123_LABEL, _DNS1123_LABEL_MSG)
    singular = names.get("singular")
    if singular:
        _label(singular, "spec.names.singular", errs, _DNS1123_LABEL, _DNS1123_LABEL_MSG)
    kind = names.get("kind")
    if not kind:
        errs.append(fe.required("spec.names.kind", ""))
    elif not isinstance(kind, str) or not re.match(r"^[A-Za-z][A-Za-z0-9]*$", kind):
        errs.append(
            fe.invalid(
                "spec.names.kind",
                kind,
                "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
            )
        )
    list_kind = names.get("listKind")
    if list_kind is not None and (
        not isinstance(list_kind, str) or not re.match(r"^[A-Za-z][A-Za-z0-9]*$", list_kind)
    ):
        errs.append(
            fe.invalid(
                "spec.names.listKind",
                list_kind,
                "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
            )
        )
    if isinstance(kind, str) and kind and list_kind == kind:
        errs.append(fe.invalid("spec.names.listKind", list_kind, "kind and listKind may not be the same"))
    for key in ("shortNames", "categories"):
        for i, value in enumerate(names.get(key) or ()):
            _label(value, f"spec.names.{key}[{i}]", errs, _DNS1123_LABEL, _DNS1123_LABEL_MSG)


def _validate_version(version: Mapping[str, Any], vpath: str, errs: list[FieldError]) -> None:
    schema_holder = version.get("schema")
    raw = schema_holder.get("openAPIV3Schema") if isinstance(schema_holder, Mapping) else None
    spath = vpath + ".schema.openAPIV3Schema"
    root: Node | None = None
    if not isinstance(raw, Mapping):
        errs.append(fe.required(spath, "schemas are required"))
    else:
        api_errs = validate_api_rules(raw, spath)
        errs.extend(api_errs)
        try:
            compiled = compile_schema(raw, field_path=spath)
        except SchemaError as exc:
            errs.extend(exc.errors)
        else:
            root = compiled.root
            errs.extend(compiled.validate_default_values(spath))

    for i, col in enumerate(version.get("additionalPrinterColumns") or ()):
        _validate_column(col, f"{vpath}.additionalPrinterColumns[{i}]", errs)

    seen: set[str] = set()
    fields = version.get("selectableFields") or ()
    if len(fields) > MAX_SELECTABLE_FIELDS:
        errs.append(fe.too_many(vpath + ".selectableFields", len(fields), MAX_SELECTABLE_FIELDS))
    for i, sf in enumerate(fields):
        fpath = f"{vpath}.selectableFields[{i}].jsonPath"
        json_path = sf.get("jsonPath") if isinstance(sf, Mapping) else None
        if not json_path:
            errs.append(fe.required(fpath, ""))
            continue
        if json_path in seen:
            errs.append(fe.duplicate(fpath, json_path))
        seen.add(json_path)
        if root is not None:
            _validate_selectable(root, json_path, fpath, errs)

    sub = version.get("subresources")
    if isinstance(sub, Mapping) and isinstance(sub.get("scale"), Mapping):
        scale = sub["scale"]
        spec_path = scale.get("specReplicasPath")
        if not spec_path:
            errs.append(fe.required(vpath + ".subresources.scale.specReplicasPath", ""))
        elif not str(spec_path).startswith(".spec."):
            errs.append(
                fe.invalid(
                    vpath + ".subresources.scale.specReplicasPath",
                    spec_path,
                    "should be a json path under .spec",
                )
            )
        status_path = scale.get("statusReplicasPath")
        if not status_path:
            errs.append(fe.required(vpath + ".subresources.scale.statusReplicasPath", ""))
        elif not str(status_path).startswith(".status."):
            errs.append(
                fe.invalid(
                    vpath + ".subresources.scale.statusReplicasPath",
                    status_path,
                    "should be a json path under .status",
                )
            )


def _validate_column(col: Any, cpath: str, errs: list[FieldError]) -> None:
    if not isinstance(col, Mapping):
        errs.append(fe.invalid(cpath, col, "must be an object"))
        return
    if not col.get("name"):
        errs.append(fe.required(cpath + ".name", ""))
    col_type = col.get("type")
    if not col_type:
        errs.append(fe.required(cpath + ".type", ""))
    elif col_type not in _COLUMN_TYPES:
        errs.append(fe.not_supported(cpath + ".type", col_type, _COLUMN_TYPES))
    col_format = col.get("format")
    if col_format and col_format not in _COLUMN_FORMATS:
        errs.append(fe.not_supported(cpath + ".format", col_format, _COLUMN_FORMATS))
    json_path = col.get("jsonPath")
    if not json_path:
        errs.append(fe.required(cpath + ".jsonPath", ""))
    elif not _simple_json_path(str(json_path)):
        errs.append(fe.invalid(cpath + ".jsonPath", json_path, "must be a simple json path starting with ."))


def _simple_json_path(path: str) -> bool:
    """A printer-column path: ``.a.b``, ``.a[0].b``, ``.a['k.x']`` or ``{.a.b}``."""
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    return bool(re.fullmatch(r"(\.[A-Za-z0-9_\-/]+|\[\d+\]|\['[^']*'\]|\[\*\])+", path))


def _validate_selectable(root: Node, json_path: str, fpath: str, errs: list[FieldError]) -> None:
    if not json_path.startswith("."):
        errs.append(fe.invalid(fpath, json_path, "must be a simple json path starting with ."))
        return
    node: Node | None = root
    for part in json_path[1:].split("."):
        if node is None or node.properties is None or part not in node.properties:
            errs.append(fe.invalid(fpath, json_path, "is an invalid path: does not refer to a valid field"))
            return
        node = node.properties[part]
    assert node is not None
    if node.type not in _SELECTABLE_TYPES:
        errs.append(
            fe.invalid(
                fpath,
                json_path,
                f"must point to a field of type one of [{' '.join(_SELECTABLE_TYPES)}]",
            )
        )
