"""The chaos suite's load: users posting (each post with a media upload of its own), liking,
commenting, following and viewing stories through the mesh's gRPC API, as clients would.
Every call that fails is retried with the same request (the same request_id) until it is
acknowledged; each acknowledgement is written in the ledger under the kill that was under
way when the call began."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import grpc
from grpc import aio
from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.media.v1 import media_service_pb2 as mpb
from photomesh.post.v1 import post_service_pb2 as ppb
from photomesh.story.v1 import story_service_pb2 as spb

from tests.chaos.mesh import ChaosClients
from tests.graph_support import User
from tests.media_support import http_put

#: What a client retries (the same request): the service or a backend is away for now.
RETRIED = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
           grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED}
#: Not a clean answer (the mesh promises never to answer these): retried, and counted.
UNCLEAN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
CALL_TIMEOUT = 10.0
PATIENCE = 240.0  # a write not acknowledged after this is given up (reported, not lost)
PACE = 0.15  # seconds between one loop's operations (leave CPU to the restarts)
KINDS = ("post", "timeline", "like", "comment", "follow", "notification", "story view",
         "media")


@dataclass
class Ledger:
    """What the mesh acknowledged, per kind and kill, and how the calls went."""

    phase: str = "warm-up"
    posts: dict[int, tuple[str, str]] = field(default_factory=dict)  # post -> (author, phase)
    likes: dict[tuple[int, str], str] = field(default_factory=dict)  # (post, user) -> phase
    comments: dict[int, tuple[int, str, str]] = field(default_factory=dict)
    follows: dict[tuple[str, str], str] = field(default_factory=dict)  # (fan, celeb)
    views: dict[tuple[int, str], str] = field(default_factory=dict)  # (story, viewer)
    media: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (owner, phase)
    given_up: Counter[str] = field(default_factory=Counter)  # kind -> writes never acked
    retries: Counter[str] = field(default_factory=Counter)  # status code name -> retries
    unclean: Counter[str] = field(default_factory=Counter)  # "<method> <code>" -> count
    phases: list[str] = field(default_factory=lambda: ["warm-up"])

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.phases.append(phase)


class GaveUp(Exception):
    """A write was not acknowledged within PATIENCE."""


async def acked(ledger: Ledger, method, request, metadata=(), what: str = ""):  # type: ignore[no-untyped-def]
    """`method(request)` until acknowledged, the same request every time."""
    deadline = time.monotonic() + PATIENCE
    pause = 0.2
    while True:
        try:
            return await method(request, metadata=metadata, timeout=CALL_TIMEOUT)
        except aio.AioRpcError as exc:
            code = exc.code()
            if code in UNCLEAN:
                ledger.unclean[f"{what} {code.name}: {exc.details()[:80]}"] += 1
            elif code not in RETRIED:
                raise AssertionError(f"{what}: {code.name}: {exc.details()}") from exc
            ledger.retries[code.name] += 1
        if time.monotonic() > deadline:
            raise GaveUp(what)
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 2.0)


@dataclass
class Cast:
    """Who does what: authors post (and publish stories), fans like, comment, view stories
    and follow the celebrities (whose followers only the load makes)."""

    authors: list[User]
    fans: list[User]
    celebs: list[User]
    stories: dict[int, User]  # story -> author (made before the load)


class Load:
    def __init__(self, clients: ChaosClients, cast: Cast, ledger: Ledger, image: bytes,
                 spread_seconds: float, seed: int = 12) -> None:
        self.c = clients
        self.spread = spread_seconds  # follows and story views are spread over this
        self.cast = cast
        self.ledger = ledger
        self.image = image
        self.random = random.Random(seed)
        self.stop = asyncio.Event()
        self._liked: defaultdict[str, set[int]] = defaultdict(set)
        self._commented: defaultdict[str, set[int]] = defaultdict(set)

    def run(self) -> list[asyncio.Task[None]]:
        loops = [self._poster(a) for a in self.cast.authors]
        loops += [self._fan(f, i) for i, f in enumerate(self.cast.fans)]
        loops.append(self._follower())
        loops.append(self._viewer())
        return [asyncio.ensure_future(self._guarded(loop)) for loop in loops]

    async def _guarded(self, loop) -> None:  # type: ignore[no-untyped-def]
        try:
            await loop
        except GaveUp as gone:  # this loop stops; the census reports it
            self.ledger.given_up[str(gone)] += 1

    # --- posts (each with an upload of its own) -------------------------------------------

    async def upload(self, user: User) -> str:
        ledger, media = self.ledger, self.c.media
        phase = ledger.phase
        created = await acked(ledger, media.CreateUpload, mpb.CreateUploadRequest(
            request_id=str(uuid.uuid4()), content_type="image/jpeg",
            size_bytes=len(self.image), kind=common_pb.MEDIA_KIND_IMAGE), user.md,
            "media CreateUpload")
        deadline = time.monotonic() + PATIENCE
        while True:  # MinIO may be away: the same URL again
            try:
                status, _ = await asyncio.to_thread(http_put, created.upload_url, self.image,
                                                    dict(created.upload_headers))
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise GaveUp("media upload PUT")
            ledger.retries["PUT"] += 1
            await asyncio.sleep(0.5)
        await acked(ledger, media.CompleteUpload, mpb.CompleteUploadRequest(
            media_id=created.media_id), user.md, "media CompleteUpload")
        ledger.media[created.media_id] = (user.user_id, phase)
        while True:  # READY before a post may use it
            got = await acked(ledger, media.GetMedia, mpb.GetMediaRequest(
                media_id=created.media_id), user.md, "media GetMedia")
            if got.media.status == mpb.MEDIA_STATUS_READY:
                return created.media_id
            if got.media.status == mpb.MEDIA_STATUS_FAILED:
                raise AssertionError(f"media {created.media_id} FAILED: "
                                     f"{got.media.failure_message}")
            if time.monotonic() > deadline:
                raise GaveUp("media processing")
            await asyncio.sleep(0.2)

    async def _poster(self, author: User) -> None:
        i = 0
        while not self.stop.is_set():
            media_id = await self.upload(author)
            phase = self.ledger.phase
            reply = await acked(self.ledger, self.c.post.CreatePost, ppb.CreatePostRequest(
                request_id=str(uuid.uuid4()), caption=f"chaos {i}", media_ids=[media_id]),
                author.md, "post CreatePost")
            self.ledger.posts[reply.post.post_id] = (author.user_id, phase)
            i += 1
            await asyncio.sleep(PACE)

    # --- likes and comments -------------------------------------------------------------

    def _pick(self, done: set[int]) -> int | None:
        fresh = [p for p in self.ledger.posts if p not in done]
        return self.random.choice(fresh) if fresh else None

    async def _fan(self, fan: User, n: int) -> None:
        while not self.stop.is_set():
            post_id = self._pick(self._liked[fan.user_id])
            if post_id is not None:
                self._liked[fan.user_id].add(post_id)
                phase = self.ledger.phase
                await acked(self.ledger, self.c.post.LikePost,
                            ppb.LikePostRequest(post_id=post_id), fan.md, "post LikePost")
                self.ledger.likes[(post_id, fan.user_id)] = phase
            post_id = self._pick(self._commented[fan.user_id])
            if post_id is not None and n % 2 == 0:  # half the fans comment
                self._commented[fan.user_id].add(post_id)
                phase = self.ledger.phase
                reply = await acked(self.ledger, self.c.post.CreateComment,
                                    ppb.CreateCommentRequest(
                                        request_id=str(uuid.uuid4()), post_id=post_id,
                                        text=f"nice one from {fan.username}"),
                                    fan.md, "post CreateComment")
                self.ledger.comments[reply.comment.comment_id] = (post_id, fan.user_id, phase)
            await asyncio.sleep(PACE)

    # --- follows and story views --------------------------------------------------------

    async def _follower(self) -> None:
        pairs = [(f, c) for c in self.cast.celebs for f in self.cast.fans + self.cast.authors]
        self.random.shuffle(pairs)
        for fan, celeb in pairs:
            if self.stop.is_set():
                return
            phase = self.ledger.phase
            await acked(self.ledger, self.c.graph.Follow, gpb.FollowRequest(
                user_id=celeb.user_id), fan.md, "graph Follow")
            self.ledger.follows[(fan.user_id, celeb.user_id)] = phase
            await asyncio.sleep(self.spread / len(pairs))

    async def _viewer(self) -> None:
        pairs = [(story, fan) for story in self.cast.stories for fan in self.cast.fans]
        self.random.shuffle(pairs)
        for story_id, fan in pairs:
            if self.stop.is_set():
                return
            phase = self.ledger.phase
            await acked(self.ledger, self.c.story.MarkStorySeen, spb.MarkStorySeenRequest(
                story_id=story_id), fan.md, "story MarkStorySeen")
            self.ledger.views[(story_id, fan.user_id)] = phase
            await asyncio.sleep(self.spread / len(pairs))
