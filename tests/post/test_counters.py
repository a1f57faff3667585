"""The counters' and like sets' protocols in-process, on the run's real Redis and CQL
keyspace: one rebuild at a time per key (across two "processes", i.e. two instances),
the set-aside value served meanwhile, repeats that change nothing, and like sets that stay
exact while likes and unlikes race a rebuild. The count in CQL is wrapped to count calls."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from services.post import cache
from services.post.__main__ import recounter
from services.post.cache import Counter
from services.post.counters import Counters
from services.post.like_sets import LikeSets
from services.post.model import LikeRow
from services.post.store.comments import CommentRows
from services.post.store.likes import LikeRows
from services.post.store.posts import PostRows
from services.runtime.cache import KeySpace, connect_redis
from services.runtime.cql import CqlStore
from services.runtime.ids import Snowflake
from services.runtime.settings import CqlSettings, RedisSettings, load

ids = Snowflake(1001)


@pytest.fixture(scope="module")
async def store(mesh) -> AsyncIterator[LikeRows]:
    cql = await CqlStore.connect(load(CqlSettings))
    await cql.use_keyspace()
    yield LikeRows(cql)
    await cql.close()


@pytest.fixture(scope="module")
async def redis(mesh) -> AsyncIterator[Redis]:
    client = connect_redis(load(RedisSettings))
    yield client
    await client.aclose()


@dataclass
class Process:
    """What one post service process holds: its counters and like sets."""

    counters: Counters
    sets: LikeSets


class Mesh:
    """Two processes sharing one key space; every count made in CQL is counted."""

    def __init__(self, redis: Redis, store: LikeRows, slow: float = 0.0,
                 page_size: int = 5000) -> None:
        self.store = store
        self.cql_counts = 0
        self.page_times: list[float] = []  # when each page of a like set was read
        self.keys = KeySpace(load(RedisSettings), f"post-{uuid.uuid4().hex[:8]}")
        recount = recounter(PostRows(store._cql), CommentRows(store._cql), store)

        async def counted(counter: Counter) -> int:
            self.cql_counts += 1
            await asyncio.sleep(slow)  # a slow count: concurrent readers arrive meanwhile
            return await recount(counter)

        def paged(counter: Counter):  # type: ignore[no-untyped-def]
            async def pages():  # type: ignore[no-untyped-def]
                async for page in store.like_members(int(counter.subject), page_size):
                    self.page_times.append(time.monotonic())
                    await asyncio.sleep(slow)
                    yield page
            return pages()

        self.processes = []
        for _ in range(2):
            counters = Counters(redis, self.keys, counted, ttl_seconds=600)
            self.processes.append(Process(counters, LikeSets(redis, counters, paged)))

    @property
    def pages(self) -> int:
        return len(self.page_times)

    @property
    def rebuilds(self) -> int:
        return sum(p.counters.recounts for p in self.processes)


async def _post_with_likes(store: LikeRows, n: int) -> tuple[int, list[str]]:
    post_id, users = ids.next_id(), [str(uuid.uuid4()) for _ in range(n)]
    for user in users:
        await store.insert_like(post_id, LikeRow(ids.next_id(), user, datetime.now(UTC)))
        await store.mark_like_published(post_id, user)
    return post_id, users


async def test_a_cold_count_is_rebuilt_once_while_many_read_it(redis, store) -> None:
    mesh = Mesh(redis, store, slow=0.2)
    author = str(uuid.uuid4())
    for _ in range(3):
        await store._cql.execute("INSERT INTO post_user_posts (author_id, post_id) VALUES (?, ?)",
                                 (uuid.UUID(author), ids.next_id()))
    counter = cache.posts(author)
    reads = [p.counters.get(counter) for p in mesh.processes for _ in range(20)]
    assert await asyncio.gather(*reads) == [3] * 40
    assert mesh.cql_counts == 1, "one count in CQL for 40 concurrent cold reads"


async def test_a_set_aside_count_is_served_while_one_rebuild_runs(redis, store) -> None:
    mesh = Mesh(redis, store, slow=0.3)
    author = str(uuid.uuid4())
    counter = cache.posts(author)
    first, second = mesh.processes
    assert await first.counters.get(counter) == 0
    assert mesh.cql_counts == 1
    # A write whose outcome is unknown: the value is set aside, the row lands meanwhile.
    await store._cql.execute("INSERT INTO post_user_posts (author_id, post_id) VALUES (?, ?)",
                             (uuid.UUID(author), ids.next_id()))
    await first.counters.invalidate([counter])
    started = asyncio.get_running_loop().time()
    served = await asyncio.gather(*(p.counters.get(counter) for p in mesh.processes
                                    for _ in range(10)))
    assert served == [0] * 20, "the old value, at once"
    assert asyncio.get_running_loop().time() - started < 0.25
    for _ in range(100):
        if await redis.get(first.counters.keys(counter).n) is not None:
            break
        await asyncio.sleep(0.02)
    assert await second.counters.get(counter) == 1
    assert mesh.cql_counts == 2, "one rebuild for twenty reads"


async def test_a_finished_change_repeated_changes_nothing_cached(redis, store) -> None:
    mesh = Mesh(redis, store)
    counters = mesh.processes[0].counters
    author = str(uuid.uuid4())
    counter = cache.posts(author)
    assert await counters.get(counter) == 0
    await counters.begin([counter])
    await counters.commit({counter: 1}, op="post.created:1")
    await counters.settle([counter], op="post.created:1")  # the retry of a finished create
    assert await redis.get(counters.keys(counter).n) == b"1"
    await counters.settle([counter], op="post.created:2")  # one that stopped half-way
    assert await redis.get(counters.keys(counter).n) is None
    assert await counters.get(counter) == 1  # the value set aside, while it is rebuilt
    for _ in range(100):
        if await redis.get(counters.keys(counter).n) is not None:
            break
        await asyncio.sleep(0.02)
    assert await counters.get(counter) == 0  # recounted: nothing is in CQL
    assert mesh.cql_counts == 2


async def test_an_old_change_repeated_never_forces_a_recount(redis, store) -> None:
    """A repeat of a delete whose record of being counted has expired (older than a cached
    value lives) leaves the cached count alone; a recent one whose record is missing (its
    first attempt stopped half-way) sets the value aside for one rebuild."""
    mesh = Mesh(redis, store)
    counters = mesh.processes[0].counters
    counter = cache.comments(ids.next_id())
    assert await counters.get(counter) == 0
    now_ms = int(time.time() * 1000)
    for _ in range(3):
        await counters.settle([counter], op="comment.deleted:1",
                              written_ms=now_ms - counters.settled_after_ms - 1000)
    assert await redis.get(counters.keys(counter).n) == b"0", "nothing set aside"
    assert await counters.get(counter) == 0 and mesh.cql_counts == 1, "no recount"
    await counters.settle([counter], op="comment.deleted:1", written_ms=now_ms - 1000)
    assert await redis.get(counters.keys(counter).n) is None
    assert await redis.get(counters.keys(counter).old) == b"0"


async def test_a_cold_like_set_is_built_once_for_all_readers(redis, store) -> None:
    mesh = Mesh(redis, store, slow=0.05)
    post_id, users = await _post_with_likes(store, 7)
    counter = cache.likes(post_id)
    reads = [p.counters.get(counter) for p in mesh.processes for _ in range(15)]
    assert await asyncio.gather(*reads) == [7] * 30
    assert mesh.rebuilds == 1 and mesh.pages == 1
    sets = mesh.processes[1].sets
    for user in users[:3]:  # repeated likes: answered from the set, no lock, no change
        hold = await sets.acquire(counter, user, like=True)
        assert hold.done and hold.count == 7
    assert mesh.rebuilds == 1


async def _like(process: Process, store: LikeRows, post_id: int, user: str) -> None:
    """What LikePost does, without the event."""
    counter = cache.likes(post_id)
    hold = await process.sets.acquire(counter, user, like=True)
    if hold.done:
        return
    found = await store.get_like(post_id, user)
    like = found.like if found is not None and not found.unliked else None
    if found is not None and found.unliked:
        await store.delete_like(post_id, user)
    if like is None:
        like = LikeRow(ids.next_id(), user, datetime.now(UTC))
        await store.insert_like(post_id, like)
    await process.sets.add(hold, str(like.like_id))
    await store.mark_like_published(post_id, user)


async def _unlike(process: Process, store: LikeRows, post_id: int, user: str) -> None:
    hold = await process.sets.acquire(cache.likes(post_id), user, like=False)
    try:
        found = await store.get_like(post_id, user)
        if found is not None:
            await store.mark_unliked(post_id, found.like)
            await store.delete_like(post_id, user)
    finally:
        await process.sets.release(hold)


async def test_likes_and_unlikes_racing_a_rebuild_keep_the_count_exact(redis, store) -> None:
    mesh = Mesh(redis, store, slow=0.02, page_size=5)
    post_id, users = await _post_with_likes(store, 30)
    counter = cache.likes(post_id)
    a, b = mesh.processes
    newcomers = [str(uuid.uuid4()) for _ in range(20)]

    churned: list[float] = []

    async def churn() -> None:
        # While the set is being rebuilt (pages of 5 rows, slowly): 10 likers leave, 20
        # new users like, 5 of them leave again, and everyone repeats their last call.
        for i, user in enumerate(users[:10]):
            await _unlike(a if i % 2 else b, store, post_id, user)
        await asyncio.gather(*(_like(a if i % 2 else b, store, post_id, u)
                               for i, u in enumerate(newcomers)))
        await asyncio.gather(*(_unlike(b, store, post_id, u) for u in newcomers[:5]))
        await asyncio.gather(*(_unlike(a, store, post_id, u) for u in users[:10]),
                             *(_like(b, store, post_id, u) for u in newcomers[5:]))
        churned.append(time.monotonic())

    await asyncio.gather(churn(), a.counters.get(counter), b.counters.get(counter))
    # Pages of 5 rows, and some of the 30 first rows may have gone before they were read.
    assert mesh.pages >= 2 and mesh.page_times[0] < churned[0], \
        "the rebuild ran while the likes and unlikes landed"
    truth = 30 - 10 + 20 - 5
    assert await store.count_likes(post_id) == truth
    assert await a.counters.get(counter) == truth
    assert await b.counters.get(counter) == truth
    members = await redis.hkeys(a.counters.keys(counter).likers)
    assert {m.decode() for m in members} - {"#state"} == {*users[10:], *newcomers[5:]}
