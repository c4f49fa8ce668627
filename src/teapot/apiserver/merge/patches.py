"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902) with Kubernetes' error responses.

Why it exists: both patch types are simple, but the server must reject bad ones with the ``Status``
kube-apiserver gives (400 for a patch that cannot be decoded, 422 "the server rejected our request due
to an error in our request" for one that does not apply), so clients and people see the same thing.
JSON patch is delegated to the ``jsonpatch`` library; merge patch is the eight lines of RFC 7386 itself.
"""

from __future__ import annotations

from typing import Any

import jsonpatch

from teapot.apiserver.errors import Cause, StatusError, bad_request

MAX_JSON_PATCH_OPERATIONS = 10000


def _unprocessable(message: str) -> StatusError:
    return StatusError(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
        causes=[Cause("UnexpectedServerResponse", message)],
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 ``MergePatch(target, patch)``; inputs are not mutated."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def apply_merge_patch(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    """``original`` with a JSON merge patch applied (``application/merge-patch+json``)."""
    if not isinstance(patch, dict):
        raise bad_request("Invalid JSON Patch")
    result: dict[str, Any] = merge_patch(original, patch)
    return result


def apply_json_patch(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    """``original`` with a JSON patch applied (``application/json-patch+json``)."""
    if not isinstance(patch, list):
        raise bad_request(
            "json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"
            if isinstance(patch, dict)
            else "invalid JSON patch: expected a list of operations"
        )
    if len(patch) > MAX_JSON_PATCH_OPERATIONS:
        raise StatusError(
            413,
            "RequestEntityTooLarge",
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {len(patch)}",
        )
    for op in patch:
        if not isinstance(op, dict):
            raise bad_request("json: cannot unmarshal a non-object into a JSON patch operation")
    try:
        result = jsonpatch.JsonPatch(patch).apply(original)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise _unprocessable(f"test failed: {exc}") from exc
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise _unprocessable(str(exc)) from exc
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise _unprocessable(f"invalid JSON patch: {exc}") from exc
    if not isinstance(result, dict):
        raise _unprocessable("the patched document is not an object")
    return result
