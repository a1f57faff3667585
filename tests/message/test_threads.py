"""Threads: one-to-one without duplicates, groups (create idempotently, rename, add,
remove, leave; creator or admins only; at most 32 members), and who may see them."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc import aio
from photomesh.message.v1 import message_service_pb2 as pb

from tests.graph_support import block
from tests.helpers import error_info, field_violations
from tests.message.conftest import direct, rid


async def test_a_direct_thread_is_one_thread_however_it_is_opened(dm, make_users) -> None:
    a, b = await make_users(2)
    opened = await asyncio.gather(direct(dm, a, b), direct(dm, b, a), direct(dm, a, b))
    assert len({t.thread_id for t in opened}) == 1
    thread = opened[0]
    assert thread.kind == pb.THREAD_KIND_DIRECT
    assert {m.user.user_id for m in thread.members} == {a.user_id, b.user_id}
    assert {m.user.username for m in thread.members} == {a.username, b.username}
    got = (await dm.GetThread(pb.GetThreadRequest(thread_id=thread.thread_id),
                              metadata=b.md)).thread
    assert got.thread_id == thread.thread_id


async def test_direct_thread_bad_input_and_blocks(dm, graph, make_users) -> None:
    a, b = await make_users(2)
    with pytest.raises(aio.AioRpcError) as err:
        await dm.OpenDirectThread(pb.OpenDirectThreadRequest(user_id=a.user_id), metadata=a.md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "user_id" in field_violations(err.value)
    with pytest.raises(aio.AioRpcError) as err:
        await dm.OpenDirectThread(pb.OpenDirectThreadRequest(user_id="nope"), metadata=a.md)
    assert "user_id" in field_violations(err.value)
    with pytest.raises(aio.AioRpcError) as err:
        await dm.OpenDirectThread(pb.OpenDirectThreadRequest(
            user_id="0b6f6c4e-3c1e-4d0e-9a57-2d4b5c0e9f11"), metadata=a.md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(aio.AioRpcError) as err:
        await dm.OpenDirectThread(pb.OpenDirectThreadRequest(user_id=b.user_id))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    await block(graph, b, a.user_id)
    for who, other in ((a, b), (b, a)):
        with pytest.raises(aio.AioRpcError) as err:
            await direct(dm, who, other)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_info(err.value).reason == "BLOCKED"


async def test_groups_are_created_once_and_changed_by_admins(dm, make_users) -> None:
    a, b, c, d = await make_users(4)
    request = pb.CreateGroupThreadRequest(request_id=rid(), name="trip",
                                          member_user_ids=[b.user_id, c.user_id])
    first, again = await asyncio.gather(dm.CreateGroupThread(request, metadata=a.md),
                                        dm.CreateGroupThread(request, metadata=a.md))
    group = first.thread
    assert again.thread.thread_id == group.thread_id
    assert group.kind == pb.THREAD_KIND_GROUP and group.name == "trip"
    roles = {m.user.user_id: m.role for m in group.members}
    assert roles == {a.user_id: pb.MEMBER_ROLE_CREATOR, b.user_id: pb.MEMBER_ROLE_MEMBER,
                     c.user_id: pb.MEMBER_ROLE_MEMBER}

    # A member is not an admin: no renames or member changes.
    for call in (dm.UpdateThread(pb.UpdateThreadRequest(
            thread_id=group.thread_id, name="mine", update_mask=FieldMask(paths=["name"])),
            metadata=b.md),
            dm.AddThreadMembers(pb.AddThreadMembersRequest(
                thread_id=group.thread_id, user_ids=[d.user_id]), metadata=b.md),
            dm.RemoveThreadMember(pb.RemoveThreadMemberRequest(
                thread_id=group.thread_id, user_id=c.user_id), metadata=b.md)):
        with pytest.raises(aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_info(err.value).reason == "NOT_AN_ADMIN"
    # Someone outside it sees nothing of it.
    with pytest.raises(aio.AioRpcError) as err:
        await dm.GetThread(pb.GetThreadRequest(thread_id=group.thread_id), metadata=d.md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    renamed = (await dm.UpdateThread(pb.UpdateThreadRequest(
        thread_id=group.thread_id, name="trip 2", update_mask=FieldMask(paths=["name"])),
        metadata=a.md)).thread
    assert renamed.name == "trip 2"
    added = (await dm.AddThreadMembers(pb.AddThreadMembersRequest(
        thread_id=group.thread_id, user_ids=[d.user_id]), metadata=a.md)).thread
    assert d.user_id in {m.user.user_id for m in added.members}
    removed = (await dm.RemoveThreadMember(pb.RemoveThreadMemberRequest(
        thread_id=group.thread_id, user_id=c.user_id), metadata=a.md)).thread
    assert c.user_id not in {m.user.user_id for m in removed.members}
    with pytest.raises(aio.AioRpcError) as err:
        await dm.GetThread(pb.GetThreadRequest(thread_id=group.thread_id), metadata=c.md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    await dm.LeaveThread(pb.LeaveThreadRequest(thread_id=group.thread_id), metadata=b.md)
    left = (await dm.GetThread(pb.GetThreadRequest(thread_id=group.thread_id),
                               metadata=a.md)).thread
    assert {m.user.user_id for m in left.members} == {a.user_id, d.user_id}


async def test_group_bad_input(dm, make_users) -> None:
    a, b = await make_users(2)
    cases = [
        (pb.CreateGroupThreadRequest(request_id="x", member_user_ids=[b.user_id]),
         "request_id"),
        (pb.CreateGroupThreadRequest(request_id=rid(), member_user_ids=[]), "member_user_ids"),
        (pb.CreateGroupThreadRequest(request_id=rid(), member_user_ids=["x"]),
         "member_user_ids[0]"),
        (pb.CreateGroupThreadRequest(request_id=rid(), member_user_ids=[b.user_id],
                                     name="n" * 101), "name"),
        (pb.CreateGroupThreadRequest(request_id=rid(), member_user_ids=[
            f"0b6f6c4e-3c1e-4d0e-9a57-2d4b5c0e{i:04x}" for i in range(32)]),
         "member_user_ids"),
    ]
    for request, field in cases:
        with pytest.raises(aio.AioRpcError) as err:
            await dm.CreateGroupThread(request, metadata=a.md)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in field_violations(err.value), (field, field_violations(err.value))
    group = (await dm.CreateGroupThread(pb.CreateGroupThreadRequest(
        request_id=rid(), member_user_ids=[b.user_id]), metadata=a.md)).thread
    with pytest.raises(aio.AioRpcError) as err:
        await dm.UpdateThread(pb.UpdateThreadRequest(
            thread_id=group.thread_id, name="x", update_mask=FieldMask(paths=["kind"])),
            metadata=a.md)
    assert "update_mask" in field_violations(err.value)
    pair = await direct(dm, a, b)
    with pytest.raises(aio.AioRpcError) as err:
        await dm.LeaveThread(pb.LeaveThreadRequest(thread_id=pair.thread_id), metadata=a.md)
    assert error_info(err.value).reason == "NOT_A_GROUP"
    with pytest.raises(aio.AioRpcError) as err:
        await dm.GetThread(pb.GetThreadRequest(thread_id="not-a-uuid"), metadata=a.md)
    assert "thread_id" in field_violations(err.value)
