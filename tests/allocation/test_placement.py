"""Placement core: exact against brute force; greedy on nested levels, HiGHS on crossing ones."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from teapot.allocation import Candidate, Family, choose
from teapot.allocation.placement import is_laminar


def feasible(subset: tuple[Candidate, ...], families: list[Family]) -> bool:
    for i, family in enumerate(families):
        counts = Counter(c.domains[i] for c in subset)
        if any(count > family.limit(domain) for domain, count in counts.items()):
            return False
    return True


def brute_force(candidates: list[Candidate], n: int, families: list[Family]) -> tuple[int, tuple[int, float]]:
    for size in range(min(n, len(candidates)), -1, -1):
        options = [s for s in combinations(candidates, size) if feasible(s, families)]
        if options:
            best = min((sum(c.tier for c in s), sum(c.cost for c in s)) for s in options)
            return size, best
    return 0, (0, 0.0)


@st.composite
def instances(draw: st.DrawFn, crossing: bool) -> tuple[list[Candidate], int, list[Family]]:
    size = draw(st.integers(1, 9))
    candidates = []
    for i in range(size):
        row = draw(st.integers(0, 1))
        rack = f"row{row}/rack{draw(st.integers(0, 1))}"
        pdu = f"pdu{draw(st.integers(0, 2))}"
        cost = float(draw(st.integers(1, 6)))
        tier = draw(st.integers(0, 2)) if crossing else 0
        candidates.append(Candidate(f"h{i}", tier, cost, 0.0, (f"row{row}", rack, pdu)))
    row_k, rack_k, pdu_k = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    families = [Family("row", row_k, True), Family("rack", rack_k, True)]
    if crossing:
        families.append(Family("PDU", pdu_k, False, ((("pdu0", 1),) if draw(st.booleans()) else ())))
    else:
        candidates = [Candidate(c.name, c.tier, c.cost, c.tiebreak, c.domains[:2]) for c in candidates]
    candidates.sort(key=lambda c: c.key)
    return candidates, draw(st.integers(1, 6)), families


@settings(max_examples=80, deadline=None)
@given(instances(crossing=False))
def test_greedy_on_nested_levels_is_optimal(instance: tuple[list[Candidate], int, list[Family]]) -> None:
    candidates, n, families = instance
    assert is_laminar(families)
    choice = choose(iter(candidates), n, families)
    assert choice.solver == "greedy"
    assert feasible(choice.chosen, families)
    size, best = brute_force(candidates, n, families)
    assert len(choice.chosen) == size
    assert choice.total == best


@settings(max_examples=50, deadline=None)
@given(instances(crossing=True))
def test_integer_program_on_crossing_levels_is_optimal(
    instance: tuple[list[Candidate], int, list[Family]],
) -> None:
    candidates, n, families = instance
    choice = choose(candidates, n, families)
    assert choice.solver == "ilp"
    assert feasible(choice.chosen, families)
    assert len({c.name for c in choice.chosen}) == len(choice.chosen)
    size, best = brute_force(candidates, n, families)
    assert len(choice.chosen) == size
    assert choice.total == best


def test_greedy_would_be_wrong_on_crossing_levels() -> None:
    # the cheapest host uses the only slot of its rack and of its PDU; the optimum avoids it
    c = [
        Candidate("a", 0, 1.0, 0.0, ("r1", "p1")),
        Candidate("b", 0, 2.0, 0.0, ("r1", "p2")),
        Candidate("d", 0, 2.0, 0.0, ("r2", "p1")),
    ]
    families = [Family("rack", 1, True), Family("PDU", 1, False)]
    choice = choose(c, 2, families)
    assert [x.name for x in choice.chosen] == ["b", "d"]


def test_existing_usage_counts_against_limits() -> None:
    c = [Candidate(f"h{i}", 0, float(i), 0.0, (f"rack{i % 2}",)) for i in range(4)]
    choice = choose(iter(c), 2, [Family("rack", 1, True)], [{"rack0": 1}])
    assert [x.name for x in choice.chosen] == ["h1"]
