"""Unit tests of the SQLite store, selectors and the watch hub (no server)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from teapot.apiserver.errors import StatusError
from teapot.apiserver.selectors import parse_field_selector, parse_label_selector, selector_from_match
from teapot.apiserver.storage import Store
from teapot.apiserver.watch import ADDED, DELETED, MODIFIED, WatchEvent, WatchHub


def test_revisions_are_monotonic_across_reopen(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    s = Store(db)
    s.put("/configmaps", "ns", "a", rv=s.next_rv(), uid="u1", labels=None, data=b"{}")
    s.put("/configmaps", "ns", "b", rv=s.next_rv(), uid="u2", labels=None, data=b"{}")
    s.delete("/configmaps", "ns", "b", rv=s.next_rv())
    last = s.rv
    s.close()
    s2 = Store(db)
    assert s2.rv == last
    assert [o.name for o in s2.list("/configmaps")] == ["a"]
    with pytest.raises(ValueError):
        s2.put("/configmaps", "ns", "c", rv=last + 5, uid="u3", labels=None, data=b"{}")


def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.db")
    before = s.rv
    with pytest.raises(RuntimeError), s.transaction():
        s.put("/configmaps", "ns", "a", rv=s.next_rv(), uid="u1", labels=None, data=b"{}")
        raise RuntimeError("boom")
    assert s.rv == before
    assert s.get("/configmaps", "ns", "a") is None


def test_paging_and_owner_index(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.db")
    for ns in ("a", "b"):
        for i in range(3):
            s.put(
                "/x",
                ns,
                f"n{i}",
                rv=s.next_rv(),
                uid=f"{ns}{i}",
                labels=None,
                data=b"{}",
                owner_uids=["owner"],
            )
    page = s.list("/x", limit=4)
    assert [(o.namespace, o.name) for o in page] == [("a", "n0"), ("a", "n1"), ("a", "n2"), ("b", "n0")]
    rest = s.list("/x", after=("b", "n0"))
    assert [(o.namespace, o.name) for o in rest] == [("b", "n1"), ("b", "n2")]
    assert len(s.dependents("owner")) == 6
    assert s.orphaned_owner_uids() == ["owner"]


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("a=b", {"a": "b"}, True),
        ("a==b", {"a": "c"}, False),
        ("a!=b", {}, True),
        ("a in (x, y)", {"a": "y"}, True),
        ("a notin (x,y)", {"a": "x"}, False),
        ("a notin (x,y)", {}, True),
        ("a", {"a": ""}, True),
        ("!a", {"a": ""}, False),
        ("a=b,c in (d),!e", {"a": "b", "c": "d"}, True),
        ("example.com/role=web", {"example.com/role": "web"}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(selector).matches(labels) is expected


@pytest.mark.parametrize("bad", ["a in (", "a=b=c=d d", "Bad Key=1", "a in ()", "=b"])
def test_malformed_label_selectors_are_400(bad: str) -> None:
    with pytest.raises(StatusError) as err:
        parse_label_selector(bad)
    assert err.value.code == 400


def test_match_expressions_and_field_selectors() -> None:
    sel = selector_from_match({"a": "1"}, [{"key": "b", "operator": "In", "values": ["x"]}])
    assert sel.matches({"a": "1", "b": "x"}) and not sel.matches({"a": "1"})
    fs = parse_field_selector(
        "metadata.name=x,spec.color!=red", frozenset({"metadata.name", "spec.color"}), "W"
    )
    assert fs.matches({"metadata.name": "x", "spec.color": "blue"})
    assert fs.exact("metadata.name") == "x"
    with pytest.raises(StatusError):
        parse_field_selector("spec.size=1", frozenset({"metadata.name"}), "W")


def _ev(rv: int, kind: str, labels: dict[str, str], old: dict[str, str] | None = None) -> WatchEvent:
    fields = {"metadata.name": "n", "metadata.namespace": "ns"}
    return WatchEvent(rv, kind, "ns", "n", labels, fields, b"{}", old, fields if old is not None else None)


async def test_watch_hub_replay_filter_and_gone() -> None:
    hub = WatchHub(start_rv=10, history=3)
    for rv in (11, 12, 13, 14):
        hub.publish("/x", _ev(rv, ADDED, {"a": "1"}))
    # history holds 12..14; resuming from 11 still works, from 10 is too old
    w = hub.subscribe("/x", since_rv=11)
    assert [w.queue.get_nowait().rv for _ in range(3)] == [12, 13, 14]  # type: ignore[union-attr]
    with pytest.raises(StatusError) as err:
        hub.subscribe("/x", since_rv=10)
    assert err.value.code == 410
    sel = hub.subscribe("/x", since_rv=None, labels=parse_label_selector("a=2"))
    hub.publish("/x", _ev(15, MODIFIED, {"a": "2"}, old={"a": "1"}))
    hub.publish("/x", _ev(16, MODIFIED, {"a": "3"}, old={"a": "2"}))
    got = [sel.queue.get_nowait() for _ in range(2)]
    assert [sel.translate(e) for e in got if e is not None] == [ADDED, DELETED]
    hub.unsubscribe(sel)
    assert hub.watcher_count == 1
    await asyncio.sleep(0)


def test_slow_watcher_is_closed_not_unbounded() -> None:
    hub = WatchHub(start_rv=0)
    w = hub.subscribe("/x", since_rv=None)
    w.capacity = 5
    for rv in range(1, 20):
        hub.publish("/x", _ev(rv, ADDED, {}))
    assert w.overflowed and w.closed
    assert w.queue.qsize() <= 6
