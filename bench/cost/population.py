"""The people and content the cost benchmark measures against, made through the public
RPCs of the private mesh (straight to the services: setup is not measured).

`authors` each post `posts_per_author` posts with one real image (uploaded to its
presigned URL, processed by the media worker until READY) and one text story; `readers`
follow every author, so a reader's home feed is a full page of posts with media and its
story tray lists every author. Spare READY images wait for CreatePost runs.

Writes that must be new on every call draw from `Pool`s: a like is a (user, post) pair not
liked yet, a follow a (user, user) pair not following yet, a create an image not in a post
yet. Each pool hands out `take(n)` calls so that call i is made by user ``i % users``, which
is how the load generator picks a call's token (bench/measure/ghz.py).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import grpc
from grpc import aio
from photomesh.auth.v1 import auth_service_pb2 as apb
from photomesh.auth.v1 import auth_service_pb2_grpc as agrpc
from photomesh.discovery.v1 import search_service_pb2 as dpb
from photomesh.discovery.v1 import search_service_pb2_grpc as dgrpc
from photomesh.feed.v1 import feed_service_pb2 as fpb
from photomesh.feed.v1 import feed_service_pb2_grpc as fgrpc
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.graph.v1 import social_graph_service_pb2_grpc as ggrpc
from photomesh.message.v1 import message_service_pb2 as mpb
from photomesh.message.v1 import message_service_pb2_grpc as mgrpc
from photomesh.post.v1 import post_service_pb2 as ppb
from photomesh.post.v1 import post_service_pb2_grpc as pgrpc
from photomesh.story.v1 import story_service_pb2 as spb
from photomesh.story.v1 import story_service_pb2_grpc as sgrpc

from infra.sandbox import Mesh
from tests.media_support import jpeg_bytes, ready_media

T = TypeVar("T")
PASSWORD = "cost benchmark password"


@dataclass(frozen=True)
class Account:
    user_id: str
    token: str

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)


@dataclass
class Pool(Generic[T]):
    """Per user, the targets of calls not made yet (each handed out once)."""

    queues: dict[Account, list[T]]

    def take(self, n: int) -> tuple[list[str], list[T]]:
        """Up to `n` calls: (tokens, targets) with call i by ``tokens[i % len(tokens)]``
        on ``targets[i]``; fewer if the pool runs short."""
        users = [u for u, queue in self.queues.items() if queue]
        if not users:
            return [], []
        n = min(n, min(len(self.queues[u]) for u in users) * len(users))
        targets = [self.queues[users[i % len(users)]].pop(0) for i in range(n)]
        return [u.token for u in users], targets

    def size(self) -> int:
        return sum(len(q) for q in self.queues.values())


@dataclass
class Population:
    authors: list[Account]
    readers: list[Account]
    posts: dict[Account, list[int]]
    likes: Pool[int]
    follows: Pool[str]
    spare_media: Pool[str]
    stories: int = 0
    #: Each reader's one-to-one threads with authors (its inbox), for the message runs.
    threads: dict[Account, list[str]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def post_ids(self) -> list[int]:
        return [p for posts in self.posts.values() for p in posts]

    def describe(self) -> str:
        return (f"{len(self.authors)} authors x {len(self.posts[self.authors[0]])} posts "
                f"with one image each, {len(self.readers)} readers following every author, "
                f"{self.stories} stories, {sum(map(len, self.threads.values()))} message "
                f"threads; pools: {self.likes.size()} new likes, "
                f"{self.follows.size()} new follows, {self.spare_media.size()} READY images "
                f"for CreatePost")


async def bounded(calls: Iterable[Callable[[], Awaitable[T]]], limit: int = 16) -> list[T]:
    """Run the calls `limit` at a time; one answered UNAVAILABLE (a busy shared machine)
    is retried with backoff."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            for attempt in range(6):
                try:
                    return await call()
                except aio.AioRpcError as exc:
                    if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == 5:
                        raise
                    await asyncio.sleep(0.3 * 2 ** attempt)
            raise AssertionError("unreachable")
    return list(await asyncio.gather(*(one(c) for c in calls)))


async def _register(auth: agrpc.AuthServiceStub, n: int, prefix: str) -> list[Account]:
    async def one(i: int) -> Account:
        reply = await auth.Register(apb.RegisterRequest(
            request_id=str(uuid.uuid4()), username=f"{prefix}{i}_{uuid.uuid4().hex[:8]}",
            password=PASSWORD, display_name=f"{prefix.title()} {i}"), timeout=60)
        return Account(reply.user_id, reply.tokens.access_token)
    return await bounded((lambda i=i: one(i)) for i in range(n))


async def build(mesh: Mesh, *, authors: int = 12, readers: int = 40, posts_per_author: int = 5,
                spare_images: int = 150, say: Callable[[str], None] = print) -> Population:
    """Make the population on `mesh` (a few dozen seconds at the defaults)."""
    import time

    timings: dict[str, float] = {}
    channels = {n: aio.insecure_channel(mesh.target(n))
                for n in ("auth", "graph", "post", "media", "story", "feed", "message",
                          "discovery")}
    try:
        auth = agrpc.AuthServiceStub(channels["auth"])
        graph = ggrpc.SocialGraphServiceStub(channels["graph"])
        post = pgrpc.PostServiceStub(channels["post"])
        story = sgrpc.StoryServiceStub(channels["story"])
        feed = fgrpc.FeedServiceStub(channels["feed"])
        dm = mgrpc.MessageServiceStub(channels["message"])

        t0 = time.monotonic()
        writers = await _register(auth, authors, "author")
        people = await _register(auth, readers, "reader")
        await bounded((lambda r=r, a=a: graph.Follow(gpb.FollowRequest(user_id=a.user_id),
                                                     metadata=r.md, timeout=60))
                      for r in people for a in writers)
        timings["accounts and follows"] = time.monotonic() - t0
        say(f"setup: {len(writers)} authors, {len(people)} readers following each "
            f"({timings['accounts and follows']:.1f}s)")

        t0 = time.monotonic()
        per_author = posts_per_author + -(-spare_images // max(1, authors))
        jobs = [(a, k) for k in range(per_author) for a in writers]
        made_media = await bounded(
            ((lambda a=a, k=k: ready_media(channels["media"], a.token,
                                           jpeg_bytes(320, 240, quality=80 + k % 10)))
             for a, k in jobs), 12)
        images: dict[Account, list[str]] = {a: [] for a in writers}
        for (author, _), media in zip(jobs, made_media, strict=True):
            images[author].append(media.media_id)
        timings["images"] = time.monotonic() - t0
        say(f"setup: {sum(map(len, images.values()))} images READY through the media "
            f"pipeline ({timings['images']:.1f}s)")

        t0 = time.monotonic()

        async def create(author: Account, media_id: str, k: int) -> int:
            reply = await post.CreatePost(ppb.CreatePostRequest(
                request_id=str(uuid.uuid4()), caption=f"cost benchmark post {k} #photomesh",
                media_ids=[media_id]), metadata=author.md, timeout=60)
            return int(reply.post.post_id)

        posts: dict[Account, list[int]] = {}
        for k in range(posts_per_author):  # one round at a time: feeds interleave authors
            made = await bounded((lambda a=a, k=k: create(a, images[a][k], k))
                                 for a in writers)
            for author, post_id in zip(writers, made, strict=True):
                posts.setdefault(author, []).append(post_id)
        await bounded((lambda a=a: story.CreateStory(spb.CreateStoryRequest(
            request_id=str(uuid.uuid4()), text="cost benchmark story"), metadata=a.md,
            timeout=60)) for a in writers)
        timings["posts and stories"] = time.monotonic() - t0

        t0 = time.monotonic()
        want = posts_per_author * len(writers)
        for _ in range(100):  # fan-out is asynchronous: until every reader has a full page
            pages = await bounded((lambda r=r: feed.GetHomeFeed(
                fpb.GetHomeFeedRequest(page_size=20), metadata=r.md, timeout=60))
                for r in people)
            if all(len(p.items) >= min(20, want) for p in pages):
                break
            await asyncio.sleep(0.5)
        else:
            raise RuntimeError("readers' feeds never filled a page")
        await bounded((lambda r=r: story.GetStoryTray(spb.GetStoryTrayRequest(page_size=20),
                                                      metadata=r.md, timeout=60))
                      for r in people)
        search = dgrpc.SearchServiceStub(channels["discovery"])
        for _ in range(100):  # indexing is asynchronous too: until the hashtag fills a page
            found = await search.ListHashtagPosts(dpb.ListHashtagPostsRequest(
                hashtag="photomesh", page_size=20), metadata=people[0].md, timeout=60)
            if len(found.posts) >= min(20, want):
                break
            await asyncio.sleep(0.5)
        else:
            raise RuntimeError("the posts were never indexed")
        timings["feeds filled"] = time.monotonic() - t0
        say(f"setup: {want} posts, {len(writers)} stories, every reader's feed full "
            f"({timings['posts and stories'] + timings['feeds filled']:.1f}s)")

        t0 = time.monotonic()
        threads = await _message_threads(dm, people, writers)
        timings["message threads"] = time.monotonic() - t0
        say(f"setup: {sum(map(len, threads.values()))} message threads, each with "
            f"{MESSAGES_PER_THREAD} messages ({timings['message threads']:.1f}s)")
    finally:
        for channel in channels.values():
            await channel.close()

    rng = random.Random(10)
    everyone = people + writers
    all_posts = [p for ps in posts.values() for p in ps]
    likes: dict[Account, list[int]] = {}
    for user in everyone:
        own = set(posts.get(user, ()))
        likes[user] = rng.sample([p for p in all_posts if p not in own],
                                 len(all_posts) - len(own))
    follows: dict[Account, list[str]] = {}
    for user in everyone:
        followed = {a.user_id for a in writers} if user in people else set()
        follows[user] = rng.sample([u.user_id for u in everyone
                                    if u is not user and u.user_id not in followed],
                                   len(everyone) - 1 - len(followed))
    spare = {a: images[a][posts_per_author:] for a in writers}
    return Population(writers, people, posts, Pool(likes), Pool(follows), Pool(spare),
                      stories=len(writers), threads=threads, timings=timings)


THREADS_PER_READER = 5
MESSAGES_PER_THREAD = 3


async def _message_threads(dm: mgrpc.MessageServiceStub, people: list[Account],
                           writers: list[Account]) -> dict[Account, list[str]]:
    """Each reader opens a one-to-one thread with up to THREADS_PER_READER authors and
    sends MESSAGES_PER_THREAD messages in each; returns each reader's thread ids once the
    inbox worker has put them all in the reader's inbox."""
    async def one(reader: Account, author: Account) -> str:
        thread = (await dm.OpenDirectThread(mpb.OpenDirectThreadRequest(
            user_id=author.user_id), metadata=reader.md, timeout=60)).thread
        for k in range(MESSAGES_PER_THREAD):
            await dm.SendMessage(mpb.SendMessageRequest(
                thread_id=thread.thread_id, request_id=uuid.uuid4().hex,
                text=f"cost benchmark message {k}"), metadata=reader.md, timeout=60)
        return thread.thread_id

    pairs = [(r, writers[(i + k) % len(writers)]) for i, r in enumerate(people)
             for k in range(min(THREADS_PER_READER, len(writers)))]
    made = await bounded((lambda r=r, a=a: one(r, a)) for r, a in pairs)
    threads: dict[Account, list[str]] = {}
    for (reader, _), thread_id in zip(pairs, made, strict=True):
        threads.setdefault(reader, []).append(thread_id)
    for _ in range(100):  # the inbox is kept by the worker: until every reader's is full
        listed = await bounded((lambda r=r: dm.ListThreads(mpb.ListThreadsRequest(
            page_size=20), metadata=r.md, timeout=60)) for r in people)
        if all(len(page.threads) >= len(threads[r]) for r, page in zip(people, listed,
                                                                      strict=True)):
            return threads
        await asyncio.sleep(0.5)
    raise RuntimeError("readers' message inboxes never filled")


__all__ = ["Account", "Pool", "Population", "bounded", "build"]
