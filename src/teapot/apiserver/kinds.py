"""Kind-specific rules of the built-in kinds the server stores.

Why it exists: a few built-in kinds carry behaviour beyond generic objects — a Namespace starts
Active with the ``kubernetes`` finalizer, a Secret's ``stringData`` folds into base64 ``data``, a
CustomResourceDefinition must be valid, gets ``Established`` and changes what the server serves,
bindings' ``roleRef`` is immutable. These hooks run inside ``ObjectService`` before each write is
validated and after it is committed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from teapot.apiserver.errors import Cause
from teapot.apiserver.meta import now_rfc3339
from teapot.apiserver.resources import ResourceInfo

Obj = dict[str, Any]
CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def _condition(ctype: str, status: str, reason: str, message: str) -> Obj:
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now_rfc3339(),
    }


class BuiltinKinds:
    """``KindHooks`` for Namespace, Secret, CRD and RBAC kinds."""

    def __init__(
        self,
        validate_crd: Callable[[Obj], list[Cause]] | None = None,
        on_crd_change: Callable[[str, Obj | None], None] | None = None,
        on_rbac_change: Callable[[], None] | None = None,
    ) -> None:
        self.validate_crd = validate_crd
        self.on_crd_change = on_crd_change
        self.on_rbac_change = on_rbac_change

    def before_write(self, info: ResourceInfo, obj: Obj, old: Obj | None) -> list[Cause]:
        if not info.builtin:
            return []
        key = (info.group, info.kind)
        if key == ("", "Namespace"):
            spec = obj.setdefault("spec", {})
            if old is None and "finalizers" not in spec:
                spec["finalizers"] = ["kubernetes"]
            status = obj.setdefault("status", {})
            if old is not None and "phase" not in status:
                status["phase"] = (old.get("status") or {}).get("phase", "Active")
            status.setdefault("phase", "Active")
            return []
        if key == ("", "Secret"):
            return self._secret(obj)
        if key == ("", "ConfigMap"):
            return self._configmap(obj)
        if key == ("apiextensions.k8s.io", "CustomResourceDefinition"):
            return self._crd(obj, old)
        binding = info.group == "rbac.authorization.k8s.io" and info.kind.endswith("Binding")
        if binding and old is not None and obj.get("roleRef") != old.get("roleRef"):
            return [Cause("FieldValueInvalid", "roleRef: Invalid value: cannot change roleRef", "roleRef")]
        return []

    def after_write(self, info: ResourceInfo, obj: Obj | None, old: Obj | None) -> None:
        if not info.builtin:
            return
        if info.group == "apiextensions.k8s.io" and self.on_crd_change is not None:
            name = ((obj or old or {}).get("metadata") or {}).get("name", "")
            self.on_crd_change(name, obj)
        elif info.group == "rbac.authorization.k8s.io" and self.on_rbac_change is not None:
            self.on_rbac_change()

    # -- kinds ----------------------------------------------------------------------------------------
    @staticmethod
    def _secret(obj: Obj) -> list[Cause]:
        causes: list[Cause] = []
        data = obj.get("data")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            return [
                Cause("FieldValueTypeInvalid", "data: Invalid value: must be a map of base64 strings", "data")
            ]
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
        for k, v in data.items():
            if not isinstance(v, str):
                causes.append(
                    Cause(
                        "FieldValueTypeInvalid",
                        f"data[{k}]: Invalid value: must be a base64 string",
                        f"data[{k}]",
                    )
                )
                continue
            try:
                base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError):
                causes.append(
                    Cause("FieldValueInvalid", f"data[{k}]: Invalid value: illegal base64 data", f"data[{k}]")
                )
        if data:
            obj["data"] = data
        obj.setdefault("type", "Opaque")
        return causes

    @staticmethod
    def _configmap(obj: Obj) -> list[Cause]:
        causes: list[Cause] = []
        for field in ("data", "binaryData"):
            value = obj.get(field)
            if value is not None and not isinstance(value, dict):
                causes.append(Cause("FieldValueTypeInvalid", f"{field}: Invalid value: must be a map", field))
            elif isinstance(value, dict):
                for k, v in value.items():
                    if not isinstance(v, str):
                        causes.append(
                            Cause(
                                "FieldValueTypeInvalid",
                                f"{field}[{k}]: Invalid value: must be a string",
                                f"{field}[{k}]",
                            )
                        )
        return causes

    def _crd(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [Cause("FieldValueRequired", "spec: Required value", "spec")]
        names = spec.get("names") or {}
        spec.setdefault("conversion", {"strategy": "None"})
        for v in spec.get("versions") or []:
            if isinstance(v, dict):
                v.setdefault("served", True)
        if isinstance(names, dict):
            names.setdefault("singular", str(names.get("kind", "")).lower())
            names.setdefault("listKind", f"{names.get('kind', '')}List")
        causes: list[Cause] = []
        expected = f"{names.get('plural', '')}.{spec.get('group', '')}"
        name = (obj.get("metadata") or {}).get("name", "")
        if name != expected:
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f'metadata.name: Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
                    "metadata.name",
                )
            )
        if old is not None:
            old_spec = old.get("spec") or {}
            if old_spec.get("scope") != spec.get("scope"):
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f'spec.scope: Invalid value: "{spec.get("scope")}": field is immutable',
                        "spec.scope",
                    )
                )
        if self.validate_crd is not None:
            causes += self.validate_crd(obj)
        if not causes:
            status = obj.setdefault("status", {})
            status["acceptedNames"] = {k: v for k, v in names.items()}
            status["storedVersions"] = sorted(
                set((old or {}).get("status", {}).get("storedVersions") or [])
                | {v["name"] for v in spec.get("versions") or [] if v.get("storage")}
            )
            terminating = bool((obj.get("metadata") or {}).get("deletionTimestamp"))
            conds = [
                _condition("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                _condition(
                    "Established", "True", "InitialNamesAccepted", "the initial names have been accepted"
                ),
            ]
            if terminating:
                conds.append(
                    _condition(
                        "Terminating",
                        "True",
                        "InstanceDeletionInProgress",
                        "CustomResource deletion is in progress",
                    )
                )
            old_conds = {c.get("type"): c for c in (old or {}).get("status", {}).get("conditions") or []}
            for c in conds:
                prev = old_conds.get(c["type"])
                if prev and prev.get("status") == c["status"]:
                    c["lastTransitionTime"] = prev.get("lastTransitionTime", c["lastTransitionTime"])
            status["conditions"] = conds
            meta = obj.setdefault("metadata", {})
            finalizers = meta.setdefault("finalizers", [])
            if old is None and CRD_CLEANUP_FINALIZER not in finalizers:
                finalizers.append(CRD_CLEANUP_FINALIZER)
        return causes
