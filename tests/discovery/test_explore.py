"""ExploreService through the mesh: trending hashtags and posts of public accounts from
decayed engagement (likes, comments, views), the explore page per viewer (no own,
followed, blocked or private authors; stable pages) and recorded views."""

from __future__ import annotations

import itertools

import grpc
import pytest
from photomesh.discovery.v1 import explore_service_pb2 as epb
from photomesh.post.v1 import post_service_pb2 as ppb

from tests.discovery.support import Discovery, eventually, unique_tag
from tests.graph_support import block, follow, make_private
from tests.helpers import error_info, field_violations


async def _trending_tags(discovery: Discovery, viewer) -> dict[str, epb.TrendingHashtag]:  # type: ignore[no-untyped-def]
    reply = await discovery.explore.ListTrendingHashtags(
        epb.ListTrendingHashtagsRequest(page_size=50), metadata=viewer.md)
    found = {h.hashtag: h for h in reply.hashtags}
    token = reply.next_page_token
    while token:
        reply = await discovery.explore.ListTrendingHashtags(
            epb.ListTrendingHashtagsRequest(page_size=50, page_token=token), metadata=viewer.md)
        found.update((h.hashtag, h) for h in reply.hashtags)
        token = reply.next_page_token
    return found


async def test_trending_posts_and_hashtags_from_public_engagement(discovery: Discovery
                                                                   ) -> None:
    public, private, *fans = await discovery.users(5)
    await make_private(discovery.graph, private)
    hot_tag, quiet_tag = unique_tag("hot"), unique_tag("quiet")
    hot = await discovery.post(public, f"#{hot_tag} everyone likes this")
    quiet = await discovery.post(public, f"#{quiet_tag} nobody cares")
    hidden = await discovery.post(private, f"#{hot_tag} private but liked")
    await discovery.like(fans, hot.post_id)
    for fan in fans[:2]:
        await discovery.posts.CreateComment(ppb.CreateCommentRequest(
            post_id=hot.post_id, text="wow", request_id=f"c-{fan.user_id}"),
            metadata=fan.md)

    def ranked(ids: list[int]) -> bool:
        return hot.post_id in ids and (quiet.post_id not in ids
                                       or ids.index(hot.post_id) < ids.index(quiet.post_id))

    ids = await eventually(lambda: discovery.trending_post_ids(fans[0]), ranked,
                           what="the liked post trending")
    assert hidden.post_id not in ids  # private accounts never trend
    # Both posts of the hot tag are counted (the private one too) once the indexer has
    # them: their events may arrive after the likes that make the tag trend.
    await eventually(lambda: _trending_tags(discovery, fans[0]),
                     lambda t: hot_tag in t and quiet_tag in t
                     and t[hot_tag].score > t[quiet_tag].score
                     and t[hot_tag].post_count == 2,
                     what="the hashtag trending, with its two posts counted")

    await discovery.delete(public, hot.post_id)  # a deleted post leaves trending
    await eventually(lambda: discovery.trending_post_ids(fans[0]),
                     lambda ids: hot.post_id not in ids, what="the deleted post gone")


async def test_explore_page_leaves_out_own_followed_blocked_and_private(discovery: Discovery
                                                                         ) -> None:
    viewer, stranger, followed, blocked, blocker, private = await discovery.users(6)
    await follow(discovery.graph, viewer, followed.user_id)
    await block(discovery.graph, viewer, blocked.user_id)
    await block(discovery.graph, blocker, viewer.user_id)
    await make_private(discovery.graph, private)
    tag = unique_tag("ex")
    shown = await discovery.post(stranger, f"#{tag} for everyone")
    left_out = [await discovery.post(u, f"#{tag} not for the viewer")
                for u in (viewer, followed, blocked, blocker, private)]
    await discovery.wait_tag(stranger, tag, [p.post_id for p in [*left_out[-2::-1], shown]])
    await eventually(lambda: discovery.tag_ids(private, tag),
                     lambda ids: left_out[-1].post_id in ids, what="the private post indexed")

    items = await eventually(lambda: discovery.explore_all(viewer),
                             lambda items: shown.post_id in {i.post.post_id for i in items},
                             what="a stranger's public post on the explore page")
    ids = [i.post.post_id for i in items]
    assert not {p.post_id for p in left_out} & set(ids)
    assert len(ids) == len(set(ids))
    authors = {i.post.author.user_id for i in items}
    assert not authors & {viewer.user_id, followed.user_id, blocked.user_id,
                          blocker.user_id, private.user_id}
    # The stranger sees the followed user's post (they do not follow them).
    assert left_out[1].post_id in [i.post.post_id for i in await discovery.explore_all(
        stranger)]


async def test_explore_pages_are_stable(discovery: Discovery) -> None:
    viewer, a, b = await discovery.users(3)
    posts = await discovery.posts_of(b, ["one"])
    posts += await discovery.posts_of(a, ["two", "three", "four"])
    mine = {p.post_id for p in posts}
    await eventually(lambda: discovery.explore_all(viewer),
                     lambda items: mine <= {i.post.post_id for i in items},
                     what="recent public posts on the explore page")
    paged = await discovery.explore_all(viewer, page_size=2)
    ids = [i.post.post_id for i in paged]
    assert len(ids) == len(set(ids)) and mine <= set(ids)
    # Variety: two of a's posts are 5 items apart (explore_author_spacing) unless nothing
    # but a's posts follow.
    at = [n for n, i in enumerate(paged) if i.post.author.user_id == a.user_id]
    for i, j in itertools.pairwise(at):
        assert j - i >= 5 or all(x.post.author.user_id == a.user_id for x in paged[j:]), (
            i, j)


async def test_record_post_view(discovery: Discovery) -> None:
    author, viewer, stranger = await discovery.users(3)
    await make_private(discovery.graph, author)
    await follow(discovery.graph, viewer, author.user_id)
    from tests.graph_support import approve

    await approve(discovery.graph, author, viewer.user_id)
    post = await discovery.post(author, f"#{unique_tag()} seen")

    async def view(user) -> bool:  # type: ignore[no-untyped-def]
        reply = await discovery.explore.RecordPostView(
            epb.RecordPostViewRequest(post_id=post.post_id), metadata=user.md)
        return reply.counted

    async def indexed() -> bool:
        try:
            return await view(viewer)
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise

    assert await eventually(indexed, bool, what="the view counted once indexed")
    assert await view(viewer) is False  # once per viewer, post and hour
    for who, post_id in ((stranger, post.post_id), (viewer, 1)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await discovery.explore.RecordPostView(
                epb.RecordPostViewRequest(post_id=post_id), metadata=who.md)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert error_info(err.value).reason == "POST_NOT_FOUND"


async def test_bad_input_and_missing_token(discovery: Discovery) -> None:
    (user,) = await discovery.users(1)
    cases = [
        (discovery.explore.GetExplorePage, epb.GetExplorePageRequest(page_size=-3),
         "page_size"),
        (discovery.explore.ListTrendingPosts,
         epb.ListTrendingPostsRequest(page_token="nope"), "page_token"),
        (discovery.explore.ListTrendingHashtags,
         epb.ListTrendingHashtagsRequest(page_size=-1), "page_size"),
        (discovery.explore.RecordPostView, epb.RecordPostViewRequest(post_id=0), "post_id"),
    ]
    for rpc, request, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await rpc(request, metadata=user.md)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert field in field_violations(err.value), request
    first = await discovery.explore.GetExplorePage(epb.GetExplorePageRequest(page_size=1),
                                                   metadata=user.md)
    if first.next_page_token:  # another list's token is refused
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await discovery.explore.ListTrendingPosts(epb.ListTrendingPostsRequest(
                page_token=first.next_page_token), metadata=user.md)
        assert error_info(err.value).reason == "PAGE_TOKEN_INVALID"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await discovery.explore.GetExplorePage(epb.GetExplorePageRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
