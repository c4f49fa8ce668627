"""``x-kubernetes-validations``: CEL rules compiled once per CRD version, evaluated per request.

Why it exists: CRDs express cross-field and transition rules (``self.min <= self.max``,
``self == oldSelf``) in CEL, and kube-apiserver evaluates them after schema validation with
precise semantics: rules attach to schema nodes, ``self`` is the value at that node, transition
rules (those using ``oldSelf``) run only on update when an old value exists for that node
(correlated through maps and ``x-kubernetes-list-type: map`` lists), null values are skipped, and
failures become field errors carrying ``message``/``messageExpression``/``reason``/``fieldPath``.

Which CEL library, and why: **cel-expr-python** (PyPI ``cel-expr-python``, Google's official
Python binding of cel-cpp, the reference C++ implementation of the same spec cel-go implements).
Measured on this machine with a typical rule (``self.spec.replicas >= self.spec.minReplicas``,
small object): cel-expr-python ≈ 8 µs per evaluation, ``common-expression-language`` (cel-rust
binding) ≈ 50 µs, ``cel-python`` (celpy, pure Python) ≈ 300-700 µs — celpy alone would blow the
0.2 ms budget for a whole object. With cel-expr-python, converting ``self`` dominates (≈13 µs for
a 35-value ``spec``), so all rules of one node share one activation. cel-expr-python also type-checks at compile time (declared ``self`` types, so
``self.size() > 'a'`` is rejected when the CRD is created, like kube), ships the strings
(``lowerAscii``, ``split``, ``format``...), optional (``self.?x.orValue(y)``), math and encoders
extensions kube enables, and uses RE2 for ``matches``.

Bounding cost: cel-cpp enforces a per-evaluation comprehension iteration budget (10,000
iterations, counting nested loops), which bounds every macro (``all``, ``exists``, ``map``...);
regexes are RE2 (linear time). On top of that every :meth:`CelValidator.validate` call has a
wall-clock budget; once spent, remaining rules are skipped and the request fails with kube's
"running out of cost budget" error. Kube's static cost estimation at CRD-creation time is not
reproduced (it needs cel-go's cost model).

Known gaps versus kube: a ``date-time``/``date``/``duration``/``byte`` field is a timestamp/
duration/bytes when it is ``self`` itself (as in kube), but a plain string when reached from a
parent (``self.spec.start``): the binding cannot pass nested timestamps, so write
``timestamp(self.start)``, which works in both; of Kubernetes' own CEL libraries only lists
(``isSorted``, ``sum``, ``min``, ``max``, ``indexOf``, ``lastIndexOf``) and regex (``find``,
``findAll``) are provided (:mod:`.cel_library`) — no quantity, URL, IP/CIDR, format, semver or
authz; ``optionalOldSelf`` is not supported; object fields are typed ``map(string, dyn)``, so a
rule naming a field the schema lacks fails at evaluation rather than at CRD creation.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cel_expr_python import cel as _cel  # type: ignore[import-untyped]
from cel_expr_python.ext import (  # type: ignore[import-untyped]
    ext_encoders,
    ext_math,
    ext_optional,
    ext_strings,
)

from teapot.apiserver.schema import errors as fe
from teapot.apiserver.schema.cel_library import kubernetes_library
from teapot.apiserver.schema.cel_names import Plan, plan_for
from teapot.apiserver.schema.cel_names import apply as apply_names
from teapot.apiserver.schema.errors import FieldError
from teapot.apiserver.schema.structural import Node, Rule

MAX_MESSAGE_EXPRESSION_BYTES: Final = 5 * 1024
DEFAULT_TIME_BUDGET_S: Final = 0.25

_OLD_SELF: Final = re.compile(r"\boldSelf\b")
_KEY_NOT_FOUND: Final = re.compile(r'Key not found in map ?: ?"?([^"]*)"?')
_STATUS_PREFIX: Final = re.compile(r"^[A-Z_]+: ")
_VALID_REASONS: Final = frozenset(
    {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"}
)

_ENVS: dict[str, Any] = {}


def _scalar(node: Node) -> str:
    """How a scalar ``self`` is converted for CEL: kube types some strings as timestamp/duration/bytes."""
    if node.int_or_string:
        return ""
    if node.type == "number":
        return "number"
    if node.type == "string":
        return {"datetime": "timestamp", "date": "timestamp", "duration": "duration", "byte": "bytes"}.get(
            node.format, ""
        )
    return ""


_GO_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def _parse_duration(text: str) -> dt.timedelta:
    """Go's ``time.ParseDuration`` ("1h30m", "-1.5s", "0")."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return dt.timedelta(0)
    pos, seconds = 0, 0.0
    for m in _GO_DURATION_PART.finditer(body):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(body) or not body:
        raise ValueError(f"invalid duration {text!r}")
    return dt.timedelta(seconds=sign * seconds)


def _parse_timestamp(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("z", "Z"))
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _decl_type(node: Node) -> Any:
    """The CEL type ``self`` is declared with at this node (kube derives it from the schema)."""
    t = _cel.Type
    if node.int_or_string or not node.type:
        return t.DYN
    scalar = _scalar(node)
    if scalar == "timestamp":
        return t.TIMESTAMP
    if scalar == "duration":
        return t.DURATION
    if scalar == "bytes":
        return t.BYTES
    return {
        "object": t.Map(t.STRING, t.DYN),
        "array": t.List(t.DYN),
        "string": t.STRING,
        "integer": t.INT,
        "number": t.DOUBLE,
        "boolean": t.BOOL,
    }.get(node.type, t.DYN)


def _env_for(node: Node) -> Any:
    key = "dyn" if node.int_or_string or not node.type else f"{node.type}:{_scalar(node)}"
    env = _ENVS.get(key)
    if env is None:
        decl = _decl_type(node)
        env = _cel.NewEnv(
            variables={"self": decl, "oldSelf": decl},
            extensions=[
                ext_strings.ExtStrings(),
                ext_optional.ExtOptional(),
                ext_math.ExtMath(),
                ext_encoders.ExtEncoders(),
                kubernetes_library(),
            ],
        )
        _ENVS[key] = env
    return env


def _clean_compile_error(text: str) -> str:
    text = _STATUS_PREFIX.sub("", text, count=1)
    return text.removesuffix(" [INVALID_ARGUMENT]").strip()


def _clean_eval_error(text: str) -> str:
    m = _KEY_NOT_FOUND.search(text)
    if m:
        return f"no such key: {m.group(1)}"
    text = _STATUS_PREFIX.sub("", text, count=1)
    if "divide by zero" in text or "division by zero" in text:
        return "division by zero"
    if "modulus by zero" in text:
        return "modulus by zero"
    if "No matching overloads" in text or "no matching overload" in text:
        return "no such overload"
    if "ndex out of" in text:
        return text.replace("INVALID_ARGUMENT: ", "")
    return text


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to run: the cel-cpp programs plus what kube derives from the rule at compile time."""

    rule: Rule
    program: Any
    message_program: Any
    uses_old_self: bool
    field_path: str  # normalised suffix appended to the error path ("" / ".a.b" / "[k]")
    default_message: str
    error_string: str  # rule text or message, for runtime error messages


@dataclass(frozen=True, slots=True)
class CelNode:
    """Mirror of the schema tree that only keeps branches carrying rules."""

    type: str
    rules: tuple[CompiledRule, ...] = ()
    properties: dict[str, CelNode] | None = None
    items: CelNode | None = None
    additional: CelNode | None = None
    map_correlatable: bool = True
    list_map_keys: tuple[str, ...] = ()
    scalar: str = ""  # "", "number", "timestamp", "duration" or "bytes": how ``self`` is converted
    names: Plan | None = None  # property names kube escapes (``__namespace__``) below this node
    env: Any = None


def _rule_error_string(rule: Rule) -> str:
    return rule.message.strip() if rule.message else rule.rule.strip()


def normalize_field_path(field_path: str, node: Node) -> str:
    """Validate a rule's ``fieldPath`` against the schema; return the suffix to append to error paths.

    Raises ``ValueError`` with kube's reason when the path is malformed or names no field.
    """
    tokens = re.findall(r"\['(?:[^'\\]|\\.)*'\]|\.[^.\[\]]+|.", field_path)
    out = ""
    current: Node | None = node
    for tok in tokens:
        if current is None:
            raise ValueError("does not refer to a valid field")
        if tok.startswith("['"):
            name = tok[2:-2].replace("\\'", "'").replace("\\\\", "\\")
        elif tok.startswith(".") and len(tok) > 1:
            name = tok[1:]
        else:
            raise ValueError(f"expected [ or . but got: {tok}")
        if current.properties is not None:
            if name not in current.properties:
                raise ValueError("does not refer to a valid field")
            out += "." + name
            current = current.properties[name]
        elif current.additional_schema is not None:
            out += f"[{name}]"
            current = current.additional_schema
        else:
            raise ValueError("does not refer to a valid field")
    return out


def _compile_rule(node: Node, rule: Rule, path: str, errs: list[FieldError]) -> CompiledRule | None:
    env = _env_for(node)
    rule_path = path + ".rule"
    try:
        program = env.compile(rule.rule)
    except Exception as exc:  # cel-cpp raises RuntimeError with a status string
        errs.append(
            fe.invalid(rule_path, dict(rule.raw), "compilation failed: " + _clean_compile_error(str(exc)))
        )
        return None
    ret = program.return_type().name()
    if ret not in ("BOOL", "DYN"):
        errs.append(fe.invalid(rule_path, dict(rule.raw), "cel expression must evaluate to a bool"))
        return None
    message_program = None
    if rule.message_expression:
        try:
            message_program = env.compile(rule.message_expression)
        except Exception as exc:
            errs.append(
                fe.invalid(
                    path + ".messageExpression",
                    dict(rule.raw),
                    "messageExpression compilation failed: " + _clean_compile_error(str(exc)),
                )
            )
            return None
        if message_program.return_type().name() not in ("STRING", "DYN"):
            errs.append(fe.invalid(path + ".messageExpression", dict(rule.raw), "must evaluate to a string"))
            return None
    suffix = ""
    if rule.field_path:
        try:
            suffix = normalize_field_path(rule.field_path, node)
        except ValueError as exc:
            errs.append(
                fe.invalid(path + ".fieldPath", rule.field_path, f"fieldPath must be a valid path: {exc}")
            )
            return None
    default_message = rule.message.strip() if rule.message else f"failed rule: {rule.rule.strip()}"
    return CompiledRule(
        rule=rule,
        program=program,
        message_program=message_program,
        uses_old_self=bool(_OLD_SELF.search(rule.rule)),
        field_path=suffix,
        default_message=default_message,
        error_string=_rule_error_string(rule),
    )


def build(node: Node, path: str, errs: list[FieldError]) -> CelNode | None:
    """Compile every rule under ``node``; schema-path errors go to ``errs``. None if no rules."""
    compiled: list[CompiledRule] = []
    for i, rule in enumerate(node.rules):
        rpath = f"{path}.x-kubernetes-validations[{i}]"
        if not rule.rule.strip():
            continue
        if rule.reason and rule.reason not in _VALID_REASONS:
            errs.append(fe.not_supported(rpath + ".reason", rule.reason, sorted(_VALID_REASONS)))
            continue
        if not node.type and not node.int_or_string and not node.preserve_unknown:
            errs.append(
                fe.invalid(
                    rpath + ".rule",
                    dict(rule.raw),
                    "rule declared on schema that does not support validation rules",
                )
            )
            continue
        cr = _compile_rule(node, rule, rpath, errs)
        if cr is not None:
            compiled.append(cr)
    properties: dict[str, CelNode] | None = None
    if node.properties:
        for name, sub in node.properties.items():
            child = build(sub, f"{path}.properties[{name}]", errs)
            if child is not None:
                properties = properties or {}
                properties[name] = child
    items = build(node.items, path + ".items", errs) if node.items is not None else None
    additional_schema = node.additional_schema
    additional = build(additional_schema, path + ".additionalProperties", errs) if additional_schema else None
    if not compiled and properties is None and items is None and additional is None:
        return None
    return CelNode(
        type=node.type,
        rules=tuple(compiled),
        properties=properties,
        items=items,
        additional=additional,
        map_correlatable=node.map_type in ("", "granular", "atomic"),
        list_map_keys=node.list_map_keys if node.list_type == "map" else (),
        scalar=_scalar(node),
        names=plan_for(node),
        env=_env_for(node),
    )


@dataclass(slots=True)
class _Run:
    deadline: float
    errs: list[FieldError] = field(default_factory=list)
    stopped: bool = False


class CelValidator:
    """Evaluates a compiled rule tree against an object (and its old version on update)."""

    __slots__ = ("_root", "_time_budget")

    def __init__(self, root: CelNode, time_budget_s: float = DEFAULT_TIME_BUDGET_S) -> None:
        self._root = root
        self._time_budget = time_budget_s

    def validate(self, obj: Any, old: Any | None) -> list[FieldError]:
        run = _Run(deadline=time.perf_counter() + self._time_budget)
        _walk(self._root, obj, old, "", run)
        return run.errs


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(cn: CelNode, obj: Any, old: Any, path: str, run: _Run) -> None:
    if obj is None or run.stopped:
        return
    if cn.rules:
        _evaluate(cn, obj, old, path, run)
        if run.stopped:
            return
    if isinstance(obj, dict):
        old_map = old if isinstance(old, dict) and cn.map_correlatable else None
        if cn.additional is not None:
            for key, value in obj.items():
                old_value = old_map.get(key) if old_map is not None else None
                _walk(cn.additional, value, old_value, f"{path}[{key}]", run)
                if run.stopped:
                    return
        if cn.properties is not None:
            for key, value in obj.items():
                sub = cn.properties.get(key)
                if sub is not None:
                    old_value = old_map.get(key) if old_map is not None else None
                    _walk(sub, value, old_value, _join(path, key), run)
                    if run.stopped:
                        return
    elif isinstance(obj, list) and cn.items is not None:
        old_index = _map_list_index(cn.list_map_keys, old) if cn.list_map_keys else None
        for i, item in enumerate(obj):
            old_item = None
            if old_index is not None and isinstance(item, dict):
                old_item = old_index.get(_list_key(cn.list_map_keys, item))
            _walk(cn.items, item, old_item, f"{path}[{i}]", run)
            if run.stopped:
                return


def _list_key(keys: tuple[str, ...], item: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(repr(item.get(k)) for k in keys)


def _map_list_index(keys: tuple[str, ...], old: Any) -> dict[tuple[Any, ...], Any] | None:
    if not isinstance(old, list):
        return None
    return {_list_key(keys, item): item for item in old if isinstance(item, dict)}


def _as_cel(cn: CelNode, value: Any) -> Any:
    scalar = cn.scalar
    if not scalar:
        return value
    if scalar == "number":
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(value, str):
        return value
    if scalar == "timestamp":
        return _parse_timestamp(value)
    if scalar == "duration":
        return _parse_duration(value)
    return base64.b64decode(value)


def _evaluate(cn: CelNode, obj: Any, old: Any, path: str, run: _Run) -> None:
    # One activation per node: converting the value to CEL once is most of an evaluation's cost.
    try:
        data = {"self": apply_names(_as_cel(cn, obj), cn.names)}
        if old is not None:
            data["oldSelf"] = apply_names(_as_cel(cn, old), cn.names)
        activation = cn.env.Activation(data)
    except Exception as exc:  # a value CEL cannot represent; the binding converts lazily, so rare
        run.errs.append(
            fe.invalid(path or "<nil>", cn.type, f"{_clean_eval_error(str(exc))} evaluating rules")
        )
        return
    value_for_error: Any = fe.OMIT if isinstance(obj, dict | list) else obj
    here = path or "<nil>"  # kube's field.Path renders the (nil) root path as "<nil>"
    for compiled in cn.rules:
        if compiled.uses_old_self and old is None:
            continue  # transition rules run only when there is a comparable old value
        if time.perf_counter() > run.deadline:
            run.errs.append(
                fe.invalid(
                    here,
                    cn.type,
                    "validation failed due to running out of cost budget, no further validation rules will be run",
                )
            )
            run.stopped = True
            return
        try:
            result = compiled.program.eval(activation)
            outcome = result.value()
        except Exception as exc:
            text = str(exc)
            if "budget" in text.lower():
                run.errs.append(
                    fe.invalid(
                        here,
                        cn.type,
                        f"'operation cancelled: actual cost limit exceeded': no further validation rules will be "
                        f"run due to call cost exceeds limit for rule: {compiled.error_string}",
                    )
                )
                run.stopped = True
                return
            run.errs.append(
                fe.invalid(
                    here,
                    cn.type,
                    f"{_clean_eval_error(text)} evaluating rule: {compiled.error_string}",
                )
            )
            continue
        if outcome is True:
            continue
        if outcome is not False:
            if result.type().name() == "ERROR":
                detail = _clean_eval_error(str(outcome))
                if detail == "no such overload":
                    msg = (
                        f"'no such overload': call arguments did not match a supported operator, function or "
                        f"macro signature for rule: {compiled.error_string}"
                    )
                else:
                    msg = f"{detail} evaluating rule: {compiled.error_string}"
            else:
                msg = f"cel expression must evaluate to a bool evaluating rule: {compiled.error_string}"
            run.errs.append(fe.invalid(here, cn.type, msg))
            continue
        if old is not None and not compiled.uses_old_self and obj == old:
            continue  # ratcheting: an unchanged value keeps passing even if it violates the rule
        if not compiled.field_path:
            error_path = here
        else:
            error_path = path + compiled.field_path if path else compiled.field_path.removeprefix(".")
        detail = compiled.default_message
        if compiled.message_program is not None:
            detail = _message(compiled, activation) or detail
        run.errs.append(_error_for_reason(compiled.rule.reason, error_path, value_for_error, detail))


def _message(compiled: CompiledRule, activation: Any) -> str:
    try:
        result = compiled.message_program.eval(activation)
        outcome = result.value()
    except Exception:
        return ""
    if not isinstance(outcome, str) or result.type().name() != "STRING":
        return ""
    text = outcome.strip()
    if not text or "\n" in text or len(text.encode()) > MAX_MESSAGE_EXPRESSION_BYTES:
        return ""
    return text


def _error_for_reason(reason: str, path: str, value: Any, detail: str) -> FieldError:
    if reason == "FieldValueForbidden":
        return fe.forbidden(path, detail)
    if reason == "FieldValueRequired":
        return fe.required(path, detail)
    if reason == "FieldValueDuplicate":
        return fe.duplicate(path, value)
    return fe.invalid(path, value, detail)
