"""Timing of allocation (a light module: importing it does not load the solver stack)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class TenancyOptions:
    """Tests shrink these; production keeps the domain defaults.

    ``lead_time`` equals ``teapot.allocation.DEFAULT_LEAD_TIME`` (a unit test checks it); it is
    spelled out here so that ``teapot explain`` and friends don't import numpy/scipy to get it.
    """

    lead_time: timedelta = timedelta(minutes=15)
    grace_period: timedelta = timedelta(minutes=2)
    resync: timedelta = timedelta(minutes=5)
    #: Passes start at most this often: BareMetalHost status churn (1,000 hosts enrolling) otherwise
    #: ran ~6 whole-world passes a second on the shared event loop; waiting coalesces the burst.
    min_pass_interval: timedelta = timedelta(seconds=0.5)
