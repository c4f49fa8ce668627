"""Allocation passes are rate-limited: a burst of host events waits for one pass instead of many."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, cast

from teapot.runtime import Manager, ManagerOptions, ObjectKey
from teapot.runtime.client import ObjectClient
from teapot.tenancy.controller import AllocationReconciler
from teapot.tenancy.options import TenancyOptions


async def test_a_pass_soon_after_the_last_one_waits_for_the_interval() -> None:
    manager = Manager(cast(ObjectClient, cast(Any, object())), ManagerOptions(metrics_bind_address=None))
    reconciler = AllocationReconciler(
        manager, options=TenancyOptions(min_pass_interval=timedelta(seconds=10))
    )
    reconciler._last_pass = time.monotonic() - 4.0  # a pass started 4 s ago
    result = await reconciler.reconcile(ObjectKey("", "world"))
    assert result.requeue_after is not None and 5.5 < result.requeue_after <= 6.0
    assert reconciler.last_plan is None  # nothing was planned or written
