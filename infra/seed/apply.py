"""Making the planned community real through the public API, idempotently.

Every phase first reads what exists (as the people themselves: their following, posts,
comments, likes, stories and viewers) and writes only what is missing, with request ids
derived from what is written; so a second run adds nothing, and a run cut short is
finished by the next one. Everything goes through the services' public RPCs, concurrently,
so events, counters, timelines and notifications are exactly what the API produces.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf import field_mask_pb2
from grpc import aio
from photomesh.auth.v1 import auth_service_pb2 as auth_pb
from photomesh.graph.v1 import social_graph_service_pb2 as graph_pb
from photomesh.post.v1 import post_service_pb2 as post_pb
from photomesh.story.v1 import story_service_pb2 as story_pb

from infra.seed.community import Community, Person, PlannedPost, PlannedStory
from infra.seed.mesh_client import MeshStubs, SignedIn, bounded, call
from infra.seed.requests import request_id
from infra.seed.uploads import Photos

#: Photos uploaded and processed at once (the media worker's queue stays full).
PHOTOS_AT_ONCE = 8
POST_PHOTO, STORY_PHOTO = (640, 640), (540, 960)


class SessionFile:
    """Refresh tokens of the seeded people between runs (a JSON file, mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.tokens: dict[str, str] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.tokens = {}

    def save(self, people: Iterable[SignedIn]) -> None:
        self.tokens |= {p.username: p.refresh_token for p in people}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.tokens, f)
        os.replace(tmp, self.path)


@dataclass
class Tally:
    """What a run wrote (`created`) and found already there (`existing`), by kind."""

    created: Counter[str] = field(default_factory=Counter)
    existing: Counter[str] = field(default_factory=Counter)

    def line(self, kind: str) -> str:
        return f"{kind}: {self.created[kind]} new, {self.existing[kind]} already there"


class Seeder:
    def __init__(self, targets: Mapping[str, str], community: Community, password: str,
                 concurrency: int, say: Callable[[str], None],
                 sessions: Path | None = None) -> None:
        self.sessions = SessionFile(sessions) if sessions else None
        self.stubs = MeshStubs(targets)
        self.community = community
        self.password = password
        self.concurrency = concurrency
        self.say = say
        self.tally = Tally()
        self.people: dict[str, SignedIn] = {}
        self.post_ids: dict[tuple[str, int], int] = {}
        self.story_ids: dict[str, int] = {}
        self.photos = Photos(PHOTOS_AT_ONCE)
        self.posts_of: dict[str, list[PlannedPost]] = defaultdict(list)
        for post in community.posts:
            self.posts_of[post.author].append(post)
        self.story_of = {story.author: story for story in community.stories}
        # What each person already has, read when they sign in (see _prepare).
        self.existing_posts: dict[str, dict[str, int]] = {}
        self.live_story: dict[str, int | None] = {}
        self.preparing: list[asyncio.Future[None]] = []

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
            for task in self.preparing:
                task.cancel()
            await self.photos.close()
            if self.sessions is not None:
                self.sessions.save(self.people.values())
            await self.stubs.close()
        return self.tally

    async def _all(self, tasks: list) -> list:  # type: ignore[type-arg]
        return await bounded(tasks, self.concurrency)

    # --- people ---------------------------------------------------------------------------

    async def accounts(self) -> None:
        """Existing people log in (or resume the session a previous run kept), new ones
        sign up (the first person tells which exist)."""
        people = list(self.community.people)
        if self.sessions is not None:
            resumed = await self._all([self._resume(p) for p in people])
            people = [p for p, done in zip(people, resumed, strict=True) if not done]
            if not people:
                return
            self.sessions.save(self.people.values())
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

    async def _resume(self, person: Person) -> bool:
        """Signed in again with the refresh token a previous run kept (no password hash to
        check: much cheaper than logging in); False when there is none or it is spent."""
        assert self.sessions is not None
        token = self.sessions.tokens.get(person.username)
        if token is None:
            return False
        try:
            reply = await call(self.stubs.auth.Refresh,
                               auth_pb.RefreshRequest(refresh_token=token))
        except aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAUTHENTICATED:
                raise
            return False
        self._signed_in(person, SignedIn.of(person.username, reply.user_id, reply.tokens,
                                            self.stubs))
        self.tally.existing["accounts"] += 1
        return True

    def _signed_in(self, person: Person, session: SignedIn) -> None:
        self.people[person.username] = session
        self.preparing.append(asyncio.ensure_future(self._prepare(session)))

    async def _prepare(self, me: SignedIn) -> None:
        """What `me` already has, and their missing photos started right away."""
        self.existing_posts[me.username] = existing = await self._existing_posts(me)
        for post in self.posts_of[me.username]:
            if post.caption not in existing:
                for i, seed in enumerate(post.photos):
                    self.photos.start(me, f"post{post.number}.{i}", seed, POST_PHOTO)
        story = self.story_of.get(me.username)
        if story is None:
            return
        tray = await me.call(self.stubs.story.GetStoryTray,
                             story_pb.GetStoryTrayRequest(page_size=1))
        own = [s for e in tray.entries if e.author.user_id == me.user_id for s in e.stories]
        live = next((s.story_id for s in own if s.text == story.text), None)
        self.live_story[me.username] = live
        if live is None and story.photo is not None:
            self.photos.start(me, f"story{_day()}", story.photo, STORY_PHOTO)

    async def _sign_up(self, person: Person) -> None:
        reply = await call(self.stubs.auth.Register, auth_pb.RegisterRequest(
            request_id=request_id("register", person.username), username=person.username,
            password=self.password, display_name=person.display_name))
        self._signed_in(person, SignedIn.of(person.username, reply.user_id, reply.tokens,
                                            self.stubs))
        self.tally.created["accounts"] += 1

    async def _log_in(self, person: Person) -> None:
        reply = await call(self.stubs.auth.Login, auth_pb.LoginRequest(
            username=person.username, password=self.password))
        self._signed_in(person, SignedIn.of(person.username, reply.user_id, reply.tokens,
                                            self.stubs))
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
        await asyncio.gather(*self.preparing)

        async def author(name: str, planned: list[PlannedPost]) -> None:
            me = self.people[name]
            existing = self.existing_posts[name]
            for post in planned:
                if post.caption in existing:
                    self.post_ids[(name, post.number)] = existing[post.caption]
                    self.tally.existing["posts"] += 1
                    continue
                media = [await self.photos.ready(name, f"post{post.number}.{i}")
                         for i in range(len(post.photos))]
                reply = await me.call(self.stubs.post.CreatePost, post_pb.CreatePostRequest(
                    request_id=request_id("post", name, post.number), caption=post.caption,
                    media_ids=media))
                self.post_ids[(name, post.number)] = reply.post.post_id
                self.tally.created["posts"] += 1
        await self._all([author(n, p) for n, p in self.posts_of.items()])

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
            live = self.live_story[story.author]
            if live is not None:
                self.story_ids[story.author] = live
                self.tally.existing["stories"] += 1
                return
            day = _day()
            media_id = "" if story.photo is None else await self.photos.ready(
                story.author, f"story{day}")
            reply = await self.people[story.author].call(
                self.stubs.story.CreateStory, story_pb.CreateStoryRequest(
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


def _day() -> int:
    """Days since the epoch (UTC): a story's request id is per day, as stories last one."""
    return int(time.time() // 86400)
