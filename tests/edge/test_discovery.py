"""Search and explore through the edge: REST routes from the contracts' google.api.http
annotations (hashtag posts, autocomplete, caption search, explore, views) and gRPC-Web."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from infra.backends.envoy import EnvoyBackend
from infra.sandbox import Mesh
from tests.edge.conftest import Account
from tests.edge.http import request
from tests.feed.support import eventually
from tests.media_support import ready_media_ids

Web = Callable[..., dict[str, Any]]


async def test_search_and_explore_over_rest(edge: EnvoyBackend, mesh: Mesh,
                                            account: Account) -> None:
    from grpc import aio
    from photomesh.post.v1 import post_service_pb2 as ppb
    from photomesh.post.v1 import post_service_pb2_grpc as pgrpc

    port, token = edge.settings.envoy_port, account.access_token
    tag = "edge" + uuid.uuid4().hex[:10]
    (media_id,) = await ready_media_ids(mesh.target("media"), token, 1)
    async with aio.insecure_channel(mesh.target("post")) as channel:
        made = await pgrpc.PostServiceStub(channel).CreatePost(ppb.CreatePostRequest(
            request_id=str(uuid.uuid4()), caption=f"Golden sunsets #{tag}",
            media_ids=[media_id]), metadata=(("authorization", f"Bearer {token}"),))
    post_id = str(made.post.post_id)

    async def tagged() -> list[str]:
        reply = request(port, "GET", f"/v1/hashtags/{tag}/posts?pageSize=5", token=token)
        assert reply.status == 200, reply.body
        return [p["postId"] for p in reply.json().get("posts", [])]

    await eventually(tagged, lambda ids: ids == [post_id], what="hashtag posts over REST")
    top = request(port, "GET", f"/v1/hashtags/{tag}/posts?order=HASHTAG_POST_ORDER_TOP",
                  token=token)
    assert top.status == 200 and [p["postId"] for p in top.json()["posts"]] == [post_id]
    words = request(port, "GET", f"/v1/posts:search?query=sunset%20{tag}", token=token)
    assert words.status == 200 and words.json()["posts"][0]["author"]["userId"] == \
        account.user_id
    suggest = request(port, "GET", f"/v1/hashtags:search?prefix={tag[:8]}", token=token)
    assert suggest.status == 200
    assert {"hashtag": tag, "postCount": "1"} in suggest.json()["hashtags"]
    view = request(port, "POST", f"/v1/posts/{post_id}:view", {}, token=token)
    assert view.status == 200, view.body  # the author's own view is not counted
    for path in ("/v1/explore", "/v1/explore/posts", "/v1/explore/hashtags"):
        reply = request(port, "GET", path, token=token)
        assert reply.status == 200, (path, reply.body)

    bad = request(port, "GET", "/v1/posts:search?query=the", token=token)
    assert bad.status == 400
    details = {d["@type"].rsplit("/", 1)[1]: d for d in bad.json()["details"]}
    assert details["google.rpc.ErrorInfo"]["domain"] == "discovery.photomesh"
    assert [v["field"] for v in details["google.rpc.BadRequest"]["fieldViolations"]] == [
        "query"]
    assert request(port, "POST", "/v1/posts/1:view", {}, token=token).status == 404
    assert request(port, "GET", "/v1/explore").status == 401


def test_explore_over_grpc_web(web: Web, account: Account) -> None:
    result = web("unary", "photomesh.discovery.v1.ExploreService", "GetExplorePage",
                 {"pageSize": 5}, token=account.access_token)
    assert result["ok"], result
    missing = web("unary", "photomesh.discovery.v1.SearchService", "SearchHashtags",
                  {"prefix": "a"})
    assert (missing["ok"], missing["code"]) == (False, "Unauthenticated")
