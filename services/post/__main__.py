"""Run the post service: ``python -m services.post``."""

from __future__ import annotations

from photomesh.post.v1 import post_service_pb2 as pb
from photomesh.post.v1 import post_service_pb2_grpc as pb_grpc

from services.peers.graph import GraphPeer
from services.peers.social_view import social_view
from services.post.cache import Counter, PostBodies
from services.post.comments import Comments
from services.post.counters import Counters
from services.post.events import PostEvents
from services.post.like_sets import LikeSets
from services.post.liked_cache import LikedCache
from services.post.likes import Likes
from services.post.peers import Graph, Media
from services.post.posts import Posts
from services.post.server import PostServicer
from services.post.settings import PostSettings
from services.post.store import PostStore
from services.runtime.app import Built, Needs, definition, main, service_credentials
from services.runtime.backends import Backends
from services.runtime.cache import KeySpace
from services.runtime.grpc_clients import peer_channel
from services.runtime.pagination import mesh_page_tokens
from services.runtime.settings import PeerSettings, load


def recounter(store: PostStore):  # type: ignore[no-untyped-def]
    """How each counter is recounted from its CQL partition (the durable truth)."""
    async def recount(counter: Counter) -> int:
        if counter.kind == "likes":
            return await store.count_likes(int(counter.subject))
        if counter.kind == "comments":
            return await store.count_comments(int(counter.subject))
        if counter.kind == "replies":
            post_id, comment_id = counter.subject.split(":")
            return await store.count_replies(int(post_id), int(comment_id))
        if counter.kind == "comment_likes":
            return await store.count_comment_likes(int(counter.subject))
        if counter.kind == "posts":
            return await store.count_user_posts(counter.subject)
        raise ValueError(f"unknown counter {counter}")
    return recount


def like_members(store: PostStore):  # type: ignore[no-untyped-def]
    """Where a like set is rebuilt from: its CQL partition, page by page."""
    def members(counter: Counter):  # type: ignore[no-untyped-def]
        if counter.kind == "likes":
            return store.like_members(int(counter.subject))
        return store.comment_like_members(int(counter.subject))
    return members


async def build(settings: PostSettings, backends: Backends) -> Built:
    assert backends.cql and backends.redis and backends.redis_settings and backends.events
    assert backends.ids
    events = PostEvents(backends.events)
    await events.ensure_stream()
    await backends.events.ensure_stream("graph")
    peers = load(PeerSettings)
    graph_channel = peer_channel(peers.graph_target)
    media_channel = peer_channel(peers.media_target)
    store = PostStore(backends.cql)
    counters = Counters(backends.redis, KeySpace(backends.redis_settings, "post"),
                        recounter(store), settings.counter_ttl_seconds)
    ids = backends.ids
    secret = settings.page_token_secret
    tokens = mesh_page_tokens(secret.get_secret_value() if secret else None)
    keys = KeySpace(backends.redis_settings, "post")
    view = social_view(backends.redis, backends.redis_settings, "post",
                       GraphPeer(graph_channel, service_credentials("post")),
                       ttl_seconds=settings.social_view_ttl_seconds)
    graph = Graph(view)
    liked = LikedCache(backends.redis, keys, store.liked_post_ids, settings.liked_ttl_seconds)
    bodies = PostBodies(backends.redis, KeySpace(backends.redis_settings, "post"), store,
                        settings.body_ttl_seconds)
    posts = Posts(store, counters, events, graph, Media(media_channel), ids, tokens, bodies,
                  liked, settings.media_claim_grace_seconds)
    like_sets = LikeSets(backends.redis, counters, like_members(store))
    likes = Likes(store, counters, like_sets, events, graph, posts, ids, tokens, liked)
    comments = Comments(store, counters, events, graph, posts, ids, tokens)

    async def close_channels() -> None:
        await graph_channel.close()
        await media_channel.close()

    return Built(definition("post", pb, pb_grpc, "PostService",
                            PostServicer(posts, likes, comments)),
                 background=[counters.heal(), liked.heal(),
                             *(c.run() for c in view.consumers(backends.events, "post"))],
                 on_stop=[close_channels], domain=posts)


if __name__ == "__main__":
    main("post", PostSettings, Needs(cql=True, redis=True, nats=True, ids=True), build)
