"""REST operations of a served resource, rendered as Swagger 2.0 or OpenAPI v3 path items.

Why it exists: clients read more than schemas from the OpenAPI documents. kubectl decides from the
PATCH operation of a group/version/kind whether the server does field validation (it looks for a
``fieldValidation`` query parameter on the operation carrying ``x-kubernetes-group-version-kind``)
and, for built-in kinds, whether strategic merge patch is accepted (the operation's request body
content types). Each operation is described once, as an ``Operation``, and rendered in both dialects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from teapot.apiserver.openapi.definitions import (
    DELETE_OPTIONS,
    PATCH,
    SCALE,
    STATUS,
    V2_PREFIX,
    V3_PREFIX,
    Schema,
)
from teapot.apiserver.resources import ResourceInfo

PATCH_TYPES_CUSTOM = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
)
PATCH_TYPES_BUILTIN = (*PATCH_TYPES_CUSTOM, "application/strategic-merge-patch+json")
PRODUCES = ("application/json", "application/yaml")


@dataclass(frozen=True)
class Param:
    """One parameter; ``type`` is a Swagger/JSON-schema primitive type."""

    name: str
    location: str  # "query" | "path"
    type: str
    description: str
    required: bool = False
    unique: bool = False


def _q(name: str, type_: str, description: str) -> Param:
    return Param(name, "query", type_, description, unique=True)


PRETTY = _q(
    "pretty",
    "string",
    "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent "
    "indicates a browser or command-line HTTP tool (curl and wget).",
)
DRY_RUN = _q(
    "dryRun",
    "string",
    "When present, indicates that modifications should not be persisted. An invalid or unrecognized "
    "dryRun directive will result in an error response and no further processing of the request. "
    "Valid values are: - All: all dry run stages will be processed",
)
FIELD_MANAGER = _q(
    "fieldManager",
    "string",
    "fieldManager is a name associated with the actor or entity that is making these changes. The "
    "value must be less than or 128 characters long, and only contain printable characters, as "
    "defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests "
    "(application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, "
    "StrategicMergePatch).",
)
FIELD_VALIDATION = _q(
    "fieldValidation",
    "string",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) "
    "containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown "
    "fields that are silently dropped from the object, and will ignore all but the last duplicate "
    "field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This "
    "will send a warning via the standard warning response header for each unknown field that is "
    "dropped from the object, and for each duplicate field that is encountered. The request will "
    "still succeed if there are no other errors, and will only persist the last of any duplicate "
    "fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest "
    "error if any unknown fields would be dropped from the object, or if any duplicate fields are "
    "present. The error returned from the server will contain all unknown and duplicate fields "
    "encountered.",
)
FORCE = _q(
    "force",
    "boolean",
    'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields '
    "owned by other people. Force flag must be unset for non-apply patch requests.",
)
LIST_PARAMS = (
    _q(
        "allowWatchBookmarks",
        "boolean",
        'allowWatchBookmarks requests watch events with type "BOOKMARK". Servers that do not '
        "implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion.",
    ),
    _q(
        "continue",
        "string",
        "The continue option should be set when retrieving more results from the server. Since this "
        "value is server defined, clients may only use the continue value from a previous query result "
        "with identical query parameters (except for the value of continue).",
    ),
    _q(
        "fieldSelector",
        "string",
        "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    ),
    _q(
        "labelSelector",
        "string",
        "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    ),
    _q(
        "limit",
        "integer",
        "limit is a maximum number of responses to return for a list call. If more items exist, the "
        "server will set the `continue` field on the list metadata to a value that can be used with "
        "the same initial query to retrieve the next set of results.",
    ),
    _q(
        "resourceVersion",
        "string",
        "resourceVersion sets a constraint on what resource versions a request may be served from. "
        "See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for "
        "details. Defaults to unset",
    ),
    _q(
        "resourceVersionMatch",
        "string",
        "resourceVersionMatch determines how resourceVersion is applied to list calls.",
    ),
    _q(
        "sendInitialEvents",
        "boolean",
        "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch "
        "stream will begin with synthetic events to produce the current state of objects in the "
        "collection.",
    ),
    _q(
        "timeoutSeconds",
        "integer",
        "Timeout for the list/watch call. This limits the duration of the call, regardless of any "
        "activity or inactivity.",
    ),
)
WATCH = _q(
    "watch",
    "boolean",
    "Watch for changes to the described resources and return them as a stream of add, update, and "
    "remove notifications. Specify resourceVersion.",
)
DELETE_PARAMS = (
    DRY_RUN,
    _q(
        "gracePeriodSeconds",
        "integer",
        "The duration in seconds before the object should be deleted. Value must be non-negative "
        "integer. The value zero indicates delete immediately.",
    ),
    _q(
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        "boolean",
        "if set to true, it will trigger an unsafe deletion of the resource in case the normal "
        "deletion flow fails with a corrupt object error.",
    ),
    _q(
        "orphanDependents",
        "boolean",
        "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the "
        "dependent objects be orphaned.",
    ),
    _q(
        "propagationPolicy",
        "string",
        "Whether and how garbage collection will be performed. Either this field or OrphanDependents "
        "may be set, but not both. Acceptable values are: 'Orphan' - orphan the dependents; "
        "'Background' - allow the garbage collector to delete the dependents in the background; "
        "'Foreground' - a cascading policy that deletes all dependents in the foreground.",
    ),
)
NAME = Param("name", "path", "string", "name of the resource", required=True, unique=True)
NAMESPACE = Param(
    "namespace", "path", "string", "object name and auth scope, such as for teams and projects", True, True
)


@dataclass(frozen=True)
class Operation:
    """One HTTP operation on one path, dialect-neutral."""

    method: str  # get | post | put | patch | delete
    operation_id: str
    action: str  # x-kubernetes-action
    description: str
    gvk: tuple[str, str, str]
    params: tuple[Param, ...]
    body: str | None  # definition name of the request body
    body_types: tuple[str, ...]
    responses: tuple[tuple[str, str], ...]  # (status code, definition name)


@dataclass(frozen=True)
class PathItem:
    path: str
    params: tuple[Param, ...]
    operations: tuple[Operation, ...]


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in text.replace("-", ".").split(".") if part)


def group_camel(group: str) -> str:
    """kube's operation-id spelling of a group: ``rbac.authorization.k8s.io`` → ``RbacAuthorization``."""
    if not group:
        return "Core"
    return _camel(group.removesuffix(".k8s.io"))


def tag(resource: ResourceInfo) -> str:
    camel = group_camel(resource.group)
    return f"{camel[:1].lower()}{camel[1:]}_{resource.version}"


def _prefix(resource: ResourceInfo) -> str:
    return f"/api/{resource.version}" if not resource.group else f"/apis/{resource.group}/{resource.version}"


def path_items(resource: ResourceInfo, definition: str, list_definition: str) -> Iterator[PathItem]:
    """The path items serving ``resource`` whose object schema is ``definition``.

    Paths, operation ids and parameters follow kube-apiserver's: collection and item paths (with
    ``namespaces/{namespace}`` for namespaced kinds), a cross-namespace list path, and one path per
    subresource; only operations for the resource's verbs are published.
    """
    verbs = set(resource.verbs)
    gv = group_camel(resource.group) + _camel(resource.version)
    kind = resource.kind
    scope = "Namespaced" if resource.namespaced else ""
    base = _prefix(resource)
    collection = (
        f"{base}/namespaces/{{namespace}}/{resource.resource}"
        if resource.namespaced
        else f"{base}/{resource.resource}"
    )
    scope_params = (NAMESPACE, PRETTY) if resource.namespaced else (PRETTY,)
    patch_types = PATCH_TYPES_BUILTIN if resource.builtin else PATCH_TYPES_CUSTOM
    write_params = (DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION)

    def op(
        method: str,
        operation_id: str,
        action: str,
        description: str,
        *,
        params: tuple[Param, ...] = (),
        body: str | None = None,
        body_types: tuple[str, ...] = ("*/*",),
        responses: tuple[tuple[str, str], ...],
        gvk: tuple[str, str, str] = (resource.group, resource.version, kind),
    ) -> Operation:
        return Operation(
            method,
            operation_id,
            action,
            description,
            gvk,
            params,
            body,
            body_types if body else (),
            responses,
        )

    ops: list[Operation] = []
    if "list" in verbs:
        ops.append(
            op("get", f"list{gv}{scope}{kind}", "list", f"list or watch objects of kind {kind}",
               params=(*LIST_PARAMS, WATCH), responses=(("200", list_definition),))
        )  # fmt: skip
    if "create" in verbs:
        ops.append(
            op("post", f"create{gv}{scope}{kind}", "post", f"create a {kind}", params=write_params,
               body=definition, responses=(("200", definition), ("201", definition), ("202", definition)))
        )  # fmt: skip
    if "deletecollection" in verbs:
        ops.append(
            op("delete", f"delete{gv}Collection{scope}{kind}", "deletecollection", f"delete collection of {kind}",
               params=(*LIST_PARAMS, *DELETE_PARAMS), body=DELETE_OPTIONS, responses=(("200", STATUS),))
        )  # fmt: skip
    if ops:
        yield PathItem(collection, scope_params, tuple(ops))

    if resource.namespaced and "list" in verbs:
        list_all = op("get", f"list{gv}{kind}ForAllNamespaces", "list", f"list or watch objects of kind {kind}",
                      params=(*LIST_PARAMS, WATCH), responses=(("200", list_definition),))  # fmt: skip
        yield PathItem(f"{base}/{resource.resource}", (PRETTY,), (list_all,))

    item = f"{collection}/{{name}}"
    item_params = (NAME, *scope_params)
    ops = []
    if "get" in verbs:
        ops.append(
            op("get", f"read{gv}{scope}{kind}", "get", f"read the specified {kind}",
               responses=(("200", definition),))
        )  # fmt: skip
    if "update" in verbs:
        ops.append(
            op("put", f"replace{gv}{scope}{kind}", "put", f"replace the specified {kind}", params=write_params,
               body=definition, responses=(("200", definition), ("201", definition)))
        )  # fmt: skip
    if "patch" in verbs:
        ops.append(
            op("patch", f"patch{gv}{scope}{kind}", "patch", f"partially update the specified {kind}",
               params=(*write_params, FORCE), body=PATCH, body_types=patch_types,
               responses=(("200", definition), ("201", definition)))
        )  # fmt: skip
    if "delete" in verbs:
        ops.append(
            op("delete", f"delete{gv}{scope}{kind}", "delete", f"delete a {kind}", params=DELETE_PARAMS,
               body=DELETE_OPTIONS, responses=(("200", STATUS), ("202", STATUS)))
        )  # fmt: skip
    if ops:
        yield PathItem(item, item_params, tuple(ops))

    for sub in sorted(resource.subresources):
        scale = sub == "scale"
        sub_def = SCALE if scale else definition
        sub_gvk = ("autoscaling", "v1", "Scale") if scale else (resource.group, resource.version, kind)
        sub_id = f"{gv}{scope}{kind}{_camel(sub)}"
        ok = (("200", sub_def),)
        sub_ops: list[Operation] = []
        if sub != "finalize":  # kube serves namespaces/{name}/finalize with PUT only
            sub_ops.append(
                op(
                    "get",
                    f"read{sub_id}",
                    "get",
                    f"read {sub} of the specified {kind}",
                    responses=ok,
                    gvk=sub_gvk,
                )
            )
        if "update" in verbs:
            sub_ops.append(
                op("put", f"replace{sub_id}", "put", f"replace {sub} of the specified {kind}", params=write_params,
                   body=sub_def, responses=(*ok, ("201", sub_def)), gvk=sub_gvk)
            )  # fmt: skip
        if "patch" in verbs and sub != "finalize":
            sub_ops.append(
                op("patch", f"patch{sub_id}", "patch", f"partially update {sub} of the specified {kind}",
                   params=(*write_params, FORCE), body=PATCH, body_types=patch_types,
                   responses=(*ok, ("201", sub_def)), gvk=sub_gvk)
            )  # fmt: skip
        yield PathItem(f"{item}/{sub}", item_params, tuple(sub_ops))


def _gvk_ext(gvk: tuple[str, str, str]) -> dict[str, str]:
    return {"group": gvk[0], "kind": gvk[2], "version": gvk[1]}


def _param_v2(p: Param) -> Schema:
    out: Schema = {"description": p.description, "in": p.location, "name": p.name, "type": p.type}
    if p.required:
        out["required"] = True
    if p.unique:
        out["uniqueItems"] = True
    return out


def _param_v3(p: Param) -> Schema:
    schema: Schema = {"type": p.type}
    if p.unique:
        schema["uniqueItems"] = True
    out: Schema = {"description": p.description, "in": p.location, "name": p.name, "schema": schema}
    if p.required:
        out["required"] = True
    return out


def render_v2(item: PathItem, tags: list[str]) -> Schema:
    rendered: Schema = {}
    for op in item.operations:
        params = [_param_v2(p) for p in op.params]
        if op.body is not None:
            params.insert(0, {"in": "body", "name": "body", "required": op.method != "delete",
                              "schema": {"$ref": V2_PREFIX + op.body}})  # fmt: skip
        rendered[op.method] = {
            "consumes": list(op.body_types) or ["*/*"],
            "description": op.description,
            "operationId": op.operation_id,
            "parameters": params,
            "produces": list(PRODUCES),
            "responses": {
                **{
                    code: {"description": _REASONS[code], "schema": {"$ref": V2_PREFIX + ref}}
                    for code, ref in op.responses
                },
                "401": {"description": "Unauthorized"},
            },
            "schemes": ["https"],
            "tags": tags,
            "x-kubernetes-action": op.action,
            "x-kubernetes-group-version-kind": _gvk_ext(op.gvk),
        }
    rendered["parameters"] = [_param_v2(p) for p in item.params]
    return rendered


def render_v3(item: PathItem, tags: list[str]) -> Schema:
    rendered: Schema = {}
    for op in item.operations:
        body: dict[str, Any] = {}
        if op.body is not None:
            schema = {"$ref": V3_PREFIX + op.body}
            body = {"requestBody": {"content": {t: {"schema": schema} for t in op.body_types},
                                    "required": op.method != "delete"}}  # fmt: skip
        rendered[op.method] = {
            "description": op.description,
            "operationId": op.operation_id,
            "parameters": [_param_v3(p) for p in op.params],
            **body,
            "responses": {
                **{
                    code: {
                        "description": _REASONS[code],
                        "content": {t: {"schema": {"$ref": V3_PREFIX + ref}} for t in PRODUCES},
                    }
                    for code, ref in op.responses
                },
                "401": {"description": "Unauthorized"},
            },
            "tags": tags,
            "x-kubernetes-action": op.action,
            "x-kubernetes-group-version-kind": _gvk_ext(op.gvk),
        }
    rendered["parameters"] = [_param_v3(p) for p in item.params]
    return rendered


_REASONS = {"200": "OK", "201": "Created", "202": "Accepted"}
