"""The graph's parts of discovery (issue 11): SearchProfiles by username or display-name
prefix (`query`, case and accents ignored) and ListSuggestedUsers (friends of friends)."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from photomesh.graph.v1 import social_graph_service_pb2 as gpb

from services.graph.backfill import backfill
from services.runtime.cql import CqlStore
from services.runtime.settings import CqlSettings, load
from tests.graph_support import block, follow, make_private
from tests.helpers import field_violations


async def _rename(graph, user, name: str) -> None:  # type: ignore[no-untyped-def]
    await graph.UpdateProfile(gpb.UpdateProfileRequest(
        profile=gpb.Profile(display_name=name), update_mask=FieldMask(paths=["display_name"])),
        metadata=user.md)


async def _query(graph, viewer, query: str, page_size: int = 20, token: str = ""  # type: ignore[no-untyped-def]
                 ) -> gpb.SearchProfilesResponse:
    return await graph.SearchProfiles(gpb.SearchProfilesRequest(
        query=query, page_size=page_size, page_token=token), metadata=viewer.md)


async def test_search_by_display_name_prefix_ignoring_case_and_accents(graph, users) -> None:
    ada, grace, blocker, viewer = await users(4)
    word = "q" + uuid.uuid4().hex[:10]
    await asyncio.gather(_rename(graph, ada, f"Zoë {word} Lovelace"),
                         _rename(graph, grace, f"{word.upper()} Hopper"),
                         _rename(graph, blocker, f"{word} Blocker"))
    await block(graph, blocker, viewer.user_id)

    found = await _query(graph, viewer, word)
    # In key order ("<word> hopper" < "<word> lovelace"); not the user who blocked the viewer.
    assert [u.user_id for u in found.users] == [grace.user_id, ada.user_id]
    assert [u.user_id for u in (await _query(graph, viewer, f"ZOE {word} lov")).users] == [
        ada.user_id]
    first = await _query(graph, viewer, word, page_size=1)
    assert len(first.users) == 1 and first.next_page_token
    rest = await _query(graph, viewer, word, page_size=5, token=first.next_page_token)
    assert {u.user_id for u in [*first.users, *rest.users]} == {ada.user_id, grace.user_id}

    await _rename(graph, ada, "Someone Else")  # the old name no longer finds her
    assert ada.user_id not in {u.user_id for u in (await _query(graph, viewer, word)).users}
    # A username prefix matches first.
    assert (await _query(graph, viewer, ada.username)).users[0].user_id == ada.user_id


async def test_backfill_indexes_display_names_made_before_the_index(graph, users) -> None:
    (old, viewer) = await users(2)
    word = "b" + uuid.uuid4().hex[:10]
    await _rename(graph, old, f"{word} Older")
    cql = await CqlStore.connect(load(CqlSettings))
    try:
        await cql.use_keyspace()
        await cql.execute("DELETE FROM graph_display_names WHERE prefix = ? AND name = ? "
                          "AND user_id = ?", (word[:2], f"{word} older", uuid.UUID(old.user_id)))
        assert not (await _query(graph, viewer, word)).users
        assert await backfill(cql) >= 2
    finally:
        await cql.close()
    assert [u.user_id for u in (await _query(graph, viewer, word)).users] == [old.user_id]


async def test_search_query_bad_input(graph, users) -> None:
    (viewer,) = await users(1)
    for request in (gpb.SearchProfilesRequest(query=" "),
                    gpb.SearchProfilesRequest(query="x" * 65),
                    gpb.SearchProfilesRequest(query="ab", username_prefix="ab")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await graph.SearchProfiles(request, metadata=viewer.md)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "query" in field_violations(err.value)


async def test_suggested_users_are_friends_of_friends(graph, users) -> None:
    viewer, a, b, x, y, z, fan, private, blocked = await users(9)
    await make_private(graph, private)
    await asyncio.gather(follow(graph, viewer, a.user_id), follow(graph, viewer, b.user_id))
    await asyncio.gather(*(follow(graph, who, whom.user_id) for who, whom in (
        (a, x), (b, x), (a, y), (b, z), (fan, y), (a, private), (b, blocked))))
    await follow(graph, viewer, private.user_id)  # requested, not approved
    await block(graph, viewer, blocked.user_id)

    reply = await graph.ListSuggestedUsers(gpb.ListSuggestedUsersRequest(), metadata=viewer.md)
    got = [(s.user.user_id, s.mutual_count) for s in reply.users]
    assert got == [(x.user_id, 2), (y.user_id, 1), (z.user_id, 1)]  # y has more followers
    assert reply.users[1].follower_count == 2
    first = await graph.ListSuggestedUsers(gpb.ListSuggestedUsersRequest(page_size=2),
                                           metadata=viewer.md)
    rest = await graph.ListSuggestedUsers(gpb.ListSuggestedUsersRequest(
        page_size=2, page_token=first.next_page_token), metadata=viewer.md)
    assert [s.user.user_id for s in [*first.users, *rest.users]] == [x.user_id, y.user_id,
                                                                      z.user_id]
    assert not rest.next_page_token

    await follow(graph, viewer, x.user_id)  # followed users leave the suggestions
    again = await graph.ListSuggestedUsers(gpb.ListSuggestedUsersRequest(), metadata=viewer.md)
    assert x.user_id not in {s.user.user_id for s in again.users}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await graph.ListSuggestedUsers(gpb.ListSuggestedUsersRequest(page_size=-1),
                                       metadata=viewer.md)
    assert "page_size" in field_violations(err.value)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await graph.ListSuggestedUsers(gpb.ListSuggestedUsersRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
