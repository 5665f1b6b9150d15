"""A clock that moves only when the test moves it.

    clock          a ManualClock: monotonic time 1000.0, wall time the real time at the start of the test
    ManualClock    for a clock of your own, e.g. one starting at another time: ManualClock(6000.0)

A ManualClock is two clocks moved together by ``advance(seconds)``: called (or ``.monotonic()``)
it reads ``now``, for code that takes a clock such as ``time.monotonic``; ``.time()`` reads ``wall``,
for code that takes ``time.time`` and compares it with real timestamps (token and credential expiry).
A test may also set ``clock.now`` outright.
"""

from __future__ import annotations

import time

import pytest


class ManualClock:
    def __init__(self, now: float = 1000.0, *, wall: float | None = None) -> None:
        self.now = float(now)
        self.wall = time.time() if wall is None else float(wall)

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall += seconds

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now}, wall={self.wall})"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
