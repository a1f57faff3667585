"""`./photomesh seed` on the test mesh: a connected part of socfb-Reed98 written through the
public API, a seeded person's home feed then read over REST at the edge, and a second run
that finds everything and writes nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from infra.backends.envoy import EnvoyBackend
from infra.sandbox import Mesh
from infra.seed import DEMO_PASSWORD, SERVICES_USED, logins, seed
from infra.seed.community import Community, load_edges, plan
from tests.edge.http import request

SCALE = 0.04  # 38 people, 670 follows: the whole pipeline in well under a minute


def planned(community: Community) -> Counter[str]:
    return Counter({
        "accounts": len(community.people), "profiles": len(community.people),
        "follows": len(community.follows), "posts": len(community.posts),
        "likes": sum(len(p.likers) for p in community.posts),
        "comments": sum(len(p.comments) for p in community.posts),
        "stories": len(community.stories),
        "story views": sum(len(s.viewers) for s in community.stories)})


async def home_feed(edge: EnvoyBackend, username: str, want: set[str]) -> list[dict[str, Any]]:
    """The person's home feed over REST, once every post in `want` (captions) is in it
    (fan-out is asynchronous)."""
    port = edge.settings.envoy_port
    login = request(port, "POST", "/v1/auth:login",
                    {"username": username, "password": DEMO_PASSWORD})
    assert login.status == 200, login.body
    token = login.json()["tokens"]["accessToken"]
    items: list[dict[str, Any]] = []
    for _ in range(20):
        reply = request(port, "GET", "/v1/feed?pageSize=50", token=token)
        assert reply.status == 200, reply.body
        items = reply.json()["items"]
        if want <= {item["post"]["caption"] for item in items}:
            return items
        await asyncio.sleep(1.0)
    raise AssertionError(f"{username}'s feed lacks {want - {i['post']['caption'] for i in items}}")


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
    items = await home_feed(edge, reader, set(by_them))
    for item in items:
        post = item["post"]
        assert post["author"]["username"] in followees | {reader}
        plan_of = by_them.get(post["caption"])
        if plan_of is None:
            continue
        assert int(post["likeCount"]) == len(plan_of.likers)
        assert int(post["commentCount"]) == len(plan_of.comments)
        assert post["hashtags"] and all(f"#{t}" in post["caption"] for t in post["hashtags"])
        assert len(post["media"]) == len(plan_of.photos)
        media = post["media"][0]
        assert media["blurhash"] and {v["name"] for v in media["variants"]} >= {
            "VARIANT_NAME_THUMBNAIL", "VARIANT_NAME_MEDIUM"}

    again = await seed(targets, community, say=lambda line: None, sessions=sessions)
    assert sum(again.created.values()) == 0, again.created
    assert again.existing == planned(community)
    unchanged = await home_feed(edge, reader, set(by_them))
    assert [(i["post"]["postId"], i["post"]["likeCount"], i["post"]["commentCount"])
            for i in unchanged] == [
        (i["post"]["postId"], i["post"]["likeCount"], i["post"]["commentCount"]) for i in items]
