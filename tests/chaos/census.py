"""After the kills: what the mesh holds of everything it acknowledged, read back through its
API (and, for what may be stuck half-written, from its CQL store), per kind and per kill.

`present` counts an acknowledged item found exactly once or more, `lost` one not found,
`duplicated` one found more than once (or a second item made by one retried request).
Notifications are grouped by the service ("alice and 3 others liked your post"), so they
are counted per group subject (recipient, type, post): the distinct actors the groups
report against the acknowledged likes, comments and follows they stand for; a shortfall is
written against the last acknowledged of that subject.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from photomesh.feed.v1 import feed_service_pb2 as fpb
from photomesh.graph.v1 import social_graph_service_pb2 as gpb
from photomesh.media.v1 import media_service_pb2 as mpb
from photomesh.notification.v1 import notification_service_pb2 as npb
from photomesh.post.v1 import post_service_pb2 as ppb
from photomesh.story.v1 import story_service_pb2 as spb

from tests.chaos.load import KINDS, Cast, Ledger, acked
from tests.chaos.mesh import ChaosClients

_READS = Ledger()  # the census's own reads: their retries are not the load's


@dataclass
class Tally:
    acked: int = 0
    present: int = 0
    lost: int = 0
    duplicated: int = 0


@dataclass
class Census:
    rows: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    stuck: dict[str, int] = field(default_factory=dict)  # what is left half-written
    details: list[str] = field(default_factory=list)  # what was lost or doubled

    def count(self, kind: str, phase: str, found: int, what: str) -> None:
        t = self.rows[(kind, phase)]
        t.acked += 1
        if found == 0:
            t.lost += 1
            self.details.append(f"LOST {kind} {what} (acked during {phase})")
        else:
            t.present += 1
        if found > 1:
            t.duplicated += 1
            self.details.append(f"DUPLICATED x{found} {kind} {what} (acked during {phase})")

    def totals(self) -> dict[str, Tally]:
        out: dict[str, Tally] = defaultdict(Tally)
        for (kind, _), t in self.rows.items():
            o = out[kind]
            o.acked += t.acked
            o.present += t.present
            o.lost += t.lost
            o.duplicated += t.duplicated
        return out

    @property
    def clean(self) -> bool:
        return all(t.lost == 0 and t.duplicated == 0 for t in self.rows.values()) and \
            not any(self.stuck.values())

    def table(self, phases: list[str]) -> str:
        kinds = [k for k in KINDS if any(key[0] == k for key in self.rows)]
        head = f"{'kill':<24}" + "".join(f"{k:>16}" for k in kinds)
        sub = f"{'':<24}" + "".join(f"{'ack/ok/lost/dup':>16}" for _ in kinds)
        lines = [head, sub]
        for phase in phases:
            cells = []
            for kind in kinds:
                t = self.rows.get((kind, phase))
                cells.append(f"{t.acked}/{t.present}/{t.lost}/{t.duplicated}" if t else "-")
            if any(c != "-" for c in cells):
                lines.append(f"{phase:<24}" + "".join(f"{c:>16}" for c in cells))
        totals = self.totals()
        lines.append(f"{'TOTAL':<24}" + "".join(
            f"{f'{totals[k].acked}/{totals[k].present}/{totals[k].lost}/{totals[k].duplicated}':>16}"
            for k in kinds))
        lines.append("left half-written: " + ", ".join(f"{k} {v}" for k, v in self.stuck.items()))
        return "\n".join(lines)


async def _pages(call, request, md, items: str):  # type: ignore[no-untyped-def]
    """Every page of a list, each read retried like any client's (UNAVAILABLE: a backend
    the process uses came back and its first call on an old connection failed)."""
    out = []
    token = ""
    while True:
        request.page_token = token
        reply = await acked(_READS, call, request, md, "census read")
        out += list(getattr(reply, items))
        token = reply.next_page_token
        if not token:
            return out


async def take(c: ChaosClients, cast: Cast, ledger: Ledger, stuck: dict[str, int]) -> Census:
    census = Census(stuck=stuck)
    users = {u.user_id: u for u in cast.authors + cast.fans + cast.celebs}

    # Posts: each author's list; a second post with an acknowledged post's caption is a
    # duplicate made by a retried create.
    by_author: dict[str, list[ppb.Post]] = {}
    for author in cast.authors:
        by_author[author.user_id] = await _pages(
            c.post.ListUserPosts, ppb.ListUserPostsRequest(user_id=author.user_id,
                                                          page_size=100), author.md, "posts")
    for post_id, (author_id, phase) in ledger.posts.items():
        listed = by_author[author_id]
        mine = [p for p in listed if p.post_id == post_id]
        caption = mine[0].caption if mine else None
        twins = [p for p in listed if caption is not None and p.caption == caption]
        census.count("post", phase, max(len(mine), len(twins)), f"{post_id}")

    # Timeline rows: every fan follows every author (before the load).
    for fan in cast.fans:
        feed = await _pages(c.feed.GetHomeFeed, fpb.GetHomeFeedRequest(
            page_size=50, mode=fpb.FEED_MODE_CHRONOLOGICAL), fan.md, "items")
        seen = Counter(i.post.post_id for i in feed)
        for post_id, (_, phase) in ledger.posts.items():
            census.count("timeline", phase, seen[post_id], f"{post_id} of {fan.username}")

    # Likes and comments, per post.
    liked_posts = {p for p, _ in ledger.likes}
    likers: dict[int, Counter[str]] = {}
    for post_id in liked_posts:
        author = users[ledger.posts[post_id][0]]
        rows = await _pages(c.post.ListPostLikers, ppb.ListPostLikersRequest(
            post_id=post_id, page_size=100), author.md, "likers")
        likers[post_id] = Counter(r.user.user_id for r in rows)
    for (post_id, user_id), phase in ledger.likes.items():
        census.count("like", phase, likers[post_id][user_id], f"{post_id} by {user_id}")
    commented = {p for p, _, _ in ledger.comments.values()}
    listed_comments: dict[int, list[ppb.Comment]] = {}
    for post_id in commented:
        author = users[ledger.posts[post_id][0]]
        listed_comments[post_id] = await _pages(c.post.ListComments, ppb.ListCommentsRequest(
            post_id=post_id, page_size=100), author.md, "comments")
    for comment_id, (post_id, user_id, phase) in ledger.comments.items():
        rows = listed_comments[post_id]
        mine = [x for x in rows if x.comment_id == comment_id]
        twins = [x for x in rows if mine and x.text == mine[0].text
                 and x.author.user_id == user_id]
        census.count("comment", phase, max(len(mine), len(twins)), f"{comment_id}")

    # Follows of the celebrities (only the load makes them).
    for celeb in cast.celebs:
        rows = await _pages(c.graph.ListFollowers, gpb.ListFollowersRequest(
            user_id=celeb.user_id, page_size=100), celeb.md, "followers")
        followers = Counter(r.user.user_id for r in rows)
        for (fan_id, celeb_id), phase in ledger.follows.items():
            if celeb_id == celeb.user_id:
                census.count("follow", phase, followers[fan_id], f"{fan_id}->{celeb_id}")

    await _notifications(c, cast, ledger, census)

    # Story views.
    for story_id, author in cast.stories.items():
        rows = await _pages(c.story.ListStoryViewers, spb.ListStoryViewersRequest(
            story_id=story_id, page_size=100), author.md, "viewers")
        viewers = Counter(r.user.user_id for r in rows)
        for (s, viewer), phase in ledger.views.items():
            if s == story_id:
                census.count("story view", phase, viewers[viewer], f"{story_id} by {viewer}")

    # Media: every completed upload READY (not failed, not left processing).
    for media_id, (owner_id, phase) in ledger.media.items():
        got = await acked(_READS, c.media.GetMedia, mpb.GetMediaRequest(media_id=media_id),
                          users[owner_id].md, "census read")
        census.count("media", phase, int(got.media.status == mpb.MEDIA_STATUS_READY),
                     f"{media_id} {mpb.MediaStatus.Name(got.media.status)}")
    return census


async def _notifications(c: ChaosClients, cast: Cast, ledger: Ledger, census: Census) -> None:
    """Likes and comments notify the post's author, follows the celebrity: per subject,
    the distinct actors of its groups against what was acknowledged."""
    expected: dict[tuple[str, int, int], list[tuple[str, str]]] = defaultdict(list)
    for (post_id, user_id), phase in ledger.likes.items():
        author = ledger.posts[post_id][0]
        expected[(author, npb.NOTIFICATION_TYPE_POST_LIKED, post_id)].append((user_id, phase))
    for post_id, user_id, phase in ledger.comments.values():
        author = ledger.posts[post_id][0]
        expected[(author, npb.NOTIFICATION_TYPE_COMMENT_ADDED, post_id)].append(
            (user_id, phase))
    for (fan_id, celeb_id), phase in ledger.follows.items():
        expected[(celeb_id, npb.NOTIFICATION_TYPE_NEW_FOLLOWER, 0)].append((fan_id, phase))
    got: Counter[tuple[str, int, int]] = Counter()
    for user in cast.authors + cast.celebs:
        rows = await _pages(c.notification.ListNotifications, npb.ListNotificationsRequest(
            page_size=100), user.md, "notifications")
        for n in rows:
            got[(user.user_id, n.type, n.post_id)] += n.actor_count
    for key, actors in expected.items():
        have, n = got[key], len(actors)  # one actor per acknowledged item of a subject
        for i, (actor, phase) in enumerate(actors):
            found = 1 if i < have else 0
            if i == n - 1 and have > n:
                found += have - n
            census.count("notification", phase, found,
                         f"{npb.NotificationType.Name(key[1])} of {key[0]} post {key[2]} "
                         f"by {actor} ({have} actors counted of {n})")


def read_retries() -> dict[str, int]:
    return dict(_READS.retries)


def stuck_rows(env: Mapping[str, str], keyspace: str, grace_seconds: float) -> dict[str, int]:
    """What is left half-written in the CQL store: pending changes older than the sweep
    grace (not media's, which wait for their upload URL to expire), and posts, comments
    and likes whose event is not recorded as out."""
    from cassandra.cluster import Cluster

    from infra.sandbox import cql_auth

    cluster = Cluster(json.loads(env["PHOTOMESH_CQL_CONTACT_POINTS"]),
                      port=int(env["PHOTOMESH_CQL_PORT"]), protocol_version=4,
                      auth_provider=cql_auth(env))
    try:
        session = cluster.connect(keyspace)
        ripe_before = time.time() - grace_seconds - 5
        pending = 0
        for row in session.execute("SELECT owner, slot FROM pending_changes"):
            owner, slot = row.owner, row.slot
            if owner.startswith("media/"):
                continue
            size = int(owner.rsplit("/", 1)[1].rstrip("s"))
            if slot * size < ripe_before:
                pending += 1
        posts = sum(1 for r in session.execute("SELECT published, deleted_at FROM posts")
                    if not r.published and r.deleted_at is None)
        comments = sum(1 for r in session.execute("SELECT published FROM post_comments")
                       if not r.published)
        likes = sum(1 for r in session.execute("SELECT published, unliked FROM post_likes")
                    if not r.published or r.unliked)
    finally:
        cluster.shutdown()
    return {"pending changes": pending, "posts unpublished": posts,
            "comments unpublished": comments, "likes unpublished": likes}
