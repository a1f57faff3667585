"""Leased Snowflake worker ids against the real CQL store: never shared, reused when free."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from infra import services as mesh_services
from infra.sandbox import free_port
from services.runtime import migrations
from services.runtime.cql import CqlStore
from services.runtime.ids import WorkerIdLapsed, id_time_ms
from services.runtime.settings import CqlSettings, load
from services.runtime.worker_ids import TABLE, LeaseLost, NoFreeWorkerId, WorkerIdLease
from tests.helpers import wait_serving


@pytest.fixture
async def stores(run_env) -> AsyncIterator[tuple[CqlStore, CqlStore]]:
    """Two sessions (as two processes would have) on a keyspace of their own, with the
    runtime schema applied; dropped after the test."""
    settings = load(CqlSettings).model_copy(
        update={"keyspace": f"pmlease_{uuid.uuid4().hex[:10]}"})
    first = await CqlStore.connect(settings)
    await migrations.apply(first, [migrations.RUNTIME])
    second = await CqlStore.connect(settings)
    yield first, second
    await first.execute_raw(f"DROP KEYSPACE IF EXISTS {settings.keyspace}")
    await first.close()
    await second.close()


async def _claims(stores: tuple[CqlStore, CqlStore], count: int, worker_ids: range,
                  ttl: int = 30) -> list[WorkerIdLease | BaseException]:
    return await asyncio.gather(*(
        WorkerIdLease.claim(stores[i % 2], ttl, holder=f"claimer-{i}", worker_ids=worker_ids)
        for i in range(count)), return_exceptions=True)


async def _holders(store: CqlStore) -> dict[int, str | None]:
    await store.use_keyspace()
    return {row["worker_id"]: row["holder"]
            for row in await store.execute(f"SELECT worker_id, holder FROM {TABLE}")}


async def test_concurrent_claimers_never_get_the_same_id(stores) -> None:
    results = await _claims(stores, 12, range(8))
    leases = [r for r in results if isinstance(r, WorkerIdLease)]
    refused = [r for r in results if not isinstance(r, WorkerIdLease)]
    assert len(leases) == 8 and all(isinstance(r, NoFreeWorkerId) for r in refused), results
    assert sorted(lease.worker_id for lease in leases) == list(range(8))
    assert await _holders(stores[0]) == {lease.worker_id: lease.holder for lease in leases}


async def test_many_claimers_of_one_id_make_one_holder(stores) -> None:
    results = await _claims(stores, 6, range(1))
    leases = [r for r in results if isinstance(r, WorkerIdLease)]
    assert len(leases) == 1, results
    assert all(isinstance(r, NoFreeWorkerId) for r in results if r is not leases[0])


async def test_a_released_id_is_reused_and_its_ids_stay_unique(stores) -> None:
    first = await WorkerIdLease.claim(stores[0], 30, worker_ids=range(1))
    made = [first.snowflake.next_id() for _ in range(5000)]
    await first.release()
    with pytest.raises(WorkerIdLapsed):
        first.snowflake.next_id()
    started = time.monotonic()
    second = await WorkerIdLease.claim(stores[1], 30, worker_ids=range(1))
    # Released with its fence lowered to the last millisecond it used: free at once, not
    # after the 30 s TTL.
    assert time.monotonic() - started < 10
    assert second.worker_id == first.worker_id
    again = [second.snowflake.next_id() for _ in range(5000)]
    assert min(again) > max(made)
    assert len(set(made + again)) == len(made) + len(again)


async def test_an_expired_lease_is_taken_over_after_its_fence(stores) -> None:
    gone = await WorkerIdLease.claim(stores[0], 2, worker_ids=range(1))
    made = [gone.snowflake.next_id() for _ in range(100)]
    with pytest.raises(NoFreeWorkerId):  # still held
        await WorkerIdLease.claim(stores[1], 2, worker_ids=range(1))
    await asyncio.sleep(2.5)  # never renewed: the TTL lapses
    taker = await WorkerIdLease.claim(stores[1], 30, worker_ids=range(1))
    assert taker.worker_id == gone.worker_id
    first = taker.snowflake.next_id()
    # The old holder may have made ids up to its fence; the new one starts after it.
    assert id_time_ms(first) > gone.fence_ms >= id_time_ms(max(made))
    with pytest.raises(WorkerIdLapsed):  # the old holder's fence has passed
        gone.snowflake.next_id()
    with pytest.raises(LeaseLost):
        await gone.renew()


async def test_renewals_keep_an_id_past_its_first_fence(stores) -> None:
    lease = await WorkerIdLease.claim(stores[0], 2, worker_ids=range(1))
    first_fence = lease.fence_ms
    keeper = asyncio.ensure_future(lease.keep())  # renews every 0.5 s
    try:
        await asyncio.sleep(3.0)
        with pytest.raises(NoFreeWorkerId):
            await WorkerIdLease.claim(stores[1], 2, worker_ids=range(1))
        later = lease.snowflake.next_id()
        assert id_time_ms(later) > first_fence and lease.fence_ms > first_fence
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
        await lease.release()


async def test_a_service_with_a_leased_id_holds_it_while_serving_and_frees_it_on_sigterm(
        mesh) -> None:
    port = free_port()
    overrides = {**{k: v for k, v in mesh.env.items() if not k.startswith("PHOTOMESH_POST_")},
                 "PHOTOMESH_SNOWFLAKE_WORKER_ID": "lease"}
    env = mesh_services.process_env(mesh.settings, "post", overrides, ports={"post": port})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.post", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    store = await CqlStore.connect(load(CqlSettings))
    try:
        await wait_serving(f"127.0.0.1:{port}", proc)
        held = [h for h in (await _holders(store)).values() if h and f"/{proc.pid}/" in h]
        assert len(held) == 1
        os.kill(proc.pid, signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        assert not [h for h in (await _holders(store)).values() if h and f"/{proc.pid}/" in h]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await store.close()
