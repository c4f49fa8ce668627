"""Decoding of Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``).

Why it exists: kubectl's typed clients (``create configmap|secret|namespace|serviceaccount|role|…``,
``auth can-i``, ``auth whoami``) send built-in objects as protobuf and never fall back to JSON, while
everything in the embedded API server works on JSON-shaped dicts. This package turns such a body into
exactly the dict the same object would have been as a JSON body, so the handlers need one extra branch
and nothing else. Only decoding is provided: responses stay JSON, which kubectl's ``Accept`` allows.

Layers: :mod:`.wire` (protobuf wire format), :mod:`.schema` (field tables and JSON presence rules of
the supported messages), :mod:`.decode` (the table-driven decoder and the ``runtime.Unknown`` envelope).
"""

from __future__ import annotations

from .decode import PROTOBUF, UnsupportedKindError, decode_object, supported_kinds
from .wire import ProtobufError

__all__ = ["PROTOBUF", "ProtobufError", "UnsupportedKindError", "decode_object", "supported_kinds"]
