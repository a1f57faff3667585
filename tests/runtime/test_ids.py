"""Snowflake ids: unique, time-ordered, worker-distinct (a pure unit test of logic)."""

from __future__ import annotations

import threading

import pytest
from pydantic import ValidationError

from services.runtime.ids import (
    MAX_SEQUENCE,
    ClockWentBackwards,
    Snowflake,
    SnowflakeSettings,
    WorkerIdLapsed,
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


def test_a_limited_generator_stays_inside_its_lease_window() -> None:
    now_ns = [1_800_000_000_000_000_000]
    gen = Snowflake(5, clock=lambda: now_ns[0])
    now_ms = now_ns[0] // 1_000_000
    # The previous holder may have made ids up to now_ms - 1 (its fence): ours start after.
    gen.limit(after_ms=now_ms - 1, until_ms=now_ms + 10)
    first = gen.next_id()
    assert id_time_ms(first) == now_ms
    now_ns[0] += 20 * 1_000_000  # past the fence: no more ids until the lease is renewed
    with pytest.raises(WorkerIdLapsed) as lapsed:
        gen.next_id()
    assert lapsed.value.reason == "WORKER_ID_LEASE_LAPSED"
    gen.extend(now_ms + 30)
    second = gen.next_id()
    assert second > first and id_time_ms(second) == now_ms + 20
    assert gen.close() == now_ms + 20  # the last millisecond used: where the next holder starts
    with pytest.raises(WorkerIdLapsed):
        gen.next_id()


def test_the_lease_setting_takes_a_number_or_lease(monkeypatch) -> None:
    monkeypatch.setenv("PHOTOMESH_SNOWFLAKE_WORKER_ID", "lease")
    assert SnowflakeSettings().worker_id == "lease"
    monkeypatch.setenv("PHOTOMESH_SNOWFLAKE_WORKER_ID", "17")
    assert SnowflakeSettings().worker_id == 17
    monkeypatch.setenv("PHOTOMESH_SNOWFLAKE_WORKER_ID", "1024")
    with pytest.raises(ValidationError):
        SnowflakeSettings()
