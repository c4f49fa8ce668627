from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teapot.runtime.ratelimit import BackoffPolicy, ItemBackoff, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_and_caps_without_jitter() -> None:
    policy = BackoffPolicy(base=0.01, cap=1.0, jitter=0.0)
    assert [policy.delay(n) for n in range(9)] == [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0]
    assert policy.delay(10_000) == 1.0  # no float overflow for huge failure counts


@given(st.integers(min_value=0, max_value=200), st.floats(min_value=0.0, max_value=1.0))
def test_backoff_jitter_stays_within_band(failures: int, draw: float) -> None:
    policy = BackoffPolicy(base=0.005, cap=300.0, jitter=0.25)
    raw = min(300.0, 0.005 * 2.0 ** min(failures, 64))
    delay = policy.delay(failures, lambda: draw)
    assert raw * 0.75 - 1e-9 <= delay <= raw + 1e-9


def test_item_backoff_is_per_key_and_forget_resets() -> None:
    backoff = ItemBackoff(BackoffPolicy(base=1.0, cap=100.0, jitter=0.0))
    assert [backoff.when("a") for _ in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff.when("b") == 1.0
    assert backoff.failures("a") == 4
    backoff.forget("a")
    assert backoff.failures("a") == 0
    assert backoff.when("a") == 1.0


def test_token_bucket_allows_burst_then_paces_at_qps() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=10.0, burst=3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    # reservations queue up behind each other, 1/qps apart
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)
    clock.now += 0.2  # the two reserved tokens are now paid for; the bucket is empty
    assert bucket.reserve() == pytest.approx(0.1)
    clock.now += 10.0  # refills, but never above burst
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.1)


def test_token_bucket_unlimited_and_validation() -> None:
    bucket = TokenBucket(qps=0, burst=1)
    assert bucket.unlimited
    assert all(bucket.reserve() == 0.0 for _ in range(1000))
    with pytest.raises(ValueError):
        TokenBucket(qps=1, burst=0)


async def test_token_bucket_wait_sleeps_for_the_reserved_delay() -> None:
    bucket = TokenBucket(qps=100.0, burst=1)
    assert await bucket.wait() == 0.0
    waited = await bucket.wait()
    assert 0.005 < waited <= 0.0101
