"""Pruning of unknown fields and structural defaulting, as kube-apiserver does them."""

from __future__ import annotations

from typing import Any

from teapot.apiserver.schema import compile_schema, unknown_field_messages

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "default": 3},
                "mode": {"type": "string", "default": "fast"},
                "opt": {"type": "string", "nullable": True, "default": "d"},
                "plain": {"type": "string"},
                "nested": {
                    "type": "object",
                    "default": {},
                    "properties": {"a": {"type": "string", "default": "x"}, "b": {"type": "integer"}},
                },
                "items": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"n": {"type": "integer", "default": 1}}},
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string", "default": "dv"}},
                "free": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"known": {"type": "object", "properties": {"k": {"type": "string"}}}},
                },
                "raw": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}},
                },
            },
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


def test_prune_removes_unknown_fields_and_reports_sorted_paths() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": "t", "unknownMeta": 1},
        "spec": {
            "size": 1,
            "zzz": 1,
            "nested": {"a": "y", "c": 2},
            "items": [{"n": 2, "m": 3}, {"q": 1}],
            "labels": {"k": "v"},
            "free": {"anything": {"deep": 1}, "known": {"k": "v", "drop": 1}},
            "raw": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {"x": "1", "y": 2},
                "other": 1,
            },
        },
        "status": {"whatever": [1, 2]},
        "extra": True,
    }
    removed = compile_schema(SCHEMA).prune(obj)
    assert removed == [
        "extra",
        "spec.free.known.drop",
        "spec.items[0].m",
        "spec.items[1].q",
        "spec.nested.c",
        "spec.raw.other",
        "spec.raw.spec.y",
        "spec.zzz",
    ]
    assert obj["metadata"] == {"name": "t", "unknownMeta": 1}  # ObjectMeta is not the schema's business
    assert obj["spec"]["free"] == {"anything": {"deep": 1}, "known": {"k": "v"}}
    assert obj["spec"]["raw"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"x": "1"},
    }
    assert obj["status"] == {"whatever": [1, 2]}


def test_prune_of_clean_object_returns_nothing() -> None:
    obj = {"apiVersion": "a/v1", "kind": "K", "metadata": {}, "spec": {"size": 1}}
    assert compile_schema(SCHEMA).prune(obj) == []
    assert obj == {"apiVersion": "a/v1", "kind": "K", "metadata": {}, "spec": {"size": 1}}


def test_root_without_any_properties_prunes_everything_but_type_meta() -> None:
    compiled = compile_schema({"type": "object"})
    obj = {"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n"}, "spec": {"a": 1}}
    assert compiled.prune(obj) == ["spec"]
    assert obj == {"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n"}}


def test_defaults_fill_absent_fields_recursively() -> None:
    obj: dict[str, Any] = {"spec": {"size": 7, "items": [{}, {"n": 5}], "labels": {"a": None}}}
    compile_schema(SCHEMA).default(obj)
    assert obj["spec"] == {
        "size": 7,
        "mode": "fast",
        "opt": "d",
        "nested": {"a": "x"},
        "items": [{"n": 1}, {"n": 5}],
        "labels": {"a": "dv"},
    }


def test_default_replaces_null_only_when_not_nullable() -> None:
    obj: dict[str, Any] = {"spec": {"mode": None, "opt": None}}
    compile_schema(SCHEMA).default(obj)
    assert obj["spec"]["mode"] == "fast"
    assert obj["spec"]["opt"] is None


def test_null_without_default_is_dropped() -> None:
    obj: dict[str, Any] = {"spec": {"plain": None, "nested": {"b": None}}}
    compile_schema(SCHEMA).default(obj)
    assert "plain" not in obj["spec"]
    assert obj["spec"]["nested"] == {"a": "x"}


def test_defaults_are_copied_not_shared() -> None:
    compiled = compile_schema(SCHEMA)
    first: dict[str, Any] = {"spec": {}}
    second: dict[str, Any] = {"spec": {}}
    compiled.default(first)
    compiled.default(second)
    first["spec"]["nested"]["a"] = "changed"
    assert second["spec"]["nested"]["a"] == "x"


def test_spec_default_only_when_spec_absent() -> None:
    compiled = compile_schema(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "default": {"replicas": 1},
                    "properties": {"replicas": {"type": "integer"}},
                }
            },
        }
    )
    obj: dict[str, Any] = {"metadata": {"name": "x"}}
    compiled.default(obj)
    assert obj["spec"] == {"replicas": 1}


def test_unknown_field_messages_use_kube_wording() -> None:
    obj = {"spec": {"size": 1, "bogus": 2}}
    assert unknown_field_messages(compile_schema(SCHEMA).prune(obj)) == ['unknown field "spec.bogus"']


def test_null_list_items_are_kept_or_defaulted_never_removed() -> None:
    compiled = compile_schema(
        {
            "type": "object",
            "properties": {
                "a": {"type": "array", "items": {"type": "string"}},
                "b": {"type": "array", "items": {"type": "string", "default": "z"}},
            },
        }
    )
    obj: dict[str, Any] = {"a": ["x", None], "b": [None, "y"]}
    compiled.default(obj)
    assert obj == {"a": ["x", None], "b": ["z", "y"]}
