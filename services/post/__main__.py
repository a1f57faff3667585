"""Run the post service: ``python -m services.post``."""

from __future__ import annotations

from photomesh.post.v1 import post_service_pb2 as pb

from services.post import comments as comment_rules
from services.post import posts as post_rules
from services.post.cache import Counter, PostBodies
from services.post.comments import Comments
from services.post.counters import Counters
from services.post.events import PostEvents
from services.post.like_sets import LikeSets
from services.post.liked_cache import LikedCache
from services.post.likes import LIKE, Likes
from services.post.posts import Posts
from services.post.server import PostServicer
from services.post.settings import PostSettings
from services.post.store.comments import CommentRows
from services.post.store.likes import LikeRows
from services.post.store.posts import PostRows
from services.runtime.app import Built, Context, Needs, definition, main
from services.runtime.cache import KeySpace
from services.runtime.pending import PendingChanges, Sweeper

NAME = "post"


def recounter(posts: PostRows, comments: CommentRows, likes: LikeRows):  # type: ignore[no-untyped-def]
    """How each counter is recounted from its CQL partition (the durable truth)."""
    async def recount(counter: Counter) -> int:
        if counter.kind == "likes":
            return await likes.count_likes(int(counter.subject))
        if counter.kind == "comments":
            return await comments.count_comments(int(counter.subject))
        if counter.kind == "replies":
            post_id, comment_id = counter.subject.split(":")
            return await comments.count_replies(int(post_id), int(comment_id))
        if counter.kind == "comment_likes":
            return await likes.count_comment_likes(int(counter.subject))
        if counter.kind == "posts":
            return await posts.count_user_posts(counter.subject)
        raise ValueError(f"unknown counter {counter}")
    return recount


def like_members(store: LikeRows):  # type: ignore[no-untyped-def]
    """Where a like set is rebuilt from: its CQL partition, page by page."""
    def members(counter: Counter):  # type: ignore[no-untyped-def]
        if counter.kind == "likes":
            return store.like_members(int(counter.subject))
        return store.comment_like_members(int(counter.subject))
    return members


async def build(ctx: Context[PostSettings]) -> Built:
    settings, backends = ctx.settings, ctx.backends
    assert backends.cql and backends.redis and backends.redis_settings and backends.events
    assert backends.ids
    events = PostEvents(backends.events)
    await events.ensure_stream()
    await backends.events.ensure_stream("graph")
    keys = KeySpace(backends.redis_settings, NAME)
    post_rows, comment_rows = PostRows(backends.cql), CommentRows(backends.cql)
    like_rows = LikeRows(backends.cql)
    counters = Counters(backends.redis, keys, recounter(post_rows, comment_rows, like_rows),
                        settings.counter_ttl_seconds)
    view = ctx.peers.social_view(backends.redis, backends.redis_settings, NAME,
                                 ttl_seconds=settings.social_view_ttl_seconds)
    liked = LikedCache(backends.redis, keys, like_rows.liked_post_ids,
                       settings.liked_ttl_seconds)
    bodies = PostBodies(backends.redis, keys, post_rows, settings.body_ttl_seconds)
    # Creates, deletes, likes and comments whose event did not go out are finished by the
    # sweeper without the client (services/runtime/pending.py).
    pending = PendingChanges(backends.cql, NAME, settings.sweep_timing())
    posts = Posts(post_rows, counters, events, view, ctx.peers.media, backends.ids,
                  ctx.page_tokens, bodies, liked, pending, settings.media_claim_grace_seconds)
    like_sets = LikeSets(backends.redis, counters, like_members(like_rows))
    likes = Likes(like_rows, comment_rows, counters, like_sets, events, view, posts,
                  backends.ids, ctx.page_tokens, liked, pending)
    comments = Comments(comment_rows, like_rows, counters, events, view, posts, backends.ids,
                        ctx.page_tokens, pending)
    sweeper = Sweeper(pending, {post_rules.CREATED: posts.finish_created,
                                post_rules.DELETED: posts.finish_deleted,
                                LIKE: likes.finish,
                                comment_rules.CREATED: comments.finish_created,
                                comment_rules.DELETED: comments.finish_deleted})
    return Built(definition(NAME, pb, "PostService", PostServicer(posts, likes, comments)),
                 background=[counters.heal(), liked.heal(), sweeper.run(),
                             *(c.run() for c in view.consumers(backends.events, NAME))],
                 domain=posts)


if __name__ == "__main__":
    main(NAME, PostSettings, Needs(cql=True, redis=True, nats=True, ids=True), build)
