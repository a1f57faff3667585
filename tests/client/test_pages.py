"""Page iterators follow next_page_token to the end, each page its own call, and leave the
caller's request alone."""

from __future__ import annotations

import pytest
from photomesh.post.v1 import post_service_pb2 as post_pb
from photomesh_client import Client, Targets, items, pages
from photomesh_client.pages import listed_field

from tests.client.probe import Script


async def test_pages_and_items_follow_the_token_to_the_end(probe: tuple[Script, str]) -> None:
    script, target = probe
    request = post_pb.ListUserPostsRequest(user_id="u", page_size=2)
    async with Client(Targets(services={"post": target})) as mesh:
        sizes = [len(page.posts) async for page in pages(mesh.post.ListUserPosts, request)]
        ids = [post.post_id async for post in items(mesh.post.ListUserPosts, request)]
    assert sizes == [2, 2, 1]
    assert ids == [1, 2, 3, 4, 5]
    tokens = [seen.request.page_token for seen in script.calls("ListUserPosts")]
    assert tokens == ["", "2", "4"] * 2
    assert all(seen.request.page_size == 2 and seen.request.user_id == "u"
               for seen in script.calls("ListUserPosts"))
    assert request.page_token == ""  # the caller's request is not modified


async def test_a_repeated_token_stops_the_iteration(probe: tuple[Script, str]) -> None:
    script, target = probe
    script.repeat_token = True
    async with Client(Targets(services={"post": target})) as mesh:
        with pytest.raises(RuntimeError, match="repeated a page token"):
            async for _ in pages(mesh.post.ListUserPosts, post_pb.ListUserPostsRequest()):
                pass
    assert len(script.calls("ListUserPosts")) == 2


async def test_only_list_messages_are_paged() -> None:
    async def never(request: post_pb.GetPostRequest) -> post_pb.GetPostResponse:
        raise AssertionError("not called")

    with pytest.raises(TypeError, match="page_token"):
        async for _ in pages(never, post_pb.GetPostRequest()):
            pass
    assert listed_field(post_pb.ListUserPostsResponse()) == "posts"
