"""Choosing the cheapest set of hosts under "at most k per domain" rules.

Why this module exists: it is the optimisation core of placement and pre-emption, kept apart from
where candidates come from (``allocator``) so it can be checked against brute force.

A *family* partitions candidates into domains (racks, rows, PDUs, hardware classes, victim
tenants, ...) with a limit per domain; a choice is feasible if no domain of any family exceeds its
limit (counting hosts the claim already holds) and it has at most ``n`` hosts.

Why greedy is optimal on nested levels. Region ⊃ zone ⊃ room ⊃ row ⊃ rack domains form a
*laminar* family (any two domains are disjoint or one contains the other); adding "at most n in
total" keeps it laminar. The sets that respect limits on a laminar family are the independent sets
of a laminar matroid, and for any matroid the greedy algorithm — scan elements cheapest first, take
one whenever the result stays independent — yields a maximum-size independent set of minimum
total cost (Rado-Edmonds). So scanning candidates in (cost, name) order and taking each host whose
domains all have room is exact, and it streams: at 100,000 hosts it stops after ~n·(hosts per
rack) candidates. A single family of any kind is laminar too.

Why crossing levels need an integer program. PDUs cut across racks, and so do the quota and
victim-protection families; two crossing partitions give the intersection of two matroids, where
greedy can be wrong (taking the cheapest host may use the last slot of both its rack and its
PDU). Those cases go to an exact 0-1 program solved by HiGHS with zero MIP gap; candidates are
first reduced to the cheapest few per *cell* (identical domain tuple), which keeps it exact
because hosts of one cell are interchangeable except for cost.

Costs are compared as keys ``(tier, cost, tiebreak, name)``: tier 0 are free hosts, higher tiers
are hosts that would have to be taken from someone. Ties break deterministically by key, so the
same world always gives the same answer.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import highspy
import numpy as np


@dataclass(frozen=True, slots=True)
class Candidate:
    """A host that could be chosen; ``domains[i]`` is its domain in family ``i``."""

    name: str
    tier: int
    cost: float
    tiebreak: float
    domains: tuple[str, ...]

    @property
    def key(self) -> tuple[int, float, float, str]:
        return (self.tier, self.cost, self.tiebreak, self.name)


@dataclass(frozen=True)
class Family:
    """A partition of candidates with a limit per domain (``limits`` overrides ``default``)."""

    name: str
    default: int
    nested: bool = False
    limits: tuple[tuple[str, int], ...] = ()

    def limit(self, domain: str) -> int:
        for name, value in self.limits:
            if name == domain:
                return value
        return self.default


@dataclass(frozen=True)
class Choice:
    chosen: tuple[Candidate, ...]
    solver: str

    @property
    def total(self) -> tuple[int, float]:
        """(hosts taken from others weighted by tier, cost) — the objective, lexicographically."""
        return (sum(c.tier for c in self.chosen), sum(c.cost for c in self.chosen))


def is_laminar(families: Sequence[Family]) -> bool:
    return len(families) <= 1 or all(f.nested for f in families)


def choose(
    candidates: Iterable[Candidate],
    n: int,
    families: Sequence[Family],
    used: Sequence[Mapping[str, int]] = (),
) -> Choice:
    """Up to ``n`` candidates, as many as feasible, then cheapest by key.

    ``candidates`` must be sorted by key when the families are laminar (it may be a lazy stream);
    ``used[i]`` counts hosts the claim already holds per domain of family ``i``.
    """
    if n <= 0:
        return Choice((), "none")
    counts = [Counter(u) for u in used] or [Counter() for _ in families]
    counts += [Counter() for _ in range(len(families) - len(counts))]
    if is_laminar(families):
        return Choice(tuple(_greedy(candidates, n, families, counts)), "greedy")
    return Choice(tuple(_ilp(list(candidates), n, families, counts)), "ilp")


def _greedy(
    candidates: Iterable[Candidate], n: int, families: Sequence[Family], counts: list[Counter[str]]
) -> list[Candidate]:
    chosen: list[Candidate] = []
    for candidate in candidates:
        if all(
            counts[i][d] < f.limit(d)
            for i, (f, d) in enumerate(zip(families, candidate.domains, strict=True))
        ):
            chosen.append(candidate)
            for i, domain in enumerate(candidate.domains):
                counts[i][domain] += 1
            if len(chosen) == n:
                break
    return chosen


def _reduce(
    candidates: list[Candidate], n: int, families: Sequence[Family], counts: list[Counter[str]]
) -> list[Candidate]:
    """Keep the cheapest few per cell; drop candidates whose domain is already full."""
    per_cell: dict[tuple[str, ...], list[Candidate]] = {}
    for candidate in candidates:
        room = min(
            (
                f.limit(d) - counts[i][d]
                for i, (f, d) in enumerate(zip(families, candidate.domains, strict=True))
            ),
            default=n,
        )
        if room <= 0:
            continue
        cell = per_cell.setdefault(candidate.domains, [])
        cell.append(candidate)
    kept: list[Candidate] = []
    for cell_members in per_cell.values():
        room = min(
            (
                f.limit(d) - counts[i][d]
                for i, (f, d) in enumerate(zip(families, cell_members[0].domains, strict=True))
            ),
            default=n,
        )
        kept.extend(heapq.nsmallest(min(n, room), cell_members, key=lambda c: c.key))
    kept.sort(key=lambda c: c.key)
    return kept


def _ilp(
    candidates: list[Candidate], n: int, families: Sequence[Family], counts: list[Counter[str]]
) -> list[Candidate]:
    pool = _reduce(candidates, n, families, counts)
    if not pool:
        return []
    rows: list[tuple[list[int], int]] = []
    for i, family in enumerate(families):
        members: dict[str, list[int]] = {}
        for j, candidate in enumerate(pool):
            members.setdefault(candidate.domains[i], []).append(j)
        for domain, idx in members.items():
            room = family.limit(domain) - counts[i][domain]
            if len(idx) > room:
                rows.append((idx, room))
    target = _solve(pool, rows, n, maximise_count=False)
    if target is None:
        best = _solve(pool, rows, n, maximise_count=True)
        count = 0 if best is None else len(best)
        target = _solve(pool, rows, count, maximise_count=False) if count else []
    return [pool[j] for j in sorted(target or [], key=lambda j: pool[j].key)]


def _objective(pool: Sequence[Candidate], n: int) -> np.ndarray:
    """Integer weights that order selections lexicographically by (tier, cost, rank)."""
    size = len(pool)
    units = np.array([round(c.cost * 100) for c in pool], dtype=np.float64)
    units -= units.min()
    rank = np.arange(size, dtype=np.float64)  # pool is sorted by key
    lower = units * (size + 1) + rank
    big = n * (float(lower.max()) + 1) + 1
    weights: np.ndarray = np.array([c.tier for c in pool], dtype=np.float64) * big + lower
    if float(weights.max()) * n > 2**52:  # beyond exact doubles: drop the rank tie-break
        weights = np.array([c.tier for c in pool], dtype=np.float64) * (n * (units.max() + 1) + 1) + units
    return weights


def _solve(
    pool: Sequence[Candidate], rows: list[tuple[list[int], int]], n: int, maximise_count: bool
) -> list[int] | None:
    size = len(pool)
    highs = highspy.Highs()  # type: ignore[no-untyped-call]
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("mip_rel_gap", 0.0)
    highs.setOptionValue("mip_abs_gap", 0.0)
    highs.setOptionValue("threads", 1)
    highs.addVars(size, np.zeros(size), np.ones(size))
    index = np.arange(size, dtype=np.int32)
    highs.changeColsIntegrality(size, index, np.full(size, 1, dtype=np.uint8))
    costs = -np.ones(size) if maximise_count else _objective(pool, n)
    highs.changeColsCost(size, index, costs)
    lower = np.array([0.0 if maximise_count else float(n)] + [0.0] * len(rows))
    upper = np.array([float(n)] + [float(room) for _, room in rows])
    starts = [0]
    indices: list[int] = list(range(size))
    starts.append(size)
    for idx, _ in rows:
        indices.extend(idx)
        starts.append(len(indices))
    highs.addRows(
        len(rows) + 1,
        lower,
        upper,
        len(indices),
        np.array(starts[:-1], dtype=np.int32),
        np.array(indices, dtype=np.int32),
        np.ones(len(indices)),
    )
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    values = highs.getSolution().col_value
    return [j for j in range(size) if values[j] > 0.5]
