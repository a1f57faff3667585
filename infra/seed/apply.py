"""Making the planned community real through the public API, idempotently.

Every phase first reads what exists (as the people themselves: their following, posts,
comments, likes, stories and viewers) and writes only what is missing, with request ids
derived from what is written; so a second run adds nothing, and a run cut short is
finished by the next one. Everything goes through the services' public RPCs, concurrently,
so events, counters, timelines and notifications are exactly what the API produces.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import grpc
from google.protobuf import field_mask_pb2
from grpc import aio
from photomesh.auth.v1 import auth_service_pb2 as auth_pb
from photomesh.common.v1 import media_pb2 as common_pb
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh.media.v1 import media_service_pb2 as media_pb
from photomesh.post.v1 import post_service_pb2 as post_pb
from photomesh.story.v1 import story_service_pb2 as story_pb

from infra.seed import photos
from infra.seed.community import Community, Person, PlannedPost, PlannedStory
from infra.seed.mesh_client import MeshStubs, SignedIn, bounded, call, put

#: Request ids are uuid5 of what they create, in this namespace.
NAMESPACE = uuid.UUID("6f1d3c2e-9b8a-4f7e-8d21-5e0c7a9b4d10")
POLL_SECONDS = 0.4
PROCESSING_TIMEOUT = 300.0


def request_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


@dataclass
class Tally:
    """What a run wrote (`created`) and found already there (`existing`), by kind."""

    created: Counter[str] = field(default_factory=Counter)
    existing: Counter[str] = field(default_factory=Counter)

    def line(self, kind: str) -> str:
        return f"{kind}: {self.created[kind]} new, {self.existing[kind]} already there"


class Seeder:
    def __init__(self, targets: Mapping[str, str], community: Community, password: str,
                 concurrency: int, say: Callable[[str], None]) -> None:
        self.stubs = MeshStubs(targets)
        self.community = community
        self.password = password
        self.concurrency = concurrency
        self.say = say
        self.tally = Tally()
        self.people: dict[str, SignedIn] = {}
        self.post_ids: dict[tuple[str, int], int] = {}
        self.story_ids: dict[str, int] = {}

    async def run(self) -> Tally:
        try:
            for name, phase in (("accounts", self.accounts), ("profiles", self.profiles),
                                ("follows", self.follows), ("posts", self.posts),
                                ("likes", self.likes), ("comments", self.comments),
                                ("stories", self.stories), ("story views", self.views)):
                started = time.monotonic()
                await phase()
                self.say(f"{self.tally.line(name)} ({time.monotonic() - started:.1f}s)")
        finally:
            await self.stubs.close()
        return self.tally

    async def _all(self, tasks: list) -> list:  # type: ignore[type-arg]
        return await bounded(tasks, self.concurrency)

    # --- people ---------------------------------------------------------------------------

    async def accounts(self) -> None:
        """Existing people log in, new ones sign up (the first person tells which exist)."""
        people = list(self.community.people)
        first = people[0]
        try:
            await self._log_in(first)
        except aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAUTHENTICATED:
                raise
            await self._sign_up(first)
        lookup = self.people[first.username]

        async def one(person: Person) -> None:
            try:
                await lookup.call(self.stubs.graph.GetProfileByUsername,
                                  graph_pb.GetProfileByUsernameRequest(username=person.username))
            except aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                await self._sign_up(person)
                return
            try:
                await self._log_in(person)
            except aio.AioRpcError as exc:
                raise SystemExit(
                    f"seed: {person.username} exists with another password ({exc.details()}); "
                    "seed under other names with --prefix") from None
        await self._all([one(p) for p in people[1:]])

    async def _sign_up(self, person: Person) -> None:
        reply = await call(self.stubs.auth.Register, auth_pb.RegisterRequest(
            request_id=request_id("register", person.username), username=person.username,
            password=self.password, display_name=person.display_name))
        self.people[person.username] = SignedIn.of(person.username, reply.user_id,
                                                   reply.tokens, self.stubs)
        self.tally.created["accounts"] += 1

    async def _log_in(self, person: Person) -> None:
        reply = await call(self.stubs.auth.Login, auth_pb.LoginRequest(
            username=person.username, password=self.password))
        self.people[person.username] = SignedIn.of(person.username, reply.user_id,
                                                   reply.tokens, self.stubs)
        self.tally.existing["accounts"] += 1

    async def profiles(self) -> None:
        """Bio and the private switch (display names came with the accounts)."""
        people = list(self.community.people)
        anyone = self.people[people[0].username]
        current: dict[str, graph_pb.Profile] = {}
        for start in range(0, len(people), 100):
            ids = [self.people[p.username].user_id for p in people[start:start + 100]]
            reply = await anyone.call(self.stubs.graph.BatchGetProfiles,
                                      graph_pb.BatchGetProfilesRequest(
                                          user_ids=ids, view=graph_pb.PROFILE_VIEW_FULL))
            current |= {p.user_id: p for p in reply.profiles}

        async def one(person: Person) -> None:
            me = self.people[person.username]
            now = current.get(me.user_id)
            if now is not None and (now.bio, now.private) == (person.bio, person.private):
                self.tally.existing["profiles"] += 1
                return
            await me.call(self.stubs.graph.UpdateProfile, graph_pb.UpdateProfileRequest(
                profile=graph_pb.Profile(bio=person.bio, private=person.private),
                update_mask=field_mask_pb2.FieldMask(paths=["bio", "private"])))
            self.tally.created["profiles"] += 1
        await self._all([one(p) for p in people])

    async def follows(self) -> None:
        planned: dict[str, list[str]] = defaultdict(list)
        for follower, followee in self.community.follows:
            planned[follower].append(followee)

        async def following_ids(me: SignedIn) -> set[str]:
            ids: set[str] = set()
            token = ""
            while True:
                reply = await me.call(self.stubs.graph.ListFollowingIds,
                                      graph_pb.ListFollowingIdsRequest(
                                          user_id=me.user_id, page_size=5000, page_token=token))
                ids.update(reply.user_ids)
                token = reply.next_page_token
                if not token:
                    return ids

        async def requesters(me: SignedIn) -> set[str]:
            ids: set[str] = set()
            token = ""
            while True:
                reply = await me.call(self.stubs.graph.ListFollowRequests,
                                      graph_pb.ListFollowRequestsRequest(
                                          page_size=100, page_token=token))
                ids.update(r.requester.user_id for r in reply.follow_requests)
                token = reply.next_page_token
                if not token:
                    return ids

        async def one(follower: str, followee: str, existing: set[str]) -> None:
            me, them = self.people[follower], self.people[followee]
            if them.user_id in existing or me.user_id in waiting.get(followee, ()):
                self.tally.existing["follows"] += 1
                return
            reply = await me.call(self.stubs.graph.Follow,
                                  graph_pb.FollowRequest(user_id=them.user_id))
            if reply.relationship == graph_pb.RELATIONSHIP_STATUS_REQUESTED and \
                    (follower, followee) not in self.community.pending:
                await them.call(self.stubs.graph.ApproveFollowRequest,
                                graph_pb.ApproveFollowRequestRequest(
                                    requester_user_id=me.user_id))
            self.tally.created["follows"] += 1

        existing = dict(zip(planned, await self._all(
            [following_ids(self.people[f]) for f in planned]), strict=True))
        private = [p.username for p in self.community.people if p.private]
        waiting = dict(zip(private, await self._all(
            [requesters(self.people[p]) for p in private]), strict=True))
        await self._all([one(f, t, existing[f]) for f, targets in planned.items()
                         for t in targets])

    # --- posts ----------------------------------------------------------------------------

    async def _photo(self, me: SignedIn, key: str, seed: int, size: tuple[int, int]) -> str:
        """A READY photo of `me` (uploaded and processed unless it already is)."""
        body = await asyncio.to_thread(photos.jpeg, seed, *size)
        slot = await me.call(self.stubs.media.CreateUpload, media_pb.CreateUploadRequest(
            request_id=request_id("media", me.username, key), content_type="image/jpeg",
            size_bytes=len(body), kind=common_pb.MEDIA_KIND_IMAGE))
        media = (await me.call(self.stubs.media.GetMedia,
                               media_pb.GetMediaRequest(media_id=slot.media_id))).media
        if media.status == media_pb.MEDIA_STATUS_PENDING_UPLOAD:
            await asyncio.to_thread(put, slot.upload_url, slot.upload_method,
                                    dict(slot.upload_headers), body)
            media = (await me.call(self.stubs.media.CompleteUpload,
                                   media_pb.CompleteUploadRequest(media_id=slot.media_id))).media
        deadline = time.monotonic() + PROCESSING_TIMEOUT
        while media.status == media_pb.MEDIA_STATUS_PROCESSING:
            if time.monotonic() > deadline:
                raise SystemExit(f"seed: media {slot.media_id} still processing after "
                                 f"{PROCESSING_TIMEOUT:.0f}s: is the media worker running?")
            await asyncio.sleep(POLL_SECONDS)
            media = (await me.call(self.stubs.media.GetMedia,
                                   media_pb.GetMediaRequest(media_id=slot.media_id))).media
        if media.status != media_pb.MEDIA_STATUS_READY:
            raise SystemExit(f"seed: photo {slot.media_id} failed: {media.failure_message}")
        return slot.media_id

    async def _existing_posts(self, me: SignedIn) -> dict[str, int]:
        found: dict[str, int] = {}
        token = ""
        while True:
            reply = await me.call(self.stubs.post.ListUserPosts, post_pb.ListUserPostsRequest(
                user_id=me.user_id, page_size=100, page_token=token))
            found |= {p.caption: p.post_id for p in reply.posts}
            token = reply.next_page_token
            if not token:
                return found

    async def posts(self) -> None:
        by_author: dict[str, list[PlannedPost]] = defaultdict(list)
        for post in self.community.posts:
            by_author[post.author].append(post)

        async def author(name: str, planned: list[PlannedPost]) -> None:
            me = self.people[name]
            existing = await self._existing_posts(me)
            for post in planned:
                if post.caption in existing:
                    self.post_ids[(name, post.number)] = existing[post.caption]
                    self.tally.existing["posts"] += 1
                    continue
                media = [await self._photo(me, f"post{post.number}.{i}", seed, (640, 640))
                         for i, seed in enumerate(post.photos)]
                reply = await me.call(self.stubs.post.CreatePost, post_pb.CreatePostRequest(
                    request_id=request_id("post", name, post.number), caption=post.caption,
                    media_ids=media))
                self.post_ids[(name, post.number)] = reply.post.post_id
                self.tally.created["posts"] += 1
        await self._all([author(n, p) for n, p in by_author.items()])

    async def likes(self) -> None:
        by_liker: dict[str, list[int]] = defaultdict(list)
        for post in self.community.posts:
            for liker in post.likers:
                by_liker[liker].append(self.post_ids[(post.author, post.number)])

        async def liker(name: str, post_ids: list[int]) -> None:
            me = self.people[name]
            liked: set[int] = set()
            for start in range(0, len(post_ids), 500):
                reply = await me.call(self.stubs.post.BatchGetLikeStatus,
                                      post_pb.BatchGetLikeStatusRequest(
                                          post_ids=post_ids[start:start + 500]))
                liked |= {s.post_id for s in reply.statuses if s.liked}
            for post_id in post_ids:
                if post_id in liked:
                    self.tally.existing["likes"] += 1
                    continue
                await me.call(self.stubs.post.LikePost, post_pb.LikePostRequest(post_id=post_id))
                self.tally.created["likes"] += 1
        await self._all([liker(n, ids) for n, ids in by_liker.items()])

    async def comments(self) -> None:
        async def on(post: PlannedPost) -> None:
            post_id = self.post_ids[(post.author, post.number)]
            author = self.people[post.author]
            reply = await author.call(self.stubs.post.ListComments, post_pb.ListCommentsRequest(
                post_id=post_id, page_size=100))
            there = {(c.author.username, c.text) for c in reply.comments}
            for commenter, text in post.comments:
                if (commenter, text) in there:
                    self.tally.existing["comments"] += 1
                    continue
                await self.people[commenter].call(
                    self.stubs.post.CreateComment, post_pb.CreateCommentRequest(
                        request_id=request_id("comment", post.author, post.number, commenter),
                        post_id=post_id, text=text))
                self.tally.created["comments"] += 1
        await self._all([on(p) for p in self.community.posts if p.comments])

    # --- stories --------------------------------------------------------------------------

    async def stories(self) -> None:
        """A live story per planned author: stories last a day, so a run a day later shares
        fresh ones (the expired ones are in the author's archive); live ones never twice."""
        async def one(story: PlannedStory) -> None:
            me = self.people[story.author]
            tray = await me.call(self.stubs.story.GetStoryTray,
                                 story_pb.GetStoryTrayRequest(page_size=1))
            own = [s for e in tray.entries if e.author.user_id == me.user_id for s in e.stories]
            live = next((s for s in own if s.text == story.text), None)
            if live is not None:
                self.story_ids[story.author] = live.story_id
                self.tally.existing["stories"] += 1
                return
            day = int(time.time() // 86400)
            media_id = "" if story.photo is None else await self._photo(
                me, f"story{day}", story.photo, (540, 960))
            reply = await me.call(self.stubs.story.CreateStory, story_pb.CreateStoryRequest(
                request_id=request_id("story", story.author, day), media_id=media_id,
                text=story.text, audience=story_pb.STORY_AUDIENCE_FOLLOWERS))
            self.story_ids[story.author] = reply.story.story_id
            self.tally.created["stories"] += 1
        await self._all([one(s) for s in self.community.stories])

    async def views(self) -> None:
        async def of(story: PlannedStory) -> None:
            story_id = self.story_ids[story.author]
            reply = await self.people[story.author].call(
                self.stubs.story.ListStoryViewers,
                story_pb.ListStoryViewersRequest(story_id=story_id, page_size=100))
            seen = {v.user.username for v in reply.viewers}
            for viewer in story.viewers:
                if viewer in seen:
                    self.tally.existing["story views"] += 1
                    continue
                await self.people[viewer].call(self.stubs.story.MarkStorySeen,
                                               story_pb.MarkStorySeenRequest(story_id=story_id))
                self.tally.created["story views"] += 1
        await self._all([of(s) for s in self.community.stories if s.viewers])
