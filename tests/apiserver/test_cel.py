"""x-kubernetes-validations: CEL rules with kube's activation, transition and error semantics."""

from __future__ import annotations

from typing import Any

import pytest

from teapot.apiserver.schema import SchemaError, compile_schema


def with_rules(rules: list[dict[str, Any]], spec_props: dict[str, Any] | None = None) -> dict[str, Any]:
    props = spec_props or {
        "replicas": {"type": "integer"},
        "minReplicas": {"type": "integer"},
        "name": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    }
    return {
        "type": "object",
        "properties": {"spec": {"type": "object", "x-kubernetes-validations": rules, "properties": props}},
    }


def errors(rules: list[dict[str, Any]], spec: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    compiled = compile_schema(with_rules(rules))
    return [e.message for e in compiled.validate({"spec": spec}, {"spec": old} if old is not None else None)]


RULE_CASES: list[tuple[str, str, dict[str, Any], bool]] = [
    ("comparison", "self.minReplicas <= self.replicas", {"replicas": 3, "minReplicas": 1}, True),
    ("comparison fails", "self.minReplicas <= self.replicas", {"replicas": 1, "minReplicas": 3}, False),
    ("has absent", "!has(self.name) || self.name != ''", {}, True),
    ("has present", "has(self.name)", {"name": "x"}, True),
    ("size string", "size(self.name) <= 3", {"name": "abcd"}, False),
    ("size method", "self.tags.size() == 2", {"tags": ["a", "b"]}, True),
    ("all macro", "self.tags.all(t, t.startsWith('x-'))", {"tags": ["x-a", "y"]}, False),
    ("exists macro", "self.tags.exists(t, t == 'b')", {"tags": ["a", "b"]}, True),
    ("exists_one", "self.tags.exists_one(t, t == 'a')", {"tags": ["a", "a"]}, False),
    (
        "filter/map",
        "self.tags.filter(t, t.size() > 1).map(t, t.upperAscii()) == ['BB']",
        {"tags": ["a", "bb"]},
        True,
    ),
    ("in map", "'team' in self.labels", {"labels": {"team": "x"}}, True),
    ("matches", "self.name.matches('^[a-z]+$')", {"name": "abc1"}, False),
    ("strings ext", "self.name.lowerAscii().replace('-', '') == 'ab'", {"name": "A-B"}, True),
    ("split/join", "self.name.split(',').size() == 3", {"name": "a,b,c"}, True),
    ("optional", "self.?name.orValue('none') == 'none'", {}, True),
    ("ternary", "self.replicas > 1 ? has(self.minReplicas) : true", {"replicas": 2}, False),
    (
        "timestamp from string",
        "timestamp(self.name) < timestamp('2030-01-01T00:00:00Z')",
        {"name": "2024-01-01T00:00:00Z"},
        True,
    ),
    ("duration", "duration(self.name) > duration('1m')", {"name": "90s"}, True),
    ("int-double comparison", "self.replicas < 2.5", {"replicas": 2}, True),
]


@pytest.mark.parametrize(("rule", "spec", "ok"), [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES])
def test_rule_semantics(rule: str, spec: dict[str, Any], ok: bool) -> None:
    result = errors([{"rule": rule}], spec)
    assert result == ([] if ok else [f"spec: Invalid value: failed rule: {rule}"])


def test_message_and_scalar_value_rendering() -> None:
    schema = with_rules(
        [],
        {
            "replicas": {
                "type": "integer",
                "x-kubernetes-validations": [{"rule": "self < 10", "message": "too big "}],
            }
        },
    )
    errs = compile_schema(schema).validate({"spec": {"replicas": 12}})
    assert [(e.type, e.field, e.message) for e in errs] == [
        ("FieldValueInvalid", "spec.replicas", "spec.replicas: Invalid value: 12: too big")
    ]


def test_message_expression_used_when_it_evaluates_to_a_string() -> None:
    rules = [{"rule": "self.replicas < 5", "messageExpression": "'replicas is ' + string(self.replicas)"}]
    assert errors(rules, {"replicas": 7}) == ["spec: Invalid value: replicas is 7"]


def test_message_expression_falls_back_to_message_on_error() -> None:
    rules = [{"rule": "self.replicas < 5", "message": "static", "messageExpression": "self.missing"}]
    assert errors(rules, {"replicas": 7}) == ["spec: Invalid value: static"]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("FieldValueForbidden", "spec: Forbidden: nope"),
        ("FieldValueRequired", "spec: Required value: nope"),
        ("FieldValueDuplicate", "spec: Duplicate value"),
        ("FieldValueInvalid", "spec: Invalid value: nope"),
    ],
)
def test_reason(reason: str, expected: str) -> None:
    rules = [{"rule": "false", "message": "nope", "reason": reason}]
    compiled = compile_schema(with_rules(rules))
    (err,) = compiled.validate({"spec": {}})
    assert (err.type, err.message) == (reason, expected)


def test_field_path_moves_the_error() -> None:
    rules = [{"rule": "self.minReplicas <= self.replicas", "message": "bad", "fieldPath": ".minReplicas"}]
    assert errors(rules, {"replicas": 1, "minReplicas": 2}) == ["spec.minReplicas: Invalid value: bad"]


def test_field_path_must_name_a_field() -> None:
    with pytest.raises(SchemaError) as info:
        compile_schema(with_rules([{"rule": "true", "fieldPath": ".nope"}]))
    assert [e.message for e in info.value.errors] == [
        'openAPIV3Schema.properties[spec].x-kubernetes-validations[0].fieldPath: Invalid value: ".nope": '
        "fieldPath must be a valid path: does not refer to a valid field"
    ]


def test_transition_rule_only_runs_on_update() -> None:
    rules = [{"rule": "self.name == oldSelf.name", "message": "name is immutable"}]
    assert errors(rules, {"name": "b"}) == []
    assert errors(rules, {"name": "b"}, old={"name": "a"}) == ["spec: Invalid value: name is immutable"]
    assert errors(rules, {"name": "a"}, old={"name": "a", "replicas": 1}) == []


def test_immutable_scalar_field_via_self_equals_old_self() -> None:
    props = {
        "name": {
            "type": "string",
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}],
        }
    }
    compiled = compile_schema(with_rules([], props))
    assert compiled.validate({"spec": {"name": "a"}}) == []
    assert compiled.validate({"spec": {"name": "a"}}, {"spec": {"name": "a"}}) == []
    assert [e.message for e in compiled.validate({"spec": {"name": "b"}}, {"spec": {"name": "a"}})] == [
        'spec.name: Invalid value: "b": immutable'
    ]
    # the field did not exist before: no old value to compare with, so the rule does not run
    assert compiled.validate({"spec": {"name": "b"}}, {"spec": {}}) == []


def test_rules_on_additional_properties_and_items_have_kube_paths() -> None:
    props = {
        "labels": {
            "type": "object",
            "additionalProperties": {
                "type": "string",
                "x-kubernetes-validations": [{"rule": "self.size() < 4"}],
            },
        },
        "tags": {
            "type": "array",
            "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self != 'x'"}]},
        },
    }
    compiled = compile_schema(with_rules([], props))
    errs = compiled.validate({"spec": {"labels": {"k": "long"}, "tags": ["a", "x"]}})
    assert [e.message for e in errs] == [
        'spec.labels[k]: Invalid value: "long": failed rule: self.size() < 4',
        "spec.tags[1]: Invalid value: \"x\": failed rule: self != 'x'",
    ]


def test_map_list_items_correlate_old_self_by_key() -> None:
    props = {
        "ports": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {
                "type": "object",
                "required": ["name"],
                "x-kubernetes-validations": [
                    {"rule": "self.port == oldSelf.port", "message": "port is immutable"}
                ],
                "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
            },
        }
    }
    compiled = compile_schema(with_rules([], props))
    old = {"spec": {"ports": [{"name": "a", "port": 1}, {"name": "b", "port": 2}]}}
    reordered = {
        "spec": {"ports": [{"name": "b", "port": 2}, {"name": "a", "port": 1}, {"name": "c", "port": 3}]}
    }
    assert compiled.validate(reordered, old) == []
    changed = {"spec": {"ports": [{"name": "b", "port": 5}]}}
    assert [e.message for e in compiled.validate(changed, old)] == [
        "spec.ports[0]: Invalid value: port is immutable"
    ]


def test_null_values_are_not_validated() -> None:
    props = {
        "name": {
            "type": "string",
            "nullable": True,
            "x-kubernetes-validations": [{"rule": "self.size() > 0"}],
        }
    }
    assert compile_schema(with_rules([], props)).validate({"spec": {"name": None}}) == []


def test_root_rule_sees_api_version_kind_and_metadata_name() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith(self.kind.lowerAscii())"}],
        "properties": {"spec": {"type": "object"}},
    }
    compiled = compile_schema(schema)
    assert compiled.validate({"apiVersion": "a/v1", "kind": "Host", "metadata": {"name": "host-1"}}) == []
    assert [
        e.message
        for e in compiled.validate({"apiVersion": "a/v1", "kind": "Host", "metadata": {"name": "x"}})
    ] == ["<nil>: Invalid value: failed rule: self.metadata.name.startsWith(self.kind.lowerAscii())"]


def test_runtime_error_is_reported_with_the_rule() -> None:
    assert errors([{"rule": "self.replicas > 0"}], {}) == [
        'spec: Invalid value: "object": no such key: replicas evaluating rule: self.replicas > 0'
    ]
    assert errors([{"rule": "10 / self.replicas > 1"}], {"replicas": 0}) == [
        'spec: Invalid value: "object": division by zero evaluating rule: 10 / self.replicas > 1'
    ]


def test_rules_skipped_after_blocking_schema_errors() -> None:
    props = {"replicas": {"type": "integer"}}
    compiled = compile_schema(with_rules([{"rule": "false"}], props))
    errs = compiled.validate({"spec": {"replicas": "many"}})
    assert [e.field for e in errs] == ["spec.replicas", "<nil>"]
    assert errs[1].message == (
        "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; "
        "correct the existing errors to complete validation"
    )


def test_non_blocking_schema_errors_still_run_rules() -> None:
    props = {"replicas": {"type": "integer", "maximum": 3}}
    compiled = compile_schema(with_rules([{"rule": "self.replicas < 2", "message": "lt2"}], props))
    assert [e.message for e in compiled.validate({"spec": {"replicas": 5}})] == [
        "spec.replicas: Invalid value: 5: spec.replicas in body should be less than or equal to 3",
        "spec: Invalid value: lt2",
    ]


def test_unchanged_values_ratchet_non_transition_rules() -> None:
    rules = [{"rule": "self.replicas < 5", "message": "lt5"}]
    assert errors(rules, {"replicas": 7}, old={"replicas": 7}) == []
    assert errors(rules, {"replicas": 8}, old={"replicas": 7}) == ["spec: Invalid value: lt5"]


@pytest.mark.parametrize(
    ("field_type", "rule", "detail"),
    [
        ("object", "self.replicas >", "compilation failed: ERROR: <input>:1:16: Syntax error"),
        (
            "string",
            "self + 1 == 2",
            "compilation failed: ERROR: <input>:1:6: found no matching overload for '_+_'",
        ),
        ("integer", "self.startsWith('a')", "compilation failed: ERROR"),
        ("integer", "self + 1", "cel expression must evaluate to a bool"),
        ("object", "'a'", "cel expression must evaluate to a bool"),
        (
            "object",
            "nosuchvar > 1",
            "compilation failed: ERROR: <input>:1:1: undeclared reference to 'nosuchvar'",
        ),
    ],
)
def test_bad_rules_rejected_at_compile_time(field_type: str, rule: str, detail: str) -> None:
    field_schema: dict[str, Any] = {"type": field_type, "x-kubernetes-validations": [{"rule": rule}]}
    with pytest.raises(SchemaError) as info:
        compile_schema(with_rules([], {"f": field_schema}))
    (err,) = info.value.errors
    assert err.field == "openAPIV3Schema.properties[spec].properties[f].x-kubernetes-validations[0].rule"
    assert err.type == "FieldValueInvalid"
    assert err.bad_value == {"rule": rule}
    assert err.detail.startswith(detail)


def test_non_bool_result_of_dynamic_rule_is_a_runtime_error() -> None:
    assert errors([{"rule": "self.replicas"}], {"replicas": 3}) == [
        'spec: Invalid value: "object": cel expression must evaluate to a bool evaluating rule: self.replicas'
    ]


def test_iteration_budget_stops_runaway_rules() -> None:
    rule = "self.tags.all(a, self.tags.all(b, self.tags.all(c, a + b + c != '')))"
    errs = errors([{"rule": rule}, {"rule": "false"}], {"tags": [str(i) for i in range(100)]})
    assert len(errs) == 1
    assert "no further validation rules will be run due to call cost exceeds limit" in errs[0]


def test_time_budget_stops_evaluation() -> None:
    compiled = compile_schema(with_rules([{"rule": "true"}, {"rule": "false"}]), cel_time_budget_s=-1.0)
    (err,) = compiled.validate({"spec": {}})
    assert err.message == (
        'spec: Invalid value: "object": validation failed due to running out of cost budget, '
        "no further validation rules will be run"
    )


def test_int_or_string_rules_are_dynamically_typed() -> None:
    props = {"port": {"x-kubernetes-int-or-string": True, "x-kubernetes-validations": [{"rule": "self > 0"}]}}
    compiled = compile_schema(with_rules([], props))
    assert compiled.validate({"spec": {"port": 8080}}) == []
    (err,) = compiled.validate({"spec": {"port": "http"}})
    assert err.message == (
        "spec.port: Invalid value: \"\": 'no such overload': call arguments did not match a supported operator, "
        "function or macro signature for rule: self > 0"
    )


def test_rules_inside_value_validations_are_not_structural() -> None:
    schema = with_rules(
        [], {"a": {"type": "string", "allOf": [{"x-kubernetes-validations": [{"rule": "true"}]}]}}
    )
    with pytest.raises(SchemaError) as info:
        compile_schema(schema)
    assert [e.message for e in info.value.errors] == [
        "openAPIV3Schema.properties[spec].properties[a].allOf[0].x-kubernetes-validations: Forbidden: "
        "must be empty to be structural"
    ]


def test_preserve_unknown_fields_node_exposes_everything_to_cel() -> None:
    props = {
        "free": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "x-kubernetes-validations": [{"rule": "!has(self.secret)", "message": "no secrets here"}],
        }
    }
    compiled = compile_schema(with_rules([], props))
    assert compiled.validate({"spec": {"free": {"any": {"thing": 1}}}}) == []
    assert [e.message for e in compiled.validate({"spec": {"free": {"secret": "x"}}})] == [
        "spec.free: Invalid value: no secrets here"
    ]


@pytest.mark.parametrize(
    ("rule", "spec", "ok"),
    [
        ("self.tags.isSorted()", {"tags": ["a", "b", "c"]}, True),
        ("self.tags.isSorted()", {"tags": ["b", "a"]}, False),
        ("self.weights.sum() == 100", {"weights": [60, 40]}, True),
        ("self.weights.min() >= 10 && self.weights.max() <= 60", {"weights": [60, 5]}, False),
        ("self.tags.indexOf('b') == 1 && self.tags.lastIndexOf('a') == 2", {"tags": ["a", "b", "a"]}, True),
        ("self.name.find('[0-9]+') == '42'", {"name": "host42a7"}, True),
        ("self.name.findAll('[0-9]+') == ['42', '7']", {"name": "host42a7"}, True),
        ("self.name.indexOf('t') == 3", {"name": "host"}, True),
    ],
)
def test_kubernetes_list_and_regex_library(rule: str, spec: dict[str, Any], ok: bool) -> None:
    props = {
        "tags": {"type": "array", "items": {"type": "string"}},
        "weights": {"type": "array", "items": {"type": "integer"}},
        "name": {"type": "string"},
    }
    errs = compile_schema(with_rules([{"rule": rule}], props)).validate({"spec": spec})
    assert [e.message for e in errs] == ([] if ok else [f"spec: Invalid value: failed rule: {rule}"])


def test_library_errors_surface_as_rule_errors() -> None:
    props = {"weights": {"type": "array", "items": {"type": "integer"}}}
    errs = compile_schema(with_rules([{"rule": "self.weights.min() > 0"}], props)).validate(
        {"spec": {"weights": []}}
    )
    assert [e.message for e in errs] == [
        'spec: Invalid value: "object": min called on empty list evaluating rule: self.weights.min() > 0'
    ]


@pytest.mark.parametrize(
    ("field_schema", "rule", "value", "ok"),
    [
        (
            {"type": "string", "format": "date-time"},
            "self < timestamp('2030-01-01T00:00:00Z')",
            "2029-12-31T23:00:00Z",
            True,
        ),
        (
            {"type": "string", "format": "date-time"},
            "self < timestamp('2030-01-01T00:00:00Z')",
            "2030-01-01T00:30:00+01:00",
            True,
        ),
        (
            {"type": "string", "format": "date-time"},
            "self.getFullYear() == 2024",
            "2024-06-01T00:00:00Z",
            True,
        ),
        ({"type": "string", "format": "duration"}, "self > duration('1m')", "1h30m", True),
        ({"type": "string", "format": "duration"}, "self > duration('1m')", "45s", False),
        ({"type": "string", "format": "byte"}, "size(self) == 3", "YWJj", True),
        ({"type": "number"}, "self + 0.5 == 2.5", 2, True),
    ],
)
def test_formatted_scalars_are_typed_like_kube(
    field_schema: dict[str, Any], rule: str, value: Any, ok: bool
) -> None:
    schema = with_rules([], {"f": {**field_schema, "x-kubernetes-validations": [{"rule": rule}]}})
    errs = compile_schema(schema).validate({"spec": {"f": value}})
    assert len(errs) == (0 if ok else 1), [e.message for e in errs]


def test_string_rules_on_timestamp_fields_are_rejected_like_kube() -> None:
    schema = with_rules(
        [],
        {
            "f": {
                "type": "string",
                "format": "date-time",
                "x-kubernetes-validations": [{"rule": "self.startsWith('2')"}],
            }
        },
    )
    with pytest.raises(SchemaError):
        compile_schema(schema)


def test_property_names_are_escaped_like_kube() -> None:
    props = {
        "ref": {
            "type": "object",
            "properties": {
                "namespace": {"type": "string"},
                "x-y": {"type": "integer"},
                "a.b/c": {"type": "integer"},
                "0bad": {"type": "integer"},
            },
        }
    }
    rules = [
        {
            "rule": "self.ref.__namespace__ == 'ns' && self.ref.x__dash__y == 1 && self.ref.a__dot__b__slash__c == 2"
        },
        {"rule": "!has(self.ref.namespace)"},
        {"rule": "self.ref.size() == 3"},  # the unescapable property is not visible
    ]
    compiled = compile_schema(with_rules(rules, props))
    assert compiled.validate({"spec": {"ref": {"namespace": "ns", "x-y": 1, "a.b/c": 2, "0bad": 3}}}) == []


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("namespace", "__namespace__"),
        ("x-y", "x__dash__y"),
        ("a__b", "a__underscores__b"),
        ("ok_name", "ok_name"),
        ("1x", None),
        ("a b", None),
    ],
)
def test_escape(name: str, escaped: str | None) -> None:
    from teapot.apiserver.schema.cel_names import escape

    assert escape(name) == escaped
