"""SearchService through the mesh: hashtag posts (recent, top), autocomplete and caption
words, with the index kept current by post events (create, delete) and the feed's
visibility rule (private accounts, blocks) applied to every result."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from photomesh.discovery.v1 import search_service_pb2 as spb

from tests.discovery.support import Discovery, eventually, unique_tag
from tests.graph_support import approve, block, follow, make_private
from tests.helpers import error_info, field_violations


async def test_hashtag_posts_newest_first_in_stable_pages(discovery: Discovery) -> None:
    (author, reader) = await discovery.users(2)
    tag = unique_tag()
    posts = await discovery.posts_of(author, [f"#{tag} one", f"two #{tag.upper()}",
                                              f"three #{tag}"])
    newest_first = [p.post_id for p in reversed(posts)]
    await discovery.wait_tag(reader, tag, newest_first)

    first = await discovery.tag_page(reader, "#" + tag, page_size=2)
    assert [p.post_id for p in first.posts] == newest_first[:2]
    assert first.posts[0].author.user_id == author.user_id
    assert first.posts[0].author.username == author.username
    assert first.next_page_token
    newer = await discovery.post(author, f"four #{tag}")  # does not shift the next page
    second = await discovery.tag_page(reader, tag, page_size=2, page_token=first.next_page_token)
    assert [p.post_id for p in second.posts] == newest_first[2:]
    await discovery.wait_tag(reader, tag, [newer.post_id, *newest_first])

    with pytest.raises(grpc.aio.AioRpcError) as err:  # a token is bound to its list
        await discovery.tag_page(reader, unique_tag(), page_token=first.next_page_token)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(err.value).reason == "PAGE_TOKEN_INVALID"
    with pytest.raises(grpc.aio.AioRpcError) as err:  # ... and to its viewer
        await discovery.tag_page(author, tag, page_size=2, page_token=first.next_page_token)
    assert error_info(err.value).reason == "PAGE_TOKEN_INVALID"


async def test_caption_words_ignore_case_accents_and_endings(discovery: Discovery) -> None:
    (author, reader) = await discovery.users(2)
    word = unique_tag("w")
    post = await discovery.post(author, f"Sunsets at the Café {word.upper()}, running late")
    other = await discovery.post(author, f"a sunset without the magic word {word}x")
    await eventually(lambda: discovery.query_ids(reader, f"{word} cafe"),
                     lambda ids: ids == [post.post_id], what="caption indexed")
    for query in (f"CAFÉ {word}", f"{word} sunset", f"sunsetting {word}", f"{word} run"):
        assert await discovery.query_ids(reader, query) == [post.post_id], query
    assert await discovery.query_ids(reader, f"{word} beach") == []  # every word must match
    assert other.post_id not in await discovery.query_ids(reader, f"{word} sunset")


async def test_deleted_post_leaves_results_and_counts(discovery: Discovery) -> None:
    (author, reader) = await discovery.users(2)
    tag = unique_tag()
    kept, gone = await discovery.posts_of(author, [f"#{tag} kept", f"#{tag} gone"])
    await discovery.wait_tag(reader, tag, [gone.post_id, kept.post_id])

    async def count() -> list[tuple[str, int]]:
        reply = await discovery.search.SearchHashtags(
            spb.SearchHashtagsRequest(prefix=tag), metadata=reader.md)
        return [(h.hashtag, h.post_count) for h in reply.hashtags]

    await eventually(count, lambda c: c == [(tag, 2)], what="two posts counted")
    await discovery.delete(author, gone.post_id)
    await discovery.wait_tag(reader, tag, [kept.post_id])
    await eventually(count, lambda c: c == [(tag, 1)], what="the deleted post uncounted")
    assert gone.post_id not in await discovery.query_ids(reader, f"gone {tag}")


async def test_autocomplete_most_used_first_with_counts(discovery: Discovery) -> None:
    (author, reader) = await discovery.users(2)
    stem = unique_tag("ac")
    await discovery.posts_of(author, [f"#{stem}abc #{stem}abd", f"#{stem}abd", f"#{stem}x"])

    async def suggest(prefix: str) -> list[tuple[str, int]]:
        reply = await discovery.search.SearchHashtags(
            spb.SearchHashtagsRequest(prefix=prefix, page_size=5), metadata=reader.md)
        return [(h.hashtag, h.post_count) for h in reply.hashtags]

    expected = [(f"{stem}abd", 2), (f"{stem}abc", 1)]
    await eventually(lambda: suggest(f"#{stem}AB"), lambda s: s == expected,
                     what="autocomplete")
    assert await suggest(f"{stem}abd") == [(f"{stem}abd", 2)]
    # The third tag's post may be indexed after the other two.
    await eventually(lambda: suggest(stem), lambda s: len(s) == 3, what="all three tags")


async def test_top_posts_by_engagement(discovery: Discovery) -> None:
    author, *fans = await discovery.users(4)
    tag = unique_tag()
    quiet, liked, loved = await discovery.posts_of(author, [f"#{tag} a", f"#{tag} b",
                                                            f"#{tag} c"])
    await discovery.like(fans[:1], liked.post_id)
    await discovery.like(fans, loved.post_id)
    expected = [loved.post_id, liked.post_id, quiet.post_id]
    await discovery.wait_tag(fans[0], tag, expected, top=True)
    # The order holds from the second like on; the third is counted from its own event.
    page = await eventually(
        lambda: discovery.tag_page(fans[0], tag, top=True, page_size=1),
        lambda p: p.posts[0].like_count == 3, what="all three likes counted")
    assert page.posts[0].post_id == loved.post_id and page.posts[0].liked_by_caller
    assert not (await discovery.tag_page(fans[0], unique_tag(), top=True)).posts  # no posts
    rest = await discovery.tag_page(fans[0], tag, top=True, page_size=5,
                                    page_token=page.next_page_token)
    assert [p.post_id for p in rest.posts] == expected[1:]
    assert not any(p.liked_by_caller for p in rest.posts if p.post_id == quiet.post_id)

    await discovery.like(fans[:1], quiet.post_id)  # the reader's own like, from its event

    async def liked_quiet() -> bool:
        page = await discovery.tag_page(fans[0], tag)
        return any(p.liked_by_caller for p in page.posts if p.post_id == quiet.post_id)

    await eventually(liked_quiet, bool, what="the caller's new like shown")


async def test_private_accounts_blocks_and_privacy_changes(discovery: Discovery) -> None:
    author, follower, stranger, blocked = await discovery.users(4)
    await make_private(discovery.graph, author)
    await follow(discovery.graph, follower, author.user_id)
    await approve(discovery.graph, author, follower.user_id)
    tag = unique_tag()
    post = await discovery.post(author, f"#{tag} for my followers only")
    await discovery.wait_tag(follower, tag, [post.post_id])
    await discovery.wait_tag(author, tag, [post.post_id])
    assert await discovery.tag_ids(stranger, tag) == []
    assert await discovery.query_ids(stranger, f"followers {tag}") == []
    assert await discovery.query_ids(follower, f"followers {tag}") == [post.post_id]

    await make_private(discovery.graph, author, private=False)  # honoured at once
    assert await discovery.tag_ids(stranger, tag) == [post.post_id]
    assert await discovery.tag_ids(blocked, tag) == [post.post_id]
    await block(discovery.graph, author, blocked.user_id)
    assert await discovery.tag_ids(blocked, tag) == []
    (mine,) = await asyncio.gather(discovery.post(blocked, f"#{tag} from the blocked one"))
    await discovery.wait_tag(stranger, tag, [mine.post_id, post.post_id])
    assert await discovery.tag_ids(author, tag) == [post.post_id]  # nothing from blocked
    await make_private(discovery.graph, author)
    assert await discovery.tag_ids(stranger, tag) == [mine.post_id]


async def test_bad_input_and_missing_token(discovery: Discovery) -> None:
    (user,) = await discovery.users(1)
    cases = [
        (discovery.search.ListHashtagPosts, spb.ListHashtagPostsRequest(hashtag=""), "hashtag"),
        (discovery.search.ListHashtagPosts, spb.ListHashtagPostsRequest(hashtag="no spaces"),
         "hashtag"),
        (discovery.search.ListHashtagPosts,
         spb.ListHashtagPostsRequest(hashtag="ok", page_size=-1), "page_size"),
        (discovery.search.ListHashtagPosts,
         spb.ListHashtagPostsRequest(hashtag="ok", page_token="garbage"), "page_token"),
        (discovery.search.SearchHashtags, spb.SearchHashtagsRequest(prefix="#"), "prefix"),
        (discovery.search.SearchPosts, spb.SearchPostsRequest(query="the a"), "query"),
        (discovery.search.SearchPosts, spb.SearchPostsRequest(query="x" * 201), "query"),
        (discovery.search.SearchPosts,
         spb.SearchPostsRequest(query="one two three four five six"), "query"),
    ]
    for rpc, request, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await rpc(request, metadata=user.md)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert field in field_violations(err.value), (request, field_violations(err.value))
        assert error_info(err.value).domain == "discovery.photomesh"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await discovery.search.ListHashtagPosts(spb.ListHashtagPostsRequest(hashtag="ok"))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(err.value).reason == "TOKEN_MISSING"
