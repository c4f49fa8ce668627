from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from teapot.runtime.conditions import (
    Condition,
    find,
    get_condition,
    is_current,
    is_true,
    remove_condition,
    rfc3339,
    set_condition,
    set_in,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def _host(generation: int = 3) -> dict[str, Any]:
    return {"metadata": {"name": "h1", "generation": generation}, "spec": {}}


def test_set_new_condition_stamps_time_and_generation() -> None:
    obj = _host()
    assert set_condition(obj, "Ready", "False", "Registering", "talking to the BMC", now=T0)
    assert obj["status"]["conditions"] == [
        {
            "type": "Ready",
            "status": "False",
            "reason": "Registering",
            "message": "talking to the BMC",
            "observedGeneration": 3,
            "lastTransitionTime": "2026-01-02T03:04:05Z",
        }
    ]
    assert get_condition(obj, "Ready") == Condition(
        "Ready", "False", "Registering", "talking to the BMC", 3, rfc3339(T0)
    )
    assert not is_true(obj, "Ready")
    assert is_current(obj, "Ready")


def test_unchanged_condition_reports_no_change() -> None:
    obj = _host()
    set_condition(obj, "Ready", "True", "Provisioned", now=T0)
    assert not set_condition(obj, "Ready", "True", "Provisioned", now=T1)
    assert get_condition(obj, "Ready").last_transition_time == rfc3339(T0)  # type: ignore[union-attr]


def test_reason_change_keeps_transition_time_status_change_moves_it() -> None:
    obj = _host()
    set_condition(obj, "Ready", "False", "Registering", now=T0)
    assert set_condition(obj, "Ready", "False", "Inspecting", "reading inventory", now=T1)
    cond = get_condition(obj, "Ready")
    assert cond is not None and cond.reason == "Inspecting" and cond.last_transition_time == rfc3339(T0)
    assert set_condition(obj, "Ready", "True", "Available", now=T1)
    cond = get_condition(obj, "Ready")
    assert cond is not None and cond.last_transition_time == rfc3339(T1)
    assert is_true(obj, "Ready")


def test_new_generation_is_a_change_and_makes_condition_current_again() -> None:
    obj = _host(generation=1)
    set_condition(obj, "Ready", "True", "Available", now=T0)
    obj["metadata"]["generation"] = 2
    assert not is_current(obj, "Ready")
    assert set_condition(obj, "Ready", "True", "Available", now=T1)
    assert is_current(obj, "Ready")
    assert get_condition(obj, "Ready").last_transition_time == rfc3339(T0)  # type: ignore[union-attr]


def test_other_conditions_untouched_and_remove() -> None:
    obj = _host()
    set_condition(obj, "Ready", "True", "Available", now=T0)
    set_condition(obj, "Degraded", "False", "AsExpected", now=T0)
    assert [c["type"] for c in obj["status"]["conditions"]] == ["Ready", "Degraded"]
    assert remove_condition(obj, "Ready")
    assert not remove_condition(obj, "Ready")
    assert get_condition(obj, "Ready") is None
    assert get_condition({"metadata": {}}, "Ready") is None  # no status at all
    assert not remove_condition({"metadata": {}}, "Ready")


def test_from_dict_tolerates_odd_status_values() -> None:
    assert Condition.from_dict({"type": "X", "status": "maybe"}).status == "Unknown"


statuses = st.sampled_from(["True", "False", "Unknown"])


@given(st.lists(st.tuples(statuses, st.sampled_from(["A", "B"])), min_size=1, max_size=20))
def test_transition_time_changes_exactly_on_status_changes(steps: list[tuple[str, str]]) -> None:
    conditions: list[dict[str, Any]] = []
    previous: Condition | None = None
    for index, (status, reason) in enumerate(steps):
        now = T0 + timedelta(seconds=index)
        changed = set_in(conditions, Condition("Ready", status, reason), now)  # type: ignore[arg-type]
        current = find(conditions, "Ready")
        assert current is not None and len(conditions) == 1
        if previous is None or previous.status != status:
            assert current.last_transition_time == rfc3339(now)
        else:
            assert current.last_transition_time == previous.last_transition_time
        assert changed == (previous is None or (previous.status, previous.reason) != (status, reason))
        previous = current
