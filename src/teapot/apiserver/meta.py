"""Object metadata rules: names, labels, annotations, generated names, timestamps.

Why it exists: kube-apiserver validates ``metadata`` the same way for every kind, with fixed
messages (``metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain must consist of …``).
Keeping those rules in one module keeps error texts identical across kinds.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from teapot.apiserver.errors import Cause

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def now_rfc3339(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))


def _subdomain_errors(field: str, value: str) -> list[Cause]:
    if len(value) > 253:
        return [
            Cause(
                "FieldValueInvalid",
                f'{field}: Invalid value: "{value}": must be no more than 253 characters',
                field,
            )
        ]
    if not _DNS1123_SUBDOMAIN.match(value):
        return [
            Cause(
                "FieldValueInvalid",
                f'{field}: Invalid value: "{value}": a lowercase RFC 1123 subdomain must consist of lower case '
                "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
                "(e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                field,
            )
        ]
    return []


def _label_errors(field: str, value: str) -> list[Cause]:
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        return [
            Cause(
                "FieldValueInvalid",
                f'{field}: Invalid value: "{value}": a lowercase RFC 1123 label must consist of lower case '
                "alphanumeric characters or '-', and must start and end with an alphanumeric character "
                "(e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                field,
            )
        ]
    return []


def _path_segment_errors(field: str, value: str) -> list[Cause]:
    if value in (".", "..") or "/" in value or "%" in value:
        return [
            Cause(
                "FieldValueInvalid", f"{field}: Invalid value: \"{value}\": may not contain '/' or '%'", field
            )
        ]
    return []


def name_errors(kind: str, group: str, name: str) -> list[Cause]:
    """Name rules per kind, like kube's ValidateObjectMeta name functions."""
    if group == "rbac.authorization.k8s.io":
        return _path_segment_errors("metadata.name", name)
    if kind == "Namespace":
        return _label_errors("metadata.name", name)
    return _subdomain_errors("metadata.name", name)


def qualified_name_errors(field: str, key: str) -> list[Cause]:
    prefix, _, name = key.rpartition("/")
    msgs: list[Cause] = []
    if prefix:
        msgs += [
            Cause(
                c.reason,
                c.message.replace(f'{field}: Invalid value: "{prefix}"', f'{field}: Invalid value: "{key}"'),
                field,
            )
            for c in _subdomain_errors(field, prefix)
        ]
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        msgs.append(
            Cause(
                "FieldValueInvalid",
                f"{field}: Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' "
                "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
                "or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                field,
            )
        )
    return msgs


def metadata_errors(kind: str, group: str, meta: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        causes.append(
            Cause(
                "FieldValueRequired",
                "metadata.name: Required value: name or generateName is required",
                "metadata.name",
            )
        )
    else:
        causes += name_errors(kind, group, name)
    labels = meta.get("labels")
    if labels is not None:
        if not isinstance(labels, dict):
            causes.append(
                Cause(
                    "FieldValueTypeInvalid",
                    "metadata.labels: Invalid value: must be an object",
                    "metadata.labels",
                )
            )
        else:
            for k, v in labels.items():
                causes += qualified_name_errors("metadata.labels", str(k))
                if not isinstance(v, str) or len(v) > 63 or not _LABEL_VALUE.match(v):
                    causes.append(
                        Cause(
                            "FieldValueInvalid",
                            f'metadata.labels: Invalid value: "{v}": a valid label must be an empty string or consist of '
                            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                            "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                            "metadata.labels",
                        )
                    )
    annotations = meta.get("annotations")
    if annotations is not None:
        if not isinstance(annotations, dict):
            causes.append(
                Cause(
                    "FieldValueTypeInvalid",
                    "metadata.annotations: Invalid value: must be an object",
                    "metadata.annotations",
                )
            )
        else:
            total = 0
            for k, v in annotations.items():
                causes += qualified_name_errors("metadata.annotations", str(k))
                if not isinstance(v, str):
                    causes.append(
                        Cause(
                            "FieldValueTypeInvalid",
                            f"metadata.annotations: Invalid value: {k}: must be a string",
                            "metadata.annotations",
                        )
                    )
                    continue
                total += len(k) + len(v)
            if total > TOTAL_ANNOTATION_SIZE_LIMIT:
                causes.append(
                    Cause(
                        "FieldValueTooLong",
                        f"metadata.annotations: Too long: must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes",
                        "metadata.annotations",
                    )
                )
    finalizers = meta.get("finalizers")
    if finalizers is not None:
        if not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers):
            causes.append(
                Cause(
                    "FieldValueTypeInvalid",
                    "metadata.finalizers: Invalid value: must be a list of strings",
                    "metadata.finalizers",
                )
            )
        else:
            # Like kube: each entry must be a qualified name. Unqualified names that are not standard
            # (e.g. Metal3's "baremetalhost.metal3.io") are accepted — kube only warns about them.
            for i, f in enumerate(finalizers):
                causes += qualified_name_errors(f"metadata.finalizers[{i}]", f) if "/" in f else []
    owners = meta.get("ownerReferences")
    if owners is not None:
        if not isinstance(owners, list):
            causes.append(
                Cause(
                    "FieldValueTypeInvalid",
                    "metadata.ownerReferences: Invalid value: must be a list",
                    "metadata.ownerReferences",
                )
            )
        else:
            controllers = 0
            for i, ref in enumerate(owners):
                path = f"metadata.ownerReferences[{i}]"
                if not isinstance(ref, dict):
                    causes.append(
                        Cause("FieldValueTypeInvalid", f"{path}: Invalid value: must be an object", path)
                    )
                    continue
                for req in ("apiVersion", "kind", "name", "uid"):
                    if not ref.get(req):
                        causes.append(
                            Cause("FieldValueRequired", f"{path}.{req}: Required value", f"{path}.{req}")
                        )
                if ref.get("controller"):
                    controllers += 1
            if controllers > 1:
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        "metadata.ownerReferences: Invalid value: Only one reference can have Controller set to true",
                        "metadata.ownerReferences",
                    )
                )
    return causes
