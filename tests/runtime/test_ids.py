"""Snowflake ids: unique, time-ordered, worker-distinct (a pure unit test of logic)."""

from __future__ import annotations

import threading

import pytest

from services.runtime.ids import (
    MAX_SEQUENCE,
    ClockWentBackwards,
    Snowflake,
    id_time_ms,
    min_id_at,
)


def test_ids_are_unique_and_increasing_across_threads() -> None:
    gen = Snowflake(7)
    out: list[list[int]] = [[] for _ in range(4)]

    def make(i: int) -> None:
        out[i] = [gen.next_id() for _ in range(20_000)]

    threads = [threading.Thread(target=make, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for chunk in out for i in chunk]
    assert len(set(every)) == len(every)
    for chunk in out:
        assert chunk == sorted(chunk)
    assert all(0 < i < 2**63 for i in every)


def test_two_workers_in_the_same_millisecond_never_collide() -> None:
    frozen = 1_800_000_000_000_000_000
    a, b = Snowflake(1, clock=lambda: frozen), Snowflake(2, clock=lambda: frozen)
    ids_a = {a.next_id() for _ in range(MAX_SEQUENCE + 1)}
    ids_b = {b.next_id() for _ in range(MAX_SEQUENCE + 1)}
    assert len(ids_a) == len(ids_b) == MAX_SEQUENCE + 1
    assert not ids_a & ids_b


def test_the_id_carries_its_time() -> None:
    now_ns = 1_800_000_000_123_000_000
    made = Snowflake(3, clock=lambda: now_ns).next_id()
    assert id_time_ms(made) == now_ns // 1_000_000
    assert min_id_at(now_ns // 1_000_000) <= made < min_id_at(now_ns // 1_000_000 + 1)


def test_a_large_clock_step_back_is_refused() -> None:
    times = iter([1_800_000_010_000_000_000, 1_800_000_000_000_000_000])
    gen = Snowflake(0, clock=lambda: next(times))
    gen.next_id()
    with pytest.raises(ClockWentBackwards):
        gen.next_id()


def test_worker_id_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError):
        Snowflake(1024)
