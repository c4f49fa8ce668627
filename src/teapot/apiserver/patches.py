"""The four PATCH content types, dispatched to their implementations.

Why it exists: kube-apiserver accepts JSON patch, JSON merge patch, strategic merge patch (built-in
kinds only) and server-side apply, and reports malformed patches with specific messages. The HTTP
layer only needs "apply this body of this type to that object".
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import orjson
import yaml

from teapot.apiserver import errors

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def decode_patch_body(content_type: str, body: bytes) -> Any:
    try:
        if content_type == APPLY_PATCH:
            return yaml.safe_load(body.decode("utf-8")) if body.strip() else None
        return orjson.loads(body)
    except (orjson.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"error decoding patch: {exc}") from exc


def apply_json_patch(obj: dict[str, Any], ops: Any) -> dict[str, Any]:
    if not isinstance(ops, list):
        raise errors.bad_request(
            "the server rejected our request due to an error in our request: json patch must be an array of operations"
        )
    try:
        result = jsonpatch.JsonPatch(ops).apply(obj)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise errors.StatusError(
            422, "Invalid", f"the server rejected our request due to an error in our request: {exc}"
        ) from exc
    except (KeyError, TypeError, IndexError) as exc:
        raise errors.bad_request(f"invalid JSON patch: {exc}") from exc
    if not isinstance(result, dict):
        raise errors.bad_request("json patch result is not an object")
    return result
