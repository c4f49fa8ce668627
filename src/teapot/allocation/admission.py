"""Admission of guarantees: can every guaranteed minimum be met at the same time, at every instant?

Why this module exists: Kueue-style quotas are promises never checked against real machines. Here
the set of guarantees — tenant minimums per hardware class (always on) and guaranteed reservation
windows — is admitted only if the healthy inventory can serve all of them simultaneously.

Correctness. Cut the horizon at every window boundary into *elementary intervals*; inside one the
set of active demands is constant, so checking one instant per interval checks every instant.
Within an interval the question is a bipartite supply problem: demand groups (guarantees with the
same set of eligible host profiles, merged — only that set matters) on one side, host profiles
(equivalence classes of identical hosts, capacity = healthy hosts) on the other. By Hall's
theorem / max-flow min-cut, all demands fit iff the max flow source → groups → profiles → sink
equals the total demand. When it does not, the source side of the min cut is a Hall violator: a
set X of groups whose eligible profiles N(X) hold fewer hosts than X needs; the refusal names the
tenants and reservations in X, the classes in N(X), the interval and the shortfall
(= demand - max flow).

Speed. Groups that share no host profile never compete, so each connected component of the
group-profile graph is checked on its own, and a component of one group needs no flow at all.
``scipy.sparse.csgraph.maximum_flow`` costs ~0.25 ms per call even on tiny graphs, so all
intervals of one check go into *one* call: the per-interval networks share only the source and
sink, and the sink is unreachable in the final residual graph, so per-interval flows and min cuts
read off the combined solution are exactly the per-interval ones. Identical demand vectors are
checked once. A change to a windowed reservation only re-checks the intervals its windows touch;
removing or shrinking a guarantee can never break Hall's condition and is admitted without a flow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components, maximum_flow

from teapot.allocation.calendar import DEFAULT_LEAD_TIME, occurrences
from teapot.allocation.inventory import Inventory
from teapot.allocation.model import (
    Explanation,
    Requirements,
    Reservation,
    Tenant,
    Window,
    names,
    plural,
)

IntArray = npt.NDArray[np.int64]
# occurrence start, end, group, count, owner index; always-on demand per group; owner keys
_Arrays = tuple[IntArray, IntArray, IntArray, IntArray, IntArray, IntArray, list[str]]


@dataclass(frozen=True)
class Guarantee:
    """One guaranteed minimum: ``count`` hosts matching the requirements, always or in windows."""

    key: str
    tenant: str
    count: int
    requirements: Requirements = field(default_factory=Requirements)
    host_class: str | None = None
    windows: tuple[Window, ...] | None = None

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> list[Guarantee]:
        return [
            cls(
                key=f"tenant/{tenant.name}/{host_class}",
                tenant=tenant.name,
                count=count,
                host_class=host_class,
            )
            for host_class, count in tenant.guarantees
            if count > 0
        ]

    @classmethod
    def for_reservation(cls, reservation: Reservation, horizon: Window) -> Guarantee:
        return cls(
            key=f"reservation/{reservation.name}",
            tenant=reservation.tenant,
            count=reservation.count,
            requirements=reservation.requirements,
            host_class=reservation.host_class,
            windows=occurrences(reservation, horizon),
        )

    def describe(self) -> str:
        what = self.host_class if self.host_class is not None else ""
        if self.requirements.labels or self.requirements.minimums or not what:
            what = f"{what} {self.requirements.describe()}".strip()
        if self.key.startswith("tenant/"):
            return f"tenant '{self.tenant}' (guarantee {self.count} x {what})"
        return f"reservation '{self.key.removeprefix('reservation/')}' of '{self.tenant}' ({self.count} x {what})"


@dataclass(frozen=True)
class Upsert:
    """Add a guarantee or replace the one with the same key."""

    guarantee: Guarantee


@dataclass(frozen=True)
class Remove:
    """Drop a guarantee."""

    key: str


Change = Upsert | Remove


@dataclass(frozen=True)
class Conflict:
    """A Hall violator: guarantees that cannot all be met during ``window``."""

    window: Window
    guarantees: tuple[str, ...]
    tenants: tuple[str, ...]
    host_classes: tuple[str, ...]
    available: int
    needed: int
    shortfall: int
    explanation: Explanation


@dataclass(frozen=True)
class AdmissionDecision:
    admitted: bool
    conflicts: tuple[Conflict, ...]
    explanation: Explanation
    intervals_checked: int


@dataclass(frozen=True)
class _Entry:
    guarantee: Guarantee
    group: int
    starts: IntArray
    ends: IntArray


def _distinct_rows(matrix: IntArray) -> tuple[IntArray, IntArray]:
    """Distinct rows and, per input row, the index of its distinct row.

    ``np.unique(axis=0)`` sorts rows through a slow generic comparison; demand rows come in long
    runs of repeats, so collapse runs first and hash the few run representatives.
    """
    change = np.ones(len(matrix), dtype=bool)
    change[1:] = (matrix[1:] != matrix[:-1]).any(axis=1)
    representatives = matrix[change]
    seen: dict[bytes, int] = {}
    firsts: list[int] = []
    mapping = np.empty(len(representatives), dtype=np.int64)
    for i, row in enumerate(representatives):
        key = row.tobytes()
        index = seen.get(key)
        if index is None:
            index = seen[key] = len(firsts)
            firsts.append(i)
        mapping[i] = index
    return representatives[firsts], mapping[np.cumsum(change) - 1]


def _seconds(instant: datetime) -> int:
    return int(instant.timestamp())


def _instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _fmt(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M")


class AdmissionLedger:
    """The admitted guarantees over a horizon, and the checks that guard changes to them.

    ``what_if`` answers without changing anything; ``admit`` applies a change only if admitted.
    """

    def __init__(
        self,
        inventory: Inventory,
        horizon: Window,
        guarantees: Iterable[Guarantee] = (),
        lead_time: timedelta = DEFAULT_LEAD_TIME,
    ) -> None:
        self.inventory = inventory
        self.horizon = horizon
        self.lead_time = lead_time
        self._h0, self._h1 = _seconds(horizon.start), _seconds(horizon.end)
        self._groups: dict[tuple[int, ...], int] = {}
        self._group_profiles: list[tuple[int, ...]] = []
        self._entries: dict[str, _Entry] = {}
        self._arrays: _Arrays | None = None
        for guarantee in guarantees:
            self._entries[guarantee.key] = self._entry(guarantee)

    # -- public ---------------------------------------------------------------------------------

    @property
    def guarantees(self) -> Mapping[str, Guarantee]:
        return {key: entry.guarantee for key, entry in self._entries.items()}

    def check(self, failed: Iterable[str] = ()) -> AdmissionDecision:
        """Full check of the current guarantees against the healthy inventory minus ``failed``."""
        conflicts, checked = self._evaluate(self._entries, self._committed(), self._capacities(failed), None)
        return self._decision(
            conflicts, checked, "Satisfiable", "every guarantee can be met at every instant"
        )

    def at_risk(self, failed: Iterable[str]) -> AdmissionDecision:
        """Which admitted guarantees can no longer all be met if hosts ``failed`` (names) are down."""
        conflicts, checked = self._evaluate(
            self._entries, self._committed(), self._capacities(failed), None, at_risk=True
        )
        return self._decision(conflicts, checked, "GuaranteesSafe", "every guarantee can still be met")

    def what_if(self, change: Change) -> AdmissionDecision:
        """Would ``change`` be admitted? Changes nothing."""
        if isinstance(change, Remove):
            known = change.key in self._entries
            message = (
                "removing a guarantee never breaks the others" if known else f"no guarantee {change.key!r}"
            )
            return AdmissionDecision(True, (), Explanation("Admitted", message), 0)
        entry = self._entry(change.guarantee)
        entries = dict(self._entries)
        entries[entry.guarantee.key] = entry
        restrict = None if entry.guarantee.windows is None else (entry.starts, entry.ends)
        arrays = self._with_entry(self._committed(), entry)
        conflicts, checked = self._evaluate(entries, arrays, self._capacities(()), restrict)
        return self._decision(conflicts, checked, "Admitted", f"{entry.guarantee.describe()} fits")

    def admit(self, change: Change) -> AdmissionDecision:
        """Apply ``change`` if (and only if) it is admitted."""
        decision = self.what_if(change)
        if decision.admitted:
            if isinstance(change, Remove):
                self._entries.pop(change.key, None)
            else:
                self._entries[change.guarantee.key] = self._entry(change.guarantee)
            self._arrays = None
        return decision

    # -- internals ------------------------------------------------------------------------------

    def _group(self, guarantee: Guarantee) -> int:
        profiles = self.inventory.matching_profiles(guarantee.requirements, guarantee.host_class)
        group = self._groups.get(profiles)
        if group is None:
            group = len(self._group_profiles)
            self._groups[profiles] = group
            self._group_profiles.append(profiles)
        return group

    def _entry(self, guarantee: Guarantee) -> _Entry:
        if guarantee.count < 0:
            raise ValueError("guarantee count must be >= 0")
        lead = int(self.lead_time.total_seconds())
        if guarantee.windows is None:
            starts = ends = np.zeros(0, dtype=np.int64)
        else:
            spans = [
                (max(self._h0, _seconds(w.start) - lead), min(self._h1, _seconds(w.end)))
                for w in guarantee.windows
            ]
            spans = [(s, e) for s, e in spans if s < e]
            starts = np.array([s for s, _ in spans], dtype=np.int64)
            ends = np.array([e for _, e in spans], dtype=np.int64)
        return _Entry(guarantee, self._group(guarantee), starts, ends)

    def _capacities(self, failed: Iterable[str]) -> IntArray:
        inventory = self.inventory
        caps = np.zeros(len(inventory.profiles), dtype=np.int64)
        down = set(failed)
        for profile in inventory.profiles:
            caps[profile.index] = sum(
                1
                for name in inventory.members(profile.index)
                if inventory.hosts[name].healthy and name not in down
            )
        return caps

    def _committed(self) -> _Arrays:
        """Occurrence arrays of the admitted guarantees, cached until the next admitted change."""
        if self._arrays is None:
            self._arrays = self._occurrence_arrays(self._entries)
        return self._arrays

    def _with_entry(self, arrays: _Arrays, entry: _Entry) -> _Arrays:
        """``arrays`` with ``entry`` added (replacing an entry with the same key) — no rebuild."""
        starts, ends, groups, counts, owner, base, keys = arrays
        base = np.concatenate([base, np.zeros(len(self._group_profiles) - len(base), dtype=np.int64)])
        key = entry.guarantee.key
        if key in self._entries:
            index = keys.index(key)
            old = self._entries[key]
            if old.guarantee.windows is None:
                base[old.group] -= old.guarantee.count
            keep = owner != index
            starts, ends, groups, counts, owner = (
                starts[keep],
                ends[keep],
                groups[keep],
                counts[keep],
                owner[keep],
            )
        else:
            index = len(keys)
            keys = [*keys, key]
        if entry.guarantee.windows is None:
            base[entry.group] += entry.guarantee.count
            return starts, ends, groups, counts, owner, base, keys
        n = len(entry.starts)
        return (
            np.concatenate([starts, entry.starts]),
            np.concatenate([ends, entry.ends]),
            np.concatenate([groups, np.full(n, entry.group, dtype=np.int64)]),
            np.concatenate([counts, np.full(n, entry.guarantee.count, dtype=np.int64)]),
            np.concatenate([owner, np.full(n, index, dtype=np.int64)]),
            base,
            keys,
        )

    def _occurrence_arrays(self, entries: Mapping[str, _Entry]) -> _Arrays:
        """Windowed occurrences as flat arrays (start, end, group, count, owner) + always-on base."""
        keys = list(entries)
        windowed = [entries[k] for k in keys if entries[k].guarantee.windows is not None]
        owners = [i for i, k in enumerate(keys) if entries[k].guarantee.windows is not None]
        base = np.zeros(len(self._group_profiles), dtype=np.int64)
        for entry in entries.values():
            if entry.guarantee.windows is None:
                base[entry.group] += entry.guarantee.count
        if not windowed:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty, empty, base, keys
        lengths = np.array([len(e.starts) for e in windowed], dtype=np.int64)
        starts = np.concatenate([e.starts for e in windowed])
        ends = np.concatenate([e.ends for e in windowed])
        groups = np.repeat(np.array([e.group for e in windowed], dtype=np.int64), lengths)
        counts = np.repeat(np.array([e.guarantee.count for e in windowed], dtype=np.int64), lengths)
        owner = np.repeat(np.array(owners, dtype=np.int64), lengths)
        return starts, ends, groups, counts, owner, base, keys

    def _evaluate(
        self,
        entries: Mapping[str, _Entry],
        arrays: _Arrays,
        caps: IntArray,
        restrict: tuple[IntArray, IntArray] | None,
        at_risk: bool = False,
    ) -> tuple[list[Conflict], int]:
        starts, ends, groups, counts, owner, base, keys = arrays
        n_groups = len(self._group_profiles)
        base = np.concatenate([base, np.zeros(n_groups - len(base), dtype=np.int64)])
        lo, hi = self._h0, self._h1
        if restrict is not None:
            # only the span of the changed windows matters: demand at an instant depends only on
            # the occurrences covering it, so drop the rest and cut the timeline to that span
            if len(restrict[0]) == 0:
                return [], 0
            lo, hi = int(restrict[0].min()), int(restrict[1].max())
            near = (starts < hi) & (ends > lo)
            starts, ends = np.maximum(starts[near], lo), np.minimum(ends[near], hi)
            groups, counts, owner = groups[near], counts[near], owner[near]
        bounds = np.unique(np.concatenate([np.array([lo, hi], dtype=np.int64), starts, ends]))
        n_intervals = len(bounds) - 1
        diff = np.zeros((n_intervals + 1, n_groups), dtype=np.int64)
        np.add.at(diff, (np.searchsorted(bounds, starts), groups), counts)
        np.add.at(diff, (np.searchsorted(bounds, ends), groups), -counts)
        demand = np.cumsum(diff, axis=0)[:n_intervals] + base
        selected = np.arange(n_intervals)
        if restrict is not None:
            r_starts, r_ends = restrict
            mask = np.zeros(n_intervals + 1, dtype=np.int64)
            np.add.at(mask, np.searchsorted(bounds, r_starts), 1)
            np.add.at(mask, np.searchsorted(bounds, r_ends), -1)
            selected = np.nonzero(np.cumsum(mask)[:n_intervals] > 0)[0]
        if len(selected) == 0:
            return [], 0
        chosen = demand[selected]
        occ = (starts, ends, groups, owner)
        conflicts: list[Conflict] = []
        for comp_groups, comp_profiles in self._components(np.nonzero(chosen.any(axis=0))[0]):
            sub = chosen[:, comp_groups]
            if len(comp_groups) == 1:
                # a lone group needs no flow: it fits iff its demand fits its profiles
                rows, inverse = sub, np.arange(len(sub))
                short = np.maximum(0, rows[:, 0] - int(caps[comp_profiles].sum()))
                violator = ({int(comp_groups[0])}, {int(p) for p in comp_profiles})
                violators = {int(u): violator for u in np.nonzero(short)[0]}
            else:
                rows, inverse = _distinct_rows(sub)
                short, violators = self._flow(rows, comp_groups, comp_profiles, caps)
            if not short.any():
                continue
            cut = (sub[1:] != sub[:-1]).any(axis=1) | (selected[1:] != selected[:-1] + 1)
            run_starts = np.concatenate([[0], np.nonzero(cut)[0] + 1])
            run_ends = np.concatenate([run_starts[1:], [len(selected)]])
            for first, last in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
                row = int(inverse[first])
                if short[row] <= 0:
                    continue
                window = Window(
                    _instant(int(bounds[selected[first]])), _instant(int(bounds[selected[last - 1] + 1]))
                )
                full_row = np.zeros(n_groups, dtype=np.int64)
                full_row[comp_groups] = rows[row]
                conflicts.append(
                    self._conflict(
                        entries, keys, window, violators[row], int(short[row]), full_row, caps, occ, at_risk
                    )
                )
        conflicts.sort(key=lambda c: (c.window.start, c.guarantees))
        return conflicts, len(selected)

    def _components(self, active: IntArray) -> list[tuple[IntArray, IntArray]]:
        """Connected components of the active groups and their eligible profiles. Components share
        no host, so each is checked on its own; groups with no eligible profile stand alone."""
        n_profiles = len(self.inventory.profiles)
        rows = [int(i) for i, g in enumerate(active.tolist()) for _ in self._group_profiles[g]]
        cols = [len(active) + p for g in active.tolist() for p in self._group_profiles[g]]
        size = len(active) + n_profiles
        graph = csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(size, size))
        _, labels = connected_components(graph, directed=False)
        result: list[tuple[IntArray, IntArray]] = []
        for label in np.unique(labels[: len(active)]):
            members = np.nonzero(labels == label)[0]
            comp_groups = active[members[members < len(active)]]
            comp_profiles = members[members >= len(active)] - len(active)
            result.append((comp_groups.astype(np.int64), comp_profiles.astype(np.int64)))
        return result

    def _flow(
        self, rows: IntArray, group_ids: IntArray, profiles: IntArray, caps: IntArray
    ) -> tuple[IntArray, dict[int, tuple[set[int], set[int]]]]:
        """One max-flow over the disjoint union of the per-row networks.

        ``rows[u, i]`` is the demand of group ``group_ids[i]`` in row ``u``; ``profiles`` are the
        profiles those groups can use. Nodes: 0 source, 1 sink, 2+j demand pair j (row u, group g),
        then P profile nodes per row. Returns the shortfall per row and, for short rows, the min
        cut (global group ids, profile ids).
        """
        n_rows, n_profiles = rows.shape[0], len(caps)
        us, local = np.nonzero(rows)
        gs = group_ids[local]
        n_pairs = len(us)
        if n_pairs == 0:
            return np.zeros(n_rows, dtype=np.int64), {}
        demand = rows[us, local]
        eptr = np.zeros(len(self._group_profiles) + 1, dtype=np.int64)
        eptr[1:] = np.cumsum([len(p) for p in self._group_profiles])
        eidx = np.array([p for profiles in self._group_profiles for p in profiles], dtype=np.int64)
        lengths = eptr[gs + 1] - eptr[gs]
        pair_of_edge = np.repeat(np.arange(n_pairs), lengths)
        offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        profile_of_edge = eidx[np.repeat(eptr[gs], lengths) + offsets] if len(eidx) else offsets
        keep = caps[profile_of_edge] > 0
        pair_of_edge, profile_of_edge = pair_of_edge[keep], profile_of_edge[keep]
        profile_base = 2 + n_pairs
        big = int(caps.sum()) + 1
        live = profiles[caps[profiles] > 0]
        sink_rows = (profile_base + np.arange(n_rows)[:, None] * n_profiles + live[None, :]).reshape(-1)
        src = np.concatenate([np.zeros(n_pairs, dtype=np.int64), 2 + pair_of_edge, sink_rows])
        dst = np.concatenate(
            [
                2 + np.arange(n_pairs),
                profile_base + us[pair_of_edge] * n_profiles + profile_of_edge,
                np.ones(len(sink_rows), dtype=np.int64),
            ]
        )
        cap = np.concatenate([demand, np.full(len(pair_of_edge), big), np.tile(caps[live], n_rows)])
        n_nodes = profile_base + n_rows * n_profiles
        graph = csr_matrix((cap.astype(np.int32), (src, dst)), shape=(n_nodes, n_nodes))
        result = maximum_flow(graph, 0, 1)
        flow = result.flow.tocsr()
        into_pairs = np.asarray(flow[0, 2 : 2 + n_pairs].todense()).reshape(-1)
        short = np.bincount(us, weights=demand - into_pairs, minlength=n_rows).astype(np.int64)
        violators: dict[int, tuple[set[int], set[int]]] = {}
        if short.any():
            residual = (graph - flow).tocsr()
            residual.data[residual.data < 0] = 0
            residual.eliminate_zeros()
            reached = breadth_first_order(residual, 0, directed=True, return_predecessors=False)
            reached = reached[reached >= 2]
            for node in reached.tolist():
                if node < profile_base:
                    row = int(us[node - 2])
                    if short[row] > 0:
                        violators.setdefault(row, (set(), set()))[0].add(int(gs[node - 2]))
                else:
                    row, profile = divmod(node - profile_base, n_profiles)
                    if short[row] > 0:
                        violators.setdefault(row, (set(), set()))[1].add(profile)
        return short, violators

    def _conflict(
        self,
        entries: Mapping[str, _Entry],
        keys: list[str],
        window: Window,
        violator: tuple[set[int], set[int]],
        shortfall: int,
        row: IntArray,
        caps: IntArray,
        occ: tuple[IntArray, IntArray, IntArray, IntArray],
        at_risk: bool,
    ) -> Conflict:
        groups, profiles = violator
        starts, ends, occ_groups, owner = occ
        ws, we = _seconds(window.start), _seconds(window.end)
        hit = (starts < we) & (ends > ws) & np.isin(occ_groups, list(groups))
        involved = {keys[i] for i in np.unique(owner[hit]).tolist()}
        involved |= {k for k, e in entries.items() if e.guarantee.windows is None and e.group in groups}
        guarantees = sorted(involved)
        described = [entries[k].guarantee.describe() for k in guarantees]
        tenants = tuple(sorted({entries[k].guarantee.tenant for k in guarantees}))
        by_class: dict[str, int] = {}
        for p in profiles:
            label = self.inventory.profiles[p].host_class or "unclassified"
            by_class[label] = by_class.get(label, 0) + int(caps[p])
        available = sum(by_class.values())
        needed = int(sum(int(row[g]) for g in groups))
        shown = "; ".join(described[:4]) + (f"; and {len(described) - 4} more" if len(described) > 4 else "")
        classes = ", ".join(f"{c}: {n}" for c, n in sorted(by_class.items())) or "none"
        when = f"from {_fmt(window.start)} to {_fmt(window.end)} UTC"
        hosts = f"{plural(available, 'healthy host')} ({classes})"
        if at_risk:
            message = (
                f"{when}, {shown} {'is' if len(described) == 1 else 'are'} at risk: only {hosts} "
                f"remain for the {needed} needed — short by {plural(shortfall, 'host')}"
            )
        else:
            message = (
                f"{when}, {shown} compete for {hosts}; together they need {needed} — "
                f"short by {plural(shortfall, 'host')}"
            )
        reason = "GuaranteeAtRisk" if at_risk else "GuaranteesOverCommitted"
        return Conflict(
            window=window,
            guarantees=tuple(guarantees),
            tenants=tenants,
            host_classes=tuple(sorted(by_class)),
            available=available,
            needed=needed,
            shortfall=shortfall,
            explanation=Explanation(reason, message),
        )

    @staticmethod
    def _decision(
        conflicts: list[Conflict], checked: int, ok_reason: str, ok_message: str
    ) -> AdmissionDecision:
        if not conflicts:
            return AdmissionDecision(True, (), Explanation(ok_reason, ok_message), checked)
        first = conflicts[0].explanation
        more = f" (and {plural(len(conflicts) - 1, 'more interval')})" if len(conflicts) > 1 else ""
        tenants = names(t for c in conflicts for t in c.tenants)
        hint = f"; tenants involved: {tenants}"
        return AdmissionDecision(
            False, tuple(conflicts), Explanation(first.reason, first.message + more + hint), checked
        )
