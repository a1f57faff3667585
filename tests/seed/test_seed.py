"""`./photomesh seed` on the test mesh: a connected part of socfb-Reed98 written through the
public API, a seeded person's home feed then read over REST at the edge, and a second run
that finds everything and writes nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from grpc import aio
from photomesh.post.v1 import post_service_pb2 as post_pb
from photomesh.post.v1 import post_service_pb2_grpc as post_grpc

from infra.backends.envoy import EnvoyBackend
from infra.sandbox import Mesh
from infra.seed import DEMO_PASSWORD, SERVICES_USED, logins, seed
from infra.seed.community import Community, load_edges, plan
from tests.edge.http import request
from tests.helpers import bearer

SCALE = 0.04  # 38 people, 670 follows: the whole pipeline in well under a minute


def planned(community: Community) -> Counter[str]:
    return Counter({
        "accounts": len(community.people), "profiles": len(community.people),
        "follows": len(community.follows), "posts": len(community.posts),
        "likes": sum(len(p.likers) for p in community.posts),
        "comments": sum(len(p.comments) for p in community.posts),
        "stories": len(community.stories),
        "story views": sum(len(s.viewers) for s in community.stories)})


async def home_feed(edge: EnvoyBackend, username: str, want: set[str]
                    ) -> tuple[str, list[dict[str, Any]]]:
    """The person's access token and home feed over REST, once every post of `want`
    (captions) is in it (fan-out follows the posts asynchronously)."""
    port = edge.settings.envoy_port
    login = request(port, "POST", "/v1/auth:login",
                    {"username": username, "password": DEMO_PASSWORD})
    assert login.status == 200, login.body
    token = login.json()["tokens"]["accessToken"]
    items: list[dict[str, Any]] = []
    for _ in range(20):  # the test edge allows 30 calls a minute per person
        reply = request(port, "GET", "/v1/feed?pageSize=50", token=token)
        assert reply.status == 200, reply.body
        items = reply.json()["items"]
        if want <= {i["post"]["caption"] for i in items}:
            return token, items
        await asyncio.sleep(1.0)
    raise AssertionError(f"{username}'s feed lacks {want - {i['post']['caption'] for i in items}}")


async def counters(mesh: Mesh, token: str, post_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Likes and comments of each post, from the post service (the source of truth)."""
    async with aio.insecure_channel(mesh.target("post")) as channel:
        reply = await post_grpc.PostServiceStub(channel).BatchGetPosts(
            post_pb.BatchGetPostsRequest(post_ids=post_ids), metadata=bearer(token), timeout=10)
    return {p.post_id: (p.like_count, p.comment_count) for p in reply.posts}


async def test_seed_fills_the_mesh_and_a_second_run_adds_nothing(
        mesh: Mesh, edge: EnvoyBackend, tmp_path: Path) -> None:
    community = plan(load_edges(), SCALE)
    targets = {name: mesh.target(name) for name in SERVICES_USED}
    sessions = tmp_path / "sessions.json"
    first = await seed(targets, community, say=lambda line: None, sessions=sessions)
    expected = planned(community)
    expected["profiles"] = sum(1 for p in community.people)  # every bio is new
    assert first.created == expected
    assert sum(first.existing.values()) == 0

    reader, _ = logins(community)[0]
    followees = {t for f, t in community.follows
                 if f == reader and (f, t) not in community.pending}
    by_them = {p.caption: p for p in community.posts if p.author in followees}
    assert by_them, "the most followed person follows people who posted"
    token, items = await home_feed(edge, reader, set(by_them))
    shown = {}
    for item in items:
        post = item["post"]
        assert post["author"]["username"] in followees | {reader}
        plan_of = by_them.get(post["caption"])
        if plan_of is None:
            continue
        shown[int(post["postId"])] = plan_of
        assert post["hashtags"] and all(f"#{t}" in post["caption"] for t in post["hashtags"])
        assert len(post["media"]) == len(plan_of.photos)
        media = post["media"][0]
        assert media["blurhash"] and {v["name"] for v in media["variants"]} >= {
            "VARIANT_NAME_THUMBNAIL", "VARIANT_NAME_MEDIUM"}
        # The feed's copy of the counters follows the likes and comments (never ahead).
        assert int(post["likeCount"]) <= len(plan_of.likers)
        assert int(post["commentCount"]) <= len(plan_of.comments)
    # Every like and comment the seed made counts, exactly once.
    assert await counters(mesh, token, list(shown)) == {
        post_id: (len(p.likers), len(p.comments)) for post_id, p in shown.items()}

    again = await seed(targets, community, say=lambda line: None, sessions=sessions)
    assert sum(again.created.values()) == 0, again.created
    assert again.existing == planned(community)
    _, unchanged = await home_feed(edge, reader, set(by_them))
    assert sorted(i["post"]["postId"] for i in unchanged) == sorted(
        i["post"]["postId"] for i in items)
    assert await counters(mesh, token, list(shown)) == {
        post_id: (len(p.likers), len(p.comments)) for post_id, p in shown.items()}
